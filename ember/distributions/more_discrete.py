"""More discrete families and mixtures: Poisson, Geometric, Binomial, NegativeBinomial,
Multinomial, OneHotCategoricalStraightThrough and MixtureSameFamily (as
``torch.distributions``)."""
from __future__ import annotations

from typing import Optional

import numpy as np

import ember as E
from ..tensor import Tensor
from . import _special as S
from . import constraints
from .continuous import Gamma
from .discrete import (Categorical, OneHotCategorical, _CategoricalBacked, _binary_getattr,
                       _probs_logits_init)
from .distribution import Distribution, _finfo, _uniform, broadcast_all
from .transformed import ExponentialFamily

__all__ = ["Poisson", "Geometric", "Binomial", "NegativeBinomial", "Multinomial",
           "OneHotCategoricalStraightThrough", "MixtureSameFamily"]


def _host_rng():
    from ..random import rng_of
    return rng_of(None)


class Poisson(ExponentialFamily):
    """Poisson(rate): counts with mean ``rate``.

    Example:
        >>> Poisson(ember.tensor([4.0])).sample((3,)).shape
        torch.Size([3, 1])
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args: Optional[bool] = None) -> None:
        (self.rate,) = broadcast_all(rate)
        shape = () if not isinstance(rate, Tensor) else self.rate.shape
        super().__init__(shape, (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "Poisson":
        return self._expand_params(Poisson, batch_shape, ("rate",), _instance)

    @property
    def mean(self) -> Tensor:
        return self.rate

    @property
    def mode(self) -> Tensor:
        return self.rate.floor()

    @property
    def variance(self) -> Tensor:
        return self.rate

    def sample(self, sample_shape=()) -> Tensor:
        with E.no_grad():
            return E.poisson(self.rate.detach().expand(tuple(self._extended_shape(sample_shape))))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return E.xlogy(value, rate) - rate - S.lgamma(value + 1)

    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        return x.exp()


class Geometric(Distribution):
    """Number of failures before the first success, success probability ``probs``."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args: Optional[bool] = None) -> None:
        _, param = _probs_logits_init(self, probs, logits)
        super().__init__(param.shape, (), validate_args)
        if self._validate_args and probs is not None and not bool((self.probs > 0).all()):
            raise ValueError(f"Expected parameter probs (Tensor of shape "
                             f"{tuple(self.probs.shape)}) of distribution {self!r} to "
                             f"satisfy the constraint Interval(lower_bound=0.0, "
                             f"upper_bound=1.0), but found invalid values:\n{self.probs}")

    def expand(self, batch_shape, _instance=None) -> "Geometric":
        return self._expand_params(Geometric, batch_shape, ("probs", "logits"), _instance)

    __getattr__ = _binary_getattr

    @property
    def mean(self) -> Tensor:
        return 1.0 / self.probs - 1.0

    @property
    def mode(self) -> Tensor:
        return E.zeros_like(self.probs)

    @property
    def variance(self) -> Tensor:
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()) -> Tensor:
        with E.no_grad():
            p = self.probs.detach()
            u = _uniform(self._extended_shape(sample_shape), p)
            u = u.clamp(min=float(_finfo(p.dtype).tiny))
            # Inverse-cdf: floor(log U / log(1 - p)).
            return (u.log() / (-p).log1p()).floor()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # 0 * log(0) is 0 when p == 1 and value == 0.
        probs = E.where((probs == 1) & (value == 0), E.zeros_like(probs), probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self) -> Tensor:
        bce = E.nn.functional.binary_cross_entropy_with_logits(self.logits, self.probs,
                                                               reduction="none")
        return bce / self.probs


def _clamp_by_zero(x: Tensor) -> Tensor:
    # max(x, 0) whose gradient at 0 is 1/2, as torch's Binomial.
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


