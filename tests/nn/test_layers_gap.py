"""The extra torch.nn layers (norms, pads, pools, dropouts, shrinks, lazy modules) against torch
on the CPU: values, gradients, reprs, state_dict keys, error types, dropout statistics."""
import copy
import warnings

import numpy as np
import pytest
import torch

import ember as E
import ember.nn as nn
import ember.nn.functional as F
from oracle import device_default, to_numpy

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _on_device():
    """Every ember tensor and module these tests make is made on the device under test."""
    with device_default():
        yield


def _pair(shape, scale=1.0):
    a = RNG.standard_normal(shape) * scale
    return (E.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True))


def _same(e, t, tol=1e-9):
    np.testing.assert_allclose(to_numpy(e), t.detach().numpy(), rtol=tol, atol=tol)


def _check_fn(fe, ft, *shapes, tol=1e-9, scale=1.0, positive=False):
    """Forward and (for float outputs) gradient against torch on float64 inputs."""
    pairs = [_pair(s, scale) for s in shapes]
    if positive:
        pairs = [(E.tensor(np.abs(to_numpy(p[0])) + 0.1, requires_grad=True),
                  torch.tensor(np.abs(p[1].detach().numpy()) + 0.1, requires_grad=True))
                 for p in pairs]
    oe = fe(*[p[0] for p in pairs])
    ot = ft(*[p[1] for p in pairs])
    if isinstance(ot, tuple):
        for a, b in zip(oe, ot):
            _same(a, b, tol)
        oe, ot = oe[0], ot[0]
    else:
        _same(oe, ot, tol)
    g = RNG.standard_normal(tuple(ot.shape))
    (oe * E.tensor(g)).sum().backward()
    (ot * torch.tensor(g)).sum().backward()
    for pe, pt in pairs:
        _same(pe.grad, pt.grad, tol)


