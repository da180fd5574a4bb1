"""Timing helpers shared by the benchmarks.

ember and torch are timed interleaved (e, t, e, t, ...) and each keeps its best run, so that a
burst of load from elsewhere on a shared machine hits both sides alike instead of skewing one.
"""
from __future__ import annotations

import time


def _run(fn, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def timeit(fn, number: int = 100, repeat: int = 7, warmup: int = 3) -> float:
    """Best seconds per call over ``repeat`` runs of ``number`` calls."""
    for _ in range(warmup):
        fn()
    return min(_run(fn, number) for _ in range(repeat))


def compare(ember_fn, torch_fn, number: int = 100, repeat: int = 9,
            warmup: int = 3) -> tuple[float, float]:
    """Best seconds per call of each, measured interleaved."""
    for _ in range(warmup):
        ember_fn()
        torch_fn()
    e, t = [], []
    for _ in range(repeat):
        e.append(_run(ember_fn, number))
        t.append(_run(torch_fn, number))
    return min(e), min(t)


def report(name: str, ember_s: float, torch_s: float, target: str = "") -> float:
    ratio = ember_s / torch_s
    print(f"{name:<44} ember {ember_s * 1e6:10.1f} us  torch {torch_s * 1e6:10.1f} us  "
          f"ratio {ratio:5.2f}x  {target}", flush=True)
    return ratio
