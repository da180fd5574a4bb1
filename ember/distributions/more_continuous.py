"""More continuous families: LogNormal, HalfNormal, HalfCauchy, Gumbel, Weibull, Pareto,
Kumaraswamy, LogisticNormal, StudentT, Chi2, FisherSnedecor, InverseGamma, VonMises and
ContinuousBernoulli (as ``torch.distributions``)."""
from __future__ import annotations

import math
from typing import Optional

import ember as E
from ..tensor import Tensor
from . import _special as S
from . import constraints
from .continuous import Cauchy, Exponential, Gamma, Normal, Uniform
from .discrete import _probs_logits_init
from .distribution import (Distribution, _finfo, _standard_normal, _uniform, _size,
                           broadcast_all)
from .transformed import ExponentialFamily, TransformedDistribution
from .transforms import (AbsTransform, AffineTransform, ExpTransform, PowerTransform,
                         SigmoidTransform, StickBreakingTransform)

__all__ = ["LogNormal", "HalfNormal", "HalfCauchy", "Gumbel", "Weibull", "Pareto",
           "Kumaraswamy", "LogisticNormal", "StudentT", "Chi2", "FisherSnedecor",
           "InverseGamma", "VonMises", "ContinuousBernoulli"]

_EULER = 0.57721566490153286060


def _full_nan_where(cond: Tensor, value: Tensor, fill: float) -> Tensor:
    return E.where(cond, E.full_like(value, fill), value)


class _TransformedFamily(TransformedDistribution):
    """A named TransformedDistribution: ``expand`` rebuilds the same subclass."""

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        return TransformedDistribution.expand(self, batch_shape, _instance=new)

    def __repr__(self) -> str:
        return Distribution.__repr__(self)


class LogNormal(_TransformedFamily):
    """``exp(X)`` for ``X ~ Normal(loc, scale)``.

    Example:
        >>> LogNormal(0.0, 1.0).sample((2,)).shape
        torch.Size([2])
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args: Optional[bool] = None) -> None:
        super().__init__(Normal(loc, scale, validate_args=validate_args), ExpTransform(),
                         validate_args=validate_args)

    @property
    def loc(self) -> Tensor:
        return self.base_dist.loc

    @property
    def scale(self) -> Tensor:
        return self.base_dist.scale

    @property
    def mean(self) -> Tensor:
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self) -> Tensor:
        return (self.loc - self.scale.pow(2)).exp()

    @property
    def variance(self) -> Tensor:
        s2 = self.scale.pow(2)
        return s2.expm1() * (2 * self.loc + s2).exp()

    def entropy(self) -> Tensor:
        return self.base_dist.entropy() + self.loc


class _HalfFamily(_TransformedFamily):
    """``|X|`` for a symmetric, zero-centred ``X``: density doubled on ``[0, inf)``."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    @property
    def scale(self) -> Tensor:
        return self.base_dist.scale

    @property
    def mode(self) -> Tensor:
        return E.zeros_like(self.scale)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        lp = self.base_dist.log_prob(value) + math.log(2)
        return E.where(value >= 0, lp, E.full_like(lp, -math.inf))

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob: Tensor) -> Tensor:
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self) -> Tensor:
        return self.base_dist.entropy() - math.log(2)


class HalfNormal(_HalfFamily):
    """``|X|`` for ``X ~ Normal(0, scale)``."""

    def __init__(self, scale, validate_args: Optional[bool] = None) -> None:
        super().__init__(Normal(0, scale, validate_args=validate_args), AbsTransform(),
                         validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self) -> Tensor:
        return self.scale.pow(2) * (1 - 2 / math.pi)


