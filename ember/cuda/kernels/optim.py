"""Multi-tensor optimizer updates on CUDA: SGD and Adam/AdamW over a whole parameter group in a
few launches.

Design. A GPT-2-small step updates ~150 tensors; one CuPy expression per array op would be ~10
launches per tensor (~1500 per step), each costing more host time than its GPU work. Here one
launch updates up to ``ADAM_M`` (60) tensors: the kernel gets, *by value*, a struct holding the
tensors' device pointers, sizes and a prefix sum of their block counts (a numpy structured
scalar; CUDA copies kernel arguments when the launch is recorded, so the launch is also valid
inside a CUDA-graph capture, where no host-to-device copy of a pointer table could run). Block
``b`` binary-searches the prefix sum for its tensor and updates one ``CHUNK`` of it. The struct
stays under the classic 4 KiB argument limit, so the tensors of a group go in ``ceil(n / 60)``
launches (3 for GPT-2 small); concatenating the parameters instead would cost a copy of every
array per step.

Numerics. Parameters, gradients and state may be float32, float16 or bfloat16 (float16 and
bfloat16 are read as raw 16-bit patterns and converted by hand, rounding to nearest even on the
way back) and are computed in float32; float64 is computed in float64. As in torch's fused and
capturable Adam, ``step`` is a per-parameter float32 device scalar: a separate launch adds 1 to
the steps first (a block of the update cannot, as other blocks of the same tensor read it), and
the update computes the bias corrections from it on the device, in float64. ``lr`` is read from
a device scalar too (float32 or float64), so that a captured step sees a new learning rate.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["adam_step", "sgd_step", "increment_steps", "CHUNK", "ADAM_M", "SGD_M", "STEP_M"]

CHUNK = 16384     # elements per block: 256 threads x 64
THREADS = 256
ILP = 4           # elements in flight per thread (loads first, then math, then stores)
ADAM_M = 60       # tensors per Adam launch: rows param, grad, exp_avg, exp_avg_sq, max, step
SGD_M = 96        # tensors per SGD launch: rows param, grad, momentum_buffer
STEP_M = 480      # step counters per increment launch
_ADAM_D, _SGD_D = 6, 3

# Flags of the Adam kernel and of the SGD kernel (bit masks of the ``flags`` argument).
AMSGRAD, MAXIMIZE, DECOUPLED, NESTEROV = 1, 2, 4, 8

SOURCE = r"""
typedef unsigned short ember_u16;
typedef long long ember_i64;
// float16 / bfloat16 storage: distinct types so that overloads pick the right conversion.
struct ember_f16 { ember_u16 x; };
struct ember_bf16 { ember_u16 x; };

#ifdef EMBER_HOST_TEST
#include "ember_host_shim.h"
#else
__device__ __forceinline__ float ember_h2f(ember_u16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ ember_u16 ember_f2h(float f) {
    ember_u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
#endif

__device__ __forceinline__ float ember_ld(const float* a, ember_i64 i) { return a[i]; }
__device__ __forceinline__ double ember_ld(const double* a, ember_i64 i) { return a[i]; }
__device__ __forceinline__ float ember_ld(const ember_f16* a, ember_i64 i) {
    return ember_h2f(a[i].x);
}
__device__ __forceinline__ float ember_ld(const ember_bf16* a, ember_i64 i) {
    return __uint_as_float(((unsigned int)a[i].x) << 16);
}
__device__ __forceinline__ void ember_st(float* a, ember_i64 i, float v) { a[i] = v; }
__device__ __forceinline__ void ember_st(double* a, ember_i64 i, double v) { a[i] = v; }
__device__ __forceinline__ void ember_st(ember_f16* a, ember_i64 i, float v) {
    a[i].x = ember_f2h(v);
}
__device__ __forceinline__ void ember_st(ember_bf16* a, ember_i64 i, float v) {
    unsigned int u = __float_as_uint(v);
    ember_u16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        r = (ember_u16)((u >> 16) | 0x40u);  // NaN stays a quiet NaN (no carry into inf)
    } else {
        r = (ember_u16)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);  // nearest, ties to even
    }
    a[i].x = r;
}

