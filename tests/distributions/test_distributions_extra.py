"""The extra distributions against torch.distributions: Exponential, Laplace, Cauchy and
Dirichlet (densities, moments, entropies, KL and their gradients), cdf/icdf, ``expand`` for
every family, and Dirichlet's reparameterised gradients (by their expectation)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as TD

import ember
import ember.distributions as ED
from oracle import DEVICE, dev_tensor, device_default, to_numpy

RNG = np.random.default_rng(11)
LOC = RNG.standard_normal(4)
POS = RNG.uniform(0.5, 3.0, 4)
POS2 = RNG.uniform(0.5, 3.0, 4)
CONC = RNG.uniform(0.4, 4.0, (2, 3))
CONC2 = RNG.uniform(0.4, 4.0, (2, 3))
SIMPLEX = RNG.dirichlet([1.0, 2.0, 1.5], (2,))


def T(lib, a, grad: bool = False):
    """A float64 tensor of ``a``; ember's on the device under test."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    if lib is torch:
        return torch.tensor(a, dtype=torch.float64, requires_grad=grad)
    return dev_tensor(a, dtype=ember.float64, requires_grad=grad)


def _host(a) -> np.ndarray:
    return np.asarray(a if isinstance(a, np.ndarray) else to_numpy(a), np.float64)


def _close(a, b, tol: float = 1e-12) -> None:
    np.testing.assert_allclose(_host(a), _host(b), rtol=tol, atol=tol)


def _grads(ts):
    return [None if t.grad is None else to_numpy(t.grad) for t in ts]


# name -> (build(lib, D, *param_tensors), params, value for log_prob)
FAMILIES = {
    "Exponential": (lambda D, r: D.Exponential(r), (POS,), POS2),
    "Laplace": (lambda D, m, s: D.Laplace(m, s), (LOC, POS), RNG.standard_normal(4)),
    "Cauchy": (lambda D, m, s: D.Cauchy(m, s), (LOC, POS), RNG.standard_normal((3, 4))),
    "Dirichlet": (lambda D, c: D.Dirichlet(c), (CONC,), SIMPLEX),
    "Dirichlet-1d": (lambda D, c: D.Dirichlet(c), (CONC[0],), RNG.dirichlet(CONC[0], (5,))),
}


def _both(name, grad=False):
    build, params, value = FAMILIES[name]
    ep = [T(ember, p, grad) for p in params]
    tp = [T(torch, p, grad) for p in params]
    return build(ED, *ep), build(TD, *tp), ep, tp, value


@pytest.mark.parametrize("name", list(FAMILIES))
def test_density_moments_entropy(name):
    e, t, _, _, v = _both(name)
    assert type(e).__name__ == type(t).__name__
    assert tuple(e.batch_shape) == tuple(t.batch_shape)
    assert tuple(e.event_shape) == tuple(t.event_shape)
    assert e.has_rsample == t.has_rsample
    _close(e.log_prob(T(ember, v)), t.log_prob(T(torch, v)))
    _close(e.entropy(), t.entropy())
    for attr in ("mean", "mode", "variance", "stddev"):
        _close(getattr(e, attr), getattr(t, attr))  # Cauchy: nan and inf in the same places


@pytest.mark.parametrize("name", list(FAMILIES))
def test_log_prob_and_entropy_gradients(name):
    e, t, ep, tp, v = _both(name, grad=True)
    ev, tv = T(ember, v, True), T(torch, v, True)
    rng = np.random.default_rng(1)  # not the module's: xdist may run tests in any order
    w = rng.standard_normal(tuple(t.log_prob(tv).shape))
    we = rng.standard_normal(tuple(t.batch_shape))
    ((T(ember, w) * e.log_prob(ev)).sum() + (T(ember, we) * e.entropy()).sum()).backward()
    ((T(torch, w) * t.log_prob(tv)).sum() + (T(torch, we) * t.entropy()).sum()).backward()
    for a, b in zip(_grads(ep + [ev]), _grads(tp + [tv])):
        assert (a is None) == (b is None)
        if a is not None:
            # Entropy gradients use trigamma, torch's is good to ~1e-9 (see specs_distributions)
            _close(a, b, 1e-8)


