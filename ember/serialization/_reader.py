"""Reading torch checkpoints: the zip format (torch >= 1.6) and the legacy pickle stream.

A checkpoint is a pickle whose tensors are ``torch._utils._rebuild_tensor_v2(storage, offset,
size, stride, requires_grad, backward_hooks)`` calls; each storage is a persistent id
``('storage', torch.FloatStorage, key, location, numel)`` whose bytes live outside the pickle
(zip record ``<archive>/data/<key>``, or after the pickle in the legacy stream). Storages are
loaded once per key, so tensors that shared memory when saved share it again.
"""
from __future__ import annotations

import importlib
import io
import mmap as _mmap
import pickle
import re
import struct
import sys
import zipfile
from collections import OrderedDict
from pickle import UnpicklingError

import numpy as np

from ..backend import dtypes as _dt
from ..backend.device import device as _device
from ..tensor import Size, Tensor, make_tensor
from ._safe_globals import user_allowed_globals
from ._unpickler import Callable, SafeUnpickler, Trusted

# Legacy (pre-1.6) stream header: a magic number and a protocol version, as torch writes them.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

STORAGE_DTYPES = {
    "DoubleStorage": _dt.float64, "FloatStorage": _dt.float32, "HalfStorage": _dt.float16,
    "BFloat16Storage": _dt.bfloat16, "LongStorage": _dt.int64, "IntStorage": _dt.int32,
    "ShortStorage": _dt.int16, "CharStorage": _dt.int8, "ByteStorage": _dt.uint8,
    "BoolStorage": _dt.bool_, "ComplexFloatStorage": _dt.complex64,
    "ComplexDoubleStorage": _dt.complex128, "UntypedStorage": _dt.uint8,
}
# Storage classes torch has but ember cannot hold: named so the error says what is missing.
UNSUPPORTED_STORAGES = ("QInt8Storage", "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage",
                        "QUInt2x4Storage", "ComplexHalfStorage")
UNSUPPORTED_DTYPES = ("uint16", "uint32", "uint64", "complex32", "float8_e4m3fn", "float8_e5m2",
                      "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "qint8", "quint8",
                      "qint32", "quint4x2", "bits8", "bits16")
_KEY_RE = re.compile(r"^[A-Za-z0-9_.]{1,64}$")
_MAX_NDIM = 64


class StorageType:
    """Marker for a ``torch.<Name>Storage`` global; only meaningful inside a persistent id."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype):
        self.name = name
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class TypeMarker:
    """Marker for ``torch.Tensor`` / ``torch.nn.Parameter`` as ``_rebuild_from_type_v2`` args."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


TENSOR_TYPE = TypeMarker("torch.Tensor")
PARAMETER_TYPE = TypeMarker("torch.nn.Parameter")


class _Storage:
    """A loaded storage: ``holder`` is a 1-D tensor over all of its elements."""

    __slots__ = ("holder", "start", "numel", "dtype")

    def __init__(self, holder: Tensor, start: int, numel: int, dtype):
        self.holder = holder
        self.start = start
        self.numel = numel
        self.dtype = dtype


# ---------------------------------------------------------------------------------- rebuilds
def _check_int(v, what: str) -> int:
    if type(v) is not int and type(v) is not bool:
        raise UnpicklingError(f"tensor {what} must be an int, got {type(v).__name__}")
    return int(v)


def _check_shape(v, what: str) -> tuple:
    if type(v) not in (tuple, list, Size):
        raise UnpicklingError(f"tensor {what} must be a tuple of ints, got {type(v).__name__}")
    if len(v) > _MAX_NDIM:
        raise UnpicklingError(f"tensor {what} has {len(v)} dimensions (at most {_MAX_NDIM})")
    out = tuple(_check_int(s, what) for s in v)
    if any(s < 0 for s in out):
        raise UnpicklingError(f"tensor {what} {out} has a negative entry")
    return out


def rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                   backward_hooks=None, metadata=None, dtype=None):
    """Make the tensor ``storage[offset:]`` viewed with ``size``/``stride`` after checking that
    every element it can address lies inside the storage (a hostile file could otherwise read
    or write memory beyond it)."""
    if type(storage) is not _Storage:
        raise UnpicklingError(f"tensor storage must come from a persistent id, got "
                              f"{type(storage).__name__}")
    offset = _check_int(storage_offset, "storage offset")
    if offset < 0:
        raise UnpicklingError(f"tensor storage offset {offset} is negative")
    size = _check_shape(size, "size")
    stride = _check_shape(stride, "stride")
    if len(size) != len(stride):
        raise UnpicklingError(f"tensor size {size} and stride {stride} differ in length")
    if type(requires_grad) is not bool:
        raise UnpicklingError("tensor requires_grad must be a bool")
    if backward_hooks:
        raise UnpicklingError("tensors with backward hooks cannot be loaded")
    if dtype is not None and dtype is not storage.dtype:
        raise UnpicklingError(f"tensor dtype {dtype} does not match its storage's "
                              f"{storage.dtype}")
    numel = 1
    for s in size:
        numel *= s
    if numel:
        last = offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= storage.numel:
            raise UnpicklingError(
                f"tensor of size {list(size)}, stride {list(stride)} and storage offset "
                f"{offset} reaches element {last}, but its storage holds only "
                f"{storage.numel} elements")
    elif offset > storage.numel:
        raise UnpicklingError(f"tensor storage offset {offset} lies beyond its storage of "
                              f"{storage.numel} elements")
    holder = storage.holder
    flat = holder._data
    d = storage.dtype
    if numel == 0:
        arr = _xp_of(flat).empty(size, dtype=flat.dtype)
    else:
        xp = _xp_of(flat)
        isz = flat.itemsize
        base = flat[storage.start + offset:]
        # Overlapping elements (stride 0 over a dim of size > 1) are read-only, as torch
        # refuses in-place writes to them.
        overlap = any(s > 1 and st == 0 for s, st in zip(size, stride))
        arr = xp.lib.stride_tricks.as_strided(base, shape=size,
                                              strides=tuple(st * isz for st in stride))
        if overlap and xp is np:
            arr.flags.writeable = False
    t = make_tensor(arr, d, holder._device)
    if numel:
        t._base = holder  # lets storage_offset() report the saved offset
    if requires_grad:
        if not (d.is_floating_point or d.is_complex):
            raise UnpicklingError(f"a {d} tensor cannot require grad")
        t._rg = True
    return t


def _rebuild_tensor_v1(storage, storage_offset, size, stride):
    return rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    return rebuild_tensor(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                          metadata, dtype)


def _parameter_class():
    try:
        mod = importlib.import_module("ember.nn.parameter")
    except ImportError:
        return None
    return getattr(mod, "Parameter", None)


def _set_state(obj, state) -> None:
    if state is None:
        return
    if type(state) is tuple and len(state) == 2 and state[1] is None:
        state = state[0]
    if type(state) is not dict:
        raise UnpicklingError("tensor state must be a dict")
    for k, v in state.items():
        if type(k) is not str or k.startswith("__"):
            raise UnpicklingError(f"Weights only load failed: may not set tensor attribute "
                                  f"{k!r}")
        obj.__dict__[k] = v


def rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    """``torch._utils._rebuild_parameter``: an ``nn.Parameter`` over ``data``."""
    if not isinstance(data, Tensor):
        raise UnpicklingError(f"Parameter data must be a tensor, got {type(data).__name__}")
    if type(requires_grad) is not bool:
        raise UnpicklingError("Parameter requires_grad must be a bool")
    if backward_hooks:
        raise UnpicklingError("parameters with backward hooks cannot be loaded")
    cls = _parameter_class()
    if cls is None:
        data.requires_grad_(requires_grad)
        p = data
    else:
        p = cls(data, requires_grad=requires_grad)
    _set_state(p, state)
    return p


def _rebuild_from_type_v2(func, new_type, args, state):
    # torch wraps tensor (sub)class rebuilds in this; only Tensor and Parameter are allowed.
    fn = func.fn if type(func) is Callable else func
    if fn not in (rebuild_tensor, _rebuild_tensor_v3, rebuild_parameter, _rebuild_tensor_v1):
        raise UnpicklingError(f"Weights only load failed: _rebuild_from_type_v2 may not call "
                              f"{func!r}")
    if type(args) is not tuple:
        raise UnpicklingError("_rebuild_from_type_v2 arguments must be a tuple")
    t = fn(*args)
    if new_type is PARAMETER_TYPE or new_type is _parameter_class():
        t = rebuild_parameter(t, t.requires_grad, None)
    elif new_type is not TENSOR_TYPE and new_type is not Tensor:
        raise UnpicklingError(f"Weights only load failed: tensor subclass {new_type!r} is not "
                              "allowed")
    _set_state(t, state)
    return t


