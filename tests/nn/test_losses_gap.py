"""The remaining torch.nn losses, EmbeddingBag, AdaptiveLogSoftmaxWithLoss, gumbel_softmax,
grid_sample/affine_grid and pdist, against torch (CPU): values, gradients, reductions, errors."""
from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

sys.path.insert(0, os.path.dirname(__file__))

import ember  # noqa: E402
import ember.nn as enn  # noqa: E402
import ember.nn.functional as EF  # noqa: E402
from oracle import assert_close, dev_tensor, device_default, on_device, to_numpy  # noqa: E402

RED = ["none", "mean", "sum"]


@pytest.fixture(autouse=True)
def _on_device():
    """Tensors and modules the tests make directly also land on the device under test."""
    with device_default():
        yield


def _both(t_fn, e_fn, arrays, rtol=1e-9, atol=1e-10, seed=1, no_grad=()):
    """Run ``t_fn``/``e_fn`` on the same inputs (float arrays get gradients, as float64, unless
    their position is in ``no_grad``), then compare outputs and the gradients of a random
    projection of the output."""
    tin, ein = [], []
    for k, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            rg = k not in no_grad
            tin.append(torch.tensor(a, dtype=torch.float64, requires_grad=rg))
            ein.append(dev_tensor(a.astype(np.float64), requires_grad=rg))
        elif isinstance(a, np.ndarray):
            tin.append(torch.tensor(a))
            ein.append(dev_tensor(a))
        else:
            tin.append(a)
            ein.append(a)
    tout, eout = t_fn(*tin), e_fn(*ein)
    assert tuple(eout.shape) == tuple(tout.shape)
    assert_close(to_numpy(eout), tout.detach().numpy(), rtol, atol, "output")
    if not tout.requires_grad:
        return tout, eout
    w = np.random.default_rng(seed).standard_normal(tuple(tout.shape))
    (tout * torch.tensor(w)).sum().backward()
    (eout * dev_tensor(w)).sum().backward()
    for i, (t, e) in enumerate(zip(tin, ein)):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            tg = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
            eg = to_numpy(e.grad) if e.grad is not None else np.zeros(t.shape)
            assert_close(eg, tg, rtol * 10, atol * 10, f"grad of input {i}")
    return tout, eout


def _rng(seed=0):
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- regressions
@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1)])
def test_gaussian_nll(reduction, full, var_shape):
    r = _rng()
    x, y = r.standard_normal((4, 3)), r.standard_normal((4, 3))
    v = r.uniform(0.1, 2.0, var_shape)
    v.flat[0] = 1e-9  # below eps: clamped, but the gradient still flows (torch's no_grad clamp)
    _both(lambda a, b, c: TF.gaussian_nll_loss(a, b, c, full=full, reduction=reduction),
          lambda a, b, c: EF.gaussian_nll_loss(a, b, c, full=full, reduction=reduction),
          [x, y, v], rtol=1e-8)


