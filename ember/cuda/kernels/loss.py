"""cross_entropy of (N, C) logits against class indices: forward and backward.

With ``lse_i`` the log-sum-exp of row i, ``wt_i = weight[t_i]`` (1 without weights, 0 for an
ignored target), ``v_i`` whether row i's target counts, ``ls`` the label smoothing, ``W`` the
sum of the class weights (C without) and ``D = sum(wt)`` the mean's denominator:

* row loss ``(1 - ls) * wt_i * (lse_i - x[i, t_i]) + ls / C * v_i * (lse_i * W - sum_c w_c x_ic)``
* input gradient ``p_ic * (a_i + b_i * W) - a_i * [c == t_i] - b_i * w_c``, times the output
  gradient, with ``a_i = (1 - ls) * wt_i / D`` and ``b_i = ls / C * v_i / D`` (no ``/ D`` for
  sum and none).

The forward is one pass over the logits (a row kernel writing ``lse``, ``wt`` and the row's two
loss terms) and a one-block kernel that adds up the rows on the device, so nothing waits for the
host; the backward is one pass that writes the gradient.
"""
from __future__ import annotations

import numpy as np

from ...backend.device import host_checks_allowed
from ._common import (arg, contiguous, cupy, f32, i32, i64, kernel, launch_rows, max_threads,
                      row_layout, tag)

