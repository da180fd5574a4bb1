"""Relaxed (Concrete / Gumbel-softmax) distributions: LogitRelaxedBernoulli,
RelaxedBernoulli, ExpRelaxedCategorical and RelaxedOneHotCategorical."""
from __future__ import annotations

import math
from typing import Optional

import ember as E
from ..tensor import Tensor
from . import _special as S
from . import constraints
from .discrete import (Categorical, _CategoricalBacked, _binary_getattr, _clamp_probs,
                       _probs_logits_init)
from .distribution import Distribution, _uniform, broadcast_all
from .transformed import TransformedDistribution
from .transforms import ExpTransform, SigmoidTransform

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli", "ExpRelaxedCategorical",
           "RelaxedOneHotCategorical"]


class LogitRelaxedBernoulli(Distribution):
    """Logit of a relaxed Bernoulli sample (Maddison et al., 2017) at ``temperature``."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None,
                 validate_args: Optional[bool] = None) -> None:
        self.temperature = temperature
        _, param = _probs_logits_init(self, probs, logits)
        super().__init__(param.shape, (), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_params(LogitRelaxedBernoulli, batch_shape, ("probs", "logits"),
                                  _instance)
        new.temperature = self.temperature
        return new

    __getattr__ = _binary_getattr

    @property
    def param_shape(self):
        return self.batch_shape

    def rsample(self, sample_shape=()) -> Tensor:
        probs = _clamp_probs(self.probs)
        u = _clamp_probs(_uniform(self._extended_shape(sample_shape), probs))
        # Logistic noise plus the logits, sharpened by the temperature.
        return (u.log() - (-u).log1p() + probs.log() - (-probs).log1p()) / self.temperature

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        diff = logits - value * self.temperature
        t = self.temperature
        log_t = t.log() if isinstance(t, Tensor) else math.log(t)
        return log_t + diff - 2 * diff.exp().log1p()


class _Relaxed(TransformedDistribution):
    """A relaxed family on its natural support: ``_transform`` of a ``_base`` sample built
    from the same arguments; temperature and parameters are the base's."""

    has_rsample = True
    _base: type
    _transform: type

    def __init__(self, temperature, probs=None, logits=None,
                 validate_args: Optional[bool] = None) -> None:
        base = self._base(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, self._transform(), validate_args=validate_args)

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self) -> Tensor:
        return self.base_dist.logits

    @property
    def probs(self) -> Tensor:
        return self.base_dist.probs

    def __repr__(self) -> str:
        return Distribution.__repr__(self)


class RelaxedBernoulli(_Relaxed):
    """A relaxed Bernoulli on (0, 1): the sigmoid of a LogitRelaxedBernoulli sample."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _base = LogitRelaxedBernoulli
    _transform = SigmoidTransform

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(RelaxedBernoulli, _instance)
        return TransformedDistribution.expand(self, batch_shape, _instance=new)


class ExpRelaxedCategorical(_CategoricalBacked, Distribution):
    """Log of a relaxed one-hot categorical sample (the Concrete distribution)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None,
                 validate_args: Optional[bool] = None) -> None:
        self._categorical = Categorical(probs, logits)
        self.temperature = temperature
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_categorical(ExpRelaxedCategorical, batch_shape, _instance)
        new.temperature = self.temperature
        return self._finish_expand(new, batch_shape)

    def rsample(self, sample_shape=()) -> Tensor:
        logits = self.logits
        u = _clamp_probs(_uniform(self._extended_shape(sample_shape), logits))
        gumbels = -((-(u.log())).log())
        scores = (logits + gumbels) / self.temperature
        return scores - scores.logsumexp(-1, keepdim=True)

    def log_prob(self, value: Tensor) -> Tensor:
        k = self._categorical._num_events
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        t = self.temperature
        t = t if isinstance(t, Tensor) else E.tensor(float(t), dtype=logits.dtype,
                                                     device=logits.device)
        # log (K-1)! + (K-1) log t: the Concrete density's normaliser.
        log_scale = S.lgamma(E.full_like(t, float(k))) + (k - 1) * t.log()
        score = logits - value * t
        score = (score - score.logsumexp(-1, keepdim=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(_Relaxed):
    """A relaxed one-hot categorical on the simplex (Gumbel-softmax) at ``temperature``."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    _base = ExpRelaxedCategorical
    _transform = ExpTransform

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(RelaxedOneHotCategorical, _instance)
        return TransformedDistribution.expand(self, batch_shape, _instance=new)