# ---------------------------------------------------------------------------------- allowlist
def _ordered_dict(*args):
    if len(args) > 1 or (args and type(args[0]) not in (list, tuple, dict, OrderedDict)):
        raise UnpicklingError("collections.OrderedDict takes at most one list of pairs")
    return OrderedDict(*args)


def _container(kind):
    def make(*args):
        if len(args) > 1 or (args and type(args[0]) not in (list, tuple, set, frozenset)):
            raise UnpicklingError(f"builtins.{kind.__name__} takes at most one list")
        return kind(*args)
    return make


def _complex(*args):
    if len(args) > 2 or not all(type(a) in (int, float, bool) for a in args):
        raise UnpicklingError("builtins.complex takes two numbers")
    return complex(*args)


def _slice(*args):
    if len(args) > 3 or not all(a is None or type(a) is int for a in args):
        raise UnpicklingError("builtins.slice takes ints or None")
    return slice(*args)


def _encode(obj, encoding="utf-8", errors="strict"):
    # Protocol 2 stores bytes as _codecs.encode(str, 'latin1'); nothing else is needed.
    if type(obj) is not str or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise UnpicklingError("_codecs.encode is only allowed as (str, 'latin1')")
    return obj.encode("latin1")


def _bytearray(*args):
    if not args:
        return bytearray()
    if type(args[0]) is bytes and len(args) == 1:
        return bytearray(args[0])
    if type(args[0]) is str and args[1:] in (("latin1",), ("latin-1",)):
        return bytearray(args[0], "latin1")
    raise UnpicklingError("builtins.bytearray takes bytes or (str, 'latin1')")


def _make_device(*args):
    if not 1 <= len(args) <= 2 or type(args[0]) is not str or (
            len(args) == 2 and args[1] is not None and type(args[1]) is not int):
        raise UnpicklingError("torch.device takes (type[, index])")
    try:
        return _device(*args)
    except (RuntimeError, ValueError) as e:
        raise UnpicklingError(f"bad torch.device{args}: {e}") from None


def _make_size(*args):
    if len(args) > 1:
        raise UnpicklingError("torch.Size takes one tuple of ints")
    return Size(_check_shape(args[0] if args else (), "torch.Size"))


def _build_allowlist() -> dict:
    table: dict = {}

    def add(modules, name, value):
        for m in modules:
            table[(m, name)] = value

    builtins_mods = ("builtins", "__builtin__")
    add(("collections",), "OrderedDict",
        Callable("collections.OrderedDict", _ordered_dict, newobj=True))
    add(builtins_mods, "set", Callable("builtins.set", _container(set), newobj=True))
    add(builtins_mods, "frozenset",
        Callable("builtins.frozenset", _container(frozenset), newobj=True))
    add(builtins_mods, "complex", Callable("builtins.complex", _complex))
    add(builtins_mods, "slice", Callable("builtins.slice", _slice))
    add(builtins_mods, "bytearray", Callable("builtins.bytearray", _bytearray))
    add(("_codecs",), "encode", Callable("_codecs.encode", _encode))
    add(("torch._utils",), "_rebuild_tensor", Callable("torch._utils._rebuild_tensor",
                                                       _rebuild_tensor_v1))
    add(("torch._utils",), "_rebuild_tensor_v2",
        Callable("torch._utils._rebuild_tensor_v2", rebuild_tensor))
    add(("torch._utils",), "_rebuild_tensor_v3",
        Callable("torch._utils._rebuild_tensor_v3", _rebuild_tensor_v3))
    add(("torch._utils",), "_rebuild_parameter",
        Callable("torch._utils._rebuild_parameter", rebuild_parameter))
    add(("torch._utils",), "_rebuild_parameter_with_state",
        Callable("torch._utils._rebuild_parameter_with_state", rebuild_parameter))
    add(("torch._tensor",), "_rebuild_from_type_v2",
        Callable("torch._tensor._rebuild_from_type_v2", _rebuild_from_type_v2))
    add(("torch",), "device", Callable("torch.device", _make_device))
    add(("torch",), "Size", Callable("torch.Size", _make_size))
    add(("torch", "torch._tensor"), "Tensor", TENSOR_TYPE)
    add(("torch.nn.parameter", "torch.nn"), "Parameter", PARAMETER_TYPE)
    for name, d in STORAGE_DTYPES.items():
        add(("torch",), name, StorageType(name, d))
    for name in UNSUPPORTED_STORAGES:
        add(("torch",), name, StorageType(name, None))
    for d in _dt.ALL_DTYPES:
        add(("torch",), d.name, d)
    return table


