"""Dropout from a counter-based hash: no mask is drawn or stored.

Element ``i`` of a call is kept when the top 32 bits of ``hash(seed, offset + i)`` are at least
``p * 2**32``. The (seed, offset) pair lives in a small device array per GPU: each call first
runs a one-thread kernel that copies the pair for the call and advances the offset by the
element count, so the backward regenerates the same mask from its copy, and a CUDA graph that
replays the call draws a fresh mask each time (the host never supplies the offset).

The seed comes from ember's default generator: ``ember.manual_seed`` (which makes a new
generator stream) resets the seed and the offset at the next dropout call, so seeded runs repeat.
"""
from __future__ import annotations

import math

import numpy as np

from ...backend.device import CAPTURING
from ._common import arg, contiguous, cupy, f32, i64, kernel, launch_flat, tag

_SRC = r"""
__device__ __forceinline__ u64 mix64(u64 z) {
    // splitmix64's finaliser: every input bit reaches every output bit.
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

__device__ __forceinline__ bool keep(u64 seed, u64 ctr, u64 thresh) {
    return (mix64(seed + ctr * 0x9e3779b97f4a7c15ull) >> 32) >= thresh;
}

extern "C" __global__ void rng_take(u64* __restrict__ state, u64* __restrict__ saved,
                                    const u64 n) {
    saved[0] = state[0];
    saved[1] = state[1];
    state[1] += n;
}

// MODE 0: y = keep ? x * scale : 0.  MODE 1: the mask itself (scale or 0) in Y's dtype.
extern "C" __global__ void dropout_apply(const X_t* __restrict__ x, Y_t* __restrict__ y,
                                         const u64* __restrict__ saved, const i64 n,
                                         const u64 thresh, const float scale) {
    const u64 seed = saved[0], off = saved[1];
    FLAT_CHUNKS(i0, n) {
#if MODE == 0
        float v[UNROLL];
        FLAT_CHUNK(u, i, i0) v[u] = i < n ? LD_X(x, i) : 0.f;
#endif
        FLAT_CHUNK(u, i, i0) {
            if (i >= n) continue;
            const bool k = keep(seed, off + (u64)i, thresh);
#if MODE == 0
            ST_Y(y, i, k ? v[u] * scale : 0.f);
#else
            ST_Y(y, i, k ? scale : 0.f);
#endif
        }
    }
}
"""

# Per device: [state array (seed, offset), the generator stream it was seeded from].
_GEN: dict = {}


def _seed_from(initial_seed: int, dev: int) -> int:
    """A 64-bit seed for device ``dev`` from the host generator's seed (splitmix64 mixing)."""
    z = (int(initial_seed) * 0x9E3779B97F4A7C15 + dev + 1) & ((1 << 64) - 1)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & ((1 << 64) - 1)
    return z ^ (z >> 31)


def _state():
    """This device's (seed, offset) array, reseeded after ``ember.manual_seed``; None while a
    graph is being captured before one exists (the caller then uses the generic path)."""
    from ... import random as _random
    cp = cupy()
    dev = cp.cuda.runtime.getDevice()
    gen = _random.default_generator
    ent = _GEN.get(dev)
    if ent is not None and (ent[1] is gen._rng or CAPTURING[0] > 0):
        return ent[0]
    if CAPTURING[0] > 0:
        return None  # writing it now would be captured too (and reset on every replay)
    from ... import cuda as _cuda
    base = _cuda._STATE.get("seed")  # ember.cuda.manual_seed's, else the default generator's
    seed = _seed_from(gen.initial_seed() if base is None else base, dev)
    host = np.array([seed, 0], dtype=np.uint64)
    if ent is None:
        ent = _GEN[dev] = [cp.asarray(host), gen._rng]
    else:
        ent[0].set(host)
        ent[1] = gen._rng
    return ent[0]


def ready() -> bool:
    """Whether the kernel path can run now (see ``_state``)."""
    return _state() is not None


def _threshold(p: float) -> np.uint64:
    return np.uint64(min(1 << 32, math.ceil(p * 4294967296.0)))


def forward(x, p: float):
    """``(y, saved)``: dropout of ``x`` (kept elements scaled by ``1 / (1 - p)``) and the
    (seed, offset) copy that ``backward`` and ``mask`` regenerate the mask from."""
    cp = cupy()
    x = contiguous(x)
    st = _state()
    saved = cp.empty(2, dtype=np.uint64)
    take = kernel("rng_take", _SRC, {"X": "f32", "Y": "f32"}, MODE=0)
    take((1,), (1,), (st, saved, np.uint64(x.size)))
    y = cp.empty(x.shape, dtype=x.dtype)
    k = kernel("dropout_apply", _SRC, {"X": tag(x), "Y": tag(y)}, MODE=0)
    launch_flat(k, x.size, (arg(x), arg(y), saved, i64(x.size), _threshold(p),
                            f32(1.0 / (1.0 - p))))
    return y, saved


def backward(g, saved, p: float):
    """``g`` through the same mask, in ``g``'s dtype."""
    cp = cupy()
    g = contiguous(g)
    gx = cp.empty(g.shape, dtype=g.dtype)
    k = kernel("dropout_apply", _SRC, {"X": tag(g), "Y": tag(gx)}, MODE=0)
    launch_flat(k, g.size, (arg(g), arg(gx), saved, i64(g.size), _threshold(p),
                            f32(1.0 / (1.0 - p))))
    return gx


def mask(shape, dtype, saved, p: float):
    """The scaled mask (``1 / (1 - p)`` or 0) as an array of ``dtype``."""
    cp = cupy()
    m = cp.empty(shape, dtype=dtype)
    k = kernel("dropout_apply", _SRC, {"X": tag(m), "Y": tag(m)}, MODE=1)
    launch_flat(k, m.size, (arg(m), arg(m), saved, i64(m.size), _threshold(p),
                            f32(1.0 / (1.0 - p))))
    return m
