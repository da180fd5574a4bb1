"""Dropout, Embedding, padding, pixel shuffle and upsampling modules."""
from __future__ import annotations

from typing import Optional

import ember as E
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes elements with probability p in training (scaling the rest by 1/(1-p)).

    Args:
        p: drop probability (0.5); inplace: accepted for compatibility.

    Shape:
        ``(*)`` -> ``(*)``.

    Example:
        >>> nn.Dropout(0.5).eval()(ember.ones(3))
        tensor([1., 1., 1.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels with probability p in training.

    Args:
        p: drop probability; inplace.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)`` -> same.

    Example:
        >>> nn.Dropout2d().eval()(ember.ones(1, 2, 2, 2)).shape
        torch.Size([1, 2, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training)


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``.

    Args:
        num_embeddings, embedding_dim: table size. padding_idx: row that gets no gradient
        (initialised to zeros). max_norm, norm_type: renormalise looked-up rows.
        _weight: an initial table.

    Shape:
        Input ``(*)`` int64 indices, output ``(*, embedding_dim)``.

    Example:
        >>> nn.Embedding(10, 3)(ember.tensor([[1, 2], [4, 5]])).shape
        torch.Size([2, 2, 3])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Optional[Tensor] = None, _freeze: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        if padding_idx is not None:
            if padding_idx > 0:
                assert padding_idx < num_embeddings, \
                    "Padding_idx must be within num_embeddings"
            elif padding_idx < 0:
                assert padding_idx >= -num_embeddings, \
                    "Padding_idx must be within num_embeddings"
                padding_idx = num_embeddings + padding_idx
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(E.empty(num_embeddings, embedding_dim, device=device,
                                            dtype=dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm,
                           self.norm_type, self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)


def _pad_tuple(padding, n):
    return tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * (2 * n)


class _PadNd(Module):
    _n = 2
    mode = "constant"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _pad_tuple(padding, self._n)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ConstantPad2d(_PadNd):
    """Pads the last 2 dims with a constant.

    Args:
        padding: int or (left, right, top, bottom); value: the fill value.

    Shape:
        ``(*, H, W)`` -> ``(*, H + top + bottom, W + left + right)``.

    Example:
        >>> nn.ConstantPad2d(1, 3.5)(ember.zeros(1, 2, 2)).shape
        torch.Size([1, 4, 4])
    """

    _n = 2

    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(ConstantPad2d):
    """Pads the last dim with a constant.

    Args:
        padding: int or (left, right); value: the fill value.

    Shape:
        ``(*, W)`` -> ``(*, W + left + right)``.

    Example:
        >>> nn.ConstantPad1d(2, 1.0)(ember.zeros(1, 3)).shape
        torch.Size([1, 7])
    """

    _n = 1


class ZeroPad2d(ConstantPad2d):
    """Pads the last 2 dims with zeros.

    Args:
        padding: int or (left, right, top, bottom).

    Shape:
        ``(*, H, W)`` -> ``(*, H + top + bottom, W + left + right)``.

    Example:
        >>> nn.ZeroPad2d(1)(ember.ones(1, 1, 2, 2)).shape
        torch.Size([1, 1, 4, 4])
    """

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad2d(_PadNd):
    """Pads the last 2 dims by reflecting at the border (edge not repeated).

    Args:
        padding: int or (left, right, top, bottom), each smaller than the dim.

    Shape:
        ``(*, H, W)`` -> ``(*, H + top + bottom, W + left + right)``.

    Example:
        >>> nn.ReflectionPad2d(1)(ember.ones(1, 1, 3, 3)).shape
        torch.Size([1, 1, 5, 5])
    """

    mode = "reflect"


class ReflectionPad1d(ReflectionPad2d):
    """Pads the last dim by reflection.

    Args:
        padding: int or (left, right).

    Shape:
        ``(*, W)`` -> ``(*, W + left + right)``.

    Example:
        >>> nn.ReflectionPad1d(1)(ember.ones(1, 1, 3)).shape
        torch.Size([1, 1, 5])
    """

    _n = 1


class ReplicationPad2d(_PadNd):
    """Pads the last 2 dims by repeating the edge.

    Args:
        padding: int or (left, right, top, bottom).

    Shape:
        ``(*, H, W)`` -> ``(*, H + top + bottom, W + left + right)``.

    Example:
        >>> nn.ReplicationPad2d(1)(ember.ones(1, 1, 2, 2)).shape
        torch.Size([1, 1, 4, 4])
    """

    mode = "replicate"


class PixelShuffle(Module):
    """``(*, C r^2, H, W)`` -> ``(*, C, H r, W r)``.

    Args:
        upscale_factor: r.

    Shape:
        ``(*, C r^2, H, W)`` -> ``(*, C, H r, W r)``.

    Example:
        >>> nn.PixelShuffle(2)(ember.ones(1, 4, 3, 3)).shape
        torch.Size([1, 1, 6, 6])
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(*, C, H r, W r)`` -> ``(*, C r^2, H, W)``.

    Args:
        downscale_factor: r.

    Shape:
        ``(*, C, H r, W r)`` -> ``(*, C r^2, H, W)``.

    Example:
        >>> nn.PixelUnshuffle(2)(ember.ones(1, 1, 6, 6)).shape
        torch.Size([1, 4, 3, 3])
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class Upsample(Module):
    """Resizes the spatial dims (nearest, linear, bilinear).

    Args:
        size or scale_factor: the target; mode: 'nearest' | 'linear' | 'bilinear' | 'bicubic';
        align_corners: for the linear modes.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Example:
        >>> nn.Upsample(scale_factor=2)(ember.ones(1, 1, 2, 2)).shape
        torch.Size([1, 1, 4, 4])
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest",
                 align_corners: Optional[bool] = None,
                 recompute_scale_factor: Optional[bool] = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"
