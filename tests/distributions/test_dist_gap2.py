"""torch.distributions gap, part 2: LowRankMultivariateNormal, GeneralizedPareto, LKJCholesky,
CorrCholeskyTransform, Wishart and the cross-family KL pairs, against torch in float64.
ember's side runs on the device under test (EMBER_TEST_DEVICE)."""
import os
import sys

import numpy as np
import pytest
import torch
import torch.distributions as td

import ember as E
import ember.distributions as ed

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from oracle import DEVICE, dev_tensor, to_numpy  # noqa: E402

RS = np.random.RandomState(1234)


def _t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _e(a, grad=False):
    return dev_tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _close(a, b, tol=1e-9):
    if isinstance(a, E.Tensor):
        # Results stay on the device of their parameters.
        assert a.device.type == DEVICE, a.device
        a = to_numpy(a)
    else:
        a = np.asarray(a)
    b = b.detach().numpy()
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _grads_match(fn_e, fn_t, arrays, tol=1e-8):
    """Values and gradients wrt every parameter array of a scalar-summed function."""
    ee = [_e(a, True) for a in arrays]
    tt = [_t(a, True) for a in arrays]
    out_e, out_t = fn_e(*ee), fn_t(*tt)
    _close(out_e, out_t, tol)
    out_e.sum().backward()
    out_t.sum().backward()
    for x, y in zip(ee, tt):
        if y.grad is None:  # torch's output does not depend on it
            assert x.grad is None or not np.any(to_numpy(x.grad))
        else:
            _close(x.grad, y.grad, tol)


# ---------------------------------------------------------------- LowRankMultivariateNormal
LR_LOC, LR_W, LR_D = RS.randn(2, 4), RS.randn(3, 1, 4, 2), RS.rand(4) + 0.5
LR_LOC2, LR_W2, LR_D2 = RS.randn(4), RS.randn(2, 4, 3), RS.rand(2, 4) + 0.5
_A = RS.randn(4, 4)
MVN_COV = _A @ _A.T + 4 * np.eye(4)


def test_lowrank_mvn_properties():
    ep = ed.LowRankMultivariateNormal(_e(LR_LOC), _e(LR_W), _e(LR_D))
    tp = td.LowRankMultivariateNormal(_t(LR_LOC), _t(LR_W), _t(LR_D))
    assert tuple(ep.batch_shape) == tuple(tp.batch_shape)
    assert tuple(ep.event_shape) == tuple(tp.event_shape)
    for name in ("mean", "mode", "variance", "stddev", "covariance_matrix",
                 "precision_matrix", "scale_tril"):
        _close(getattr(ep, name), getattr(tp, name))
    _close(ep.entropy(), tp.entropy())
    x = RS.randn(5, 1, 1, 4)
    _close(ep.log_prob(_e(x)), tp.log_prob(_t(x)))
    ex = ep.expand((2, 3, 2))
    tx = tp.expand((2, 3, 2))
    _close(ex.log_prob(_e(x[:, None])), tx.log_prob(_t(x[:, None])))
    assert tuple(ep.rsample((6,)).shape) == (6, 3, 2, 4)


def test_lowrank_mvn_grads():
    x = RS.randn(5, 1, 1, 4)
    _grads_match(
        lambda l, w, d: ed.LowRankMultivariateNormal(l, w, d).log_prob(_e(x)),
        lambda l, w, d: td.LowRankMultivariateNormal(l, w, d).log_prob(_t(x)),
        [LR_LOC, LR_W, LR_D])
    _grads_match(lambda l, w, d: ed.LowRankMultivariateNormal(l, w, d).entropy(),
                 lambda l, w, d: td.LowRankMultivariateNormal(l, w, d).entropy(),
                 [LR_LOC, LR_W, LR_D])


def test_lowrank_mvn_rsample_stats_and_grad():
    E.manual_seed(0)
    d = ed.LowRankMultivariateNormal(_e(LR_LOC[0]), _e(LR_W[0, 0]), _e(LR_D))
    s = to_numpy(d.rsample((40000,)))
    cov = LR_W[0, 0] @ LR_W[0, 0].T + np.diag(LR_D)
    np.testing.assert_allclose(s.mean(0), LR_LOC[0], atol=0.05)
    np.testing.assert_allclose(np.cov(s.T), cov, atol=0.1 * np.abs(cov).max())
    loc = _e(LR_LOC[0], True)
    ed.LowRankMultivariateNormal(loc, _e(LR_W[0, 0]), _e(LR_D)).rsample((3,)).sum().backward()
    np.testing.assert_allclose(to_numpy(loc.grad), np.full(4, 3.0))


