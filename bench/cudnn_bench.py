"""cuDNN paths of ember on CUDA: a probe of the install and timings against torch.

    python bench/cudnn_bench.py --probe   # frontend/library versions, where libcudnn is found
    python bench/cudnn_bench.py           # sdpa and conv2d forward+backward, ember vs torch

Timings are wall-clock per step (forward + backward, host overhead included) after warm-up,
with ``torch.backends.cudnn.benchmark = True`` on the torch side.
"""
from __future__ import annotations

import glob
import importlib
import os
import site
import sys
import sysconfig
import time

import numpy as np

# Run as a script from anywhere: the repository root holds the ember package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def probe() -> None:
    print("python", sys.version.split()[0])
    dirs = set(p for p in sys.path if p) | {sysconfig.get_path("purelib")}
    dirs |= set(site.getsitepackages())
    libs = sorted({f for d in dirs for f in glob.glob(os.path.join(d, "nvidia", "cudnn*", "lib",
                                                                  "libcudnn.so*"))})
    print("libcudnn.so* in site-packages:", libs or "none")
    for name in ("cutlass", "tvm_ffi", "cuda.bindings", "torch", "cupy", "ml_dtypes"):
        try:
            m = importlib.import_module(name)
            print(f"  {name}: {getattr(m, '__version__', '?')}")
        except Exception as e:  # noqa: BLE001
            print(f"  {name}: not importable ({type(e).__name__}: {e})")
    from ember.cuda import cudnn as dnn
    print("ember.cuda.cudnn.available():", dnn.available(), "error:", repr(dnn._STATE["error"]))
    if dnn._STATE["mod"] is not None:
        mod = dnn._STATE["mod"]
        print("cudnn frontend", mod.__version__, "at", mod.__file__)
        print("cudnn backend_version", mod.backend_version())
    with open("/proc/self/maps") as f:
        loaded = sorted({ln.split()[-1] for ln in f if "libcudnn" in ln})
    print("libcudnn loaded from:", loaded)


def _timeit(fn, sync, warmup=3, iters=10) -> float:
    for _ in range(warmup):
        fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    sync()
    return (time.perf_counter() - t0) / iters * 1e3


def bench() -> None:
    import cupy as cp
    import torch

    import ember
    from ember.cuda import cudnn as dnn

    torch.backends.cudnn.benchmark = True
    tsync = torch.cuda.synchronize

    def esync():
        cp.cuda.Device().synchronize()

    rng = np.random.default_rng(0)
    print(f"device: {torch.cuda.get_device_name()}, cuDNN {dnn.version()}, "
          f"torch {torch.__version__} (cuDNN {torch.backends.cudnn.version()})")

    # --- attention: B=8, H=12, T=1024, D=64, bfloat16, causal
    shape = (8, 12, 1024, 64)
    arrs = [rng.standard_normal(shape).astype(np.float32) for _ in range(4)]
    eq, ek, ev = (ember.tensor(a, device="cuda").to(ember.bfloat16).requires_grad_(True)
                  for a in arrs[:3])
    ego = ember.tensor(arrs[3], device="cuda").to(ember.bfloat16)
    tq, tk, tv = (torch.tensor(a, device="cuda", dtype=torch.bfloat16, requires_grad=True)
                  for a in arrs[:3])
    tgo = torch.tensor(arrs[3], device="cuda", dtype=torch.bfloat16)

    def e_sdpa():
        o = ember.nn.functional.scaled_dot_product_attention(eq, ek, ev, is_causal=True)
        ember.autograd.grad(o, [eq, ek, ev], ego)

    def t_sdpa():
        o = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
        torch.autograd.grad(o, [tq, tk, tv], tgo)

    n0 = dnn.calls["sdpa_fwd"]
    e_ms = _timeit(e_sdpa, esync)
    assert dnn.calls["sdpa_fwd"] > n0, dnn.ERRORS
    t_ms = _timeit(t_sdpa, tsync)
    ember.backends.cudnn.enabled = False
    c_ms = _timeit(e_sdpa, esync, warmup=1, iters=3)
    ember.backends.cudnn.enabled = True
    print(f"sdpa fwd+bwd {shape} bf16 causal: ember cuDNN {e_ms:.2f} ms | ember composite "
          f"{c_ms:.2f} ms | torch {t_ms:.2f} ms")

    def k_sdpa():  # the two cuDNN calls alone, without ember's autograd around them
        o, st = dnn.sdpa_forward(eq._data, ek._data, ev._data, True, 0.125)
        dnn.sdpa_backward(eq._data, ek._data, ev._data, o, ego._data, st, True, 0.125)
    print(f"  ember.cuda.cudnn sdpa_forward + sdpa_backward alone: {_timeit(k_sdpa, esync):.2f} ms")

    # --- conv2d 3x3, N=128, C=O=64, 56x56, padding 1 (a ResNet-50 stage-1 layer)
    xa = rng.standard_normal((128, 64, 56, 56)).astype(np.float32)
    wa = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32)
    ga = rng.standard_normal((128, 64, 56, 56)).astype(np.float32)
    for name, edt, tdt in (("float32", ember.float32, torch.float32),
                           ("bfloat16", ember.bfloat16, torch.bfloat16)):
        ex = ember.tensor(xa, device="cuda").to(edt).requires_grad_(True)
        ew = ember.tensor(wa, device="cuda").to(edt).requires_grad_(True)
        eg = ember.tensor(ga, device="cuda").to(edt)
        tx = torch.tensor(xa, device="cuda", dtype=tdt, requires_grad=True)
        tw = torch.tensor(wa, device="cuda", dtype=tdt, requires_grad=True)
        tg = torch.tensor(ga, device="cuda", dtype=tdt)

        def e_conv():
            y = ember.nn.functional.conv2d(ex, ew, padding=1)
            ember.autograd.grad(y, [ex, ew], eg)

        def t_conv():
            y = torch.nn.functional.conv2d(tx, tw, padding=1)
            torch.autograd.grad(y, [tx, tw], tg)

        n0 = dnn.calls["conv_fprop"]
        e_ms = _timeit(e_conv, esync)
        assert dnn.calls["conv_fprop"] > n0, dnn.ERRORS
        t_ms = _timeit(t_conv, tsync)
        ember.backends.cudnn.enabled = False
        c_ms = _timeit(e_conv, esync, warmup=1, iters=3)
        ember.backends.cudnn.enabled = True
        print(f"conv2d 3x3 fwd+bwd (128, 64, 56, 56) {name} (TF32 allowed on both sides): "
              f"ember cuDNN {e_ms:.2f} ms | ember im2col {c_ms:.2f} ms | torch {t_ms:.2f} ms")

        def k_conv():
            xd, wd, gd = ex._data, ew._data, eg._data
            dnn.conv_fprop(xd, wd, (1, 1), (1, 1), (1, 1), 1)
            dnn.conv_dgrad(gd, wd, xd.shape, (1, 1), (1, 1), (1, 1), 1)
            dnn.conv_wgrad(xd, gd, wd.shape, (1, 1), (1, 1), (1, 1), 1)
        print(f"  ember.cuda.cudnn fprop + dgrad + wgrad alone: {_timeit(k_conv, esync):.2f} ms")


if __name__ == "__main__":
    if "--probe" in sys.argv:
        probe()
    else:
        bench()
