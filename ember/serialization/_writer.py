"""Writing torch's zip checkpoint format (what ``torch.save`` writes since torch 1.6).

Layout of the archive (all records stored uncompressed):

    archive/data.pkl                 the object, pickle protocol 2, tensors as
                                     torch._utils._rebuild_tensor_v2(storage, offset, size,
                                     stride, requires_grad, OrderedDict())
    archive/.format_version          b"1"
    archive/.storage_alignment       b"64"
    archive/byteorder                b"little"
    archive/data/<key>               raw little-endian bytes of one storage, 64-byte aligned
    archive/version                  b"3\\n"
    archive/.data/serialization_id   an id string

Globals are written under torch's names (``torch._utils``, ``torch.FloatStorage``,
``torch.float32``, ``torch.device``) so that torch's own weights_only loader accepts the file.
"""
from __future__ import annotations

import ctypes
import os
import pickle
import struct
import sys
import uuid
import zipfile
from collections import OrderedDict

import numpy as np

from ..backend import dtypes as _dt
from ..backend.device import device as _device
from ..tensor import Size, Tensor

ALIGNMENT = 64
_CHUNK = 1 << 24

STORAGE_NAMES = {
    _dt.float64: "DoubleStorage", _dt.float32: "FloatStorage", _dt.float16: "HalfStorage",
    _dt.bfloat16: "BFloat16Storage", _dt.int64: "LongStorage", _dt.int32: "IntStorage",
    _dt.int16: "ShortStorage", _dt.int8: "CharStorage", _dt.uint8: "ByteStorage",
    _dt.bool_: "BoolStorage", _dt.complex64: "ComplexFloatStorage",
    _dt.complex128: "ComplexDoubleStorage",
}


class TorchGlobal:
    """Stands for a torch global in the pickle stream (written as GLOBAL module name)."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module = module
        self.name = name

    def __call__(self, *args):  # pickle requires REDUCE callables to be callable
        raise TypeError(f"{self.module}.{self.name} is a placeholder")


_GLOBALS: dict = {}


def torch_global(module: str, name: str) -> TorchGlobal:
    g = _GLOBALS.get((module, name))
    if g is None:
        g = _GLOBALS[(module, name)] = TorchGlobal(module, name)
    return g


REBUILD_TENSOR = torch_global("torch._utils", "_rebuild_tensor_v2")
REBUILD_PARAMETER = torch_global("torch._utils", "_rebuild_parameter")


class StorageEntry:
    """One storage to write: a flat host array (kept alive while the archive is written)."""

    __slots__ = ("key", "dtype", "array", "location", "pid")

    def __init__(self, key: str, dtype, array: np.ndarray, location: str):
        self.key = key
        self.dtype = dtype
        self.array = array
        self.location = location
        self.pid = ("storage", torch_global("torch", STORAGE_NAMES[dtype]), key, location,
                    int(array.size))


def _root(arr: np.ndarray) -> np.ndarray:
    """The array that owns ``arr``'s memory (through views and as_strided wrappers)."""
    root = arr
    while True:
        b = root.base
        if isinstance(b, np.ndarray):
            root = b
        elif b is not None and isinstance(getattr(b, "base", None), np.ndarray):
            root = b.base
        else:
            return root


def _bounds(arr: np.ndarray) -> tuple:
    low = high = arr.__array_interface__["data"][0]
    for n, s in zip(arr.shape, arr.strides):
        if n > 1:
            if s < 0:
                low += (n - 1) * s
            else:
                high += (n - 1) * s
    return low, high + arr.itemsize


def _is_parameter(t) -> bool:
    for cls in type(t).__mro__:
        if cls.__name__ == "Parameter" and cls.__module__.startswith("ember"):
            return True
    return False