# cdf/icdf: name -> (build(D, *params), params, values in the support)
CDF_FAMILIES = {
    "Normal": (lambda D, m, s: D.Normal(m, s), (LOC, POS), RNG.standard_normal(4)),
    "Uniform": (lambda D, lo, hi: D.Uniform(lo, hi), (-POS, POS2), RNG.uniform(-0.4, 0.4, 4)),
    "Exponential": (lambda D, r: D.Exponential(r), (POS,), POS2),
    "Laplace": (lambda D, m, s: D.Laplace(m, s), (LOC, POS), RNG.standard_normal(4)),
    "Cauchy": (lambda D, m, s: D.Cauchy(m, s), (LOC, POS), RNG.standard_normal(4)),
}
PROBS = np.array([1e-9, 0.03, 0.5, 0.97])


@pytest.mark.parametrize("name", list(CDF_FAMILIES))
def test_cdf_icdf_and_gradients(name):
    build, params, x = CDF_FAMILIES[name]
    ep = [T(ember, p, True) for p in params]
    tp = [T(torch, p, True) for p in params]
    e, t = build(ED, *ep), build(TD, *tp)
    ex, tx, eq, tq = T(ember, x, True), T(torch, x, True), T(ember, PROBS, True), \
        T(torch, PROBS, True)
    _close(e.cdf(ex), t.cdf(tx))
    _close(e.icdf(eq), t.icdf(tq))
    w1, w2 = np.random.default_rng(2).standard_normal((2, 4))
    ((T(ember, w1) * e.cdf(ex)).sum() + (T(ember, w2) * e.icdf(eq)).sum()).backward()
    ((T(torch, w1) * t.cdf(tx)).sum() + (T(torch, w2) * t.icdf(tq)).sum()).backward()
    for a, b in zip(_grads(ep + [ex, eq]), _grads(tp + [tx, tq])):
        _close(a, b, 1e-9)


def test_normal_icdf_inverts_cdf_float32():
    d = ED.Normal(dev_tensor([0.5, -1.0]), dev_tensor([2.0, 0.3]))
    p = dev_tensor([0.1, 0.8])
    assert d.icdf(p).dtype == ember.float32
    ref = TD.Normal(torch.tensor([0.5, -1.0]), torch.tensor([2.0, 0.3])).icdf(
        torch.tensor([0.1, 0.8]))
    np.testing.assert_allclose(to_numpy(d.icdf(p)), ref.numpy(), rtol=1e-6)


KL_PAIRS = {
    "Exponential": ((POS,), (POS2,)),
    "Laplace": ((LOC, POS), (LOC[::-1], POS2)),
    "Cauchy": ((LOC, POS), (LOC[::-1], POS2)),
    "Dirichlet": ((CONC,), (CONC2,)),
}


@pytest.mark.parametrize("name", list(KL_PAIRS))
def test_kl_divergence_and_gradients(name):
    build = FAMILIES[name][0]
    pp, qp = KL_PAIRS[name]
    ep, tp = [T(ember, a, True) for a in pp], [T(torch, a, True) for a in pp]
    eq, tq = [T(ember, a, True) for a in qp], [T(torch, a, True) for a in qp]
    e = ED.kl_divergence(build(ED, *ep), build(ED, *eq))
    t = TD.kl_divergence(build(TD, *tp), build(TD, *tq))
    _close(e, t, 1e-10)
    w = np.random.default_rng(3).standard_normal(tuple(t.shape))
    (T(ember, w) * e).sum().backward()
    (T(torch, w) * t).sum().backward()
    for a, b in zip(_grads(ep + eq), _grads(tp + tq)):
        _close(a, b, 1e-9)


