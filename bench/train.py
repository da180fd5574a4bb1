"""Training-step benchmark: ember's time over torch's for the seeds' MLP and a small CNN.

    python bench/train.py

Targets (issue "nn, optim, data, vision"): MLP step (batch 64) <= 1.0x torch, CNN step <= 1.5x.
Both frameworks run the same model code (written once against the torch API).

Two measurements per model, both interleaved (e, t, e, t, ...) so that load bursts from elsewhere
hit both sides:
- "same process": both frameworks in this process. On a 2-core machine their worker threads
  (OpenBLAS's and torch's OpenMP pool) spin-wait after each parallel call and steal the cores
  from the other framework's next call, which slows torch's CNN step by ~40%.
- "own process": each framework in a worker process of its own, driven alternately over a
  pipe; the idle one blocks on its pipe (after a pause that lets its spinning threads
  sleep). This is what a user running one framework sees.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import ember  # noqa: E402
from common import compare, report, serve  # noqa: E402
from common import compare_processes as _compare_processes  # noqa: E402


def mlp(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = lib.flatten(x, 1)
            return self.fc2(lib.relu(self.fc1(x)))
    return Net()


def cnn(lib):
    nn = lib.nn
    F = lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
            self.fc1 = nn.Linear(64 * 7 * 7, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(-1, 64 * 7 * 7)
            return self.fc2(F.relu(self.fc1(x)))
    return Net()


def step_fn(lib, build, x_np, y_np):
    model = build(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = lib.nn.CrossEntropyLoss()
    x = lib.tensor(x_np)
    y = lib.tensor(y_np)

    def step():
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        opt.step()
    return step


def _build(name: str, model: str):
    lib = ember if name == "ember" else torch
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 64)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    return step_fn(lib, {"mlp": mlp, "cnn": cnn}[model], x, y)


def _worker(name: str, model: str) -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    serve(_build(name, model))


def compare_processes(model: str, number: int, repeat: int, warmup: int = 2):
    """Best seconds per step of ember and torch, each in its own process, interleaved."""
    return _compare_processes(__file__, model, number, repeat, warmup)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3])
        return
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"torch {torch.__version__} threads={torch.get_num_threads()}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    mlp_name = "MLP 784-128-10 train step, batch 64"
    cnn_name = "CNN conv32/conv64/fc train step, batch 64"
    report(mlp_name + " (same process)",
           *compare(_build("ember", "mlp"), _build("torch", "mlp"), 50), "target <= 1.0x")
    report(mlp_name + " (own process)", *compare_processes("mlp", 50, 9), "target <= 1.0x")
    report(cnn_name + " (same process)",
           *compare(_build("ember", "cnn"), _build("torch", "cnn"), 5, 5), "target <= 1.5x")
    report(cnn_name + " (own process)", *compare_processes("cnn", 5, 7), "target <= 1.5x")


if __name__ == "__main__":
    main()
