"""Normal, Uniform, Gamma, Beta, MultivariateNormal, Exponential, Laplace, Cauchy and
Dirichlet."""
from __future__ import annotations

import math
from numbers import Number
from typing import Optional

import ember as E
from ..tensor import Tensor
from . import _special as S
from . import constraints
from .distribution import Distribution, _finfo, _size, _standard_normal, _uniform, broadcast_all

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class _LocScale(Distribution):
    """A location-scale family on the real line: broadcast ``loc`` and ``scale``, scalar
    events, reparameterised sampling."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args: Optional[bool] = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)

    # Every family here is symmetric and unimodal about loc (Cauchy overrides the mean).
    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc


class Normal(_LocScale):
    """Normal(loc, scale).

    Args:
        loc: mean. scale: standard deviation (> 0).
        validate_args: check the parameters and log_prob values.

    Shape:
        batch_shape is the broadcast shape of loc and scale; event_shape ().

    Example:
        >>> Normal(ember.tensor([0.0]), ember.tensor([1.0])).rsample((3,)).shape
        torch.Size([3, 1])
    """

    def expand(self, batch_shape, _instance=None) -> "Normal":
        return self._expand_params(Normal, batch_shape, ("loc", "scale"), _instance)

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale.pow(2)

    def rsample(self, sample_shape=()) -> Tensor:
        eps = _standard_normal(self._extended_shape(sample_shape), self.loc)
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale ** 2
        log_scale = self.scale.log()
        return -((value - self.loc) ** 2) / (2 * var) - log_scale - _LOG_SQRT_2PI

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + E.erf((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)))

    def icdf(self, value: Tensor) -> Tensor:
        # Phi^-1(p) = sqrt(2) erfinv(2p - 1).
        return self.loc + self.scale * S.erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self) -> Tensor:
        return 0.5 + _LOG_SQRT_2PI + self.scale.log()


class Uniform(Distribution):
    """Uniform on ``[low, high)``.

    Args:
        low, high: bounds (low < high).

    Shape:
        batch_shape is the broadcast shape of low and high.

    Example:
        >>> Uniform(0.0, 2.0).sample((4,)).shape
        torch.Size([4])
    """

    arg_constraints = {"low": constraints.dependent, "high": constraints.dependent}
    has_rsample = True

    def __init__(self, low, high, validate_args: Optional[bool] = None) -> None:
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, (), validate_args)
        if self._validate_args and not bool((self.low < self.high).all()):
            raise ValueError(
                f"Expected parameter low (Tensor of shape {tuple(self.low.shape)}) of "
                f"distribution {self!r} to satisfy the constraint LessThan(upper_bound=high), "
                f"but found invalid values:\n{self.low}")

    def expand(self, batch_shape, _instance=None) -> "Uniform":
        return self._expand_params(Uniform, batch_shape, ("low", "high"), _instance)

    def __repr__(self) -> str:
        v = [(k, getattr(self, k)) for k in ("low", "high")]
        return "Uniform(" + ", ".join(
            f"{k}: {t if t.numel() == 1 else _size(t.shape)}" for k, t in v) + ")"

    @property
    def support(self):
        return constraints.interval(self.low, self.high)

    @property
    def mean(self) -> Tensor:
        return (self.high + self.low) / 2

    @property
    def mode(self) -> Tensor:
        return self.high * float("nan")

    @property
    def stddev(self) -> Tensor:
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape=()) -> Tensor:
        u = _uniform(self._extended_shape(sample_shape), self.low)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        lb = (self.low <= value).to(self.low.dtype)
        ub = (self.high > value).to(self.low.dtype)
        return (lb * ub).log() - (self.high - self.low).log()

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value: Tensor) -> Tensor:
        return value * (self.high - self.low) + self.low

    def entropy(self) -> Tensor:
        return (self.high - self.low).log()


class Gamma(Distribution):
    """Gamma(concentration, rate); ``rsample`` has implicit reparameterisation gradients.

    Args:
        concentration: shape alpha (> 0). rate: beta (> 0).

    Shape:
        batch_shape is the broadcast shape of the parameters.

    Example:
        >>> Gamma(ember.tensor([2.0]), ember.tensor([1.0])).rsample().shape
        torch.Size([1])
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args: Optional[bool] = None) -> None:
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "Gamma":
        return self._expand_params(Gamma, batch_shape, ("concentration", "rate"), _instance)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        alpha = self.concentration.expand(shape)
        x = S.standard_gamma_rsample(alpha) / self.rate.expand(shape)
        return x.clamp(min=float(_finfo(x.dtype).tiny))

    def log_prob(self, value: Tensor) -> Tensor:
        if not isinstance(value, Tensor):
            value = E.tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        if self._validate_args:
            self._validate_sample(value)
        c, r = self.concentration, self.rate
        return E.xlogy(c, r) + E.xlogy(c - 1, value) - r * value - S.lgamma(c)

    def entropy(self) -> Tensor:
        c = self.concentration
        return c - self.rate.log() + S.lgamma(c) + (1.0 - c) * S.digamma(c)


