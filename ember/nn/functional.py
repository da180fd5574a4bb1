"""``torch.nn.functional`` on ember: fused primitives where hot, composites elsewhere."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

import ember as E
from ..backend import dtypes as _dt
from ..ops import registry as _reg
from ..amp.autocast_mode import autocast_op
from ..tensor import Tensor
from . import _ops
from ._ctc_ops import CtcLossOp as _CtcLossOp  # registers ctc_loss
from ._conv3d_ops import conv3d, conv_transpose3d  # noqa: F401  (registers the ops)
from ._pool3d_ops import avg_pool3d, max_pool3d  # noqa: F401
from ._functional_losses import (  # noqa: F401
    affine_grid, embedding_bag, gaussian_nll_loss, grid_sample, gumbel_softmax,
    hinge_embedding_loss, multi_margin_loss, multilabel_margin_loss,
    multilabel_soft_margin_loss, pdist, poisson_nll_loss, soft_margin_loss,
    triplet_margin_with_distance_loss)

__all__ = [
    "linear", "bilinear", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "batch_norm", "layer_norm", "group_norm",
    "instance_norm", "dropout", "dropout2d", "embedding", "relu", "relu6", "leaky_relu", "prelu",
    "elu", "selu", "celu", "gelu", "silu", "mish", "sigmoid", "tanh", "hardtanh", "hardswish",
    "hardsigmoid", "softplus", "softsign", "softmax", "log_softmax", "softmin", "logsigmoid",
    "threshold", "glu", "tanhshrink", "pad", "interpolate", "upsample", "pixel_shuffle",
    "pixel_unshuffle", "normalize", "cosine_similarity", "pairwise_distance", "unfold", "fold",
    "one_hot", "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss",
    "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
    "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
    "relu_", "elu_", "selu_", "celu_", "leaky_relu_", "hardtanh_", "threshold_", "conv3d",
    "conv_transpose3d", "max_pool3d", "avg_pool3d",
    "gaussian_nll_loss", "poisson_nll_loss", "hinge_embedding_loss", "multi_margin_loss",
    "multilabel_margin_loss", "multilabel_soft_margin_loss", "soft_margin_loss",
    "triplet_margin_with_distance_loss", "embedding_bag", "gumbel_softmax", "grid_sample",
    "affine_grid", "pdist",
]


def _pair(v, n=2):
    if isinstance(v, (tuple, list)):
        return tuple(int(a) for a in v)
    return (int(v),) * n


# --------------------------------------------------------------------------------- linear
def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``input @ weight.T + bias`` (one autograd node)."""
    if input.shape[-1] != weight.shape[-1]:
        lead = input.shape[:-1]
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({math.prod(lead) if lead else 1}x{input.shape[-1]} and "
                           f"{weight.shape[1]}x{weight.shape[0]})")
    return _ops.LinearOp.apply(input, weight, bias)


@autocast_op("bilinear")
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Optional[Tensor] = None) -> Tensor:
    """``y_k = x1^T W_k x2 + b_k``; weight (out, in1, in2)."""
    k, i, j = weight.shape
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, i)
    x2 = input2.reshape(-1, j)
    # (B, i) @ (i, k*j) -> (B, k, j), then contract j with x2: two dense steps, no einsum.
    tmp = x1.matmul(weight.permute(1, 0, 2).reshape(i, k * j)).reshape(-1, k, j)
    out = (tmp * x2.unsqueeze(1)).sum(-1).reshape(*lead, k)
    return out + bias if bias is not None else out


# ---------------------------------------------------------------------------- convolution
def _same_pad(k, d):
    total = d * (k - 1)
    return total // 2, total - total // 2


def _conv_padding(x, weight, padding, dilation, nsp):
    """Turn padding (int/tuple/'same'/'valid') into symmetric pads, pre-padding if needed."""
    if isinstance(padding, str):
        if padding == "valid":
            return x, (0,) * nsp
        if padding != "same":
            raise ValueError(f"Invalid padding string '{padding}'")
        ks = weight.shape[2:]
        pairs = [_same_pad(k, d) for k, d in zip(ks, dilation)]
        if all(lo == hi for lo, hi in pairs):
            return x, tuple(lo for lo, _ in pairs)
        # Even kernels: torch pads the extra element on the right/bottom.
        flat = []
        for lo, hi in reversed(pairs):
            flat += [lo, hi]
        return pad(x, flat), (0,) * nsp
    return x, _pair(padding, nsp)