class HalfCauchy(_HalfFamily):
    """``|X|`` for ``X ~ Cauchy(0, scale)``; no mean or variance (inf)."""

    def __init__(self, scale, validate_args: Optional[bool] = None) -> None:
        super().__init__(Cauchy(0, scale, validate_args=validate_args), AbsTransform(),
                         validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return E.full(tuple(self._extended_shape()), math.inf, dtype=self.scale.dtype,
                      device=self.scale.device)

    @property
    def variance(self) -> Tensor:
        return self.base_dist.variance


class Gumbel(_TransformedFamily):
    """Gumbel(loc, scale): ``loc - scale log(-log U)`` for uniform ``U``."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args: Optional[bool] = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        fi = _finfo(self.loc.dtype)
        base = Uniform(E.full_like(self.loc, float(fi.tiny)),
                       E.full_like(self.loc, 1 - float(fi.eps)), validate_args=validate_args)
        chain = [ExpTransform().inv, AffineTransform(loc=0, scale=-E.ones_like(self.scale)),
                 ExpTransform().inv, AffineTransform(loc=self.loc, scale=-self.scale)]
        super().__init__(base, chain, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Gumbel, _instance)
        new.loc = self.loc.expand(tuple(batch_shape))
        new.scale = self.scale.expand(tuple(batch_shape))
        return TransformedDistribution.expand(self, batch_shape, _instance=new)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        y = (self.loc - value) / self.scale
        return (y - y.exp()) - self.scale.log()

    @property
    def mean(self) -> Tensor:
        return self.loc + self.scale * _EULER

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self) -> Tensor:
        return self.stddev.pow(2)

    def entropy(self) -> Tensor:
        return self.scale.log() + (1 + _EULER)


class Weibull(_TransformedFamily):
    """Weibull(scale, concentration): ``scale * X^(1/concentration)``, X ~ Exponential(1)."""

    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive

    def __init__(self, scale, concentration, validate_args: Optional[bool] = None) -> None:
        self.scale, self.concentration = broadcast_all(scale, concentration)
        self.concentration_reciprocal = self.concentration.reciprocal()
        base = Exponential(E.ones_like(self.scale), validate_args=validate_args)
        chain = [PowerTransform(exponent=self.concentration_reciprocal),
                 AffineTransform(loc=0, scale=self.scale)]
        super().__init__(base, chain, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Weibull, _instance)
        shape = tuple(batch_shape)
        new.scale = self.scale.expand(shape)
        new.concentration = self.concentration.expand(shape)
        new.concentration_reciprocal = new.concentration.reciprocal()
        base = self.base_dist.expand(shape)
        chain = [PowerTransform(exponent=new.concentration_reciprocal),
                 AffineTransform(loc=0, scale=new.scale)]
        TransformedDistribution.__init__(new, base, chain, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.scale * S.lgamma(1 + self.concentration_reciprocal).exp()

    @property
    def mode(self) -> Tensor:
        c = self.concentration
        return self.scale * ((c - 1) / c) ** c.reciprocal()

    @property
    def variance(self) -> Tensor:
        r = self.concentration_reciprocal
        return self.scale.pow(2) * (S.lgamma(1 + 2 * r).exp()
                                    - (2 * S.lgamma(1 + r)).exp())

    def entropy(self) -> Tensor:
        return (_EULER * (1 - self.concentration_reciprocal)
                + (self.scale * self.concentration_reciprocal).log() + 1)


class Pareto(_TransformedFamily):
    """Pareto(scale, alpha): ``scale * exp(X)`` for ``X ~ Exponential(alpha)``."""

    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}

    def __init__(self, scale, alpha, validate_args: Optional[bool] = None) -> None:
        self.scale, self.alpha = broadcast_all(scale, alpha)
        base = Exponential(self.alpha, validate_args=validate_args)
        super().__init__(base, [ExpTransform(), AffineTransform(loc=0, scale=self.scale)],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Pareto, _instance)
        new.scale = self.scale.expand(tuple(batch_shape))
        new.alpha = self.alpha.expand(tuple(batch_shape))
        return TransformedDistribution.expand(self, batch_shape, _instance=new)

    @property
    def support(self):
        return constraints.greater_than_eq(self.scale)

    @property
    def mean(self) -> Tensor:
        a = self.alpha.clamp(min=1)  # infinite mean for alpha <= 1
        return a * self.scale / (a - 1)

    @property
    def mode(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        a = self.alpha.clamp(min=2)  # infinite variance for alpha <= 2
        return self.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))

    def entropy(self) -> Tensor:
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())


def _kumaraswamy_moment(a: Tensor, b: Tensor, n: int) -> Tensor:
    # E[X^n] = b B(1 + n/a, b).
    arg = 1 + n / a
    return b * (S.lgamma(arg) + S.lgamma(b) - S.lgamma(arg + b)).exp()


class Kumaraswamy(_TransformedFamily):
    """Kumaraswamy(concentration1, concentration0) on (0, 1): ``(1 - U^(1/b))^(1/a)``."""

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0,
                 validate_args: Optional[bool] = None) -> None:
        self.concentration1, self.concentration0 = broadcast_all(concentration1,
                                                                 concentration0)
        base = Uniform(E.zeros_like(self.concentration0), E.ones_like(self.concentration0),
                       validate_args=validate_args)
        chain = [PowerTransform(exponent=self.concentration0.reciprocal()),
                 AffineTransform(loc=1.0, scale=-1.0),
                 PowerTransform(exponent=self.concentration1.reciprocal())]
        super().__init__(base, chain, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Kumaraswamy, _instance)
        new.concentration1 = self.concentration1.expand(tuple(batch_shape))
        new.concentration0 = self.concentration0.expand(tuple(batch_shape))
        return TransformedDistribution.expand(self, batch_shape, _instance=new)

    @property
    def mean(self) -> Tensor:
        return _kumaraswamy_moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        # ((a - 1) / (a b - 1))^(1/a), in logs; undefined (nan) when a < 1 or b < 1.
        log_mode = b.reciprocal() * (-b).log1p() - (-b * a).log1p()
        log_mode = _full_nan_where((b < 1) | (a < 1), log_mode, math.nan)
        return log_mode.exp()

    @property
    def variance(self) -> Tensor:
        return (_kumaraswamy_moment(self.concentration1, self.concentration0, 2)
                - self.mean.pow(2))

    def entropy(self) -> Tensor:
        t1 = 1 - self.concentration1.reciprocal()
        t0 = 1 - self.concentration0.reciprocal()
        h0 = S.digamma(self.concentration0 + 1) + _EULER
        return t0 + t1 * h0 - self.concentration1.log() - self.concentration0.log()


class LogisticNormal(_TransformedFamily):
    """Stick-breaking image of ``Normal(loc, scale)``: a distribution on the simplex."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args: Optional[bool] = None) -> None:
        base = Normal(loc, scale, validate_args=validate_args)
        if not base.batch_shape:
            base = base.expand([1])
        super().__init__(base, StickBreakingTransform(), validate_args=validate_args)

    @property
    def loc(self) -> Tensor:
        return self.base_dist.base_dist.loc

    @property
    def scale(self) -> Tensor:
        return self.base_dist.base_dist.scale


class Chi2(Gamma):
    """Chi-squared with ``df`` degrees of freedom: Gamma(df / 2, 1 / 2)."""

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args: Optional[bool] = None) -> None:
        (df,) = broadcast_all(df)
        if validate_args is not False and (validate_args or Distribution._validate_args):
            if not bool(constraints.positive.check(df).all()):
                raise ValueError(f"Expected parameter df (Tensor of shape {tuple(df.shape)}) "
                                 f"of distribution Chi2() to satisfy the constraint "
                                 f"GreaterThan(lower_bound=0.0), but found invalid values:\n"
                                 f"{df}")
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> "Chi2":
        new = self._get_checked_instance(Chi2, _instance)
        return Gamma.expand(self, batch_shape, _instance=new)

    @property
    def df(self) -> Tensor:
        return self.concentration * 2

    def __repr__(self) -> str:
        return f"Chi2(df: {self.df if self.df.numel() == 1 else _size(self.df.shape)})"


