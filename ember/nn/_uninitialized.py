"""Parameters and buffers whose shape is not known yet (for the Lazy modules).

They hold an empty array until ``materialize(shape)`` gives them storage, at which point they
become an ordinary Parameter (or Tensor) in place, so every reference to them stays valid.
"""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor, _init
from .parameter import Parameter


class UninitializedTensorMixin:
    """Shared behaviour: materialize() in place, a fixed repr, no shape until materialized."""

    cls_to_become: Any = None

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor storage of ``shape`` (uninitialised values) and turn it into
        ``cls_to_become``."""
        from ..creation import empty
        if isinstance(shape, int):
            shape = (shape,)
        device = self._device if device is None else device
        dtype = self._dtype if dtype is None else dtype
        t = empty(*tuple(shape), device=device, dtype=dtype)
        version = self._version
        _init(self, t._data, t._dtype, t._device)
        self._version = version
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, proto):
        return (type(self), (self.requires_grad,))


def is_lazy(param: Any) -> bool:
    """Whether ``param`` is an uninitialized parameter or buffer."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter with no storage yet; ``materialize(shape)`` turns it into a Parameter.

    Example:
        >>> p = nn.parameter.UninitializedParameter()
        >>> p.materialize((2, 3)); type(p).__name__
        'Parameter'
    """

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        from ..creation import empty
        return Parameter.__new__(cls, empty(0, device=device, dtype=dtype), requires_grad)

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        res = type(self)(self.requires_grad, self._device, self._dtype)
        memo[id(self)] = res
        return res


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer with no storage yet; ``materialize(shape)`` turns it into a Tensor."""

    cls_to_become = Tensor

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None,
                persistent: bool = True):
        from ..creation import empty
        t = object.__new__(cls)
        e = empty(0, device=device, dtype=dtype)
        _init(t, e._data, e._dtype, e._device)
        if requires_grad:
            t.requires_grad_(True)
        t.persistent = persistent
        return t

    def __init__(self, requires_grad: bool = False, device=None, dtype=None,
                 persistent: bool = True) -> None:
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        res = type(self)(self.requires_grad, self._device, self._dtype)
        memo[id(self)] = res
        return res
