"""Embedding backward: the output-gradient rows added into their weight rows with atomics.

One block per looked-up index adds its gradient row into a float32 accumulator (float32 so
that many float16/bfloat16 additions to one row keep their precision); rows at ``padding_idx``
get nothing. A last pass casts the accumulator to the gradient's dtype.
"""
from __future__ import annotations

import numpy as np

from ._common import arg, contiguous, cupy, i32, i64, kernel, launch_flat, tag

_SRC = r"""
extern "C" __global__ void emb_bwd(const G_t* __restrict__ g, const i64* __restrict__ idx,
                                   float* __restrict__ acc, const i64 n_idx, const int dim,
                                   const i64 n_rows, const i64 pad) {
    const i64 i = blockIdx.x;
    i64 r = idx[i] % n_rows;
    if (r < 0) r += n_rows;  // negative indices count from the end, like the forward's
    if (r == pad) return;
    const G_t* gr = g + i * dim;
    float* ar = acc + r * dim;
    for (int j = threadIdx.x; j < dim; j += blockDim.x) atomicAdd(ar + j, LD_G(gr, j));
}

extern "C" __global__ void cast_f32(const float* __restrict__ a, Y_t* __restrict__ y,
                                    const i64 n) {
    FLAT_CHUNKS(i0, n) {
        float v[UNROLL];
        FLAT_CHUNK(u, i, i0) v[u] = i < n ? a[i] : 0.f;
        FLAT_CHUNK(u, i, i0) if (i < n) ST_Y(y, i, v[u]);
    }
}
"""


def backward(g, idx, n_rows: int, dim: int, padding_idx):
    """The (n_rows, dim) weight gradient, in ``g``'s dtype."""
    cp = cupy()
    g = contiguous(g).reshape(-1, dim)
    flat = contiguous(idx.reshape(-1).astype(np.int64, copy=False))
    acc = cp.zeros((n_rows, dim), dtype=np.float32)
    n_idx = flat.size
    if n_idx:
        k = kernel("emb_bwd", _SRC, {"G": tag(g), "Y": "f32"})
        block = min(256, max(32, (dim + 31) // 32 * 32))
        pad = -1 if padding_idx is None else int(padding_idx)
        k((n_idx,), (block,), (arg(g), flat, acc, i64(n_idx), i32(dim), i64(n_rows), i64(pad)))
    if g.dtype == acc.dtype:
        return acc
    out = cp.empty(acc.shape, dtype=g.dtype)
    k = kernel("cast_f32", _SRC, {"G": "f32", "Y": tag(out)})
    launch_flat(k, out.size, (acc, arg(out), i64(out.size)))
    return out
