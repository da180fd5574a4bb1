"""Connectionist temporal classification loss as one autograd node (``F.ctc_loss``).

The forward runs the alpha (forward-variable) recursion of Graves et al. (2006) in log space,
one Python step per time frame, each step vectorised over the batch and the extended label
sequence ``blank, l1, blank, l2, ..., blank`` with ``self.xp`` (NumPy or CuPy). The backward
runs the beta recursion the same way and turns ``alpha * beta`` into per-frame label
posteriors.

The gradient is torch's: ``exp(log_probs) - posterior`` (times the loss's incoming gradient)
on frames inside each input length, zero past it. That is the gradient with respect to the
*logits* when ``log_probs = log_softmax(logits)``; as the gradient of the loss with respect to
``log_probs`` itself it carries the extra ``exp(log_probs)`` term, which the log_softmax backward
cancels (posteriors sum to one per frame). ember reproduces it so that models and tests see the
numbers torch gives.
"""
from __future__ import annotations

import numpy as np

from ..backend.device import host_checks_allowed
from ..autograd.function import Function
from ..backend import dtypes as _dt
from ..ops import registry as _reg
from ..ops.indexing import add_at
from ..ops.registry import GRAD_MODE, Primitive, register

__all__ = ["CtcLossOp"]

_NEG_INF = float("-inf")


def _lse3(xp, a, b, c):
    """Elementwise log(exp(a) + exp(b) + exp(c)); all -inf gives -inf (no NaN)."""
    m = xp.maximum(xp.maximum(a, b), c)
    # A row of -inf would give -inf - -inf = NaN: shift by 0 there instead.
    ms = xp.where(m == _NEG_INF, 0, m)
    return xp.log(xp.exp(a - ms) + xp.exp(b - ms) + xp.exp(c - ms)) + ms


def _shift(xp, a, k, fill):
    """``a`` moved ``k`` places along the last axis (k > 0: to higher indices), ``fill`` in."""
    out = xp.full_like(a, fill)
    if k > 0:
        out[:, k:] = a[:, :-k]
    else:
        out[:, :k] = a[:, -k:]
    return out


def _host_max(v, fallback: int) -> int:
    """max(v) read on the host, or ``fallback`` (a static bound) while a CUDA graph is being
    captured and ``v`` lives on the GPU (reading it would synchronise)."""
    if isinstance(v, np.ndarray):
        return int(v.max()) if v.size else 0
    if not host_checks_allowed():
        return fallback
    return int(v.max()) if v.size else 0


def _check_lengths(name: str, v, lo: int, hi: int | None) -> None:
    if not host_checks_allowed() and not isinstance(v, np.ndarray):
        return
    if v.size == 0:
        return
    vmin, vmax = int(v.min()), int(v.max())
    if vmin < lo:
        raise RuntimeError(f"Expected {name} to have value at least {lo}, but got value {vmin} "
                           "(while checking arguments for ctc_loss)")
    if hi is not None and vmax > hi:
        raise RuntimeError(f"Expected {name} to have value at most {hi}, but got value {vmax} "
                           "(while checking arguments for ctc_loss)")


def _as_lengths(xp, v):
    """Lengths as an int64 array; Python sequences stay on the host (cheap to inspect)."""
    if isinstance(v, (list, tuple, int, np.integer)):
        return np.asarray(v, dtype=np.int64).reshape(-1)
    return v.astype(np.int64).reshape(-1) if v.dtype != np.int64 else v.reshape(-1)