def test_lowrank_mvn_errors():
    with pytest.raises(ValueError):
        ed.LowRankMultivariateNormal(_e(np.zeros(3)), _e(np.ones((4, 1))), _e(np.ones(3)))
    with pytest.raises(ValueError):
        ed.LowRankMultivariateNormal(_e(np.zeros(3)), _e(np.ones(3)), _e(np.ones(3)))
    with pytest.raises(ValueError):
        ed.LowRankMultivariateNormal(_e(np.zeros(3)), _e(np.ones((3, 1))), _e(np.ones(2)))


def test_lowrank_kl_pairs():
    def mk_e(kind, *a):
        return (ed.LowRankMultivariateNormal(*a) if kind == "lr"
                else ed.MultivariateNormal(a[0], covariance_matrix=a[1]))

    def mk_t(kind, *a):
        return (td.LowRankMultivariateNormal(*a) if kind == "lr"
                else td.MultivariateNormal(a[0], covariance_matrix=a[1]))
    params = {"lr1": ("lr", LR_LOC, LR_W, LR_D), "lr2": ("lr", LR_LOC2, LR_W2, LR_D2),
              "mvn": ("mvn", LR_LOC2, MVN_COV)}
    for a, b in (("lr1", "lr2"), ("lr1", "mvn"), ("mvn", "lr1")):
        ka, *pa = params[a]
        kb, *pb = params[b]
        na = len(pa)
        _grads_match(
            lambda *z: ed.kl_divergence(mk_e(ka, *z[:na]), mk_e(kb, *z[na:])),
            lambda *z: td.kl_divergence(mk_t(ka, *z[:na]), mk_t(kb, *z[na:])),
            list(pa) + list(pb))
    p = ed.LowRankMultivariateNormal(_e(np.zeros(3)), _e(np.ones((3, 1))), _e(np.ones(3)))
    with pytest.raises(ValueError):
        ed.kl_divergence(p, ed.LowRankMultivariateNormal(
            _e(np.zeros(2)), _e(np.ones((2, 1))), _e(np.ones(2))))


# ---------------------------------------------------------------- cross-family KL pairs
# Two parameter sets per family: the second puts some batch entries outside the target's
# support (or into infinite-moment regimes) so the infinite branches are checked too.
_KL_P1 = {
    "Bernoulli": [[0.3, 0.8]], "Poisson": [[1.5, 3.]], "Binomial": [[5., 5.], [0.3, 0.6]],
    "Beta": [[0.7, 2.], [1.5, 3.]], "ContinuousBernoulli": [[0.2, 0.7]],
    "Exponential": [[0.8, 2.]], "Gamma": [[2., 0.6], [1.5, 3.]],
    "Gumbel": [[0.3, -1.], [1.2, 0.7]], "Laplace": [[0.3, -1.], [1.2, 0.7]],
    "Normal": [[0.3, -1.], [1.2, 0.7]], "Pareto": [[0.5, 1.5], [3.5, 0.8]],
    "Uniform": [[0.1, 0.2], [0.9, 0.7]],
}
_KL_P2 = {"Uniform": [[-0.5, 1.5], [2., 3.]], "Pareto": [[0.05, 0.5], [3., 2.5]]}
_CROSS_PAIRS = sorted({(a.__name__, b.__name__) for a, b in td.kl._KL_REGISTRY
                       if a.__name__ in _KL_P1 and b.__name__ in _KL_P1
                       and a.__name__ != b.__name__})


