"""Cross-family closed-form KL divergences (the pairs torch registers between different
families). Most are ``E_p[-log q(X)] - H(p)`` with the expectation in closed form from p's
moments; pairs where p has mass outside q's support are infinite."""
from __future__ import annotations

import math

import ember as E
from ..tensor import Tensor
from . import _special as S
from .continuous import Beta, Exponential, Gamma, Laplace, Normal, Uniform
from .discrete import Bernoulli
from .kl import register_kl
from .more_continuous import _EULER, ContinuousBernoulli, Gumbel, Pareto
from .more_discrete import Binomial, Poisson
from .transformed import ExponentialFamily
from .independent import _sum_rightmost

_INF = float("inf")
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _inf_like(t: Tensor) -> Tensor:
    return E.full_like(t, _INF)


def _where_inf(cond: Tensor, t: Tensor) -> Tensor:
    return E.where(cond, _inf_like(t), t)


# Expected negative log densities of each target family given p's moments ------------------
def _neg_ll_normal(mean, var, q: Normal) -> Tensor:
    return (q.scale.log() + _HALF_LOG_2PI
            + (var + (mean - q.loc).pow(2)) / (2 * q.scale.pow(2)))


def _neg_ll_exponential(mean, q: Exponential) -> Tensor:
    return q.rate * mean - q.rate.log()


def _neg_ll_gamma(mean, mean_log, q: Gamma) -> Tensor:
    a, b = q.concentration, q.rate
    return S.lgamma(a) - a * b.log() - (a - 1) * mean_log + b * mean


def _neg_ll_gumbel(mean, mean_exp_neg, q: Gumbel) -> Tensor:
    # -log q(x) = log b + z + exp(-z), z = (x - mu) / b; mean_exp_neg = E[exp(-x / b)].
    return q.scale.log() + (mean - q.loc) / q.scale + (q.loc / q.scale).exp() * mean_exp_neg


def _neg_ll_cb(mean, q: ContinuousBernoulli) -> Tensor:
    return -(mean * q.logits + (-q.probs).log1p() + q._cont_bern_log_norm())


def _beta_mean_log(p: Beta):
    s = S.digamma(p.concentration1 + p.concentration0)
    return S.digamma(p.concentration1) - s, S.digamma(p.concentration0) - s


# p = Bernoulli / Poisson -------------------------------------------------------------------
@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Poisson, Bernoulli)
@register_kl(Poisson, Binomial)
@register_kl(Exponential, Beta)
@register_kl(Exponential, ContinuousBernoulli)
@register_kl(Exponential, Pareto)
@register_kl(Exponential, Uniform)
def _kl_rate_bounded(p, q):
    # A Poisson puts mass on every count, an Exponential on all of (0, inf); the targets
    # have bounded support.
    return _inf_like(p.rate)


# Targets whose -log q needs only p's moments -----------------------------------------------
@register_kl(Beta, Exponential)
@register_kl(ContinuousBernoulli, Exponential)
@register_kl(Gamma, Exponential)
def _kl_mean_exponential(p, q):
    # -log q is linear in x: only p's mean is needed.
    return -p.entropy() + _neg_ll_exponential(p.mean, q)


@register_kl(Beta, Normal)
@register_kl(ContinuousBernoulli, Normal)
@register_kl(Exponential, Normal)
@register_kl(Gamma, Normal)
@register_kl(Gumbel, Normal)
def _kl_moments_normal(p, q):
    # -log q is quadratic in x: p's mean and variance are enough.
    return -p.entropy() + _neg_ll_normal(p.mean, p.variance, q)


# p = Beta ----------------------------------------------------------------------------------
@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_cb(p, q):
    return -p.entropy() + _neg_ll_cb(p.mean, q)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    return -p.entropy() + _neg_ll_gamma(p.mean, _beta_mean_log(p)[0], q)


@register_kl(Beta, Pareto)
@register_kl(ContinuousBernoulli, Pareto)
def _kl_unit_pareto(p, q):
    # Mass near zero lies below any Pareto scale > 0.
    return _inf_like(p.mean)


@register_kl(Beta, Uniform)
@register_kl(ContinuousBernoulli, Uniform)
def _kl_unit_uniform(p, q):
    out = -p.entropy() + (q.high - q.low).log()
    return _where_inf((q.low > 0) | (q.high < 1), out)


# p = Exponential ---------------------------------------------------------------------------
@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    mean_log = -_EULER - p.rate.log()
    return -p.entropy() + _neg_ll_gamma(p.rate.reciprocal(), mean_log, q)


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    # E[exp(-x / b)] = rate / (rate + 1 / b) for x ~ Exp(rate).
    m = p.rate / (p.rate + q.scale.reciprocal())
    return -p.entropy() + _neg_ll_gumbel(p.rate.reciprocal(), m, q)


# p = Gamma ---------------------------------------------------------------------------------
@register_kl(Gamma, Beta)
@register_kl(Gamma, ContinuousBernoulli)
@register_kl(Gamma, Pareto)
@register_kl(Gamma, Uniform)
def _kl_gamma_bounded(p, q):
    return _inf_like(p.concentration)


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    # E[exp(-x / b)] is the Gamma's Laplace transform at 1 / b.
    m = (p.rate / (p.rate + q.scale.reciprocal())).pow(p.concentration)
    return -p.entropy() + _neg_ll_gumbel(p.mean, m, q)


