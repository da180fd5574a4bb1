"""ember.distributions against torch.distributions: log_prob, entropy, mean/variance and KL
exactly (same parameters), samples by their statistics, rsample gradients, and errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as TD

import ember
import ember.distributions as ED
import oracle
from oracle import DEVICE, dev_tensor, to_numpy

RNG = np.random.default_rng(0)
LOC = RNG.standard_normal(4)
POS_A = RNG.uniform(0.6, 3.0, 4)
POS_B = RNG.uniform(0.6, 3.0, 4)
UNIT = RNG.uniform(0.05, 0.95, 4)
LOGITS = RNG.standard_normal((3, 5))
_A = RNG.standard_normal((3, 3))
COV = _A @ _A.T + np.eye(3)
_B = RNG.standard_normal((2, 3, 3))
COV2 = _B @ np.swapaxes(_B, -1, -2) + np.eye(3)


def T(lib, a):
    """A tensor of ``a``; ember's on the device under test."""
    mk = torch.tensor if lib is torch else dev_tensor
    return mk(np.ascontiguousarray(a))


# name -> (build(lib, D, params), params, value for log_prob)
FAMILIES = {
    "Normal": (lambda L, D, p: D.Normal(T(L, p[0]), T(L, p[1])), (LOC, POS_A),
               RNG.standard_normal(4)),
    "Uniform": (lambda L, D, p: D.Uniform(T(L, p[0]), T(L, p[1])), (-POS_A, POS_B), UNIT),
    "Gamma": (lambda L, D, p: D.Gamma(T(L, p[0]), T(L, p[1])), (POS_A, POS_B), POS_B),
    "Beta": (lambda L, D, p: D.Beta(T(L, p[0]), T(L, p[1])), (POS_A, POS_B), UNIT),
    "Bernoulli": (lambda L, D, p: D.Bernoulli(T(L, p[0])), (UNIT,), (UNIT > 0.5) * 1.0),
    "Bernoulli-logits": (lambda L, D, p: D.Bernoulli(logits=T(L, p[0])), (LOC,),
                         (UNIT > 0.5) * 1.0),
    "Categorical": (lambda L, D, p: D.Categorical(logits=T(L, p[0])), (LOGITS,),
                    np.array([0, 4, 2])),
    "Categorical-probs": (lambda L, D, p: D.Categorical(T(L, p[0])), (np.exp(LOGITS),),
                          np.array([[1, 3, 2], [0, 0, 4]])),
    "OneHotCategorical": (lambda L, D, p: D.OneHotCategorical(logits=T(L, p[0])), (LOGITS,),
                          np.eye(5)[[0, 4, 2]]),
    "MVN-cov": (lambda L, D, p: D.MultivariateNormal(T(L, p[0]), covariance_matrix=T(L, p[1])),
                (LOC[:3], COV), RNG.standard_normal((2, 3))),
    "MVN-prec-batched": (lambda L, D, p: D.MultivariateNormal(T(L, p[0]),
                                                              precision_matrix=T(L, p[1])),
                         (LOC[:3], COV2), RNG.standard_normal((2, 3))),
    "MVN-tril": (lambda L, D, p: D.MultivariateNormal(
        T(L, p[0]), scale_tril=T(L, np.linalg.cholesky(p[1]))), (LOC[:3], COV2),
        RNG.standard_normal(3)),
    "Independent": (lambda L, D, p: D.Independent(D.Normal(T(L, p[0]), T(L, p[1])), 1),
                    (LOC.reshape(2, 2), POS_A.reshape(2, 2)), RNG.standard_normal((3, 2, 2))),
}


def _pair(name):
    build, params, value = FAMILIES[name]
    return build(ember, ED, params), build(torch, TD, params), value


