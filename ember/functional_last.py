"""The last common torch top-level / Tensor gaps: thread and determinism switches, legacy
helpers (default tensor type, flush-denormal), the regularised incomplete gamma functions,
binomial sampling, buffers and files as tensors, deprecated norms, randomized low-rank SVD/PCA,
the ATen recurrent cell functions, and small Tensor methods (dim_order, resize_as_, ...).
"""
from __future__ import annotations

import math
import os
import warnings
from typing import Optional, Sequence

import numpy as np

from .backend import dtypes as _dt
from .ops.registry import Primitive, register
from .tensor import Tensor

__all__ = ["set_num_threads", "get_num_threads", "set_num_interop_threads",
           "get_num_interop_threads", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
           "get_deterministic_debug_mode", "set_warn_always", "is_warn_always_enabled",
           "set_flush_denormal", "set_default_tensor_type", "is_storage", "is_inference",
           "get_device", "is_same_size", "is_signed", "is_neg", "binomial", "igamma", "igammac",
           "frombuffer", "from_file", "nuclear_norm", "frobenius_norm", "matrix_rank",
           "svd_lowrank", "pca_lowrank", "lstm_cell", "gru_cell", "rnn_tanh_cell",
           "rnn_relu_cell", "rnn_tanh", "rnn_relu", "as_strided_scatter"]


# ----------------------------------------------------------------------------- threads
_INTEROP = [max(1, (os.cpu_count() or 1))]
_INTEROP_SET = [False]


def set_num_threads(n: int) -> None:
    """Threads for ember's element-wise CPU pool (and BLAS, when threadpoolctl is present)."""
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    from .backend import parallel as _par
    if n != _par._THREADS:
        old = _par._pool
        _par._THREADS = n
        # The pool is sized from _THREADS when first made: drop it so the next use rebuilds it.
        _par._pool = None
        if old is not None:
            old.shutdown(wait=False)
    try:
        import threadpoolctl
    except ImportError:
        return
    threadpoolctl.threadpool_limits(n, user_api="blas")


def get_num_threads() -> int:
    """The element-wise pool's thread count."""
    from .backend import parallel as _par
    return int(_par._THREADS)


def set_num_interop_threads(n: int) -> None:
    """Recorded only (ember has no inter-op pool); like torch it may be set just once."""
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise RuntimeError("Expected positive number of threads")
    if _INTEROP_SET[0]:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work "
                           "has started or set_num_interop_threads called")
    _INTEROP[0] = n
    _INTEROP_SET[0] = True


def get_num_interop_threads() -> int:
    return _INTEROP[0]


# ----------------------------------------------------------------------------- global flags
_DET = {"mode": False, "warn_only": False}
_WARN_ALWAYS = [False]


def _set_cudnn_deterministic(mode: bool) -> None:
    try:
        from . import backends
        backends.cudnn.deterministic = bool(mode)
    except (ImportError, AttributeError):
        pass


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Ask for deterministic kernels (cuDNN's deterministic flag follows it)."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' must be bool, not "
                        f"{type(mode).__name__}")
    _DET["mode"] = mode
    _DET["warn_only"] = bool(warn_only) if mode else False
    _set_cudnn_deterministic(mode)