@register("ctc_loss")
class CtcLossOp(Primitive):
    """CTC loss of ``log_probs`` (T, N, C) against ``targets`` ((N, S) padded or 1-D
    concatenated), with per-sample ``input_lengths``/``target_lengths``."""

    def forward(self, lp, targets, input_lengths, target_lengths, blank: int = 0,
                reduction: str = "mean", zero_infinity: bool = False):
        xp = self.xp
        n_t, n_b, n_c = lp.shape
        self.in_dtype = lp.dtype
        self.save_for_backward(lp)
        lp0 = lp
        if lp.dtype.itemsize < 4:
            # Half types: the recursion's sums of exponentials need float32's range.
            lp = lp.astype(np.float32)
        il = _as_lengths(xp, input_lengths)
        tl = _as_lengths(xp, target_lengths)
        if il.shape[0] != n_b:
            raise RuntimeError("input_lengths must be of size batch_size")
        if tl.shape[0] != n_b:
            raise RuntimeError("target_lengths must be of size batch_size")
        if not 0 <= blank < n_c:
            raise RuntimeError("blank must be in label range")
        _check_lengths("input_lengths", il, 0, n_t)
        _check_lengths("target_lengths", tl, 0, None)
        if targets.ndim == 2 and (host_checks_allowed() or isinstance(tl, np.ndarray)):
            need = int(tl.max()) if tl.size else 0
            if need > targets.shape[1]:
                raise RuntimeError(
                    f"Expected tensor to have size at least {need} at dimension 1, but got "
                    f"size {targets.shape[1]} for argument #2 'targets' (while checking "
                    "arguments for ctc_loss)")
        concat = targets.ndim == 1
        if concat:
            s_max = _host_max(tl, targets.shape[0])
            if host_checks_allowed() or isinstance(tl, np.ndarray):
                total = int(tl.sum())
                if total != targets.shape[0]:
                    raise RuntimeError(
                        f"Expected tensor to have size {total} at dimension 0, but got size "
                        f"{targets.shape[0]} for argument #2 'targets' (while checking "
                        "arguments for ctc_loss)")
        else:
            s_max = _host_max(tl, targets.shape[1])
        il = xp.asarray(il)
        tl = xp.asarray(tl)
        tgt = self._padded(xp, targets, tl, s_max, blank, concat)

        # Extended labels: blank at even positions, the target at odd ones.
        n_s = 2 * s_max + 1
        ext = xp.full((n_b, n_s), blank, dtype=np.int64)
        ext[:, 1::2] = tgt
        # s-2 -> s is allowed onto a label that differs from the label two places back.
        skip = xp.zeros((n_b, n_s), dtype=bool)
        skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
        # lpe[t, n, s] = lp[t, n, ext[n, s]]
        lpe = lp[:, xp.arange(n_b)[:, None], ext]

        alphas = xp.empty((n_t, n_b, n_s), dtype=lp.dtype)
        # A virtual frame before t = 0 with all mass on s = 0: the recursion then yields the
        # usual start (blank or first label at t = 0) and handles input length 0.
        state = xp.full((n_b, n_s), _NEG_INF, dtype=lp.dtype)
        state[:, 0] = 0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for t in range(n_t):
                s2 = xp.where(skip, _shift(xp, state, 2, _NEG_INF), _NEG_INF)
                new = _lse3(xp, state, _shift(xp, state, 1, _NEG_INF), s2) + lpe[t]
                alphas[t] = new
                # Sequences already past their input length keep their final state.
                state = xp.where((t < il)[:, None], new, state)
            last = (2 * tl)[:, None]
            end1 = xp.take_along_axis(state, last, axis=1)[:, 0]
            end2 = xp.take_along_axis(state, xp.maximum(last - 1, 0), axis=1)[:, 0]
            end2 = xp.where(tl > 0, end2, _NEG_INF)
            m = xp.maximum(end1, end2)
            ms = xp.where(m == _NEG_INF, 0, m)
            nll = -(xp.log(xp.exp(end1 - ms) + xp.exp(end2 - ms)) + ms)

        self.alphas, self.lpe, self.ext, self.skip = alphas, lpe, ext, skip
        self.il, self.tl, self.nll = il, tl, nll
        self.reduction, self.zero_infinity = reduction, zero_infinity
        loss = xp.where(nll == float("inf"), 0, nll) if zero_infinity else nll
        if reduction == "none":
            out = loss
        elif reduction == "sum":
            out = loss.sum()
        else:
            # As torch: each loss over its target length (at least 1), then the batch mean.
            out = (loss / xp.maximum(tl, 1).astype(loss.dtype)).mean()
        if _dt.is_bf16_array(lp0):
            return out  # float32: Primitive.apply rounds a bfloat16 op's result itself
        return out.astype(self.in_dtype)

    @staticmethod
    def _padded(xp, targets, tl, s_max, blank, concat):
        """(N, s_max) targets, entries past each target length set to ``blank``."""
        n_b = tl.shape[0]
        if s_max == 0:
            return xp.zeros((n_b, 0), dtype=np.int64)
        pos = xp.arange(s_max)[None, :]
        inside = pos < tl[:, None]
        if concat:
            start = xp.cumsum(tl) - tl
            idx = xp.minimum(start[:, None] + pos, max(targets.shape[0] - 1, 0))
            vals = targets[idx] if targets.shape[0] else xp.zeros(idx.shape, np.int64)
        else:
            vals = targets[:, :s_max]
        return xp.where(inside, vals.astype(np.int64), blank)

    def _grad_unit(self, lp):
        """d(loss_n)/d(lp) as torch defines it, for a unit gradient of each sample's loss."""
        xp = self.xp
        lpe, ext, skip, il, nll = self.lpe, self.ext, self.skip, self.il, self.nll
        n_t, n_b, n_c = lp.shape
        n_s = ext.shape[1]
        skip_up = _shift(xp, skip, -2, False)  # s -> s+2 allowed iff s+2 -> s is for alpha
        occ = xp.empty_like(self.alphas)
        # A virtual frame after each sequence's end with all mass on s = 2L: the recursion
        # then starts from the last blank or the last label.
        state = xp.where(xp.arange(n_s)[None, :] == (2 * self.tl)[:, None], 0.0,
                         _NEG_INF).astype(lp.dtype)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for t in range(n_t - 1, -1, -1):
                s2 = xp.where(skip_up, _shift(xp, state, -2, _NEG_INF), _NEG_INF)
                new = _lse3(xp, state, _shift(xp, state, -1, _NEG_INF), s2) + lpe[t]
                active = (t < il)[:, None]
                state = xp.where(active, new, state)
                # alpha * beta counts lp[t] twice: divide it out once. Normalised by the
                # sequence likelihood, this is the occupancy of state s at frame t.
                occ[t] = xp.where(active, self.alphas[t] + new - lpe[t] + nll[:, None],
                                  _NEG_INF)
            occ = xp.exp(occ)
            post = xp.zeros((n_t * n_b * n_c,), dtype=lp.dtype)
            rows = (xp.arange(n_t)[:, None] * n_b + xp.arange(n_b)[None, :]) * n_c
            # Repeated labels put several states on one class: they accumulate.
            add_at(xp, post, (rows[:, :, None] + ext[None]).reshape(-1), occ.reshape(-1))
            grad = xp.exp(lp) - post.reshape(n_t, n_b, n_c)
        # An infeasible target (loss inf) has no posteriors: torch's gradient is NaN on every
        # frame of that sequence, or zero with zero_infinity.
        bad = (nll == float("inf"))[None, :, None]
        grad = xp.where(bad, 0.0 if self.zero_infinity else float("nan"), grad)
        active = (xp.arange(n_t)[:, None] < il[None, :])[:, :, None]
        return xp.where(active, grad, 0).astype(lp.dtype)

    def backward(self, g):
        (lp_t,) = self.saved_tensors
        lp = lp_t._data
        xp = self.xp
        if lp.dtype.itemsize < 4:
            lp = lp.astype(np.float32)
        unit = self._grad_unit(lp)
        n_b = lp.shape[1]
        if self.reduction == "mean":
            scale = 1.0 / (xp.maximum(self.tl, 1).astype(lp.dtype) * n_b)
        else:
            scale = None
        ga = g._data.astype(lp.dtype)
        if self.reduction == "none":
            w = ga.reshape(1, n_b, 1)
        elif scale is not None:
            w = (ga * scale).reshape(1, n_b, 1)
        else:
            w = ga
        res = unit * w
        res = _dt.round_bf16(res) if _dt.is_bf16_array(lp_t._data) else res.astype(self.in_dtype)
        if GRAD_MODE.enabled:
            # create_graph=True: torch has no derivative of this gradient; differentiating it
            # raises (in ember as in torch) instead of silently missing the lp term.
            return _NoSecondDerivative.apply(lp_t, g, res), None, None, None
        return _reg.make_tensor(res, lp_t._dtype, lp_t._device), None, None, None


# torch's node name (its reductions are separate nodes; ember's one node takes the name).
CtcLossOp._backward_name = "CtcLossBackward0"


class _NoSecondDerivative(Function):
    """Wraps the CTC gradient array under create_graph; its own backward raises."""

    @staticmethod
    def forward(ctx, lp, g, res):
        return _reg.make_tensor(res, lp._dtype, lp._device)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("derivative for aten::_ctc_loss_backward is not implemented")