def conv2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
           padding=0, dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (im2col + GEMM)."""
    stride, dilation = _pair(stride), _pair(dilation)
    input, padding, unbatched = _conv_input(input, weight, padding, stride, dilation, groups, 2)
    out = _ops.Conv2dOp.apply(input, weight, bias, stride, padding, dilation, groups)
    return out.squeeze(0) if unbatched else out


def _conv_input(input: Tensor, weight: Tensor, padding, stride: tuple, dilation: tuple,
                groups: int, nd: int) -> tuple:
    """torch's checks of an ``nd``-D convolution's input, the batch dim added to an unbatched
    input, and the padding resolved: ``(input, padding, unbatched)``."""
    if isinstance(padding, str) and padding == "same" and stride != (1,) * nd:
        raise ValueError("padding='same' is not supported for strided convolutions")
    unbatched = input.dim() == nd + 1
    if unbatched:
        input = input.unsqueeze(0)
    if input.dim() != nd + 2:
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"conv{nd}d, but got input of size: {list(input.shape)}")
    if input.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                           f"expected input{list(input.shape)} to have "
                           f"{weight.shape[1] * groups} channels, but got {input.shape[1]} "
                           "channels instead")
    input, padding = _conv_padding(input, weight, padding, dilation, nd)
    return input, padding, unbatched


def conv1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
           padding=0, dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution, computed as a 2-D one with a height-1 kernel."""
    unbatched = input.dim() == 2
    if unbatched:
        input = input.unsqueeze(0)
    if isinstance(padding, str):
        input, pd = _conv_padding(input, weight, padding, _pair(dilation, 1), 1)
        padding = pd[0]
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, _pair(stride, 1)[0]),
                 (0, _pair(padding, 1)[0]), (1, _pair(dilation, 1)[0]), groups).squeeze(2)
    return out.squeeze(0) if unbatched else out


def _convT_out(n, k, s, p, d, op):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution; weight (C_in, C_out/groups, kH, kW)."""
    stride, padding = _pair(stride), _pair(padding)
    output_padding, dilation = _pair(output_padding), _pair(dilation)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    out_hw = tuple(_convT_out(input.shape[2 + i], weight.shape[2 + i], stride[i], padding[i],
                              dilation[i], output_padding[i]) for i in range(2))
    out = _ops.ConvTranspose2dOp.apply(input, weight, bias, stride, padding, dilation, groups,
                                       out_hw)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution."""
    unbatched = input.dim() == 2
    if unbatched:
        input = input.unsqueeze(0)
    one = lambda v: _pair(v, 1)[0]  # noqa: E731
    out = conv_transpose2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, one(stride)),
                           (0, one(padding)), (0, one(output_padding)), groups,
                           (1, one(dilation))).squeeze(2)
    return out.squeeze(0) if unbatched else out