ALLOWLIST = _build_allowlist()


# Modules no checkpoint global may come from, even when the user allowlisted one (as torch).
_BLOCKED_MODULES = ("sys", "os", "posix", "nt")


def safe_find_global(module: str, name: str, user: dict | None = None):
    """The weights_only ``find_class``: allowlisted names only, and no import ever happens.

    ``user`` maps ``"module.qualname"`` to the objects of ``add_safe_globals``; those come back
    as ``Trusted`` (the real object)."""
    v = ALLOWLIST.get((module, name))
    if v is not None:
        return v
    full = f"{module}.{name}"
    if module in _BLOCKED_MODULES:
        raise UnpicklingError(f"Weights only load failed. Trying to load unsupported GLOBAL "
                              f"{full} whose module {module} is blocked.")
    if user and full in user:
        return Trusted(user[full])
    if module == "torch" and name in UNSUPPORTED_DTYPES:
        raise UnpicklingError(f"the checkpoint holds torch.{name} tensors, a dtype ember does "
                              "not support")
    if module == "builtins":
        full = name  # the name to pass: builtins are spelled bare (as torch suggests)
    raise UnpicklingError(
        "Weights only load failed. This file can still be loaded: do this only if you trust "
        "its source. (1) load it with weights_only=False (that runs any code the file names), "
        "or (2) to load it with weights_only=True, follow the steps below.\n"
        f"\tWeightsUnpickler error: Unsupported global: GLOBAL {module}.{name} was not an "
        "allowed global by default. Please use "
        f"`ember.serialization.add_safe_globals([{full}])` or the "
        f"`ember.serialization.safe_globals([{full}])` context manager to allowlist this "
        "global if you trust this class/function.")


def no_globals(module: str, name: str):
    raise UnpicklingError(f"unexpected global {module}.{name} in a checkpoint header")


class _TrustedUnpickler(pickle.Unpickler):
    """weights_only=False: torch's names resolve to ember's, everything else imports normally."""

    def __init__(self, file, persistent_load, **kw):
        super().__init__(file, **kw)
        self._pload = persistent_load

    def persistent_load(self, pid):
        return self._pload(pid)

    def find_class(self, module, name):
        v = ALLOWLIST.get((module, name))
        if type(v) is Callable:
            return v.fn
        if v is TENSOR_TYPE:
            return Tensor
        if v is PARAMETER_TYPE:
            return _parameter_class() or Tensor
        if v is not None:
            return v
        if module == "torch" or module.startswith("torch."):
            # A whole pickled model names torch's classes; look for ember's counterpart.
            try:
                mod = importlib.import_module("ember" + module[5:])
                return getattr(mod, name)
            except (ImportError, AttributeError):
                try:
                    import ember
                    return getattr(ember.nn if ".nn" in module else ember, name)
                except (ImportError, AttributeError):
                    raise UnpicklingError(f"ember has no counterpart of {module}.{name}") \
                        from None
        return super().find_class(module, name)


# ---------------------------------------------------------------------------------- storages
def _xp_of(arr):
    return np if isinstance(arr, np.ndarray) else sys.modules["cupy"]


def bytes_to_array(buf, d, numel: int, little: bool = True, offset: int = 0) -> np.ndarray:
    """The flat host array of ``numel`` elements of dtype ``d`` stored in ``buf``.

    bfloat16 is widened to the float32 arrays ember keeps it in; a writable buffer of the
    right byte order is used in place (no copy), as mmap loading needs.
    """
    order = "<" if little else ">"
    if d is _dt.bfloat16:
        u16 = np.frombuffer(buf, dtype=np.dtype(order + "u2"), count=numel, offset=offset)
        return (u16.astype(np.uint32) << 16).view(np.float32)
    if d is _dt.bool_:
        raw = np.frombuffer(buf, dtype=np.uint8, count=numel, offset=offset)
        if raw.size and raw.max() > 1:  # any nonzero byte is True for torch
            return raw != 0
        arr = raw.view(np.bool_)
    else:
        arr = np.frombuffer(buf, dtype=d.np.newbyteorder(order), count=numel, offset=offset)
        if not little and arr.dtype.itemsize > 1:
            return arr.astype(d.np)
    if not arr.flags.writeable:
        arr = arr.copy()
    return arr