def test_gaussian_nll_float_var_and_errors():
    r = _rng()
    x, y = r.standard_normal((3, 2)), r.standard_normal((3, 2))
    _both(lambda a, b: TF.gaussian_nll_loss(a, b, 0.7), lambda a, b: EF.gaussian_nll_loss(
        a, b, 0.7), [x, y])
    ex, ey = ember.tensor(x), ember.tensor(y)
    with pytest.raises(ValueError):
        EF.gaussian_nll_loss(ex, ey, -1.0)
    with pytest.raises(ValueError):
        EF.gaussian_nll_loss(ex, ey, ember.full((3, 2), -1.0))
    with pytest.raises(ValueError):
        EF.gaussian_nll_loss(ex, ey, ember.ones(2, 2))
    with pytest.raises(ValueError):
        EF.gaussian_nll_loss(ex, ey, ember.ones(3, 2), reduction="bad")
    m = enn.GaussianNLLLoss(full=True, reduction="sum")
    t = torch.nn.GaussianNLLLoss(full=True, reduction="sum")
    v = np.abs(x) + 0.5
    assert_close(to_numpy(m(ex, ey, ember.tensor(v))),
                 t(torch.tensor(x), torch.tensor(y), torch.tensor(v)).numpy(), 1e-10, 1e-12,
                 "module")


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll(reduction, log_input, full):
    r = _rng(2)
    x = r.standard_normal((5, 3)) if log_input else r.uniform(0.1, 3.0, (5, 3))
    y = r.integers(0, 6, (5, 3)).astype(np.float64)
    _both(lambda a, b: TF.poisson_nll_loss(a, b, log_input, full, reduction=reduction),
          lambda a, b: EF.poisson_nll_loss(a, b, log_input, full, reduction=reduction),
          [x, y], no_grad=(1,) if full else ())  # torch's target grad is NaN at 0 with full
    m = enn.PoissonNLLLoss(log_input=log_input, full=full, reduction=reduction)
    t = torch.nn.PoissonNLLLoss(log_input=log_input, full=full, reduction=reduction)
    assert_close(to_numpy(m(ember.tensor(x), ember.tensor(y))),
                 t(torch.tensor(x), torch.tensor(y)).numpy(), 1e-10, 1e-12, "module")