# -------------------------------------------------------------------------------- pooling
def _check_pool_pad(kernel, padding):
    for k, p in zip(kernel, padding):
        if p > k // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation=1")


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-D max pooling (indices are flat positions in each H*W plane, like torch's)."""
    kernel = _pair(kernel_size)
    stride = _pair(stride) if stride not in (None, (), []) else kernel
    padding, dilation = _pair(padding), _pair(dilation)
    _check_pool_pad(kernel, padding)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    out = _ops.MaxPool2dOp.apply(input, kernel, stride, padding, dilation, ceil_mode,
                                 return_indices)
    if unbatched:
        out = tuple(o.squeeze(0) for o in out) if return_indices else out.squeeze(0)
    return out


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """1-D max pooling."""
    one = lambda v: _pair(v, 1)[0]  # noqa: E731
    stride = one(stride) if stride not in (None, (), []) else one(kernel_size)
    out = max_pool2d(input.unsqueeze(-2), (1, one(kernel_size)), (1, stride),
                     (0, one(padding)), (1, one(dilation)), ceil_mode, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """2-D average pooling."""
    kernel = _pair(kernel_size)
    stride = _pair(stride) if stride not in (None, (), []) else kernel
    padding = _pair(padding)
    _check_pool_pad(kernel, padding)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    out = _ops.AvgPool2dOp.apply(input, kernel, stride, padding, ceil_mode, count_include_pad,
                                 divisor_override)
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling."""
    one = lambda v: _pair(v, 1)[0]  # noqa: E731
    stride = one(stride) if stride not in (None, (), []) else one(kernel_size)
    return avg_pool2d(input.unsqueeze(-2), (1, one(kernel_size)), (1, stride),
                      (0, one(padding)), ceil_mode, count_include_pad).squeeze(-2)


def _adaptive_bounds(n_in, n_out):
    return [((i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)) for i in range(n_out)]


def _adaptive2d(input, output_size, reduce):
    h, w = input.shape[-2:]
    oh, ow = (output_size, output_size) if not isinstance(output_size, (tuple, list)) \
        else output_size
    oh = h if oh is None else oh
    ow = w if ow is None else ow
    if h % oh == 0 and w % ow == 0:
        # Equal windows: reshape and reduce in one step.
        lead = input.shape[:-2]
        r = input.reshape(*lead, oh, h // oh, ow, w // ow)
        return reduce(reduce(r, -1), -2)
    rows = []
    for r0, r1 in _adaptive_bounds(h, oh):
        cols = [reduce(reduce(input[..., r0:r1, c0:c1], -1), -1)
                for c0, c1 in _adaptive_bounds(w, ow)]
        rows.append(E.stack(cols, -1))
    return E.stack(rows, -2)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Adaptive 2-D average pooling (torch's floor/ceil window bounds)."""
    return _adaptive2d(input, output_size, lambda t, d: t.mean(d))


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Adaptive 1-D average pooling."""
    o = output_size[0] if isinstance(output_size, (tuple, list)) else output_size
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, o)).squeeze(-2)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Adaptive 2-D max pooling; ``return_indices`` also gives each maximum's flat position in
    its H*W plane (torch's convention)."""
    if not return_indices:
        return _adaptive2d(input, output_size, lambda t, d: t.amax(d))
    h, w = input.shape[-2:]
    oh, ow = (output_size, output_size) if not isinstance(output_size, (tuple, list)) \
        else output_size
    oh = h if oh is None else oh
    ow = w if ow is None else ow
    idx = _adaptive_argmax(input, h, w, oh, ow)
    lead = tuple(input.shape[:-2])
    # Values gathered at the indices: backward then routes each gradient to that one position,
    # as torch's kernel does (amax would split it between tied maxima).
    values = input.reshape(*lead, h * w).gather(-1, idx.reshape(*lead, oh * ow))
    return values.reshape(*lead, oh, ow), idx


def _window_rows(xp, n_in, n_out):
    """(n_out, widest window) source positions of each adaptive window, each row padded by
    repeating its last position (a repeat never changes which position holds the maximum)."""
    bounds = _adaptive_bounds(n_in, n_out)
    width = max(e - s for s, e in bounds)
    start = xp.asarray([s for s, _ in bounds], dtype=np.int64)
    last = xp.asarray([e - 1 for _, e in bounds], dtype=np.int64)
    return xp.minimum(start[:, None] + xp.arange(width, dtype=np.int64)[None, :], last[:, None])


def _adaptive_argmax(input, h, w, oh, ow) -> Tensor:
    xp = _array_module(input)
    a = input._data
    if _dt.is_bf16_array(a):
        a = a.astype(np.float32)  # argmax has no bfloat16 kernel on CUDA
    with _device_ctx(input):
        rows = _window_rows(xp, h, oh)  # (oh, Lh)
        cols = _window_rows(xp, w, ow)  # (ow, Lw)
        lh, lw = rows.shape[1], cols.shape[1]
        win = a[..., rows[:, :, None, None], cols[None, None, :, :]]  # (..., oh, Lh, ow, Lw)
        nd = win.ndim
        win = xp.moveaxis(win, nd - 3, nd - 2).reshape(win.shape[:-4] + (oh, ow, lh * lw))
        k = xp.argmax(win, axis=-1)  # the first maximum in row-major window order, as torch
        r = rows[xp.arange(oh)[:, None], k // lw]
        c = cols[xp.arange(ow)[None, :], k % lw]
        flat = (r * w + c).astype(np.int64)
    return _reg.make_tensor(flat, E.int64, input._device)


# -------------------------------------------------------------------------- normalisation
def batch_norm(input: Tensor, running_mean: Optional[Tensor], running_var: Optional[Tensor],
               weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation; running statistics are updated in place when training."""
    rm = running_mean._data if running_mean is not None else None
    rv = running_var._data if running_var is not None else None
    if not training and (rm is None or rv is None):
        training = True
    out = _ops.BatchNormOp.apply(input, weight, bias, rm, rv, training, momentum, eps)
    if training:
        for t in (running_mean, running_var):
            if t is not None:
                t._version[0] += 1
    return out


def layer_norm(input: Tensor, normalized_shape, weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape``."""
    ns = _pair(normalized_shape, 1)
    if tuple(input.shape[input.dim() - len(ns):]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in ns)}], but got input of size"
                           f"{list(input.shape)}")
    return _ops.LayerNormOp.apply(input, weight, bias, len(ns), eps)


@autocast_op("group_norm")
def group_norm(input: Tensor, num_groups: int, weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5) -> Tensor:
    """Group normalisation: statistics over (C/groups, *spatial) per sample and group."""
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    x = input.reshape(n, num_groups, -1)
    y = _ops.LayerNormOp.apply(x, None, None, 1, eps).reshape(input.shape)
    shape = [1, c] + [1] * (input.dim() - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    if y.dtype is not input.dtype:
        y = y.to(input.dtype)  # lower-precision input, float32 affine: torch keeps input's
    return y


def instance_norm(input: Tensor, running_mean: Optional[Tensor] = None,
                  running_var: Optional[Tensor] = None, weight: Optional[Tensor] = None,
                  bias: Optional[Tensor] = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalisation: per sample and channel over the spatial dims."""
    n, c = input.shape[:2]
    shape = [1, c] + [1] * (input.dim() - 2)
    if use_input_stats:
        x = input.reshape(n, c, -1)
        y = _ops.LayerNormOp.apply(x, None, None, 1, eps).reshape(input.shape)
        if running_mean is not None or running_var is not None:
            with E.no_grad():
                xd = x.detach()
                m = xd.mean(-1).mean(0)
                v = xd.var(-1, unbiased=True).mean(0)
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(m * momentum)
                if running_var is not None:
                    running_var.mul_(1 - momentum).add_(v * momentum)
    else:
        y = (input - running_mean.reshape(shape)) / (running_var.reshape(shape) + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


# ------------------------------------------------------------------------------ dropout
def _bernoulli_mask(shape, p, like):
    scale = 1.0 / (1.0 - p)
    if not isinstance(like._data, np.ndarray):
        # On CUDA draw the mask on the device (CuPy's generator, seeded by cuda.manual_seed).
        cp = _array_module(like)
        keep = cp.random.random_sample(shape, dtype=cp.float32) >= p
        return (keep * scale).astype(like._data.dtype)
    from ..random import rng_of
    # float32 uniforms are enough for a keep/drop decision and twice as fast to draw.
    keep = rng_of(None).random(shape, dtype=np.float32) >= p
    return (keep * scale).astype(like._data.dtype)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    if not isinstance(input._data, np.ndarray):
        from ..cuda import kernels as _k
        if _k.available(input._data) and _k.dropout.ready():
            # The mask comes from a hash inside the kernel (drawn afresh on CUDA-graph replays).
            return _ops.DropoutOp.apply(input, None, p=p)
    mask = _bernoulli_mask(tuple(input.shape), p, input)
    return _ops.DropoutOp.apply(input, mask)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (dim 1 of (N, C, H, W), dim 0 of (C, H, W))."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    nlead = 2 if input.dim() == 4 else 1
    shape = tuple(input.shape[:nlead]) + (1,) * (input.dim() - nlead)
    mask = _array_module(input).broadcast_to(_bernoulli_mask(shape, p, input),
                                             tuple(input.shape))
    return _ops.DropoutOp.apply(input, mask)


# ----------------------------------------------------------------------------- embedding
def embedding(input: Tensor, weight: Tensor, padding_idx: Optional[int] = None,
              max_norm: Optional[float] = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Row lookup in ``weight``; max_norm renormalises the looked-up rows in place."""
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    xp = _array_module(weight)  # the renorm and a raw index live where the weight does
    if isinstance(input, Tensor) and input.device != weight.device:
        raise RuntimeError("Expected all tensors to be on the same device, but found at least "
                           f"two devices, {weight.device} and {input.device}! (when checking "
                           "argument for argument index in method wrapper__index_select)")
    if max_norm is not None:
        idx = xp.unique(input._data.reshape(-1))
        w = weight._data
        rows = w[idx]
        norms = xp.linalg.norm(rows.astype(np.float64), ord=norm_type, axis=1)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        w[idx] = (rows * scale[:, None]).astype(w.dtype)
        weight._version[0] += 1
    return _ops.EmbeddingOp.apply(input._data if isinstance(input, Tensor) else
                                  xp.asarray(input), weight, padding_idx)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices to one-hot int64 rows."""
    return E.one_hot(tensor, num_classes)


# --------------------------------------------------------------------------- activations
def _act(input: Tensor, inplace: bool, fn) -> Tensor:
    """``fn(input)``; with ``inplace`` the result overwrites ``input`` under torch's in-place
    rules (version bump, leaf and saved-tensor errors) and ``input`` itself is returned."""
    if not inplace:
        return fn(input)
    from .._tensor_methods import inplace as _inplace
    return _inplace(input, fn)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return _act(input, inplace, E.relu)


def relu_(input: Tensor) -> Tensor:
    return relu(input, True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    return _act(input, inplace, lambda t: E.clamp(t, min_val, max_val))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return _act(input, inplace, lambda t: E.where(t > 0, t, t * negative_slope))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, True)


@autocast_op("prelu")
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    w = weight
    if input.dim() >= 2 and weight.numel() > 1:
        w = weight.reshape([1, -1] + [1] * (input.dim() - 2))
    return E.where(input > 0, input, input * w)


def _elu(input: Tensor, alpha: float) -> Tensor:
    neg = (E.clamp(input, max=0.0).exp() - 1) * alpha
    return E.where(input > 0, input, neg)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _act(input, inplace, lambda t: _elu(t, alpha))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    # Constants of Klambauer et al. 2017, as torch uses them.
    return _act(input, inplace, lambda t: _elu(t, 1.6732632423543772848170429916717)
                * 1.0507009873554804934193349852946)


def selu_(input: Tensor) -> Tensor:
    return selu(input, True)


def _celu(input: Tensor, alpha: float) -> Tensor:
    neg = ((E.clamp(input, max=0.0) / alpha).exp() - 1) * alpha
    return E.where(input > 0, input, neg)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _act(input, inplace, lambda t: _celu(t, alpha))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if approximate in ("none", "tanh") and not isinstance(input._data, np.ndarray):
        from ..cuda import kernels as _k
        if _k.available(input._data):
            return _k.activation.gelu(input, approximate)  # fused CUDA kernels
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (inner.tanh() + 1)
    if approximate != "none":
        raise RuntimeError("approximate argument must be either none or tanh.")
    return input * 0.5 * ((input * (1.0 / math.sqrt(2.0))).erf() + 1)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _act(input, inplace, lambda t: t * t.sigmoid())


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return _act(input, inplace, lambda t: t * softplus(t).tanh())


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    return _act(input, inplace, lambda t: t * E.clamp(t + 3.0, 0.0, 6.0) / 6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    return _act(input, inplace, lambda t: E.clamp(t / 6.0 + 0.5, 0.0, 1.0))


@autocast_op("softplus")
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    bx = input * beta
    # Above the threshold torch returns x itself (log1p(exp) would overflow).
    soft = E.clamp(bx, max=threshold).exp().log1p() / beta
    return E.where(bx > threshold, input, soft)


def softsign(input: Tensor) -> Tensor:
    return input / (input.abs() + 1)


def logsigmoid(input: Tensor) -> Tensor:
    return -softplus(-input)


def tanhshrink(input: Tensor) -> Tensor:
    return input - input.tanh()


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    return _act(input, inplace, lambda t: E.where(t > threshold, t, value))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _act(input, True, lambda t: E.where(t > threshold, t, value))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def _softmax_dim(ndim):
    # torch's legacy implicit-dim rule.
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        dim = _softmax_dim(input.dim())
    if input.dim() == 0:
        return _ops.SoftmaxOp.apply(input.reshape(1), 0).reshape(())
    return _ops.SoftmaxOp.apply(input, dim % input.dim())


def log_softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        dim = _softmax_dim(input.dim())
    if input.dim() == 0:
        return _ops.LogSoftmaxOp.apply(input.reshape(1), 0).reshape(())
    return _ops.LogSoftmaxOp.apply(input, dim % input.dim())


def softmin(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    return softmax(-input, dim, dtype=dtype)


# ------------------------------------------------------------------------ shape utilities
def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: Optional[float] = None) -> Tensor:
    """Pad the last ``len(pad)//2`` dims; pairs run from the last dim backwards."""
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           "dimension but got padding length "
                           f"{len(pad)} and input of dimension {input.dim()}")
    out = input
    for k in range(len(pad) // 2):
        d = input.dim() - 1 - k
        lo, hi = int(pad[2 * k]), int(pad[2 * k + 1])
        if lo == 0 and hi == 0:
            continue
        n = out.shape[d]
        if mode == "constant":
            if lo < 0:
                out = out.narrow(d, -lo, out.shape[d] + lo)
                lo = 0
            if hi < 0:
                out = out.narrow(d, 0, out.shape[d] + hi)
                hi = 0
            parts = []
            fill = 0.0 if value is None else value
            for size in (lo,):
                if size:
                    shp = list(out.shape)
                    shp[d] = size
                    parts.append(out.new_full(shp, fill))
            parts.append(out)
            if hi:
                shp = list(out.shape)
                shp[d] = hi
                parts.append(out.new_full(shp, fill))
            out = E.cat(parts, d)
            continue
        if mode not in ("reflect", "replicate", "circular"):
            raise NotImplementedError(f"padding mode {mode!r}")
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi})"
                               f" at dimension {d} of input {list(input.shape)}")
        xp = _array_module(input)
        with _device_ctx(input):
            # Source position of every output element, made on the input's device (a host
            # index would mix devices, and a host-to-device copy cannot be graph-captured).
            pos = xp.arange(-lo, n + hi, dtype=np.int64)
            if mode == "reflect":
                pos = xp.abs(pos)
                pos = xp.where(pos > n - 1, 2 * (n - 1) - pos, pos)
            elif mode == "replicate":
                pos = xp.clip(pos, 0, n - 1)
            else:
                pos = pos % n
        out = out.index_select(d, _reg.make_tensor(pos, E.int64, input._device))
    return out


