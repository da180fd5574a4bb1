"""GPU benchmark (run on the device machine): ember on CuPy against torch eager, one run.

    python bench/gpu.py

Prints per-step times and ratios for the MLP 784-128-10 train step (batch 64), a small CNN
step (batch 128) and ResNet-18 on 32x32 (batch 128, where torchvision is installed), eager and
with ember.compile (the step captured as a CUDA graph), plus peak GPU
memory of each framework.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import ember  # noqa: E402
from common import report  # noqa: E402
from train import cnn, mlp  # noqa: E402


def gpu_time(step, sync, number=50, repeat=5, warmup=5):
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


def make_step(lib, build, x_np, y_np, device):
    model = build(lib).to(device)
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = lib.nn.CrossEntropyLoss()
    x = lib.tensor(x_np).to(device)
    y = lib.tensor(y_np).to(device)

    def step():
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        opt.step()
    return step


def resnet18(lib):
    """torchvision's ResNet-18 (10 classes) for torch, ember.vision's for ember."""
    if lib is ember:
        return ember.vision.models.resnet18(num_classes=10)
    import torchvision
    return torchvision.models.resnet18(num_classes=10)


def main() -> None:
    print(f"device: {torch.cuda.get_device_name(0)}  torch {torch.__version__}")
    rng = np.random.default_rng(0)
    cases = [("MLP 784-128-10 step, batch 64", mlp, 64, 100, (1, 28, 28)),
             ("CNN conv32/conv64/fc step, batch 128", cnn, 128, 20, (1, 28, 28))]
    try:
        import torchvision  # noqa: F401  (the torch side of the ResNet case)
        cases.append(("ResNet-18 32x32 step, batch 128", resnet18, 128, 5, (3, 32, 32)))
    except ImportError:
        print("torchvision not installed: ResNet-18 case skipped")
    for name, build, batch, number, shape in cases:
        x = rng.standard_normal((batch,) + shape).astype(np.float32)
        y = rng.integers(0, 10, batch)
        torch.cuda.reset_peak_memory_stats()
        t_t = gpu_time(make_step(torch, build, x, y, "cuda"), torch.cuda.synchronize, number)
        t_mem = torch.cuda.max_memory_allocated()
        ember.cuda.reset_peak_memory_stats()
        t_e = gpu_time(make_step(ember, build, x, y, "cuda"), ember.cuda.synchronize, number)
        e_mem = ember.cuda.max_memory_allocated()
        report(name, t_e, t_t)
        t_c = gpu_time(ember.compile(make_step(ember, build, x, y, "cuda")),
                       ember.cuda.synchronize, number)
        report(name + " ember.compile", t_c, t_t)
        print(f"{'':<44} peak memory ember {e_mem / 2**20:8.1f} MiB  torch "
              f"{t_mem / 2**20:8.1f} MiB")


if __name__ == "__main__":
    main()