def _close(a, b, tol=1e-12):
    np.testing.assert_allclose(np.asarray(to_numpy(a), np.float64),
                               np.asarray(to_numpy(b), np.float64), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_log_prob_entropy_moments(name):
    e, t, v = _pair(name)
    assert tuple(e.batch_shape) == tuple(t.batch_shape)
    assert tuple(e.event_shape) == tuple(t.event_shape)
    _close(e.log_prob(T(ember, v)), t.log_prob(T(torch, v)))
    _close(e.entropy(), t.entropy())
    for attr in ("mean", "variance", "stddev"):
        _close(getattr(e, attr), getattr(t, attr))


@pytest.mark.parametrize("name", list(FAMILIES))
def test_sample_statistics(name):
    ember.manual_seed(0)
    e, t, _ = _pair(name)
    n = 20000
    s = e.sample((n,))
    assert tuple(s.shape) == (n,) + tuple(t.batch_shape) + tuple(t.event_shape)
    assert s.device.type == ember.device(DEVICE).type  # samples where the parameters are
    assert s.dtype == (ember.int64 if "Categorical" == name.split("-")[0] else ember.float64)
    x = to_numpy(s.double())
    if name.startswith("Categorical"):
        freq = np.stack([(x == k).mean(0) for k in range(5)], -1)
        np.testing.assert_allclose(freq, t.probs.numpy(), atol=0.02)
        return
    mean, std = t.mean.numpy(), t.stddev.numpy()
    np.testing.assert_allclose(x.mean(0), mean, atol=5 * std.max() / np.sqrt(n) + 1e-3)
    np.testing.assert_allclose(x.std(0), std, rtol=0.05, atol=0.01)
    # Samples lie in the support: log_prob is finite there.
    assert np.isfinite(to_numpy(e.log_prob(s[:50]))).all()


KL_PAIRS = [("Normal", (LOC, POS_A), (LOC[::-1], POS_B)),
            ("Uniform", (-POS_A, POS_B), (-POS_A - 1, POS_B + 1)),
            ("Gamma", (POS_A, POS_B), (POS_B, POS_A)),
            ("Beta", (POS_A, POS_B), (POS_B, POS_A)),
            ("Bernoulli", (UNIT,), (UNIT[::-1],)),
            ("Categorical", (LOGITS,), (LOGITS[::-1],)),
            ("OneHotCategorical", (LOGITS,), (LOGITS[:, ::-1],)),
            ("MVN-cov", (LOC[:3], COV), (LOC[1:], COV2)),
            ("Independent", (LOC.reshape(2, 2), POS_A.reshape(2, 2)),
             (LOC.reshape(2, 2) + 1, POS_B.reshape(2, 2)))]


@pytest.mark.parametrize("name,p,q", KL_PAIRS, ids=[k[0] for k in KL_PAIRS])
def test_kl_divergence(name, p, q):
    build = FAMILIES[name][0]
    e = ED.kl_divergence(build(ember, ED, p), build(ember, ED, q))
    t = TD.kl_divergence(build(torch, TD, p), build(torch, TD, q))
    _close(e, t, 1e-10)


def test_kl_not_implemented():
    with pytest.raises(NotImplementedError):
        ED.kl_divergence(ED.Normal(dev_tensor(0.0), dev_tensor(1.0)),
                         ED.Bernoulli(dev_tensor(0.5)))


@pytest.mark.parametrize("make", [
    lambda p: ED.Normal(p, ember.ones(3, dtype=ember.float64, device=DEVICE)),
    lambda p: ED.Uniform(p, p + 2),
    lambda p: ED.MultivariateNormal(p, scale_tril=dev_tensor(np.linalg.cholesky(COV))),
], ids=["Normal", "Uniform", "MVN"])
def test_rsample_gradient_is_reparameterised(make):
    # Every family here is a location family: d(sample)/d(loc) = 1.
    ember.manual_seed(1)
    p = dev_tensor(LOC[:3], requires_grad=True)
    make(p).rsample((100,)).mean(0).sum().backward()
    np.testing.assert_allclose(to_numpy(p.grad), np.ones(3), rtol=1e-12)


def test_gamma_beta_rsample_gradients():
    # Implicit reparameterisation: E[dx/dalpha] = d E[x]/dalpha = 1/rate for Gamma.
    ember.manual_seed(0)
    a = dev_tensor([0.7, 2.5], dtype=ember.float64, requires_grad=True)
    ED.Gamma(a, dev_tensor([2.0, 2.0], dtype=ember.float64)).rsample((4000,)).mean(0).sum() \
        .backward()
    np.testing.assert_allclose(to_numpy(a.grad), [0.5, 0.5], rtol=0.05)
    c1 = dev_tensor([1.5], dtype=ember.float64, requires_grad=True)
    c0 = dev_tensor([2.5], dtype=ember.float64)
    ED.Beta(c1, c0).rsample((4000,)).mean().backward()
    # d/dc1 of c1/(c1+c0) = c0/(c1+c0)^2
    np.testing.assert_allclose(to_numpy(c1.grad), [2.5 / 16], rtol=0.08)


def test_validation_errors_like_torch():
    cases = [
        lambda L, D: D.Normal(L.tensor([0.0]), L.tensor([-1.0])),
        lambda L, D: D.Gamma(L.tensor([0.0]), L.tensor([1.0])),
        lambda L, D: D.Bernoulli(L.tensor([1.5])),
        lambda L, D: D.Bernoulli(),
        lambda L, D: D.Bernoulli(L.tensor([0.5]), logits=L.tensor([0.0])),
        lambda L, D: D.Uniform(L.tensor([1.0]), L.tensor([0.0])),
        lambda L, D: D.MultivariateNormal(L.zeros(2)),
        lambda L, D: D.MultivariateNormal(L.tensor(0.0), L.eye(1)),
        lambda L, D: D.Independent(D.Normal(L.zeros(2), L.ones(2)), 2),
        lambda L, D: D.Normal(L.zeros(2), L.ones(2)).log_prob(L.zeros(3)),
        lambda L, D: D.Gamma(L.ones(2), L.ones(2)).log_prob(-L.ones(2)),
        lambda L, D: D.Beta(L.ones(2), L.ones(2)).log_prob(L.ones(2) * 2),
        lambda L, D: D.Categorical(logits=L.zeros(3)).log_prob(L.tensor(3)),
    ]
    for i, fn in enumerate(cases):
        with pytest.raises(ValueError) as te:
            fn(torch, TD)
        with pytest.raises(ValueError) as ee, oracle.device_default():
            fn(ember, ED)
        first = str(te.value).split(" of distribution")[0].split(" (")[0]
        assert str(ee.value).startswith(first), (i, str(ee.value), str(te.value))


def test_validate_args_false_skips_checks():
    d = ED.Normal(dev_tensor([0.0]), dev_tensor([-1.0]), validate_args=False)
    assert np.isnan(to_numpy(d.log_prob(dev_tensor([0.0])))).all()
