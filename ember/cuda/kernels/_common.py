"""What every fused kernel shares: dtype tags, the CUDA source header, compiling and launching.

Kernels take float32 arrays as ``float*`` and float16/bfloat16 arrays as raw ``unsigned short*``
(a ``uint16`` view), and convert to float32 themselves: the source then depends on no CuPy or
CUDA half-precision header, and the same body serves every dtype. Each array argument of a
kernel has a *role* (``X``, ``Y``, ``G``...); the header defines ``X_t``, ``LD_X(p, i)`` and
``ST_X(p, i, v)`` for the dtype that role has in a call, and every (source, dtypes, options)
combination is compiled once, on first use.
"""
from __future__ import annotations

import numpy as np

_CP: list = []


def cupy():
    """The cupy module (imported on first use: ember imports without CuPy)."""
    if not _CP:
        import cupy as cp
        _CP.append(cp)
    return _CP[0]


_F32 = np.dtype(np.float32)
_F16 = np.dtype(np.float16)


def tag(arr) -> str | None:
    """``"f32"``, ``"f16"`` or ``"bf16"`` for the float dtypes the kernels handle, else None."""
    dt = arr.dtype
    if dt == _F32:
        return "f32"
    if dt == _F16:
        return "f16"
    if dt.itemsize == 2 and dt.name == "bfloat16":
        return "bf16"
    return None


def arg(arr):
    """``arr`` as a kernel argument: 2-byte floats as their raw ``uint16`` bits."""
    if arr.dtype.itemsize == 2:
        return arr.view(cupy().uint16)
    return arr


def contiguous(arr):
    return cupy().ascontiguousarray(arr)


HEADER = r"""
typedef unsigned short u16;
typedef long long i64;
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fffffff)
#endif
typedef unsigned long long u64;

__device__ __forceinline__ float ld_f32(const float* p, i64 i) { return p[i]; }
__device__ __forceinline__ float ld_bf16(const u16* p, i64 i) {
    return __uint_as_float(((unsigned int)p[i]) << 16);
}
__device__ __forceinline__ float ld_f16(const u16* p, i64 i) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(p[i]));
    return f;
}
__device__ __forceinline__ u16 f32_to_bf16(float v) {
    unsigned int u = __float_as_uint(v);
    // NaN stays a (quiet) NaN: rounding could carry its payload into the infinity pattern.
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u16)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
    return (u16)(u >> 16);
}
__device__ __forceinline__ void st_f32(float* p, i64 i, float v) { p[i] = v; }
__device__ __forceinline__ void st_bf16(u16* p, i64 i, float v) { p[i] = f32_to_bf16(v); }
__device__ __forceinline__ void st_f16(u16* p, i64 i, float v) {
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    p[i] = h;
}

// Butterfly sums leave the same bits in every lane (each step adds the same two values).
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Merge two (max, sum of exp(x - max)) pairs of an online softmax.
__device__ __forceinline__ void ms_merge(float& m, float& s, float m2, float s2) {
    const float mn = fmaxf(m, m2);
    if (mn == -INFINITY) {
        // Both parts are empty or all -inf: their sums are 0, or NaN from a NaN input, which
        // must reach every lane (both lanes of a butterfly step compute the same result).
        s = s + s2;
        return;
    }
    s = s * expf(m - mn) + s2 * expf(m2 - mn);
    m = mn;
}

__device__ __forceinline__ void warp_ms(float& m, float& s) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float m2 = __shfl_xor_sync(0xffffffffu, m, o);
        const float s2 = __shfl_xor_sync(0xffffffffu, s, o);
        ms_merge(m, s, m2, s2);
    }
}

// Block-wide versions: every thread gets the result. The leading barrier lets a kernel call
// them several times with the same scratch (sh holds 64 floats).
__device__ __forceinline__ float block_sum(float v, float* sh) {
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    return warp_sum(lane < nw ? sh[lane] : 0.f);
}

__device__ __forceinline__ void block_sum2(float& a, float& b, float* sh) {
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    a = warp_sum(a);
    b = warp_sum(b);
    __syncthreads();
    if (lane == 0) { sh[w] = a; sh[32 + w] = b; }
    __syncthreads();
    a = warp_sum(lane < nw ? sh[lane] : 0.f);
    b = warp_sum(lane < nw ? sh[32 + lane] : 0.f);
}

__device__ __forceinline__ void block_ms(float& m, float& s, float* sh) {
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    warp_ms(m, s);
    __syncthreads();
    if (lane == 0) { sh[w] = m; sh[32 + w] = s; }
    __syncthreads();
    m = lane < nw ? sh[lane] : -INFINITY;
    s = lane < nw ? sh[32 + lane] : 0.f;
    warp_ms(m, s);
}

// Online softmax statistics: add one value to (max m, sum s of exp(x - m)).
__device__ __forceinline__ void ms_add(float& m, float& s, const float v) {
    if (v > m) {
        s = s * expf(m - v) + 1.f;
        m = v;
    } else if (v != -INFINITY) {
        s += expf(v - m);  // NaN lands here and makes the row NaN, as in torch
    }
}

// Each thread visits its elements in chunks of UNROLL and issues all of a chunk's loads before
// using any: memory-bound kernels need that many bytes in flight per thread. Row kernels:
//   FOR_CHUNKS(i0) { float v[UNROLL]; FOR_CHUNK(u, i, i0) v[u] = ...; FOR_CHUNK(...) ...; }
#define UNROLL 8
#define FOR_CHUNKS(i0) for (int i0 = tid; i0 < cols; i0 += nth * UNROLL)
#define FOR_CHUNK(u, i, i0) \
    _Pragma("unroll") for (int u = 0, i = (i0); u < UNROLL; ++u, i += nth)
// The same over a flat range [0, n) with a grid-stride loop.
#define FLAT_STRIDE ((i64)gridDim.x * blockDim.x)
#define FLAT_CHUNKS(i0, n) \
    for (i64 i0 = (i64)blockIdx.x * blockDim.x + threadIdx.x; i0 < (n); \
         i0 += FLAT_STRIDE * UNROLL)
#define FLAT_CHUNK(u, i, i0) \
    _Pragma("unroll") for (i64 u = 0, i = (i0); u < UNROLL; ++u, i += FLAT_STRIDE)

// Row kernels run in one of two layouts, picked by the row length when compiling: a warp per
// row (WARP_ROWS=1, short rows, several rows per block) or a block per row. A kernel that uses
// the ROW_ reductions starts with ROW_SHARED (their scratch in the block layout).
#if WARP_ROWS
#define ROW_BEGIN(rows)                                                                    \
    const int tid = threadIdx.x & 31;                                                      \
    const int nth = 32;                                                                    \
    const i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);              \
    if (row >= (rows)) return;
#define ROW_SHARED
#define ROW_SUM(v) warp_sum(v)
#define ROW_SUM2(a, b) do { a = warp_sum(a); b = warp_sum(b); } while (0)
#define ROW_MS(m, s) warp_ms(m, s)
#else
#define ROW_BEGIN(rows)                                                                    \
    const int tid = threadIdx.x;                                                           \
    const int nth = blockDim.x;                                                            \
    const i64 row = (i64)blockIdx.x;
#define ROW_SHARED __shared__ float _sh[64];
#define ROW_SUM(v) block_sum(v, _sh)
#define ROW_SUM2(a, b) block_sum2(a, b, _sh)
#define ROW_MS(m, s) block_ms(m, s, _sh)
#endif
"""