// The type the math runs in: float, except double for double storage.
template <typename T> struct EmberAcc { typedef float type; };
template <> struct EmberAcc<double> { typedef double type; };
__device__ __forceinline__ float ember_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double ember_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float ember_max(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double ember_max(double a, double b) { return fmax(a, b); }

// Passed by value. Row r of ptr holds the r-th array of every tensor; block_start is the prefix
// sum of the tensors' block counts (count + 1 entries); flag is per tensor (SGD: first step).
template <int D, int M> struct EmberList {
    unsigned long long ptr[D][M];
    ember_i64 n[M];
    int block_start[M + 1];
    int flag[M];
    int count;
};

struct EmberSteps {
    unsigned long long ptr[STEP_M];
    int count;
};

template <int D, int M>
__device__ __forceinline__ int ember_find(const EmberList<D, M>& L, int b) {
    int lo = 0, hi = L.count - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) >> 1;
        if (L.block_start[mid] <= b) lo = mid; else hi = mid - 1;
    }
    return lo;
}

__device__ __forceinline__ double ember_read_lr(const void* lr, int lr_f64) {
    return lr_f64 ? *(const double*)lr : (double)*(const float*)lr;
}

template <typename P>
__device__ __forceinline__ void ember_adam(const EmberList<6, ADAM_M>& L, const void* lr_p,
                                           int lr_f64, double beta1, double beta2, double eps,
                                           double wd, int flags) {
    typedef typename EmberAcc<P>::type A;
    const int t = ember_find(L, (int)blockIdx.x);
    const ember_i64 n = L.n[t];
    const ember_i64 start = (ember_i64)((int)blockIdx.x - L.block_start[t]) * CHUNK;
    const ember_i64 end = start + CHUNK < n ? start + CHUNK : n;
    P* p = (P*)L.ptr[0][t];
    const P* g = (const P*)L.ptr[1][t];
    P* m = (P*)L.ptr[2][t];
    P* v = (P*)L.ptr[3][t];
    P* vmax = (P*)L.ptr[4][t];
    const double step = (double)*(const float*)L.ptr[5][t];
    const double lr = ember_read_lr(lr_p, lr_f64);
    const bool amsgrad = (flags & 1) != 0, maximize = (flags & 2) != 0;
    const bool decoupled = (flags & 4) != 0;
    // Bias corrections in double from the device step count (what makes a capture replayable).
    const A step_size = (A)(lr / (1.0 - pow(beta1, step)));
    const A bc2_sqrt = (A)sqrt(1.0 - pow(beta2, step));
    const A decay = (A)(1.0 - lr * wd);
    const A w = (A)wd, b1c = (A)(1.0 - beta1), b2 = (A)beta2, b2c = (A)(1.0 - beta2);
    const A e = (A)eps;
    const ember_i64 stride = (ember_i64)blockDim.x;
    for (ember_i64 base = start + threadIdx.x; base < end; base += ILP * stride) {
        A rp[ILP], rg[ILP], rm[ILP], rv[ILP];
#pragma unroll
        for (int k = 0; k < ILP; k++) {
            const ember_i64 i = base + k * stride;
            if (i < end) {
                rp[k] = (A)ember_ld(p, i);
                rg[k] = (A)ember_ld(g, i);
                rm[k] = (A)ember_ld(m, i);
                rv[k] = (A)ember_ld(v, i);
            }
        }
#pragma unroll
        for (int k = 0; k < ILP; k++) {
            const ember_i64 i = base + k * stride;
            if (i < end) {
                A gi = maximize ? -rg[k] : rg[k];
                A pi = rp[k];
                if (w != (A)0) {
                    if (decoupled) pi = pi * decay; else gi = gi + w * pi;
                }
                const A mi = rm[k] + b1c * (gi - rm[k]);
                const A vi = b2 * rv[k] + b2c * gi * gi;
                A second = vi;
                if (amsgrad) {
                    second = ember_max((A)ember_ld(vmax, i), vi);
                    ember_st(vmax, i, second);
                }
                const A denom = ember_sqrt(second) / bc2_sqrt + e;
                pi = pi - step_size * (mi / denom);
                ember_st(p, i, pi);
                ember_st(m, i, mi);
                ember_st(v, i, vi);
            }
        }
    }
}

