"""More of ``torch.cuda``: OutOfMemoryError, stream contexts, memory statistics, RNG state,
capability queries and the legacy ``torch.cuda.FloatTensor``-style types.

Everything here is importable without CuPy; calls that need a GPU raise the RuntimeError of
``ember.cuda._cupy`` (queries such as ``is_bf16_supported`` answer False instead, as torch's).
"""
from __future__ import annotations

import warnings

# Imported at the end of ember/cuda/__init__.py, once these names exist.
from . import _STATE, Stream, _cupy, current_device, is_available


class OutOfMemoryError(RuntimeError):
    """A CUDA allocation failed (torch.cuda.OutOfMemoryError; CuPy's error is its cause)."""


# -- streams -------------------------------------------------------------------------------------

class StreamContext:
    """Make ``stream`` current inside the block (None: no change), as torch.cuda.StreamContext."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        if self.stream is not None:
            self.stream._s.__enter__()
        return self.stream

    def __exit__(self, *exc):
        if self.stream is not None:
            return self.stream._s.__exit__(*exc)
        return False


def stream(stream) -> StreamContext:
    """``with ember.cuda.stream(s):`` runs the block's kernels on ``s``."""
    return StreamContext(stream)


class ExternalStream(Stream):
    """A stream made elsewhere (a ``cudaStream_t`` pointer), wrapped without owning it."""

    def __init__(self, stream_ptr: int, device=None, **kwargs):
        self._s = _cupy().cuda.ExternalStream(int(stream_ptr))
        self.cuda_stream = int(stream_ptr)


# -- memory --------------------------------------------------------------------------------------

def mem_get_info(device=None) -> tuple:
    """(free, total) bytes of the device, as cudaMemGetInfo reports them."""
    free, total = _cupy().cuda.runtime.memGetInfo()
    return int(free), int(total)


def max_memory_reserved(device=None) -> int:
    """The largest pool size seen by the memory queries (sampled when statistics are read)."""
    from . import memory_reserved
    key = current_device()
    res = memory_reserved(device)
    peaks = _STATE.setdefault("reserved_peak", {})
    peaks[key] = max(peaks.get(key, 0), res)
    return peaks[key]


def memory_stats(device=None) -> dict:
    """The statistics ember can fill, under torch's key names."""
    from . import max_memory_allocated, memory_allocated, memory_reserved
    cur = memory_allocated(device)
    peak = max_memory_allocated(device)
    res = memory_reserved(device)
    return {"active_bytes.all.current": cur, "active_bytes.all.peak": peak,
            "allocated_bytes.all.current": cur, "allocated_bytes.all.peak": peak,
            "reserved_bytes.all.current": res,
            "reserved_bytes.all.peak": max_memory_reserved(device),
            "num_ooms": _STATE.get("num_ooms", {}).get(current_device(), 0)}


def memory_summary(device=None, abbreviated: bool = False) -> str:
    """A small table of ``memory_stats``."""
    stats = memory_stats(device)

    def mib(v: int) -> str:
        return f"{v / 2**20:10.1f} MiB"
    rows = [("Allocated memory", stats["allocated_bytes.all.current"],
             stats["allocated_bytes.all.peak"]),
            ("Reserved memory", stats["reserved_bytes.all.current"],
             stats["reserved_bytes.all.peak"])]
    line = "=" * 60
    out = [line, f" ember CUDA memory summary, device {current_device()}"
           f" (CuPy memory pool), OOMs: {stats['num_ooms']}", "-" * 60,
           f" {'Metric':<24}{'Current':>16}{'Peak':>18}", "-" * 60]
    out += [f" {name:<24}{mib(c):>16}{mib(p):>18}" for name, c, p in rows]
    out.append(line)
    return "\n".join(out) + "\n"


def reset_max_memory_allocated(device=None) -> None:
    """Deprecated alias of ``reset_peak_memory_stats`` (torch warns the same way)."""
    warnings.warn("torch.cuda.reset_max_memory_allocated now calls "
                  "torch.cuda.reset_peak_memory_stats, which resets /all/ peak memory stats.",
                  FutureWarning, stacklevel=2)
    from . import reset_peak_memory_stats
    reset_peak_memory_stats(device)
    _STATE.setdefault("reserved_peak", {}).pop(current_device(), None)


def reset_max_memory_cached(device=None) -> None:
    """Deprecated alias of ``reset_peak_memory_stats``."""
    warnings.warn("torch.cuda.reset_max_memory_cached now calls "
                  "torch.cuda.reset_peak_memory_stats, which resets /all/ peak memory stats.",
                  FutureWarning, stacklevel=2)
    from . import reset_peak_memory_stats
    reset_peak_memory_stats(device)
    _STATE.setdefault("reserved_peak", {}).pop(current_device(), None)


def ipc_collect() -> None:
    """Nothing to collect: ember shares no CUDA memory between processes."""


# -- capability ----------------------------------------------------------------------------------

