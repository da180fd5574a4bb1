"""Activation modules (elementwise, plus Softmax/LogSoftmax/Softmin along a dim).

Every elementwise activation maps an input of any shape ``(*)`` to an output of the same
shape; e.g. ``nn.ReLU()(ember.tensor([-1.0, 2.0]))`` gives ``tensor([0., 2.])``.
"""
from __future__ import annotations

from typing import Optional

import ember as E
from ...tensor import Tensor
from .. import functional as F
from ..parameter import Parameter
from .module import Module


class _Inplace(Module):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    """``max(0, x)``.

    Args:
        inplace: overwrite the input with the result and return it.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.ReLU()(ember.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, self.inplace)


class Hardtanh(Module):
    """``clamp(x, min_val, max_val)``.

    Args:
        min_val, max_val: the range (default -1, 1); inplace.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Hardtanh()(ember.tensor([-2.0, 0.5]))
        tensor([-1.0000,  0.5000])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0,
                 inplace: bool = False) -> None:
        super().__init__()
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        s = f"min_val={self.min_val}, max_val={self.max_val}"
        return s + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """``min(max(0, x), 6)``.

    Args:
        inplace: overwrite the input with the result and return it.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.ReLU6()(ember.tensor([7.0]))
        tensor([6.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``x if x > 0 else negative_slope * x``.

    Args:
        negative_slope: default 0.01; inplace.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.LeakyReLU(0.1)(ember.tensor([-1.0]))
        tensor([-0.1000])
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                           else "")


class PReLU(Module):
    """LeakyReLU with a learned slope (one, or one per channel).

    Args:
        num_parameters: 1 or the number of channels; init: initial slope (0.25).

    Shape:
        ``(N, C, *)`` -> same.

    Example:
        >>> nn.PReLU()(ember.tensor([-1.0])).shape
        torch.Size([1])
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(E.full((num_parameters,), init, device=device, dtype=dtype))

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """``x if x > 0 else alpha * (exp(x) - 1)``.

    Args:
        alpha: default 1.0; inplace.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.ELU()(ember.tensor([0.0]))
        tensor([0.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Args:
        alpha: default 1.0; inplace.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.CELU()(ember.tensor([0.0]))
        tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)


class SELU(_Inplace):
    """Scaled ELU with the self-normalising constants.

    Args:
        inplace: overwrite the input with the result and return it.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.SELU()(ember.tensor([0.0]))
        tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input, self.inplace)


class GELU(Module):
    """Gaussian error linear unit, exact (erf) or ``approximate='tanh'``.

    Args:
        approximate: 'none' or 'tanh'.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.GELU()(ember.tensor([0.0]))
        tensor([0.])
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_Inplace):
    """``x * sigmoid(x)``.

    Args:
        inplace: overwrite the input with the result and return it.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.SiLU()(ember.tensor([0.0]))
        tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input, self.inplace)


class Mish(_Inplace):
    """``x * tanh(softplus(x))``.

    Args:
        inplace: overwrite the input with the result and return it.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Mish()(ember.tensor([0.0]))
        tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.mish(input, self.inplace)


class Hardswish(_Inplace):
    """``x * relu6(x + 3) / 6``.

    Args:
        inplace: overwrite the input with the result and return it.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Hardswish()(ember.tensor([0.0]))
        tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.hardswish(input, self.inplace)

    def extra_repr(self) -> str:
        return ""  # torch leaves inplace out of this repr


class Hardsigmoid(_Inplace):
    """``relu6(x + 3) / 6``.

    Args:
        inplace: overwrite the input with the result and return it.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Hardsigmoid()(ember.tensor([0.0]))
        tensor([0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.hardsigmoid(input, self.inplace)

    def extra_repr(self) -> str:
        return ""  # torch leaves inplace out of this repr


class _Plain(Module):
    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input)


class Sigmoid(_Plain):
    """``1 / (1 + exp(-x))``.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Sigmoid()(ember.tensor([0.0]))
        tensor([0.5000])
    """

    _fn = staticmethod(F.sigmoid)


class Tanh(_Plain):
    """``tanh(x)``.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Tanh()(ember.tensor([0.0]))
        tensor([0.])
    """

    _fn = staticmethod(F.tanh)


class Softsign(_Plain):
    """``x / (1 + |x|)``.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Softsign()(ember.tensor([1.0]))
        tensor([0.5000])
    """

    _fn = staticmethod(F.softsign)


class LogSigmoid(_Plain):
    """``log(sigmoid(x))``.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.LogSigmoid()(ember.tensor([0.0]))
        tensor([-0.6931])
    """

    _fn = staticmethod(F.logsigmoid)


class Tanhshrink(_Plain):
    """``x - tanh(x)``.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Tanhshrink()(ember.tensor([0.0]))
        tensor([0.])
    """

    _fn = staticmethod(F.tanhshrink)


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold``.

    Args:
        beta: default 1.0; threshold: default 20.0.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Softplus()(ember.tensor([0.0]))
        tensor([0.6931])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Threshold(Module):
    """``x if x > threshold else value``.

    Args:
        threshold, value; inplace.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Threshold(0.1, 20.0)(ember.tensor([0.0]))
        tensor([20.])
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return (f"threshold={self.threshold}, value={self.value}"
                + (", inplace=True" if self.inplace else ""))


class GLU(Module):
    """Gated linear unit: ``a * sigmoid(b)`` for the halves of ``dim``.

    Args:
        dim: the split dim (default -1).

    Shape:
        ``(*, 2N, *)`` -> ``(*, N, *)``.

    Example:
        >>> nn.GLU()(ember.randn(2, 4)).shape
        torch.Size([2, 2])
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _DimSoftmax(Module):
    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_DimSoftmax):
    """``exp(x) / sum(exp(x))`` along ``dim``.

    Args:
        dim: the dim to normalise.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Softmax(dim=0)(ember.zeros(2))
        tensor([0.5000, 0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)


class LogSoftmax(_DimSoftmax):
    """``log(softmax(x))`` along ``dim``.

    Args:
        dim: the dim to normalise.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.LogSoftmax(dim=0)(ember.zeros(2))
        tensor([-0.6931, -0.6931])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)


class Softmin(_DimSoftmax):
    """``softmax(-x)`` along ``dim``.

    Args:
        dim: the dim to normalise.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Softmin(dim=0)(ember.zeros(2))
        tensor([0.5000, 0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.softmin(input, self.dim)
