"""Timings of ember.cuda.kernels against ember's generic CuPy path and torch on CUDA.

Run on a GPU machine with torch (CUDA) installed: ``python bench/cuda_kernels.py``. Each number
is the mean wall time of one call (milliseconds, synchronised), after warm-up.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _timeit(fn, sync, n=10, warm=2):
    for _ in range(warm):
        fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    sync()
    return (time.perf_counter() - t0) / n * 1e3


def main() -> None:
    import cupy as cp
    import torch

    import ember
    from ember.cuda import kernels as K

    F = ember.nn.functional
    TF = torch.nn.functional

    def sync():
        cp.cuda.runtime.deviceSynchronize()
        torch.cuda.synchronize()

    from ember.ops.registry import make_tensor

    rng = np.random.default_rng(0)
    dev = torch.device("cuda")
    edev = ember.zeros(1, device="cuda").device
    torch.manual_seed(0)

    def pair(shape, dtype, scale=1.0):
        """The same random values as an ember and a torch CUDA tensor (drawn on the GPU)."""
        t32 = torch.randn(shape, device=dev) * scale
        e = make_tensor(cp.from_dlpack(t32).copy(), ember.float32, edev)
        return e.to(getattr(ember, dtype)), t32.to(getattr(torch, dtype))

    def ember_both(fwd, inputs, grads):
        def run():
            y = fwd()
            ember.autograd.grad([y], inputs, grads)
        return run

    def torch_both(fwd, inputs, grads):
        def run():
            y = fwd()
            torch.autograd.grad([y], inputs, grads)
        return run

    def report(name, nbytes, e_fwd, e_both, t_fwd, t_both):
        res = {}
        K.enabled(True)
        res["k_f"] = _timeit(e_fwd, sync)
        res["k_fb"] = _timeit(e_both, sync)
        K.enabled(False)
        try:
            res["g_f"] = _timeit(e_fwd, sync, n=3, warm=1)
            res["g_fb"] = _timeit(e_both, sync, n=3, warm=1)
        except Exception as exc:  # noqa: BLE001 - the generic path may not run every dtype
            res["g_f"] = res["g_fb"] = float("nan")
            print(f"  (generic path failed: {type(exc).__name__}: {str(exc)[:80]})")
        K.enabled(True)
        res["t_f"] = _timeit(t_fwd, sync)
        res["t_fb"] = _timeit(t_both, sync)
        gbs = nbytes / (res["k_f"] * 1e-3) / 1e9
        print(f"{name:36s} fwd  kernel {res['k_f']:8.3f}  generic {res['g_f']:8.3f}  "
              f"torch {res['t_f']:8.3f} ms   (kernel fwd {gbs:6.0f} GB/s)")
        print(f"{'':36s} f+b  kernel {res['k_fb']:8.3f}  generic {res['g_fb']:8.3f}  "
              f"torch {res['t_fb']:8.3f} ms")

    print("device:", torch.cuda.get_device_name(0))
    # softmax 8192 x 50257 bf16
    for dtype in ("bfloat16", "float32"):
        shape = (8192, 50257)
        x, xt = pair(shape, dtype, 3.0)
        g, gt = pair(shape, dtype)
        x.requires_grad_(True)
        xt.requires_grad_(True)
        nb = 2 * x.numel() * x.element_size()
        report(f"softmax {shape} {dtype}", nb,
               lambda: F.softmax(x, -1), ember_both(lambda: F.softmax(x, -1), [x], [g]),
               lambda: TF.softmax(xt, -1), torch_both(lambda: TF.softmax(xt, -1), [xt], [gt]))
        del x, xt, g, gt
    # layer_norm 8192 x 768
    for dtype in ("bfloat16", "float32"):
        shape = (8192, 768)
        x, xt = pair(shape, dtype)
        w, wt = pair((768,), dtype)
        b, bt = pair((768,), dtype)
        g, gt = pair(shape, dtype)
        for v in (x, w, b, xt, wt, bt):
            v.requires_grad_(True)
        nb = 2 * x.numel() * x.element_size()
        report(f"layer_norm {shape} {dtype}", nb,
               lambda: F.layer_norm(x, (768,), w, b),
               ember_both(lambda: F.layer_norm(x, (768,), w, b), [x, w, b], [g]),
               lambda: TF.layer_norm(xt, (768,), wt, bt),
               torch_both(lambda: TF.layer_norm(xt, (768,), wt, bt), [xt, wt, bt], [gt]))
    # cross_entropy 8192 x 50257
    tv = rng.integers(0, 50257, 8192)
    te = ember.tensor(tv, device="cuda")
    tt = torch.tensor(tv, device=dev)
    for dtype in ("bfloat16", "float32"):
        shape = (8192, 50257)
        x, xt = pair(shape, dtype, 2.0)
        x.requires_grad_(True)
        xt.requires_grad_(True)
        nb = x.numel() * x.element_size()
        report(f"cross_entropy {shape} {dtype}", nb,
               lambda: F.cross_entropy(x, te), ember_both(lambda: F.cross_entropy(x, te), [x],
                                                          None),
               lambda: TF.cross_entropy(xt, tt),
               torch_both(lambda: TF.cross_entropy(xt, tt), [xt], None))
        del x, xt
    # gelu 8192 x 3072 bf16
    shape = (8192, 3072)
    x, xt = pair(shape, "bfloat16")
    g, gt = pair(shape, "bfloat16")
    x.requires_grad_(True)
    xt.requires_grad_(True)
    report(f"gelu {shape} bfloat16", 2 * x.numel() * 2,
           lambda: F.gelu(x), ember_both(lambda: F.gelu(x), [x], [g]),
           lambda: TF.gelu(xt), torch_both(lambda: TF.gelu(xt), [xt], [gt]))
    report(f"dropout(0.1) {shape} bfloat16", 2 * x.numel() * 2,
           lambda: F.dropout(x, 0.1), ember_both(lambda: F.dropout(x, 0.1), [x], [g]),
           lambda: TF.dropout(xt, 0.1), torch_both(lambda: TF.dropout(xt, 0.1), [xt], [gt]))
    # embedding backward: 50257 x 768 table, 8192 lookups
    w, wt = pair((50257, 768), "bfloat16")
    w.requires_grad_(True)
    wt.requires_grad_(True)
    g, gt = pair((8192, 768), "bfloat16")
    report("embedding (50257, 768) x 8192 bf16", 8192 * 768 * 4,
           lambda: F.embedding(te, w), ember_both(lambda: F.embedding(te, w), [w], [g]),
           lambda: TF.embedding(tt, wt), torch_both(lambda: TF.embedding(tt, wt), [wt], [gt]))


if __name__ == "__main__":
    main()