_SRC = r"""
#define RED_NONE 0
#define RED_MEAN 1
#define RED_SUM 2

extern "C" __global__ void ce_fwd(const X_t* __restrict__ x, const i64* __restrict__ t,
                                  const W_t* __restrict__ w, float* __restrict__ lse_out,
                                  float* __restrict__ wt_out, float* __restrict__ terms,
                                  Y_t* __restrict__ y, const i64 rows, const int cols,
                                  const i64 ignore, const float ls) {
    ROW_SHARED
    ROW_BEGIN(rows)
    const X_t* xr = x + row * cols;
    float m = -INFINITY, s = 0.f;
#if SMOOTH
    float sx = 0.f, sw = 0.f;  // sum_c w_c x_c and sum_c w_c
#endif
    FOR_CHUNKS(i0) {
        float v[UNROLL];
        FOR_CHUNK(u, i, i0) v[u] = i < cols ? LD_X(xr, i) : -INFINITY;
#if SMOOTH && HAS_W
        float wc[UNROLL];
        FOR_CHUNK(u, i, i0) wc[u] = i < cols ? LD_W(w, i) : 0.f;
#endif
        FOR_CHUNK(u, i, i0) {
            ms_add(m, s, v[u]);
#if SMOOTH
            if (i < cols) {
#if HAS_W
                sx += wc[u] * v[u];
                sw += wc[u];
#else
                sx += v[u];
#endif
            }
#endif
        }
    }
    ROW_MS(m, s);
#if SMOOTH
    ROW_SUM2(sx, sw);
#if !HAS_W
    sw = (float)cols;
#endif
#endif
    if (tid != 0) return;
    const float lse = m + logf(s);
    const i64 tg = t[row];
    const bool valid = tg != ignore;
    float nll = 0.f, wv = 0.f, sm = 0.f;
    if (valid) {
        if (tg < 0 || tg >= cols) {
            // Out of range (unchecked inside a graph capture): NaN rather than a stray read.
            nll = wv = NAN;
        } else {
#if HAS_W
            wv = LD_W(w, tg);
#else
            wv = 1.f;
#endif
            nll = wv * (lse - LD_X(xr, tg));
        }
#if SMOOTH
        sm = lse * sw - sx;
#endif
    }
    lse_out[row] = lse;
    wt_out[row] = wv;
    terms[row] = nll;
    terms[rows + row] = sm;
#if RED == RED_NONE
    float loss = (1.f - ls) * nll;
#if SMOOTH
    loss += ls / (float)cols * sm;
#endif
    ST_Y(y, row, loss);
#endif
}

// One block: the row sums, the class-weight sum, and (mean/sum) the loss.
extern "C" __global__ void ce_finish(const float* __restrict__ wt_in,
                                     const float* __restrict__ terms,
                                     const W_t* __restrict__ w, float* __restrict__ stats,
                                     Y_t* __restrict__ y, const i64 rows, const int cols,
                                     const float ls) {
    __shared__ float _sh[64];
    float d = 0.f, s1 = 0.f, s2 = 0.f, sw = 0.f;
    for (i64 i = threadIdx.x; i < rows; i += blockDim.x) {
        d += wt_in[i];
        s1 += terms[i];
        s2 += terms[rows + i];
    }
#if HAS_W
    for (int i = threadIdx.x; i < cols; i += blockDim.x) sw += LD_W(w, i);
#endif
    block_sum2(d, s1, _sh);
    block_sum2(s2, sw, _sh);
#if !HAS_W
    sw = (float)cols;
#endif
    if (threadIdx.x != 0) return;
    stats[0] = d;
    stats[1] = sw;
#if RED != RED_NONE
#if RED == RED_MEAN
    s1 /= d;
    s2 /= d;
#endif
    float loss = (1.f - ls) * s1;
#if SMOOTH
    loss += ls / (float)cols * s2;
#endif
    ST_Y(y, 0, loss);
#endif
}

extern "C" __global__ void ce_bwd(const X_t* __restrict__ x, const i64* __restrict__ t,
                                  const W_t* __restrict__ w, const float* __restrict__ lse_in,
                                  const float* __restrict__ wt_in,
                                  const float* __restrict__ stats, const G_t* __restrict__ g,
                                  O_t* __restrict__ gx, const i64 rows, const int cols,
                                  const i64 ignore, const float ls) {
    ROW_BEGIN(rows)
    const X_t* xr = x + row * cols;
    O_t* outr = gx + row * cols;
    const i64 tg = t[row];
#if RED == RED_NONE
    const float gs = LD_G(g, row);
#else
    const float gs = LD_G(g, 0);
#endif
#if RED == RED_MEAN
    const float scale = gs / stats[0];
#else
    const float scale = gs;
#endif
    const float a = (1.f - ls) * wt_in[row] * scale;
#if SMOOTH
    const float b = tg != ignore ? ls / (float)cols * scale : 0.f;
    const float c = a + b * stats[1];
#else
    const float c = a;
#endif
    const float l = lse_in[row];
    FOR_CHUNKS(i0) {
        float v[UNROLL];
        FOR_CHUNK(u, i, i0) v[u] = i < cols ? LD_X(xr, i) : 0.f;
#if SMOOTH && HAS_W
        float wc[UNROLL];
        FOR_CHUNK(u, i, i0) wc[u] = i < cols ? LD_W(w, i) : 0.f;
#endif
        FOR_CHUNK(u, i, i0) {
            if (i >= cols) continue;
            float r = expf(v[u] - l) * c;
            if (i == tg) r -= a;
#if SMOOTH
#if HAS_W
            r -= b * wc[u];
#else
            r -= b;
#endif
#endif
            ST_O(outr, i, r);
        }
    }
}
"""

_RED = {"none": 0, "mean": 1, "sum": 2}


def supported(x, t, w) -> bool:
    """Whether the kernels take this call: 1-D or 2-D logits (the caller checked their dtype),
    integer targets on the GPU, and class weights (if any) in a dtype the kernels read."""
    if x.ndim not in (1, 2) or type(t) is np.ndarray or t.dtype.kind not in "iu":
        return False
    return w is None or (type(w) is not np.ndarray and tag(w) is not None)


def check_targets(t, n_cls: int, ignore_index: int) -> None:
    """torch's error for a class index out of range (one host read; skipped while capturing)."""
    if not host_checks_allowed() or t.size == 0:
        return
    cp = cupy()
    ts = cp.where(t != ignore_index, t, 0)
    lo, hi = (int(v) for v in cp.stack([ts.min(), ts.max()]).get())
    if lo < 0 or hi >= n_cls:
        raise IndexError(f"Target {hi if hi >= n_cls else lo} is out of bounds.")