_TYPES = {"f32": "float", "f16": "u16", "bf16": "u16"}
_CACHE: dict = {}


def source(body: str, roles: dict, defines: dict) -> str:
    """The full CUDA source of ``body`` for the given role dtypes and ``#define`` values."""
    lines = [f"#define {k} {int(v) if isinstance(v, bool) else v}"
             for k, v in sorted(defines.items())]
    lines.append(HEADER)
    for role, t in sorted(roles.items()):
        lines.append(f"typedef {_TYPES[t]} {role}_t;")
        lines.append(f"#define LD_{role}(p, i) ld_{t}(p, i)")
        lines.append(f"#define ST_{role}(p, i, v) st_{t}(p, i, v)")
    lines.append(body)
    return "\n".join(lines)


def kernel(name: str, body: str, roles: dict, **defines):
    """The kernel ``name`` of ``body`` compiled for the given role dtypes and defines. All the
    kernels of one (body, dtypes, defines) come from one compiled module, made on first use."""
    key = (name, id(body), tuple(sorted(roles.items())), tuple(sorted(defines.items())))
    k = _CACHE.get(key)
    if k is None:
        mkey = key[1:]
        mod = _CACHE.get(mkey)
        if mod is None:
            defines.setdefault("WARP_ROWS", 0)
            mod = cupy().RawModule(code=source(body, roles, defines), options=("--std=c++14",))
            _CACHE[mkey] = mod
        k = _CACHE[key] = mod.get_function(name)
    return k


# Rows up to this many columns get a warp each; longer rows a block each.
WARP_MAX_COLS = 1024
_ROWS_PER_BLOCK = 8


def row_layout(cols: int) -> int:
    """1 for the warp-per-row layout, 0 for block-per-row (the WARP_ROWS define)."""
    return 1 if cols <= WARP_MAX_COLS else 0


def launch_rows(k, rows: int, cols: int, args: tuple) -> None:
    """Launch row kernel ``k`` (compiled with ``WARP_ROWS=row_layout(cols)``) over ``rows``."""
    if row_layout(cols):
        grid = (rows + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
        block = 32 * _ROWS_PER_BLOCK
    else:
        grid = rows
        block = min(1024 if cols >= 16384 else (512 if cols >= 4096 else 256), max_threads(k))
    k((grid,), (block,), args)


_MAX_THREADS: dict = {}


def max_threads(k) -> int:
    """The largest block (a multiple of 32) that kernel ``k``'s register use allows."""
    n = _MAX_THREADS.get(id(k))
    if n is None:
        n = _MAX_THREADS[id(k)] = max(32, k.max_threads_per_block // 32 * 32)
    return n


UNROLL = 8  # as in HEADER


def launch_flat(k, n: int, args: tuple) -> None:
    """Launch a grid-stride elementwise kernel over ``n`` elements."""
    block = 256
    grid = max(1, min((n + block * UNROLL - 1) // (block * UNROLL), 16384))
    k((grid,), (block,), args)


def i64(v) -> np.int64:
    return np.int64(v)


def i32(v) -> np.int32:
    return np.int32(v)


def f32(v) -> np.float32:
    return np.float32(v)
