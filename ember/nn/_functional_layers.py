"""Functional forms of the extra torch.nn layers: RMS / local-response norms, feature and alpha
dropouts, adaptive 3-D and 1-D pools, max-unpooling, power-average pooling, shrink activations,
RReLU and channel shuffle.

Everything is composed from existing ember ops (autograd comes for free) or works on raw arrays
through the input's array module, so it runs on NumPy and CuPy alike.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional, Sequence

import numpy as np

import ember as E
from ..ops import registry as _reg
from ..tensor import Tensor


def _F():
    # ember.nn.functional imports this module to re-export it; a lazy lookup avoids the cycle.
    from . import functional
    return functional


def _tuple(v, n: int) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


# ------------------------------------------------------------------------- normalisation
# Machine epsilon per floating dtype: torch's default rms_norm eps (torch.finfo(dtype).eps).
_EPS = {"float64": float(np.finfo(np.float64).eps), "float32": float(np.finfo(np.float32).eps),
        "float16": float(np.finfo(np.float16).eps), "bfloat16": 2.0 ** -7}


def rms_norm(input: Tensor, normalized_shape, weight: Optional[Tensor] = None,
             eps: Optional[float] = None) -> Tensor:
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dims."""
    ns = _tuple(normalized_shape, 1)
    nd = len(ns)
    if tuple(input.shape[input.dim() - nd:]) != tuple(ns):
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in ns)}], but got input of size"
                           f"{list(input.shape)}")
    if eps is None:
        eps = _EPS.get(str(input.dtype).replace("ember.", "").replace("torch.", ""),
                       _EPS["float32"])
    dims = tuple(range(input.dim() - nd, input.dim()))
    x = input
    low = input.dtype in (E.float16, E.bfloat16)
    if low:
        x = x.float()  # statistics in float32 for the 2-byte types, as torch
    y = x * ((x * x).mean(dims, keepdim=True) + eps).rsqrt()
    if low:
        y = y.to(input.dtype)
    if weight is not None:
        y = y * weight
    return y


