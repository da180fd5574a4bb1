"""Matrix products on CUDA that work inside a CUDA-graph capture.

CuPy refuses cuBLAS calls while a stream is capturing (every one of its cuBLAS bindings re-sets
the handle's stream first, and that step is checked), although cuBLAS itself records GEMMs into
graphs fine. So during a capture ember calls libcublas's GEMM through ctypes, on CuPy's handle,
whose stream was set to the capturing stream before the capture began
(``bind_capture_stream``). Outside captures CuPy's own ``matmul`` is used.
"""
from __future__ import annotations

import numpy as np

from ..backend.device import CAPTURING
from . import _cupy

_ONE = {np.dtype(np.float32): np.ones(1, np.float32), np.dtype(np.float64): np.ones(1, np.float64)}
_ZERO = {np.dtype(np.float32): np.zeros(1, np.float32),
         np.dtype(np.float64): np.zeros(1, np.float64)}


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
        for name in ("cublasSgemm_v2", "cublasDgemm_v2"):
            fn = getattr(lib, name)
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                           ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                           ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                           ctypes.c_void_p, ctypes.c_int]
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


def matmul(a, b):
    """``a @ b`` for CuPy arrays; a direct cuBLAS GEMM while a graph is being captured, and for
    batched float16 products (CuPy 14's own upcasts or fails there)."""
    if a.dtype == np.float16 and b.dtype == np.float16 and (a.ndim > 2 or b.ndim > 2) \
            and a.ndim >= 2 and b.ndim >= 2:
        return _half_batched(_cupy(), a, b)
    if CAPTURING[0] == 0 or a.dtype not in _ONE or a.dtype != b.dtype:
        return a @ b
    cp = _cupy()
    if a.ndim == 2 and b.ndim == 2:
        return _gemm(cp, a, b)
    if a.ndim == 1 or b.ndim == 1:
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        out = matmul(a2, b2)
        if a.ndim == 1:
            out = out.reshape(out.shape[:-2] + out.shape[-1:])
        if b.ndim == 1:
            out = out.reshape(out.shape[:-1])
        return out
    # Batched: broadcast the batch dims, then one GEMM per matrix (recorded once, replayed fast).
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a3 = cp.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
    b3 = cp.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    out = cp.empty((a3.shape[0], a.shape[-2], b.shape[-1]), dtype=a.dtype)
    for i in range(a3.shape[0]):
        _gemm(cp, a3[i], b3[i], out[i])
    return out.reshape(batch + (a.shape[-2], b.shape[-1]))


def _operand(cp, x):
    """(array, transposed?) with the array C- or F-contiguous."""
    if x.flags.c_contiguous:
        return x, False
    if x.flags.f_contiguous:
        return x, True
    return cp.ascontiguousarray(x), False


_OP_N, _OP_T = 0, 1  # cublasOperation_t


def _gemm(cp, a, b, out=None):
    m, k = a.shape
    n = b.shape[1]
    if out is None:
        out = cp.empty((m, n), dtype=a.dtype)
    if m == 0 or n == 0:
        return out
    if k == 0:
        out.fill(0)
        return out
    a, a_f = _operand(cp, a)
    b, b_f = _operand(cp, b)
    # Row-major C = A @ B is column-major C^T = B^T @ A^T: pass B first.
    op_b = _OP_T if b_f else _OP_N
    op_a = _OP_T if a_f else _OP_N
    ldb = k if b_f else n
    lda = m if a_f else k
    handle = cp.cuda.device.get_cublas_handle()
    lib = _libcublas()
    fn = lib.cublasSgemm_v2 if a.dtype == np.float32 else lib.cublasDgemm_v2
    one, zero = _ONE[a.dtype], _ZERO[a.dtype]
    status = fn(handle, op_b, op_a, n, m, k, one.ctypes.data, b.data.ptr, ldb, a.data.ptr, lda,
                zero.ctypes.data, out.data.ptr, n)
    if status != 0:
        raise RuntimeError(f"cuBLAS GEMM failed with status {status}")
    return out


_CUDA_R_16F = 2
_CUBLAS_COMPUTE_32F = 68
_CUBLAS_GEMM_DEFAULT = -1
_F32_ONE = np.ones(1, np.float32)
_F32_ZERO = np.zeros(1, np.float32)


def _half_batched(cp, a, b):
    """float16 batched ``a @ b`` with float32 accumulation: one cublasGemmStridedBatchedEx."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if b.shape[-2] != k:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not line up")
    count = int(np.prod(batch)) if batch else 1
    a3 = cp.ascontiguousarray(cp.broadcast_to(a, batch + (m, k))).reshape(count, m, k)
    b3 = cp.ascontiguousarray(cp.broadcast_to(b, batch + (k, n))).reshape(count, k, n)
    out = cp.empty((count, m, n), dtype=np.float16)
    if count and m and n:
        if k == 0:
            out.fill(0)
        else:
            lib = _libcublas()
            handle = cp.cuda.device.get_cublas_handle()
            # CuPy sets the handle's stream per call; ours must follow the current stream too.
            lib.cublasSetStream_v2(handle, cp.cuda.get_current_stream().ptr)
            # Row-major C = A @ B is column-major C^T = B^T @ A^T: pass B first.
            status = lib.cublasGemmStridedBatchedEx(
                handle, _OP_N, _OP_N, n, m, k, _F32_ONE.ctypes.data,
                b3.data.ptr, _CUDA_R_16F, n, k * n, a3.data.ptr, _CUDA_R_16F, k, m * k,
                _F32_ZERO.ctypes.data, out.data.ptr, _CUDA_R_16F, n, m * n, count,
                _CUBLAS_COMPUTE_32F, _CUBLAS_GEMM_DEFAULT)
            if status != 0:
                raise RuntimeError(f"cublasGemmStridedBatchedEx failed with status {status}")
    return out.reshape(batch + (m, n))