template <typename P>
__device__ __forceinline__ void ember_sgd(const EmberList<3, SGD_M>& L, const void* lr_p,
                                          int lr_f64, double momentum, double dampening,
                                          double wd, int flags) {
    typedef typename EmberAcc<P>::type A;
    const int t = ember_find(L, (int)blockIdx.x);
    const ember_i64 n = L.n[t];
    const ember_i64 start = (ember_i64)((int)blockIdx.x - L.block_start[t]) * CHUNK;
    const ember_i64 end = start + CHUNK < n ? start + CHUNK : n;
    P* p = (P*)L.ptr[0][t];
    const P* g = (const P*)L.ptr[1][t];
    P* buf = (P*)L.ptr[2][t];
    const bool first = L.flag[t] != 0;
    const bool maximize = (flags & 2) != 0, nesterov = (flags & 8) != 0;
    const A lr = (A)ember_read_lr(lr_p, lr_f64);
    const A mom = (A)momentum, damp = (A)(1.0 - dampening), w = (A)wd;
    const ember_i64 stride = (ember_i64)blockDim.x;
    for (ember_i64 base = start + threadIdx.x; base < end; base += ILP * stride) {
        A rp[ILP], rg[ILP], rb[ILP];
#pragma unroll
        for (int k = 0; k < ILP; k++) {
            const ember_i64 i = base + k * stride;
            if (i < end) {
                rp[k] = (A)ember_ld(p, i);
                rg[k] = (A)ember_ld(g, i);
                rb[k] = (mom != (A)0 && !first) ? (A)ember_ld(buf, i) : (A)0;
            }
        }
#pragma unroll
        for (int k = 0; k < ILP; k++) {
            const ember_i64 i = base + k * stride;
            if (i < end) {
                A gi = maximize ? -rg[k] : rg[k];
                if (w != (A)0) gi = gi + w * rp[k];
                if (mom != (A)0) {
                    const A bi = first ? gi : mom * rb[k] + damp * gi;
                    ember_st(buf, i, bi);
                    gi = nesterov ? gi + mom * bi : bi;
                }
                ember_st(p, i, rp[k] - lr * gi);
            }
        }
    }
}

#define EMBER_INSTANTIATE(SUF, P)                                                            \
extern "C" __global__ void ember_adam_##SUF(EmberList<6, ADAM_M> L, const void* lr,         \
        int lr_f64, double beta1, double beta2, double eps, double wd, int flags) {          \
    ember_adam<P>(L, lr, lr_f64, beta1, beta2, eps, wd, flags);                              \
}                                                                                            \
extern "C" __global__ void ember_sgd_##SUF(EmberList<3, SGD_M> L, const void* lr,           \
        int lr_f64, double momentum, double dampening, double wd, int flags) {               \
    ember_sgd<P>(L, lr, lr_f64, momentum, dampening, wd, flags);                             \
}

EMBER_INSTANTIATE(f32, float)
EMBER_INSTANTIATE(f64, double)
EMBER_INSTANTIATE(f16, ember_f16)
EMBER_INSTANTIATE(bf16, ember_bf16)

