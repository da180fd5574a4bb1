"""``GeneralizedPareto(loc, scale, concentration)``: the peaks-over-threshold family."""
from __future__ import annotations

import math
from typing import Optional

import ember as E
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, _finfo, _uniform, broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """Generalized Pareto with ``cdf(x) = 1 - (1 + xi z)^(-1/xi)``, ``z = (x - loc) / scale``
    (``1 - exp(-z)`` at ``xi = 0``). Support is ``[loc, inf)`` for ``xi >= 0`` and
    ``[loc, loc - scale / xi]`` for ``xi < 0``."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration,
                 validate_args: Optional[bool] = None) -> None:
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        super().__init__(tuple(self.loc.shape), (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "GeneralizedPareto":
        return self._expand_params(GeneralizedPareto, batch_shape,
                                   ("loc", "scale", "concentration"), _instance)

    def _is_zero(self) -> Tensor:
        # Like torch, |xi| <= 1e-8 takes the exponential (xi = 0) limit: the general formula
        # loses all precision there.
        return self.concentration.abs() <= 1e-8

    def _safe_conc(self) -> Tensor:
        # The xi = 0 branch is selected with where; this keeps the other branch finite there
        # so no nan leaks into gradients.
        c = self.concentration
        return E.where(self._is_zero(), E.ones_like(c), c)

    @property
    def _upper(self) -> Tensor:
        c = self.concentration
        return E.where(c < 0, self.loc - self.scale / self._safe_conc(),
                       E.full_like(self.loc, math.inf))

    @property
    def support(self):
        return constraints.interval(self.loc, self._upper)

    @property
    def mean(self) -> Tensor:
        c = self.concentration
        m = self.loc + self.scale / (1 - c)
        return E.where(c < 1, m, E.full_like(m, math.nan))

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        c = self.concentration
        v = self.scale.pow(2) / ((1 - c).pow(2) * (1 - 2 * c))
        return E.where(c < 0.5, v, E.full_like(v, math.nan))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        c, sc = self._is_zero(), self._safe_conc()
        general = -(1 + sc.reciprocal()) * (sc * z).log1p()
        return E.where(c, -z, general) - self.scale.log()

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        c, sc = self._is_zero(), self._safe_conc()
        log_surv = E.where(c, -z, -(sc * z).log1p() / sc)
        out = -log_surv.expm1()
        outside = (value < self.loc) | (value > self._upper)
        return E.where(outside, E.full_like(out, math.nan), out)

    def icdf(self, value: Tensor) -> Tensor:
        c, sc = self._is_zero(), self._safe_conc()
        log_surv = (-value).log1p()
        z = E.where(c, -log_surv, (-sc * log_surv).expm1() / sc)
        return self.loc + self.scale * z

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        u = _uniform(shape, self.loc)
        # Keep u off 1 so the unbounded tail stays finite.
        u = u.clamp(max=1 - float(_finfo(self.loc.dtype).eps))
        return self.icdf(u)

    def entropy(self) -> Tensor:
        return self.scale.log() + self.concentration + 1
