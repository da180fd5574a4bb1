"""Timing helpers shared by the benchmarks.

ember and torch are timed interleaved (e, t, e, t, ...) and each keeps its best run, so that a
burst of load from elsewhere on a shared machine hits both sides alike instead of skewing one.
"""
from __future__ import annotations

import os
import subprocess
import sys
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


def serve(step) -> None:
    """Worker side of ``compare_processes``: answer each "number" line on stdin with the
    seconds per call of ``number`` calls of ``step``."""
    for line in sys.stdin:
        number = int(line)
        t0 = time.perf_counter()
        for _ in range(number):
            step()
        print((time.perf_counter() - t0) / number, flush=True)


def compare_processes(script: str, case: str, number: int, repeat: int, warmup: int = 2):
    """Best seconds per call of ember and torch, each in a worker process of its own
    (``script --worker ember|torch case``, which calls ``serve``), driven alternately.

    Two frameworks' thread pools in one process take each other's cores (idle OpenMP/OpenBLAS
    workers keep spinning for a while after a parallel region), which slows both unevenly.
    """
    procs = {name: subprocess.Popen([sys.executable, os.path.abspath(script), "--worker",
                                     name, case], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
             for name in ("ember", "torch")}

    def run(name, n):
        # OpenBLAS's idle workers spin ~2^28 cycles (~0.1 s) before sleeping: let the other
        # process's threads settle so that they do not eat this one's cores.
        time.sleep(0.3)
        p = procs[name]
        p.stdin.write(f"{n}\n")
        p.stdin.flush()
        return float(p.stdout.readline())

    try:
        for name in procs:
            run(name, warmup)
        best = {"ember": float("inf"), "torch": float("inf")}
        for _ in range(repeat):
            for name in procs:
                best[name] = min(best[name], run(name, number))
    finally:
        for p in procs.values():
            p.stdin.close()
            p.wait()
    return best["ember"], best["torch"]


def gpu_time(step, sync, number: int = 50, repeat: int = 5, warmup: int = 5) -> float:
    """Best seconds per call of ``step`` over ``repeat`` windows, each ended by ``sync()`` (the
    device's synchronize): GPU work is asynchronous, so a window counts only when it is done."""
    for _ in range(warmup):
        step()
    sync()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            step()
        sync()
        best = min(best, (time.perf_counter() - t0) / number)
    return best
