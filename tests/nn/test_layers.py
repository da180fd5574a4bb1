"""Each layer against the torch layer with the same weights: forward, input/param grads."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

import ember
import ember.nn as enn

sys.path.insert(0, os.path.dirname(__file__))
from nn_helpers import copy_weights, run_both  # noqa: E402
from oracle import DEVICE, assert_close, dev_tensor, on_device, to_numpy  # noqa: E402

# (constructor expression evaluated with nn = torch.nn / ember.nn, input shapes, tol)
LAYERS = [
    ("nn.Linear(5, 3)", [(4, 5)]),
    ("nn.Linear(5, 3, bias=False)", [(2, 4, 5)]),
    ("nn.Bilinear(3, 4, 2)", [(5, 3), (5, 4)]),
    ("nn.Conv2d(3, 4, 3)", [(2, 3, 6, 6)]),
    ("nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)",
     [(2, 4, 7, 7)]),
    ("nn.Conv2d(2, 3, 4, padding='same')", [(1, 2, 6, 5)]),
    ("nn.Conv2d(2, 3, 3, padding='valid', bias=False)", [(1, 2, 6, 5)]),
    ("nn.Conv2d(2, 3, 3, padding=1, padding_mode='reflect')", [(2, 2, 5, 5)]),
    ("nn.Conv2d(2, 3, 3, padding=2, padding_mode='circular')", [(1, 2, 5, 5)]),
    ("nn.Conv2d(2, 3, 3, padding=1, padding_mode='replicate')", [(1, 2, 4, 5)]),
    ("nn.Conv1d(3, 4, 3, stride=2, padding=1)", [(2, 3, 9)]),
    ("nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1)", [(2, 3, 4, 4)]),
    ("nn.ConvTranspose1d(3, 2, 4, stride=2)", [(2, 3, 5)]),
    ("nn.MaxPool2d(2)", [(2, 3, 6, 6)]),
    ("nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)", [(1, 2, 8, 7)]),
    ("nn.MaxPool1d(2)", [(2, 3, 8)]),
    ("nn.AvgPool2d(3, stride=2, padding=1)", [(1, 2, 7, 7)]),
    ("nn.AvgPool1d(2)", [(2, 3, 8)]),
    ("nn.AdaptiveAvgPool2d((2, 3))", [(2, 3, 7, 8)]),
    ("nn.AdaptiveAvgPool2d(1)", [(2, 3, 4, 4)]),
    ("nn.AdaptiveAvgPool1d(3)", [(2, 3, 7)]),
    ("nn.AdaptiveMaxPool2d(2)", [(1, 2, 5, 6)]),
    ("nn.LayerNorm(6)", [(3, 6)]),
    ("nn.LayerNorm([3, 4], elementwise_affine=False)", [(2, 3, 4)]),
    ("nn.GroupNorm(2, 4)", [(3, 4, 5)]),
    ("nn.GroupNorm(2, 4, affine=False)", [(3, 4, 5)]),
    ("nn.BatchNorm2d(3, affine=False).eval()", [(2, 3, 2, 2)]),
    ("nn.LayerNorm(4, bias=False)", [(2, 4)]),
    ("nn.InstanceNorm2d(3, affine=True)", [(2, 3, 4, 4)]),
    ("nn.Embedding(7, 3, padding_idx=0)", None),
    ("nn.ReLU()", [(4, 5)]),
    ("nn.ReLU6()", [(4, 5)]),
    ("nn.LeakyReLU(0.2)", [(4, 5)]),
    ("nn.PReLU(3)", [(2, 3, 4)]),
    ("nn.ELU(alpha=0.7)", [(4, 5)]),
    ("nn.SELU()", [(4, 5)]),
    ("nn.CELU(alpha=1.3)", [(4, 5)]),
    ("nn.GELU()", [(4, 5)]),
    ("nn.GELU(approximate='tanh')", [(4, 5)]),
    ("nn.SiLU()", [(4, 5)]),
    ("nn.Mish()", [(4, 5)]),
    ("nn.Sigmoid()", [(4, 5)]),
    ("nn.Tanh()", [(4, 5)]),
    ("nn.Hardtanh(-0.5, 0.7)", [(4, 5)]),
    ("nn.Hardswish()", [(4, 5)]),
    ("nn.Hardsigmoid()", [(4, 5)]),
    ("nn.Softplus(beta=2.0, threshold=1.0)", [(4, 5)]),
    ("nn.Softsign()", [(4, 5)]),
    ("nn.Softmax(dim=1)", [(4, 5)]),
    ("nn.LogSoftmax(dim=-1)", [(4, 5)]),
    ("nn.Threshold(0.1, 20.0)", [(4, 5)]),
    ("nn.Upsample(scale_factor=2)", [(1, 2, 3, 4)]),
    ("nn.Upsample(size=(5, 7), mode='bilinear', align_corners=False)", [(1, 2, 3, 4)]),
    ("nn.Upsample(scale_factor=1.5, mode='bilinear', align_corners=True)", [(1, 2, 4, 4)]),
    ("nn.PixelShuffle(2)", [(1, 8, 3, 3)]),
    ("nn.PixelUnshuffle(2)", [(1, 2, 4, 6)]),
    ("nn.ZeroPad2d((1, 2, 0, 3))", [(1, 2, 3, 3)]),
    ("nn.ConstantPad1d(2, 3.5)", [(2, 3, 4)]),
    ("nn.ConstantPad2d((1, 0, 2, 1), -1.0)", [(1, 2, 3, 3)]),
    ("nn.ReflectionPad2d(2)", [(1, 2, 4, 5)]),
    ("nn.Flatten()", [(2, 3, 4)]),
    ("nn.Unflatten(1, (2, 3))", [(4, 6)]),
    ("nn.Identity()", [(3, 2)]),
]


@pytest.mark.parametrize("expr,shapes", LAYERS, ids=[e for e, _ in LAYERS])
def test_layer_matches_torch(expr, shapes):
    tmod = eval(expr, {"nn": torch.nn})
    emod = on_device(eval(expr, {"nn": enn}))
    copy_weights(tmod, emod)
    if shapes is None:
        idx = np.array([[0, 3, 6], [2, 0, 1]])
        run_both(tmod, emod, [], int_inputs=idx)
    else:
        run_both(tmod, emod, shapes, rtol=1e-4, atol=1e-5)


def test_layer_reprs_match_torch():
    for expr, _ in LAYERS:
        assert repr(eval(expr, {"nn": enn})) == repr(eval(expr, {"nn": torch.nn})), expr


@pytest.mark.parametrize("cls", ["BatchNorm1d", "BatchNorm2d"])
def test_batchnorm_train_eval(cls):
    shape = (8, 3) if cls == "BatchNorm1d" else (4, 3, 5, 5)
    tmod = getattr(torch.nn, cls)(3, momentum=0.2)
    emod = on_device(getattr(enn, cls)(3, momentum=0.2))
    with torch.no_grad():
        tmod.weight.uniform_(0.5, 1.5)
        tmod.bias.uniform_(-0.5, 0.5)
    copy_weights(tmod, emod)
    for seed in range(3):
        run_both(tmod, emod, [shape], seed=seed, rtol=1e-4, atol=1e-5)
    for k in ("running_mean", "running_var", "num_batches_tracked"):
        assert_close(to_numpy(getattr(emod, k)), getattr(tmod, k).numpy(), 1e-5, 1e-6, k)
    tmod.eval()
    emod.eval()
    run_both(tmod, emod, [shape], seed=7, rtol=1e-4, atol=1e-5)
    assert int(emod.num_batches_tracked) == 3


def test_batchnorm_momentum_none_and_no_stats():
    tmod = torch.nn.BatchNorm1d(4, momentum=None)
    emod = on_device(enn.BatchNorm1d(4, momentum=None))
    for seed in range(3):
        run_both(tmod, emod, [(6, 4)], seed=seed)
    assert_close(to_numpy(emod.running_var), tmod.running_var.numpy(), 1e-5, 1e-6, "var")
    tmod = torch.nn.BatchNorm2d(2, track_running_stats=False, affine=False).eval()
    emod = on_device(enn.BatchNorm2d(2, track_running_stats=False, affine=False).eval())
    run_both(tmod, emod, [(3, 2, 2, 2)])
    assert list(emod.state_dict()) == list(tmod.state_dict())


def test_dropout_train_eval():
    ember.manual_seed(0)
    d = on_device(enn.Dropout(0.3))
    x = ember.ones(200, 100, requires_grad=True, device=DEVICE)
    y = d(x)
    kept = (y != 0).float().mean().item()
    assert abs(kept - 0.7) < 0.02
    yn = to_numpy(y)
    assert np.allclose(yn[yn != 0], 1 / 0.7)
    y.sum().backward()
    assert np.array_equal(to_numpy(x.grad), yn)
    d.eval()
    assert d(x) is x
    d2 = on_device(enn.Dropout2d(0.5))
    z = to_numpy(d2(ember.ones(4, 50, 3, 3, device=DEVICE)))
    per_channel = z.reshape(4, 50, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert repr(d2) == repr(torch.nn.Dropout2d(0.5))


def test_embedding_max_norm():
    t = torch.nn.Embedding(6, 4, max_norm=1.0)
    e = on_device(enn.Embedding(6, 4, max_norm=1.0))
    copy_weights(t, e)
    idx = np.array([1, 3, 3, 5])
    to = t(torch.tensor(idx))
    eo = e(dev_tensor(idx))
    assert_close(to_numpy(eo), to.detach().numpy(), 1e-5, 1e-6, "out")
    assert_close(to_numpy(e.weight), t.weight.detach().numpy(), 1e-5, 1e-6, "renorm")