class StudentT(Distribution):
    """Student's t with ``df`` degrees of freedom, location ``loc`` and scale ``scale``."""

    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args: Optional[bool] = None) -> None:
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df, validate_args=False)
        super().__init__(self.df.shape, (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "StudentT":
        new = self._expand_params(StudentT, batch_shape, ("df", "loc", "scale"), _instance)
        new._chi2 = self._chi2.expand(batch_shape)
        return new

    @property
    def mean(self) -> Tensor:
        return _full_nan_where(self.df <= 1, self.loc, math.nan)

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        df = self.df
        # Guard the denominator where the closed form does not apply (replaced below).
        v = self.scale.pow(2) * df / E.where(df > 2, df - 2, E.ones_like(df))
        v = E.where(df > 2, v, E.full_like(v, math.inf))
        return _full_nan_where(df <= 1, v, math.nan)

    def rsample(self, sample_shape=()) -> Tensor:
        # t = Z / sqrt(V / df) for Z ~ N(0, 1) and V ~ Chi2(df).
        shape = self._extended_shape(sample_shape)
        z = _standard_normal(shape, self.df)
        v = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * z * (v / self.df).rsqrt()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        df = self.df
        y = (value - self.loc) / self.scale
        log_norm = (self.scale.log() + 0.5 * df.log() + 0.5 * math.log(math.pi)
                    + S.lgamma(0.5 * df) - S.lgamma(0.5 * (df + 1.0)))
        return -0.5 * (df + 1.0) * (y.pow(2) / df).log1p() - log_norm

    def entropy(self) -> Tensor:
        df = self.df
        lbeta = S.lgamma(0.5 * df) + math.lgamma(0.5) - S.lgamma(0.5 * (df + 1))
        return (self.scale.log()
                + 0.5 * (df + 1) * (S.digamma(0.5 * (df + 1)) - S.digamma(0.5 * df))
                + 0.5 * df.log() + lbeta)


class FisherSnedecor(Distribution):
    """F-distribution with ``df1`` and ``df2`` degrees of freedom."""

    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args: Optional[bool] = None) -> None:
        self.df1, self.df2 = broadcast_all(df1, df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1, validate_args=False)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2, validate_args=False)
        super().__init__(self.df1.shape, (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "FisherSnedecor":
        new = self._expand_params(FisherSnedecor, batch_shape, ("df1", "df2"), _instance)
        new._gamma1 = self._gamma1.expand(batch_shape)
        new._gamma2 = self._gamma2.expand(batch_shape)
        return new

    @property
    def mean(self) -> Tensor:
        df2 = self.df2
        m = df2 / E.where(df2 > 2, df2 - 2, E.ones_like(df2))
        return _full_nan_where(df2 <= 2, m, math.nan)

    @property
    def mode(self) -> Tensor:
        m = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return _full_nan_where(self.df1 <= 2, m, math.nan)

    @property
    def variance(self) -> Tensor:
        df1, df2 = self.df1, self.df2
        safe = E.where(df2 > 4, df2, E.full_like(df2, 5.0))
        v = 2 * safe.pow(2) * (df1 + safe - 2) / (df1 * (safe - 2).pow(2) * (safe - 4))
        return _full_nan_where(df2 <= 4, v, math.nan)

    def rsample(self, sample_shape=()) -> Tensor:
        # (X1 / df1) / (X2 / df2) with Xi ~ Chi2(dfi); each Gamma(df/2, df) is already Xi/dfi.
        x1 = self._gamma1.rsample(sample_shape)
        x2 = self._gamma2.rsample(sample_shape)
        tiny = float(_finfo(x2.dtype).tiny)
        return (x1 / x2.clamp(min=tiny)).clamp(min=tiny)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        h1, h2 = self.df1 * 0.5, self.df2 * 0.5
        ratio = self.df1 / self.df2
        t1 = S.lgamma(h1 + h2) - S.lgamma(h1) - S.lgamma(h2)
        t2 = h1 * ratio.log() + (h1 - 1) * value.log()
        t3 = (h1 + h2) * (ratio * value).log1p()
        return t1 + t2 - t3


class InverseGamma(_TransformedFamily):
    """``1 / X`` for ``X ~ Gamma(concentration, rate)``."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration, rate, validate_args: Optional[bool] = None) -> None:
        base = Gamma(concentration, rate, validate_args=validate_args)
        neg_one = -E.ones_like(base.rate)
        super().__init__(base, PowerTransform(neg_one), validate_args=validate_args)

    @property
    def concentration(self) -> Tensor:
        return self.base_dist.concentration

    @property
    def rate(self) -> Tensor:
        return self.base_dist.rate

    @property
    def mean(self) -> Tensor:
        c = self.concentration
        m = self.rate / E.where(c > 1, c - 1, E.ones_like(c))
        return _full_nan_where(c <= 1, m, math.inf)

    @property
    def mode(self) -> Tensor:
        return self.rate / (self.concentration + 1)

    @property
    def variance(self) -> Tensor:
        c = self.concentration
        safe = E.where(c > 2, c, E.full_like(c, 3.0))
        v = self.rate.pow(2) / ((safe - 1).pow(2) * (safe - 2))
        return _full_nan_where(c <= 2, v, math.inf)

    def entropy(self) -> Tensor:
        c = self.concentration
        return c + self.rate.log() + S.lgamma(c) - (1 + c) * S.digamma(c)


# Abramowitz & Stegun 9.8.1-9.8.4: polynomial approximations of I0 and I1 (relative error
# below ~1e-7), small-x in (x / 3.75)^2 and large-x in 3.75 / x.
_I_SMALL = {0: (1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.0360768, 0.0045813),
            1: (0.5, 0.87890594, 0.51498869, 0.15084934, 0.02658733, 0.00301532,
                0.00032411)}
_I_LARGE = {0: (0.39894228, 0.01328592, 0.00225319, -0.00157565, 0.00916281, -0.02057706,
                0.02635537, -0.01647633, 0.00392377),
            1: (0.39894228, -0.03988024, -0.00362018, 0.00163801, -0.01031555, 0.02282967,
                -0.02895312, 0.01787654, -0.00420059)}


def _horner(coefs, t: Tensor) -> Tensor:
    out = E.full_like(t, coefs[-1])
    for c in reversed(coefs[:-1]):
        out = out * t + c
    return out


def _log_bessel_i(x: Tensor, order: int) -> Tensor:
    """``log I_order(x)`` for ``x > 0`` (order 0 or 1)."""
    small_x = x.clamp(max=3.75)
    small = _horner(_I_SMALL[order], (small_x / 3.75).pow(2)).log()
    if order == 1:
        small = small + small_x.log()
    large_x = x.clamp(min=3.75)
    large = large_x - 0.5 * large_x.log() + _horner(_I_LARGE[order], 3.75 / large_x).log()
    return E.where(x < 3.75, small, large)


class VonMises(Distribution):
    """Von Mises (circular normal) on ``[-pi, pi)``; sampled by Best & Fisher's rejection
    scheme (not reparameterised, as torch)."""

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args: Optional[bool] = None) -> None:
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "VonMises":
        return self._expand_params(VonMises, batch_shape, ("loc", "concentration"), _instance)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        k = self.concentration
        return (k * (value - self.loc).cos() - math.log(2 * math.pi)
                - _log_bessel_i(k, 0))

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        k = self.concentration
        return 1 - (_log_bessel_i(k, 1) - _log_bessel_i(k, 0)).exp()

    def sample(self, sample_shape=()) -> Tensor:
        # Double precision throughout: small concentrations stall the loop in float32.
        with E.no_grad():
            shape = tuple(self._extended_shape(sample_shape))
            k = self.concentration.detach().double().expand(shape)
            loc = self.loc.detach().double().expand(shape)
            tau = 1 + (1 + 4 * k.pow(2)).sqrt()
            rho = (tau - (2 * tau).sqrt()) / (2 * k)
            r = E.where(k < 1e-5, 1 / k + k, (1 + rho.pow(2)) / (2 * rho))
            x = E.zeros(shape, dtype=E.float64, device=loc.device)
            done = E.zeros(shape, dtype=E.bool, device=loc.device)
            while not bool(done.all()):
                u1, u2, u3 = (_uniform(shape, x) for _ in range(3))
                z = (math.pi * u1).cos()
                f = (1 + r * z) / (r + z)
                c = k * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                new = (u3 - 0.5).sign() * f.clamp(min=-1, max=1).arccos()
                take = accept & ~done
                x = E.where(take, new, x)
                done = done | accept
            out = (x + math.pi + loc).remainder(2 * math.pi) - math.pi
            return out.to(self.loc.dtype)


class ContinuousBernoulli(ExponentialFamily):
    """Continuous Bernoulli on [0, 1] (Loaiza-Ganem & Cunningham, 2019), given ``probs`` or
    ``logits``; near ``probs = 0.5`` the normaliser and moments use Taylor expansions."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501),
                 validate_args: Optional[bool] = None) -> None:
        _, param = _probs_logits_init(self, probs, logits)
        self._lims = lims
        super().__init__(param.shape, (), validate_args)
        if "probs" in self.__dict__:
            eps = float(_finfo(self.probs.dtype).eps)
            self.probs = self.probs.clamp(min=eps, max=1 - eps)

    def expand(self, batch_shape, _instance=None) -> "ContinuousBernoulli":
        new = self._expand_params(ContinuousBernoulli, batch_shape, ("probs", "logits"),
                                  _instance)
        new._lims = self._lims
        return new

    def __getattr__(self, name):
        d = self.__dict__
        if name == "probs" and "logits" in d:
            p = d["logits"].sigmoid()
            eps = float(_finfo(p.dtype).eps)
            return p.clamp(min=eps, max=1 - eps)
        if name == "logits" and "probs" in d:
            p = d["probs"]
            eps = float(_finfo(p.dtype).eps)
            p = p.clamp(min=eps, max=1 - eps)
            return p.log() - (-p).log1p()
        raise AttributeError(name)

    @property
    def param_shape(self):
        return self.batch_shape

    def _outside_unstable_region(self) -> Tensor:
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self) -> Tensor:
        return E.where(self._outside_unstable_region(), self.probs,
                       E.full_like(self.probs, self._lims[0]))

    def _cont_bern_log_norm(self) -> Tensor:
        cut = self._cut_probs()
        below = E.where(cut <= 0.5, cut, E.zeros_like(cut))
        above = E.where(cut >= 0.5, cut, E.ones_like(cut))
        log_norm = ((-cut).log1p() - cut.log()).abs().log() - E.where(
            cut <= 0.5, (-2.0 * below).log1p(), (2.0 * above - 1.0).log())
        x = (self.probs - 0.5).pow(2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return E.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self) -> Tensor:
        cut = self._cut_probs()
        mus = cut / (2.0 * cut - 1.0) + 1.0 / ((-cut).log1p() - cut.log())
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x.pow(2)) * x
        return E.where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    @property
    def variance(self) -> Tensor:
        cut = self._cut_probs()
        v = cut * (cut - 1.0) / (1.0 - 2.0 * cut).pow(2) + 1.0 / (
            (-cut).log1p() - cut.log()).pow(2)
        x = (self.probs - 0.5).pow(2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return E.where(self._outside_unstable_region(), v, taylor)

    def rsample(self, sample_shape=()) -> Tensor:
        u = _uniform(self._extended_shape(sample_shape), self.probs)
        return self.icdf(u)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = E.broadcast_tensors(self.logits, value)
        bce = E.nn.functional.binary_cross_entropy_with_logits(logits, value,
                                                               reduction="none")
        return -bce + self._cont_bern_log_norm()

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        cut = self._cut_probs()
        cdfs = (cut.pow(value) * (1.0 - cut).pow(1.0 - value) + cut - 1.0) / (2.0 * cut - 1.0)
        unbounded = E.where(self._outside_unstable_region(), cdfs, value)
        return E.where(value <= 0.0, E.zeros_like(value),
                       E.where(value >= 1.0, E.ones_like(value), unbounded))

    def icdf(self, value: Tensor) -> Tensor:
        cut = self._cut_probs()
        inv = ((-cut + value * (2.0 * cut - 1.0)).log1p() - (-cut).log1p()) / (
            cut.log() - (-cut).log1p())
        return E.where(self._outside_unstable_region(), inv, value)

    def entropy(self) -> Tensor:
        log_p0 = (-self.probs).log1p()
        log_p1 = self.probs.log()
        return self.mean * (log_p0 - log_p1) - self._cont_bern_log_norm() - log_p0

    @property
    def _natural_params(self):
        return (self.logits,)

    @property
    def _mean_carrier_measure(self):
        return 0.0

    def _log_normalizer(self, x):
        lo, hi = self._lims[0] - 0.5, self._lims[1] - 0.5
        outside = (x <= lo) | (x > hi)
        cut = E.where(outside, x, E.full_like(x, lo))
        log_norm = (cut.exp() - 1.0).abs().log() - cut.abs().log()
        taylor = 0.5 * x + x.pow(2) / 24.0 - x.pow(4) / 2880.0
        return E.where(outside, log_norm, taylor)

