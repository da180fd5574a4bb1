"""Fused scaled-dot-product attention: one autograd node for ``softmax(q k^T * scale) v``.

On CUDA with half/bfloat16 (B, H, T, D) inputs, ``F.scaled_dot_product_attention`` (no mask, no
dropout) runs this node, whose forward and backward are cuDNN's flash-attention kernels
(ember.cuda.cudnn): the (T, T) score matrix is never stored, the forward keeps the softmax
log-sum-exp for the backward. Where cuDNN is missing or declines, and on the CPU, the node
computes the same math on raw arrays (float32 accumulation for half types), so its results and
gradients do not depend on which path ran.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend.device import matmul as _mm
from ..ops.registry import GRAD_MODE, Primitive, register
from ._ops import _composite_grad, _wrap

__all__ = ["SdpaFlashOp", "flash_eligible"]


def _upcast(xp, a):
    return a.astype(xp.float32) if a.dtype.itemsize < 4 else a


def _probs(xp, q, k, causal: bool, scale: float):
    """Softmax of the scaled scores (*, L, S) (causal: key j > query i masked out)."""
    s = _mm(q * q.dtype.type(scale), k.swapaxes(-1, -2))
    if causal:
        lq, lk = s.shape[-2:]
        s = xp.where(xp.triu(xp.ones((lq, lk), dtype=bool), 1), -xp.inf, s)
    s = s - s.max(-1, keepdims=True)
    p = xp.exp(s)
    p /= p.sum(-1, keepdims=True)
    return p


def _attend(xp, q, k, v, causal: bool, scale: float):
    qf, kf, vf = (_upcast(xp, a) for a in (q, k, v))
    return _mm(_probs(xp, qf, kf, causal, scale), vf).astype(q.dtype, copy=False)


def _attend_backward(xp, q, k, v, g, causal: bool, scale: float):
    """(dq, dk, dv) of ``_attend`` for the output gradient ``g``, recomputing the softmax."""
    qf, kf, vf, gf = (_upcast(xp, a) for a in (q, k, v, g))
    p = _probs(xp, qf, kf, causal, scale)
    dv = _mm(p.swapaxes(-1, -2), gf)
    dp = _mm(gf, vf.swapaxes(-1, -2))
    # Softmax backward: dS = P * (dP - rowsum(dP * P)).
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    ds *= ds.dtype.type(scale)
    dq = _mm(ds, kf)
    dk = _mm(ds.swapaxes(-1, -2), qf)
    return dq, dk, dv


def _composite(q, k, v, causal: bool, scale: float):
    """The same attention written with ember ops (for gradients of gradients)."""
    from . import functional as F
    s = (q * scale).matmul(k.transpose(-2, -1))
    if causal:
        import ember as E
        keep = E.ones(s.shape[-2], s.shape[-1], dtype=E.bool, device=q.device).tril(0)
        s = s.masked_fill(keep.logical_not(), float("-inf"))
    return F.softmax(s, -1).matmul(v)


@register("sdpa_flash")
class SdpaFlashOp(Primitive):
    """``softmax(q k^T * scale) v`` over the last two dims, optionally causal (top-left, as
    torch's ``is_causal``). q (*, L, E), k (*, S, E), v (*, S, Ev) with the same batch dims."""

    def forward(self, q, k, v, is_causal: bool = False, scale=None):
        scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
        self.cfg = (bool(is_causal), scale)
        self.stats = None
        out = None
        if self.xp is not np:
            from ..cuda import cudnn
            res = cudnn.sdpa_forward(q, k, v, bool(is_causal), scale)
            if res is not None:
                out, self.stats = res
        if out is None:
            out = _attend(self.xp, q, k, v, bool(is_causal), scale)
        self.save_for_backward(q, k, v, out)
        return out

    def _release(self):
        self.stats = None
        super()._release()

    def backward(self, g):
        q, k, v, o = self.saved_tensors
        need = self.needs_input_grad
        causal, scale = self.cfg
        if GRAD_MODE.enabled:
            return _composite_grad(lambda a, b, c: _composite(a, b, c, causal, scale),
                                   (q, k, v), need, g)
        grads = None
        if self.stats is not None:
            from ..cuda import cudnn
            grads = cudnn.sdpa_backward(q._data, k._data, v._data, o._data, g._data,
                                        self.stats, causal, scale)
        if grads is None:
            grads = _attend_backward(self.xp, q._data, k._data, v._data, g._data, causal, scale)
        return tuple(_wrap(a, t) if n else None for a, t, n in zip(grads, (q, k, v), need))


def flash_eligible(query, key, value) -> bool:
    """Whether ``scaled_dot_product_attention`` (no mask, no dropout) should run SdpaFlashOp:
    CUDA tensors in float16/bfloat16 storage, (B, H, T, D) with matching batch and heads,
    and cuDNN enabled."""
    if query._device.type != "cuda":
        return False
    qa, ka, va = query._data, key._data, value._data
    if qa.dtype.name not in ("float16", "bfloat16") or ka.dtype != qa.dtype \
            or va.dtype != qa.dtype:
        return False
    if qa.ndim != 4 or ka.ndim != 4 or va.ndim != 4:
        return False
    if ka.shape[:2] != qa.shape[:2] or va.shape[:3] != ka.shape[:3]:
        return False
    from ..cuda import cudnn
    return cudnn.enabled()