FUNCTIONAL = [
    (lambda m: (lambda x: m.rms_norm(x, (3, 4))), [(2, 3, 4)]),
    (lambda m: (lambda x, w: m.rms_norm(x, (4,), w, eps=1e-3)), [(2, 3, 4), (4,)]),
    (lambda m: (lambda x: m.local_response_norm(x, 3)), [(2, 5, 4)]),
    (lambda m: (lambda x: m.local_response_norm(x, 2, 1e-2, 0.6, 2.0)), [(2, 5, 3, 3)]),
    (lambda m: (lambda x: m.local_response_norm(x, 4, 0.1)), [(1, 6, 2, 2, 2)]),
    (lambda m: (lambda x: m.adaptive_avg_pool3d(x, (2, 3, None))), [(2, 2, 5, 7, 4)]),
    (lambda m: (lambda x: m.adaptive_avg_pool3d(x, 2)), [(2, 4, 4, 4)]),
    (lambda m: (lambda x: m.adaptive_max_pool1d(x, 3, True)), [(2, 3, 7)]),
    (lambda m: (lambda x: m.adaptive_max_pool1d(x, 4)), [(3, 8)]),
    (lambda m: (lambda x: m.adaptive_max_pool3d(x, (2, 3, 2), True)), [(1, 2, 5, 7, 4)]),
    (lambda m: (lambda x: m.adaptive_max_pool3d_with_indices(x, 2)), [(2, 4, 4, 4)]),
    (lambda m: (lambda x: m.adaptive_max_pool2d_with_indices(x, (2, 3))), [(1, 2, 5, 7)]),
    (lambda m: (lambda x: m.adaptive_max_pool1d_with_indices(x, 3)), [(1, 2, 7)]),
    (lambda m: (lambda x: m.max_pool1d_with_indices(x, 3, 2, 1)), [(2, 3, 9)]),
    (lambda m: (lambda x: m.max_pool2d_with_indices(x, 2)), [(2, 3, 4, 6)]),
    (lambda m: (lambda x: m.max_pool3d_with_indices(x, 2, 1)), [(1, 2, 3, 4, 4)]),
    (lambda m: (lambda x: m.lp_pool1d(x, 2, 3)), [(2, 3, 9)]),
    (lambda m: (lambda x: m.lp_pool1d(x, 3.0, 2, 1, True)), [(2, 3, 7)]),
    (lambda m: (lambda x: m.lp_pool2d(x, 2, (2, 3), 2)), [(2, 3, 6, 7)]),
    (lambda m: (lambda x: m.lp_pool2d(x, float("inf"), 2)), [(1, 2, 4, 4)]),
    (lambda m: (lambda x: m.lp_pool3d(x, 3.0, 2)), [(1, 2, 4, 4, 4)]),
    (lambda m: (lambda x: m.hardshrink(x)), [(4, 5)]),
    (lambda m: (lambda x: m.hardshrink(x, 1.0)), [(4, 5)]),
    (lambda m: (lambda x: m.softshrink(x, 0.3)), [(4, 5)]),
    (lambda m: (lambda x: m.rrelu(x)), [(4, 5)]),
    (lambda m: (lambda x: m.rrelu(x, 0.2, 0.4, False)), [(4, 5)]),
    (lambda m: (lambda x: m.channel_shuffle(x, 2)), [(2, 6, 3, 3)]),
    (lambda m: (lambda x: m.channel_shuffle(x, 3)), [(2, 6, 5)]),
    (lambda m: (lambda x: m.dropout1d(x, 0.3, False)), [(2, 3, 5)]),
    (lambda m: (lambda x: m.dropout3d(x, 0.3, False)), [(2, 3, 2, 2, 2)]),
    (lambda m: (lambda x: m.alpha_dropout(x, 0.3)), [(2, 3)]),
    (lambda m: (lambda x: m.feature_alpha_dropout(x, 0.3, False)), [(2, 3, 4)]),
    (lambda m: (lambda x: m.pad(x, (1, 2, 0, 1, 2, 1), mode="circular")), [(1, 2, 3, 3, 4)]),
    (lambda m: (lambda x: m.pad(x, (1, 2), mode="circular")), [(1, 2, 4)]),
    (lambda m: (lambda x: m.pad(x, (1, 1, 2, 0, 1, 1), mode="reflect")), [(1, 2, 3, 3, 4)]),
    (lambda m: (lambda x: m.pad(x, (2, 1, 0, 1, 1, 3), mode="replicate")), [(2, 3, 3, 4)]),
]


@pytest.mark.parametrize("k", range(len(FUNCTIONAL)))
def test_functional_against_torch(k):
    make, shapes = FUNCTIONAL[k]
    _check_fn(make(F), make(torch.nn.functional), *shapes)