def are_deterministic_algorithms_enabled() -> bool:
    return _DET["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _DET["warn_only"]


_DEBUG_NAMES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode) -> None:
    """0/"default": off, 1/"warn": warn-only deterministic, 2/"error": strict."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_NAMES:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = _DEBUG_NAMES[debug_mode]
    elif not isinstance(debug_mode, int) or isinstance(debug_mode, bool):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode == 0:
        use_deterministic_algorithms(False)
    elif debug_mode == 1:
        use_deterministic_algorithms(True, warn_only=True)
    elif debug_mode == 2:
        use_deterministic_algorithms(True)
    else:
        raise RuntimeError("invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")


def get_deterministic_debug_mode() -> int:
    if not _DET["mode"]:
        return 0
    return 1 if _DET["warn_only"] else 2


def set_warn_always(b: bool) -> None:
    _WARN_ALWAYS[0] = bool(b)


def is_warn_always_enabled() -> bool:
    return _WARN_ALWAYS[0]


def set_flush_denormal(mode: bool) -> bool:
    """False: NumPy gives no control over the FTZ/DAZ CPU flags (torch's answer without SSE3)."""
    return False


_TENSOR_TYPES = {"FloatTensor": "float32", "DoubleTensor": "float64", "HalfTensor": "float16",
                 "BFloat16Tensor": "bfloat16"}
_INT_TENSOR_TYPES = ("LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor",
                     "BoolTensor")


def set_default_tensor_type(t) -> None:
    """Legacy: sets the default floating dtype from a tensor type or its name."""
    warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                  "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
                  UserWarning, stacklevel=2)
    from .backend.dtypes import set_default_dtype
    if isinstance(t, str):
        name = t.rsplit(".", 1)[-1]
        if name in _INT_TENSOR_TYPES:
            raise TypeError("only floating-point types are supported as the default type")
        if name not in _TENSOR_TYPES:
            # torch resolves the name as a module attribute, so an unknown one is this error.
            raise AttributeError(f"module '{t.rsplit('.', 1)[0]}' has no attribute '{name}'")
        set_default_dtype(getattr(_dt, _TENSOR_TYPES[name]))
        return
    dt = getattr(t, "dtype", None)
    if isinstance(dt, _dt.DType):
        if not dt.is_floating_point:
            raise TypeError("only floating-point types are supported as the default type")
        set_default_dtype(dt)
        return
    if isinstance(t, type) and issubclass(t, Tensor):
        # ember.FloatTensor/DoubleTensor are aliases of Tensor: the float32 reading is taken.
        set_default_dtype(_dt.float32)
        return
    raise TypeError(f"invalid type: '{t}'")


def is_storage(obj) -> bool:
    """Whether obj is a storage object (ember's untyped/typed storages)."""
    return type(obj).__name__.endswith("Storage")


def is_inference(input: Tensor) -> bool:
    """False: ember has no separate inference tensors (inference_mode acts as no_grad)."""
    return False


def get_device(input: Tensor) -> int:
    """The CUDA ordinal, -1 for CPU tensors."""
    return input.get_device()


def is_same_size(input: Tensor, other: Tensor) -> bool:
    return tuple(input.shape) == tuple(other.shape)


def is_signed(input: Tensor) -> bool:
    return input.dtype.is_floating_point or input.dtype.is_complex or input.dtype in (
        _dt.int8, _dt.int16, _dt.int32, _dt.int64)


def is_neg(input: Tensor) -> bool:
    """False: ember materialises negations (no lazy negative bit)."""
    return False


# ----------------------------------------------------------------------------- incomplete gamma
# Lanczos approximation (g = 7, 9 terms): log Gamma(a) for a > 0 to ~1e-15, on NumPy or CuPy.
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)


def _lgamma_pos(xp, a):
    small = a < 0.5
    # Reflection keeps the series in its accurate range for 0 < a < 0.5.
    z = xp.where(small, 1.0 - a, a) - 1.0
    s = xp.full_like(z, _LANCZOS[0])
    for i in range(1, 9):
        s = s + _LANCZOS[i] / (z + i)
    t = z + 7.5
    lg = 0.5 * math.log(2 * math.pi) + (z + 0.5) * xp.log(t) - t + xp.log(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        refl = math.log(math.pi) - xp.log(xp.abs(xp.sin(math.pi * a))) - lg
    return xp.where(small, refl, lg)


# Stirling series coefficients B_2k / (2k (2k - 1)) of log Gamma(a) - Stirling's formula.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156,
             -3617 / 122400)


def _log_prefactor_big(xp, a, x):
    """log(x^a e^-x / Gamma(a)) for a >= 10 without cancelling terms of size a log a: with
    x = a (1 + d) it is a (log1p(d) - d) + log(a / 2 pi) / 2 - (Stirling correction)."""
    a = xp.where(a >= 10.0, a, 10.0)
    d = (x - a) / a
    inv = 1.0 / a
    inv2 = inv * inv
    corr = xp.zeros_like(a)
    for c in reversed(_STIRLING):
        corr = corr * inv2 + c
    corr = corr * inv
    with np.errstate(divide="ignore", invalid="ignore"):
        main = a * (xp.log1p(d) - d)
    return main + 0.5 * xp.log(a / (2 * math.pi)) - corr