def test_poisson_legacy_and_bad_reduction():
    x, y = ember.randn(3), ember.rand(3)
    with pytest.raises(ValueError):
        EF.poisson_nll_loss(x, y, reduction="avg")
    tx, ty = torch.tensor(to_numpy(x)), torch.tensor(to_numpy(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = TF.poisson_nll_loss(tx, ty, size_average=False).numpy()
    assert_close(to_numpy(EF.poisson_nll_loss(x, y, size_average=False)), want, 1e-5, 1e-6,
                 "legacy")


# -------------------------------------------------------------------------- margin losses
@pytest.mark.parametrize("reduction", RED)
def test_hinge_embedding(reduction):
    r = _rng(3)
    x = r.standard_normal((4, 5)) * 2
    y = r.choice([-1.0, 1.0], (4, 5))
    _both(lambda a, b: TF.hinge_embedding_loss(a, b, 0.8, reduction=reduction),
          lambda a, b: EF.hinge_embedding_loss(a, b, 0.8, reduction=reduction), [x, y])
    m = enn.HingeEmbeddingLoss(margin=0.8, reduction=reduction)
    t = torch.nn.HingeEmbeddingLoss(margin=0.8, reduction=reduction)
    assert_close(to_numpy(m(ember.tensor(x), ember.tensor(y))),
                 t(torch.tensor(x), torch.tensor(y)).numpy(), 1e-10, 1e-12, "module")


@pytest.mark.parametrize("reduction", RED)
def test_soft_margin(reduction):
    r = _rng(4)
    x = r.standard_normal((3, 4)) * 30  # large |x|: the stable softplus matters
    y = r.choice([-1.0, 1.0], (3, 4))
    _both(lambda a, b: TF.soft_margin_loss(a, b, reduction=reduction),
          lambda a, b: EF.soft_margin_loss(a, b, reduction=reduction), [x, y], no_grad=(1,))
    m, t = enn.SoftMarginLoss(reduction=reduction), torch.nn.SoftMarginLoss(reduction=reduction)
    assert_close(to_numpy(m(ember.tensor(x), ember.tensor(y))),
                 t(torch.tensor(x), torch.tensor(y)).numpy(), 1e-10, 1e-12, "module")


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin(reduction, p, weighted):
    r = _rng(5)
    x = r.standard_normal((6, 4))
    y = r.integers(0, 4, (6,))
    w = r.uniform(0.5, 2.0, (4,))
    tw = torch.tensor(w) if weighted else None
    ew = dev_tensor(w) if weighted else None
    _both(lambda a, b: TF.multi_margin_loss(a, b, p, 0.7, tw, reduction=reduction),
          lambda a, b: EF.multi_margin_loss(a, b, p, 0.7, ew, reduction=reduction), [x, y])
    # one unbatched sample: (C,) input, 0-d target
    _both(lambda a, b: TF.multi_margin_loss(a, b, p, reduction=reduction),
          lambda a, b: EF.multi_margin_loss(a, b, p, reduction=reduction),
          [x[0], np.array(y[0])])
    m = enn.MultiMarginLoss(p=p, margin=0.7, weight=ember.tensor(w) if weighted else None,
                            reduction=reduction)
    t = torch.nn.MultiMarginLoss(p=p, margin=0.7, weight=torch.tensor(w) if weighted else None,
                                 reduction=reduction)
    assert_close(to_numpy(m(ember.tensor(x), ember.tensor(y))),
                 t(torch.tensor(x), torch.tensor(y)).numpy(), 1e-10, 1e-12, "module")


def test_multi_margin_errors():
    x, y = ember.randn(3, 4), ember.tensor([0, 1, 2])
    with pytest.raises(ValueError):
        EF.multi_margin_loss(x, y, p=3)
    with pytest.raises(ValueError):
        EF.multi_margin_loss(x, y, weight=ember.ones(2, 2))
    with pytest.raises(ValueError):
        enn.MultiMarginLoss(p=3)
    with pytest.raises(RuntimeError):
        EF.multi_margin_loss(x, ember.tensor([0, 1]))
    with pytest.raises(RuntimeError):
        EF.multi_margin_loss(x, ember.tensor([0, 1, 4]))
    with pytest.raises(RuntimeError):
        EF.multi_margin_loss(ember.randn(2, 3, 4), y)


@pytest.mark.parametrize("reduction", RED)
def test_multilabel_margin(reduction):
    x = _rng(6).standard_normal((4, 5))
    y = np.array([[3, 0, -1, 1, 4], [1, 2, 3, 4, 0], [-1, 1, 2, 0, 0], [2, 2, -1, 0, 0]])
    _both(lambda a, b: TF.multilabel_margin_loss(a, b, reduction=reduction),
          lambda a, b: EF.multilabel_margin_loss(a, b, reduction=reduction), [x, y])
    _both(lambda a, b: TF.multilabel_margin_loss(a, b, reduction=reduction),
          lambda a, b: EF.multilabel_margin_loss(a, b, reduction=reduction), [x[0], y[0]])
    m = enn.MultiLabelMarginLoss(reduction=reduction)
    t = torch.nn.MultiLabelMarginLoss(reduction=reduction)
    assert_close(to_numpy(m(ember.tensor(x), ember.tensor(y))),
                 t(torch.tensor(x), torch.tensor(y)).numpy(), 1e-10, 1e-12, "module")
    with pytest.raises(RuntimeError):
        EF.multilabel_margin_loss(ember.tensor(x), ember.tensor(y[:, :3]))


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin(reduction, weighted):
    r = _rng(7)
    x = r.standard_normal((4, 3)) * 5
    y = r.integers(0, 2, (4, 3)).astype(np.float64)
    w = r.uniform(0.5, 2, (3,))
    tw = torch.tensor(w) if weighted else None
    ew = dev_tensor(w) if weighted else None
    _both(lambda a, b: TF.multilabel_soft_margin_loss(a, b, tw, reduction=reduction),
          lambda a, b: EF.multilabel_soft_margin_loss(a, b, ew, reduction=reduction), [x, y])
    m = enn.MultiLabelSoftMarginLoss(weight=ember.tensor(w) if weighted else None,
                                     reduction=reduction)
    t = torch.nn.MultiLabelSoftMarginLoss(weight=tw, reduction=reduction)
    assert_close(to_numpy(m(ember.tensor(x), ember.tensor(y))),
                 t(torch.tensor(x), torch.tensor(y)).numpy(), 1e-10, 1e-12, "module")


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("custom", [False, True])
def test_triplet_with_distance(reduction, swap, custom):
    r = _rng(8)
    a, p, n = (r.standard_normal((5, 3)) for _ in range(3))

    def tdist(u, v):
        return 1.0 - TF.cosine_similarity(u, v)

    def edist(u, v):
        return 1.0 - EF.cosine_similarity(u, v)

    _both(lambda *t: TF.triplet_margin_with_distance_loss(
              *t, distance_function=tdist if custom else None, margin=0.5, swap=swap,
              reduction=reduction),
          lambda *e: EF.triplet_margin_with_distance_loss(
              *e, distance_function=edist if custom else None, margin=0.5, swap=swap,
              reduction=reduction), [a, p, n])


def test_triplet_with_distance_errors():
    a = ember.randn(2, 3)
    with pytest.raises(ValueError):
        EF.triplet_margin_with_distance_loss(a, a, a, margin=0.0)
    with pytest.raises(ValueError):
        EF.triplet_margin_with_distance_loss(a, a, a, reduction="x")
    with pytest.raises(RuntimeError):
        EF.triplet_margin_with_distance_loss(a, a, ember.randn(3))
    with pytest.raises(ValueError):
        enn.TripletMarginWithDistanceLoss(margin=-1.0)
    m = enn.TripletMarginWithDistanceLoss(distance_function=EF.pairwise_distance)
    assert m(a, a, a).shape == ()


def test_nll_loss2d_alias():
    x = _rng(9).standard_normal((2, 3, 4, 4))
    y = _rng(9).integers(0, 3, (2, 4, 4))
    assert issubclass(enn.NLLLoss2d, enn.NLLLoss)
    with pytest.warns(FutureWarning):
        e = enn.NLLLoss2d(ignore_index=1)
    with pytest.warns(FutureWarning):
        t = torch.nn.NLLLoss2d(ignore_index=1)
    assert_close(to_numpy(e(ember.tensor(x), ember.tensor(y))),
                 t(torch.tensor(x), torch.tensor(y)).numpy(), 1e-10, 1e-12, "NLLLoss2d")


# ------------------------------------------------------------------------------ distances
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
def test_pdist(p):
    x = _rng(10).standard_normal((5, 3))
    _both(lambda a: TF.pdist(a, p), lambda a: EF.pdist(a, p), [x])


def test_pdist_edges():
    assert tuple(EF.pdist(ember.randn(1, 3)).shape) == (0,)
    with pytest.raises(RuntimeError):
        EF.pdist(ember.randn(3))
    with pytest.raises(RuntimeError):
        EF.pdist(ember.randn(3, 2), p=-1)


def test_pairwise_and_cosine_exist_and_match():
    r = _rng(11)
    a, b = r.standard_normal((4, 3)), r.standard_normal((4, 3))
    _both(lambda u, v: TF.pairwise_distance(u, v, 3.0), lambda u, v: EF.pairwise_distance(
        u, v, 3.0), [a, b])
    _both(lambda u, v: TF.cosine_similarity(u, v), lambda u, v: EF.cosine_similarity(u, v),
          [a, b])


# ------------------------------------------------------------------------------ embedding
BAG_CASES = [
    dict(mode="sum"), dict(mode="mean"), dict(mode="max"),
    dict(mode="sum", psw=True), dict(mode="mean", padding_idx=2),
    dict(mode="max", padding_idx=2), dict(mode="sum", padding_idx=-1, psw=True),
    dict(mode="sum", include_last_offset=True), dict(mode="mean", include_last_offset=True),
    dict(mode="max", include_last_offset=True), dict(mode="max", padding_idx=0),
]


@pytest.mark.parametrize("case", BAG_CASES, ids=str)
def test_embedding_bag_offsets(case):
    case = dict(case)
    psw = case.pop("psw", False)
    r = _rng(12)
    w = r.standard_normal((8, 3))
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 7, 2, 2, 0])
    off = np.array([0, 3, 3, 5, 9])  # bag 1 is empty; the last bag holds only padding rows
    args = [w, idx, off] + ([r.standard_normal(idx.shape)] if psw else [])

    def tf(w_, i_, o_, *s):
        return TF.embedding_bag(i_, w_, o_, per_sample_weights=s[0] if s else None, **case)

    def ef(w_, i_, o_, *s):
        return EF.embedding_bag(i_, w_, o_, per_sample_weights=s[0] if s else None, **case)

    _both(tf, ef, args)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_2d_and_module(mode):
    torch.manual_seed(0)
    t = torch.nn.EmbeddingBag(10, 4, mode=mode, padding_idx=0).double()
    e = enn.EmbeddingBag(10, 4, mode=mode, padding_idx=0).double()
    assert to_numpy(e.weight)[0].tolist() == [0.0] * 4  # the padding row starts at zero
    e.load_state_dict({"weight": ember.tensor(t.weight.detach().numpy())})
    on_device(e)
    idx = np.array([[1, 0, 3], [4, 4, 9], [0, 0, 0]])
    tout, eout = t(torch.tensor(idx)), e(dev_tensor(idx))
    assert_close(to_numpy(eout), tout.detach().numpy(), 1e-10, 1e-12, "output")
    g = _rng(13).standard_normal(tuple(tout.shape))
    (tout * torch.tensor(g)).sum().backward()
    (eout * dev_tensor(g)).sum().backward()
    assert_close(to_numpy(e.weight.grad), t.weight.grad.numpy(), 1e-10, 1e-12, "weight grad")