# ------------------------------------------------------------------------------- expand
# name -> (build(lib, D) with default-shaped parameters, new batch_shape)
EXPAND = {
    "Normal": (lambda L, D: D.Normal(T(L, LOC[:3]), T(L, POS[:3])), (2, 3)),
    "Normal-scalar": (lambda L, D: D.Normal(0.5, 2.0), (4,)),
    "Uniform": (lambda L, D: D.Uniform(T(L, -POS[:1]), T(L, POS2[:1])), (3, 2)),
    "Gamma": (lambda L, D: D.Gamma(T(L, POS[:3]), T(L, POS2[:3])), (2, 3)),
    "Beta": (lambda L, D: D.Beta(T(L, POS[:3]), T(L, POS2[:3])), (2, 3)),
    "Beta-scalar": (lambda L, D: D.Beta(0.5, 1.5), (3,)),
    "Exponential": (lambda L, D: D.Exponential(T(L, POS[:1])), (4,)),
    "Laplace": (lambda L, D: D.Laplace(T(L, LOC[:3]), T(L, POS[:3])), (2, 3)),
    "Cauchy": (lambda L, D: D.Cauchy(T(L, LOC[:3]), T(L, POS[:3])), (2, 3)),
    "Dirichlet": (lambda L, D: D.Dirichlet(T(L, CONC[:1])), (4,)),
    "Dirichlet-1d": (lambda L, D: D.Dirichlet(T(L, CONC[0])), (2, 2)),
    "MVN": (lambda L, D: D.MultivariateNormal(
        T(L, LOC[:2]), covariance_matrix=T(L, np.array([[2.0, 0.3], [0.3, 1.0]]))), (3,)),
    "MVN-tril": (lambda L, D: D.MultivariateNormal(
        T(L, LOC[:2]), scale_tril=T(L, np.array([[1.5, 0.0], [0.3, 1.0]]))), (2, 1)),
    "Bernoulli": (lambda L, D: D.Bernoulli(T(L, POS[:3] / 4)), (2, 3)),
    "Bernoulli-logits": (lambda L, D: D.Bernoulli(logits=T(L, LOC[:3])), (2, 3)),
    "Categorical": (lambda L, D: D.Categorical(logits=T(L, CONC)), (4, 2)),
    "Categorical-probs": (lambda L, D: D.Categorical(T(L, CONC)), (4, 2)),
    "OneHotCategorical": (lambda L, D: D.OneHotCategorical(logits=T(L, CONC)), (4, 2)),
    "Independent": (lambda L, D: D.Independent(D.Normal(T(L, LOC[:2]), T(L, POS[:2])), 1),
                    (3,)),
}


def _value_for(t, seed=0):
    """A value in the support of the (expanded) torch distribution: one of its own samples."""
    torch.manual_seed(seed)
    return t.sample().numpy()


@pytest.mark.parametrize("name", list(EXPAND))
def test_expand_like_torch(name):
    build, shape = EXPAND[name]
    t = build(torch, TD).expand(shape)
    with device_default():  # parameters given as numbers become tensors on the device
        e = build(ember, ED).expand(list(shape))  # any sequence, as torch.Size accepts
    assert type(e) is getattr(ED, type(t).__name__)
    assert tuple(e.batch_shape) == tuple(t.batch_shape) == tuple(shape)
    assert tuple(e.event_shape) == tuple(t.event_shape)
    v = _value_for(t)  # keeps torch's dtype: float32 where numbers gave the parameters
    tol = 1e-12 if t.mean.dtype == torch.float64 else 1e-6
    _close(e.log_prob(dev_tensor(v)), t.log_prob(torch.tensor(v)), tol)
    for attr in ("mean", "variance"):
        _close(getattr(e, attr), getattr(t, attr), tol)
    for attr, tv in vars(t).items():
        if isinstance(tv, torch.Tensor) and attr in t.arg_constraints:
            ev = getattr(e, attr)
            assert tuple(ev.shape) == tuple(tv.shape), attr
            _close(ev, tv, tol)
    full = (2,) + tuple(shape) + tuple(t.event_shape)
    assert tuple(e.sample((2,)).shape) == full
    if t.has_rsample:
        assert tuple(e.rsample((2,)).shape) == full
    if not isinstance(t, (TD.Categorical, TD.OneHotCategorical, TD.Bernoulli)):
        _close(e.entropy(), t.entropy(), tol)