def _mk(mod, name, params):
    if mod is td:
        ts = [_t(a, True) for a in params]
    else:
        ts = [_e(a, True) for a in params]
    return getattr(mod, name)(*ts), ts


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("pair", _CROSS_PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_cross_family_kl(pair):
    a, b = pair
    for pa in (_KL_P1[a], _KL_P2.get(a, _KL_P1[a])):
        for pb in (_KL_P1[b], _KL_P2.get(b, _KL_P1[b])):
            tp, tpp = _mk(td, a, pa)
            tq, tqp = _mk(td, b, pb)
            ep, epp = _mk(ed, a, pa)
            eq, eqp = _mk(ed, b, pb)
            tk, ek = td.kl_divergence(tp, tq), ed.kl_divergence(ep, eq)
            tv, ev = tk.detach().numpy(), to_numpy(ek)
            assert tv.shape == ev.shape
            np.testing.assert_allclose(ev, tv, rtol=1e-9, atol=1e-10)
            if np.all(np.isfinite(tv)) and tk.requires_grad:
                tk.sum().backward()
                ek.sum().backward()
                for x, y in zip(tpp + tqp, epp + eqp):
                    if x.grad is not None:
                        np.testing.assert_allclose(to_numpy(y.grad), x.grad.numpy(),
                                                   rtol=1e-8, atol=1e-10)


def test_cross_family_pairs_all_registered():
    # Every cross-family pair torch registers among these families resolves in ember.
    from ember.distributions.kl import _dispatch
    assert len(_CROSS_PAIRS) >= 60
    for a, b in _CROSS_PAIRS:
        assert _dispatch(getattr(ed, a), getattr(ed, b)) is not None, (a, b)


# ---------------------------------------------------------------- GeneralizedPareto


@pytest.fixture
def torch_f64():
    # torch's GeneralizedPareto compares against a default-dtype zero tensor, which fails for
    # float64 parameters unless float64 is the default dtype.
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


GP_PARAMS = [[0., 1., -0.5, 0.3], [1., 2., 0.7, 0.4], [0.3, -0.5, 0.2, 0.0]]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_generalized_pareto_values(torch_f64):
    ep = ed.GeneralizedPareto(*[_e(a) for a in GP_PARAMS])
    tp = td.GeneralizedPareto(*[_t(a) for a in GP_PARAMS])
    for name in ("mean", "mode", "variance"):
        np.testing.assert_allclose(to_numpy(getattr(ep, name)), getattr(tp, name).numpy(),
                                   rtol=1e-10)
    _close(ep.entropy(), tp.entropy())
    x = np.array([[0.2, 1.5, 0.1, 0.5], [0.5, 3.0, 2.5, 2.0]])
    _close(ep.log_prob(_e(x)), tp.log_prob(_t(x)))
    _close(ep.cdf(_e(x)), tp.cdf(_t(x)))
    u = np.array([[0.1, 0.5, 0.9, 0.3]])
    _close(ep.icdf(_e(u)), tp.icdf(_t(u)))
    _close(ep.support.upper_bound, tp.support.upper_bound)
    _close(ep.expand((2, 4)).log_prob(_e(x)), tp.expand((2, 4)).log_prob(_t(x)))
    np.testing.assert_allclose(to_numpy(ed.GeneralizedPareto(_e([0.]), _e([1.]), _e([1.5])).mean),
                               td.GeneralizedPareto(_t([0.]), _t([1.]), _t([1.5])).mean.numpy())
    with pytest.raises(ValueError):
        ed.GeneralizedPareto(_e([0.]), _e([1.]), _e([-0.5])).log_prob(_e([3.0]))


def test_generalized_pareto_grads(torch_f64):
    x = np.array([0.2, 1.5, 0.1, 0.5])
    params = [[0., 1., -0.5, 0.3], [1., 2., 0.7, 0.4], [0.3, -0.5, 0.2, 0.1]]
    _grads_match(lambda *p: ed.GeneralizedPareto(*p).log_prob(_e(x)),
                 lambda *p: td.GeneralizedPareto(*p).log_prob(_t(x)), params)
    _grads_match(lambda *p: ed.GeneralizedPareto(*p).cdf(_e(x)),
                 lambda *p: td.GeneralizedPareto(*p).cdf(_t(x)), params)
    u = np.array([0.1, 0.5, 0.9, 0.3])
    _grads_match(lambda *p: ed.GeneralizedPareto(*p).icdf(_e(u)),
                 lambda *p: td.GeneralizedPareto(*p).icdf(_t(u)), params)


def test_generalized_pareto_sample_stats():
    E.manual_seed(0)
    d = ed.GeneralizedPareto(_e([0., 1.]), _e([1., 2.]), _e([0.1, -0.3]))
    s = to_numpy(d.sample((100000,)))
    np.testing.assert_allclose(s.mean(0), to_numpy(d.mean), rtol=0.03)
    np.testing.assert_allclose(s.var(0), to_numpy(d.variance), rtol=0.08)
    assert s[:, 1].max() <= 1 + 2 / 0.3 + 1e-9 and s.min(0)[0] >= 0


# ---------------------------------------------------------------- CorrCholesky / LKJ
def test_corr_cholesky_transform():
    x = RS.randn(3, 6)
    tt, et = td.CorrCholeskyTransform(), ed.CorrCholeskyTransform()
    ty, ey = tt(_t(x)), et(_e(x))
    _close(ey, ty)
    _close(et.inv(ey), tt.inv(ty), 1e-8)
    _close(et.log_abs_det_jacobian(_e(x), ey), tt.log_abs_det_jacobian(_t(x), ty), 1e-9)
    assert tuple(et.forward_shape((2, 6))) == tuple(tt.forward_shape((2, 6)))
    assert tuple(et.inverse_shape((2, 4, 4))) == tuple(tt.inverse_shape((2, 4, 4)))
    assert isinstance(ed.biject_to(ed.constraints.corr_cholesky), ed.CorrCholeskyTransform)
    assert isinstance(ed.transform_to(ed.constraints.corr_cholesky), ed.CorrCholeskyTransform)
    assert bool(ed.constraints.corr_cholesky.check(ey).all())
    _grads_match(lambda v: et(v), lambda v: tt(v), [x])
    _grads_match(lambda v: et.log_abs_det_jacobian(v, et(v)),
                 lambda v: tt.log_abs_det_jacobian(v, tt(v)), [x])
    yv = ty.detach().numpy()
    _grads_match(lambda v: et.inv(v), lambda v: tt.inv(v), [yv], 1e-7)
    with pytest.raises(ValueError):
        et(_e(np.zeros(4)))


def test_lkj_cholesky_log_prob_and_grads():
    conc = np.array([0.5, 1., 3.])
    L = td.CorrCholeskyTransform()(_t(RS.randn(3, 6))).detach().numpy()
    el, tl = ed.LKJCholesky(4, _e(conc)), td.LKJCholesky(4, _t(conc))
    _close(el.log_prob(_e(L)), tl.log_prob(_t(L)))
    _grads_match(lambda c, v: ed.LKJCholesky(4, c).log_prob(v),
                 lambda c, v: td.LKJCholesky(4, c).log_prob(v), [conc, L])
    assert tuple(el.sample((5,)).shape) == tuple(tl.sample((5,)).shape)
    assert tuple(el.expand((2, 3)).batch_shape) == (2, 3)
    _close(el.expand((2, 3)).log_prob(_e(L)), tl.expand((2, 3)).log_prob(_t(L)))
    # A float concentration is a CPU tensor (as in torch): give it as a device tensor here.
    _close(ed.LKJCholesky(2, _e(2.0)).log_prob(E.eye(2, device=DEVICE)),
           td.LKJCholesky(2, 2.0).log_prob(torch.eye(2)), 1e-6)
    with pytest.raises(ValueError):
        ed.LKJCholesky(1, 1.0)


def test_lkj_cholesky_sample_stats():
    # Off-diagonal correlations of LKJ(eta) in dimension d have mean 0 and variance
    # 1 / (2 eta + d - 1) (their (r + 1) / 2 is Beta(eta - 1 + d/2, eta - 1 + d/2)).
    E.manual_seed(0)
    d, eta = 4, 2.0
    L = ed.LKJCholesky(d, _e(eta)).sample((20000,))
    assert bool(ed.constraints.corr_cholesky.check(L).all())
    assert L.device.type == DEVICE
    C = to_numpy(L @ L.mT)
    off = C[:, np.tril_indices(d, -1)[0], np.tril_indices(d, -1)[1]]
    np.testing.assert_allclose(off.mean(0), 0.0, atol=0.02)
    np.testing.assert_allclose(off.var(0), 1 / (2 * eta + d - 1), rtol=0.06)


# ---------------------------------------------------------------- Wishart
_WA = RS.randn(2, 3, 3)
W_COV = _WA @ _WA.transpose(0, 2, 1) + 3 * np.eye(3)
W_DF = np.array([4.5, 7.0])
_WB = RS.randn(5, 2, 3, 3)
W_X = _WB @ _WB.transpose(0, 1, 3, 2) + np.eye(3)


@pytest.mark.parametrize("kw", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_wishart_values(kw):
    m = np.linalg.cholesky(W_COV) if kw == "scale_tril" else W_COV
    ew, tw = ed.Wishart(_e(W_DF), **{kw: _e(m)}), td.Wishart(_t(W_DF), **{kw: _t(m)})
    assert tuple(ew.batch_shape) == (2,) and tuple(ew.event_shape) == (3, 3)
    for name in ("mean", "variance", "covariance_matrix", "precision_matrix", "scale_tril"):
        _close(getattr(ew, name), getattr(tw, name))
    np.testing.assert_allclose(to_numpy(ew.mode), tw.mode.numpy(), rtol=1e-10)
    _close(ew.log_prob(_e(W_X)), tw.log_prob(_t(W_X)))
    _close(ew.entropy(), tw.entropy())
    _close(ew.expand((4, 2)).log_prob(_e(W_X[:4])), tw.expand((4, 2)).log_prob(_t(W_X[:4])))
    # A df too small for the mode gives nan there, as torch.
    np.testing.assert_allclose(to_numpy(ed.Wishart(3.5, _e(W_COV[0])).mode),
                               td.Wishart(3.5, _t(W_COV[0])).mode.numpy())


def test_wishart_grads():
    _grads_match(lambda df, c, x: ed.Wishart(df, covariance_matrix=c).log_prob(x),
                 lambda df, c, x: td.Wishart(df, covariance_matrix=c).log_prob(x),
                 [W_DF, W_COV, W_X])
    _grads_match(lambda df, c: ed.Wishart(df, precision_matrix=c).entropy(),
                 lambda df, c: td.Wishart(df, precision_matrix=c).entropy(), [W_DF, W_COV])


def test_wishart_rsample_stats():
    E.manual_seed(0)
    tril = _e(np.linalg.cholesky(W_COV[0]), True)
    d = ed.Wishart(_e(5.0), scale_tril=tril)
    s = d.rsample((40000,))
    mean = s.mean(0)
    np.testing.assert_allclose(to_numpy(mean), 5.0 * W_COV[0], rtol=0.03,
                               atol=0.03 * np.abs(W_COV[0]).max())
    var = to_numpy(s).var(0)
    wvar = to_numpy(d.variance)
    np.testing.assert_allclose(var, wvar, rtol=0.1, atol=0.05 * wvar.max())
    # Reparameterised: d E[X] / d L_00 = d (5 L L^T)_{ij} / d L_00 summed = 10 L_00 (+ row 0).
    mean.sum().backward()
    L = np.linalg.cholesky(W_COV[0])
    expected = 5 * 2 * L.sum(0)[None, :] * np.ones((3, 1))
    np.testing.assert_allclose(np.tril(to_numpy(tril.grad)), np.tril(expected), rtol=0.05,
                               atol=0.05 * np.abs(expected).max())


def test_wishart_errors():
    with pytest.raises(ValueError):
        ed.Wishart(_e(1.0), covariance_matrix=_e(np.eye(3)))
    with pytest.raises(AssertionError):
        ed.Wishart(_e(3.0))
    with pytest.raises(AssertionError):
        ed.Wishart(_e(3.0), covariance_matrix=_e(np.eye(2)), scale_tril=_e(np.eye(2)))


# ---------------------------------------------------------------- generic exponential family
def _exp_family_class(base_mod):
    class _ExpRate(base_mod.ExponentialFamily):
        # Exponential(rate) written as an exponential family: theta = -rate,
        # F(theta) = -log(-theta); no closed-form KL is registered for it.
        arg_constraints = {}

        def __init__(self, rate):
            self.rate = rate
            super().__init__(tuple(rate.shape), (), validate_args=False)

        @property
        def _natural_params(self):
            return (-self.rate,)

        def _log_normalizer(self, theta):
            return -(-theta).log()

        @property
        def _mean_carrier_measure(self):
            return 0
    return _ExpRate


def test_exponential_family_bregman_kl():
    ecls, tcls = _exp_family_class(ed), _exp_family_class(td)
    a, b = np.array([0.5, 2.0]), np.array([1.5, 0.7])
    _grads_match(lambda x, y: ed.kl_divergence(ecls(x), ecls(y)),
                 lambda x, y: td.kl_divergence(tcls(x), tcls(y)), [a, b])
    # It equals the Exponential closed form.
    _close(ed.kl_divergence(ecls(_e(a)), ecls(_e(b))),
           td.kl_divergence(td.Exponential(_t(a)), td.Exponential(_t(b))))

    class _Other(ecls):
        pass
    with pytest.raises(NotImplementedError):
        ed.kl_divergence(ecls(_e(a)), _Other(_e(b)))
