"""Module machinery: registration, state_dict interchange with torch, printout, hooks."""
from __future__ import annotations

import os
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ember
import ember.nn as enn

sys.path.insert(0, os.path.dirname(__file__))
from nn_helpers import copy_weights, run_both  # noqa: E402
from oracle import DEVICE, dev_tensor, on_device, to_numpy  # noqa: E402


def build(nn, kind):
    """The same small models, written once against the torch API."""
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    if kind == "cnn-bn":
        return nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(3, 8, 3, padding=1)), ("bn", nn.BatchNorm2d(8)),
            ("act", nn.ReLU()), ("pool", nn.MaxPool2d(2)), ("flat", nn.Flatten()),
            ("drop", nn.Dropout(0.25)), ("fc", nn.Linear(8 * 4 * 4, 5))]))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
            self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.LayerNorm(4)})
            self.scale = nn.Parameter(torch_or_ember(nn).ones(1))
            self.extra = nn.ParameterList([nn.Parameter(torch_or_ember(nn).zeros(2, 2))])
            self.register_buffer("steps", torch_or_ember(nn).zeros(1))
            self.register_buffer("cache", torch_or_ember(nn).zeros(3), persistent=False)

        def forward(self, idx):
            h = self.embed(idx)
            for b in self.blocks:
                h = b(h).relu()
            return self.heads["a"](self.heads["b"](h)) * self.scale
    return Net()


def torch_or_ember(nn):
    return torch if nn is torch.nn else ember


KINDS = ["mlp", "cnn-bn", "custom"]


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_keys_order_and_repr(kind):
    t, e = build(torch.nn, kind), build(enn, kind)
    assert list(e.state_dict().keys()) == list(t.state_dict().keys())
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert repr(e) == repr(t)
    for k, v in e.state_dict().items():
        assert tuple(v.shape) == tuple(t.state_dict()[k].shape), k


def test_load_from_torch_and_forward_matches():
    t, e = build(torch.nn, "custom"), on_device(build(enn, "custom"))
    copy_weights(t, e)
    idx = np.array([[1, 2, 9], [0, 5, 5]])
    run_both(t, e, [], int_inputs=idx)
    # and back: ember's state_dict loads into torch.
    t2 = build(torch.nn, "custom")
    t2.load_state_dict({k: torch.tensor(to_numpy(v)) for k, v in e.state_dict().items()})
    for k, v in t2.state_dict().items():
        assert np.array_equal(v.numpy(), t.state_dict()[k].numpy()), k


def test_load_state_dict_strict_errors_and_incompatible_keys():
    e = on_device(build(enn, "mlp"))
    sd = e.state_dict()
    sd.pop("1.bias")
    sd["9.weight"] = ember.zeros(1, device=DEVICE)
    with pytest.raises(RuntimeError) as info:
        e.load_state_dict(sd)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:")
    assert 'Missing key(s) in state_dict: "1.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "9.weight".' in msg
    res = e.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["1.bias"] and res.unexpected_keys == ["9.weight"]
    t = build(torch.nn, "mlp")
    tres = t.load_state_dict({k: torch.tensor(to_numpy(v)) for k, v in sd.items()},
                             strict=False)
    assert tuple(res) == tuple(tres)
    full = e.load_state_dict(e.state_dict())
    assert repr(full) == "<All keys matched successfully>"
    bad = e.state_dict()
    bad["1.weight"] = ember.zeros(3, 3, device=DEVICE)
    with pytest.raises(RuntimeError, match=r"size mismatch for 1.weight"):
        e.load_state_dict(bad)


def test_registration_rules():
    m = enn.Module()
    m.p = enn.Parameter(ember.zeros(2))
    m.sub = enn.Linear(2, 2)
    m.register_buffer("buf", ember.ones(1))
    m.plain = 3
    assert list(m._parameters) == ["p"] and list(m._modules) == ["sub"]
    assert list(m._buffers) == ["buf"]
    with pytest.raises(TypeError, match="cannot assign"):
        m.p = ember.zeros(2)
    m.p = None
    assert m.p is None and "p" in m._parameters
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        m.nope
    del m.sub
    assert "sub" not in m._modules
    with pytest.raises(KeyError):
        m.register_buffer("plain", ember.ones(1))
    assert repr(enn.Parameter(ember.zeros(2))) == repr(torch.nn.Parameter(torch.zeros(2)))


