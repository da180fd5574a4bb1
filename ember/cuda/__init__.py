"""``torch.cuda`` on CuPy: device queries, memory stats, streams and events, seeding.

CuPy is an optional extra (``pip install ember[gpu]``). Without it, or without a GPU,
``is_available()`` is False and every other function raises a clear error; nothing here is
imported by ``import ember``.
"""
from __future__ import annotations

import contextlib

_STATE = {"cupy": None, "checked": False, "peak": {}}


def _cupy():
    """The cupy module, or a RuntimeError saying how to get it."""
    if _STATE["cupy"] is None:
        try:
            import cupy
        except ImportError as e:
            raise RuntimeError("CUDA needs CuPy: pip install 'ember[gpu]' (cupy-cuda13x or "
                               "cupy-cuda12x)") from e
        _STATE["cupy"] = cupy
        _track_peak(cupy)
    return _STATE["cupy"]


def _track_peak(cp) -> None:
    """Route CuPy's default allocations through a wrapper that records the pool's high-water
    mark, so that ``max_memory_allocated`` is a true peak (as torch's caching allocator keeps
    one) rather than a sample taken when it is asked. Costs one Python call per allocation."""
    try:
        pool = cp.get_default_memory_pool()
    except Exception:  # no usable CUDA: nothing to track
        return
    peak = _STATE["peak"]
    pool_malloc = pool.malloc
    used_bytes = pool.used_bytes
    get_device = cp.cuda.runtime.getDevice

    oom = cp.cuda.memory.OutOfMemoryError

    def malloc(size):
        try:
            mem = pool_malloc(size)
        except oom as e:
            # Surface as torch.cuda.OutOfMemoryError (a RuntimeError), CuPy's error as cause.
            dev = get_device()
            n = _STATE.setdefault("num_ooms", {})
            n[dev] = n.get(dev, 0) + 1
            from ._extras import OutOfMemoryError
            raise OutOfMemoryError(f"CUDA out of memory. {e}") from e
        used = used_bytes()
        dev = get_device()
        if used > peak.get(dev, 0):
            peak[dev] = used
        return mem
    cp.cuda.set_allocator(malloc)


def is_available() -> bool:
    """Whether CuPy is installed and sees at least one CUDA device."""
    try:
        return _cupy().cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def device_count() -> int:
    try:
        return _cupy().cuda.runtime.getDeviceCount()
    except Exception:
        return 0


def current_device() -> int:
    return _cupy().cuda.runtime.getDevice()


def set_device(device) -> None:
    from ..backend.device import device as _device
    idx = device if isinstance(device, int) else (_device(device).index or 0)
    _cupy().cuda.runtime.setDevice(idx)


def synchronize(device=None) -> None:
    _cupy().cuda.runtime.deviceSynchronize()


def get_device_name(device=None) -> str:
    cp = _cupy()
    idx = 0 if device is None else (device if isinstance(device, int) else
                                    (getattr(device, "index", None) or 0))
    name = cp.cuda.runtime.getDeviceProperties(idx)["name"]
    return name.decode() if isinstance(name, bytes) else name


def get_device_properties(device=None) -> dict:
    cp = _cupy()
    idx = 0 if device is None else (device if isinstance(device, int) else
                                    (getattr(device, "index", None) or 0))
    return cp.cuda.runtime.getDeviceProperties(idx)


def get_device_capability(device=None) -> tuple:
    p = get_device_properties(device)
    return (p["major"], p["minor"])


def memory_allocated(device=None) -> int:
    used = _cupy().get_default_memory_pool().used_bytes()
    key = current_device()
    _STATE["peak"][key] = max(_STATE["peak"].get(key, 0), used)
    return used


def max_memory_allocated(device=None) -> int:
    memory_allocated(device)
    return _STATE["peak"].get(current_device(), 0)


def memory_reserved(device=None) -> int:
    return _cupy().get_default_memory_pool().total_bytes()