extern "C" __global__ void ember_step_inc(EmberSteps L) {
    const int t = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (t < L.count) *(float*)L.ptr[t] += 1.0f;
}
"""


def defines() -> dict[str, int]:
    """The compile-time constants the source needs (``#define`` lines)."""
    return {"CHUNK": CHUNK, "ILP": ILP, "ADAM_M": ADAM_M, "SGD_M": SGD_M, "STEP_M": STEP_M}


def full_source() -> str:
    return "".join(f"#define {k} {v}\n" for k, v in defines().items()) + SOURCE


_STATE: dict = {}


def _function(name: str):
    """The compiled kernel ``name`` (the module compiles once, on first use; CuPy caches the
    binary on disk)."""
    fns = _STATE.setdefault("fns", {})
    fn = fns.get(name)
    if fn is None:
        import cupy
        mod = _STATE.get("mod")
        if mod is None:
            mod = _STATE["mod"] = cupy.RawModule(code=full_source(), options=("--std=c++14",))
        fn = fns[name] = mod.get_function(name)
    return fn


def dtype_tag(dt) -> str | None:
    """Kernel suffix for an array dtype: ``f32``, ``f64``, ``f16``, ``bf16``, or None."""
    if dt == np.float32:
        return "f32"
    if dt == np.float64:
        return "f64"
    if dt == np.float16:
        return "f16"
    if dt.itemsize == 2 and dt.name == "bfloat16":
        return "bf16"
    return None


def _list_bytes(depth: int, m: int) -> int:
    # ptr, n, block_start, flag, count: a multiple of 8 bytes, so the struct has no tail padding.
    return 8 * depth * m + 8 * m + 4 * (m + 1) + 4 * m + 4


def pack_lists(rows: Sequence[Sequence[int]], sizes: Sequence[int], flags: Sequence[int],
               depth: int, m: int) -> list[tuple[np.ndarray, int]]:
    """Pack tensors into ``EmberList<depth, m>`` kernel arguments.

    Args:
        rows: ``depth`` lists of device pointers (row r, tensor i); 0 for an unused slot.
        sizes: element count of each tensor (tensors with 0 elements must be left out).
        flags: per-tensor int flag.
        depth, m: the struct's template arguments.

    Returns:
        ``(argument, number of blocks)`` per launch: the argument is a size-1 numpy array of the
        struct's bytes (CuPy passes such an array by value).
    """
    out = []
    n_all = len(sizes)
    nbytes = _list_bytes(depth, m)
    vtype = np.dtype(("V", nbytes))
    for lo in range(0, n_all, m):
        hi = min(lo + m, n_all)
        k = hi - lo
        words = np.zeros(nbytes // 8, np.int64)
        ptr = words[:depth * m].reshape(depth, m)
        for r in range(depth):
            ptr[r, :k] = np.asarray(rows[r][lo:hi], dtype=np.uint64).view(np.int64)
        n = np.asarray(sizes[lo:hi], dtype=np.int64)
        words[depth * m:depth * m + k] = n
        ints = words[depth * m + m:].view(np.int32)
        blocks = (n + CHUNK - 1) // CHUNK
        starts = np.zeros(k + 1, np.int64)
        np.cumsum(blocks, out=starts[1:])
        if starts[-1] >= 2 ** 31:
            raise ValueError("multi-tensor launch too large: more than 2**31 blocks")
        ints[:k + 1] = starts
        ints[m + 1:m + 1 + k] = np.asarray(flags[lo:hi], dtype=np.int32)
        ints[2 * m + 1] = k
        out.append((words.view(vtype), int(starts[-1])))
    return out


def pack_steps(ptrs: Sequence[int]) -> list[np.ndarray]:
    """``EmberSteps`` arguments (``STEP_M`` counters each) for the step pointers ``ptrs``."""
    out = []
    nbytes = 8 * STEP_M + 8
    for lo in range(0, len(ptrs), STEP_M):
        chunk = ptrs[lo:lo + STEP_M]
        words = np.zeros(nbytes // 8, np.int64)
        words[:len(chunk)] = np.asarray(chunk, dtype=np.uint64).view(np.int64)
        words[STEP_M:].view(np.int32)[0] = len(chunk)
        out.append(words.view(np.dtype(("V", nbytes))))
    return out


def increment_steps(steps: Sequence) -> None:
    """Add 1 to each 0-d float32 CuPy array of ``steps`` (one launch per ``STEP_M``)."""
    fn = _function("ember_step_inc")
    ptrs = [s.data.ptr for s in steps]
    for arg in pack_steps(ptrs):
        fn(((min(len(ptrs), STEP_M) + 127) // 128,), (128,), (arg,))


def _lr_args(lr) -> tuple:
    if lr.dtype == np.float64:
        return lr, np.int32(1)
    if lr.dtype == np.float32:
        return lr, np.int32(0)
    raise TypeError(f"the device learning rate must be float32 or float64, not {lr.dtype}")


def _ptr(a) -> int:
    return 0 if a is None else a.data.ptr


def _buckets(params: Sequence, *others: Sequence) -> dict:
    """Tensor indices grouped by the parameter dtype (one kernel per dtype); every array of a
    tensor must have its parameter's dtype and size and be C-contiguous (callers ensure it)."""
    out: dict = {}
    for i, p in enumerate(params):
        tag = dtype_tag(p.dtype)
        if tag is None:
            raise TypeError(f"multi-tensor optimizer kernels do not support {p.dtype}")
        for arrs in others:
            a = arrs[i]
            if a is not None and (a.dtype != p.dtype or a.size != p.size):
                raise ValueError("every array of a tensor must match its parameter's dtype "
                                 "and size")
        if p.size:
            out.setdefault(tag, []).append(i)
    return out


def adam_step(params: Sequence, grads: Sequence, exp_avgs: Sequence, exp_avg_sqs: Sequence,
              max_exp_avg_sqs: Sequence | None, steps: Sequence, lr, *, beta1: float,
              beta2: float, eps: float, weight_decay: float, amsgrad: bool, maximize: bool,
              decoupled: bool) -> None:
    """One Adam (or AdamW, ``decoupled``) step over many tensors, in place.

    Args:
        params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs: C-contiguous CuPy arrays on the
            current device, per tensor all of one dtype and size (``max_exp_avg_sqs`` only with
            ``amsgrad``, else None).
        steps: 0-d float32 CuPy arrays, one per tensor; each is incremented, then used for the
            bias corrections.
        lr: 0-d float32 or float64 CuPy array holding the learning rate.
    """
    increment_steps(steps)
    maxes = max_exp_avg_sqs if amsgrad else [None] * len(params)
    flags = (AMSGRAD if amsgrad else 0) | (MAXIMIZE if maximize else 0) | \
        (DECOUPLED if decoupled else 0)
    lr_arr, lr_f64 = _lr_args(lr)
    for tag, idx in _buckets(params, grads, exp_avgs, exp_avg_sqs, maxes).items():
        rows = [[params[i].data.ptr for i in idx], [grads[i].data.ptr for i in idx],
                [exp_avgs[i].data.ptr for i in idx], [exp_avg_sqs[i].data.ptr for i in idx],
                [_ptr(maxes[i]) for i in idx], [steps[i].data.ptr for i in idx]]
        fn = _function("ember_adam_" + tag)
        for arg, nblocks in pack_lists(rows, [params[i].size for i in idx], [0] * len(idx),
                                       _ADAM_D, ADAM_M):
            fn((nblocks,), (THREADS,), (arg, lr_arr, lr_f64, float(beta1), float(beta2),
                                        float(eps), float(weight_decay), np.int32(flags)))


def sgd_step(params: Sequence, grads: Sequence, bufs: Sequence | None, first: Sequence[bool],
             lr, *, momentum: float, dampening: float, nesterov: bool, weight_decay: float,
             maximize: bool) -> None:
    """One SGD step over many tensors, in place.

    Args:
        params, grads: C-contiguous CuPy arrays on the current device (per tensor one dtype).
        bufs: momentum buffers (written, not read, where ``first`` is true), or None without
            momentum.
        first: per tensor, whether this is its first momentum step (``buf = g``).
        lr: 0-d float32 or float64 CuPy array holding the learning rate.
    """
    if momentum == 0:
        bufs = [None] * len(params)
    flags = (MAXIMIZE if maximize else 0) | (NESTEROV if nesterov else 0)
    lr_arr, lr_f64 = _lr_args(lr)
    for tag, idx in _buckets(params, grads, bufs).items():
        rows = [[params[i].data.ptr for i in idx], [grads[i].data.ptr for i in idx],
                [_ptr(bufs[i]) for i in idx]]
        fn = _function("ember_sgd_" + tag)
        for arg, nblocks in pack_lists(rows, [params[i].size for i in idx],
                                       [1 if first[i] else 0 for i in idx], _SGD_D, SGD_M):
            fn((nblocks,), (THREADS,), (arg, lr_arr, lr_f64, float(momentum),
                                        float(dampening), float(weight_decay), np.int32(flags)))