def test_embedding_bag_errors():
    w = ember.randn(5, 2)
    with pytest.raises(ValueError):
        EF.embedding_bag(ember.tensor([[1, 2]]), w, ember.tensor([0]))
    with pytest.raises(ValueError):
        EF.embedding_bag(ember.tensor([1, 2]), w)
    with pytest.raises(ValueError):
        EF.embedding_bag(ember.tensor([1, 2]), w, ember.tensor([0]), mode="min")
    with pytest.raises(ValueError):
        EF.embedding_bag(ember.tensor([1, 2]), ember.randn(5), ember.tensor([0]))
    with pytest.raises(ValueError):
        EF.embedding_bag(ember.tensor([1, 2]), w, ember.tensor([0]),
                         per_sample_weights=ember.ones(3), mode="sum")
    with pytest.raises(NotImplementedError):
        EF.embedding_bag(ember.tensor([1, 2]), w, ember.tensor([0]),
                         per_sample_weights=ember.ones(2), mode="mean")
    with pytest.raises(ValueError):
        EF.embedding_bag(ember.tensor([[[1]]]), w)


def test_embedding_bag_from_pretrained():
    w = _rng(14).standard_normal((4, 2))
    e = enn.EmbeddingBag.from_pretrained(ember.tensor(w), mode="sum")
    assert not e.weight.requires_grad
    t = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(w), mode="sum")
    idx, off = [0, 1, 3, 3], [0, 2]
    assert_close(to_numpy(e(ember.tensor(idx), ember.tensor(off))),
                 t(torch.tensor(idx), torch.tensor(off)).numpy(), 1e-12, 1e-12, "pretrained")


