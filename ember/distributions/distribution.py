"""``Distribution``: the base class (shapes, validation, sampling entry points)."""
from __future__ import annotations

from typing import Optional

import numpy as np

import ember as E
from ..tensor import Tensor
from . import constraints

_Size = tuple


def _size(shape) -> tuple:
    from ..tensor import Size
    return Size(tuple(int(s) for s in shape))


class Distribution:
    """Base class of probability distributions, as ``torch.distributions.Distribution``.

    Args:
        batch_shape: shape of independent, non-identical draws.
        event_shape: shape of one draw.
        validate_args: check parameters (and ``log_prob`` values) against their constraints
            (default: on, like torch's ``__debug__`` default).

    Shape:
        ``sample(sample_shape)`` returns ``sample_shape + batch_shape + event_shape``.

    Example:
        >>> d = ember.distributions.Normal(ember.zeros(3), ember.ones(3))
        >>> d.sample((2,)).shape
        torch.Size([2, 3])
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = True
    arg_constraints: dict = {}
    support = None

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(),
                 validate_args: Optional[bool] = None) -> None:
        self._batch_shape = _size(batch_shape)
        self._event_shape = _size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for param, constraint in self.arg_constraints.items():
                if constraints.dependent is constraint:
                    continue
                if param not in self.__dict__:
                    continue  # a derived parameter (probs from logits): not checked
                value = getattr(self, param)
                valid = constraint.check(value)
                if not bool(valid.all()):
                    raise ValueError(
                        f"Expected parameter {param} (Tensor of shape {tuple(value.shape)}) of "
                        f"distribution {self!r} to satisfy the constraint {constraint!r}, but "
                        f"found invalid values:\n{value}")

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self)} does not implement mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def expand(self, batch_shape, _instance=None) -> "Distribution":
        """A new distribution of this type with ``batch_shape``: the parameters are expanded
        views (no copy), ``_validate_args`` is carried over and nothing is re-validated.

        Subclasses implement it; ``_instance`` lets a subclass's ``expand`` fill an instance
        that its own subclass created (as torch).
        """
        raise NotImplementedError

    def _get_checked_instance(self, cls, _instance=None):
        # An uninitialised instance for ``expand``: a subclass with its own __init__ cannot be
        # filled in by its parent's expand (it would miss the subclass's state).
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(
                f"Subclass {type(self).__name__} of {cls.__name__} that defines a custom "
                "__init__ method must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def _expand_params(self, cls, batch_shape, names, _instance=None) -> "Distribution":
        """``expand`` for the common case: every parameter named in ``names`` that this
        instance holds is ``(*batch_shape, *param_event)``; each becomes an expanded view."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = _size(batch_shape)
        nb = len(self._batch_shape)
        for name in names:
            if name in self.__dict__:
                t = self.__dict__[name]
                new.__dict__[name] = t.expand(tuple(batch_shape) + tuple(t.shape[nb:]))
        return self._finish_expand(new, batch_shape)

    def _finish_expand(self, new: "Distribution", batch_shape) -> "Distribution":
        """Last step of every ``expand``: give ``new`` the batch shape and this instance's
        event shape, skipping validation (the parameters were already checked) but carrying
        the validate_args setting."""
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()) -> Tensor:
        with E.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()) -> Tensor:
        raise NotImplementedError

    def sample_n(self, n: int) -> Tensor:
        return self.sample((n,))

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=()) -> tuple:
        return _size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        ev = len(self._event_shape)
        if ev and tuple(value.shape[-ev:]) != tuple(self._event_shape):
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{_size(value.shape)} vs {self._event_shape}.")
        actual = tuple(value.shape)
        expected = tuple(self._batch_shape) + tuple(self._event_shape)
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{_size(actual)} vs {_size(expected)}.")
        support = self.support
        if support is None or support is constraints.dependent:
            return
        valid = support.check(value)
        if not bool(valid.all()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) "
                f"to be within the support ({support!r}) of the distribution {self!r}, but found "
                f"invalid values:\n{value}")

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        parts = []
        for k in names:
            v = self.__dict__[k]
            parts.append(f"{k}: {v if v.numel() == 1 else _size(v.shape)}")
        return f"{type(self).__name__}({', '.join(parts)})"


def broadcast_all(*values):
    """Tensors (numbers become tensors of the default dtype) broadcast to one shape."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is None:
        dt = E.get_default_dtype()
        ts = [E.tensor(float(v), dtype=dt) for v in values]
    else:
        ts = [v if isinstance(v, Tensor) else
              E.tensor(float(v), dtype=like.dtype, device=like.device) for v in values]
    return tuple(E.broadcast_tensors(*ts))


def _standard_normal(shape, like: Tensor) -> Tensor:
    from ..random import rng_of
    arr = rng_of(None).standard_normal(tuple(shape)).astype(like._data.dtype)
    return E.tensor(arr, dtype=like.dtype, device=like.device)


def _uniform(shape, like: Tensor) -> Tensor:
    from ..random import rng_of
    arr = rng_of(None).random(tuple(shape)).astype(like._data.dtype)
    return E.tensor(arr, dtype=like.dtype, device=like.device)


def _finfo(dtype):
    return np.finfo(np.float64 if dtype == E.float64 else np.float32)