@pytest.mark.parametrize("validate", [True, False])
def test_expand_carries_validate_args(validate):
    for name in ("Normal", "Dirichlet", "Categorical", "OneHotCategorical", "Independent",
                 "MVN"):
        build, shape = EXPAND[name]
        e, t = build(ember, ED), build(torch, TD)
        e._validate_args = t._validate_args = validate
        assert e.expand(shape)._validate_args is t.expand(shape)._validate_args is validate
    # Carried, not re-derived: an out-of-support value raises only with validation on.
    for lib, D in ((torch, TD), (ember, ED)):
        bad = -T(lib, [1.0, 1.0])
        d = D.Gamma(T(lib, [1.0]), T(lib, [1.0]), validate_args=validate).expand((2,))
        if validate:
            with pytest.raises(ValueError):
                d.log_prob(bad)
        else:
            assert tuple(d.log_prob(bad).shape) == (2,)


def test_expand_errors_like_torch():
    with pytest.raises(RuntimeError):
        TD.Normal(torch.zeros(3), torch.ones(3)).expand((2, 4))
    with pytest.raises(RuntimeError):
        ED.Normal(dev_tensor([0.0] * 3), dev_tensor([1.0] * 3)).expand((2, 4))

    def sub(D):
        class Shifted(D.Normal):
            def __init__(self, shift):
                super().__init__(shift, 1.0)
        return Shifted(0.5)

    with pytest.raises(NotImplementedError):
        sub(TD).expand((2,))
    with pytest.raises(NotImplementedError):
        sub(ED).expand((2,))


def test_expand_gradients_reach_parameters():
    shape = (3, 2, 3)
    rng = np.random.default_rng(4)
    v = rng.dirichlet([1.0, 2.0, 3.0], shape[:-1])
    ec, tc = T(ember, CONC[0], True), T(torch, CONC[0], True)
    ED.Dirichlet(ec).expand(shape[:-1]).log_prob(T(ember, v)).sum().backward()
    TD.Dirichlet(tc).expand(shape[:-1]).log_prob(T(torch, v)).sum().backward()
    _close(ec.grad, tc.grad, 1e-10)
    em, tm = T(ember, LOC[:3], True), T(torch, LOC[:3], True)
    x = rng.standard_normal((2, 3))
    (ED.Normal(em, 2.0).expand((2, 3)).log_prob(T(ember, x)) * T(ember, x)).sum().backward()
    (TD.Normal(tm, 2.0).expand((2, 3)).log_prob(T(torch, x)) * T(torch, x)).sum().backward()
    _close(em.grad, tm.grad, 1e-10)


def test_beta_of_numbers_has_scalar_batch_shape():
    assert tuple(ED.Beta(0.5, 0.5).batch_shape) == tuple(TD.Beta(0.5, 0.5).batch_shape) == ()
    assert tuple(ED.Beta(0.5, 0.5).sample((3,)).shape) == (3,)


def test_dirichlet_requires_a_vector():
    with pytest.raises(ValueError):
        TD.Dirichlet(torch.tensor(1.0))
    with pytest.raises(ValueError):
        ED.Dirichlet(dev_tensor(1.0))
    with pytest.raises(ValueError):
        ED.Dirichlet(dev_tensor([1.0, -0.5]))
    assert repr(ED.Dirichlet.support) == repr(TD.Dirichlet.support)
    assert repr(ED.Dirichlet.arg_constraints["concentration"]) == \
        repr(TD.Dirichlet.arg_constraints["concentration"])


def test_dirichlet_mode_with_small_concentrations():
    c = np.array([[0.5, 0.9, 0.2], [0.3, 2.0, 1.5], [3.0, 2.0, 0.7]])
    _close(ED.Dirichlet(T(ember, c)).mode, TD.Dirichlet(T(torch, c)).mode)