def _interp_size(input, size, scale_factor, nsp):
    if size is not None:
        size = _pair(size, nsp)
        scales = [None] * nsp
    else:
        sf = scale_factor if isinstance(scale_factor, (tuple, list)) else [scale_factor] * nsp
        size = tuple(int(math.floor(input.shape[2 + i] * sf[i])) for i in range(nsp))
        scales = list(sf)
    return size, scales


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: Optional[bool] = None, recompute_scale_factor=None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims: nearest, linear, bilinear, bicubic (align_corners)."""
    nsp = input.dim() - 2
    if mode == "bicubic" and nsp != 2:
        raise NotImplementedError(  # torch's words: bicubic exists for 4-D input only
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for "
            "the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
            "nearest-exact (got bicubic)")
    if antialias and mode == "bicubic":  # torch's antialiased kernel differs (A = -0.5)
        raise NotImplementedError("ember: interpolate(mode='bicubic', antialias=True)")
    out_size, scales = _interp_size(input, size, scale_factor, nsp)
    if recompute_scale_factor:
        scales = [None] * nsp
    if mode == "area":
        # torch's "area" mode is adaptive average pooling to the output size.
        pool = {1: adaptive_avg_pool1d, 2: adaptive_avg_pool2d, 3: adaptive_avg_pool3d}[nsp]
        return pool(input, out_size)
    out = input
    xp, dev = _array_module(input), input._device
    for i in range(nsp):
        d = 2 + i
        n_in, n_out = input.shape[d], out_size[i]
        sc = scales[i]
        if mode not in ("nearest", "nearest-exact", "linear", "bilinear", "trilinear",
                        "bicubic"):
            raise NotImplementedError(f"ember: interpolate mode {mode!r}")
        # Indices and weights are made on the input's device (see pad).
        with _device_ctx(input):
            pos = xp.arange(n_out, dtype=np.float64)
            if mode in ("nearest", "nearest-exact"):
                s = (1.0 / sc) if sc else n_in / n_out
                if mode == "nearest":
                    src = xp.floor(pos * s).astype(np.int64)
                else:
                    src = xp.floor((pos + 0.5) * s).astype(np.int64)
                src = xp.minimum(src, n_in - 1)
                out = out.index_select(d, _reg.make_tensor(src, E.int64, dev))
                continue
            if align_corners:
                src = pos * ((n_in - 1) / (n_out - 1)) if n_out > 1 else pos * 0.0
            else:
                s = (1.0 / sc) if sc else n_in / n_out
                src = (pos + 0.5) * s - 0.5
                if mode != "bicubic":  # torch clamps the linear modes' source index only
                    src = xp.maximum(src, 0.0)
            if mode == "bicubic":
                idx, wts = _cubic_taps(xp, src, n_in)
                shape = [1] * input.dim()
                shape[d] = n_out
                wts = [_dt.to_dtype_array(w.reshape(shape), input.dtype) for w in wts]
        if mode == "bicubic":
            acc = None
            for i_k, w_k in zip(idx, wts):
                term = (out.index_select(d, _reg.make_tensor(i_k, E.int64, dev))
                        * _reg.make_tensor(w_k, input.dtype, dev))
                acc = term if acc is None else acc + term
            out = acc
            continue
        with _device_ctx(input):
            i0 = xp.minimum(xp.floor(src).astype(np.int64), n_in - 1)
            i1 = xp.minimum(i0 + 1, n_in - 1)
            shape = [1] * input.dim()
            shape[d] = n_out
            lam = _dt.to_dtype_array((src - i0).reshape(shape), input.dtype)
        lt = _reg.make_tensor(lam, input.dtype, dev)
        out = (out.index_select(d, _reg.make_tensor(i0, E.int64, dev)) * (1 - lt)
               + out.index_select(d, _reg.make_tensor(i1, E.int64, dev)) * lt)
    return out


upsample = interpolate


def _cubic_taps(xp, src, n_in: int, a: float = -0.75):
    """Keys' cubic convolution (torch's A = -0.75): the four source indices of each output
    position, clamped to the border, and their weights."""
    f = xp.floor(src)
    t = src - f
    base = f.astype(np.int64)
    near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1  # noqa: E731  |x| <= 1
    far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a  # noqa: E731  1 < |x| < 2
    wts = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    idx = [xp.clip(base + k - 1, 0, n_in - 1) for k in range(4)]
    return idx, wts


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    r = upscale_factor
    *lead, c, h, w = input.shape
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    nl = len(lead)
    perm = list(range(nl)) + [nl, nl + 3, nl + 1, nl + 4, nl + 2]
    return x.permute(*perm).reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    r = downscale_factor
    *lead, c, h, w = input.shape
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    nl = len(lead)
    perm = list(range(nl)) + [nl, nl + 2, nl + 4, nl + 1, nl + 3]
    return x.permute(*perm).reshape(*lead, c * r * r, h // r, w // r)


@autocast_op("normalize")
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out=None) -> Tensor:
    n = E.norm(input, p, dim, True)
    return input / E.clamp(n, min=eps).expand_as(input)


@autocast_op("cosine_similarity")
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    n1 = E.clamp(E.norm(x1, 2, dim, True), min=eps)
    n2 = E.clamp(E.norm(x2, 2, dim, True), min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    return E.norm(x1 - x2 + eps, p, -1, keepdim)


def _array_module(t: Tensor):
    """numpy or cupy: the array namespace of ``t``'s device."""
    from ..backend.device import get_xp
    return get_xp(t._device)