def _channel_window_sum(sq: Tensor, lo: int, hi: int) -> Tensor:
    """Sum of ``sq`` over channels [c - lo, c + hi] (zeros beyond the edges), along dim 1."""
    c = sq.shape[1]
    parts = []
    if lo:
        parts.append(E.zeros(sq.shape[0], lo, *sq.shape[2:], dtype=sq.dtype, device=sq.device))
    parts.append(sq)
    if hi:
        parts.append(E.zeros(sq.shape[0], hi, *sq.shape[2:], dtype=sq.dtype, device=sq.device))
    padded = E.cat(parts, 1) if len(parts) > 1 else sq
    acc = None
    for j in range(lo + hi + 1):
        term = padded.narrow(1, j, c)
        acc = term if acc is None else acc + term
    return acc


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Normalise each element by the energy of ``size`` neighbouring channels (dim 1)."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    # torch averages over a window of `size` channels, counting the zero padding.
    div = _channel_window_sum(input * input, size // 2, (size - 1) // 2) / size
    return input / (div * alpha + k).pow(beta)


def cross_map_lrn2d(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                    k: float = 1.0) -> Tensor:
    """Lua-torch's cross-map LRN (nn.CrossMapLRN2d): a window of ``2 * half + 1`` channels
    (``half = (size - 1) // 2``), scaled by alpha / size.

    torch's running-sum forward never subtracts channel 0 once the window has moved past it, so
    channels ``c > half`` also count channel 0; that is reproduced here so values match torch.
    The gradient is the exact gradient of these values (torch's hand-written backward uses the
    plain symmetric window instead)."""
    if input.dim() != 4:
        raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D instead.")
    half = int((size - 1) / 2)
    sq = input * input
    total = _channel_window_sum(sq, half, half)
    c = input.shape[1]
    if c > half + 1:
        n, _, h, w = input.shape
        head = E.zeros(n, half + 1, h, w, dtype=input.dtype, device=input.device)
        tail = sq.narrow(1, 0, 1).expand(n, c - half - 1, h, w)
        total = total + E.cat([head, tail], 1)
    scale = total * (alpha / size) + k
    return input * scale.pow(-beta)


# ------------------------------------------------------------------------------ dropouts
def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(shape: tuple, p: float, like: Tensor) -> Tensor:
    """1 where an element (or feature) is kept, with probability 1 - p, in ``like``'s dtype."""
    return (E.rand(*shape, device=like.device) >= p).to(like.dtype)


def _feature_dropout(input: Tensor, p: float, training: bool, nbatch: int, inplace: bool):
    _check_p(p)
    if not training or p == 0.0:
        return input
    shape = tuple(input.shape[:nbatch]) + (1,) * (input.dim() - nbatch)
    mask = _keep_mask(shape, p, input) * (1.0 / (1.0 - p)) if p < 1.0 else None
    fn = (lambda t: t * 0.0) if mask is None else (lambda t: t * mask)  # noqa: E731
    return _F()._act(input, inplace, fn)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` (or ``(C, L)``) input with probability p."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D "
                           "input. Note that dropout1d exists to provide channel-wise dropout "
                           "on inputs with 1 spatial dimension, a channel dimension, and an "
                           "optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout(input, p, training, 2 if input.dim() == 3 else 1, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, D, H, W)`` (or ``(C, D, H, W)``) input."""
    if input.dim() not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.dim()}-D input to dropout3d, which is "
                      "deprecated and will result in an error in a future release.")
    return _feature_dropout(input, p, training, 2 if input.dim() == 5 else 1, inplace)


# SELU's negative saturation value, scale * alpha.
_SELU_SAT = 1.7580993408473766


def _alpha_dropout(input: Tensor, p: float, training: bool, inplace: bool, feature: bool):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _F()._act(input, inplace, lambda t: t * 0.0)
    if feature:
        if input.dim() < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
    else:
        shape = tuple(input.shape)
    keep = _keep_mask(shape, p, input)
    # Dropped units take the SELU saturation value; then an affine map (a, b) restores zero
    # mean and unit variance.
    a = 1.0 / math.sqrt((_SELU_SAT * _SELU_SAT * p + 1.0) * (1.0 - p))
    b = (keep - 1.0) * (_SELU_SAT * a) + _SELU_SAT * a * p
    scale = keep * a
    return _F()._act(input, inplace, lambda t: t * scale + b)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout that keeps SELU's self-normalising mean and variance."""
    return _alpha_dropout(input, p, training, inplace, False)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels (dim 1)."""
    return _alpha_dropout(input, p, training, inplace, True)


# ------------------------------------------------------------------------- adaptive pools
def _adaptive_sizes(input: Tensor, output_size, nsp: int) -> tuple:
    o = _tuple(output_size, nsp)
    if len(o) != nsp:
        raise ValueError(f"output_size must have {nsp} elements, got {output_size}")
    sp = input.shape[input.dim() - nsp:]
    return tuple(int(sp[i]) if o[i] is None else int(o[i]) for i in range(nsp))


def _check_pool_dims(input: Tensor, nsp: int, name: str) -> None:
    if input.dim() not in (nsp + 1, nsp + 2):
        raise RuntimeError(f"{name}(): Expected {nsp + 1}D or {nsp + 2}D tensor, but got "
                           f"{list(input.shape)}")


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Adaptive 3-D average pooling (torch's floor/ceil window bounds)."""
    _check_pool_dims(input, 3, "adaptive_avg_pool3d")
    sizes = _adaptive_sizes(input, output_size, 3)
    out = input
    # A box average is the product of per-dim averages, so pool one dim at a time.
    for i, o in enumerate(sizes):
        d = input.dim() - 3 + i
        n = out.shape[d]
        if n % o == 0:
            shp = list(out.shape)
            out = out.reshape(*shp[:d], o, n // o, *shp[d + 1:]).mean(d + 1)
            continue
        bounds = _F()._adaptive_bounds(n, o)
        out = E.stack([out.narrow(d, s, e - s).mean(d) for s, e in bounds], d)
    return out


def _adaptive_argmax_nd(input: Tensor, sizes: tuple) -> Tensor:
    """Flat position (in the trailing spatial volume) of each adaptive window's first max."""
    F = _F()
    nsp = len(sizes)
    xp = F._array_module(input)
    a = input._data
    from ..backend import dtypes as _dt
    if _dt.is_bf16_array(a):
        a = a.astype(np.float32)  # argmax has no bfloat16 kernel on CUDA
    sp = tuple(input.shape[input.dim() - nsp:])
    with F._device_ctx(input):
        rows = [F._window_rows(xp, sp[i], sizes[i]) for i in range(nsp)]  # (o_i, L_i)
        index = []
        for i, r in enumerate(rows):
            shape = [1] * (2 * nsp)
            shape[2 * i], shape[2 * i + 1] = r.shape
            index.append(r.reshape(shape))
        win = a[(Ellipsis,) + tuple(index)]  # (..., o0, L0, o1, L1, ...)
        lead = win.ndim - 2 * nsp
        perm = (list(range(lead)) + [lead + 2 * i for i in range(nsp)]
                + [lead + 2 * i + 1 for i in range(nsp)])
        lens = [r.shape[1] for r in rows]
        win = win.transpose(perm).reshape(win.shape[:lead] + tuple(sizes) + (-1,))
        k = xp.argmax(win, axis=-1)  # first maximum in row-major window order, as torch
        flat = None
        for i in range(nsp):
            inner = int(np.prod(lens[i + 1:])) if i + 1 < nsp else 1
            ki = (k // inner) % lens[i]
            shape = [1] * nsp
            shape[i] = sizes[i]
            pos = rows[i][xp.arange(sizes[i]).reshape(shape), ki]
            flat = pos if flat is None else flat * sp[i] + pos
        flat = flat.astype(np.int64)
    return _reg.make_tensor(flat, E.int64, input._device)


def _adaptive_max_nd(input: Tensor, output_size, nsp: int, name: str):
    _check_pool_dims(input, nsp, name)
    sizes = _adaptive_sizes(input, output_size, nsp)
    idx = _adaptive_argmax_nd(input, sizes)
    lead = tuple(input.shape[:input.dim() - nsp])
    # Gathering at the argmax routes each gradient to that one position, as torch's kernel.
    vol = int(np.prod(input.shape[input.dim() - nsp:]))
    values = input.reshape(*lead, vol).gather(-1, idx.reshape(*lead, -1))
    return values.reshape(*lead, *sizes), idx


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Adaptive 1-D max pooling; indices are positions along L."""
    v, i = _adaptive_max_nd(input, output_size, 1, "adaptive_max_pool1d")
    return (v, i) if return_indices else v


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Adaptive 3-D max pooling; indices are flat positions in each D*H*W volume."""
    v, i = _adaptive_max_nd(input, output_size, 3, "adaptive_max_pool3d")
    return (v, i) if return_indices else v


def adaptive_max_pool1d_with_indices(input: Tensor, output_size,
                                     return_indices: bool = False):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size,
                                     return_indices: bool = False):
    return _F().adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size,
                                     return_indices: bool = False):
    return adaptive_max_pool3d(input, output_size, True)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False):
    return _F().max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False):
    return _F().max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False):
    return _F().max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ----------------------------------------------------------------------------- unpooling
def _unpool_size(input: Tensor, k, s, p, output_size) -> tuple:
    n = len(k)
    default = [(input.shape[input.dim() - n + d] - 1) * s[d] + k[d] - 2 * p[d]
               for d in range(n)]
    if output_size is None:
        return tuple(default)
    output_size = [int(v) for v in output_size]
    if len(output_size) == n + 2:
        output_size = output_size[2:]
    if len(output_size) != n:
        raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, "
                         f"but it has a length of '{len(output_size)}'")
    for d in range(n):
        lo, hi = default[d] - s[d], default[d] + s[d]
        if not lo < output_size[d] < hi:
            raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between '
                             f"{lo} and {hi})")
    return tuple(output_size)


def _max_unpool(input: Tensor, indices: Tensor, kernel_size, stride, padding, output_size,
                nsp: int) -> Tensor:
    k = _tuple(kernel_size, nsp)
    s = _tuple(stride, nsp) if stride is not None else k
    p = _tuple(padding, nsp)
    if input.dim() not in (nsp + 1, nsp + 2):
        raise RuntimeError(f"max_unpool{nsp}d: Expected {nsp + 1}D or {nsp + 2}D input, but "
                           f"got {list(input.shape)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    out_sp = _unpool_size(input, k, s, p, output_size)
    lead = tuple(input.shape[:input.dim() - nsp])
    vol = int(np.prod(out_sp))
    flat = input.reshape(*lead, -1)
    base = E.zeros(*lead, vol, dtype=input.dtype, device=input.device)
    # scatter's backward gathers the output gradient at the indices, as torch's unpool.
    return base.scatter(-1, indices.reshape(*lead, -1), flat).reshape(*lead, *out_sp)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size: Optional[Sequence[int]] = None) -> Tensor:
    """Partial inverse of max_pool1d: values go back to their argmax positions, zeros
    elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size: Optional[Sequence[int]] = None) -> Tensor:
    """Partial inverse of max_pool2d."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size: Optional[Sequence[int]] = None) -> Tensor:
    """Partial inverse of max_pool3d."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3)


# ---------------------------------------------------------------------- power-average pool
def _lp_finish(out: Tensor, norm_type: float, count: int) -> Tensor:
    # sign * relu(|.|) zeroes the gradient where the window's power-sum is zero, as torch.
    return (out.sign() * out.abs().relu() * count).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """``(sum over each window of x^p)^(1/p)``."""
    F = _F()
    k = _tuple(kernel_size, 1)[0]
    if norm_type == math.inf:
        return F.max_pool1d(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -F.max_pool1d(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    out = F.avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, k)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """2-D power-average pooling."""
    F = _F()
    kh, kw = _tuple(kernel_size, 2)
    if norm_type == math.inf:
        return F.max_pool2d(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -F.max_pool2d(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    out = F.avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, kh * kw)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """3-D power-average pooling."""
    F = _F()
    kd, kh, kw = _tuple(kernel_size, 3)
    if norm_type == math.inf:
        return F.max_pool3d(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -F.max_pool3d(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    out = F.avg_pool3d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, kd * kh * kw)


# ---------------------------------------------------------------------------- upsampling
def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated torch alias of ``interpolate(mode='nearest')``."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return _F().interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated torch alias of ``interpolate(mode='bilinear', align_corners=True)``."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use "
                  "nn.functional.interpolate instead.", stacklevel=2)
    return _F().interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------------- activations
def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    return E.where((input > lambd) | (input < -lambd), input, input * 0.0)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    zero = input * 0.0
    return E.where(input > lambd, input - lambd, E.where(input < -lambd, input + lambd, zero))


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:
    """Randomised leaky ReLU: in training each negative element gets a slope drawn from
    U(lower, upper); in evaluation the slope is their mean."""
    if not training:
        slope = (lower + upper) / 2.0
        return _F()._act(input, inplace, lambda t: E.where(t >= 0, t, t * slope))
    noise = E.rand(*input.shape, device=input.device).to(input.dtype) * (upper - lower) + lower
    return _F()._act(input, inplace, lambda t: E.where(t >= 0, t, t * noise))


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, True)


# ------------------------------------------------------------------------------- shuffles
def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` groups: (N, g, C/g, *) -> (N, C/g, g, *)."""
    if input.dim() < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c = input.shape[:2]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    rest = tuple(input.shape[2:])
    x = input.reshape(n, groups, c // groups, *rest).transpose(1, 2)
    return x.reshape(n, c, *rest)