class TorchPickler(pickle._Pickler):
    """Protocol-2 pickler that writes ember objects as torch would pickle them."""

    def __init__(self, file):
        super().__init__(file, protocol=2)
        self.entries: list = []
        self._by_root: dict = {}

    def persistent_id(self, obj):
        if type(obj) is StorageEntry:
            return obj.pid
        return None

    def save(self, obj, save_persistent_id=True):
        t = type(obj)
        if t is TorchGlobal:
            x = self.memo.get(id(obj))
            if x is not None:
                self.write(self.get(x[0]))
                return
            self.write(pickle.GLOBAL + obj.module.encode("utf-8") + b"\n" +
                       obj.name.encode("utf-8") + b"\n")
            self.memoize(obj)
            return
        if t is _dt.dtype:
            return self.save(torch_global("torch", obj.name))
        if isinstance(obj, np.generic) and not isinstance(obj, np.ndarray):
            # NumPy scalars would need numpy globals torch refuses; store the Python value.
            return super().save(obj.item(), save_persistent_id)
        return super().save(obj, save_persistent_id)

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            if _is_parameter(obj):
                data = Tensor._from_array(obj._data, obj._dtype, obj._device)
                data._base = obj._base
                return (REBUILD_PARAMETER, (data, bool(obj.requires_grad), OrderedDict()))
            return self._reduce_tensor(obj)
        if type(obj) is _device:
            args = (obj.type,) if obj.index is None else (obj.type, obj.index)
            return (torch_global("torch", "device"), args)
        if type(obj) is Size:
            return (torch_global("torch", "Size"), (tuple(obj),))
        return NotImplemented

    # ------------------------------------------------------------------ tensors
    def _reduce_tensor(self, t: Tensor):
        d = t._dtype
        if d not in STORAGE_NAMES:
            raise pickle.PicklingError(f"cannot save a tensor of dtype {d}")
        arr = t._data
        location = "cpu" if t._device.type == "cpu" else str(t._device)
        if not isinstance(arr, np.ndarray):
            arr = _dt.host_array(arr)  # CUDA: host copy; its location still says cuda
            if t._device.index is None:
                location = "cuda:0"
        entry, offset, stride = self._storage_of(arr, d, location)
        return (REBUILD_TENSOR, (entry, offset, tuple(arr.shape), stride, bool(t._rg),
                                 OrderedDict()))

    def _new_entry(self, d, flat: np.ndarray, location: str) -> StorageEntry:
        entry = StorageEntry(str(len(self.entries)), d, flat, location)
        self.entries.append(entry)
        return entry

    def _storage_of(self, arr: np.ndarray, d, location: str):
        """Find (or make) the storage that holds ``arr``; returns (entry, offset, stride)."""
        isz = arr.itemsize
        shape = arr.shape
        if arr.size:
            root = _root(arr)
            low, high = _bounds(root)
            ptr = arr.__array_interface__["data"][0]
            alow, ahigh = _bounds(arr)
            strides_ok = all(n <= 1 or (s >= 0 and s % isz == 0)
                             for n, s in zip(shape, arr.strides))
            if (strides_ok and (high - low) % isz == 0 and (ptr - low) % isz == 0
                    and low <= alow and ahigh <= high and isinstance(arr, np.ndarray)):
                # Storages are keyed by the memory owner, so views and tensors that share memory
                # are written once and come back sharing (torch saves whole storages too).
                key = (id(root), d, arr.dtype.str, location)
                hit = self._by_root.get(key)
                if hit is None:
                    buf = (ctypes.c_char * (high - low)).from_address(low)
                    flat = np.frombuffer(buf, dtype=arr.dtype)
                    hit = (self._new_entry(d, flat, location), low, root)
                    self._by_root[key] = hit
                entry, low, _ = hit
                stride = tuple(s // isz if n > 1 else _contig(shape, i)
                               for i, (n, s) in enumerate(zip(shape, arr.strides)))
                return entry, (ptr - low) // isz, stride
        # Odd layouts (negative strides, empty tensors): a private contiguous copy.
        flat = np.ascontiguousarray(arr).reshape(-1)
        return self._new_entry(d, flat, location), 0, tuple(
            _contig(shape, i) for i in range(len(shape)))


def _contig(shape, i) -> int:
    n = 1
    for s in shape[i + 1:]:
        n *= s
    return n


# ---------------------------------------------------------------------------------- archive
def _storage_bytes(entry: StorageEntry):
    """The storage as little-endian bytes (bfloat16: the upper halves of the float32 values)."""
    a = entry.array
    if entry.dtype is _dt.bfloat16:
        a = (np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) >> 16).astype("<u2")
    elif a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and sys.byteorder == "big"):
        a = a.astype(a.dtype.newbyteorder("<"))
    a = np.ascontiguousarray(a)
    return memoryview(a.reshape(-1).view(np.uint8))


def _write_record(zf: zipfile.ZipFile, name: str, data) -> None:
    nbytes = len(data)
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = nbytes
    zip64 = nbytes * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule for a zip64 header
    start = zf.start_dir if zf._seekable else zf.fp.tell()
    header = 30 + len(name.encode("utf-8")) + 4 + (20 if zip64 else 0)
    pad = (-(start + header)) % ALIGNMENT
    # A private extra field pads the local header so the record's bytes start 64-aligned,
    # which torch's mmap loading relies on.
    info.extra = struct.pack("<HH", 0x4D45, pad) + b"\0" * pad
    with zf.open(info, "w", force_zip64=zip64) as w:
        for i in range(0, nbytes, _CHUNK):
            w.write(data[i:i + _CHUNK])


def write_archive(obj, fileobj, prefix: str = "archive") -> None:
    """Pickle ``obj`` and write the whole zip checkpoint to a binary file object."""
    import io
    pkl = io.BytesIO()
    pickler = TorchPickler(pkl)
    pickler.dump(obj)
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED,
                         allowZip64=True) as zf:
        _write_record(zf, f"{prefix}/data.pkl", pkl.getbuffer())
        _write_record(zf, f"{prefix}/.format_version", b"1")
        _write_record(zf, f"{prefix}/.storage_alignment", str(ALIGNMENT).encode())
        _write_record(zf, f"{prefix}/byteorder", b"little")
        for entry in pickler.entries:
            _write_record(zf, f"{prefix}/data/{entry.key}", _storage_bytes(entry))
        _write_record(zf, f"{prefix}/version", b"3\n")
        sid = str(uuid.uuid4().int).zfill(40)[:40].encode()
        _write_record(zf, f"{prefix}/.data/serialization_id", sid)


def atomic_write(path: str, write) -> None:
    """Write through ``write(fileobj)`` to a temp file beside ``path``, fsync, then rename it
    over ``path``: a crash or an error mid-save leaves the previous file as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    tmp = os.path.join(folder, f".{base}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:  # keep the target's permissions when overwriting
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