def _device_ctx(t: Tensor):
    """The CUDA device context of ``t``'s device (a no-op on the CPU), for making arrays there."""
    from ..creation import _on
    return _on(_array_module(t), t._device)


def _eye_kernel(kh, kw, like):
    xp = _array_module(like)
    with _device_ctx(like):
        # Made on the device: a host-to-device copy cannot be graph-captured.
        r = xp.arange(kh * kw)
        k = xp.zeros((kh * kw, 1, kh, kw), dtype=like._data.dtype)
        k[r, 0, r // kw, r % kw] = 1
    return _reg.make_tensor(k, like._dtype, like._device)


@autocast_op("unfold")
def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding blocks (N, C, H, W) -> (N, C*kh*kw, L), as a conv with an identity kernel."""
    kh, kw = _pair(kernel_size)
    n, c, h, w = input.shape
    cols = _ops.Conv2dOp.apply(input.reshape(n * c, 1, h, w), _eye_kernel(kh, kw, input), None,
                               _pair(stride), _pair(padding), _pair(dilation), 1)
    return cols.reshape(n, c * kh * kw, -1)


@autocast_op("fold")
def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum sliding blocks (N, C*kh*kw, L) back into (N, C, H, W)."""
    kh, kw = _pair(kernel_size)
    oh, ow = _pair(output_size)
    st, pd, dl = _pair(stride), _pair(padding), _pair(dilation)
    n, ck, _ = input.shape
    c = ck // (kh * kw)
    lh = (oh + 2 * pd[0] - dl[0] * (kh - 1) - 1) // st[0] + 1
    lw = (ow + 2 * pd[1] - dl[1] * (kw - 1) - 1) // st[1] + 1
    if input.shape[2] != lh * lw:
        raise RuntimeError(f"Given output_size=({oh}, {ow}), kernel_size=({kh}, {kw}), "
                           f"dilation={dl}, padding={pd}, stride={st}, expected size of input's "
                           f"dimension 2 to match the calculated number of sliding blocks "
                           f"{lh} * {lw} = {lh * lw}, but got input.size(2)={input.shape[2]}.")
    x = input.reshape(n * c, kh * kw, lh, lw)
    out = _ops.ConvTranspose2dOp.apply(x, _eye_kernel(kh, kw, input), None, st, pd, dl, 1,
                                       (oh, ow))
    return out.reshape(n, c, oh, ow)


# ---------------------------------------------------------------------------------- losses
def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


@autocast_op("cross_entropy")
def cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy of logits against class indices or class probabilities."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if target.dtype.is_floating_point:
        # Probability targets: -(sum_c w_c * t_c * log p_c), averaged over the batch elements.
        cdim = 1 if input.dim() >= 2 else 0
        n_cls = input.shape[cdim]
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_cls
        logp = log_softmax(input, cdim)
        prod = logp * target
        if weight is not None:
            shape = [1] * input.dim()
            shape[cdim] = n_cls
            prod = prod * weight.reshape(shape)
        loss = -prod.sum(cdim)
        if reduction == "mean":
            return loss.sum() / max(1, input.numel() // n_cls)
        return _reduce(loss, reduction)
    if input.dim() >= 2 and target.dim() != input.dim() - 1:
        raise RuntimeError(f"Expected target size {[input.shape[0]] + list(input.shape[2:])}, "
                           f"got {list(target.shape)}")
    if input.dim() >= 2 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    w = weight._data if weight is not None else None
    return _ops.CrossEntropyOp.apply(input, target._data, w, ignore_index, reduction,
                                     float(label_smoothing))


@autocast_op("nll_loss")
def nll_loss(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
             size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood loss of log-probabilities against class indices."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input.dim() >= 2 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    w = weight._data if weight is not None else None
    return _ops.NllLossOp.apply(input, target._data, w, ignore_index, reduction)


def _check_same_size(input, target, name):
    if tuple(input.shape) != tuple(target.shape):
        import warnings
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                      f"size ({input.shape}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", stacklevel=3)


@autocast_op("mse_loss")
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean") -> Tensor:
    _check_same_size(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, _legacy_reduction(size_average, reduce, reduction))


@autocast_op("l1_loss")
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean") -> Tensor:
    _check_same_size(input, target, "l1_loss")
    return _reduce((input - target).abs(), _legacy_reduction(size_average, reduce, reduction))


@autocast_op("smooth_l1_loss")
def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    d = (input - target).abs()
    if beta == 0:
        loss = d
    else:
        loss = E.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, _legacy_reduction(size_average, reduce, reduction))


@autocast_op("huber_loss")
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean",
               delta: float = 1.0, weight: Optional[Tensor] = None) -> Tensor:
    d = (input - target).abs()
    loss = E.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@autocast_op("binary_cross_entropy")
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")
    # torch clamps the logs at -100 so that p=0 or 1 gives a finite loss.
    lp = E.clamp(input.log(), min=-100.0)
    lq = E.clamp((1 - input).log(), min=-100.0)
    loss = -(target * lp + (1 - target) * lq)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@autocast_op("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Optional[Tensor] = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Optional[Tensor] = None) -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    # log(1 + exp(-|x|)) + max(-x, 0) is log(1 + exp(-x)) without overflow.
    log_sig_neg = (-input.abs()).exp().log1p() + E.clamp(-input, min=0.0)
    if pos_weight is not None:
        lw = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + lw * log_sig_neg
    else:
        loss = (1 - target) * input + log_sig_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@autocast_op("kl_div")
def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = E.xlogy(target, target) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.dim() else 1)
    return _reduce(loss, reduction)