def _igamma_pair(xp, a, x, upper: bool):
    """P(a, x) (or Q with ``upper``) in float64: series below x = a + 1, continued fraction
    above (both to double precision), with torch's edge values."""
    a = a.astype(np.float64)
    x = x.astype(np.float64)
    a, x = xp.broadcast_arrays(a, x)
    # Both expansions need O(sqrt(a)) terms near x = a. Eagerly the loops stop on convergence,
    # so the cap only bounds huge a; inside CUDA-graph capture (no host checks) every pass is
    # recorded, so the fixed count is kept smaller (accurate up to a of about 1e4 there).
    steps = 20000 if _may_check() else 600
    bad = (a < 0) | (x < 0) | xp.isnan(a) | xp.isnan(x)
    aa = xp.where(bad | (a == 0) | xp.isinf(a), 1.0, a)
    xx = xp.where(bad | xp.isinf(x), 1.0, x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        logpre = aa * xp.log(xp.where(xx > 0, xx, 1.0)) - xx - _lgamma_pos(xp, aa)
        logpre = xp.where(aa >= 10.0, _log_prefactor_big(xp, aa, xx), logpre)
        pre = xp.where(xx > 0, xp.exp(logpre), 0.0)
        use_series = xx < aa + 1.0
        # Series: P = pre / a * sum_k x^k / ((a+1)...(a+k)).
        xs = xp.where(use_series, xx, 0.0)
        term = 1.0 / aa
        total = term.copy()
        ap = aa.copy()
        for _ in range(steps):
            ap = ap + 1.0
            term = term * xs / ap
            total = total + term
            if _may_check() and not bool(xp.any(xp.abs(term) > xp.abs(total) * 1e-17)):
                break
        p_series = pre * total
        # Modified Lentz continued fraction for Q.
        tiny = 1e-300
        xc = xp.where(use_series, aa + 2.0, xx)
        b = xc + 1.0 - aa
        c = xp.full_like(b, 1.0 / tiny)
        d = 1.0 / b
        h = d.copy()
        for i in range(1, steps):
            an = -i * (i - aa)
            b = b + 2.0
            d = an * d + b
            d = xp.where(xp.abs(d) < tiny, tiny, d)
            c = b + an / c
            c = xp.where(xp.abs(c) < tiny, tiny, c)
            d = 1.0 / d
            delta = d * c
            h = h * delta
            if _may_check() and not bool(xp.any(xp.abs(delta - 1.0) > 1e-16)):
                break
        q_cf = pre * h
    p = xp.where(use_series, p_series, 1.0 - q_cf)
    q = xp.where(use_series, 1.0 - p_series, q_cf)
    out = q if upper else p
    # Edges as torch: x = 0 -> P 0; a = 0 (x > 0) -> P 1; x = inf -> P 1; a = inf -> P 0.
    lo, hi = (1.0, 0.0) if upper else (0.0, 1.0)
    out = xp.where(x == 0, lo, out)
    out = xp.where((a == 0) & (x > 0), hi, out)
    out = xp.where(xp.isinf(x) & (x > 0), hi, out)
    out = xp.where(xp.isinf(a) & (a > 0) & ~xp.isinf(x), lo, out)
    return xp.where(bad, xp.nan, out)


def _may_check() -> bool:
    from .backend.device import host_checks_allowed
    return host_checks_allowed()


class _IGammaBase(Primitive):
    upper = False

    def forward(self, a, x):
        self.save_for_backward(a, x)
        dt = self.xp.result_type(a, x)
        out = _igamma_pair(self.xp, a, x, self.upper)
        return out.astype(dt if dt.kind == "f" else np.float32)

    def backward(self, grad):
        from . import functional as F
        from .functional_extra import lgamma
        if self.needs_input_grad[0]:
            name = "igammac" if self.upper else "igamma"
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        a, x = self.saved_tensors
        a = a.detach()
        x = x.detach()
        # dP/dx = x^(a-1) e^-x / Gamma(a); torch gives no gradient for a.
        dx = F.exp((a - 1) * F.log(x) - x - lgamma(a))
        if self.upper:
            dx = -dx
        gx = _sum_to(grad * dx, x.shape)
        return None, gx


def _sum_to(g: Tensor, shape) -> Tensor:
    while g.dim() > len(shape):
        g = g.sum(0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdim=True)
    return g


@register("igamma")
class IGamma(_IGammaBase):
    upper = False


@register("igammac")
class IGammaC(_IGammaBase):
    upper = True


def _as_tensor_pair(a, b):
    from .creation import tensor
    if not isinstance(a, Tensor):
        a = tensor(a, device=b.device)
    if not isinstance(b, Tensor):
        b = tensor(b, device=a.device)
    return a, b


def _check_float(name: str, *ts: Tensor) -> None:
    for t in ts:
        if not t.dtype.is_floating_point:
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for "
                                      f"'{_dt_label(t.dtype)}'")


