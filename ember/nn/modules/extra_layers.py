"""More torch.nn layers: RMSNorm, 3-D norms, LRN, the remaining pads, feature/alpha dropouts,
adaptive 1-D/3-D pools, max-unpooling, LP pooling, fixed upsamplers, Fold/Unfold, shuffles,
shrink activations, RReLU and the distance modules."""
from __future__ import annotations

from typing import Optional

import ember as E
from ...tensor import Tensor
from .. import _functional_layers as FL
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .misc import ConstantPad2d, Upsample, ZeroPad2d, _DropoutNd, _PadNd
from .module import Module
from .normalization import _BatchNorm, _InstanceNorm
from .pooling import _AdaptivePool


def _ntuple(v, n: int) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


# ------------------------------------------------------------------------- normalisation
class RMSNorm(Module):
    """Root-mean-square layer normalisation over the trailing ``normalized_shape`` dims.

    Args:
        normalized_shape: int or tuple; eps (None: the dtype's machine epsilon);
        elementwise_affine: learn a per-element scale (initialised to ones).

    Shape:
        ``(*, *normalized_shape)`` -> same.

    Example:
        >>> nn.RMSNorm(4)(ember.randn(2, 4)).shape
        torch.Size([2, 4])
    """

    def __init__(self, normalized_shape, eps: Optional[float] = None,
                 elementwise_affine: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.normalized_shape = _ntuple(normalized_shape, 1)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(E.empty(*self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        return FL.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over ``(N, C, D, H, W)``.

    Args:
        num_features: C. eps, momentum, affine, track_running_stats.

    Shape:
        ``(N, C, D, H, W)`` -> same.

    Example:
        >>> nn.BatchNorm3d(3)(ember.randn(2, 3, 2, 4, 4)).shape
        torch.Size([2, 3, 2, 4, 4])
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation over ``(N, C, D, H, W)`` or ``(C, D, H, W)``.

    Args:
        As InstanceNorm2d.

    Shape:
        Input and output the same.

    Example:
        >>> nn.InstanceNorm3d(3)(ember.randn(2, 3, 2, 4, 4)).shape
        torch.Size([2, 3, 2, 4, 4])
    """

    _spatial = 3


class LocalResponseNorm(Module):
    """Local response normalisation across channels.

    Args:
        size: channels in the window; alpha, beta, k: ``x / (k + alpha * mean(x^2))^beta``.

    Shape:
        ``(N, C, *)`` -> same.

    Example:
        >>> nn.LocalResponseNorm(2)(ember.randn(1, 4, 3, 3)).shape
        torch.Size([1, 4, 3, 3])
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        return FL.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(LocalResponseNorm):
    """Lua-torch's cross-map LRN on 4-D input.

    Args:
        size, alpha, beta, k (default 1).

    Shape:
        ``(N, C, H, W)`` -> same.

    Example:
        >>> nn.CrossMapLRN2d(3)(ember.randn(1, 4, 3, 3)).shape
        torch.Size([1, 4, 3, 3])
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1) -> None:
        super().__init__(size, alpha, beta, k)

    def forward(self, input: Tensor) -> Tensor:
        return FL.cross_map_lrn2d(input, self.size, self.alpha, self.beta, self.k)


# -------------------------------------------------------------------------------- padding
class ConstantPad3d(ConstantPad2d):
    """Pads the last 3 dims with a constant.

    Args:
        padding: int or a 6-tuple (left, right, top, bottom, front, back); value.

    Shape:
        ``(*, D, H, W)`` -> padded.

    Example:
        >>> nn.ConstantPad3d(1, 2.0)(ember.zeros(1, 2, 2, 2)).shape
        torch.Size([1, 4, 4, 4])
    """

    _n = 3


class ZeroPad1d(ZeroPad2d):
    """Pads the last dim with zeros.

    Args:
        padding: int or (left, right).

    Shape:
        ``(*, W)`` -> ``(*, W + left + right)``.

    Example:
        >>> nn.ZeroPad1d(2)(ember.ones(1, 3)).shape
        torch.Size([1, 7])
    """

    _n = 1


class ZeroPad3d(ZeroPad2d):
    """Pads the last 3 dims with zeros.

    Args:
        padding: int or a 6-tuple.

    Shape:
        ``(*, D, H, W)`` -> padded.

    Example:
        >>> nn.ZeroPad3d(1)(ember.ones(1, 1, 2, 2, 2)).shape
        torch.Size([1, 1, 4, 4, 4])
    """

    _n = 3


class CircularPad1d(_PadNd):
    """Pads the last dim by wrapping around.

    Args:
        padding: int or (left, right).

    Shape:
        ``(*, W)`` -> ``(*, W + left + right)``.

    Example:
        >>> nn.CircularPad1d(1)(ember.ones(1, 2, 3)).shape
        torch.Size([1, 2, 5])
    """

    _n = 1
    mode = "circular"


class CircularPad2d(CircularPad1d):
    """Pads the last 2 dims by wrapping around.

    Args:
        padding: int or (left, right, top, bottom).

    Shape:
        ``(*, H, W)`` -> padded.

    Example:
        >>> nn.CircularPad2d(1)(ember.ones(1, 1, 3, 3)).shape
        torch.Size([1, 1, 5, 5])
    """

    _n = 2


class CircularPad3d(CircularPad1d):
    """Pads the last 3 dims by wrapping around.

    Args:
        padding: int or a 6-tuple.

    Shape:
        ``(*, D, H, W)`` -> padded.

    Example:
        >>> nn.CircularPad3d(1)(ember.ones(1, 1, 2, 2, 2)).shape
        torch.Size([1, 1, 4, 4, 4])
    """

    _n = 3


class ReplicationPad1d(_PadNd):
    """Pads the last dim by repeating the edge.

    Args:
        padding: int or (left, right).

    Shape:
        ``(*, W)`` -> ``(*, W + left + right)``.

    Example:
        >>> nn.ReplicationPad1d(2)(ember.ones(1, 2, 3)).shape
        torch.Size([1, 2, 7])
    """

    _n = 1
    mode = "replicate"


class ReplicationPad3d(ReplicationPad1d):
    """Pads the last 3 dims by repeating the edge.

    Args:
        padding: int or a 6-tuple.

    Shape:
        ``(*, D, H, W)`` -> padded.

    Example:
        >>> nn.ReplicationPad3d(1)(ember.ones(1, 1, 2, 2, 2)).shape
        torch.Size([1, 1, 4, 4, 4])
    """

    _n = 3


class ReflectionPad3d(_PadNd):
    """Pads the last 3 dims by reflection (edge not repeated).

    Args:
        padding: int or a 6-tuple, each smaller than its dim.

    Shape:
        ``(*, D, H, W)`` -> padded.

    Example:
        >>> nn.ReflectionPad3d(1)(ember.ones(1, 1, 2, 2, 2)).shape
        torch.Size([1, 1, 4, 4, 4])
    """

    _n = 3
    mode = "reflect"


# ------------------------------------------------------------------------------- dropouts
class Dropout1d(_DropoutNd):
    """Zeroes whole channels of ``(N, C, L)`` input with probability p in training.

    Shape:
        ``(N, C, L)`` or ``(C, L)`` -> same.

    Example:
        >>> nn.Dropout1d().eval()(ember.ones(1, 2, 3)).shape
        torch.Size([1, 2, 3])
    """

    def forward(self, input: Tensor) -> Tensor:
        return FL.dropout1d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of ``(N, C, D, H, W)`` input with probability p in training.

    Shape:
        ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> same.

    Example:
        >>> nn.Dropout3d().eval()(ember.ones(1, 2, 2, 2, 2)).shape
        torch.Size([1, 2, 2, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return FL.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps zero mean and unit variance (for SELU networks).

    Shape:
        ``(*)`` -> same.

    Example:
        >>> nn.AlphaDropout(0.2).eval()(ember.ones(3))
        tensor([1., 1., 1.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return FL.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels.

    Shape:
        ``(N, C, *)`` -> same.

    Example:
        >>> nn.FeatureAlphaDropout(0.2).eval()(ember.ones(1, 2, 2)).shape
        torch.Size([1, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return FL.feature_alpha_dropout(input, self.p, self.training)


# -------------------------------------------------------------------------------- pooling
class AdaptiveAvgPool3d(_AdaptivePool):
    """Average pooling to a fixed ``(D_out, H_out, W_out)``.

    Args:
        output_size: int or 3-tuple (None keeps that input size).

    Shape:
        ``(N, C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> nn.AdaptiveAvgPool3d(1)(ember.randn(1, 2, 3, 4, 5)).shape
        torch.Size([1, 2, 1, 1, 1])
    """

    def __init__(self, output_size) -> None:
        super().__init__(output_size)

    def forward(self, input: Tensor) -> Tensor:
        return FL.adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool1d(_AdaptivePool):
    """Max pooling to a fixed output length.

    Args:
        output_size: the length; return_indices: also return argmax positions.

    Shape:
        ``(N, C, L)`` -> ``(N, C, L_out)``.

    Example:
        >>> nn.AdaptiveMaxPool1d(2)(ember.randn(1, 3, 7)).shape
        torch.Size([1, 3, 2])
    """

    def forward(self, input: Tensor):
        return FL.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool3d(_AdaptivePool):
    """Max pooling to a fixed ``(D_out, H_out, W_out)``.

    Args:
        output_size: int or 3-tuple; return_indices.

    Shape:
        ``(N, C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> nn.AdaptiveMaxPool3d(2)(ember.randn(1, 2, 4, 4, 4)).shape
        torch.Size([1, 2, 2, 2, 2])
    """

    def forward(self, input: Tensor):
        return FL.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class _MaxUnpoolNd(Module):
    _n = 2

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, self._n)
        self.stride = _ntuple(stride if stride is not None else kernel_size, self._n)
        self.padding = _ntuple(padding, self._n)

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return FL._max_unpool(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size, self._n)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of MaxPool1d (non-maximal positions become zero).

    Args:
        kernel_size, stride (default kernel_size), padding: as the pooling.

    Shape:
        ``(N, C, L_in)`` and indices -> ``(N, C, L_out)``.

    Example:
        >>> v, i = nn.MaxPool1d(2, return_indices=True)(ember.randn(1, 1, 4))
        >>> nn.MaxUnpool1d(2)(v, i).shape
        torch.Size([1, 1, 4])
    """

    _n = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of MaxPool2d.

    Args:
        kernel_size, stride, padding.

    Shape:
        ``(N, C, H_in, W_in)`` and indices -> ``(N, C, H_out, W_out)``.

    Example:
        >>> v, i = nn.MaxPool2d(2, return_indices=True)(ember.randn(1, 1, 4, 4))
        >>> nn.MaxUnpool2d(2)(v, i).shape
        torch.Size([1, 1, 4, 4])
    """

    _n = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of MaxPool3d.

    Args:
        kernel_size, stride, padding.

    Shape:
        ``(N, C, D, H, W)`` and indices -> unpooled.

    Example:
        >>> v, i = nn.MaxPool3d(2, return_indices=True)(ember.randn(1, 1, 4, 4, 4))
        >>> nn.MaxUnpool3d(2)(v, i).shape
        torch.Size([1, 1, 4, 4, 4])
    """

    _n = 3


class _LPPoolNd(Module):
    def __init__(self, norm_type: float, kernel_size, stride=None,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling ``(sum x^p)^(1/p)`` over 1-D windows.

    Args:
        norm_type: p; kernel_size, stride, ceil_mode.

    Shape:
        ``(N, C, L)`` -> ``(N, C, L_out)``.

    Example:
        >>> nn.LPPool1d(2, 3)(ember.randn(1, 2, 6)).shape
        torch.Size([1, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return FL.lp_pool1d(input, float(self.norm_type), self.kernel_size, self.stride,
                            self.ceil_mode)


class LPPool2d(_LPPoolNd):
    """Power-average pooling over 2-D windows.

    Args:
        norm_type, kernel_size, stride, ceil_mode.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Example:
        >>> nn.LPPool2d(2, 2)(ember.randn(1, 2, 4, 4)).shape
        torch.Size([1, 2, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return FL.lp_pool2d(input, float(self.norm_type), self.kernel_size, self.stride,
                            self.ceil_mode)


class LPPool3d(_LPPoolNd):
    """Power-average pooling over 3-D windows.

    Args:
        norm_type, kernel_size, stride, ceil_mode.

    Shape:
        ``(N, C, D, H, W)`` -> pooled.

    Example:
        >>> nn.LPPool3d(2, 2)(ember.randn(1, 2, 4, 4, 4)).shape
        torch.Size([1, 2, 2, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return FL.lp_pool3d(input, float(self.norm_type), self.kernel_size, self.stride,
                            self.ceil_mode)


# ----------------------------------------------------------------------------- upsampling
class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour 2-D upsampling.

    Args:
        size or scale_factor.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Example:
        >>> nn.UpsamplingNearest2d(scale_factor=2)(ember.ones(1, 1, 2, 2)).shape
        torch.Size([1, 1, 4, 4])
    """

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear 2-D upsampling with ``align_corners=True``.

    Args:
        size or scale_factor.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Example:
        >>> nn.UpsamplingBilinear2d(scale_factor=2)(ember.ones(1, 1, 2, 2)).shape
        torch.Size([1, 1, 4, 4])
    """

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


# ------------------------------------------------------------------------ fold and unfold
class Fold(Module):
    """Sums sliding local blocks back into a ``(N, C, H, W)`` tensor.

    Args:
        output_size, kernel_size, dilation, padding, stride.

    Shape:
        ``(N, C * prod(kernel_size), L)`` -> ``(N, C, *output_size)``.

    Example:
        >>> nn.Fold(4, 2)(ember.randn(1, 4, 9)).shape
        torch.Size([1, 1, 4, 4])
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


class Unfold(Module):
    """Extracts sliding local blocks.

    Args:
        kernel_size, dilation, padding, stride.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C * prod(kernel_size), L)``.

    Example:
        >>> nn.Unfold(2)(ember.randn(1, 1, 4, 4)).shape
        torch.Size([1, 4, 9])
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


# ------------------------------------------------------------------------ shuffles / misc
class ChannelShuffle(Module):
    """Interleaves the channels of ``groups`` groups.

    Args:
        groups: number of groups C is split into.

    Shape:
        ``(N, C, *)`` -> same.

    Example:
        >>> nn.ChannelShuffle(2)(ember.randn(1, 4, 2, 2)).shape
        torch.Size([1, 4, 2, 2])
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return FL.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class Softmax2d(Module):
    """Softmax over the channel dim of ``(N, C, H, W)`` or ``(C, H, W)`` input.

    Shape:
        ``(N, C, H, W)`` -> same.

    Example:
        >>> nn.Softmax2d()(ember.randn(1, 3, 2, 2)).shape
        torch.Size([1, 3, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D "
                             "instead")
        return F.softmax(input, -3)


class Hardshrink(Module):
    """x where |x| > lambd, else 0.

    Args:
        lambd: the threshold (0.5).

    Shape:
        ``(*)`` -> same.

    Example:
        >>> nn.Hardshrink()(ember.tensor([-1.0, 0.2, 0.7]))
        tensor([-1.0000,  0.0000,  0.7000])
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return FL.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """Shrinks towards zero by lambd (zero inside [-lambd, lambd]).

    Args:
        lambd: the threshold (0.5).

    Shape:
        ``(*)`` -> same.

    Example:
        >>> nn.Softshrink()(ember.tensor([-1.0, 0.2, 0.7]))
        tensor([-0.5000,  0.0000,  0.2000])
    """

    def forward(self, input: Tensor) -> Tensor:
        return FL.softshrink(input, self.lambd)


class RReLU(Module):
    """Randomised leaky ReLU (random negative slope in training, the mean slope in eval).

    Args:
        lower, upper: the slope range; inplace.

    Shape:
        ``(*)`` -> same.

    Example:
        >>> nn.RReLU().eval()(ember.tensor([-1.0, 2.0])).shape
        torch.Size([2])
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                 inplace: bool = False) -> None:
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return FL.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return (f"lower={self.lower}, upper={self.upper}"
                + (", inplace=True" if self.inplace else ""))


class PairwiseDistance(Module):
    """p-norm distance between rows of two inputs.

    Args:
        p: the norm (2); eps: added to the difference; keepdim.

    Shape:
        ``(N, D)`` and ``(N, D)`` -> ``(N,)``.

    Example:
        >>> nn.PairwiseDistance()(ember.randn(3, 4), ember.randn(3, 4)).shape
        torch.Size([3])
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """Cosine similarity along ``dim``.

    Args:
        dim (1), eps (1e-8).

    Shape:
        ``(*, D, *)`` and the same -> the shape without ``dim``.

    Example:
        >>> nn.CosineSimilarity()(ember.randn(3, 4), ember.randn(3, 4)).shape
        torch.Size([3])
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