def test_train_eval_apply_zero_grad_requires_grad_to():
    e = on_device(build(enn, "cnn-bn"))
    e.eval()
    assert not any(m.training for m in e.modules())
    e.train()
    assert all(m.training for m in e.modules())
    seen = []
    e.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and seen[0] == "Conv2d"
    out = e(ember.randn(2, 3, 8, 8, device=DEVICE))
    out.sum().backward()
    assert all(p.grad is not None for p in e.parameters())
    e.zero_grad(set_to_none=False)
    assert all(not to_numpy(p.grad).any() for p in e.parameters())
    e.zero_grad()
    assert all(p.grad is None for p in e.parameters())
    e.requires_grad_(False)
    assert not any(p.requires_grad for p in e.parameters())
    params = list(e.parameters())
    e.double()
    assert all(p.dtype == ember.float64 for p in e.parameters())
    assert e.bn.num_batches_tracked.dtype == ember.int64
    assert all(a is b for a, b in zip(params, e.parameters()))
    e.to(ember.float32).cpu()
    assert e.conv.weight.dtype == ember.float32
    assert e.conv.weight.device.type == "cpu" and e.bn.running_mean.device.type == "cpu"


def test_forward_hooks():
    lin = on_device(enn.Linear(3, 2))
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    x = ember.ones(1, 3, device=DEVICE)
    y = lin(x)
    ref = enn.functional.linear(x * 2, lin.weight, lin.bias) + 1
    assert np.allclose(to_numpy(y), to_numpy(ref))
    assert calls == [ember.Size([1, 2])]
    h1.remove()
    h2.remove()
    assert np.allclose(to_numpy(lin(x)), to_numpy(enn.functional.linear(
        x, lin.weight, lin.bias)))


def test_full_backward_hook_matches_torch():
    got = {}
    for lib, nn in ((torch, torch.nn), (ember, enn)):
        # ember's side on the device under test.
        mk = torch.tensor if lib is torch else dev_tensor
        lin = nn.Linear(3, 2) if lib is torch else on_device(nn.Linear(3, 2))
        with lib.no_grad():
            lin.weight.copy_(mk([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]]))
        rec = []
        lin.register_full_backward_hook(
            lambda m, gi, go: rec.append((to_numpy(gi[0]).copy(), to_numpy(go[0]).copy())))
        x = mk([[1.0, -1.0, 2.0]], requires_grad=True)
        (lin(x) * mk([[2.0, 3.0]])).sum().backward()
        got[lib.__name__] = rec
    (ti, to), = got["torch"]
    (ei, eo), = got["ember"]
    assert np.allclose(ei, ti) and np.allclose(eo, to)


def test_full_backward_hook_replaces_grad_input():
    lin = on_device(enn.Linear(2, 2))
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0,))
    x = ember.ones(1, 2, requires_grad=True, device=DEVICE)
    lin(x).sum().backward()
    assert not to_numpy(x.grad).any()
    assert lin.weight.grad is not None


def test_containers():
    seq = enn.Sequential(enn.Linear(2, 3), enn.ReLU(), enn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], enn.ReLU)
    assert isinstance(seq[-1], enn.Linear) and len(seq[:2]) == 2
    seq.append(enn.Sigmoid())
    assert len(seq) == 4
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"]
    ml = enn.ModuleList([enn.Linear(2, 2)])
    ml.extend([enn.ReLU(), enn.ReLU()])
    ml.insert(0, enn.Tanh())
    assert [type(m).__name__ for m in ml] == ["Tanh", "Linear", "ReLU", "ReLU"]
    tl = torch.nn.ModuleList([torch.nn.Tanh(), torch.nn.Linear(2, 2), torch.nn.ReLU(),
                              torch.nn.ReLU()])
    assert repr(ml) == repr(tl)
    md = enn.ModuleDict({"a": enn.ReLU()})
    md["b"] = enn.Tanh()
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    pl = enn.ParameterList([ember.zeros(2), enn.Parameter(ember.ones(3))])
    tpl = torch.nn.ParameterList([torch.zeros(2), torch.nn.Parameter(torch.ones(3))])
    assert repr(pl) == repr(tpl)
    assert [n for n, _ in pl.named_parameters()] == [n for n, _ in tpl.named_parameters()]
    pd = enn.ParameterDict({"w": ember.zeros(2)})
    tpd = torch.nn.ParameterDict({"w": torch.zeros(2)})
    assert repr(pd) == repr(tpd) and isinstance(pd["w"], enn.Parameter)