def test_lp_pool_fractional_power_and_upsample():
    _check_fn(lambda x: F.lp_pool2d(x, 1.5, 2), lambda x: torch.nn.functional.lp_pool2d(x, 1.5, 2),
              (1, 2, 4, 4), positive=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_fn(lambda x: F.upsample_nearest(x, scale_factor=2),
                  lambda x: torch.nn.functional.upsample_nearest(x, scale_factor=2),
                  (1, 2, 3, 3))
        _check_fn(lambda x: F.upsample_bilinear(x, size=(5, 4)),
                  lambda x: torch.nn.functional.upsample_bilinear(x, size=(5, 4)),
                  (1, 2, 3, 3))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_unpool_roundtrip(n):
    shape = (2, 3) + (6, 4, 4)[:n] if n > 1 else (2, 3, 8)
    a = RNG.standard_normal(shape)
    tp = getattr(torch.nn.functional, f"max_pool{n}d")
    tu = getattr(torch.nn.functional, f"max_unpool{n}d")
    eu = getattr(F, f"max_unpool{n}d")
    v, i = tp(torch.tensor(a), 2, return_indices=True)
    vn = v.detach().numpy()
    ve = E.tensor(vn, requires_grad=True)
    vt = torch.tensor(vn, requires_grad=True)
    ie = E.tensor(i.numpy())
    oe, ot = eu(ve, ie, 2), tu(vt, i, 2)
    _same(oe, ot)
    g = RNG.standard_normal(tuple(ot.shape))
    (oe * E.tensor(g)).sum().backward()
    (ot * torch.tensor(g)).sum().backward()
    _same(ve.grad, vt.grad)
    # An explicit larger output size (the N, C prefix is allowed).
    big = tuple(s + 1 for s in ot.shape[2:])
    _same(eu(ve, ie, 2, output_size=(2, 3) + big), tu(vt, i, 2, output_size=(2, 3) + big))
    with pytest.raises(ValueError):
        eu(ve, ie, 2, output_size=tuple(s + 5 for s in ot.shape[2:]))


def test_cross_map_lrn2d_matches_torch():
    for size in (1, 3, 4, 5):
        m_e, m_t = nn.CrossMapLRN2d(size, 1e-2, 0.75, 1.5), torch.nn.CrossMapLRN2d(size, 1e-2,
                                                                                  0.75, 1.5)
        assert repr(m_e) == repr(m_t)
        a = RNG.standard_normal((2, 6, 3, 3)) * 3
        _same(m_e(E.tensor(a)), m_t(torch.tensor(a)), 1e-9)
    # torch's hand-written backward does not match its own forward, so the gradient is
    # checked against central differences of torch's forward instead.
    a = RNG.standard_normal((1, 5, 2, 2)) * 3
    xe = E.tensor(a, requires_grad=True)
    nn.CrossMapLRN2d(3, 0.5, 0.75, 1.0)(xe).sum().backward()
    m_t = torch.nn.CrossMapLRN2d(3, 0.5, 0.75, 1.0)
    num = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        d = np.zeros_like(a)
        d[i] = 1e-6
        num[i] = float(m_t(torch.tensor(a + d)).sum() - m_t(torch.tensor(a - d)).sum()) / 2e-6
    np.testing.assert_allclose(to_numpy(xe.grad), num, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError):
        nn.CrossMapLRN2d(3)(E.randn(2, 3, 4))


def _modules():
    return [
        ("RMSNorm", (4,), {}, (2, 3, 4)),
        ("RMSNorm", ([3, 4],), {"eps": 1e-3, "elementwise_affine": False}, (2, 3, 4)),
        ("BatchNorm3d", (3,), {}, (2, 3, 2, 3, 3)),
        ("InstanceNorm3d", (3,), {"affine": True}, (2, 3, 2, 3, 3)),
        ("InstanceNorm3d", (3,), {}, (3, 2, 3, 3)),
        ("LocalResponseNorm", (3,), {}, (2, 5, 3, 3)),
            ("ZeroPad1d", (2,), {}, (2, 3, 4)),
        ("ZeroPad3d", ((1, 0, 2, 1, 0, 1),), {}, (1, 2, 2, 3, 3)),
        ("ConstantPad3d", (1, 2.5), {}, (1, 2, 2, 3, 3)),
        ("CircularPad1d", (1,), {}, (2, 3, 4)),
        ("CircularPad2d", ((1, 2, 0, 1),), {}, (2, 3, 4, 4)),
        ("CircularPad3d", (1,), {}, (1, 2, 2, 3, 3)),
        ("ReplicationPad1d", ((2, 1),), {}, (2, 3, 4)),
        ("ReplicationPad3d", (1,), {}, (1, 2, 2, 3, 3)),
        ("ReflectionPad3d", (1,), {}, (1, 2, 2, 3, 3)),
        ("AdaptiveAvgPool3d", ((2, None, 3),), {}, (2, 2, 5, 4, 7)),
        ("AdaptiveMaxPool1d", (3,), {}, (2, 3, 8)),
        ("AdaptiveMaxPool3d", (2,), {}, (1, 2, 5, 4, 3)),
        ("LPPool1d", (2, 3), {}, (2, 3, 9)),
        ("LPPool2d", (2, 2), {"stride": 1}, (2, 3, 4, 4)),
        ("LPPool3d", (2, 2), {}, (1, 2, 4, 4, 4)),
        ("UpsamplingNearest2d", (), {"scale_factor": 2}, (1, 2, 3, 3)),
        ("UpsamplingBilinear2d", (), {"size": 5}, (1, 2, 3, 3)),
        ("Unfold", (2,), {"stride": 1, "padding": 1}, (2, 3, 4, 4)),
        ("Fold", ((4, 5), 2), {}, (2, 8, 12)),
        ("ChannelShuffle", (3,), {}, (2, 6, 2, 2)),
        ("Softmax2d", (), {}, (2, 3, 2, 2)),
        ("Hardshrink", (), {}, (4, 5)),
        ("Softshrink", (0.3,), {}, (4, 5)),
        ("RReLU", (), {}, (4, 5)),
        ("RReLU", (0.1, 0.3, True), {}, (4, 5)),
    ]


@pytest.mark.parametrize("name,args,kw,shape", _modules())
def test_module_matches_torch(name, args, kw, shape):
    me = getattr(nn, name)(*args, **kw).eval().double()
    mt = getattr(torch.nn, name)(*args, **kw).eval().double()
    assert repr(me) == repr(mt)
    assert list(me.state_dict().keys()) == list(mt.state_dict().keys())
    a = RNG.standard_normal(shape)
    xe, xt = E.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    inplace = getattr(mt, "inplace", False)
    oe = me(xe * 1.0 if inplace else xe)
    ot = mt(xt * 1.0 if inplace else xt)
    _same(oe, ot)
    g = RNG.standard_normal(tuple(ot.shape))
    (oe * E.tensor(g)).sum().backward()
    (ot * torch.tensor(g)).sum().backward()
    _same(xe.grad, xt.grad)


def test_batchnorm3d_training_running_stats():
    me = nn.BatchNorm3d(3, momentum=None).double()
    mt = torch.nn.BatchNorm3d(3, momentum=None).double()
    for _ in range(2):
        a = RNG.standard_normal((2, 3, 2, 2, 3))
        _same(me(E.tensor(a)), mt(torch.tensor(a)))
    for k in ("running_mean", "running_var", "num_batches_tracked"):
        _same(getattr(me, k), getattr(mt, k))
    with pytest.raises(ValueError):
        me(E.randn(2, 3, 4, 4))


def test_distance_modules():
    for p, keep in ((2.0, False), (1.0, True), (3.0, False)):
        me, mt = nn.PairwiseDistance(p, keepdim=keep), torch.nn.PairwiseDistance(p, keepdim=keep)
        assert repr(me) == repr(mt)
        _check_fn(me, mt, (4, 5), (4, 5))
    me, mt = nn.CosineSimilarity(dim=0), torch.nn.CosineSimilarity(dim=0)
    assert repr(me) == repr(mt)
    _check_fn(me, mt, (4, 5), (4, 5))


def test_module_reprs_with_state():
    for name, args in [("Dropout1d", ()), ("Dropout3d", (0.2,)), ("AlphaDropout", (0.2,)),
                       ("FeatureAlphaDropout", ()), ("MaxUnpool1d", (2,)),
                       ("MaxUnpool2d", (2, 1)), ("MaxUnpool3d", (2,))]:
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


def test_module_max_unpool2d_forward():
    a = RNG.standard_normal((1, 2, 4, 4))
    v, i = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(a))
    out = nn.MaxUnpool2d(2)(E.tensor(v.numpy()), E.tensor(i.numpy()))
    _same(out, torch.nn.MaxUnpool2d(2)(v, i))


