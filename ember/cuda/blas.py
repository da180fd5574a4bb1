"""Matrix products on CUDA, through libcublas called with ctypes on CuPy's handle.

CuPy refuses cuBLAS calls while a stream is capturing (every one of its cuBLAS bindings re-sets
the handle's stream first, and that step is checked), although cuBLAS itself records GEMMs into
graphs fine; CuPy 14's batched float16/bfloat16 product upcasts or fails; and a Linear's
``x @ W.T`` should read the weight transposed in place. So every floating-point product is one
``cublasGemmStridedBatchedEx`` call of ember's own (``matmul``), in and out of captures.
"""
from __future__ import annotations

import numpy as np

from . import _cupy

_LIB = []


def _libcublas():
    """The libcublas that CuPy loaded (found through the process's memory map)."""
    if not _LIB:
        import ctypes
        _cupy().cuda.device.get_cublas_handle()  # makes CuPy load the library
        path = None
        with open("/proc/self/maps") as f:
            for line in f:
                if "libcublas.so" in line and "libcublasLt" not in line:
                    path = line.split()[-1]
                    break
        lib = ctypes.CDLL(path or "libcublas.so")
        fn = lib.cublasGemmStridedBatchedEx
        fn.restype = ctypes.c_int
        ll = ctypes.c_longlong
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                       ctypes.c_int, ll, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ll,
                       ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ll,
                       ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.cublasSetStream_v2.restype = ctypes.c_int
        lib.cublasSetStream_v2.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        _LIB.append(lib)
    return _LIB[0]


def bind_capture_stream(stream) -> None:
    """Point CuPy's cuBLAS handle at ``stream`` (call before ``begin_capture``)."""
    handle = _cupy().cuda.device.get_cublas_handle()
    status = _libcublas().cublasSetStream_v2(handle, stream.ptr)
    if status != 0:
        raise RuntimeError(f"cublasSetStream failed with status {status}")


# cudaDataType_t and cublasComputeType_t values (cuBLAS's library_types.h / cublas_api.h).
_CUDA_TYPE = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 14}
_COMPUTE_32F, _COMPUTE_32F_FAST_TF32, _COMPUTE_64F = 68, 77, 70
_CUBLAS_GEMM_DEFAULT = -1
_OP_N, _OP_T = 0, 1  # cublasOperation_t
_F32_ONE = np.ones(1, np.float32)
_F32_ZERO = np.zeros(1, np.float32)
_F64_ONE = np.ones(1, np.float64)
_F64_ZERO = np.zeros(1, np.float64)
# torch.backends.cuda.matmul.allow_tf32 (ember.backends writes it).
ALLOW_TF32 = [False]


def matmul(a, b):
    """``a @ b`` for CuPy arrays, with torch.matmul's 1-D and broadcast-batch cases.

    Floating-point products go straight to cublasGemmStridedBatchedEx through ctypes: that works
    inside a CUDA-graph capture (CuPy's own cuBLAS calls refuse to), reads transposed operands
    in place (a Linear's ``x @ W.T`` copies nothing), accumulates float16/bfloat16 in float32
    (CuPy 14's batched half product upcasts or fails), and obeys ``allow_tf32``.
    """
    name = a.dtype.name
    if name not in _CUDA_TYPE or b.dtype != a.dtype:
        return a @ b
    if a.ndim == 1 or b.ndim == 1:
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        out = matmul(a2, b2)
        if a.ndim == 1:
            out = out.reshape(out.shape[:-2] + out.shape[-1:])
        if b.ndim == 1:
            out = out.reshape(out.shape[:-1])
        return out
    cp = _cupy()
    m, k = a.shape[-2:]
    kb, n = b.shape[-2:]
    if kb != k:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not line up")
    if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:
        # (..., m, k) @ (k, n): one GEMM with the batch folded into the rows.
        out = _gemm(cp, a.reshape(1, -1, k), b.reshape(1, k, n))
        return out.reshape(a.shape[:-1] + (n,))
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    count = int(np.prod(batch)) if batch else 1
    a3 = cp.broadcast_to(a, batch + (m, k)).reshape(count, m, k)
    b3 = cp.broadcast_to(b, batch + (k, n)).reshape(count, k, n)
    return _gemm(cp, a3, b3).reshape(batch + (m, n))


_ONES: dict = {}


def colsum(a):
    """Column sums of the 2-D CUDA array ``a`` (a bias gradient) as one GEMM with a ones row:
    cuBLAS accumulates in float32 and streams the matrix once, several times faster than CuPy's
    axis-0 reduction, and it works inside a capture."""
    m, n = a.shape
    key = (m, a.dtype.str, a.data.device_id)
    ones = _ONES.get(key)
    if ones is None:
        ones = _ONES[key] = _cupy().ones((1, 1, m), dtype=a.dtype)
    return _gemm(_cupy(), ones, a.reshape(1, m, n)).reshape(n)


def _layout(cp, x):
    """(array, cublasOperation, leading dim, batch stride) that let cuBLAS read the
    (count, rows, cols) array ``x`` in place: row-major and column-major matrices with any
    leading dimension and one batch stride; anything else is copied first."""
    it = x.itemsize
    count, r, c = x.shape
    s0, s1, s2 = (st // it for st in x.strides)
    if count == 1:
        s0 = 0
    if s0 >= 0 and all(st % it == 0 for st in x.strides):
        if s2 == 1 and (r == 1 or s1 >= c):
            return x, _OP_N, (s1 if r > 1 else c) or 1, s0
        if s1 == 1 and (c == 1 or s2 >= r):
            return x, _OP_T, (s2 if c > 1 else r) or 1, s0
    x = cp.ascontiguousarray(x)
    return x, _OP_N, c or 1, (r * c if count > 1 else 0)


def _gemm(cp, a, b):
    """(count, m, k) @ (count, k, n) -> new (count, m, n) C-contiguous array."""
    count, m, k = a.shape
    n = b.shape[2]
    out = cp.empty((count, m, n), dtype=a.dtype)
    if count == 0 or m == 0 or n == 0:
        return out
    if k == 0:
        out.fill(0)
        return out
    a, op_a, lda, sa = _layout(cp, a)
    b, op_b, ldb, sb = _layout(cp, b)
    dt = _CUDA_TYPE[a.dtype.name]
    if dt == 1:
        compute, one, zero = _COMPUTE_64F, _F64_ONE, _F64_ZERO
    else:
        compute = _COMPUTE_32F_FAST_TF32 if dt == 0 and ALLOW_TF32[0] else _COMPUTE_32F
        one, zero = _F32_ONE, _F32_ZERO
    lib = _LIB[0] if _LIB else _libcublas()
    handle = cp.cuda.device.get_cublas_handle()
    # CuPy sets the handle's stream per call of its own; ours must follow the current stream
    # (inside a capture that is the capturing stream).
    lib.cublasSetStream_v2(handle, cp.cuda.get_current_stream().ptr)
    # Row-major C = A @ B is column-major C^T = B^T @ A^T: pass B first.
    status = lib.cublasGemmStridedBatchedEx(
        handle, op_b, op_a, n, m, k, one.ctypes.data,
        b.data.ptr, dt, ldb, sb, a.data.ptr, dt, lda, sa,
        zero.ctypes.data, out.data.ptr, dt, n, m * n, count,
        compute, _CUBLAS_GEMM_DEFAULT)
    if status != 0:
        raise RuntimeError(f"cublasGemmStridedBatchedEx failed with status {status} "
                           f"(shapes {a.shape} and {b.shape}, {a.dtype})")
    return out
