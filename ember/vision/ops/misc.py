"""torchvision.ops.misc blocks: conv-norm-activation, squeeze-excitation, MLP, Permute."""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, Union

import ember as E
from ... import nn
from ...tensor import Tensor


class Conv2dNormActivation(nn.Sequential):
    """``Conv2d`` followed by an optional norm layer and an optional activation.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, dilation, groups: convolution geometry.
        padding: defaults to ``(kernel_size - 1) // 2 * dilation`` ("same" for odd kernels).
        norm_layer: a callable ``channels -> Module`` or None (default ``BatchNorm2d``).
        activation_layer: a Module class or None (default ``ReLU``).
        inplace: passed to the activation as ``inplace=`` unless None.
        bias: defaults to True only when there is no norm layer.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``.

    Example:
        >>> Conv2dNormActivation(3, 8, 3, stride=2)(ember.randn(1, 3, 8, 8)).shape
        torch.Size([1, 8, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: Union[int, Tuple[int, int]] = 3,
                 stride: Union[int, Tuple[int, int]] = 1,
                 padding: Optional[Union[int, Tuple[int, int], str]] = None, groups: int = 1,
                 norm_layer: Optional[Callable[..., nn.Module]] = nn.BatchNorm2d,
                 activation_layer: Optional[Callable[..., nn.Module]] = nn.ReLU,
                 dilation: Union[int, Tuple[int, int]] = 1, inplace: Optional[bool] = True,
                 bias: Optional[bool] = None) -> None:
        if padding is None:
            if isinstance(kernel_size, int) and isinstance(dilation, int):
                padding = (kernel_size - 1) // 2 * dilation
            else:
                n = len(kernel_size) if isinstance(kernel_size, Sequence) else len(dilation)
                ks = kernel_size if isinstance(kernel_size, Sequence) else (kernel_size,) * n
                ds = dilation if isinstance(dilation, Sequence) else (dilation,) * n
                padding = tuple((k - 1) // 2 * d for k, d in zip(ks, ds))
        if bias is None:
            bias = norm_layer is None
        layers: List[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                             padding, dilation=dilation, groups=groups,
                                             bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018): channel weights from pooled features.

    Args:
        input_channels: channels of the input.
        squeeze_channels: channels of the bottleneck.
        activation: Module class after the first 1x1 conv (default ``ReLU``).
        scale_activation: Module class giving the scales (default ``Sigmoid``).

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.

    Example:
        >>> SqueezeExcitation(16, 4)(ember.randn(2, 16, 5, 5)).shape
        torch.Size([2, 16, 5, 5])
    """

    def __init__(self, input_channels: int, squeeze_channels: int,
                 activation: Callable[..., nn.Module] = nn.ReLU,
                 scale_activation: Callable[..., nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, input: Tensor) -> Tensor:
        scale = self.avgpool(input)
        scale = self.fc1(scale)
        scale = self.activation(scale)
        scale = self.fc2(scale)
        return self.scale_activation(scale)

    def forward(self, input: Tensor) -> Tensor:
        return self._scale(input) * input


class MLP(nn.Sequential):
    """Linear layers with norm/activation/dropout between them (``torchvision.ops.MLP``).

    Args:
        in_channels: input features.
        hidden_channels: the width of each Linear layer; the last one is the output width.
        norm_layer: optional callable ``width -> Module`` after each hidden Linear.
        activation_layer: Module class after each hidden Linear (default ``ReLU``).
        inplace: passed as ``inplace=`` to activation and dropout unless None.
        bias: Linear biases.
        dropout: dropout probability after each activation and after the last Linear.

    Shape:
        ``(*, in_channels)`` -> ``(*, hidden_channels[-1])``.

    Example:
        >>> MLP(8, [16, 4])(ember.randn(2, 8)).shape
        torch.Size([2, 4])
    """

    def __init__(self, in_channels: int, hidden_channels: List[int],
                 norm_layer: Optional[Callable[..., nn.Module]] = None,
                 activation_layer: Optional[Callable[..., nn.Module]] = nn.ReLU,
                 inplace: Optional[bool] = None, bias: bool = True,
                 dropout: float = 0.0) -> None:
        params = {} if inplace is None else {"inplace": inplace}
        layers: List[nn.Module] = []
        in_dim = in_channels
        for hidden_dim in hidden_channels[:-1]:
            layers.append(nn.Linear(in_dim, hidden_dim, bias=bias))
            if norm_layer is not None:
                layers.append(norm_layer(hidden_dim))
            layers.append(activation_layer(**params))
            layers.append(nn.Dropout(dropout, **params))
            in_dim = hidden_dim
        layers.append(nn.Linear(in_dim, hidden_channels[-1], bias=bias))
        layers.append(nn.Dropout(dropout, **params))
        super().__init__(*layers)


class Permute(nn.Module):
    """Permute the dimensions of the input (``torchvision.ops.Permute``).

    Args:
        dims: the new order of the dimensions.

    Shape:
        any; dimensions reordered.

    Example:
        >>> Permute([0, 2, 3, 1])(ember.randn(1, 2, 3, 4)).shape
        torch.Size([1, 3, 4, 2])
    """

    def __init__(self, dims: List[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return E.permute(x, self.dims)