# ---------------------------------------------------------------------------- dropouts
def test_feature_dropouts_zero_whole_channels():
    E.manual_seed(0)
    for fn, shape in ((F.dropout1d, (64, 32, 5)), (F.dropout3d, (32, 32, 2, 2, 3)),
                      (F.dropout1d, (256, 7))):
        x = E.ones(*shape)
        y = to_numpy(fn(x, 0.3, True))
        flat = y.reshape(shape[0] * shape[1], -1) if len(shape) > 2 else y
        # Each channel is all zeros or all 1/(1-p).
        assert np.all((flat.min(-1) == flat.max(-1)))
        assert np.all((flat == 0) | np.isclose(flat, 1 / 0.7, rtol=1e-6))
        assert abs((flat[:, 0] == 0).mean() - 0.3) < 0.06
        assert fn(x, 0.3, False) is x
    with pytest.raises(RuntimeError):
        F.dropout1d(E.ones(2, 3, 4, 5))
    with pytest.raises(ValueError):
        F.dropout3d(E.ones(2, 3, 4, 5, 6), 1.5)
    x = E.ones(2, 3, 4)
    assert float(F.dropout1d(x, 1.0).abs().sum()) == 0.0


def test_alpha_dropout_statistics():
    E.manual_seed(1)
    a = RNG.standard_normal(200000)
    x = E.tensor(a)
    y = to_numpy(F.alpha_dropout(x, 0.2, True))
    # torch's affine constants, from the formula (not from ember).
    alpha = 1.0507009873554805 * 1.6732632423543772
    ca = ((1 - 0.2) * (1 + 0.2 * alpha ** 2)) ** -0.5
    dropped_val = ca * (-alpha) + ca * alpha * 0.2
    kept = ~np.isclose(y, dropped_val)
    np.testing.assert_allclose(y[kept], ca * a[kept] + ca * alpha * 0.2, rtol=1e-6)
    assert abs((~kept).mean() - 0.2) < 0.01
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02
    assert F.alpha_dropout(x, 0.2) is x  # training defaults to False, as torch
    m = nn.AlphaDropout(0.2)
    assert float(m.eval()(x).sum()) == pytest.approx(a.sum())
    yf = to_numpy(F.feature_alpha_dropout(E.tensor(RNG.standard_normal((400, 50, 6))), 0.25,
                                          True))
    ca2 = ((1 - 0.25) * (1 + 0.25 * alpha ** 2)) ** -0.5
    dv = ca2 * (-alpha) + ca2 * alpha * 0.25
    dropped = np.isclose(yf, dv)
    # Whole channels are dropped together.
    assert np.all(dropped.all(-1) == dropped.any(-1))
    assert abs(dropped.all(-1).mean() - 0.25) < 0.02