def _dt_label(dt) -> str:
    names = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
             "uint8": "Byte", "bool": "Bool"}
    return names.get(str(dt).rsplit(".", 1)[-1], str(dt))


def igamma(input: Tensor, other: Tensor, *, out: Optional[Tensor] = None) -> Tensor:
    """Regularised lower incomplete gamma P(input, other)."""
    input, other = _as_tensor_pair(input, other)
    _check_float("igamma", input, other)
    r = IGamma.apply(input, other)
    return _into(r, out)


def igammac(input: Tensor, other: Tensor, *, out: Optional[Tensor] = None) -> Tensor:
    """Regularised upper incomplete gamma Q(input, other) = 1 - P."""
    input, other = _as_tensor_pair(input, other)
    _check_float("igammac", input, other)
    return _into(IGammaC.apply(input, other), out)


def _into(r: Tensor, out: Optional[Tensor]) -> Tensor:
    if out is None:
        return r
    out.copy_(r)
    return out


# ----------------------------------------------------------------------------- sampling
def binomial(count: Tensor, prob: Tensor, generator=None) -> Tensor:
    """Binomial(count, prob) draws, element-wise, in prob's dtype."""
    from .creation import _finish
    from .random import rng_of
    if not prob.dtype.is_floating_point:
        raise RuntimeError(f"\"binomial_cpu\" not implemented for '{prob.dtype}'")
    n = count.detach().cpu()._data
    p = prob.detach().cpu()._data
    n, p = np.broadcast_arrays(n, p)
    arr = rng_of(generator).binomial(n.astype(np.int64), np.clip(p.astype(np.float64), 0, 1))
    return _finish(arr.astype(prob._dtype.np), prob._dtype, prob._device)


# ----------------------------------------------------------------------------- buffers/files
def frombuffer(buffer, *, dtype, count: int = -1, offset: int = 0,
               requires_grad: bool = False) -> Tensor:
    """A 1-D tensor over a buffer's bytes (shares memory, as torch, on CPU)."""
    from .backend.device import as_device
    from .tensor import make_tensor
    mv = memoryview(buffer)
    nbytes = mv.nbytes
    item = np.dtype(dtype.np).itemsize if dtype != _dt.bfloat16 else 2
    if offset < 0 or offset >= nbytes and nbytes > 0:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({nbytes} bytes) minus 1")
    if count == 0 or nbytes == 0:
        raise ValueError(f"both buffer length ({nbytes}) and count ({count}) must not be 0")
    if count < 0:
        if (nbytes - offset) % item:
            raise ValueError(f"buffer length ({nbytes - offset} bytes) after offset ({offset} "
                             f"bytes) must be a multiple of element size ({item})")
        count = (nbytes - offset) // item
    elif offset + count * item > nbytes:
        raise ValueError(f"requested buffer length ({count} * {item} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({nbytes} bytes)")
    if dtype == _dt.bfloat16:
        raw = np.frombuffer(buffer, dtype=np.uint16, count=count, offset=offset)
        arr = (raw.astype(np.uint32) << 16).view(np.float32)
    else:
        arr = np.frombuffer(buffer, dtype=dtype.np, count=count, offset=offset)
    t = make_tensor(arr, dtype, as_device("cpu"))
    if requires_grad:
        t.requires_grad_(True)
    return t