def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the current device runs bfloat16 (compute capability 8.0+); False without one."""
    if not is_available():
        return False
    from . import get_device_capability
    return get_device_capability()[0] >= 8 or including_emulation


def get_arch_list() -> list:
    """The ``sm_XY`` architectures of the visible devices (CuPy compiles for each at run time);
    empty without CUDA."""
    if not is_available():
        return []
    from . import device_count, get_device_capability
    return sorted({"sm_%d%d" % get_device_capability(i) for i in range(device_count())})


# -- RNG -----------------------------------------------------------------------------------------

def _dev_index(device) -> int:
    if device is None or device == "cuda":
        return current_device()
    if isinstance(device, int):
        return device
    from ..backend.device import device as _device
    return _device(device).index or 0


def get_rng_state(device="cuda"):
    """The CUDA generator state as a CPU uint8 tensor: the fused dropout kernel's 64-bit seed
    and offset (16 bytes, little-endian). Reading it synchronises with the device."""
    _cupy()
    from ..backend.device import CAPTURING
    if CAPTURING[0] > 0:
        raise RuntimeError("cannot read the CUDA RNG state while a CUDA graph is captured")
    from .kernels import dropout
    dev = _dev_index(device)
    cp = _cupy()
    with cp.cuda.Device(dev):
        st = dropout._state()
        host = st.get()
    from .. import uint8
    from ..creation import tensor
    raw = int(host[0]).to_bytes(8, "little") + int(host[1]).to_bytes(8, "little")
    return tensor(list(raw), dtype=uint8)


def set_rng_state(new_state, device="cuda") -> None:
    """Restore a state from ``get_rng_state``: the next dropout continues from it."""
    import numpy as np
    raw = bytes(int(v) & 0xFF for v in new_state.reshape(-1).tolist())
    if len(raw) != 16:
        raise RuntimeError(f"set_rng_state: expected a state of 16 bytes, got {len(raw)}")
    cp = _cupy()
    from .kernels import dropout
    from .. import random as _random
    dev = _dev_index(device)
    with cp.cuda.Device(dev):
        st = dropout._state()
        st[...] = cp.asarray(np.array([int.from_bytes(raw[:8], "little"),
                                       int.from_bytes(raw[8:], "little")], dtype=np.uint64))
        # keep it: no reseed from the host generator at the next call
        dropout._GEN[dev][1] = _random.default_generator._rng


def get_rng_state_all() -> list:
    from . import device_count
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states) -> None:
    for i, s in enumerate(new_states):
        set_rng_state(s, i)


def seed() -> None:
    """Seed CUDA's generators with a random number (see ``initial_seed``)."""
    import numpy as np
    from . import manual_seed
    manual_seed(int(np.random.SeedSequence().entropy) & ((1 << 63) - 1))


seed_all = seed


def initial_seed() -> int:
    """The seed CUDA's generators started from: the last ``ember.cuda.manual_seed`` (or
    ``ember.manual_seed``) value, else the default generator's seed."""
    _cupy()
    from .. import random as _random
    s = _STATE.get("seed")
    return _random.default_generator.initial_seed() if s is None else s


# -- legacy tensor types -------------------------------------------------------------------------

class _LegacyCudaType(type):
    """``isinstance(t, ember.cuda.FloatTensor)`` is true for float32 tensors on CUDA; calling
    the type makes such a tensor (from sizes, or from data)."""

    def __instancecheck__(cls, obj) -> bool:
        from ..tensor import Tensor
        return (isinstance(obj, Tensor) and obj.device.type == "cuda"
                and obj.dtype == cls._dtype())

    def __call__(cls, *args, device=None):
        _cupy()
        if not is_available():
            raise RuntimeError("ember.cuda legacy tensor types need a CUDA device")
        from .. import empty, tensor
        from ..tensor import Tensor
        dev = "cuda" if device is None else device
        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0]
            if isinstance(data, Tensor):
                return data.to(device=dev, dtype=cls._dtype())
            return tensor(data, dtype=cls._dtype(), device=dev)
        return empty(*args, dtype=cls._dtype(), device=dev)

    def __repr__(cls) -> str:
        return f"<class 'torch.cuda.{cls.__name__}'>"


def _legacy(name: str, dtype_name: str):
    def _dtype(cls=None):
        import ember
        return getattr(ember, dtype_name)
    return _LegacyCudaType(name, (), {"_dtype": staticmethod(_dtype),
                                      "__doc__": f"CUDA {dtype_name} tensors (legacy type)."})


FloatTensor = _legacy("FloatTensor", "float32")
DoubleTensor = _legacy("DoubleTensor", "float64")
HalfTensor = _legacy("HalfTensor", "float16")
BFloat16Tensor = _legacy("BFloat16Tensor", "bfloat16")
ByteTensor = _legacy("ByteTensor", "uint8")
CharTensor = _legacy("CharTensor", "int8")
ShortTensor = _legacy("ShortTensor", "int16")
IntTensor = _legacy("IntTensor", "int32")
LongTensor = _legacy("LongTensor", "int64")
BoolTensor = _legacy("BoolTensor", "bool")

__all__ = ["OutOfMemoryError", "StreamContext", "stream", "ExternalStream", "mem_get_info",
           "memory_stats", "memory_summary", "max_memory_reserved", "reset_max_memory_allocated",
           "reset_max_memory_cached", "ipc_collect", "is_bf16_supported", "get_arch_list",
           "get_rng_state", "set_rng_state", "get_rng_state_all", "set_rng_state_all", "seed",
           "seed_all", "initial_seed", "FloatTensor", "DoubleTensor", "HalfTensor",
           "BFloat16Tensor", "ByteTensor", "CharTensor", "ShortTensor", "IntTensor",
           "LongTensor", "BoolTensor"]
