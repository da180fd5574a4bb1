"""3-D convolution primitives (vol2col + one batched GEMM per call) and their functional API.

Three linear primitives close the autograd loop, so double backward works too:
``conv3d`` (x, w), ``conv_transpose3d`` (its input-gradient) and ``conv3d_weight`` (its
weight-gradient); each one's backward is written with the other two. Array code goes through
``self.xp`` (NumPy or CuPy) and the backend GEMM, and never synchronises with the host, so the
ops run on CUDA and inside a CUDA-graph capture.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..backend.device import matmul as _mm
from ..ops import registry as _reg
from ..ops.registry import Primitive, register
from ..tensor import Tensor

_Cfg = tuple  # (stride, padding, dilation, groups), each spatial entry a 3-tuple


def _triple(v) -> tuple:
    if isinstance(v, (tuple, list)):
        if len(v) != 3:
            raise ValueError(f"expected 3 values, got {list(v)}")
        return tuple(int(a) for a in v)
    return (int(v),) * 3


def _out_len(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _vol2col(xp, x, ksize, stride, padding, dilation):
    """x (N, C, D, H, W) -> columns (C, kd, kh, kw, N, Do, Ho, Wo) and the output size."""
    n, c = x.shape[:2]
    sp = x.shape[2:]
    out = tuple(_out_len(sp[i], ksize[i], stride[i], padding[i], dilation[i]) for i in range(3))
    if min(out) <= 0:
        raise RuntimeError(f"Calculated output size: ({out[0]}x{out[1]}x{out[2]}). Output size "
                           "is too small")
    if any(padding):
        pd, ph, pw = padding
        xpad = xp.zeros((n, c, sp[0] + 2 * pd, sp[1] + 2 * ph, sp[2] + 2 * pw), dtype=x.dtype)
        xpad[:, :, pd:pd + sp[0], ph:ph + sp[1], pw:pw + sp[2]] = x
    else:
        xpad = xp.ascontiguousarray(x)
    # A strided window view: kernel offsets step by dilation, output positions by stride.
    es = xpad.strides
    view = xp.lib.stride_tricks.as_strided(
        xpad, shape=(n, c) + tuple(ksize) + out,
        strides=(es[0], es[1]) + tuple(es[2 + i] * dilation[i] for i in range(3))
        + tuple(es[2 + i] * stride[i] for i in range(3)))
    cols = xp.ascontiguousarray(view.transpose(1, 2, 3, 4, 0, 5, 6, 7))
    return cols, out


def _col2vol(xp, cols, x_shape, ksize, stride, padding, dilation):
    """Adjoint of _vol2col: columns (C, kd, kh, kw, N, Do, Ho, Wo) summed into x_shape."""
    n, c = x_shape[:2]
    sp = x_shape[2:]
    out = cols.shape[5:]
    padded = tuple(sp[i] + 2 * padding[i] for i in range(3))
    acc = xp.zeros((c, n) + padded, dtype=cols.dtype)
    for a in range(ksize[0]):
        d0 = a * dilation[0]
        for b in range(ksize[1]):
            h0 = b * dilation[1]
            for e in range(ksize[2]):
                w0 = e * dilation[2]
                acc[:, :, d0:d0 + stride[0] * (out[0] - 1) + 1:stride[0],
                    h0:h0 + stride[1] * (out[1] - 1) + 1:stride[1],
                    w0:w0 + stride[2] * (out[2] - 1) + 1:stride[2]] += cols[:, a, b, e]
    pd, ph, pw = padding
    acc = acc[:, :, pd:pd + sp[0], ph:ph + sp[1], pw:pw + sp[2]]
    return xp.ascontiguousarray(acc.transpose(1, 0, 2, 3, 4))


def _group_rows(xp, g, groups):
    """g (N, O, Do, Ho, Wo) -> (groups, O/groups, N*Do*Ho*Wo), the GEMM's layout."""
    n, o = g.shape[:2]
    return xp.ascontiguousarray(g.transpose(1, 0, 2, 3, 4)).reshape(groups, o // groups, -1)


def _forward(xp, x, w, cfg, cols=None):
    stride, padding, dilation, groups = cfg
    o = w.shape[0]
    if cols is None:
        cols, out = _vol2col(xp, x, w.shape[2:], stride, padding, dilation)
    else:
        out = cols.shape[5:]
    n = x.shape[0]
    w3 = w.reshape(groups, o // groups, -1)
    y = _mm(w3, cols.reshape(groups, w3.shape[2], -1))  # (G, O/G, N*L)
    y = y.reshape((o, n) + tuple(out)).transpose(1, 0, 2, 3, 4)
    return xp.ascontiguousarray(y), cols


def _input_grad(xp, g, w, x_shape, cfg):
    stride, padding, dilation, groups = cfg
    o = w.shape[0]
    w3 = w.reshape(groups, o // groups, -1)
    gc = _mm(w3.transpose(0, 2, 1), _group_rows(xp, g, groups))  # (G, Cg*K, N*L)
    gc = gc.reshape((x_shape[1],) + tuple(w.shape[2:]) + (g.shape[0],) + tuple(g.shape[2:]))
    return _col2vol(xp, gc, x_shape, w.shape[2:], stride, padding, dilation)


def _weight_grad(xp, x, g, wshape, cfg, cols=None):
    stride, padding, dilation, groups = cfg
    if cols is None:
        cols, _ = _vol2col(xp, x, wshape[2:], stride, padding, dilation)
    n_l = x.shape[0] * int(np.prod(cols.shape[5:]))
    c3 = cols.reshape(groups, -1, n_l)  # (G, Cg*K, N*L)
    gw = _mm(_group_rows(xp, g, groups), c3.transpose(0, 2, 1))  # (G, O/G, Cg*K)
    return gw.reshape(wshape)


def _bias_grad(g):
    return g.sum((0, 2, 3, 4))


@register("conv3d")
class Conv3dOp(Primitive):
    """3-D convolution on (N, C, D, H, W) with zero padding; weight (O, C/groups, kd, kh, kw)."""

    def forward(self, x, w, b=None, stride=(1, 1, 1), padding=(0, 0, 0), dilation=(1, 1, 1),
                groups=1):
        self.cfg = (stride, padding, dilation, groups)
        self.x_shape = x.shape
        out, self.cols = _forward(self.xp, x, w, self.cfg)
        if b is not None:
            out += b.astype(out.dtype, copy=False)[:, None, None, None]
        self.save_for_backward(x, w)
        return out

    def _release(self):
        self.cols = None
        super()._release()

    def backward(self, g):
        x, w = self.saved_tensors
        need = self.needs_input_grad
        gx = gw = gb = None
        if _reg.GRAD_MODE.enabled:  # create_graph: stay in the graph through the sibling ops
            if need[0]:
                gx = ConvTranspose3dOp.apply(g, w, None, *self.cfg, tuple(self.x_shape[2:]))
            if need[1]:
                gw = Conv3dWeightOp.apply(x, g, tuple(w.shape), *self.cfg)
        else:
            xp, ga = self.xp, g._data
            if need[0]:
                gx = _wrap(_input_grad(xp, ga, w._data, self.x_shape, self.cfg), x)
            if need[1]:
                gw = _wrap(_weight_grad(xp, x._data, ga, w._data.shape, self.cfg, self.cols), w)
        if len(need) > 2 and need[2]:
            gb = _bias_grad(g)
        return gx, gw, gb


@register("conv_transpose3d")
class ConvTranspose3dOp(Primitive):
    """Transposed 3-D convolution (conv3d's input-gradient); weight (C_in, C_out/groups, k...).

    ``out_dhw`` is the spatial output size (it fixes output_padding).
    """

    def forward(self, x, w, b=None, stride=(1, 1, 1), padding=(0, 0, 0), dilation=(1, 1, 1),
                groups=1, out_dhw=None):
        self.cfg = (stride, padding, dilation, groups)
        self.save_for_backward(x, w)
        x_shape = (x.shape[0], w.shape[1] * groups) + tuple(out_dhw)
        out = _input_grad(self.xp, x, w, x_shape, self.cfg)
        if b is not None:
            out += b.astype(out.dtype, copy=False)[:, None, None, None]
        return out

    def backward(self, g):
        x, w = self.saved_tensors
        need = self.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            gx = Conv3dOp.apply(g, w, None, *self.cfg)
            d, h, w_ = x.shape[2:]
            if tuple(gx.shape[2:]) != (d, h, w_):
                # output_padding rows no input position produced: drop them.
                gx = gx[:, :, :d, :h, :w_]
        if need[1]:
            # <convT(x, w), g> = <conv3d(g, w), x>, whose weight-gradient is gw(g, x).
            gw = Conv3dWeightOp.apply(g, x, tuple(w.shape), *self.cfg)
        if len(need) > 2 and need[2]:
            gb = _bias_grad(g)
        return gx, gw, gb


@register("conv3d_weight")
class Conv3dWeightOp(Primitive):
    """conv3d's weight-gradient from the input ``x`` and the output-gradient ``g``."""

    def forward(self, x, g, wshape, stride=(1, 1, 1), padding=(0, 0, 0), dilation=(1, 1, 1),
                groups=1):
        self.cfg = (stride, padding, dilation, groups)
        self.x_dhw = tuple(x.shape[2:])
        self.save_for_backward(x, g)
        return _weight_grad(self.xp, x, g, wshape, self.cfg)

    def backward(self, v):
        x, g = self.saved_tensors
        need = self.needs_input_grad
        gx = ConvTranspose3dOp.apply(g, v, None, *self.cfg, self.x_dhw) if need[0] else None
        gg = Conv3dOp.apply(x, v, None, *self.cfg) if need[1] else None
        return gx, gg


def _wrap(arr, like: Tensor) -> Tensor:
    if arr.dtype != like._data.dtype:
        arr = arr.astype(like._data.dtype)
    return _reg.make_tensor(arr, like._dtype, like._device)


# ------------------------------------------------------------------------------ functional
def conv3d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
           padding=0, dilation=1, groups: int = 1) -> Tensor:
    """3-D convolution over (N, C, D, H, W) or unbatched (C, D, H, W)."""
    from .functional import _conv_input
    stride, dilation = _triple(stride), _triple(dilation)
    if weight.dim() != 5:
        raise RuntimeError(f"Expected 5-dimensional weight for conv3d, but got "
                           f"{weight.dim()}-dimensional weight of size {list(weight.shape)}")
    input, pad, unbatched = _conv_input(input, weight, padding, stride, dilation, groups, 3)
    out = Conv3dOp.apply(input, weight, bias, stride, _triple(pad), dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """3-D transposed convolution; weight (C_in, C_out/groups, kd, kh, kw)."""
    stride, padding = _triple(stride), _triple(padding)
    output_padding, dilation = _triple(output_padding), _triple(dilation)
    unbatched = input.dim() == 4
    if unbatched:
        input = input.unsqueeze(0)
    out_dhw = tuple((input.shape[2 + i] - 1) * stride[i] - 2 * padding[i]
                    + dilation[i] * (weight.shape[2 + i] - 1) + output_padding[i] + 1
                    for i in range(3))
    out = ConvTranspose3dOp.apply(input, weight, bias, stride, padding, dilation, groups,
                                  out_dhw)
    return out.squeeze(0) if unbatched else out