def from_file(filename: str, shared: Optional[bool] = None, size: int = 0, *, dtype=None,
              layout=None, device=None, pin_memory: bool = False,
              requires_grad: bool = False) -> Tensor:
    """``size`` elements read from a file (shared=True maps it, so writes reach the file)."""
    from .creation import _finish
    dtype = dtype or _dt.get_default_dtype()
    npdt = np.dtype(dtype.np) if dtype != _dt.bfloat16 else np.dtype(np.uint16)
    need = size * npdt.itemsize
    if shared:
        if os.path.getsize(filename) < need:
            with open(filename, "ab") as fh:
                fh.truncate(need)
        arr = np.memmap(filename, dtype=npdt, mode="r+", shape=(size,)) if size else \
            np.empty(0, npdt)
    else:
        have = os.path.getsize(filename)
        if have < need:
            raise RuntimeError(f"unable to read {need} bytes from file {filename} of size "
                               f"{have}")
        arr = np.fromfile(filename, dtype=npdt, count=size)
    if dtype == _dt.bfloat16:
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    if shared and device in (None, "cpu"):
        from .backend.device import as_device
        from .tensor import make_tensor
        t = make_tensor(arr, dtype, as_device("cpu"))
    else:
        t = _finish(np.array(arr), dtype, device or "cpu")
    if requires_grad:
        t.requires_grad_(True)
    return t


# ----------------------------------------------------------------------------- norms / rank
def _deprecated(name: str, instead: str) -> None:
    warnings.warn(f"at::{name} is deprecated and it is just left for JIT compatibility. It "
                  f"will be removed in a future PyTorch release. Please use {instead} instead",
                  UserWarning, stacklevel=3)


def nuclear_norm(input: Tensor, dim=None, keepdim: bool = False, *, out=None) -> Tensor:
    """Deprecated torch.nuclear_norm: the sum of singular values (over ``dim``, default the
    last two of a 2-D input)."""
    from . import linalg
    _deprecated("nuclear_norm", "`linalg.matrix_norm(A, 'nuc', dim, keepdim)`")
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    if dim is None:
        if input.dim() != 2:
            raise RuntimeError(f"Expected a tensor with 2 dimensions, but got a tensor with "
                               f"{input.dim()} dimension{'s' if input.dim() != 1 else ''} "
                               "instead.")
        dim = (0, 1)
    return _into(linalg.matrix_norm(input, "nuc", dim=tuple(dim), keepdim=keepdim), out)


def frobenius_norm(input: Tensor, dim, keepdim: bool = False, *, out=None) -> Tensor:
    """Deprecated torch.frobenius_norm: sqrt of the sum of squares over ``dim``."""
    from . import linalg
    _deprecated("frobenius_norm", "`linalg.vector_norm(A, 2., dim, keepdim)`")
    if isinstance(dim, int):
        dim = (dim,)
    return _into(linalg.vector_norm(input, 2.0, dim=tuple(dim), keepdim=keepdim), out)


def matrix_rank(input: Tensor, tol=None, symmetric: bool = False, *, out=None) -> Tensor:
    """Deprecated torch.matrix_rank (removed from torch itself): ember.linalg.matrix_rank."""
    from . import linalg
    warnings.warn("torch.matrix_rank is deprecated in favor of torch.linalg.matrix_rank",
                  UserWarning, stacklevel=2)
    if tol is None:
        r = linalg.matrix_rank(input, hermitian=symmetric)
    else:
        r = linalg.matrix_rank(input, atol=tol, rtol=0.0, hermitian=symmetric)
    return _into(r, out)


def _mh(A: Tensor) -> Tensor:
    return A.transpose(-2, -1).conj() if A.dtype.is_complex else A.transpose(-2, -1)


def _approx_basis(A: Tensor, q: int, niter: int, M: Optional[Tensor]) -> Tensor:
    from . import linalg
    from .creation import randn
    R = randn(*A.shape[:-2], A.shape[-1], q, dtype=A.dtype, device=A.device)
    X = A.matmul(R)
    if M is not None:
        X = X - M.matmul(R)
    Q = linalg.qr(X).Q
    for _ in range(niter):
        X = _mh(A).matmul(Q)
        if M is not None:
            X = X - _mh(M).matmul(Q)
        Q = linalg.qr(X).Q
        X = A.matmul(Q)
        if M is not None:
            X = X - M.matmul(Q)
        Q = linalg.qr(X).Q
    return Q


