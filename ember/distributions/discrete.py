"""Bernoulli, Categorical and OneHotCategorical."""
from __future__ import annotations

from typing import Optional

import numpy as np

import ember as E
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, _finfo, broadcast_all


def _clamp_probs(p: Tensor) -> Tensor:
    eps = float(_finfo(p.dtype).eps)
    return p.clamp(min=eps, max=1 - eps)


def _one_param(probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")


def _probs_logits_init(self, probs, logits, extra=()):
    """Store exactly one of ``probs``/``logits`` broadcast with ``extra``; returns the
    broadcast extras."""
    _one_param(probs, logits)
    name, value = ("probs", probs) if probs is not None else ("logits", logits)
    out = broadcast_all(*extra, value)
    self.__dict__[name] = out[-1]
    return out[:-1], out[-1]


def _binary_getattr(self, name):
    d = self.__dict__
    if name == "probs" and "logits" in d:
        return d["logits"].sigmoid()
    if name == "logits" and "probs" in d:
        p = _clamp_probs(d["probs"])
        return p.log() - (-p).log1p()
    raise AttributeError(name)


class Bernoulli(Distribution):
    """Bernoulli(probs) or Bernoulli(logits=...): 1 with probability ``probs``.

    Args:
        probs: probability of 1, or logits: its log-odds (exactly one).

    Shape:
        batch_shape is the parameter's shape.

    Example:
        >>> Bernoulli(ember.tensor([0.3])).sample((4,)).shape
        torch.Size([4, 1])
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: Optional[bool] = None) -> None:
        _, param = _probs_logits_init(self, probs, logits)
        super().__init__(param.shape, (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "Bernoulli":
        return self._expand_params(Bernoulli, batch_shape, ("probs", "logits"), _instance)

    __getattr__ = _binary_getattr

    @property
    def param_shape(self):
        return self.batch_shape

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        m = (self.probs >= 0.5).to(self.probs.dtype)
        return m.masked_fill(self.probs == 0.5, float("nan"))

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        with E.no_grad():
            return E.bernoulli(self.probs.detach().expand(shape))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = E.broadcast_tensors(self.logits, value)
        return -E.nn.functional.binary_cross_entropy_with_logits(logits, value,
                                                                 reduction="none")

    def entropy(self) -> Tensor:
        return E.nn.functional.binary_cross_entropy_with_logits(self.logits, self.probs,
                                                                reduction="none")

    def enumerate_support(self, expand: bool = True) -> Tensor:
        values = E.arange(2, dtype=self.probs.dtype, device=self.probs.device).reshape(
            (-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + tuple(self.batch_shape)) if expand else values


class Categorical(Distribution):
    """Categorical over ``K`` classes given (unnormalised) ``probs`` or ``logits``.

    Args:
        probs: ``(*, K)`` non-negative weights, or logits: ``(*, K)`` log-weights.

    Shape:
        batch_shape ``*``; samples are int64 class indices.

    Example:
        >>> Categorical(logits=ember.zeros(2, 5)).sample((3,)).shape
        torch.Size([3, 2])
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: Optional[bool] = None) -> None:
        _one_param(probs, logits)
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
            param = self.probs
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
            param = self.logits
        self._param = param
        self._num_events = param.shape[-1]
        super().__init__(tuple(param.shape[:-1]), (), validate_args)

    def expand(self, batch_shape, _instance=None) -> "Categorical":
        new = self._expand_params(Categorical, batch_shape, ("probs", "logits"), _instance)
        new._param = new.__dict__["probs" if "probs" in self.__dict__ else "logits"]
        new._num_events = self._num_events
        return new

    def __getattr__(self, name):
        d = self.__dict__
        if name == "probs" and "logits" in d:
            return E.nn.functional.softmax(d["logits"], -1)
        if name == "logits" and "probs" in d:
            return _clamp_probs(d["probs"]).log()
        raise AttributeError(name)

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self) -> Tensor:
        return E.full(tuple(self.batch_shape), float("nan"), dtype=self._param.dtype,
                      device=self._param.device)

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        return E.full(tuple(self.batch_shape), float("nan"), dtype=self._param.dtype,
                      device=self._param.device)

    def sample(self, sample_shape=()) -> Tensor:
        from ..random import rng_of
        if self._param.device.type != "cpu":
            return self._sample_on_device(sample_shape)
        p = self.probs.detach().cpu().numpy().astype(np.float64)
        k = p.shape[-1]
        flat = p.reshape(-1, k)
        n = int(np.prod(tuple(sample_shape))) if len(tuple(sample_shape)) else 1
        cdf = np.cumsum(flat, -1)
        cdf /= cdf[:, -1:]
        u = rng_of(None).random((n, flat.shape[0], 1))
        idx = (u > cdf[None]).sum(-1)
        idx = np.minimum(idx, k - 1)
        out = idx.reshape(tuple(sample_shape) + tuple(self.batch_shape))
        # Drawn on the host (the CPU generator's stream), returned where the parameters live.
        return E.tensor(out.astype(np.int64), device=self._param.device)

    def _sample_on_device(self, sample_shape) -> Tensor:
        """Inverse-CDF draws with device uniforms: no host round trip (or sync) per sample."""
        p = self.probs.detach()
        p = p.to(E.float64 if p.dtype == E.float64 else E.float32)  # cdf of half types drifts
        k = p.shape[-1]
        cdf = p.reshape(-1, k).cumsum(-1)
        cdf = cdf / cdf[:, -1:]
        n = int(np.prod(tuple(sample_shape))) if len(tuple(sample_shape)) else 1
        u = E.rand((n, cdf.shape[0], 1), dtype=cdf.dtype, device=p.device)
        idx = (u > cdf.unsqueeze(0)).long().sum(-1).clamp(max=k - 1)
        return idx.reshape(tuple(sample_shape) + tuple(self.batch_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = E.broadcast_tensors(value, self.logits)
        value = value[..., :1]
        return log_pmf.gather(-1, value).squeeze(-1)

    def entropy(self) -> Tensor:
        min_real = float(_finfo(self.logits.dtype).min)
        logits = self.logits.clamp(min=min_real)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        values = E.arange(self._num_events, device=self._param.device).reshape(
            (-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + tuple(self.batch_shape)) if expand else values


class _CategoricalBacked:
    """Mixin for the families built on an inner ``self._categorical``: its parameters are
    theirs, and ``expand`` starts by expanding it."""

    @property
    def probs(self) -> Tensor:
        return self._categorical.probs

    @property
    def logits(self) -> Tensor:
        return self._categorical.logits

    @property
    def param_shape(self):
        return self._categorical.param_shape

    def _expand_categorical(self, cls, batch_shape, _instance) -> "Distribution":
        new = self._get_checked_instance(cls, _instance)
        new._categorical = self._categorical.expand(batch_shape)
        return new


class OneHotCategorical(_CategoricalBacked, Distribution):
    """Categorical whose samples are one-hot vectors.

    Args:
        probs or logits: ``(*, K)`` as Categorical.

    Shape:
        batch_shape ``*``, event_shape ``(K,)``.

    Example:
        >>> OneHotCategorical(ember.tensor([0.2, 0.8])).sample().shape
        torch.Size([2])
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: Optional[bool] = None) -> None:
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args)

    def expand(self, batch_shape, _instance=None) -> "OneHotCategorical":
        new = self._expand_categorical(OneHotCategorical, batch_shape, _instance)
        return self._finish_expand(new, batch_shape)

    @property
    def mean(self) -> Tensor:
        return self._categorical.probs

    @property
    def mode(self) -> Tensor:
        probs = self._categorical.probs
        return E.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)

    @property
    def variance(self) -> Tensor:
        p = self._categorical.probs
        return p * (1 - p)

    def sample(self, sample_shape=()) -> Tensor:
        probs = self._categorical.probs
        idx = self._categorical.sample(sample_shape)
        return E.nn.functional.one_hot(idx, probs.shape[-1]).to(probs.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        indices = value.max(-1)[1]
        return self._categorical.log_prob(indices)

    def entropy(self) -> Tensor:
        return self._categorical.entropy()
