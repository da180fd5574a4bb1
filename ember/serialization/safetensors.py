"""The ``.safetensors`` format (Hugging Face): read and write it with the same API as
``safetensors.torch`` (``save_file``, ``load_file``, ``save``, ``load``, ``safe_open``).

The format is small and documented: 8 bytes little-endian header length ``N``, ``N`` bytes of
JSON ``{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
"__metadata__": {str: str}}`` (padded with spaces), then the tensors' bytes back to back,
little-endian, row-major. No code is ever run on load; every offset is checked.

Example:
    >>> from ember.serialization.safetensors import save_file, load_file
    >>> save_file({"w": ember.ones(2, 3)}, "model.safetensors", metadata={"format": "pt"})
    >>> load_file("model.safetensors")["w"].shape
    torch.Size([2, 3])
"""
from __future__ import annotations

import json
import os
import struct
from typing import Dict, Optional, Union

import numpy as np

from ..backend import dtypes as _dt
from ..tensor import Tensor, make_tensor
from ._reader import _restore, bytes_to_array
from ._writer import atomic_write

__all__ = ["save", "save_file", "load", "load_file", "safe_open", "SafetensorError"]

_CODES = {
    _dt.bool_: "BOOL", _dt.uint8: "U8", _dt.int8: "I8", _dt.int16: "I16", _dt.int32: "I32",
    _dt.int64: "I64", _dt.float16: "F16", _dt.bfloat16: "BF16", _dt.float32: "F32",
    _dt.float64: "F64", _dt.complex64: "C64",
}
_DTYPES = {v: k for k, v in _CODES.items()}
# Header size cap used by the reference implementation: a header is a few MB at most.
_MAX_HEADER = 100_000_000
_ALIGN = 8


class SafetensorError(ValueError):
    """A malformed or unsupported .safetensors file (the reference library's error name)."""


def _tensor_bytes(t: Tensor) -> bytes:
    arr = t.detach().cpu()._data
    if t.dtype is _dt.bfloat16:
        arr = (np.ascontiguousarray(arr, dtype=np.float32).view(np.uint32) >> 16).astype("<u2")
    else:
        arr = np.ascontiguousarray(arr)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
    return arr.tobytes()


def save(tensors: Dict[str, Tensor], metadata: Optional[Dict[str, str]] = None) -> bytes:
    """Serialize a dict of tensors to ``.safetensors`` bytes.

    Args:
        tensors: name -> tensor. Each is written as its own contiguous copy.
        metadata: optional str -> str pairs stored under ``__metadata__``.
    """
    if not isinstance(tensors, dict):
        raise TypeError(f"expected a dict of tensors, got {type(tensors).__name__}")
    header: dict = {}
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("metadata must be a dict of str -> str")
        header["__metadata__"] = dict(metadata)
    # Largest element first keeps every tensor aligned to its itemsize, as the reference does.
    order = sorted(tensors, key=lambda k: (-_itemsize(tensors[k]), k))
    blobs = []
    offset = 0
    for name in order:
        t = tensors[name]
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {type(name).__name__}")
        if not isinstance(t, Tensor):
            raise TypeError(f"{name!r} is a {type(t).__name__}, not a tensor")
        if t.dtype not in _CODES:
            raise SafetensorError(f"{name!r}: dtype {t.dtype} has no safetensors code")
        data = _tensor_bytes(t)
        header[name] = {"dtype": _CODES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-len(text)) % _ALIGN)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def _itemsize(t) -> int:
    return t.dtype.itemsize if isinstance(t, Tensor) else 0


def save_file(tensors: Dict[str, Tensor], filename: Union[str, os.PathLike],
              metadata: Optional[Dict[str, str]] = None) -> None:
    """Write ``tensors`` to ``filename`` (crash-safe: temp file, fsync, rename)."""
    data = save(tensors, metadata)
    atomic_write(os.fspath(filename), lambda f: f.write(data))