# p = Gumbel / Laplace / Normal (real support) ----------------------------------------------
@register_kl(Gumbel, Beta)
@register_kl(Gumbel, ContinuousBernoulli)
@register_kl(Gumbel, Exponential)
@register_kl(Gumbel, Gamma)
@register_kl(Gumbel, Pareto)
@register_kl(Gumbel, Uniform)
@register_kl(Laplace, Beta)
@register_kl(Laplace, ContinuousBernoulli)
@register_kl(Laplace, Exponential)
@register_kl(Laplace, Gamma)
@register_kl(Laplace, Pareto)
@register_kl(Laplace, Uniform)
@register_kl(Normal, Beta)
@register_kl(Normal, ContinuousBernoulli)
@register_kl(Normal, Exponential)
@register_kl(Normal, Gamma)
@register_kl(Normal, Pareto)
@register_kl(Normal, Uniform)
def _kl_real_bounded(p, q):
    return _inf_like(p.loc)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    return -p.entropy() + _neg_ll_normal(p.loc, 2 * p.scale.pow(2), q)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    # E[exp(-x / b)] is the normal's moment generating function at -1 / b.
    m = (-p.loc / q.scale + 0.5 * (p.scale / q.scale).pow(2)).exp()
    return -p.entropy() + _neg_ll_gumbel(p.loc, m, q)


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    # E|x - m| for x ~ N(mu, s): s sqrt(2/pi) exp(-d^2 / 2s^2) + d erf(d / (s sqrt 2)).
    d = p.loc - q.loc
    z = d / p.scale
    mean_abs = (p.scale * math.sqrt(2 / math.pi) * (-0.5 * z.pow(2)).exp()
                + d * E.erf(z / math.sqrt(2)))
    return -p.entropy() + (2 * q.scale).log() + mean_abs / q.scale


# p = Pareto --------------------------------------------------------------------------------
@register_kl(Pareto, Beta)
@register_kl(Pareto, ContinuousBernoulli)
@register_kl(Pareto, Uniform)
def _kl_pareto_bounded(p, q):
    return _inf_like(p.scale)


def _pareto_mean(p: Pareto) -> Tensor:
    # Finite only for alpha > 1; the infinite cases are masked by the callers.
    return p.alpha * p.scale / (p.alpha - 1)


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    out = -p.entropy() + _neg_ll_exponential(_pareto_mean(p), q)
    return _where_inf(p.alpha <= 1, out)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    mean_log = p.scale.log() + p.alpha.reciprocal()
    out = -p.entropy() + _neg_ll_gamma(_pareto_mean(p), mean_log, q)
    return _where_inf(p.alpha <= 1, out)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    a, s = p.alpha, p.scale
    var = s.pow(2) * a / ((a - 1).pow(2) * (a - 2))
    out = -p.entropy() + _neg_ll_normal(_pareto_mean(p), var, q)
    return _where_inf(a <= 2, out)


# p = Uniform -------------------------------------------------------------------------------
def _mean_log_uniform(lo: Tensor, hi: Tensor) -> Tensor:
    # E[log x] for x ~ U(lo, hi), lo >= 0: [x log x - x] between the ends over the width
    # (xlogy makes 0 log 0 = 0).
    return (E.xlogy(hi, hi) - hi - E.xlogy(lo, lo) + lo) / (hi - lo)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    a, b = q.concentration1, q.concentration0
    log_beta = S.lgamma(a) + S.lgamma(b) - S.lgamma(a + b)
    mlog_x = _mean_log_uniform(p.low, p.high)
    mlog_1mx = _mean_log_uniform(1 - p.high, 1 - p.low)
    out = -p.entropy() + log_beta - (a - 1) * mlog_x - (b - 1) * mlog_1mx
    return _where_inf((p.high > 1) | (p.low < 0), out)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_cb(p, q):
    out = -p.entropy() + _neg_ll_cb(p.mean, q)
    return _where_inf((p.high > 1) | (p.low < 0), out)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    out = -p.entropy() + _neg_ll_exponential(p.mean, q)
    return _where_inf(p.low < 0, out)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    out = -p.entropy() + _neg_ll_gamma(p.mean, _mean_log_uniform(p.low, p.high), q)
    return _where_inf(p.low < 0, out)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    b = q.scale
    width = p.high - p.low
    m = b * ((-p.low / b).exp() - (-p.high / b).exp()) / width
    return -p.entropy() + _neg_ll_gumbel(p.mean, m, q)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    return -p.entropy() + _neg_ll_normal(p.mean, (p.high - p.low).pow(2) / 12, q)


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    a, s = q.alpha, q.scale
    out = (-p.entropy() - a.log() - a * s.log()
           + (a + 1) * _mean_log_uniform(p.low, p.high))
    return _where_inf(p.low < s, out)


# Generic exponential family ----------------------------------------------------------------
@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    # The Bregman divergence of the log normaliser F between the natural parameters:
    # F(theta_q) - F(theta_p) - <theta_q - theta_p, grad F(theta_p)> (same carrier measure).
    if type(p) is not type(q):
        raise NotImplementedError("The cross KL-divergence between different exponential "
                                  "families cannot be computed using Bregman divergences")
    p_nat = [t.detach().requires_grad_() for t in p._natural_params]
    q_nat = q._natural_params
    with E.enable_grad():
        lg_p = p._log_normalizer(*p_nat)
        grads = E.autograd.grad(lg_p.sum(), p_nat, create_graph=True)
    out = q._log_normalizer(*q_nat) - lg_p
    for tp, tq, g in zip(p_nat, q_nat, grads):
        out = out - _sum_rightmost((tq - tp) * g, len(q.event_shape))
    return out