def forward(x, t, w, ignore_index: int, reduction: str, label_smoothing: float):
    """The loss (in ``x``'s dtype, shaped like ``t`` for reduction none) and the state that
    ``backward`` needs. ``x``: (N, C) or (C,) logits; ``t``: class indices, N or one."""
    cp = cupy()
    shape = x.shape
    x2 = contiguous(x.reshape(1, -1) if x.ndim == 1 else x)
    t2 = contiguous(t.reshape(-1).astype(np.int64, copy=False))
    rows, cols = x2.shape
    check_targets(t2, cols, ignore_index)
    ls = float(label_smoothing)
    red = _RED[reduction]
    lse = cp.empty(rows, dtype=np.float32)
    wt = cp.empty(rows, dtype=np.float32)
    terms = cp.empty(2 * rows, dtype=np.float32)
    stats = cp.empty(2, dtype=np.float32)
    y = cp.empty(rows if red == 0 else (), dtype=x.dtype)
    wk = w if w is not None else lse  # a placeholder the kernel never reads
    tx = tag(x2)  # the backward's usual roles too, so that one compiled module serves both
    roles = {"X": tx, "W": tag(wk), "Y": tx, "G": tx, "O": tx}
    opts = dict(RED=red, SMOOTH=int(ls > 0), HAS_W=int(w is not None))
    k = kernel("ce_fwd", _SRC, roles, WARP_ROWS=row_layout(cols), **opts)
    launch_rows(k, rows, cols, (arg(x2), t2, arg(wk), lse, wt, terms, arg(y), i64(rows),
                                i32(cols), i64(ignore_index), f32(ls)))
    k = kernel("ce_finish", _SRC, roles, WARP_ROWS=row_layout(cols), **opts)
    k((1,), (min(1024, max_threads(k)),),
      (wt, terms, arg(wk), stats, arg(y), i64(rows), i32(cols), f32(ls)))
    if red == 0:
        y = y.reshape(t.shape)
    state = (x2, t2, w, lse, wt, stats, ignore_index, red, ls, shape)
    return y, state


def backward(state, g):
    """The logits' gradient for the output gradient ``g``, in the logits' dtype and shape."""
    cp = cupy()
    x2, t2, w, lse, wt, stats, ignore_index, red, ls, shape = state
    rows, cols = x2.shape
    g = contiguous(g)
    gx = cp.empty(x2.shape, dtype=x2.dtype)
    wk = w if w is not None else lse
    roles = {"X": tag(x2), "W": tag(wk), "Y": tag(x2), "G": tag(g), "O": tag(gx)}
    k = kernel("ce_bwd", _SRC, roles, WARP_ROWS=row_layout(cols), RED=red, SMOOTH=int(ls > 0),
               HAS_W=int(w is not None))
    launch_rows(k, rows, cols, (arg(x2), t2, arg(wk), lse, wt, stats, arg(g), arg(gx),
                                i64(rows), i32(cols), i64(ignore_index), f32(ls)))
    return gx.reshape(shape)


def generic_state(state):
    """The ``(coef, wvec, p)`` of CrossEntropyOp's generic path, rebuilt from the kernels'
    state, for a backward that records a graph (double backward)."""
    cp = cupy()
    x2, t2, w, lse, wt, stats, ignore_index, red, ls, shape = state
    rows, cols = x2.shape
    valid = t2 != ignore_index
    denom = stats[0] if red == 1 else 1.0
    a = wt * ((1 - ls) / denom) if red == 1 else wt * (1 - ls)
    b = None
    if ls > 0:
        b = valid * (ls / cols / denom)
    ts = cp.where(valid, t2, 0)
    wvec = w if w is not None else cp.ones(cols, dtype=x2.dtype)
    p = cp.exp(x2.astype(np.float32) - lse[:, None])
    return (a, b, ts, cp.arange(rows)), wvec, p