def test_rrelu_training_slopes():
    E.manual_seed(2)
    a = -np.abs(RNG.standard_normal(20000)) - 0.1
    y = to_numpy(F.rrelu(E.tensor(a), 0.1, 0.3, training=True))
    slope = y / a
    assert slope.min() >= 0.1 and slope.max() <= 0.3
    assert abs(slope.mean() - 0.2) < 0.005
    pos = np.abs(a)
    np.testing.assert_array_equal(to_numpy(F.rrelu(E.tensor(pos), training=True)), pos)
    x = E.tensor(a.copy())
    r = F.rrelu_(x)
    assert r is x
    np.testing.assert_allclose(to_numpy(x), a * (1 / 8 + 1 / 3) / 2)


def test_errors_match_torch():
    with pytest.raises(RuntimeError):
        F.softshrink(E.randn(3), -0.5)
    with pytest.raises(RuntimeError):
        torch.nn.functional.softshrink(torch.randn(3), -0.5)
    with pytest.raises(ValueError):
        F.local_response_norm(E.randn(3, 4), 2)
    with pytest.raises(RuntimeError):
        F.channel_shuffle(E.randn(2, 5, 3), 2)
    with pytest.raises(RuntimeError):
        F.rms_norm(E.randn(2, 3), (4,))
    with pytest.raises(ValueError):
        nn.Softmax2d()(E.randn(2, 3))