def svd_lowrank(A: Tensor, q: Optional[int] = 6, niter: Optional[int] = 2,
                M: Optional[Tensor] = None):
    """Randomized rank-``q`` SVD (Halko et al. 2009): (U, S, V) with A ~ U diag(S) V^H."""
    from . import linalg
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    m, n = A.shape[-2], A.shape[-1]
    if M is not None:
        M = M.broadcast_to(A.shape)
    if m < n:
        # Work on A^H, which is tall, and swap U and V back at the end.
        U, S, V = svd_lowrank(_mh(A), q, niter, None if M is None else _mh(M))
        return V, S, U
    Q = _approx_basis(A, q, niter, M)
    B = _mh(Q).matmul(A)
    if M is not None:
        B = B - _mh(Q).matmul(M)
    U, S, Vh = linalg.svd(B, full_matrices=False)
    return Q.matmul(U), S, _mh(Vh)


def pca_lowrank(A: Tensor, q: Optional[int] = None, center: bool = True, niter: int = 2):
    """Randomized PCA: svd_lowrank of A with its column means removed (when ``center``)."""
    m, n = A.shape[-2], A.shape[-1]
    if q is None:
        q = min(6, m, n)
    elif not (0 <= q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter, None)
    C = A.mean(dim=-2, keepdim=True)
    return svd_lowrank(A - C, q, niter, None)


# ----------------------------------------------------------------------------- recurrent
def lstm_cell(input: Tensor, hx: Sequence[Tensor], w_ih: Tensor, w_hh: Tensor,
              b_ih: Optional[Tensor] = None, b_hh: Optional[Tensor] = None):
    """torch.lstm_cell: one LSTM step, returns (h', c')."""
    from ._torch_nn_aliases import _lstm_cell
    has_b = b_ih is not None
    ws = [w_ih, w_hh] + ([b_ih, b_hh] if has_b else [])
    h, c = _lstm_cell(input, list(hx), ws, has_b)
    return h, c


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Optional[Tensor] = None, b_hh: Optional[Tensor] = None) -> Tensor:
    """torch.gru_cell: one GRU step, returns h'."""
    from ._torch_nn_aliases import _gru_cell
    has_b = b_ih is not None
    ws = [w_ih, w_hh] + ([b_ih, b_hh] if has_b else [])
    return _gru_cell(input, [hx], ws, has_b)[0]


def _rnn_step(act: str):
    def cell(x: Tensor, state: list, ws: list, has_biases: bool) -> list:
        pre = x.matmul(ws[0].t()) + state[0].matmul(ws[1].t())
        if has_biases:
            pre = pre + ws[2] + ws[3]
        return [pre.tanh() if act == "tanh" else pre.relu()]
    return cell


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Optional[Tensor] = None, b_hh: Optional[Tensor] = None) -> Tensor:
    """torch.rnn_tanh_cell: tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    has_b = b_ih is not None
    ws = [w_ih, w_hh] + ([b_ih, b_hh] if has_b else [])
    return _rnn_step("tanh")(input, [hx], ws, has_b)[0]


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Optional[Tensor] = None, b_hh: Optional[Tensor] = None) -> Tensor:
    """torch.rnn_relu_cell: relu(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    has_b = b_ih is not None
    ws = [w_ih, w_hh] + ([b_ih, b_hh] if has_b else [])
    return _rnn_step("relu")(input, [hx], ws, has_b)[0]


def _rnn_full(act: str, input, hx, params, has_biases, num_layers, dropout, train,
              bidirectional, batch_first):
    from ._torch_nn_aliases import _rnn
    per_dir = 4 if has_biases else 2
    out, (h,) = _rnn(_rnn_step(act), input, [hx], params, has_biases, num_layers, dropout,
                     train, bidirectional, batch_first, per_dir, f"rnn_{act}")
    return out, h


def rnn_tanh(input: Tensor, hx: Tensor, params: Sequence[Tensor], has_biases: bool,
             num_layers: int, dropout: float, train: bool, bidirectional: bool,
             batch_first: bool) -> tuple[Tensor, Tensor]:
    """torch.rnn_tanh (the padded-input overload): (output, h_n)."""
    return _rnn_full("tanh", input, hx, params, has_biases, num_layers, dropout, train,
                     bidirectional, batch_first)


def rnn_relu(input: Tensor, hx: Tensor, params: Sequence[Tensor], has_biases: bool,
             num_layers: int, dropout: float, train: bool, bidirectional: bool,
             batch_first: bool) -> tuple[Tensor, Tensor]:
    """torch.rnn_relu (the padded-input overload): (output, h_n)."""
    return _rnn_full("relu", input, hx, params, has_biases, num_layers, dropout, train,
                     bidirectional, batch_first)


# ----------------------------------------------------------------------------- strided scatter
def as_strided_scatter(input: Tensor, src: Tensor, size, stride,
                       storage_offset: Optional[int] = None) -> Tensor:
    """A copy of ``input`` (read as contiguous storage) with ``src`` written into the
    ``as_strided(size, stride, storage_offset)`` view; differentiable in both."""
    from .creation import arange
    from .functional_more import as_strided
    size = tuple(size)
    if tuple(src.shape) != size:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size "
                           f"= {list(src.shape)}, slice size = {list(size)}")
    n = input.numel()
    pos = as_strided(arange(n, device=input.device), size, tuple(stride),
                       storage_offset or 0)
    flat = input.contiguous().reshape(-1)
    out = flat.scatter(0, pos.reshape(-1), src.reshape(-1).to(input.dtype))
    return out.reshape(input.shape)