def reset_peak_memory_stats(device=None) -> None:
    _STATE["peak"][current_device()] = memory_allocated(device)


def empty_cache() -> None:
    cp = _cupy()
    cp.get_default_memory_pool().free_all_blocks()
    cp.get_default_pinned_memory_pool().free_all_blocks()


def manual_seed(seed: int) -> None:
    """Seed CuPy's generator and the fused dropout kernel's (seed, offset) pair."""
    _cupy().random.seed(int(seed) & 0xFFFFFFFF)
    _STATE["seed"] = int(seed)
    import sys
    drop = sys.modules.get("ember.cuda.kernels.dropout")
    if drop is not None:
        drop._GEN.clear()  # the next dropout starts again from this seed


manual_seed_all = manual_seed


def _seed_all_if_loaded(seed: int) -> None:
    if _STATE["cupy"] is not None:
        manual_seed(seed)


def is_initialized() -> bool:
    return _STATE["cupy"] is not None


def init() -> None:
    _cupy()


class Stream:
    """A CUDA stream (wraps ``cupy.cuda.Stream``)."""

    def __init__(self, device=None, priority: int = 0):
        self._s = _cupy().cuda.Stream(non_blocking=True)

    def synchronize(self) -> None:
        self._s.synchronize()

    def wait_stream(self, other: "Stream") -> None:
        ev = other._s.record()
        self._s.wait_event(ev)

    def wait_event(self, event: "Event") -> None:
        self._s.wait_event(event._e)

    def record_event(self, event: "Event | None" = None) -> "Event":
        event = event or Event()
        event.record(self)
        return event

    def query(self) -> bool:
        return self._s.done

    def __enter__(self):
        self._s.__enter__()
        return self

    def __exit__(self, *exc):
        return self._s.__exit__(*exc)


class Event:
    """A CUDA event with timing (wraps ``cupy.cuda.Event``)."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False,
                 interprocess: bool = False):
        self._e = _cupy().cuda.Event(block=blocking, disable_timing=not enable_timing)

    def record(self, stream: Stream | None = None) -> None:
        self._e.record(None if stream is None else stream._s)

    def synchronize(self) -> None:
        self._e.synchronize()

    def query(self) -> bool:
        return self._e.done

    def elapsed_time(self, end: "Event") -> float:
        return _cupy().cuda.get_elapsed_time(self._e, end._e)

    def wait(self, stream: Stream | None = None) -> None:
        (stream._s if stream else _cupy().cuda.get_current_stream()).wait_event(self._e)


def current_stream(device=None) -> Stream:
    s = Stream.__new__(Stream)
    s._s = _cupy().cuda.get_current_stream()
    return s


def default_stream(device=None) -> Stream:
    s = Stream.__new__(Stream)
    s._s = _cupy().cuda.Stream.null
    return s


@contextlib.contextmanager
def stream(s: Stream | None):
    if s is None:
        yield
        return
    with s._s:
        yield


class device:
    """Context manager that makes ``idx`` the current CUDA device."""

    def __init__(self, idx):
        from ..backend.device import device as _device
        self.idx = idx if isinstance(idx, int) else (_device(idx).index or 0)

    def __enter__(self):
        self.prev = current_device()
        set_device(self.idx)

    def __exit__(self, *exc):
        set_device(self.prev)


def __getattr__(name):
    # Graph capture lives in its own module; load it on first use.
    if name in ("CUDAGraph", "graph", "graph_pool_handle", "is_current_stream_capturing"):
        from . import graphs
        return getattr(graphs, name)
    if name == "amp":
        import importlib
        return importlib.import_module(".amp", __name__)
    raise AttributeError(f"ember does not implement torch.cuda.{name} yet")


# More of torch.cuda (streams contexts, memory stats, RNG state, legacy types); this rebinds
# `stream` to return a StreamContext.
from ._extras import *  # noqa: E402,F401,F403