class Loader:
    """Turns persistent ids into storages placed where ``map_location`` says.

    ``fetch(key, dtype, numel)`` returns the host array of a storage (zip record, mmap, or a
    zero buffer that the legacy reader fills in after the pickle).
    """

    def __init__(self, fetch, map_location, legacy: bool = False):
        self.fetch = fetch
        self.map_location = map_location
        self.legacy = legacy
        self.storages: dict = {}

    def persistent_load(self, pid):
        if type(pid) is not tuple or not pid or pid[0] != "storage":
            raise UnpicklingError(f"unknown persistent id {pid!r:.80}; only storages are allowed")
        if len(pid) != (6 if self.legacy else 5):
            raise UnpicklingError(f"storage persistent id has {len(pid)} fields")
        stype, key, location, numel = pid[1:5]
        if type(stype) is not StorageType:
            if isinstance(stype, type) and stype.__name__ in STORAGE_DTYPES:
                stype = ALLOWLIST[("torch", stype.__name__)]
            else:
                raise UnpicklingError(f"storage type must be a torch storage class, got "
                                      f"{stype!r:.80}")
        if stype.dtype is None:
            raise UnpicklingError(f"the checkpoint holds a torch.{stype.name}, which ember does "
                                  "not support")
        if type(key) is not str or not _KEY_RE.match(key):
            raise UnpicklingError(f"storage key {key!r:.80} is not a plain record name")
        if type(location) is not str:
            raise UnpicklingError("storage location must be a string")
        numel = _check_int(numel, "storage size")
        if numel < 0:
            raise UnpicklingError(f"storage size {numel} is negative")
        d = stype.dtype
        if stype.name == "UntypedStorage":
            d = _dt.uint8
        st = self.storages.get(key)
        if st is None:
            host = self.fetch(key, d, numel)
            st = _Storage(self.place(host, d, location), 0, numel, d)
            self.storages[key] = st
        elif st.dtype is not d or st.numel != numel:
            raise UnpicklingError(f"storage {key!r} is declared twice with different types or "
                                  "sizes")
        view = pid[5] if self.legacy else None
        if view is not None:
            # Pre-1.0 storage views: (view_key, offset, size) into the root storage.
            if type(view) is not tuple or len(view) != 3:
                raise UnpicklingError("malformed storage view metadata")
            _vk, off, n = view
            off, n = _check_int(off, "view offset"), _check_int(n, "view size")
            if off < 0 or n < 0 or off + n > numel:
                raise UnpicklingError(f"storage view [{off}, {off + n}) lies outside its "
                                      f"storage of {numel} elements")
            return _Storage(st.holder, off, n, d)
        return st

    def place(self, host: np.ndarray, d, location: str) -> Tensor:
        holder = make_tensor(host, d, None)
        ml = self.map_location
        target = location
        if ml is None:
            pass
        elif isinstance(ml, (str, _device)):
            target = ml
        elif isinstance(ml, dict):
            target = ml.get(location, location)
        elif callable(ml):
            res = ml(holder, location)
            if res is not None:
                if not isinstance(res, Tensor):
                    raise TypeError(f"map_location callable must return a storage (a 1-D "
                                    f"tensor) or None, got {type(res).__name__}")
                if res.dtype is not d or res.numel() != host.size:
                    raise RuntimeError("map_location callable changed the storage's dtype or "
                                       "size")
                return res if res.ndim == 1 else res.reshape(-1)
        else:
            raise TypeError(f"map_location must be a str, device, dict or callable, got "
                            f"{type(ml).__name__}")
        return _restore(holder, target)


def _restore(holder: Tensor, target) -> Tensor:
    try:
        dev = _device(target)
    except (RuntimeError, TypeError) as e:
        raise RuntimeError(f"don't know how to restore data location {target!r}: {e}") from None
    if dev.type == "cpu":
        return holder
    if dev.type == "cuda":
        if not _cuda_available():
            raise RuntimeError(
                "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() "
                "is False. If you are running on a CPU-only machine, please use torch.load with "
                "map_location=torch.device('cpu') to map your storages to the CPU.")
        return holder.to(dev)
    raise RuntimeError(f"ember cannot restore storages to device {dev}")


