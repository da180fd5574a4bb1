"""softmax / log_softmax over the last dim of a (rows, cols) array: forward and backward.

The forward reads each row twice: once for an online max and sum of ``exp(x - max)`` (merged
across threads as (max, sum) pairs), once to write the result. The backward reads ``y`` and
``g`` for one row sum, then writes ``y * (g - sum(g * y))`` or ``g - exp(y) * sum(g)``.
"""
from __future__ import annotations

from ._common import arg, contiguous, cupy, i32, i64, kernel, launch_rows, row_layout, tag

_SRC = r"""
extern "C" __global__ void softmax_fwd(const X_t* __restrict__ x, Y_t* __restrict__ y,
                                       const i64 rows, const int cols) {
    ROW_SHARED
    ROW_BEGIN(rows)
    const X_t* xr = x + row * cols;
    Y_t* yr = y + row * cols;
    float m = -INFINITY, s = 0.f;
    FOR_CHUNKS(i0) {
        float v[UNROLL];
        FOR_CHUNK(u, i, i0) v[u] = i < cols ? LD_X(xr, i) : -INFINITY;
        FOR_CHUNK(u, i, i0) ms_add(m, s, v[u]);
    }
    ROW_MS(m, s);
#if LOG
    const float ls = logf(s);
#else
    const float inv = 1.f / s;
#endif
    FOR_CHUNKS(i0) {
        float v[UNROLL];
        FOR_CHUNK(u, i, i0) v[u] = i < cols ? LD_X(xr, i) : 0.f;
        FOR_CHUNK(u, i, i0) {
#if LOG
            if (i < cols) ST_Y(yr, i, (v[u] - m) - ls);
#else
            if (i < cols) ST_Y(yr, i, expf(v[u] - m) * inv);
#endif
        }
    }
}

extern "C" __global__ void softmax_bwd(const Y_t* __restrict__ y, const G_t* __restrict__ g,
                                       O_t* __restrict__ gx, const i64 rows, const int cols) {
    ROW_SHARED
    ROW_BEGIN(rows)
    const Y_t* yr = y + row * cols;
    const G_t* gr = g + row * cols;
    O_t* outr = gx + row * cols;
    float acc = 0.f;
    FOR_CHUNKS(i0) {
        float gv[UNROLL];
#if LOG
        FOR_CHUNK(u, i, i0) gv[u] = i < cols ? LD_G(gr, i) : 0.f;
        FOR_CHUNK(u, i, i0) acc += gv[u];
#else
        float yv[UNROLL];
        FOR_CHUNK(u, i, i0) {
            gv[u] = i < cols ? LD_G(gr, i) : 0.f;
            yv[u] = i < cols ? LD_Y(yr, i) : 0.f;
        }
        FOR_CHUNK(u, i, i0) acc += gv[u] * yv[u];
#endif
    }
    acc = ROW_SUM(acc);
    FOR_CHUNKS(i0) {
        float gv[UNROLL], yv[UNROLL];
        FOR_CHUNK(u, i, i0) {
            gv[u] = i < cols ? LD_G(gr, i) : 0.f;
            yv[u] = i < cols ? LD_Y(yr, i) : 0.f;
        }
        FOR_CHUNK(u, i, i0) {
#if LOG
            if (i < cols) ST_O(outr, i, gv[u] - expf(yv[u]) * acc);
#else
            if (i < cols) ST_O(outr, i, yv[u] * (gv[u] - acc));
#endif
        }
    }
}
"""


def forward(x, log: bool):
    """softmax (or log_softmax) of ``x`` over its last dim, in ``x``'s dtype."""
    cp = cupy()
    x = contiguous(x)
    cols = x.shape[-1]
    rows = x.size // cols
    y = cp.empty(x.shape, dtype=x.dtype)
    t = tag(x)  # the backward's usual roles too, so that one compiled module serves both
    k = kernel("softmax_fwd", _SRC, {"X": t, "Y": t, "G": t, "O": t},
               LOG=int(log), WARP_ROWS=row_layout(cols))
    launch_rows(k, rows, cols, (arg(x), arg(y), i64(rows), i32(cols)))
    return y


def backward(y, g, log: bool):
    """Input gradient of softmax/log_softmax over the last dim from its output ``y`` and the
    output gradient ``g``; in ``y``'s dtype."""
    cp = cupy()
    y = contiguous(y)
    g = contiguous(g)
    cols = y.shape[-1]
    rows = y.size // cols
    gx = cp.empty(y.shape, dtype=y.dtype)
    k = kernel("softmax_bwd", _SRC, {"X": tag(y), "Y": tag(y), "G": tag(g), "O": tag(gx)},
               LOG=int(log), WARP_ROWS=row_layout(cols))
    launch_rows(k, rows, cols, (arg(y), arg(g), arg(gx), i64(rows), i32(cols)))
    return gx