# -------------------------------------------------------------------------------- lazy
LAZY = [
    ("LazyLinear", (3,), {}, (2, 5)),
    ("LazyLinear", (3,), {"bias": False}, (2, 4, 5)),
    ("LazyConv1d", (4, 3), {}, (2, 3, 7)),
    ("LazyConv2d", (4, 3), {"padding": 1, "groups": 2}, (2, 6, 5, 5)),
    ("LazyConv3d", (2, 2), {"bias": False}, (1, 3, 3, 3, 3)),
    ("LazyConvTranspose1d", (4, 3), {}, (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3), {"stride": 2}, (1, 2, 3, 3)),
    ("LazyConvTranspose3d", (2, 2), {}, (1, 3, 2, 2, 2)),
    ("LazyBatchNorm1d", (), {}, (4, 3)),
    ("LazyBatchNorm2d", (), {"affine": False}, (2, 3, 2, 2)),
    ("LazyBatchNorm3d", (), {}, (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 6)),
    ("LazyInstanceNorm2d", (), {"affine": False, "track_running_stats": False}, (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), {}, (2, 3, 2, 2, 2)),
]


@pytest.mark.parametrize("name,args,kw,shape", LAZY)
def test_lazy_modules(name, args, kw, shape):
    me = getattr(nn, name)(*args, **kw)
    mt = getattr(torch.nn, name)(*args, **kw)
    assert repr(me) == repr(mt)
    assert list(me.state_dict().keys()) == list(mt.state_dict().keys())
    assert me.has_uninitialized_params() == mt.has_uninitialized_params()
    for k, v in me.state_dict().items():
        tv = mt.state_dict()[k]
        assert type(v).__name__ == type(tv).__name__
    a = RNG.standard_normal(shape).astype(np.float32)
    ot = mt(torch.tensor(a))
    # Copy torch's materialized values in, then compare outputs and the class swap.
    oe = me(E.tensor(a))
    assert type(me).__name__ == type(mt).__name__
    assert repr(me) == repr(mt)
    for (ke, ve), (kt, vt) in zip(me.state_dict().items(), mt.state_dict().items()):
        assert ke == kt and tuple(ve.shape) == tuple(vt.shape)
        assert type(ve).__name__ == "Tensor"
    for p in me.parameters():
        assert type(p) is nn.Parameter and p.requires_grad
    me.load_state_dict({k: E.tensor(v.detach().numpy()) for k, v in mt.state_dict().items()})
    me.train(mt.training)
    a2 = RNG.standard_normal(shape).astype(np.float32)
    _same(me(E.tensor(a2)), mt(torch.tensor(a2)), 1e-5)
    assert tuple(oe.shape) == tuple(ot.shape)


def test_lazy_load_state_dict_materializes():
    src = torch.nn.Linear(5, 3)
    me = nn.LazyLinear(3)
    me.load_state_dict({k: E.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})
    assert not me.has_uninitialized_params()
    assert type(me).__name__ == "LazyLinear"  # becomes Linear at the first call, as torch
    a = RNG.standard_normal((2, 5)).astype(np.float32)
    _same(me(E.tensor(a)), src(torch.tensor(a)), 1e-6)
    assert type(me) is nn.Linear


def test_lazy_optimizer_sees_materialized_params_and_deepcopy():
    m = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    m2 = copy.deepcopy(m)
    params = list(m.parameters())
    m(E.randn(3, 6))
    assert [tuple(p.shape) for p in params] == [(4, 6), (4,), (2, 4), (2,)]
    opt = E.optim.SGD(m.parameters(), lr=0.1)
    m(E.randn(3, 6)).sum().backward()
    opt.step()
    assert m2[0].has_uninitialized_params()
    m2(E.randn(1, 7))
    assert tuple(m2[0].weight.shape) == (4, 7)


def test_uninitialized_parameter_api():
    p = nn.UninitializedParameter()
    assert repr(p) == repr(torch.nn.UninitializedParameter())
    assert isinstance(p, nn.Parameter)
    p.materialize((2, 3), dtype=E.float64)
    assert type(p) is nn.Parameter and tuple(p.shape) == (2, 3) and p.dtype == E.float64
    b = nn.UninitializedBuffer()
    assert repr(b) == repr(torch.nn.UninitializedBuffer())
    b.materialize(4)
    assert type(b) is E.Tensor and tuple(b.shape) == (4,)
    assert nn.parameter.is_lazy(nn.UninitializedParameter())
