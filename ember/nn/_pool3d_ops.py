"""3-D max and average pooling, composed from existing primitives (no new node types).

max_pool3d finds each window's first maximum on the raw arrays and gathers the values there, so
backward routes every gradient to that one position as torch's kernel does. avg_pool3d is a
depthwise conv3d with a ones kernel divided by torch's per-window divisor. Both work through
``xp`` (NumPy or CuPy) without host synchronisation.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..backend import dtypes as _dt
from ..ops import registry as _reg
from ..tensor import Tensor
from ._conv3d_ops import Conv3dOp, _triple
from ._ops import _pool_geometry


def _geometry(kernel_size, stride, padding, dilation):
    k = _triple(kernel_size)
    s = _triple(stride) if stride not in (None, (), []) else k
    p, d = _triple(padding), _triple(dilation)
    for kk, pp, dd in zip(k, p, d):
        if pp > (dd * (kk - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pp}, kernel_size={kk} and dilation={dd}")
    return k, s, p, d


def _batched(input: Tensor, name: str):
    if input.dim() == 4:
        return input.unsqueeze(0), True
    if input.dim() != 5:
        raise RuntimeError(f"{name}: Expected 4D or 5D (batch mode) tensor for input, but got: "
                           f"{list(input.shape)}")
    return input, False


def _argmax_indices(input: Tensor, k, s, p, d, ceil_mode):
    """Flat D*H*W position of each window's first maximum, as an int64 tensor."""
    from .functional import _array_module, _device_ctx
    xp = _array_module(input)
    a = input._data
    if _dt.is_bf16_array(a):
        a = a.astype(np.float32)  # no bfloat16 argmax on CUDA
    sp = tuple(input.shape[2:])
    geo = [_pool_geometry(sp[i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(3)]
    out = tuple(g[0] for g in geo)
    n, c = a.shape[:2]
    with _device_ctx(input):
        # -inf padding never wins (every window holds at least one input element).
        big = tuple(sp[i] + 2 * p[i] + geo[i][1] for i in range(3))
        xpad = xp.full((n, c) + big, -np.inf, dtype=a.dtype)
        xpad[:, :, p[0]:p[0] + sp[0], p[1]:p[1] + sp[1], p[2]:p[2] + sp[2]] = a
        es = xpad.strides
        win = xp.lib.stride_tricks.as_strided(
            xpad, shape=(n, c) + out + k,
            strides=es[:2] + tuple(es[2 + i] * s[i] for i in range(3))
            + tuple(es[2 + i] * d[i] for i in range(3)))
        j = xp.argmax(win.reshape((n, c) + out + (-1,)), axis=-1)  # first max, as torch
        # Window offset -> input coordinate along each dim, then the flat position.
        off = [j // (k[1] * k[2]), (j // k[2]) % k[1], j % k[2]]
        pos = []
        for i in range(3):
            shape = [1] * 5
            shape[2 + i] = out[i]
            start = (xp.arange(out[i], dtype=np.int64) * s[i] - p[i]).reshape(shape)
            pos.append(start + off[i] * d[i])
        flat = ((pos[0] * sp[1] + pos[1]) * sp[2] + pos[2]).astype(np.int64)
    return _reg.make_tensor(flat, _dt.int64, input._device), out


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """3-D max pooling; indices are flat positions in each D*H*W volume (torch's)."""
    k, s, p, d = _geometry(kernel_size, stride, padding, dilation)
    x, unbatched = _batched(input, "max_pool3d")
    idx, out = _argmax_indices(x, k, s, p, d, ceil_mode)
    n, c = x.shape[:2]
    values = x.reshape(n, c, -1).gather(2, idx.reshape(n, c, -1)).reshape(n, c, *out)
    if unbatched:
        values, idx = values.squeeze(0), idx.squeeze(0)
    return (values, idx) if return_indices else values


def _divisor(sp, k, s, p, out, include_pad: bool, xp):
    """torch's avg-pool divisor per output position (product of the per-dim window sizes)."""
    div = None
    for i in range(3):
        start = xp.arange(out[i], dtype=np.int64) * s[i] - p[i]
        end = xp.minimum(start + k[i], sp[i] + p[i])  # the window, clipped to the padding
        size = end - start if include_pad else (xp.minimum(end, sp[i])
                                                 - xp.maximum(start, 0))
        shape = [1] * 3
        shape[i] = out[i]
        size = size.reshape(shape)
        div = size if div is None else div * size
    return div


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: Optional[int] = None) -> Tensor:
    """3-D average pooling."""
    from .functional import _array_module, _device_ctx, pad
    k, s, p, _ = _geometry(kernel_size, stride, padding, 1)
    x, unbatched = _batched(input, "avg_pool3d")
    n, c = x.shape[:2]
    sp = tuple(x.shape[2:])
    geo = [_pool_geometry(sp[i], k[i], s[i], p[i], 1, ceil_mode) for i in range(3)]
    out = tuple(g[0] for g in geo)
    if any(g[1] for g in geo):
        # ceil_mode's last windows overhang the padding: zeros there add nothing to the sums.
        x = pad(x, [v for g in reversed(geo) for v in (0, g[1])])
    xp = _array_module(x)
    with _device_ctx(x):
        ones = xp.ones((1, 1) + k, dtype=x._data.dtype)
        if divisor_override:
            div = xp.asarray(float(divisor_override))
        else:
            div = _divisor(sp, k, s, p, out, count_include_pad, xp).astype(np.float64)
        div = _dt.to_dtype_array(div, x.dtype)
    w = _reg.make_tensor(ones, x.dtype, x._device)
    sums = Conv3dOp.apply(x.reshape(n * c, 1, *x.shape[2:]), w, None, s, p, (1, 1, 1), 1)
    y = sums[..., :out[0], :out[1], :out[2]].reshape(n, c, *out)
    y = y / _reg.make_tensor(div, x.dtype, x._device)
    return y.squeeze(0) if unbatched else y