class Beta(Distribution):
    """Beta(concentration1, concentration0) on (0, 1); ``rsample`` through two Gammas.

    Args:
        concentration1: alpha (> 0). concentration0: beta (> 0).

    Shape:
        batch_shape is the broadcast shape of the parameters.

    Example:
        >>> Beta(ember.tensor([0.5]), ember.tensor([0.5])).sample().shape
        torch.Size([1])
    """

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0,
                 validate_args: Optional[bool] = None) -> None:
        # Two numbers give scalar parameters and batch_shape () (torch's Beta is a Dirichlet
        # over a length-2 vector, whose batch_shape is then ()).
        self.concentration1, self.concentration0 = broadcast_all(concentration1,
                                                                 concentration0)
        super().__init__(self.concentration1.shape, (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "Beta":
        return self._expand_params(Beta, batch_shape, ("concentration1", "concentration0"),
                                   _instance)

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        return (self.concentration1 - 1) / (self.concentration1 + self.concentration0 - 2)

    @property
    def variance(self) -> Tensor:
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        g1 = S.standard_gamma_rsample(self.concentration1.expand(shape))
        g0 = S.standard_gamma_rsample(self.concentration0.expand(shape))
        eps = float(_finfo(g1.dtype).eps)
        tiny = float(_finfo(g1.dtype).tiny)
        x = g1 / (g1 + g0).clamp(min=tiny)
        return x.clamp(min=tiny, max=1 - eps)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return (E.xlogy(a - 1.0, value) + E.xlogy(b - 1.0, 1.0 - value)
                + S.lgamma(a + b) - S.lgamma(a) - S.lgamma(b))

    def entropy(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        a0 = a + b
        return (S.lgamma(a) + S.lgamma(b) - S.lgamma(a0) - (2.0 - a0) * S.digamma(a0)
                - (a - 1.0) * S.digamma(a) - (b - 1.0) * S.digamma(b))


def _scale_tril_of(scale_tril: Optional[Tensor], covariance_matrix: Optional[Tensor],
                   precision_matrix: Optional[Tensor]) -> Tensor:
    """The (unbroadcast) Cholesky factor of the covariance from whichever one is given."""
    if scale_tril is not None:
        return scale_tril
    if covariance_matrix is not None:
        return S.cholesky(covariance_matrix)
    # P = Lp Lp^T  =>  Sigma = Lp^-T Lp^-1; its Cholesky factor is the scale.
    lp = S.cholesky(precision_matrix)
    eye = E.eye(lp.shape[-1], dtype=lp.dtype, device=lp.device).expand(tuple(lp.shape))
    linv = S.solve_triangular(lp, eye)
    return S.cholesky(linv.mT.matmul(linv))


_TRIL_DERIVED = ("scale_tril", "covariance_matrix", "precision_matrix")


def _derived_from_tril(L: Tensor, name: str, shape: tuple) -> Tensor:
    """``scale_tril``, ``covariance_matrix`` or ``precision_matrix`` rebuilt from the scale
    factor ``L`` and expanded to ``shape`` (for families that store only ``L``)."""
    if name == "scale_tril":
        return L.expand(shape)
    if name == "covariance_matrix":
        return L.matmul(L.mT).expand(shape)
    if name == "precision_matrix":
        eye = E.eye(L.shape[-1], dtype=L.dtype, device=L.device).expand(tuple(L.shape))
        linv = S.solve_triangular(L, eye)
        return linv.mT.matmul(linv).expand(shape)
    raise AttributeError(name)


class MultivariateNormal(Distribution):
    """Multivariate normal with a covariance, precision or lower-Cholesky scale matrix.

    Args:
        loc: ``(*, n)`` mean. Exactly one of covariance_matrix ``(*, n, n)``,
        precision_matrix ``(*, n, n)`` or scale_tril ``(*, n, n)``.

    Shape:
        batch_shape is the broadcast of ``loc.shape[:-1]`` and the matrix batch; event (n,).

    Example:
        >>> d = MultivariateNormal(ember.zeros(2), covariance_matrix=ember.eye(2))
        >>> d.rsample((5,)).shape
        torch.Size([5, 2])
    """

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: Tensor, covariance_matrix: Optional[Tensor] = None,
                 precision_matrix: Optional[Tensor] = None,
                 scale_tril: Optional[Tensor] = None,
                 validate_args: Optional[bool] = None) -> None:
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        if (covariance_matrix is not None) + (scale_tril is not None) + \
                (precision_matrix is not None) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        mat = next(m for m in (scale_tril, covariance_matrix, precision_matrix)
                   if m is not None)
        if mat.dim() < 2:
            name = ("scale_tril" if scale_tril is not None else "covariance_matrix"
                    if covariance_matrix is not None else "precision_matrix")
            raise ValueError(f"{name} matrix must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        batch_shape = E.broadcast_shapes(tuple(mat.shape[:-2]), tuple(loc.shape[:-1]))
        n = loc.shape[-1]
        mshape = tuple(batch_shape) + (n, n)
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(mshape)
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(mshape)
        else:
            self.precision_matrix = precision_matrix.expand(mshape)
        self.loc = loc.expand(tuple(batch_shape) + (n,))
        super().__init__(batch_shape, (n,), validate_args)
        self._unbroadcasted_scale_tril = _scale_tril_of(scale_tril, covariance_matrix,
                                                        precision_matrix)

    def expand(self, batch_shape, _instance=None) -> "MultivariateNormal":
        new = self._expand_params(MultivariateNormal, batch_shape,
                                  ("loc", "covariance_matrix", "precision_matrix",
                                   "scale_tril"), _instance)
        # The factor stays unbroadcast: log_prob and rsample broadcast it themselves.
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        return new

    def __getattr__(self, name):
        # covariance_matrix / precision_matrix / scale_tril derived on demand (only those
        # names touch the factor, so a missing factor cannot recurse).
        if name in _TRIL_DERIVED:
            return _derived_from_tril(self._unbroadcasted_scale_tril, name,
                                      tuple(self._batch_shape) + tuple(self._event_shape) * 2)
        raise AttributeError(name)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(
            tuple(self._batch_shape) + tuple(self._event_shape))

    def rsample(self, sample_shape=()) -> Tensor:
        eps = _standard_normal(self._extended_shape(sample_shape), self.loc)
        return self.loc + self._unbroadcasted_scale_tril.matmul(eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self) -> Tensor:
        return self._unbroadcasted_scale_tril.diagonal(0, -2, -1).log().sum(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        L = self._unbroadcasted_scale_tril
        shape = E.broadcast_shapes(tuple(diff.shape[:-1]), tuple(L.shape[:-2]))
        n = self._event_shape[0]
        z = S.solve_triangular(L.expand(tuple(shape) + (n, n)),
                               diff.expand(tuple(shape) + (n,)).unsqueeze(-1)).squeeze(-1)
        m = z.pow(2).sum(-1)
        return -0.5 * (n * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self) -> Tensor:
        n = self._event_shape[0]
        h = 0.5 * n * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(tuple(self._batch_shape)) if len(self._batch_shape) else h


class Exponential(Distribution):
    """Exponential(rate) on ``[0, inf)``.

    Args:
        rate: the rate (> 0), 1 / mean.

    Shape:
        batch_shape is the rate's shape (``()`` for a number).

    Example:
        >>> Exponential(ember.tensor([2.0])).icdf(ember.tensor([0.5])).shape
        torch.Size([1])
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args: Optional[bool] = None) -> None:
        (self.rate,) = broadcast_all(rate)
        super().__init__(() if isinstance(rate, Number) else self.rate.shape, (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "Exponential":
        return self._expand_params(Exponential, batch_shape, ("rate",), _instance)

    @property
    def mean(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def mode(self) -> Tensor:
        return E.zeros_like(self.rate)

    @property
    def stddev(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def variance(self) -> Tensor:
        return self.rate.pow(-2)

    def rsample(self, sample_shape=()) -> Tensor:
        u = _uniform(self._extended_shape(sample_shape), self.rate)
        # -log(1 - u) with u in [0, 1): a standard exponential that is never infinite.
        return -(-u).log1p() / self.rate

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value: Tensor) -> Tensor:
        return -(-value).log1p() / self.rate

    def entropy(self) -> Tensor:
        return 1.0 - self.rate.log()


class Laplace(_LocScale):
    """Laplace(loc, scale): density ``exp(-|x - loc| / scale) / (2 scale)``.

    Args:
        loc: the median. scale: the spread (> 0).

    Shape:
        batch_shape is the broadcast shape of loc and scale.

    Example:
        >>> Laplace(0.0, 1.0).cdf(ember.tensor(0.0))
        tensor(0.5000)
    """

    def expand(self, batch_shape, _instance=None) -> "Laplace":
        return self._expand_params(Laplace, batch_shape, ("loc", "scale"), _instance)

    @property
    def stddev(self) -> Tensor:
        return math.sqrt(2) * self.scale

    @property
    def variance(self) -> Tensor:
        return 2 * self.scale.pow(2)

    def rsample(self, sample_shape=()) -> Tensor:
        eps = float(_finfo(self.loc.dtype).eps)
        # u in (-1, 1): the inverse cdf of a standard Laplace is -sign(u) log(1 - |u|).
        u = (2 * _uniform(self._extended_shape(sample_shape), self.loc) - 1).clamp(min=eps - 1)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        d = value - self.loc
        return 0.5 - 0.5 * d.sign() * (-d.abs() / self.scale).expm1()

    def icdf(self, value: Tensor) -> Tensor:
        t = value - 0.5
        return self.loc - self.scale * t.sign() * (-2 * t.abs()).log1p()

    def entropy(self) -> Tensor:
        return 1 + (2 * self.scale).log()


class Cauchy(_LocScale):
    """Cauchy(loc, scale): no mean or variance (nan and inf, as torch).

    Args:
        loc: the median. scale: the half width at half maximum (> 0).

    Shape:
        batch_shape is the broadcast shape of loc and scale.

    Example:
        >>> Cauchy(0.0, 1.0).icdf(ember.tensor(0.75))
        tensor(1.0000)
    """

    def expand(self, batch_shape, _instance=None) -> "Cauchy":
        return self._expand_params(Cauchy, batch_shape, ("loc", "scale"), _instance)

    @property
    def mean(self) -> Tensor:
        return E.full(tuple(self._extended_shape()), float("nan"), dtype=self.loc.dtype,
                      device=self.loc.device)

    @property
    def variance(self) -> Tensor:
        return E.full(tuple(self._extended_shape()), float("inf"), dtype=self.loc.dtype,
                      device=self.loc.device)

    def rsample(self, sample_shape=()) -> Tensor:
        u = _uniform(self._extended_shape(sample_shape), self.loc)
        eps = (math.pi * (u - 0.5)).tan()  # a standard Cauchy draw by its inverse cdf
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -math.log(math.pi) - self.scale.log() - z.pow(2).log1p()

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value: Tensor) -> Tensor:
        return (math.pi * (value - 0.5)).tan() * self.scale + self.loc

    def entropy(self) -> Tensor:
        return math.log(4 * math.pi) + self.scale.log()


class Dirichlet(Distribution):
    """Dirichlet(concentration) on the probability simplex; ``rsample`` normalises Gamma draws,
    each reparameterised implicitly, so gradients reach the concentration.

    Args:
        concentration: ``(*, K)`` positive concentrations (at least one-dimensional).

    Shape:
        batch_shape ``*``, event_shape ``(K,)``.

    Example:
        >>> Dirichlet(ember.tensor([0.5, 1.0, 2.0])).rsample((4,)).shape
        torch.Size([4, 3])
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration: Tensor, validate_args: Optional[bool] = None) -> None:
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(tuple(concentration.shape[:-1]), tuple(concentration.shape[-1:]),
                         validate_args)

    def expand(self, batch_shape, _instance=None) -> "Dirichlet":
        return self._expand_params(Dirichlet, batch_shape, ("concentration",), _instance)

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        # Independent Gamma(alpha_i, 1) draws divided by their sum are Dirichlet(alpha); the
        # Gamma op's implicit gradient flows through the normalisation by autograd.
        g = S.standard_gamma_rsample(self.concentration.expand(shape))
        x = g / g.sum(-1, keepdim=True)
        return x.clamp(min=float(_finfo(x.dtype).tiny))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return (E.xlogy(c - 1.0, value).sum(-1) + S.lgamma(c.sum(-1))
                - S.lgamma(c).sum(-1))

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        c = self.concentration
        cm1 = (c - 1).clamp(min=0.0)
        # The clamp only keeps 0/0 out of rows that the where below replaces anyway.
        mode = cm1 / cm1.sum(-1, keepdim=True).clamp(min=float(_finfo(c.dtype).tiny))
        # With every concentration below one the density peaks at all vertices; torch reports
        # the first vertex there.
        all_small = (c < 1).all(-1, keepdim=True)
        first = (E.arange(c.shape[-1], device=c.device) == 0).to(c.dtype)
        return E.where(all_small, first, mode)

    @property
    def variance(self) -> Tensor:
        c = self.concentration
        c0 = c.sum(-1, keepdim=True)
        return c * (c0 - c) / (c0.pow(2) * (c0 + 1))

    def entropy(self) -> Tensor:
        c = self.concentration
        k = c.shape[-1]
        a0 = c.sum(-1)
        return (S.lgamma(c).sum(-1) - S.lgamma(a0) - (k - a0) * S.digamma(a0)
                - ((c - 1.0) * S.digamma(c)).sum(-1))
