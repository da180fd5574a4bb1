"""Timing helpers shared by the benchmarks: best-of-N medians, ratios printed side by side."""
from __future__ import annotations

import statistics
import time


def timeit(fn, number: int = 100, repeat: int = 7, warmup: int = 3) -> float:
    """Median seconds per call over ``repeat`` runs of ``number`` calls."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    return statistics.median(runs)


def report(name: str, ember_s: float, torch_s: float, target: str = "") -> float:
    ratio = ember_s / torch_s
    print(f"{name:<44} ember {ember_s * 1e6:10.1f} us  torch {torch_s * 1e6:10.1f} us  "
          f"ratio {ratio:5.2f}x  {target}")
    return ratio
