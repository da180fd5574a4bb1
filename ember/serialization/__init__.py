"""``ember.save`` / ``ember.load``: PyTorch's checkpoint files, both ways, without torch.

Files written here are real PyTorch checkpoints (``torch.load(f, weights_only=True)`` reads
them), and ember reads what ``torch.save`` writes: the zip format (torch >= 1.6) and the legacy
pickle stream (``_use_new_zipfile_serialization=False``). Loading is safe by default: with
``weights_only=True`` the pickle goes through ember's own interpreter that only builds
tensors, containers, numbers and strings (see ``_unpickler``).

``add_safe_globals`` / ``safe_globals`` widen what ``weights_only`` accepts, as in torch.
``ember.serialization.safetensors`` reads and writes the ``.safetensors`` format.
"""
from __future__ import annotations

import io
import os
import pickle
from typing import Any, BinaryIO, Callable, Union

from . import _reader, _writer
from ._safe_globals import (add_safe_globals, clear_safe_globals,  # noqa: F401
                            get_safe_globals, safe_globals)

__all__ = ["save", "load", "safetensors", "DEFAULT_PROTOCOL", "add_safe_globals",
           "get_safe_globals", "clear_safe_globals", "safe_globals"]

DEFAULT_PROTOCOL = 2

FileLike = Union[str, "os.PathLike[str]", BinaryIO]
MapLocation = Union[None, str, Any, dict, Callable]


def __getattr__(name: str):
    if name == "safetensors":
        import importlib
        return importlib.import_module(".safetensors", __name__)
    raise AttributeError(f"module 'ember.serialization' has no attribute {name!r}")


def _is_path(f) -> bool:
    return isinstance(f, (str, os.PathLike))


def save(obj: Any, f: FileLike, pickle_module: Any = None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record: bool = False
         ) -> None:
    """Save ``obj`` as a PyTorch checkpoint (zip format, as ``torch.save``).

    Tensors of every dtype (bfloat16 and float16 included) are written once per storage, so
    views and tensors that share memory come back sharing. Saving to a path is crash-safe: the
    archive goes to a temporary file in the same folder, is flushed and fsynced, then renamed
    over ``f``; an interrupted save leaves the previous file intact.

    Args:
        obj: tensors, ``state_dict()`` s, and containers (dict/OrderedDict/list/tuple/set) of
            them with numbers, strings, bytes and None.
        f: a path, ``os.PathLike`` or a writable binary file object.
        pickle_module, pickle_protocol: accepted for torch compatibility; ember always writes
            protocol 2, the protocol torch's weights_only loader understands.

    Example:
        >>> ember.save({"w": ember.ones(3)}, "ckpt.pt")
        >>> ember.load("ckpt.pt")["w"]
        tensor([1., 1., 1.])
    """
    if pickle_module is not None and pickle_module is not pickle:
        raise ValueError("ember.save writes torch's format with its own pickler; "
                         "pickle_module is not supported")
    if not _use_new_zipfile_serialization:
        raise ValueError("ember.save only writes the zip checkpoint format (torch >= 1.6); "
                         "the legacy format can be read but not written")
    if _is_path(f):
        path = os.fspath(f)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        _writer.atomic_write(path, lambda fo: _writer.write_archive(obj, fo))
        return
    if not hasattr(f, "write"):
        raise AttributeError(f"ember.save expects a path or a binary file object, got "
                             f"{type(f).__name__}")
    _writer.write_archive(obj, f)
    if hasattr(f, "flush"):
        f.flush()


def load(f: FileLike, map_location: MapLocation = None, pickle_module: Any = None, *,
         weights_only: bool = True, mmap: bool = False, **pickle_load_args: Any) -> Any:
    """Load a checkpoint written by ``torch.save`` or ``ember.save``.

    Args:
        f: a path, ``os.PathLike`` or a readable binary file object.
        map_location: where storages go: ``None`` (where they were saved), a device string or
            ``ember.device``, a dict mapping saved locations to new ones
            (``{"cuda:1": "cpu"}``), or a callable ``(storage, location) -> storage | None``
            where ``storage`` is a 1-D tensor of the storage's elements.
        weights_only: ``True`` (default) builds only tensors, containers and plain values, plus
            the classes and functions listed with ``add_safe_globals`` / ``safe_globals``, and
            raises ``pickle.UnpicklingError`` naming any other global, without running code.
            ``False`` unpickles anything (only for files you trust).
        mmap: map the file's storages instead of reading them (zip checkpoints on disk).
            Pages are copy-on-write: changing a loaded tensor never changes the file.

    Example:
        >>> sd = ember.load("model.pt", map_location="cpu")
    """
    if pickle_module is not None and pickle_module is not pickle:
        raise ValueError("ember.load does not support a custom pickle_module")
    if map_location is not None and not isinstance(map_location, (str, dict)) and not \
            callable(map_location) and type(map_location).__name__ != "device":
        raise TypeError(f"map_location must be a str, device, dict or callable, got "
                        f"{type(map_location).__name__}")
    for k in pickle_load_args:
        if k != "encoding":
            raise TypeError(f"load() got an unexpected keyword argument {k!r}")
    if _is_path(f):
        with open(os.fspath(f), "rb") as fo:
            return _load_file(fo, map_location, weights_only, mmap)
    if not hasattr(f, "read"):
        raise AttributeError(f"ember.load expects a path or a binary file object, got "
                             f"{type(f).__name__}")
    return _load_file(f, map_location, weights_only, mmap)


def _load_file(fo, map_location, weights_only: bool, use_mmap: bool):
    seekable = hasattr(fo, "seekable") and fo.seekable()
    if seekable:
        start = fo.tell()
        head = fo.read(4)
        fo.seek(start)
    else:
        # Zip needs random access: read a non-seekable stream fully.
        fo = io.BytesIO(fo.read())
        head = fo.getvalue()[:4]
    if not head:
        raise EOFError("checkpoint file is empty (Ran out of input)")
    if _reader.is_zip(head):
        mm = None
        if use_mmap:
            mm = _reader.open_mmap(fo)
        return _reader.load_zip(fo, map_location, weights_only, mm)
    if use_mmap:
        raise RuntimeError("mmap can only be used with files saved with the zip format "
                           "(torch >= 1.6), this is a legacy checkpoint")
    data = fo.read()
    if len(data) >= 262 and data[257:262] == b"ustar":
        raise RuntimeError("this is a pre-0.4 tar checkpoint; ember cannot read that format "
                           "(load and re-save it with torch first)")
    return _reader.load_legacy(data, map_location, weights_only)