@autocast_op("cosine_embedding_loss")
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    eps = 1e-12
    d = input1.dim() - 1
    dot = (input1 * input2).sum(d)
    m1 = (input1 * input1).sum(d) + eps
    m2 = (input2 * input2).sum(d) + eps
    cos = dot / (m1 * m2).sqrt()
    pos = 1 - cos
    neg = E.clamp(cos - margin, min=0.0)
    zero = cos * 0
    loss = E.where(target == 1, pos, zero) + E.where(target == -1, neg, zero)
    return _reduce(loss, reduction)


@autocast_op("margin_ranking_loss")
def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce(E.clamp(-target * (input1 - input2) + margin, min=0.0), reduction)


@autocast_op("triplet_margin_loss")
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = E.minimum(d_an, pairwise_distance(positive, negative, p, eps))
    return _reduce(E.clamp(d_ap - d_an + margin, min=0.0), reduction)



def _ctc_lengths(v, name: str, device, unbatched: bool):
    """Lengths as a tuple of ints or an int64 tensor on ``device`` (what the primitive takes)."""
    if isinstance(v, Tensor):
        if v.dtype.is_floating_point or v.dtype == E.bool:
            raise RuntimeError(f"{name} must be integral")
        if unbatched:
            v = v.reshape(1)
        return v.to(device=device, dtype=E.int64)
    if isinstance(v, (int, np.integer)):
        return (int(v),)
    return tuple(int(x) for x in v)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification loss (Graves et al., 2006).

    Args:
        log_probs: ``(T, N, C)`` or unbatched ``(T, C)`` log-probabilities.
        targets: ``(N, S)`` padded, or 1-D with the N targets concatenated (``(S,)`` for
            unbatched input); never containing ``blank``.
        input_lengths, target_lengths: per-sample lengths (tensor or sequence of ints; an int
            or 0-d tensor for unbatched input).
        blank: the blank class. reduction: 'none' | 'sum' | 'mean' ('mean' divides each loss
            by its target length, then averages over the batch).
        zero_infinity: infeasible alignments (infinite loss) give loss and gradient zero.

    The gradient is torch's: ``exp(log_probs) - posterior``, i.e. the gradient with respect to
    the logits of a preceding log_softmax (see ``ember.nn._ctc_ops``).

    Example:
        >>> lp = ember.randn(50, 2, 20).log_softmax(2)
        >>> F.ctc_loss(lp, ember.randint(1, 20, (2, 10)), [50, 45], [10, 8]).shape
        torch.Size([])
    """
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    unbatched = log_probs.dim() == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        if targets.dim() == 1:
            targets = targets.unsqueeze(0)
    elif log_probs.dim() != 3:
        raise RuntimeError(f"ctc_loss expects log_probs of 2 or 3 dims, got {log_probs.dim()}")
    dev = log_probs.device
    if targets.dtype != E.int64 or targets.device != dev:
        targets = targets.to(device=dev, dtype=E.int64)
    il = _ctc_lengths(input_lengths, "input_lengths", dev, unbatched)
    tl = _ctc_lengths(target_lengths, "target_lengths", dev, unbatched)
    out = _CtcLossOp.apply(log_probs, targets, il, tl, blank=blank, reduction=reduction,
                           zero_infinity=zero_infinity)
    if unbatched and reduction == "none":
        out = out.reshape(())
    return out

# ----------------------------------------------------------------------------- attention
# Defined with MultiheadAttention in modules/activation_mha.py; re-exported here lazily (that
# module imports this one).
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: Optional[float] = None, enable_gqa: bool = False) -> Tensor:
    """``softmax(Q K^T * scale + mask) V``; see modules/activation_mha.py."""
    from .modules.activation_mha import scaled_dot_product_attention as _sdpa
    return _sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)


def multi_head_attention_forward(*args, **kwargs):
    """torch.nn.functional.multi_head_attention_forward; see modules/activation_mha.py."""
    from .modules.activation_mha import multi_head_attention_forward as _mha
    return _mha(*args, **kwargs)


from ._functional_layers import (  # noqa: E402,F401
    adaptive_avg_pool3d, adaptive_max_pool1d, adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d_with_indices, adaptive_max_pool3d, adaptive_max_pool3d_with_indices,
    alpha_dropout, channel_shuffle, dropout1d, dropout3d, feature_alpha_dropout, hardshrink,
    local_response_norm, lp_pool1d, lp_pool2d, lp_pool3d, max_pool1d_with_indices,
    max_pool2d_with_indices, max_pool3d_with_indices, max_unpool1d, max_unpool2d, max_unpool3d,
    rms_norm, rrelu, rrelu_, softshrink, upsample_bilinear, upsample_nearest)
__all__ += [  # noqa: E305
    "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool3d", "alpha_dropout",
    "channel_shuffle", "dropout1d", "dropout3d", "feature_alpha_dropout", "hardshrink",
    "local_response_norm", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d",
    "max_unpool2d", "max_unpool3d", "rms_norm", "rrelu", "rrelu_", "softshrink",
    "upsample_bilinear", "upsample_nearest"]
