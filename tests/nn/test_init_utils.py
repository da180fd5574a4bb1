"""nn.init distributions and default layer initialisation (statistics), nn.utils."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ember
import ember.nn as enn
from ember.nn import init
from oracle import DEVICE, to_numpy


def _stats(t):
    a = to_numpy(t).astype(np.float64).ravel()
    return a.min(), a.max(), a.mean(), a.std()


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param))


def test_init_distributions():
    def empty(*shape):
        return ember.empty(*shape, device=DEVICE)
    ember.manual_seed(0)
    w = ember.empty(400, 300, device=DEVICE)
    lo, hi, mean, std = _stats(init.xavier_uniform_(w, gain=2.0))
    a = 2.0 * math.sqrt(6.0 / 700)
    assert -a <= lo and hi <= a and abs(std - a / math.sqrt(3)) < 0.01 * a
    _, _, mean, std = _stats(init.xavier_normal_(w))
    assert abs(std - math.sqrt(2.0 / 700)) < 0.02 * math.sqrt(2.0 / 700)
    _, _, mean, std = _stats(init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"))
    assert abs(std - math.sqrt(2.0 / 400)) < 0.02 * math.sqrt(2.0 / 400)
    lo, hi, _, _ = _stats(init.kaiming_uniform_(w, a=math.sqrt(5)))
    assert -1 / math.sqrt(300) <= lo and hi <= 1 / math.sqrt(300)
    lo, hi, _, _ = _stats(init.trunc_normal_(w, std=2.0, a=-1.0, b=3.0))
    assert lo >= -1.0 and hi <= 3.0
    q = to_numpy(init.orthogonal_(ember.empty(30, 50, device=DEVICE), gain=1.5))
    np.testing.assert_allclose(q @ q.T, 2.25 * np.eye(30), atol=1e-4)
    assert np.array_equal(to_numpy(init.eye_(empty(3, 4))), np.eye(3, 4))
    assert np.all(to_numpy(init.constant_(empty(3), 0.5)) == 0.5)
    assert np.all(to_numpy(init.ones_(empty(2))) == 1)
    d = to_numpy(init.dirac_(empty(4, 2, 3, 3)))
    td = torch.nn.init.dirac_(torch.empty(4, 2, 3, 3)).numpy()
    assert np.array_equal(d, td)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(empty(3))


def test_default_layer_init_statistics():
    ember.manual_seed(0)
    lin = enn.Linear(500, 400, device=DEVICE)
    bound = 1 / math.sqrt(500)
    lo, hi, mean, std = _stats(lin.weight)
    assert -bound <= lo and hi <= bound and abs(std - bound / math.sqrt(3)) < 0.02 * bound
    lo, hi, _, _ = _stats(lin.bias)
    assert -bound <= lo and hi <= bound and hi > 0.9 * bound
    conv = enn.Conv2d(16, 32, 3, device=DEVICE)
    bound = 1 / math.sqrt(16 * 9)
    lo, hi, _, std = _stats(conv.weight)
    assert -bound <= lo and hi <= bound and abs(std - bound / math.sqrt(3)) < 0.05 * bound
    _, _, mean, std = _stats(enn.Embedding(1000, 50, device=DEVICE).weight)
    assert abs(mean) < 0.02 and abs(std - 1) < 0.02
    bn = enn.BatchNorm2d(4, device=DEVICE)
    assert np.all(to_numpy(bn.weight) == 1) and np.all(to_numpy(bn.bias) == 0)
    assert np.all(to_numpy(enn.PReLU(device=DEVICE).weight) == 0.25)
    assert not to_numpy(enn.Embedding(5, 2, padding_idx=1, device=DEVICE).weight)[1].any()


def test_clip_grad_and_vector_conversion():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,))]
    res = {}
    for lib, nn in ((torch, torch.nn), (ember, enn)):
        # ember's parameters and gradients on the device under test.
        dev = {} if lib is torch else {"device": DEVICE}
        ps = [nn.Parameter(lib.zeros(*g.shape, **dev)) for g in grads]
        for p, g in zip(ps, grads):
            p.grad = lib.tensor(g.copy(), **dev)
        n = nn.utils.clip_grad_norm_(ps, 1.5)
        n_inf = nn.utils.clip_grad_norm_(ps, 10.0, norm_type=float("inf"))
        nn.utils.clip_grad_value_(ps, 0.2)
        vec = nn.utils.parameters_to_vector([p.grad for p in ps])
        nn.utils.vector_to_parameters(vec * 2, ps)
        res[lib.__name__] = (float(n), float(n_inf), to_numpy(vec).copy(),
                             [to_numpy(p).copy() for p in ps])
    t, e = res["torch"], res["ember"]
    assert e[0] == pytest.approx(t[0], rel=1e-5) and e[1] == pytest.approx(t[1], rel=1e-5)
    np.testing.assert_allclose(e[2], t[2], rtol=1e-5)
    for a, b in zip(e[3], t[3]):
        np.testing.assert_allclose(a, b, rtol=1e-5)
