"""Small models (MLP, CNN, attention block) under CPU autocast: ember against torch.

Same weights and inputs in both; the dtype of every submodule's output inside the region must
equal torch's, outputs and loss must be close, parameter gradients must be float32 (the
parameters' dtype) and close to torch's.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from oracle import assert_close


def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.GELU(),
                         nn.Dropout(0.0), nn.Linear(16, 4))


def _cnn(lib):
    nn = lib.nn
    # No conv bias before BatchNorm: its exact gradient is 0, so only rounding noise is left.
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.Flatten(), nn.Linear(24, 5))


def _attn(lib):
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(8)
            self.mha = nn.MultiheadAttention(8, 2, batch_first=True)
            self.ln2 = nn.LayerNorm(8)
            self.ff = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8))
            self.head = nn.Linear(8, 3)

        def forward(self, x):
            h = self.ln1(x)
            a, _ = self.mha(h, h, h, need_weights=False)
            x = x + a
            x = x + self.ff(self.ln2(x))
            q = x @ x.transpose(1, 2)          # a bare matmul and softmax, as in attention
            x = lib.softmax(q, -1) @ x
            return self.head(x.mean(1))
    return Block()


MODELS = {"mlp": (_mlp, (6, 8), 4), "cnn": (_cnn, (2, 3, 8, 8), 5), "attn": (_attn, (2, 5, 8), 3)}


def _record_dtypes(model):
    seen = []
    for name, m in model.named_modules():
        if name and not list(m.children()):
            m.register_forward_hook(
                lambda mod, inp, out, name=name: seen.append(
                    (name, str((out[0] if isinstance(out, tuple) else out).dtype))))
    return seen


def _run(lib, model, x, y, low):
    seen = _record_dtypes(model)
    with lib.autocast("cpu", dtype=getattr(lib, low)):
        out = model(x)
        loss = lib.nn.functional.cross_entropy(out, y)
    loss.backward()
    return seen, out, loss


@pytest.mark.parametrize("low", ["bfloat16", "float16"])
@pytest.mark.parametrize("kind", list(MODELS))
def test_model_under_autocast_matches_torch(kind, low):
    build, shape, ncls = MODELS[kind]
    torch.manual_seed(0)
    tm = build(torch)
    em = build(ember)
    em.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(0)
    xa = rng.standard_normal(shape).astype(np.float32)
    ya = rng.integers(0, ncls, shape[0])
    t_seen, t_out, t_loss = _run(torch, tm, torch.tensor(xa), torch.tensor(ya), low)
    e_seen, e_out, e_loss = _run(ember, em, ember.tensor(xa), ember.tensor(ya), low)

    assert e_seen == t_seen
    assert str(e_out.dtype) == str(t_out.dtype) == f"torch.{low}"
    assert e_loss.dtype is ember.float32 and t_loss.dtype == torch.float32
    assert_close(e_out.detach().float().numpy(), t_out.detach().float().numpy(), 5e-2, 5e-2,
                 "output")
    assert_close(np.asarray(e_loss.item()), np.asarray(t_loss.item()), 2e-2, 2e-2, "loss")
    tp = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        assert p.grad is not None, name
        assert p.grad.dtype is p.dtype is ember.float32, name
        g = tp[name].grad
        scale = float(g.abs().max()) + 1e-3
        # bfloat16 keeps 8 bits: gradients agree to a few percent of their largest entry.
        assert_close(p.grad.numpy() / scale, g.numpy() / scale, 0, 6e-2, f"grad {name}")


def test_training_loop_loss_curve_matches_torch():
    """A few SGD steps of the MLP under bf16 autocast follow torch's losses."""
    torch.manual_seed(1)
    tm = _mlp(torch)
    em = _mlp(ember)
    em.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    topt = torch.optim.SGD(tm.parameters(), lr=0.1)
    eopt = ember.optim.SGD(em.parameters(), lr=0.1)
    rng = np.random.default_rng(1)
    xa = rng.standard_normal((16, 8)).astype(np.float32)
    ya = rng.integers(0, 4, 16)
    t_losses, e_losses = [], []
    for lib, model, opt, losses in ((torch, tm, topt, t_losses), (ember, em, eopt, e_losses)):
        x, y = lib.tensor(xa), lib.tensor(ya)
        for _ in range(5):
            opt.zero_grad()
            with lib.autocast("cpu", dtype=lib.bfloat16):
                loss = lib.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert_close(np.array(e_losses), np.array(t_losses), 2e-2, 2e-2, "losses")
    assert e_losses[-1] < e_losses[0]