class Binomial(Distribution):
    """Successes in ``total_count`` trials of probability ``probs`` (or ``logits``)."""

    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None,
                 validate_args: Optional[bool] = None) -> None:
        (self.total_count,), param = _probs_logits_init(self, probs, logits, (total_count,))
        self.total_count = self.total_count.to(param.dtype)
        super().__init__(param.shape, (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "Binomial":
        return self._expand_params(Binomial, batch_shape, ("total_count", "probs", "logits"),
                                   _instance)

    __getattr__ = _binary_getattr

    @property
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def param_shape(self):
        return self.batch_shape

    @property
    def mean(self) -> Tensor:
        return self.total_count * self.probs

    @property
    def mode(self) -> Tensor:
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        n = np.broadcast_to(self.total_count.detach().cpu().numpy(), shape)
        p = np.broadcast_to(self.probs.detach().cpu().numpy().astype(np.float64), shape)
        # Drawn on the host from ember's generator, returned where the parameters live.
        draws = _host_rng().binomial(n.astype(np.int64), p).astype(n.dtype)
        return E.tensor(draws, dtype=self.total_count.dtype, device=self.total_count.device)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        n, k = self.total_count, value
        log_fact_n = S.lgamma(n + 1)
        log_fact_k = S.lgamma(k + 1)
        log_fact_nmk = S.lgamma(n - k + 1)
        logits = self.logits
        # n log(1 + e^l) computed stably as n (max(l, 0) + log1p(e^-|l|)).
        norm = n * _clamp_by_zero(logits) + n * (-logits.abs()).exp().log1p() - log_fact_n
        return k * logits - log_fact_k - log_fact_nmk - norm

    def entropy(self) -> Tensor:
        n = int(self.total_count.max())
        if not float(self.total_count.min()) == n:
            raise NotImplementedError("Inhomogeneous total count not supported by `entropy`.")
        lp = self.log_prob(self.enumerate_support(False))
        return -(lp.exp() * lp).sum(0)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        n = int(self.total_count.max())
        if not float(self.total_count.min()) == n:
            raise NotImplementedError(
                "Inhomogeneous total count not supported by `enumerate_support`.")
        values = E.arange(1 + n, dtype=self.total_count.dtype, device=self.total_count.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values


class NegativeBinomial(Distribution):
    """Failures before ``total_count`` successes; ``probs`` is the failure probability (as
    torch)."""

    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None,
                 validate_args: Optional[bool] = None) -> None:
        (self.total_count,), param = _probs_logits_init(self, probs, logits, (total_count,))
        self.total_count = self.total_count.to(param.dtype)
        super().__init__(param.shape, (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "NegativeBinomial":
        return self._expand_params(NegativeBinomial, batch_shape,
                                   ("total_count", "probs", "logits"), _instance)

    __getattr__ = _binary_getattr

    @property
    def param_shape(self):
        return self.batch_shape

    @property
    def mean(self) -> Tensor:
        return self.total_count * self.logits.exp()

    @property
    def mode(self) -> Tensor:
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self) -> Tensor:
        return self.mean / (-self.logits).sigmoid()

    def sample(self, sample_shape=()) -> Tensor:
        # A Gamma-Poisson mixture: rate ~ Gamma(total_count, (1 - p) / p), count ~ Poisson.
        with E.no_grad():
            rate = Gamma(self.total_count.detach(), (-self.logits.detach()).exp(),
                         validate_args=False).sample(sample_shape)
            return E.poisson(rate)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        lsig = E.nn.functional.logsigmoid
        n = self.total_count
        unnorm = n * lsig(-self.logits) + value * lsig(self.logits)
        norm = -S.lgamma(n + value) + S.lgamma(1.0 + value) + S.lgamma(n)
        # total_count + value == 0 has probability one: no normaliser.
        norm = E.where(n + value == 0, E.zeros_like(norm), norm)
        return unnorm - norm


class Multinomial(_CategoricalBacked, Distribution):
    """Counts of ``total_count`` draws from a Categorical(``probs`` or ``logits``)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count: int = 1, probs=None, logits=None,
                 validate_args: Optional[bool] = None) -> None:
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self._categorical.probs)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args)

    def expand(self, batch_shape, _instance=None) -> "Multinomial":
        new = self._expand_categorical(Multinomial, batch_shape, _instance)
        new.total_count = self.total_count
        new._binomial = Binomial(total_count=self.total_count, probs=new._categorical.probs,
                                 validate_args=False)
        return self._finish_expand(new, batch_shape)

    @property
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def mean(self) -> Tensor:
        return self.probs * self.total_count

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()) -> Tensor:
        sample_shape = tuple(sample_shape)
        k = self._event_shape[0]
        idx = self._categorical.sample((self.total_count,) + sample_shape)
        counts = E.nn.functional.one_hot(idx, k).sum(0)
        return counts.to(self.probs.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_fact_n = S.lgamma(value.sum(-1) + 1)
        log_fact_xs = S.lgamma(value + 1).sum(-1)
        # A zero count of an impossible class contributes 0 (not 0 * -inf).
        logits = E.where((value == 0) & (logits == -float("inf")), E.zeros_like(logits),
                         logits)
        return log_fact_n - log_fact_xs + (logits * value).sum(-1)

    def entropy(self) -> Tensor:
        n = E.tensor(float(self.total_count), dtype=self.probs.dtype,
                     device=self.probs.device)
        support = self._binomial.enumerate_support()
        binom_probs = self._binomial.log_prob(support).exp()
        weights = S.lgamma(support + 1)
        return (self.total_count * self._categorical.entropy() - S.lgamma(n + 1)
                + (binom_probs * weights).sum(0).sum(-1))


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """OneHotCategorical whose ``rsample`` passes gradients straight through to ``probs``
    (Bengio et al., 2013)."""

    has_rsample = True

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(OneHotCategoricalStraightThrough, _instance)
        return OneHotCategorical.expand(self, batch_shape, _instance=new)

    def rsample(self, sample_shape=()) -> Tensor:
        samples = self.sample(sample_shape)
        probs = self._categorical.probs
        return samples + (probs - probs.detach())


class MixtureSameFamily(Distribution):
    """A mixture whose components are the rightmost batch dim of one distribution.

    Args:
        mixture_distribution: Categorical over the ``K`` components (batch ``B``).
        component_distribution: batch ``B + (K,)``.
    """

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution,
                 validate_args: Optional[bool] = None) -> None:
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError("The Mixture distribution needs to be an instance of "
                             "torch.distributions.Categorical")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("The Component distribution need to be an instance of "
                             "torch.distributions.Distribution")
        mdbs = tuple(mixture_distribution.batch_shape)
        cdbs = tuple(component_distribution.batch_shape)[:-1]
        for a, b in zip(reversed(mdbs), reversed(cdbs)):
            if a != 1 and b != 1 and a != b:
                raise ValueError(f"`mixture_distribution.batch_shape` ({mdbs}) is not "
                                 f"compatible with `component_distribution.batch_shape`"
                                 f"({cdbs})")
        km = mixture_distribution.logits.shape[-1]
        kc = component_distribution.batch_shape[-1]
        if km is not None and kc is not None and km != kc:
            raise ValueError(f"`mixture_distribution component` ({km}) does not equal "
                             f"`component_distribution.batch_shape[-1]` ({kc})")
        self._num_component = km
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(cdbs, component_distribution.event_shape, validate_args)

    def expand(self, batch_shape, _instance=None) -> "MixtureSameFamily":
        new = self._get_checked_instance(MixtureSameFamily, _instance)
        batch_shape = tuple(batch_shape)
        new._component_distribution = self._component_distribution.expand(
            batch_shape + (self._num_component,))
        new._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        new._num_component = self._num_component
        new._event_ndims = self._event_ndims
        return self._finish_expand(new, batch_shape)

    @property
    def support(self):
        return self._component_distribution.support

    @property
    def mixture_distribution(self):
        return self._mixture_distribution

    @property
    def component_distribution(self):
        return self._component_distribution

    def _pad_mixture(self, t: Tensor) -> Tensor:
        # Mixture weights (B, K) -> (B, K, 1...) to line up with component event dims.
        return t.reshape(tuple(t.shape) + (1,) * self._event_ndims)

    @property
    def mean(self) -> Tensor:
        probs = self._pad_mixture(self._mixture_distribution.probs)
        return (probs * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self) -> Tensor:
        probs = self._pad_mixture(self._mixture_distribution.probs)
        d = -1 - self._event_ndims
        cond_var = (probs * self._component_distribution.variance).sum(d)
        diff = self._component_distribution.mean - self.mean.unsqueeze(d)
        return cond_var + (probs * diff.pow(2)).sum(d)

    def cdf(self, x: Tensor) -> Tensor:
        x = x.unsqueeze(-1 - self._event_ndims)
        cdf_x = self._component_distribution.cdf(x)
        return (cdf_x * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, x: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(x)
        x = x.unsqueeze(-1 - self._event_ndims)
        lp = self._component_distribution.log_prob(x)
        log_mix = E.nn.functional.log_softmax(self._mixture_distribution.logits, -1)
        return (lp + log_mix).logsumexp(-1)

    def sample(self, sample_shape=()) -> Tensor:
        with E.no_grad():
            sample_shape = tuple(sample_shape)
            idx = self._mixture_distribution.sample(sample_shape)  # sample + B
            comp = self._component_distribution.sample(sample_shape)  # sample + B + (K,) + ev
            ev = tuple(self._event_shape)
            d = len(sample_shape) + len(self._batch_shape)
            idx = idx.reshape(tuple(idx.shape) + (1,) * (1 + len(ev)))
            idx = idx.expand(tuple(comp.shape[:d]) + (1,) + ev)
            return comp.gather(d, idx).squeeze(d)

    def __repr__(self) -> str:
        return (f"MixtureSameFamily(\n  {self._mixture_distribution!r},\n  "
                f"{self._component_distribution!r})")
