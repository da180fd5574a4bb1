"""Split large elementwise NumPy work across the CPU cores.

NumPy's ufuncs run on one core; torch spreads a 1M-element op over all of them. NumPy releases
the GIL inside ufunc loops, so cutting a contiguous array into one slab per core and running the
slabs on a small thread pool recovers that parallelism. Only arrays of at least ``MIN_SIZE``
elements take this path: below it the thread hand-off costs more than it saves.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MIN_SIZE = 1 << 17
# EMBER_NUM_THREADS, else OMP_NUM_THREADS (which launchers such as ember.distributed.run set to
# keep ranks from oversubscribing the cores), else every core.
_THREADS = max(1, min(int(os.environ.get("EMBER_NUM_THREADS") or
                          os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1), 16))
_pool: ThreadPoolExecutor | None = None


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        # The calling thread works too, so the pool needs one thread fewer than the cores.
        _pool = ThreadPoolExecutor(max(1, _THREADS - 1), thread_name_prefix="ember-ew")
    return _pool


def _splittable(arrays, shape) -> bool:
    for a in arrays:
        if isinstance(a, np.ndarray):
            if a.shape != shape or not a.flags.c_contiguous:
                if a.ndim != 0:
                    return False
    return True


def elementwise(fn, *arrays, dtype=None):
    """``fn(out, *arrays)`` writes the result into ``out``; run it on slabs in parallel.

    The output has the arguments' broadcast shape. The work is split into slabs only when every
    array argument has that shape (or is 0-d / a Python scalar); otherwise, or when the work is
    small, it is one call.
    """
    # The output takes the broadcast shape: a caller may pass a smaller operand that broadcasts
    # (then the work runs as one call, since flat slabs would not line up).
    shape = np.broadcast_shapes(*[a.shape for a in arrays if isinstance(a, np.ndarray)])
    out = np.empty(shape, dtype=dtype or np.result_type(*arrays))
    n = out.size
    if _THREADS == 1 or n < MIN_SIZE or not _splittable(arrays, shape):
        fn(out, *arrays)
        return out
    flat_out = out.reshape(-1)
    flats = [a.reshape(-1) if isinstance(a, np.ndarray) and a.ndim else a for a in arrays]
    step = -(-n // _THREADS)
    futures = []
    pool = _get_pool()
    slabs = [slice(start, min(start + step, n)) for start in range(0, n, step)]
    for sl in slabs[1:]:
        futures.append(pool.submit(fn, flat_out[sl],
                                   *[f[sl] if isinstance(f, np.ndarray) and f.ndim else f
                                     for f in flats]))
    # The calling thread takes the first slab itself rather than idling on the futures.
    sl = slabs[0]
    fn(flat_out[sl], *[f[sl] if isinstance(f, np.ndarray) and f.ndim else f for f in flats])
    for f in futures:
        f.result()
    return out


def big(a) -> bool:
    """Whether an array is large enough for the parallel path (and a NumPy array)."""
    if isinstance(a, np.ndarray) and a.size >= MIN_SIZE:
        if not _TUNED:
            tune_malloc()
        return _THREADS > 1
    return False


_TUNED = []


def tune_malloc() -> None:
    """Keep large arrays on glibc's heap (once per process, on the first large op).

    glibc serves blocks above its mmap threshold with fresh mmap pages and returns them on free,
    so every full-size temporary of a large elementwise op costs page faults; raising the mmap
    and trim thresholds lets freed blocks be reused, as a framework's caching allocator would
    (about 20 % off a 1M-element op chain here). EMBER_MALLOC_TUNING=0 turns this off.
    """
    _TUNED.append(True)
    if os.environ.get("EMBER_MALLOC_TUNING", "1") == "0":
        return
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 256 << 20)
        libc.mallopt(m_trim_threshold, 1 << 30)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune
