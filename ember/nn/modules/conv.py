"""Convolutions: Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d."""
from __future__ import annotations

import math
from typing import Optional

import ember as E
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


def _ntuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


class _ConvNd(Module):
    _n = 2
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None, output_padding=0) -> None:
        super().__init__()
        n = self._n
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string '{padding}', should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in _ntuple(stride, n)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode must be one of ['zeros', 'reflect', 'replicate', "
                             f"'circular'], but got padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = _ntuple(stride, n)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, n)
        self.dilation = _ntuple(dilation, n)
        self.output_padding = _ntuple(output_padding, n)
        self.groups = groups
        self.padding_mode = padding_mode
        if isinstance(self.padding, str):
            pads = []
            for d, k in zip(self.dilation, self.kernel_size):
                total = d * (k - 1)
                pads = [total // 2, total - total // 2] + pads
            self._reversed_padding_repeated_twice = pads
        else:
            self._reversed_padding_repeated_twice = [p for p in reversed(self.padding)
                                                     for _ in range(2)]
        if self.transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(E.empty(*shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(E.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        n = self._n
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _pre_pad(self, input: Tensor):
        if self.padding_mode == "zeros":
            return input, self.padding
        return (F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode),
                (0,) * self._n)


class Conv2d(_ConvNd):
    """2-D convolution over ``(N, C_in, H, W)``.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, padding (int, tuple, 'same' or 'valid'), dilation: geometry.
        groups: blocked connections; bias: learn a bias; padding_mode: 'zeros', 'reflect',
            'replicate' or 'circular'.

    Shape:
        Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
        ``H_out = floor((H + 2p - d(k-1) - 1) / s + 1)``.

    Example:
        >>> nn.Conv2d(3, 8, 3, padding=1)(ember.randn(1, 3, 5, 5)).shape
        torch.Size([1, 8, 5, 5])
    """

    _n = 2

    def forward(self, input: Tensor) -> Tensor:
        x, pad = self._pre_pad(input)
        return F.conv2d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C_in, L)``.

    Args:
        Same as Conv2d with 1-tuples.

    Shape:
        Input ``(N, C_in, L)``, output ``(N, C_out, L_out)``.

    Example:
        >>> nn.Conv1d(4, 2, 3)(ember.randn(1, 4, 10)).shape
        torch.Size([1, 2, 8])
    """

    _n = 1

    def forward(self, input: Tensor) -> Tensor:
        x, pad = self._pre_pad(input)
        return F.conv1d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)


class Conv3d(_ConvNd):
    """3-D convolution over ``(N, C_in, D, H, W)``.

    Args:
        Same as Conv2d with 3-tuples.

    Shape:
        Input ``(N, C_in, D, H, W)``, output ``(N, C_out, D_out, H_out, W_out)``.

    Example:
        >>> nn.Conv3d(2, 4, 3, padding=1)(ember.randn(1, 2, 4, 5, 5)).shape
        torch.Size([1, 4, 4, 5, 5])
    """

    _n = 3

    def forward(self, input: Tensor) -> Tensor:
        x, pad = self._pre_pad(input)
        return F.conv3d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f"{type(self).__name__}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, output_padding)

    def _output_padding(self, input: Tensor, output_size: Optional[list]) -> tuple:
        if output_size is None:
            return self.output_padding
        n = self._n
        output_size = list(output_size)[-n:]
        res = []
        for d in range(n):
            size_in = input.shape[input.dim() - n + d]
            minimum = ((size_in - 1) * self.stride[d] - 2 * self.padding[d]
                       + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            extra = output_size[d] - minimum
            if extra < 0 or extra >= max(self.stride[d], self.dilation[d]):
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 "range from minimum to maximum for the given input")
            res.append(extra)
        return tuple(res)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution (the gradient of Conv2d w.r.t. its input).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, output_padding, groups,
        bias, dilation: as torch.

    Shape:
        ``H_out = (H - 1) s - 2p + d(k - 1) + output_padding + 1``.

    Example:
        >>> nn.ConvTranspose2d(4, 2, 3, stride=2)(ember.randn(1, 4, 5, 5)).shape
        torch.Size([1, 2, 11, 11])
    """

    _n = 2

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        op = self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, op,
                                  self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution.

    Args:
        As ConvTranspose2d with 1-tuples.

    Shape:
        ``L_out = (L - 1) s - 2p + d(k - 1) + output_padding + 1``.

    Example:
        >>> nn.ConvTranspose1d(4, 2, 3)(ember.randn(1, 4, 5)).shape
        torch.Size([1, 2, 7])
    """

    _n = 1

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        op = self._output_padding(input, output_size)
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding, op,
                                  self.groups, self.dilation)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution.

    Args:
        As ConvTranspose2d with 3-tuples.

    Shape:
        ``D_out = (D - 1) s - 2p + d(k - 1) + output_padding + 1`` (likewise H, W).

    Example:
        >>> nn.ConvTranspose3d(4, 2, 3, stride=2)(ember.randn(1, 4, 2, 3, 3)).shape
        torch.Size([1, 2, 5, 7, 7])
    """

    _n = 3

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        op = self._output_padding(input, output_size)
        return F.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding, op,
                                  self.groups, self.dilation)