# ----------------------------------------------------------------------------- Tensor methods
def _new_empty_strided(self: Tensor, size, stride, *, dtype=None, device=None,
                       requires_grad: bool = False, **_kw) -> Tensor:
    from .functional_more import empty_strided
    t = empty_strided(tuple(size), tuple(stride), dtype=dtype or self.dtype,
                      device=device or self.device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dim_order(self: Tensor, *, ambiguity_check: bool = False) -> tuple:
    """Dimensions from outermost to innermost by stride (ties keep their order)."""
    st = self.stride()
    return tuple(sorted(range(self.dim()), key=lambda i: -st[i]))


def _is_nonzero(self: Tensor) -> bool:
    n = self.numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(self.item() != 0)


def _chalf(self: Tensor, memory_format=None) -> Tensor:
    raise RuntimeError("chalf(): ember has no complex32 (ComplexHalf) dtype")


def _igamma_(self: Tensor, other) -> Tensor:
    return self.copy_(igamma(self, other))


def _igammac_(self: Tensor, other) -> Tensor:
    return self.copy_(igammac(self, other))


def _prelu(self: Tensor, weight: Tensor) -> Tensor:
    from .nn import functional as NF
    return NF.prelu(self, weight)


def _hardshrink(self: Tensor, lambd: float = 0.5) -> Tensor:
    from .nn import functional as NF
    return NF.hardshrink(self, lambd)


def _stft(self: Tensor, *args, **kwargs):
    from . import stft
    return stft(self, *args, **kwargs)


def _istft(self: Tensor, *args, **kwargs):
    from . import istft
    return istft(self, *args, **kwargs)


def _bind_methods() -> None:
    """Tensor methods of the same names; existing attributes are never replaced."""
    methods = {
        "is_inference": is_inference, "is_same_size": is_same_size, "is_signed": is_signed,
        "is_neg": is_neg, "igamma": igamma, "igammac": igammac, "igamma_": _igamma_,
        "igammac_": _igammac_, "new_empty_strided": _new_empty_strided, "prelu": _prelu,
        "hardshrink": _hardshrink, "stft": _stft, "istft": _istft,
        "to_dense": lambda self, dtype=None, *, masked_grad=None:
            self if dtype is None else self.to(dtype),
        "dim_order": _dim_order, "record_stream": lambda self, stream: None,
        "as_strided_scatter": as_strided_scatter, "is_nonzero": _is_nonzero, "chalf": _chalf,
        "get_device": get_device,
        "resize_as_": lambda self, other, memory_format=None: self.resize_(*other.shape),
    }
    for name, fn in methods.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, fn)


_bind_methods()