# -------------------------------------------------------------------- adaptive softmax
def _adaptive_pair(**kw):
    torch.manual_seed(0)
    t = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 12, [3, 7], **kw).double()
    e = enn.AdaptiveLogSoftmaxWithLoss(8, 12, [3, 7], **kw).double()
    assert sorted(dict(e.named_parameters())) == sorted(dict(t.named_parameters()))
    e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return t, on_device(e)


@pytest.mark.parametrize("head_bias", [False, True])
def test_adaptive_log_softmax(head_bias):
    t, e = _adaptive_pair(div_value=2.0, head_bias=head_bias)
    x = _rng(15).standard_normal((6, 8))
    y = np.array([0, 4, 11, 2, 8, 5])
    tx, ex = torch.tensor(x, requires_grad=True), dev_tensor(x, requires_grad=True)
    to, eo = t(tx, torch.tensor(y)), e(ex, dev_tensor(y))
    assert_close(to_numpy(eo.output), to.output.detach().numpy(), 1e-10, 1e-12, "output")
    assert_close(to_numpy(eo.loss), to.loss.detach().numpy(), 1e-10, 1e-12, "loss")
    to.loss.backward()
    eo.loss.backward()
    assert_close(to_numpy(ex.grad), tx.grad.numpy(), 1e-9, 1e-11, "input grad")
    tp = dict(t.named_parameters())
    for name, p in e.named_parameters():
        assert_close(to_numpy(p.grad), tp[name].grad.numpy(), 1e-9, 1e-11, name)
    with torch.no_grad():
        assert_close(to_numpy(e.log_prob(ex)), t.log_prob(tx).numpy(), 1e-10, 1e-12, "log_prob")
        assert to_numpy(e.predict(ex)).tolist() == t.predict(tx).tolist()
    # unbatched
    eo1 = e(ex[1], dev_tensor(np.array(4)))
    to1 = t(tx[1], torch.tensor(4))
    assert tuple(eo1.output.shape) == tuple(to1.output.shape) == ()
    assert_close(to_numpy(eo1.loss), to1.loss.detach().numpy(), 1e-10, 1e-12, "unbatched")


