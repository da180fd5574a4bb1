"""AdamW step over GPT-2-small-shaped parameters (124M floats in 148 tensors) on CUDA.

ember's multi-tensor path (eager, and replayed from a CUDA graph), ember's per-parameter path
(``foreach=False``), torch's ``AdamW(fused=True)`` and ``AdamW(foreach=True)``. Each line is the
best of several timed runs of ``steps`` steps, GPU synchronized; ``host`` is the time the
Python call of one step takes to return (the launch overhead a GPU-bound step hides).

Run: ``python bench/optim_bench.py [--dtype float32|bfloat16] [--steps 20]``
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import gpu_time  # noqa: E402


def gpt2_small_shapes() -> list[tuple[int, ...]]:
    d, v, ctx, layers = 768, 50257, 1024, 12
    shapes = [(v, d), (ctx, d)]
    for _ in range(layers):
        shapes += [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,),
                   (d, 4 * d), (4 * d,), (4 * d, d), (d,)]
    return shapes + [(d,), (d,)]


def _best(fn, sync, steps: int, repeat: int = 5) -> float:
    return gpu_time(fn, sync, number=steps, repeat=repeat, warmup=3)


def _host(fn, sync) -> float:
    sync()
    t0 = time.perf_counter()
    fn()
    t = time.perf_counter() - t0
    sync()
    return t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--skip-plain", action="store_true")
    ap.add_argument("--chunks", default="", help="also time these elements-per-block values "
                    "(comma-separated) with 256 and 512 threads")
    args = ap.parse_args()
    import cupy
    import torch

    import ember
    shapes = gpt2_small_shapes()
    n = sum(math.prod(s) for s in shapes)
    print(f"AdamW over {len(shapes)} tensors, {n / 1e6:.1f}M {args.dtype} parameters, "
          f"{torch.cuda.get_device_name()}")
    ed = getattr(ember, args.dtype)
    ember.manual_seed(0)
    ps = [ember.randn(*s, device="cuda").to(ed).requires_grad_(True) for s in shapes]
    for p in ps:
        p.grad = ember.randn(*p.shape, device="cuda").to(ed) * 1e-2
    esync = cupy.cuda.runtime.deviceSynchronize
    rows = []

    try:
        opt = ember.optim.AdamW(ps, lr=1e-4, weight_decay=0.1)
        rows.append(("ember multi-tensor (eager)", _best(opt.step, esync, args.steps),
                     _host(opt.step, esync)))
        g = ember.cuda.CUDAGraph()
        with ember.cuda.graph(g):
            opt.step()
        rows.append(("ember multi-tensor (CUDA graph)", _best(g.replay, esync, args.steps),
                     _host(g.replay, esync)))
        del g, opt
    except Exception as e:  # report and go on
        print(f"multi-tensor path failed: {type(e).__name__}: {e}")
    if args.chunks:
        from ember.cuda.kernels import optim as K
        defaults = (K.CHUNK, K.THREADS)
        for chunk in (int(c) for c in args.chunks.split(",")):
            for threads in (256, 512):
                K.CHUNK, K.THREADS = chunk, threads
                K._STATE.clear()  # recompile with the new CHUNK
                opt = ember.optim.AdamW(ps, lr=1e-4, weight_decay=0.1)
                t = _best(opt.step, esync, args.steps)
                print(f"  sweep: CHUNK={chunk:6d} threads={threads}: {t * 1e3:.3f} ms/step")
                del opt
        K.CHUNK, K.THREADS = defaults
        K._STATE.clear()
    if not args.skip_plain:
        try:
            opt = ember.optim.AdamW(ps, lr=1e-4, weight_decay=0.1, foreach=False)
            rows.append(("ember per-parameter (foreach=False)",
                         _best(opt.step, esync, max(2, args.steps // 4), repeat=2),
                         _host(opt.step, esync)))
            del opt
        except Exception as e:  # report and go on to torch's numbers
            print(f"per-parameter path failed: {type(e).__name__}: {e}")
    del ps
    cupy.get_default_memory_pool().free_all_blocks()

    td = getattr(torch, args.dtype)
    torch.manual_seed(0)
    tps = [torch.randn(*s, device="cuda", dtype=td, requires_grad=True) for s in shapes]
    for p in tps:
        p.grad = torch.randn_like(p) * 1e-2
    tsync = torch.cuda.synchronize
    for name, kw in (("torch AdamW(fused=True)", {"fused": True}),
                     ("torch AdamW(foreach=True)", {"foreach": True})):
        topt = torch.optim.AdamW(tps, lr=1e-4, weight_decay=0.1, **kw)
        rows.append((name, _best(topt.step, tsync, args.steps), _host(topt.step, tsync)))
        del topt
    for name, t, h in rows:
        gbs = n * (7 * (2 if args.dtype == "bfloat16" else 4)) / t / 1e9
        print(f"{name:38s} {t * 1e3:8.3f} ms/step  host {h * 1e3:7.3f} ms  ~{gbs:6.0f} GB/s")


if __name__ == "__main__":
    main()
