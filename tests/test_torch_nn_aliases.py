"""torch.<nn function> top-level aliases (torch.conv2d, torch.batch_norm, ...) against torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from oracle import device_default, to_numpy

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _on_device(request):
    """The ember tensors of the deterministic tests are made on the device under test."""
    if "dropout" in request.node.name and "extremes" not in request.node.name:
        yield  # random masks on CUDA come from CuPy kernels: tests/test_cuda.py covers them
        return
    with device_default():
        yield


def _both(arr: np.ndarray, grad: bool):
    t = torch.tensor(arr, requires_grad=grad)
    e = ember.tensor(arr, requires_grad=grad)
    return t, e


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def compare(fn, *arrays, grad: bool = True, tol: float = 1e-9):
    """Run ``fn(lib, *tensors)`` with torch and ember; compare outputs and input gradients."""
    pairs = [_both(a, grad and a.dtype.kind == "f") if isinstance(a, np.ndarray) else (a, a)
             for a in arrays]
    t_out = _flat(fn(torch, *[p[0] for p in pairs]))
    e_out = _flat(fn(ember, *[p[1] for p in pairs]))
    assert len(t_out) == len(e_out)
    for t, e in zip(t_out, e_out):
        assert tuple(t.shape) == tuple(e.shape)
        assert str(t.dtype).split(".")[-1] == str(e.dtype).split(".")[-1]
        np.testing.assert_allclose(to_numpy(e), t.detach().numpy(), rtol=tol, atol=tol)
    if not grad:
        return
    t0, e0 = t_out[0], e_out[0]
    w = RNG.standard_normal(tuple(t0.shape))
    (t0 * torch.tensor(w)).sum().backward()
    (e0 * ember.tensor(w)).sum().backward()
    for (t, e) in pairs:
        if isinstance(t, torch.Tensor) and t.requires_grad:
            assert (t.grad is None) == (e.grad is None)
            if t.grad is not None:
                np.testing.assert_allclose(to_numpy(e.grad), t.grad.numpy(), rtol=tol, atol=tol)


def r(*shape):
    return RNG.standard_normal(shape)


def test_all_exported():
    from ember import _torch_nn_aliases as m
    for name in m.__all__:
        assert hasattr(torch, name), name
        assert getattr(ember, name) is getattr(m, name)


def test_convolutions():
    compare(lambda L, x, w, b: L.conv1d(x, w, b, 2, 1), r(2, 3, 9), r(4, 3, 3), r(4))
    compare(lambda L, x, w, b: L.conv2d(x, w, b, 1, 1, 1, 1), r(2, 3, 6, 5), r(4, 3, 3, 3), r(4))
    compare(lambda L, x, w: L.conv3d(x, w, None, 1, 0), r(1, 2, 4, 4, 4), r(3, 2, 2, 2, 2))
    compare(lambda L, x, w: L.conv_transpose1d(x, w, None, 2, 1, 1), r(2, 3, 5), r(3, 2, 3))
    compare(lambda L, x, w, b: L.conv_transpose2d(x, w, b, 2), r(1, 3, 4, 4), r(3, 2, 3, 3),
            r(2))
    compare(lambda L, x, w: L.conv_transpose3d(x, w), r(1, 2, 3, 3, 3), r(2, 2, 2, 2, 2))


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_convolution(nd, transposed):
    x = r(2, 4, *([5] * nd))
    w = r(4, 2, *([3] * nd))
    b = r(4)

    def fn(L, x, w, b):
        return L.convolution(x, w, b, [2] * nd, [1] * nd, [1] * nd, transposed,
                             [1 if transposed else 0] * nd, 2)
    compare(fn, x, w, b)


def test_pooling():
    compare(lambda L, x: L.avg_pool1d(x, 3, 2, 1), r(2, 3, 8))
    compare(lambda L, x: L.max_pool1d(x, 2), r(2, 3, 8))
    compare(lambda L, x: L.max_pool1d(x, 3, [], 1, 1, True), r(2, 3, 8))
    compare(lambda L, x: L.max_pool2d(x, 2, 1), r(2, 3, 5, 5))
    compare(lambda L, x: L.max_pool3d(x, 2), r(1, 2, 4, 4, 4))
    compare(lambda L, x: L.max_pool1d_with_indices(x, 2, 2), r(2, 3, 8))
    compare(lambda L, x: L.adaptive_avg_pool1d(x, 3), r(2, 3, 8))
    compare(lambda L, x: L.adaptive_max_pool1d(x, 3), r(2, 3, 8))


def test_norms():
    x = r(4, 3, 5)
    rm, rv = r(3), np.abs(r(3)) + 0.5

    def bn(L, x, w, b, rm, rv):
        return L.batch_norm(x, w, b, rm, rv, True, 0.2, 1e-5, False)
    compare(bn, x, r(3), r(3), rm.copy(), rv.copy(), grad=False)
    compare(lambda L, x, w, b: L.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, True),
            x, r(3), r(3))
    # eval with running stats; the running buffers themselves must be updated in training
    tm, em = torch.tensor(rm.copy()), ember.tensor(rm.copy())
    tv, ev = torch.tensor(rv.copy()), ember.tensor(rv.copy())
    torch.batch_norm(torch.tensor(x), None, None, tm, tv, True, 0.3, 1e-5, False)
    ember.batch_norm(ember.tensor(x), None, None, em, ev, True, 0.3, 1e-5, False)
    np.testing.assert_allclose(to_numpy(em), tm.numpy(), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(ev), tv.numpy(), rtol=1e-10)
    compare(lambda L, x: L.batch_norm(x, None, None, L.tensor(rm), L.tensor(rv), False, 0.1,
                                      1e-5, False), x)
    compare(lambda L, x, w, b: L.instance_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
            x, r(3), r(3))
    compare(lambda L, x, w, b: L.group_norm(x, 3, w, b, 1e-5, True), r(2, 6, 4), r(6), r(6))
    compare(lambda L, x: L.group_norm(x, 2), r(2, 6, 4))
    compare(lambda L, x, w, b: L.layer_norm(x, [5], w, b, 1e-6, False), x, r(5), r(5))
    compare(lambda L, x, w: L.rms_norm(x, (3, 5), w), x, r(3, 5))


def test_dropout_eval_and_extremes():
    x = r(3, 4, 5)
    for name in ("dropout", "alpha_dropout", "feature_dropout", "feature_alpha_dropout"):
        compare(lambda L, x: getattr(L, name)(x, 0.4, False), x)
        compare(lambda L, x: getattr(L, name)(x, 0.0, True), x)
    compare(lambda L, x: L.dropout(x, 1.0, True), x)
    compare(lambda L, x: L.feature_dropout(x, 1.0, True), x)
    with pytest.raises(TypeError):
        ember.dropout(ember.tensor(x), 0.5)
    with pytest.raises(TypeError):
        torch.dropout(torch.tensor(x), 0.5)


def test_dropout_train_statistics():
    ember.manual_seed(0)
    x = ember.ones(64, 32, 8, dtype=ember.float64)
    y = ember.dropout(x, 0.25, True).numpy()
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.03
    f = ember.feature_dropout(x, 0.5, True).numpy()
    # whole (N, C) feature maps are kept or zeroed, and kept ones scaled by 1/(1-p)
    assert np.all((f == f[..., :1]))
    assert set(np.unique(f)) <= {0.0, 2.0}
    assert abs((f[..., 0] == 0).mean() - 0.5) < 0.05
    a = ember.feature_alpha_dropout(ember.randn(16, 8, 4), 0.3, True)
    assert a.shape == (16, 8, 4)


def test_dropout_inplace():
    for name in ("dropout_", "alpha_dropout_", "feature_dropout_", "feature_alpha_dropout_"):
        x = ember.ones(20, 10, 3)
        out = getattr(ember, name)(x, 0.5, True)
        assert out is x
        assert (x.numpy() != 1.0).any()
        t = ember.ones(3, 3)
        assert getattr(ember, name)(t, 0.5, False) is t
        np.testing.assert_array_equal(t.numpy(), np.ones((3, 3)))


def test_embeddings():
    w = r(6, 3)
    idx = np.array([[0, 2, 5], [5, 1, 1]])
    compare(lambda L, w: L.embedding(w, L.tensor(idx)), w)
    compare(lambda L, w: L.embedding(w, L.tensor(idx), 5), w)
    compare(lambda L, w: L.embedding(w, L.tensor(idx), -1), w)
    flat = np.array([0, 1, 2, 5, 3, 4, 4])
    offs = np.array([0, 2, 2, 5])
    for mode in (0, 1, 2):
        compare(lambda L, w: L.embedding_bag(w, L.tensor(flat), L.tensor(offs), False, mode),
                w, grad=False)
        compare(lambda L, w: L.embedding_bag(w, L.tensor(flat), L.tensor(offs), False, mode)[0],
                w)
    compare(lambda L, w, p: L.embedding_bag(w, L.tensor(flat), L.tensor(offs), False, 0, False,
                                            p)[0], w, r(7))
    compare(lambda L, w: L.embedding_bag(w, L.tensor(flat), L.tensor([0, 3, 7]), False, 1,
                                         False, None, True)[:3], w, grad=False)


def test_activations():
    x = r(4, 5)
    compare(lambda L, a, b, w, bb: L.bilinear(a, b, w, bb), r(3, 4), r(3, 2), r(5, 4, 2), r(5))
    compare(lambda L, x: L.celu(x), x)
    compare(lambda L, x: L.celu(x, 0.7), x, tol=1e-7)  # torch: alpha rounds in backward
    compare(lambda L, x: L.selu(x), x)
    compare(lambda L, x: L.threshold(x, 0.1, -2.0), x)
    compare(lambda L, x: L.hardshrink(x), x)
    compare(lambda L, x: L.hardshrink(x, 1.0), x)
    compare(lambda L, x, w: L.prelu(x, w), r(2, 5, 3), np.abs(r(5)))
    compare(lambda L, x: L.rrelu(x), x)
    compare(lambda L, x: L.rrelu(x, 0.1, 0.3, False), x)
    tx, ex = torch.tensor(x), ember.tensor(x)
    torch.threshold_(tx, 0.0, 5.0)
    assert ember.threshold_(ex, 0.0, 5.0) is ex
    np.testing.assert_allclose(to_numpy(ex), tx.numpy())
    with pytest.raises(TypeError):
        ember.threshold(ember.tensor(x), 0.1)
    y = ember.tensor(x)
    assert ember.rrelu_(y) is y
    np.testing.assert_allclose(to_numpy(y), torch.rrelu(torch.tensor(x)).numpy())
    z = to_numpy(ember.rrelu(ember.tensor(-np.ones(1000)), 0.1, 0.3, True))
    assert ((z >= -0.3) & (z <= -0.1)).all() and z.std() > 0.01


def test_shape_and_distance():
    compare(lambda L, x: L.pixel_shuffle(x, 2), r(2, 8, 3, 3))
    compare(lambda L, x: L.pixel_unshuffle(x, 2), r(2, 2, 4, 6))
    compare(lambda L, x: L.channel_shuffle(x, 3), r(2, 6, 2, 2))
    compare(lambda L, x: L.pdist(x), r(5, 3))
    compare(lambda L, x: L.pdist(x, 1.0), r(5, 3))
    compare(lambda L, a, b: L.pairwise_distance(a, b), r(4, 3), r(4, 3))
    compare(lambda L, a, b: L.pairwise_distance(a, b, 3.0, 1e-6, True), r(4, 3), r(4, 3))
    compare(lambda L, a, b: L.cosine_similarity(a, b), r(4, 3), r(4, 3))
    compare(lambda L, a, b: L.cosine_similarity(a, b, 0), r(4, 3), r(4, 3))


@pytest.mark.parametrize("red", [None, 0, 1, 2])
def test_losses(red):
    kw = {} if red is None else {"reduction": red}
    a, b, c = r(4, 5), r(4, 5), r(4, 5)
    s = np.sign(r(4, 5))
    compare(lambda L, a, b: L.cosine_embedding_loss(a, b, L.tensor(s[:, 0]), 0.1, **kw), a, b)
    compare(lambda L, a, b: L.margin_ranking_loss(a, b, L.tensor(s), 0.2, **kw), a, b)
    compare(lambda L, a, b, c: L.triplet_margin_loss(a, b, c, 1.0, 2.0, 1e-6, True, **kw),
            a, b, c)
    compare(lambda L, a: L.hinge_embedding_loss(a, L.tensor(s), 0.5, **kw), a)
    t = np.abs(r(4, 5))
    compare(lambda L, a: L.kl_div(a, L.tensor(t), **kw), a)
    compare(lambda L, a: L.kl_div(a, L.tensor(np.log(t)), **kw, log_target=True), a)
    p = RNG.random((4, 5))
    w, pw = r(4, 5), np.abs(r(5))
    compare(lambda L, a: L.binary_cross_entropy_with_logits(a, L.tensor(p), L.tensor(w),
                                                            L.tensor(pw), **kw), a)
    compare(lambda L, a: L.binary_cross_entropy_with_logits(a, L.tensor(p), **kw), a)
    cnt = np.floor(np.abs(r(4, 5)) * 3)
    rr = 1 if red is None else red
    compare(lambda L, a: L.poisson_nll_loss(a, L.tensor(cnt), True, True, 1e-8, rr), a)
    compare(lambda L, a: L.poisson_nll_loss(L.exp(a), L.tensor(cnt), False, False, 1e-8, rr), a)
    lp = np.log(RNG.dirichlet(np.ones(5), size=(8, 2)))
    tg = np.array([[1, 2, 2], [3, 4, 0]])
    compare(lambda L, x: L.ctc_loss(x, L.tensor(tg), [8, 7], [3, 2], 0, **kw), lp, tol=1e-7)
    compare(lambda L, x: L.ctc_loss(x, L.tensor(tg), L.tensor([8, 7]), L.tensor([3, 2]), 0,
                                    **kw), lp, tol=1e-7)


def test_loss_reduction_must_be_int():
    a = ember.randn(3, 4)
    for fn in (lambda: ember.kl_div(a, a, "mean"),
               lambda: ember.margin_ranking_loss(a, a, a, 0.0, "sum")):
        with pytest.raises(TypeError):
            fn()
    with pytest.raises(TypeError):
        torch.kl_div(torch.randn(3), torch.randn(3), "mean")


def test_constant_pad_nd():
    x = r(2, 3, 4)
    compare(lambda L, x: L.constant_pad_nd(x, [1, 2]), x)
    compare(lambda L, x: L.constant_pad_nd(x, (1, 0, 2, 1), 3.5), x)
    compare(lambda L, x: L.constant_pad_nd(x, [-1, 2, 0, 1]), x)


@pytest.mark.parametrize("interp", [0, 1])  # bicubic: F.grid_sample lacks it
@pytest.mark.parametrize("pad", [0, 1, 2])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sampler(interp, pad, align):
    x = r(2, 3, 5, 6)
    g = RNG.uniform(-1.2, 1.2, (2, 4, 3, 2))
    compare(lambda L, x, g: L.grid_sampler(x, g, interp, pad, align), x, g,
            grad=interp == 0, tol=1e-7)


@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_gru(bidir, bias, batch_first):
    L, D, H, I, B, T = 2, 2 if bidir else 1, 4, 3, 2, 5
    for kind, gates in (("lstm", 4), ("gru", 3)):
        params = []
        for layer in range(L):
            for _ in range(D):
                inp = I if layer == 0 else H * D
                params += [r(gates * H, inp), r(gates * H, H)]
                if bias:
                    params += [r(gates * H), r(gates * H)]
        x = r(B, T, I) if batch_first else r(T, B, I)
        h0, c0 = r(L * D, B, H), r(L * D, B, H)

        def fn(Lib, x, h0, c0, *ps):
            if kind == "lstm":
                return Lib.lstm(x, [h0, c0], list(ps), bias, L, 0.0, False, bidir, batch_first)
            return Lib.gru(x, h0, list(ps), bias, L, 0.0, False, bidir, batch_first)
        compare(fn, x, h0, c0, *params, tol=1e-8)


def test_lstm_proj():
    H, P, I = 4, 2, 3
    ps = [r(4 * H, I), r(4 * H, P), r(4 * H), r(4 * H), r(P, H)]
    compare(lambda Lib, x, h, c, *p: Lib.lstm(x, [h, c], list(p), True, 1, 0.0, False, False,
                                               False), r(5, 2, I), r(1, 2, P), r(1, 2, H), *ps)