def test_adaptive_log_softmax_errors():
    with pytest.raises(ValueError):
        enn.AdaptiveLogSoftmaxWithLoss(8, 12, [])
    with pytest.raises(ValueError):
        enn.AdaptiveLogSoftmaxWithLoss(8, 12, [5, 3])
    with pytest.raises(ValueError):
        enn.AdaptiveLogSoftmaxWithLoss(8, 12, [3, 12])
    e = enn.AdaptiveLogSoftmaxWithLoss(8, 12, [3, 7])
    with pytest.raises(RuntimeError):
        e(ember.randn(2, 8), ember.tensor([0, 12]))
    with pytest.raises(RuntimeError):
        e(ember.randn(3, 8), ember.tensor([0, 1]))
    with pytest.raises(RuntimeError):
        e(ember.randn(2, 8), ember.tensor([[0, 1]]))


# ---------------------------------------------------------------------------- sampling
def test_gumbel_softmax_soft_and_hard():
    ember.manual_seed(0)
    logits = dev_tensor(_rng(16).standard_normal((64, 5)), requires_grad=True)
    soft = EF.gumbel_softmax(logits, tau=0.5)
    assert_close(to_numpy(soft.sum(-1)), np.ones(64), 1e-12, 1e-12, "rows sum to 1")
    ember.manual_seed(0)
    hard = EF.gumbel_softmax(logits, tau=0.5, hard=True)
    h = to_numpy(hard)
    assert set(np.unique(h)) <= {0.0, 1.0} and (h.sum(-1) == 1).all()
    # the same noise (same seed) picks the argmax of the soft sample
    assert (h.argmax(-1) == to_numpy(soft).argmax(-1)).all()
    # straight-through: hard's gradient is the soft sample's gradient
    g = dev_tensor(_rng(17).standard_normal((64, 5)))
    (hard * g).sum().backward()
    gh = to_numpy(logits.grad)
    logits.grad = None
    (soft * g).sum().backward()
    assert_close(gh, to_numpy(logits.grad), 1e-10, 1e-12, "straight-through grad")
    with pytest.warns(UserWarning):
        EF.gumbel_softmax(logits, eps=1e-3)