def _cuda_available() -> bool:
    try:
        cuda = importlib.import_module("ember.cuda")
        return bool(cuda.is_available())
    except Exception:  # no ember.cuda or no CuPy: there is no CUDA device to restore to
        return False


# ---------------------------------------------------------------------------------- formats
def unpickle(data, loader: Loader, weights_only: bool, pos: int = 0):
    """Run the main pickle at ``data[pos:]``; returns ``(obj, end_position)``."""
    if weights_only:
        try:
            user, bad = user_allowed_globals(), None
        except (TypeError, ValueError) as e:
            # A malformed add_safe_globals entry fails the load only when a global outside
            # the default allowlist is looked up (as torch): plain checkpoints still load.
            user, bad = {}, e

        def find_global(module, name):
            if bad is not None and (module, name) not in ALLOWLIST:
                raise bad
            return safe_find_global(module, name, user)
        u = SafeUnpickler(data, find_global, loader.persistent_load, pos=pos,
                          trusted=user.values())
        obj = u.load()
        return obj, u.pos
    f = io.BytesIO(data)
    f.seek(pos)
    obj = _TrustedUnpickler(f, loader.persistent_load, encoding="utf-8").load()
    return obj, f.tell()


def find_prefix(names: list) -> str:
    """The archive folder of a torch zip checkpoint (torch names it after the file)."""
    cands = [n[:-len("/data.pkl")] for n in names
             if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(cands) != 1:
        if any(n.endswith("constants.pkl") for n in names):
            raise RuntimeError("this zip is a TorchScript archive (torch.jit.save), not a "
                               "torch.save checkpoint")
        raise RuntimeError("zip archive is not a torch checkpoint: expected exactly one "
                           f"'<name>/data.pkl' record, found {len(cands)}")
    prefix = cands[0]
    if not prefix or prefix in (".", "..") or "\\" in prefix:
        raise RuntimeError(f"zip archive has a bad record folder {prefix!r}")
    return prefix


def load_zip(fileobj, map_location, weights_only: bool, mmap_file=None):
    try:
        zf = zipfile.ZipFile(fileobj)
    except zipfile.BadZipFile as e:
        raise RuntimeError(f"checkpoint is not a readable zip archive (truncated or corrupt "
                           f"file?): {e}") from None
    with zf:
        prefix = find_prefix(zf.namelist())
        little = True
        if f"{prefix}/byteorder" in zf.namelist():
            order = _read_record(zf, f"{prefix}/byteorder", 16)
            if order not in (b"little", b"big"):
                raise RuntimeError(f"checkpoint byteorder record is {order!r:.20}")
            little = order == b"little"

        def fetch(key, d, numel):
            name = f"{prefix}/data/{key}"
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise RuntimeError(f"checkpoint is missing storage record {name!r}") from None
            nbytes = numel * d.itemsize
            if info.file_size < nbytes:
                raise UnpicklingError(f"storage record {name!r} has {info.file_size} bytes but "
                                      f"the checkpoint declares {numel} elements of {d} "
                                      f"({nbytes} bytes)")
            if mmap_file is not None and info.compress_type == zipfile.ZIP_STORED:
                start = _record_data_offset(mmap_file, info)
                return bytes_to_array(mmap_file, d, numel, little, offset=start)
            buf = bytearray(nbytes)
            try:
                with zf.open(info) as r:
                    view = memoryview(buf)
                    got = 0
                    while got < nbytes:
                        n = r.readinto(view[got:])
                        if not n:
                            break
                        got += n
                    if got < nbytes:
                        raise RuntimeError(f"storage record {name!r} is truncated")
                    r.read()  # read to the end so zipfile verifies the CRC
            except (zipfile.BadZipFile, EOFError, OSError, zlib_error()) as e:
                raise RuntimeError(f"storage record {name!r} is corrupt: {e}") from None
            return bytes_to_array(buf, d, numel, little)

        pkl = _read_record(zf, f"{prefix}/data.pkl", None)
        loader = Loader(fetch, map_location)
        obj, _ = unpickle(pkl, loader, weights_only)
        return obj


def zlib_error():
    import zlib
    return zlib.error


def _read_record(zf, name, limit):
    try:
        info = zf.getinfo(name)
        if limit is not None and info.file_size > limit:
            raise RuntimeError(f"checkpoint record {name!r} is too large")
        return zf.read(info)
    except KeyError:
        raise RuntimeError(f"checkpoint is missing record {name!r}") from None
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise RuntimeError(f"checkpoint record {name!r} is corrupt: {e}") from None


def _record_data_offset(buf, info) -> int:
    """Where a stored zip record's bytes start: after its local header and extra field."""
    h = info.header_offset
    if h + 30 > len(buf) or bytes(buf[h:h + 4]) != b"PK\x03\x04":
        raise RuntimeError(f"zip record {info.filename!r} has a corrupt local header")
    name_len, extra_len = struct.unpack("<HH", bytes(buf[h + 26:h + 30]))
    start = h + 30 + name_len + extra_len
    if start + info.file_size > len(buf):
        raise RuntimeError(f"zip record {info.filename!r} is truncated")
    return start


def load_legacy(data: bytes, map_location, weights_only: bool):
    """The pre-1.6 stream: magic, protocol, sys_info, the pickle, storage keys, raw storages."""
    try:
        u = SafeUnpickler(data, no_globals)
        magic = u.load()
    except UnpicklingError as e:
        raise RuntimeError(f"file is neither a zip checkpoint nor a legacy torch checkpoint "
                           f"(it does not start with a pickle: {e})") from None
    if magic != LEGACY_MAGIC:
        raise RuntimeError("Invalid magic number; corrupt file? (not a torch checkpoint)")
    u = SafeUnpickler(data, no_globals, pos=u.pos)
    proto = u.load()
    if proto != LEGACY_PROTOCOL:
        raise RuntimeError(f"Invalid protocol version: {proto!r}")
    u = SafeUnpickler(data, no_globals, pos=u.pos)
    sys_info = u.load()
    little = True
    if type(sys_info) is dict:
        little = bool(sys_info.get("little_endian", True))
    pending: dict = {}

    def fetch(key, d, numel):
        # The bytes come after the pickle: reserve a buffer, fill it in below. The size is
        # checked against the file first so a lying header cannot make us allocate wildly.
        if numel * d.itemsize > len(data):
            raise UnpicklingError(f"storage {key!r} declares {numel} elements of {d}, more than "
                                  f"the whole file holds")
        host = np.zeros(numel, dtype=np.float32 if d is _dt.bfloat16 else d.np)
        pending[key] = (d, numel)
        return host

    loader = Loader(fetch, map_location, legacy=True)
    obj, pos = unpickle(data, loader, weights_only, pos=u.pos)
    u = SafeUnpickler(data, no_globals, pos=pos)
    keys = u.load()
    if type(keys) is not list or not all(type(k) is str for k in keys):
        raise RuntimeError("legacy checkpoint storage key list is corrupt")
    pos = u.pos
    for key in keys:
        if pos + 8 > len(data):
            raise RuntimeError(f"legacy checkpoint is truncated before storage {key!r}")
        (numel,) = struct.unpack("<q" if little else ">q", data[pos:pos + 8])
        pos += 8
        if key not in pending:
            raise RuntimeError(f"legacy checkpoint has data for unknown storage {key!r}")
        d, want = pending.pop(key)
        if numel != want:
            raise RuntimeError(f"legacy storage {key!r} holds {numel} elements, the pickle "
                               f"declares {want}")
        nbytes = numel * d.itemsize
        if pos + nbytes > len(data):
            raise RuntimeError(f"legacy checkpoint is truncated inside storage {key!r}")
        host = bytes_to_array(data, d, numel, little, offset=pos)
        pos += nbytes
        holder = loader.storages[key].holder
        if holder._data.size:
            holder._data[...] = host if isinstance(holder._data, np.ndarray) else \
                _xp_of(holder._data).asarray(host)
    if pending:
        raise RuntimeError(f"legacy checkpoint is missing the data of storages "
                           f"{sorted(pending)[:5]}")
    return obj


def is_zip(head: bytes) -> bool:
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def open_mmap(fileobj):
    try:
        return _mmap.mmap(fileobj.fileno(), 0, access=_mmap.ACCESS_COPY)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation) as e:
        raise ValueError(f"mmap=True needs a checkpoint file on disk: {e}") from None
