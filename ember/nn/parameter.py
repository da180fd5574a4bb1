"""``nn.Parameter``: a Tensor that a Module registers as one of its parameters."""
from __future__ import annotations

from ..tensor import Tensor, _init


class Parameter(Tensor):
    """A Tensor that is a module parameter (``requires_grad=True`` by default).

    Assigning a Parameter to a Module attribute registers it in ``module.parameters()``.

    Args:
        data: the tensor to wrap (its storage is shared, not copied); empty when None.
        requires_grad: whether the parameter requires gradient.

    Shape:
        Same as ``data``.

    Example:
        >>> p = nn.Parameter(ember.zeros(3))
        >>> p.requires_grad
        True
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        t = object.__new__(cls)
        _init(t, data._data, data._dtype, data._device)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        res = Parameter(Tensor._from_array(self._data.copy(), self._dtype, self._device),
                        self._rg)
        memo[id(self)] = res
        return res

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.detach(), self._rg))


def _rebuild_parameter(data: Tensor, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)


class Buffer(Tensor):
    """Marker type of torch 2.5+: assigning ``nn.Buffer(t)`` registers a buffer."""

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        t = object.__new__(cls)
        _init(t, data._data, data._dtype, data._device)
        t.persistent = persistent
        return t

    def __init__(self, data=None, *, persistent: bool = True) -> None:
        pass


from ._uninitialized import (UninitializedBuffer, UninitializedParameter,  # noqa: E402,F401
                             UninitializedTensorMixin, is_lazy)