# ----------------------------------------------------------------------------- sampling
@pytest.mark.parametrize("name", ["Exponential", "Laplace", "Dirichlet"])
def test_sample_statistics(name):
    ember.manual_seed(0)
    e, t, _, _, _ = _both(name)
    n = 20000
    s = e.rsample((n,))
    assert tuple(s.shape) == (n,) + tuple(t.batch_shape) + tuple(t.event_shape)
    assert s.device.type == ember.device(DEVICE).type
    x = to_numpy(s)
    mean, std = t.mean.numpy(), t.stddev.numpy()
    np.testing.assert_allclose(x.mean(0), mean, atol=5 * std.max() / np.sqrt(n))
    np.testing.assert_allclose(x.std(0), std, rtol=0.05)
    assert np.isfinite(to_numpy(e.log_prob(s[:100]))).all()


def test_cauchy_sample_quartiles():
    ember.manual_seed(1)
    e, t, _, _, _ = _both("Cauchy")
    x = to_numpy(e.sample((20000,)))
    q = np.quantile(x, [0.25, 0.5, 0.75], axis=0)
    ref = t.icdf(torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)[:, None]).numpy()
    np.testing.assert_allclose(q, ref, atol=0.06 * POS.max())


def _dirichlet_grad_estimates(lib, D, alpha, w, batches=8, n=1500):
    """Per-batch Monte-Carlo estimates of d/dalpha E[sum_i w_i x_i^2] from rsample."""
    out = []
    for _ in range(batches):
        a = T(lib, alpha, True)
        x = D.Dirichlet(a).rsample((n,))
        ((x * x) * T(lib, w)).sum(-1).mean().backward()
        out.append(to_numpy(a.grad))
    return np.array(out)


def test_dirichlet_rsample_gradient_expectation():
    alpha, w = np.array([0.6, 1.5, 3.0]), np.array([1.0, 2.0, -1.5])
    # Exact: E[x_i^2] = a_i (a_i + 1) / (a0 (a0 + 1)); its gradient by torch's autograd.
    a = torch.tensor(alpha, requires_grad=True)
    a0 = a.sum()
    (torch.tensor(w) * a * (a + 1) / (a0 * (a0 + 1))).sum().backward()
    exact = a.grad.numpy()
    ember.manual_seed(3)
    ge = _dirichlet_grad_estimates(ember, ED, alpha, w)
    torch.manual_seed(3)
    gt = _dirichlet_grad_estimates(torch, TD, alpha, w)
    me, se_e = ge.mean(0), ge.std(0, ddof=1) / np.sqrt(len(ge))
    mt, se_t = gt.mean(0), gt.std(0, ddof=1) / np.sqrt(len(gt))
    assert (np.abs(me - exact) <= 5 * se_e + 1e-4).all(), (me, exact, se_e)
    assert (np.abs(me - mt) <= 5 * np.sqrt(se_e ** 2 + se_t ** 2) + 1e-4).all(), (me, mt)
    # The estimator is informative: its error bar is well below the gradient's size.
    assert (se_e < 0.2 * np.abs(exact)).all(), (se_e, exact)


def test_dirichlet_rsample_sums_to_one_so_gradient_of_the_sum_vanishes():
    ember.manual_seed(5)
    a = T(ember, CONC, True)
    x = ED.Dirichlet(a).rsample((50,))
    _close(x.sum(-1), np.ones((50, 2)), 1e-12)
    x.sum().backward()
    np.testing.assert_allclose(to_numpy(a.grad), 0.0, atol=1e-9)


def test_categorical_sample_stays_on_device_with_right_frequencies():
    ember.manual_seed(0)
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    s = ED.Categorical(probs=dev_tensor(probs)).sample((20000,))
    assert s.device.type == DEVICE and str(s.dtype) == "torch.int64"
    assert tuple(s.shape) == (20000, 2)
    a = to_numpy(s)
    for b in range(2):
        # 4 binomial standard deviations at n = 20000 is below 0.013.
        np.testing.assert_allclose(np.bincount(a[:, b], minlength=3) / len(a), probs[b],
                                   atol=0.013)
