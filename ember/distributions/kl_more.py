"""Closed-form KL divergences among the added families (registered into ``kl_divergence``)."""
from __future__ import annotations

import math

import ember as E
from . import _special as S
from .kl import _kl_normal_normal, kl_divergence, register_kl
from .more_continuous import _EULER, ContinuousBernoulli, Gumbel, HalfNormal, Pareto
from .more_discrete import Binomial, Geometric, Poisson
from .transformed import TransformedDistribution


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    # Equal bijections leave KL unchanged, so it is the base distributions' KL.
    if p.transforms != q.transforms or p.event_shape != q.event_shape:
        raise NotImplementedError
    return kl_divergence(p.base_dist, q.base_dist)


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    r = p.scale / q.scale
    a = q.loc / q.scale
    b = p.loc / q.scale
    return (-r.log() - a + b + r * _EULER + (a + S.lgamma(1 + r) - b).exp()
            - (1 + _EULER))


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    alpha_ratio = q.alpha / p.alpha
    out = q.alpha * (p.scale / q.scale).log() - alpha_ratio.log() + alpha_ratio - 1
    # q puts no mass below its scale: infinite where p's support starts lower.
    return E.where(p.scale < q.scale, E.full_like(out, math.inf), out)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > "
                                  "p.total_count is not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p()
                          - (-q.probs).log1p())
    return E.where(p.total_count > q.total_count, E.full_like(kl, math.inf), kl)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_cb_cb(p, q):
    t1 = p.mean * (p.logits - q.logits)
    t2 = p._cont_bern_log_norm() + (-p.probs).log1p()
    t3 = -q._cont_bern_log_norm() - (-q.probs).log1p()
    return t1 + t2 + t3
