"""GPU benchmark (run on the device machine): ember on CuPy against torch eager, one run.

    python bench/gpu.py [--cases mlp,cnn,resnet18,gpt2] [--gpt-layers 12] [--torch-compile]

Prints per-step times and ratios for the MLP 784-128-10 train step (batch 64), a small CNN
step (batch 128) and ResNet-18 on 32x32 (batch 128, where torchvision is installed), eager and
with ember.compile (the step captured as a CUDA graph), plus peak GPU memory of each framework;
and the GPT-2 small (124M) bfloat16 train step: batch 8 x 1024 tokens, causal
scaled_dot_product_attention, AdamW, autocast(bfloat16), in tokens/s (higher is better) for torch
eager, ember eager and ember.compile (and torch.compile with --torch-compile).
"""
from __future__ import annotations

import os
import sys

import argparse

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import ember  # noqa: E402
from common import gpu_time, report  # noqa: E402
from models import gpt  # noqa: E402
from train import cnn, mlp  # noqa: E402


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


def gpt2_step(lib, layers: int, batch: int, seq: int, x_np, y_np, compile_fn=None):
    """One GPT-2-small training step (bf16 autocast, AdamW) as a closure, and its model."""
    lib.manual_seed(0)
    vocab = 50257
    model = gpt(lib, layers, 768, 12, vocab, seq).to("cuda")
    opt = lib.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    x = lib.tensor(x_np).to("cuda")
    y = lib.tensor(y_np).to("cuda")
    F = lib.nn.functional

    def step():
        opt.zero_grad(set_to_none=True)
        with lib.autocast("cuda", dtype=lib.bfloat16):
            logits = model(x)
            loss = F.cross_entropy(logits.view(-1, vocab), y.view(-1))
        loss.backward()
        opt.step()
        return loss
    return compile_fn(step) if compile_fn is not None else step


def run_gpt2(layers: int, torch_compile: bool, batch: int = 8, seq: int = 1024) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 50257, (batch, seq))
    y = rng.integers(0, 50257, (batch, seq))
    tokens = batch * seq
    name = f"GPT-2 {layers}L d768 T{seq} b{batch} bf16 step"
    results = {}
    torch.cuda.reset_peak_memory_stats()
    results["torch eager"] = gpu_time(gpt2_step(torch, layers, batch, seq, x, y),
                                      torch.cuda.synchronize, number=10, repeat=3, warmup=3)
    t_mem = torch.cuda.max_memory_allocated()
    if torch_compile:
        results["torch.compile"] = gpu_time(
            gpt2_step(torch, layers, batch, seq, x, y, torch.compile), torch.cuda.synchronize,
            number=10, repeat=3, warmup=3)
    torch.cuda.empty_cache()
    ember.cuda.reset_peak_memory_stats()
    results["ember eager"] = gpu_time(gpt2_step(ember, layers, batch, seq, x, y),
                                      ember.cuda.synchronize, number=10, repeat=3, warmup=3)
    e_mem = ember.cuda.max_memory_allocated()
    ember.cuda.empty_cache()
    # ember.compile runs 3 eager warm-up calls, captures on the 4th, then replays.
    results["ember.compile"] = gpu_time(
        gpt2_step(ember, layers, batch, seq, x, y, ember.compile), ember.cuda.synchronize,
        number=10, repeat=3, warmup=5)
    base = results["torch eager"]
    for label, t in results.items():
        print(f"{name + ' ' + label:<58} {t * 1e3:9.2f} ms  {tokens / t / 1e3:8.1f}k tokens/s"
              f"  {base / t:5.2f}x torch eager's throughput")
    print(f"{'':<58} peak memory (eager) ember {e_mem / 2**20:8.1f} MiB  torch "
          f"{t_mem / 2**20:8.1f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default="mlp,cnn,resnet18,gpt2")
    ap.add_argument("--gpt-layers", type=int, default=12)
    ap.add_argument("--torch-compile", action="store_true")
    args = ap.parse_args()
    wanted = set(args.cases.split(","))
    print(f"device: {torch.cuda.get_device_name(0)}  torch {torch.__version__}")
    rng = np.random.default_rng(0)
    cases = []
    if "mlp" in wanted:
        cases.append(("MLP 784-128-10 step, batch 64", mlp, 64, 100, (1, 28, 28)))
    if "cnn" in wanted:
        cases.append(("CNN conv32/conv64/fc step, batch 128", cnn, 128, 20, (1, 28, 28)))
    try:
        import torchvision  # noqa: F401  (the torch side of the ResNet case)
        if "resnet18" in wanted:
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
                       ember.cuda.synchronize, number, warmup=6)
        report(name + " ember.compile", t_c, t_t)
        print(f"{'':<44} peak memory ember {e_mem / 2**20:8.1f} MiB  torch "
              f"{t_mem / 2**20:8.1f} MiB")
    if "gpt2" in wanted:
        run_gpt2(args.gpt_layers, args.torch_compile)


if __name__ == "__main__":
    main()
