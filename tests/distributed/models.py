"""Models and data shared by the DDP scripts (run on the ranks) and the single-process
references (run in the test process)."""
from __future__ import annotations

import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F

GLOBAL_BATCH = 8
STEPS = 4


def build(kind: str):
    ember.manual_seed(0)
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                              nn.Linear(16, 3))
    elif kind == "cnn":
        model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.Conv2d(4, 4, 3, stride=2), nn.BatchNorm2d(4), nn.Tanh(),
                              nn.Flatten(), nn.Linear(4 * 3 * 3, 3))
    elif kind == "branches":
        model = Branches()
    else:
        raise ValueError(kind)
    return model.double()


class Branches(nn.Module):
    """``a`` always runs, ``b`` only when asked, ``c`` never: for find_unused_parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(6, 3)
        self.b = nn.Linear(6, 3)
        self.c = nn.Linear(6, 3)

    def forward(self, x, use_b: bool):
        out = self.a(x)
        if use_b:
            out = out + self.b(x).pow(2)
        return out


def batch(kind: str, step: int):
    """The global batch of a step: (inputs, class targets) as float64/int64 tensors."""
    rng = np.random.default_rng(1000 + step)
    shape = (GLOBAL_BATCH, 6) if kind != "cnn" else (GLOBAL_BATCH, 2, 7, 7)
    x = rng.standard_normal(shape)
    y = rng.integers(0, 3, GLOBAL_BATCH)
    return ember.tensor(x), ember.tensor(y)


def shard(t, rank: int, world: int):
    n = t.shape[0] // world
    return t[rank * n:(rank + 1) * n]


def loss_fn(out, y):
    return F.cross_entropy(out, y)


def optimizer(params):
    return ember.optim.SGD(params, lr=0.1, momentum=0.9)


def state_arrays(model) -> dict:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
