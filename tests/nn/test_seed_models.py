"""The seed documents' models on ember and torch from the same weights: forward, backward and
a few SGD steps agree."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

import ember
import ember.nn as enn

sys.path.insert(0, os.path.dirname(__file__))
from nn_helpers import copy_weights  # noqa: E402
from oracle import assert_close, dev_tensor, on_device, to_numpy  # noqa: E402


def make(nn, kind):
    F = nn.functional

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            return self.fc2(F.relu(self.fc1(x.view(-1, 784))))

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
            self.fc1 = nn.Linear(64 * 6 * 6, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(x.size(0), -1)
            return self.fc2(F.relu(self.fc1(x)))
    return MLP() if kind == "mlp" else CNN()


@pytest.mark.parametrize("kind,shape", [("mlp", (64, 1, 28, 28)), ("cnn", (8, 3, 24, 24))])
def test_seed_model_matches_torch(kind, shape):
    t, e = make(torch.nn, kind), on_device(make(enn, kind))
    copy_weights(t, e)
    rng = np.random.default_rng(0)
    losses = {"t": [], "e": []}
    for step in range(3):
        x = rng.standard_normal(shape).astype(np.float32)
        y = rng.integers(0, 10, shape[0])
        for tag, lib, nn, m in (("t", torch, torch.nn, t), ("e", ember, enn, e)):
            mk = torch.tensor if lib is torch else dev_tensor
            m.zero_grad()
            out = m(mk(x))
            loss = nn.CrossEntropyLoss()(out, mk(y))
            loss.backward()
            losses[tag].append(loss.item())
            with lib.no_grad():
                for p in m.parameters():
                    p -= 0.05 * p.grad
        for (name, tp), (ename, ep) in zip(t.named_parameters(), e.named_parameters()):
            assert name == ename
            assert_close(to_numpy(ep.grad), tp.grad.numpy(), 1e-4, 1e-5, f"{name} grad")
            assert_close(to_numpy(ep), tp.detach().numpy(), 1e-4, 1e-5, name)
    np.testing.assert_allclose(losses["e"], losses["t"], rtol=1e-5)