def test_gumbel_softmax_distribution():
    """The hard samples' class frequencies approach softmax(logits) (Gumbel-max trick)."""
    ember.manual_seed(1)
    probs = np.array([0.1, 0.2, 0.7])
    logits = dev_tensor(np.tile(np.log(probs), (20000, 1)))
    freq = to_numpy(EF.gumbel_softmax(logits, hard=True, dim=1)).mean(0)
    assert np.abs(freq - probs).max() < 0.02, freq


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [[2, 3, 4, 5], [1, 1, 3, 1], [2, 1, 2, 3, 4]])
def test_affine_grid(align_corners, size):
    nd = len(size) - 2
    theta = _rng(18).standard_normal((size[0], nd, nd + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _both(lambda t: TF.affine_grid(t, size, align_corners),
              lambda t: EF.affine_grid(t, size, align_corners), [theta])


def test_affine_grid_errors():
    with pytest.raises(ValueError):
        EF.affine_grid(ember.zeros(1, 2, 3, dtype=ember.int64), [1, 1, 2, 2], False)
    with pytest.raises(ValueError):
        EF.affine_grid(ember.zeros(1, 3, 3), [1, 1, 2, 2], False)
    with pytest.raises(NotImplementedError):
        EF.affine_grid(ember.zeros(1, 2, 3), [1, 2, 2], False)
    with pytest.raises(ValueError):
        EF.affine_grid(ember.zeros(1, 2, 3), [1, 1, 0, 2], False)
    with pytest.warns(UserWarning):
        EF.affine_grid(ember.zeros(1, 2, 3), [1, 1, 2, 2])


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample(mode, padding_mode, align_corners):
    r = _rng(19)
    x = r.standard_normal((2, 3, 4, 5))
    # grid points reach well outside [-1, 1] so that every padding rule (and several
    # reflections) is exercised
    grid = r.uniform(-2.7, 2.7, (2, 6, 7, 2))
    _both(lambda a, g: TF.grid_sample(a, g, mode, padding_mode, align_corners),
          lambda a, g: EF.grid_sample(a, g, mode, padding_mode, align_corners), [x, grid])


def test_grid_sample_one_pixel_and_affine_pipeline():
    r = _rng(20)
    # size-1 dims: reflection over an empty span
    _both(lambda a, g: TF.grid_sample(a, g, "bilinear", "reflection", True),
          lambda a, g: EF.grid_sample(a, g, "bilinear", "reflection", True),
          [r.standard_normal((1, 2, 1, 3)), r.uniform(-2, 2, (1, 2, 2, 2))])
    theta = np.array([[[0.9, -0.2, 0.1], [0.3, 1.1, -0.2]]])
    x = r.standard_normal((1, 2, 5, 6))

    def tf(a, th):
        return TF.grid_sample(a, TF.affine_grid(th, [1, 2, 4, 4], False), align_corners=False)

    def ef(a, th):
        return EF.grid_sample(a, EF.affine_grid(th, [1, 2, 4, 4], False), align_corners=False)

    _both(tf, ef, [x, theta])


def test_grid_sample_errors():
    x, g = ember.randn(1, 1, 3, 3), ember.zeros(1, 2, 2, 2)
    with pytest.raises(ValueError):
        EF.grid_sample(x, g, mode="area", align_corners=False)
    with pytest.raises(ValueError):
        EF.grid_sample(x, g, padding_mode="circular", align_corners=False)
    with pytest.raises(RuntimeError):
        EF.grid_sample(x, ember.zeros(1, 2, 2, 3), align_corners=False)
    with pytest.raises(RuntimeError):
        EF.grid_sample(x, ember.zeros(2, 2, 2, 2), align_corners=False)
    with pytest.raises(RuntimeError):
        EF.grid_sample(x, ember.zeros(1, 2, 2, 2, dtype=ember.float64), align_corners=False)
    with pytest.warns(UserWarning):
        EF.grid_sample(x, g)
