"""Pooling layers."""
from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from .module import Module


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling.

    Args:
        kernel_size, stride (default kernel_size), padding, dilation: window geometry.
        return_indices: also return flat argmax indices; ceil_mode: ceil the output size.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Example:
        >>> nn.MaxPool2d(2)(ember.randn(1, 1, 4, 4)).shape
        torch.Size([1, 1, 2, 2])
    """

    def forward(self, input: Tensor):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling.

    Args:
        As MaxPool2d (indices are flat positions in each D*H*W volume).

    Shape:
        ``(N, C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> nn.MaxPool3d(2)(ember.randn(1, 1, 4, 4, 4)).shape
        torch.Size([1, 1, 2, 2, 2])
    """

    def forward(self, input: Tensor):
        return F.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling.

    Args:
        As MaxPool2d.

    Shape:
        ``(N, C, L)`` -> ``(N, C, L_out)``.

    Example:
        >>> nn.MaxPool1d(2)(ember.randn(1, 1, 6)).shape
        torch.Size([1, 1, 3])
    """

    def forward(self, input: Tensor):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class _AvgPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling.

    Args:
        kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Example:
        >>> nn.AvgPool2d(2)(ember.randn(1, 1, 4, 4)).shape
        torch.Size([1, 1, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling.

    Args:
        kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override.

    Shape:
        ``(N, C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> nn.AvgPool3d(2)(ember.randn(1, 1, 4, 4, 4)).shape
        torch.Size([1, 1, 2, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling.

    Args:
        kernel_size, stride, padding, ceil_mode, count_include_pad.

    Shape:
        ``(N, C, L)`` -> ``(N, C, L_out)``.

    Example:
        >>> nn.AvgPool1d(2)(ember.randn(1, 1, 6)).shape
        torch.Size([1, 1, 3])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        one = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,)  # noqa: E731
        self.kernel_size = one(self.kernel_size)
        self.stride = one(self.stride)
        self.padding = one(self.padding)

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class _AdaptivePool(Module):
    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool):
    """Average pooling to a fixed output size.

    Args:
        output_size: ``(H_out, W_out)`` or one int (None keeps the input size).

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Example:
        >>> nn.AdaptiveAvgPool2d(1)(ember.randn(2, 3, 5, 7)).shape
        torch.Size([2, 3, 1, 1])
    """

    def __init__(self, output_size) -> None:
        super().__init__(output_size)

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool1d(_AdaptivePool):
    """Average pooling to a fixed output length.

    Args:
        output_size: the output length.

    Shape:
        ``(N, C, L)`` -> ``(N, C, L_out)``.

    Example:
        >>> nn.AdaptiveAvgPool1d(2)(ember.randn(1, 3, 7)).shape
        torch.Size([1, 3, 2])
    """

    def __init__(self, output_size) -> None:
        super().__init__(output_size)

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveMaxPool2d(_AdaptivePool):
    """Max pooling to a fixed output size.

    Args:
        output_size: ``(H_out, W_out)`` or one int.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Example:
        >>> nn.AdaptiveMaxPool2d((2, 2))(ember.randn(1, 3, 5, 5)).shape
        torch.Size([1, 3, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)
