"""``kl_divergence(p, q)`` with a registry of closed forms (``register_kl``)."""
from __future__ import annotations

import ember as E
from ..tensor import Tensor
from . import _special as S
from .continuous import (Beta, Cauchy, Dirichlet, Exponential, Gamma, Laplace,
                         MultivariateNormal, Normal, Uniform)
from .discrete import Bernoulli, Categorical, OneHotCategorical
from .independent import Independent, _sum_rightmost

_KL_REGISTRY: dict = {}


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for the two distribution types."""
    def deco(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        return fn
    return deco


def _dispatch(tp, tq):
    best = None
    for (p, q), fn in _KL_REGISTRY.items():
        if issubclass(tp, p) and issubclass(tq, q):
            rank = (tp.__mro__.index(p), tq.__mro__.index(q))
            if best is None or rank < best[0]:
                best = (rank, fn)
    return None if best is None else best[1]


def kl_divergence(p, q) -> Tensor:
    """KL(p || q) in closed form, batched over the distributions' batch shape."""
    fn = _dispatch(type(p), type(q))
    if fn is None:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                                  f"{type(p).__name__} and q type {type(q).__name__}")
    return fn(p, q)


_INF = float("inf")


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return result.masked_fill((q.low > p.low) | (q.high < p.high), _INF)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    sp = E.nn.functional.softplus
    t1 = p.probs * (sp(-q.logits) - sp(-p.logits))
    t1 = t1.masked_fill(q.probs == 0, _INF).masked_fill(p.probs == 0, 0.0)
    t2 = (1 - p.probs) * (sp(q.logits) - sp(p.logits))
    t2 = t2.masked_fill(q.probs == 1, _INF).masked_fill(p.probs == 1, 0.0)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = t.masked_fill((q.probs == 0).expand_as(t), _INF)
    t = t.masked_fill((p.probs == 0).expand_as(t), 0.0)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    t1 = q.concentration * (p.rate / q.rate).log()
    t2 = S.lgamma(q.concentration) - S.lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * S.digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    sp = p.concentration1 + p.concentration0
    sq = q.concentration1 + q.concentration0
    t1 = S.lgamma(sp) - S.lgamma(p.concentration1) - S.lgamma(p.concentration0)
    t2 = S.lgamma(sq) - S.lgamma(q.concentration1) - S.lgamma(q.concentration0)
    dsp = S.digamma(sp)
    t3 = (p.concentration1 - q.concentration1) * (S.digamma(p.concentration1) - dsp)
    t4 = (p.concentration0 - q.concentration0) * (S.digamma(p.concentration0) - dsp)
    return t1 - t2 + t3 + t4


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    # log B(q)/B(p) + sum_i (a_i - b_i) (psi(a_i) - psi(a_0)), B the multivariate Beta.
    a, b = p.concentration, q.concentration
    a0, b0 = a.sum(-1), b.sum(-1)
    log_norm = S.lgamma(a0) - S.lgamma(b0) - (S.lgamma(a) - S.lgamma(b)).sum(-1)
    return log_norm + ((a - b) * (S.digamma(a) - S.digamma(a0).unsqueeze(-1))).sum(-1)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    ratio = q.rate / p.rate
    return ratio - ratio.log() - 1


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    # E_p|x - m_q| = |m_p - m_q| + b_p exp(-|m_p - m_q| / b_p).
    ratio = p.scale / q.scale
    dist = (p.loc - q.loc).abs()
    return -ratio.log() + dist / q.scale + ratio * (-dist / p.scale).exp() - 1


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    # Chyzak & Nielsen (2019): log(((g_p + g_q)^2 + (m_p - m_q)^2) / (4 g_p g_q)).
    num = (p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)
    return (num / (4 * p.scale * q.scale)).log()


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event "
                         "shapes cannot be computed")
    n = p.event_shape[0]
    lp, lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    shape = E.broadcast_shapes(tuple(lp.shape[:-2]), tuple(lq.shape[:-2]),
                               tuple(p.loc.shape[:-1]), tuple(q.loc.shape[:-1]))
    lq_b = lq.expand(tuple(shape) + (n, n))
    term2 = S.solve_triangular(lq_b, lp.expand(tuple(shape) + (n, n))).pow(2).sum((-2, -1))
    diff = (q.loc - p.loc).expand(tuple(shape) + (n,)).unsqueeze(-1)
    term3 = S.solve_triangular(lq_b, diff).squeeze(-1).pow(2).sum(-1)
    half = q._half_log_det() - p._half_log_det()
    return half + 0.5 * (term2 + term3 - n)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)



