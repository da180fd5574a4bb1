"""layer_norm over the trailing D elements of each row: forward and backward.

The forward keeps each row's mean and ``rstd = 1 / sqrt(var + eps)`` (float32) for the backward.
The backward computes ``dx`` in one row kernel,
``rstd * (gh - mean(gh) - xhat * mean(gh * xhat))`` with ``gh = g * w``, and the weight and bias
gradients (column sums of ``g * xhat`` and ``g``) in two stages: float32 partial sums over
chunks of rows, then one sum per column.
"""
from __future__ import annotations

import numpy as np

from ._common import arg, contiguous, cupy, f32, i32, i64, kernel, launch_rows, row_layout, tag

_SRC = r"""
extern "C" __global__ void ln_fwd(const X_t* __restrict__ x, const W_t* __restrict__ w,
                                  const B_t* __restrict__ b, Y_t* __restrict__ y,
                                  float* __restrict__ mean_out, float* __restrict__ rstd_out,
                                  const i64 rows, const int cols, const float eps) {
    ROW_SHARED
    ROW_BEGIN(rows)
    const X_t* xr = x + row * cols;
    Y_t* yr = y + row * cols;
    float s = 0.f;
    FOR_CHUNKS(i0) {
        float v[UNROLL];
        FOR_CHUNK(u, i, i0) v[u] = i < cols ? LD_X(xr, i) : 0.f;
        FOR_CHUNK(u, i, i0) s += v[u];
    }
    const float mu = ROW_SUM(s) / (float)cols;
    // Two passes (mean, then squared deviations) keep the variance exact for large means.
    float q = 0.f;
    FOR_CHUNKS(i0) {
        float v[UNROLL];
        FOR_CHUNK(u, i, i0) v[u] = i < cols ? LD_X(xr, i) - mu : 0.f;
        FOR_CHUNK(u, i, i0) q += v[u] * v[u];
    }
    const float rs = 1.f / sqrtf(ROW_SUM(q) / (float)cols + eps);
    if (tid == 0) {
        mean_out[row] = mu;
        rstd_out[row] = rs;
    }
    FOR_CHUNKS(i0) {
        float v[UNROLL];
        FOR_CHUNK(u, i, i0) v[u] = i < cols ? LD_X(xr, i) : 0.f;
#if HAS_W
        float wv[UNROLL];
        FOR_CHUNK(u, i, i0) wv[u] = i < cols ? LD_W(w, i) : 0.f;
#endif
#if HAS_B
        float bv[UNROLL];
        FOR_CHUNK(u, i, i0) bv[u] = i < cols ? LD_B(b, i) : 0.f;
#endif
        FOR_CHUNK(u, i, i0) {
            float r = (v[u] - mu) * rs;
#if HAS_W
            r *= wv[u];
#endif
#if HAS_B
            r += bv[u];
#endif
            if (i < cols) ST_Y(yr, i, r);
        }
    }
}

extern "C" __global__ void ln_bwd_dx(const G_t* __restrict__ g, const X_t* __restrict__ x,
                                     const W_t* __restrict__ w, const float* __restrict__ mean,
                                     const float* __restrict__ rstd, O_t* __restrict__ dx,
                                     const i64 rows, const int cols) {
    ROW_SHARED
    ROW_BEGIN(rows)
    const G_t* gr = g + row * cols;
    const X_t* xr = x + row * cols;
    O_t* outr = dx + row * cols;
    const float mu = mean[row], rs = rstd[row];
    float s1 = 0.f, s2 = 0.f;
    FOR_CHUNKS(i0) {
        float gh[UNROLL], xh[UNROLL];
        FOR_CHUNK(u, i, i0) {
            gh[u] = i < cols ? LD_G(gr, i) : 0.f;
            xh[u] = i < cols ? LD_X(xr, i) : mu;
        }
#if HAS_W
        FOR_CHUNK(u, i, i0) gh[u] *= i < cols ? LD_W(w, i) : 0.f;
#endif
        FOR_CHUNK(u, i, i0) {
            s1 += gh[u];
            s2 += gh[u] * ((xh[u] - mu) * rs);
        }
    }
    ROW_SUM2(s1, s2);
    const float inv_n = 1.f / (float)cols;
    s1 *= inv_n;
    s2 *= inv_n;
    FOR_CHUNKS(i0) {
        float gh[UNROLL], xh[UNROLL];
        FOR_CHUNK(u, i, i0) {
            gh[u] = i < cols ? LD_G(gr, i) : 0.f;
            xh[u] = i < cols ? LD_X(xr, i) : mu;
        }
#if HAS_W
        FOR_CHUNK(u, i, i0) gh[u] *= i < cols ? LD_W(w, i) : 0.f;
#endif
        FOR_CHUNK(u, i, i0) {
            if (i < cols) ST_O(outr, i, rs * (gh[u] - s1 - ((xh[u] - mu) * rs) * s2));
        }
    }
}

// Stage 1 of dweight/dbias: block (32, 8) sums columns blockIdx.x*32.. over the rows of chunk
// blockIdx.y into pw/pb[chunk, col].
extern "C" __global__ void ln_bwd_dwdb_partial(const G_t* __restrict__ g,
                                               const X_t* __restrict__ x,
                                               const float* __restrict__ mean,
                                               const float* __restrict__ rstd,
                                               float* __restrict__ pw, float* __restrict__ pb,
                                               const i64 rows, const int cols,
                                               const i64 rows_per_chunk) {
    __shared__ float sw[8][33];
    __shared__ float sb[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int col = blockIdx.x * 32 + tx;
    const i64 r0 = (i64)blockIdx.y * rows_per_chunk;
    const i64 r1 = min(rows, r0 + rows_per_chunk);
    float aw = 0.f, ab = 0.f;
    if (col < cols) {
#pragma unroll 4
        for (i64 r = r0 + ty; r < r1; r += 8) {
            const i64 k = r * cols + col;
            const float gv = LD_G(g, k);
            aw += gv * ((LD_X(x, k) - mean[r]) * rstd[r]);
            ab += gv;
        }
    }
    sw[ty][tx] = aw;
    sb[ty][tx] = ab;
    __syncthreads();
    if (ty == 0 && col < cols) {
        float tw = 0.f, tb = 0.f;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            tw += sw[j][tx];
            tb += sb[j][tx];
        }
        pw[(i64)blockIdx.y * cols + col] = tw;
        pb[(i64)blockIdx.y * cols + col] = tb;
    }
}

// Stage 2: one thread per column adds up the chunks' partial sums.
extern "C" __global__ void ln_bwd_dwdb_final(const float* __restrict__ pw,
                                             const float* __restrict__ pb,
                                             W_t* __restrict__ dw, B_t* __restrict__ db,
                                             const int chunks, const int cols) {
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= cols) return;
    float tw = 0.f, tb = 0.f;
    for (int c = 0; c < chunks; ++c) {
        tw += pw[(i64)c * cols + col];
        tb += pb[(i64)c * cols + col];
    }
#if HAS_W
    ST_W(dw, col, tw);
#endif
#if HAS_B
    ST_B(db, col, tb);
#endif
}
"""