def _parse(buf) -> tuple:
    """Validate a .safetensors buffer; returns (entries, metadata, data_start)."""
    if len(buf) < 8:
        raise SafetensorError("file is too small to be a .safetensors file (no header)")
    (n,) = struct.unpack("<Q", bytes(buf[:8]))
    if n > _MAX_HEADER:
        raise SafetensorError(f"header of {n} bytes is too large")
    if 8 + n > len(buf):
        raise SafetensorError(f"header length {n} runs past the end of the file "
                              f"({len(buf)} bytes); truncated file?")
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorError(f"header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorError("header must be a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise SafetensorError("__metadata__ must map str to str")
    start = 8 + n
    size = len(buf) - start
    entries = {}
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorError(f"{name!r}: entry needs exactly dtype, shape, data_offsets")
        d = _DTYPES.get(info["dtype"])
        if d is None:
            raise SafetensorError(f"{name!r}: unsupported dtype {info['dtype']!r}")
        shape = info["shape"]
        offs = info["data_offsets"]
        if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
            raise SafetensorError(f"{name!r}: shape {shape!r} is not a list of sizes")
        if not (isinstance(offs, list) and len(offs) == 2 and all(
                type(o) is int for o in offs) and 0 <= offs[0] <= offs[1] <= size):
            raise SafetensorError(f"{name!r}: data_offsets {offs!r} lie outside the "
                                  f"{size}-byte data section")
        numel = 1
        for s in shape:
            numel *= s
        if offs[1] - offs[0] != numel * d.itemsize:
            raise SafetensorError(f"{name!r}: shape {shape} of {info['dtype']} needs "
                                  f"{numel * d.itemsize} bytes, data_offsets give "
                                  f"{offs[1] - offs[0]}")
        entries[name] = (d, tuple(shape), offs[0], numel)
        spans.append((offs[0], offs[1], name))
    # The data section is exactly the tensors, back to back (no overlaps, no gaps).
    pos = 0
    for b, e, name in sorted(spans):
        if b != pos:
            raise SafetensorError(f"{name!r}: tensor data overlaps another or leaves a gap")
        pos = e
    if pos != size:
        raise SafetensorError(f"data section has {size - pos} trailing bytes no tensor uses")
    return entries, metadata, start


def _make(buf, entry, start, dev) -> Tensor:
    d, shape, off, numel = entry
    arr = bytes_to_array(buf, d, numel, True, offset=start + off).reshape(shape)
    t = make_tensor(arr, d, None)
    return _restore(t, dev) if dev is not None else t


def load(data: bytes) -> Dict[str, Tensor]:
    """Tensors from ``.safetensors`` bytes."""
    entries, _, start = _parse(data)
    return {k: _make(data, e, start, None) for k, e in entries.items()}


def load_file(filename: Union[str, os.PathLike], device: Union[str, int] = "cpu"
              ) -> Dict[str, Tensor]:
    """Read all tensors of a ``.safetensors`` file onto ``device``."""
    with safe_open(filename, framework="pt", device=device) as f:
        return {k: f.get_tensor(k) for k in f.keys()}


class safe_open:
    """Lazy access to a ``.safetensors`` file, as ``safetensors.safe_open``.

    Args:
        filename: the file to read.
        framework: ``"pt"`` (or ``"np"`` for NumPy arrays).
        device: where tensors go.

    Example:
        >>> with safe_open("model.safetensors", framework="pt") as f:
        ...     w = f.get_tensor(next(iter(f.keys())))
    """

    def __init__(self, filename: Union[str, os.PathLike], framework: str = "pt",
                 device: Union[str, int] = "cpu"):
        if framework not in ("pt", "torch", "np", "numpy"):
            raise ValueError(f"framework {framework!r} is not supported by ember")
        self._np = framework in ("np", "numpy")
        self._device = f"cuda:{device}" if isinstance(device, int) else device
        with open(os.fspath(filename), "rb") as f:
            self._buf = f.read()
        self._entries, self._metadata, self._start = _parse(self._buf)

    def __enter__(self) -> "safe_open":
        return self

    def __exit__(self, *exc) -> None:
        self._buf = None

    def keys(self) -> list:
        return sorted(self._entries)

    def metadata(self) -> Optional[Dict[str, str]]:
        return self._metadata

    def get_tensor(self, name: str):
        if name not in self._entries:
            raise SafetensorError(f"File does not contain tensor {name}")
        t = _make(self._buf, self._entries[name], self._start, self._device)
        return t._data if self._np else t