def _roles(x, w, b, y, g=None, o=None):
    return {"X": tag(x), "W": tag(w) if w is not None else "f32",
            "B": tag(b) if b is not None else "f32", "Y": tag(y),
            "G": tag(g) if g is not None else "f32", "O": tag(o) if o is not None else "f32"}


def supported(w, b) -> bool:
    """Whether the kernels read the affine parameters' dtypes (the input was checked)."""
    return (w is None or tag(w) is not None) and (b is None or tag(b) is not None)


def forward(x, w, b, d: int, eps: float):
    """layer_norm of ``x`` over its trailing ``d`` elements: ``(y, mean, rstd)``, ``y`` in
    ``x``'s dtype and the statistics float32 of shape (rows,)."""
    cp = cupy()
    x = contiguous(x)
    rows = x.size // d
    y = cp.empty(x.shape, dtype=x.dtype)
    mean = cp.empty(rows, dtype=np.float32)
    rstd = cp.empty(rows, dtype=np.float32)
    dummy = mean  # stands in for an absent weight or bias; never read
    w = contiguous(w) if w is not None else None
    b = contiguous(b) if b is not None else None
    k = kernel("ln_fwd", _SRC, _roles(x, w, b, y), WARP_ROWS=row_layout(d),
               HAS_W=int(w is not None), HAS_B=int(b is not None))
    launch_rows(k, rows, d, (arg(x), arg(w if w is not None else dummy),
                             arg(b if b is not None else dummy), arg(y), mean, rstd,
                             i64(rows), i32(d), f32(eps)))
    return y, mean, rstd


def backward_dx(g, x, w, mean, rstd, d: int):
    """The input gradient, in ``x``'s dtype."""
    cp = cupy()
    g = contiguous(g)
    x = contiguous(x)
    rows = x.size // d
    dx = cp.empty(x.shape, dtype=x.dtype)
    w = contiguous(w) if w is not None else None
    k = kernel("ln_bwd_dx", _SRC, _roles(x, w, None, x, g, dx), WARP_ROWS=row_layout(d),
               HAS_W=int(w is not None), HAS_B=0)
    launch_rows(k, rows, d, (arg(g), arg(x), arg(w if w is not None else mean), mean, rstd,
                             arg(dx), i64(rows), i32(d)))
    return dx


def backward_dwdb(g, x, mean, rstd, d: int, w_like, b_like):
    """Column sums ``(sum g * xhat, sum g)`` over the rows, as arrays of ``w_like``'s and
    ``b_like``'s dtypes (None for one not wanted)."""
    cp = cupy()
    g = contiguous(g)
    x = contiguous(x)
    rows = x.size // d
    bx = (d + 31) // 32
    # About 2048 blocks in all (enough to fill the GPU), at least 32 rows per chunk.
    chunks = max(1, min((rows + 31) // 32, -(-2048 // bx)))
    per = -(-rows // chunks)
    chunks = -(-rows // per)
    pw = cp.empty((chunks, d), dtype=np.float32)
    pb = cp.empty((chunks, d), dtype=np.float32)
    dw = cp.empty(d, dtype=w_like.dtype) if w_like is not None else None
    db = cp.empty(d, dtype=b_like.dtype) if b_like is not None else None
    roles = _roles(x, dw, db, x, g, None)
    k = kernel("ln_bwd_dwdb_partial", _SRC, roles, HAS_W=int(dw is not None),
               HAS_B=int(db is not None))
    k((bx, chunks), (32, 8), (arg(g), arg(x), mean, rstd, pw, pb, i64(rows), i32(d),
                              i64(per)))
    k = kernel("ln_bwd_dwdb_final", _SRC, roles, HAS_W=int(dw is not None),
               HAS_B=int(db is not None))
    k(((d + 255) // 256,), (256,), (pw, pb, arg(dw if dw is not None else pw),
                                    arg(db if db is not None else pb), i32(chunks), i32(d)))
    return dw, db
