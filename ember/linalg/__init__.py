"""torch.linalg for ember: decompositions, solvers, norms and matrix functions, batched over
leading dims and differentiable where torch is (eig/eigvals: forward only)."""
from __future__ import annotations

import collections
from typing import Optional, Sequence, Union

import numpy as np

from ..tensor import Tensor
from ._prims import (DetOp, EigOp, EighOp, LinAlgError, LuFactorOp, MatrixExpOp, QrOp,
                     SlogdetOp, SolveOp, SvdOp, inv_matrix, lu_factor_xp, perm_from_pivots_xp)

_INF = float("inf")


# --------------------------------------------------------------------------------- helpers
def _result(name: str, fields: Sequence[str]):
    """A named tuple printed as torch.return_types.<name>."""
    base = collections.namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"torch.return_types.{name}(\n{body})"
    return type(name, (base,), {"__repr__": __repr__, "__slots__": ()})


_InvEx = _result("linalg_inv_ex", ["inverse", "info"])
_SolveEx = _result("linalg_solve_ex", ["result", "info"])
_CholEx = _result("linalg_cholesky_ex", ["L", "info"])
_Slogdet = _result("linalg_slogdet", ["sign", "logabsdet"])
_Qr = _result("linalg_qr", ["Q", "R"])
_Svd = _result("linalg_svd", ["U", "S", "Vh"])
_Eigh = _result("linalg_eigh", ["eigenvalues", "eigenvectors"])
_Eig = _result("linalg_eig", ["eigenvalues", "eigenvectors"])
_Lstsq = _result("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
_LuFactor = _result("linalg_lu_factor", ["LU", "pivots"])
_LuFactorEx = _result("linalg_lu_factor_ex", ["LU", "pivots", "info"])
_Lu = _result("linalg_lu", ["P", "L", "U"])
_LuUnpack = _result("lu_unpack", ["P", "L", "U"])


def _type_name(t: Tensor) -> str:
    return {"float64": "Double", "float32": "Float", "float16": "Half", "bfloat16": "BFloat16",
            "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(str(t.dtype).replace("torch.", "").replace("ember.", ""),
                                str(t.dtype))


def _check_float(a: Tensor, name: str) -> None:
    if not (a.dtype.is_floating_point or a.dtype.is_complex):
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. "
                           f"Got {_type_name(a)}")


def _check_matrix(a: Tensor, name: str, square: bool = False, arg: str = "A") -> None:
    if a.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor {arg} must have at least 2 dimensions.")
    _check_float(a, name)
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{name}: {arg} must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")


def _int_tensor(arr, like: Tensor, dtype=None) -> Tensor:
    from ..backend import dtypes as _dt
    from ..tensor import make_tensor
    dtype = _dt.int32 if dtype is None else dtype
    return make_tensor(arr.astype(dtype.np), dtype, like._device)


def _eye(n: int, like: Tensor) -> Tensor:
    from ..creation import eye
    return eye(n, dtype=like.dtype, device=like.device)


def _empty(like: Tensor, shape=(0,)) -> Tensor:
    from ..creation import zeros
    return zeros(shape, dtype=like.dtype, device=like.device)


def _lu_info(a: Tensor) -> Tensor:
    """LAPACK-style info of A's LU factorization: 0, or the 1-based first zero pivot."""
    _, _, info = lu_factor_xp(_xp(a), a.detach()._data)
    return _int_tensor(info, a)


def _xp(t: Tensor):
    from ..backend.device import get_xp
    return get_xp(t.device)


def _any_host(info: Tensor) -> bool:
    return bool(_xp(info).any(info._data != 0))


def _batch_error_prefix(info: Tensor) -> str:
    if info.dim() == 0:
        return ""
    flat = info.reshape(-1)
    idx = int(_xp(flat).argmax(flat._data != 0))
    return f"(Batch element {idx}): "


# ------------------------------------------------------------------------ inverse and solve
def inv(A: Tensor, *, out=None) -> Tensor:
    """Inverse of square matrices."""
    _check_matrix(A, "linalg.inv", square=True)
    try:
        return inv_matrix(A)
    except LinAlgError:
        info = _lu_info(A)
        raise LinAlgError(f"linalg.inv: {_batch_error_prefix(info)}The diagonal element "
                          f"{int(info.reshape(-1).max())} is zero, the inversion could not be "
                          "completed because the input matrix is singular.") from None


def _replace_singular(A: Tensor, info: Tensor) -> Tensor:
    """A with singular batch elements swapped for identities (so the *_ex solvers run)."""
    from .. import where
    bad = (info != 0).reshape(tuple(info.shape) + (1, 1))
    return where(bad, _eye(A.shape[-1], A).expand(A.shape), A)


def inv_ex(A: Tensor, *, check_errors: bool = False, out=None):
    """(inverse, info) without raising for singular inputs unless ``check_errors``."""
    _check_matrix(A, "linalg.inv_ex", square=True)
    info = _lu_info(A)
    if check_errors and _any_host(info):
        inv(A)
    return _InvEx(inv_matrix(_replace_singular(A, info)), info)


def _solve_is_vector(A: Tensor, B: Tensor) -> bool:
    return B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """X with A X = B (``left``) or X A = B."""
    _check_matrix(A, "linalg.solve", square=True)
    _check_float(B, "linalg.solve")
    if A.dtype != B.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {_type_name(A)} and B of type {_type_name(B)} instead")
    vec = _solve_is_vector(A, B)
    b = B.unsqueeze(-1) if vec else B
    if not left:
        if vec:
            b = B.unsqueeze(-2)
        x = SolveOp.apply(A.mT, b.mT).mT
        return x.squeeze(-2) if vec else x
    n = A.shape[-1]
    if b.shape[-2] != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({A.shape[-2]}x{n} and {b.shape[-2]}x{b.shape[-1]})")
    x = SolveOp.apply(A, b)
    return x.squeeze(-1) if vec else x


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False, out=None):
    """(result, info) of solve, not raising for singular inputs unless ``check_errors``."""
    _check_matrix(A, "linalg.solve_ex", square=True)
    info = _lu_info(A)
    if check_errors and _any_host(info):
        solve(A, B, left=left)
    return _SolveEx(solve(_replace_singular(A, info), B, left=left), info)


# ------------------------------------------------------------------------------ cholesky
def _chol_info(a: Tensor) -> Tensor:
    """Order of the first leading minor that is not positive-definite (0: none), batched."""
    xp = _xp(a)
    x = a.detach()._data
    n = x.shape[-1]
    batch = x.shape[:-2]
    m = x.reshape((-1, n, n)).astype(x.dtype, copy=True)
    m = xp.tril(m)
    info = xp.zeros((m.shape[0],), dtype=np.int32)
    for k in range(n):
        d = m[:, k, k] - (m[:, k, :k] ** 2).sum(-1)
        bad = ~(d > 0)
        info = xp.where((info == 0) & bad, k + 1, info).astype(np.int32)
        r = xp.sqrt(xp.where(bad, 1, d))
        m[:, k, k] = r
        col = (m[:, k + 1:, k] - (m[:, k + 1:, :k] * m[:, None, k, :k]).sum(-1)) / r[:, None]
        m[:, k + 1:, k] = col
    return _int_tensor(info.reshape(batch), a)


def _chol_raw(A: Tensor) -> Tensor:
    from ..distributions._special import CholeskyOp
    return CholeskyOp.apply(A)


def cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """Lower (or upper) Cholesky factor of symmetric positive-definite matrices."""
    _check_matrix(A, "linalg.cholesky", square=True)
    try:
        L = _chol_raw(A)
    except (RuntimeError, np.linalg.LinAlgError):
        info = _chol_info(A)
        order = int(info.reshape(-1)[(info.reshape(-1) != 0).to(info.dtype).argmax()]) \
            if info.dim() else int(info)
        raise LinAlgError(f"linalg.cholesky: {_batch_error_prefix(info)}The factorization could "
                          "not be completed because the input is not positive-definite (the "
                          f"leading minor of order {order} is not positive-definite).") from None
    return L.mT if upper else L


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False, out=None):
    """(L, info) of cholesky, not raising unless ``check_errors``."""
    _check_matrix(A, "linalg.cholesky_ex", square=True)
    info = _chol_info(A)
    if _any_host(info):
        if check_errors:
            cholesky(A)
        A = _replace_singular(A, info)
    return _CholEx(cholesky(A, upper=upper), info)


# ---------------------------------------------------------------------------- determinants
def det(A: Tensor, *, out=None) -> Tensor:
    _check_matrix(A, "linalg.det", square=True)
    return DetOp.apply(A)


def slogdet(A: Tensor, *, out=None):
    """(sign, log|det|); only logabsdet is differentiable."""
    _check_matrix(A, "linalg.slogdet", square=True)
    return _Slogdet(*SlogdetOp.apply(A))


# ------------------------------------------------------------------------- decompositions
def qr(A: Tensor, mode: str = "reduced", *, out=None):
    """(Q, R) with A = QR; ``mode`` 'reduced', 'complete' or 'r' (Q empty)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    _check_matrix(A, "linalg.qr")
    return _Qr(*QrOp.apply(A, mode=mode))


def svd(A: Tensor, full_matrices: bool = True, *, driver=None, out=None):
    """(U, S, Vh) with A = U diag(S) Vh."""
    _check_matrix(A, "linalg.svd")
    return _Svd(*SvdOp.apply(A, full_matrices=full_matrices))


def svdvals(A: Tensor, *, driver=None, out=None) -> Tensor:
    _check_matrix(A, "linalg.svdvals")
    return SvdOp.apply(A, full_matrices=False)[1]


def eigh(A: Tensor, UPLO: str = "L", *, out=None):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices."""
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    _check_matrix(A, "linalg.eigh", square=True)
    return _Eigh(*EighOp.apply(A, UPLO=UPLO))


def eigvalsh(A: Tensor, UPLO: str = "L", *, out=None) -> Tensor:
    return eigh(A, UPLO)[0]


def eig(A: Tensor, *, out=None):
    """Complex eigenvalues and eigenvectors (forward only in ember)."""
    _check_matrix(A, "linalg.eig", square=True)
    return _Eig(*EigOp.apply(A))


def eigvals(A: Tensor, *, out=None) -> Tensor:
    _check_matrix(A, "linalg.eigvals", square=True)
    return EigOp.apply(A)[0]


# --------------------------------------------------------------------------------- norms
def _norm_dims(dim, ndim):
    if dim is None:
        return None
    if isinstance(dim, int):
        return (dim,)
    return tuple(dim)


def vector_norm(x: Tensor, ord: Union[float, int] = 2, dim=None, keepdim: bool = False, *,
                dtype=None, out=None) -> Tensor:
    """The ``ord``-norm of x as a vector over ``dim`` (all elements by default)."""
    from .. import functional as F
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: Expected a numeric ord, got {ord}")
    _check_float(x, "linalg.vector_norm")
    if dtype is not None:
        x = x.to(dtype)
    dims = _norm_dims(dim, x.dim())
    if dims is not None and len(dims) == 0:
        dims = None
    if ord == -_INF:
        a = x.abs()
        return a.amin(dim=dims, keepdim=keepdim) if dims is not None else \
            (a.amin() if not keepdim else a.amin(dim=tuple(range(x.dim())), keepdim=True))
    if ord == 0:
        nz = (x != 0).to(x.dtype)
        return nz.sum(dim=dims, keepdim=keepdim) if dims is not None else \
            nz.sum(dim=tuple(range(x.dim())), keepdim=keepdim)
    if dims is None:
        dims = tuple(range(x.dim()))
    return F.norm(x, float(ord), dims, keepdim)


def _move_to_end(A: Tensor, dim) -> Tensor:
    d0, d1 = (d % A.dim() for d in dim)
    return A.movedim((d0, d1), (-2, -1))


def _restore_keepdim(r: Tensor, dim, ndim: int) -> Tensor:
    for d in sorted(d % ndim for d in dim):
        r = r.unsqueeze(d)
    return r


def matrix_norm(A: Tensor, ord: Union[str, float] = "fro", dim=(-2, -1), keepdim: bool = False,
                *, dtype=None, out=None) -> Tensor:
    """Matrix norms: 'fro', 'nuc', inf, -inf, 1, -1, 2, -2 over the two dims ``dim``."""
    _check_float(A, "linalg.matrix_norm")
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    if dtype is not None:
        A = A.to(dtype)
    dim = tuple(dim)
    if len(dim) != 2 or dim[0] % A.dim() == dim[1] % A.dim():
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, "
                           f"{dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, dim, keepdim)
    if ord == "nuc" or ord in (2, -2):
        s = svdvals(_move_to_end(A, dim))
        if ord == "nuc":
            r = s.sum(-1)
        elif ord == 2:
            r = s.amax(-1)
        else:
            r = s.amin(-1)
        return _restore_keepdim(r, dim, A.dim()) if keepdim else r
    if ord in (1, -1, _INF, -_INF):
        # 1: max column sum (sum over rows, dim[0]); inf: max row sum.
        red, pick = (dim[0], dim[1]) if ord in (1, -1) else (dim[1], dim[0])
        s = A.abs().sum(dim=red, keepdim=True)
        r = s.amax(dim=pick, keepdim=True) if ord > 0 else s.amin(dim=pick, keepdim=True)
        if not keepdim:
            r = r.squeeze(tuple(sorted((dim[0] % A.dim(), dim[1] % A.dim()))))
        return r
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None,
         out=None) -> Tensor:
    """Vector or matrix norm, chosen from ``ord`` and ``dim`` as torch.linalg.norm does."""
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.dim() == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if A.dim() == 1 and not isinstance(ord, str):
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                       f"1D or 2D. Got {A.dim()}D.")


def cond(A: Tensor, p=None, *, out=None) -> Tensor:
    """Condition number of A in the norm ``p`` (2-norm by default)."""
    _check_matrix(A, "linalg.cond")
    if p is None or p in (2, -2):
        s = svdvals(A)
        if p == -2:
            return s[..., -1] / s[..., 0]
        return s[..., 0] / s[..., -1]
    _check_matrix(A, "linalg.cond", square=True)
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


# ------------------------------------------------------------------------- pinv and lstsq
def _tolerance(s_max: Tensor, atol, rtol, m: int, n: int, dtype) -> Tensor:
    if rtol is None:
        eps = float(np.finfo(dtype.np).eps)
        rtol = eps * max(m, n) if atol is None or (isinstance(atol, (int, float))
                                                   and atol <= 0) else 0.0
    tol = rtol * s_max
    if atol is not None:
        from .. import maximum
        if isinstance(atol, Tensor):
            tol = maximum(tol, atol)
        else:
            tol = tol.clamp(min=float(atol))
    return tol


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, out=None,
         rcond=None) -> Tensor:
    """Moore-Penrose pseudo-inverse (SVD, or eigh when ``hermitian``)."""
    from .. import where
    _check_matrix(A, "linalg.pinv")
    if rcond is not None:
        rtol = rcond
    m, n = A.shape[-2], A.shape[-1]
    if hermitian:
        w, v = eigh(A)
        aw = w.abs()
        tol = _tolerance(aw.amax(-1, keepdim=True), atol, rtol, m, n, A.dtype)
        keep = aw > tol
        winv = where(keep, 1.0 / where(keep, w, 1.0), 0.0)
        return (v * winv.unsqueeze(-2)).matmul(v.mT)
    u, s, vh = svd(A, full_matrices=False)
    if s.shape[-1] == 0:
        return A.mT * 0
    tol = _tolerance(s[..., :1], atol, rtol, m, n, A.dtype)
    keep = s > tol
    sinv = where(keep, 1.0 / where(keep, s, 1.0), 0.0)
    return (vh.mT * sinv.unsqueeze(-2)).matmul(u.mT)


def matrix_rank(A: Tensor, tol=None, hermitian: bool = False, *, atol=None, rtol=None,
                out=None) -> Tensor:
    """Number of singular values above the tolerance (int64)."""
    from ..backend import dtypes as _dt
    _check_matrix(A, "linalg.matrix_rank")
    if tol is not None:
        atol, rtol = tol, 0.0
    m, n = A.shape[-2], A.shape[-1]
    s = eigvalsh(A).abs() if hermitian else svdvals(A)
    s = s.detach()
    if s.shape[-1] == 0:
        return (s.sum(-1) * 0).to(_dt.int64)
    tol_t = _tolerance(s.amax(-1, keepdim=True), atol, rtol, m, n, A.dtype)
    return (s > tol_t).sum(-1).to(_dt.int64)


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver: Optional[str] = None):
    """Least-squares solution of A X = B, as (solution, residuals, rank, singular_values).

    The solution is the minimum-norm one (via the pseudo-inverse) for every driver; which of
    the other fields are filled follows torch's CPU drivers (default 'gelsy')."""
    from ..backend import dtypes as _dt
    _check_matrix(A, "torch.linalg.lstsq")
    _check_float(B, "torch.linalg.lstsq")
    driver = "gelsy" if driver is None else driver
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           f"gelsy, gelsd, gelss), but got {driver}")
    vec = B.dim() == 1
    b = B.unsqueeze(-1) if vec else B
    m, n = A.shape[-2], A.shape[-1]
    if b.shape[-2] != m:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2). "
                           f"Got {m} and {b.shape[-2]}")
    p = pinv(A, rtol=rcond)
    x = p.matmul(b)
    s = svdvals(A).detach() if driver in ("gelsd", "gelss", "gelsy") else None
    rank = _empty(A).to(_dt.int64)
    if s is not None:
        rank = matrix_rank(A, rtol=rcond)
    sv = s if driver in ("gelsd", "gelss") else _empty(A)
    res = _empty(A)
    if m > n and driver != "gelsy":
        if bool((matrix_rank(A, rtol=rcond) == n).all()):
            r = A.matmul(x) - b
            res = (r * r).sum(-2)
            if vec:
                res = res.squeeze(-1)
    if vec:
        x = x.squeeze(-1)
    return _Lstsq(x, res, rank, sv)


# -------------------------------------------------------------------------------- powers
def matrix_power(A: Tensor, n: int, *, out=None) -> Tensor:
    """A^n for an integer n (negative: powers of the inverse)."""
    _check_matrix(A, "linalg.matrix_power", square=True)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    n = int(n)
    if n == 0:
        return (A * 0 + _eye(A.shape[-1], A)) if A.requires_grad else \
            _eye(A.shape[-1], A).expand(A.shape).clone()
    if n < 0:
        A = inv(A)
        n = -n
    result = None
    base = A
    while n:
        if n & 1:
            result = base if result is None else result.matmul(base)
        n >>= 1
        if n:
            base = base.matmul(base)
    return result


def matrix_exp(A: Tensor) -> Tensor:
    """Matrix exponential (batched)."""
    _check_matrix(A, "linalg.matrix_exp", square=True)
    return MatrixExpOp.apply(A)


# --------------------------------------------------------------------------- small helpers
def cross(input: Tensor, other: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """Cross product of 3-vectors along ``dim`` (inputs broadcast)."""
    from .. import broadcast_tensors
    from .. import functional as F
    if input.dim() != other.dim():
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[dim]} and {other.shape[dim]}")
    a, b = broadcast_tensors(input, other)
    return F.cross(a, b, dim=dim)


def multi_dot(tensors: Sequence[Tensor], *, out=None) -> Tensor:
    """Product of a chain of matrices, multiplied in the cheapest order."""
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError("multi_dot(): expected at least 2 tensors but got "
                           f"{len(ts)}")
    first_vec, last_vec = ts[0].dim() == 1, ts[-1].dim() == 1
    if first_vec:
        ts[0] = ts[0].unsqueeze(0)
    if last_vec:
        ts[-1] = ts[-1].unsqueeze(-1)
    for i, t in enumerate(ts):
        if t.dim() != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.dim()}D")
    for i in range(len(ts) - 1):
        if ts[i].shape[1] != ts[i + 1].shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i} and {i + 1} with shapes {list(ts[i].shape)} and "
                f"{list(ts[i + 1].shape)} cannot be multiplied")
    dims = [ts[0].shape[0]] + [t.shape[1] for t in ts]
    k = len(ts)
    # Classic matrix-chain dynamic programme over split points.
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = None
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s

    def build(i, j):
        if i == j:
            return ts[i]
        s = split[i][j]
        return build(i, s).matmul(build(s + 1, j))
    r = build(0, k - 1)
    if first_vec:
        r = r.squeeze(0)
    if last_vec:
        r = r.squeeze(-1)
    return r


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False, out=None) -> Tensor:
    """X with A X = B (or X A = B) for triangular A."""
    from ..distributions._special import SolveTriangularOp
    _check_matrix(A, "linalg.solve_triangular", square=True)
    _check_matrix(B, "linalg.solve_triangular", arg="B")
    if unitriangular:
        A = (A.triu(1) if upper else A.tril(-1)) + _eye(A.shape[-1], A)
    if left:
        return SolveTriangularOp.apply(A, B, upper=upper)
    return SolveTriangularOp.apply(A.mT, B.mT, upper=not upper).mT


def vander(x: Tensor, *, N: Optional[int] = None) -> Tensor:
    """Vandermonde matrix with increasing powers x^0 ... x^(N-1) along a new last dim."""
    from .. import cat
    if x.dim() < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension.")
    n = x.shape[-1] if N is None else N
    if n < 1:
        raise RuntimeError("N must be greater than 1.")
    ones = (x * 0 + 1).unsqueeze(-1)
    if n == 1:
        return ones
    powers = x.unsqueeze(-1).expand(tuple(x.shape) + (n - 1,)).cumprod(-1)
    return cat([ones, powers], -1)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    return A.diagonal(offset, dim1, dim2)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """Dot product along ``dim`` (inputs broadcast)."""
    return (x * y).sum(dim)


def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    return input.matmul(other)


def tensorinv(A: Tensor, ind: int = 2, *, out=None) -> Tensor:
    """Inverse of A seen as a linear map from its last dims to its first ``ind`` dims."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape = tuple(A.shape[ind:]) + tuple(A.shape[:ind])
    rows = int(np.prod(A.shape[:ind]))
    cols = int(np.prod(A.shape[ind:]))
    if rows != cols:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           "prod(self.shape[:ind]), but got " f"{cols} != {rows}")
    return inv(A.reshape(rows, cols)).reshape(out_shape)


def tensorsolve(A: Tensor, B: Tensor, dims=None, *, out=None) -> Tensor:
    """X with tensordot(A, X, X.ndim) = B."""
    if dims is not None:
        dims = [d % A.dim() for d in dims]
        A = A.movedim(tuple(dims), tuple(range(A.dim() - len(dims), A.dim())))
    x_shape = tuple(A.shape[B.dim():])
    rows = int(np.prod(B.shape))
    cols = int(np.prod(x_shape))
    if tuple(A.shape[:B.dim()]) != tuple(B.shape) or rows != cols:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[other.ndim:]"
                           ") == prod(self.shape[:other.ndim]), but got "
                           f"{cols} != {rows}")
    return solve(A.reshape(rows, cols), B.reshape(rows)).reshape(x_shape)


# ------------------------------------------------------------------------------------ lu
def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False, out=None):
    """(LU, pivots, info): A = P L U packed as LAPACK's getrf."""
    _check_matrix(A, "torch.linalg.lu_factor_ex")
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    lu_, piv, info = LuFactorOp.apply(A)
    if check_errors and _any_host(info):
        raise LinAlgError(f"torch.linalg.lu_factor_ex: {_batch_error_prefix(info)}The "
                          f"factorization could not be completed because the input is "
                          "not invertible.")
    return _LuFactorEx(lu_, piv, info)


def lu_factor(A: Tensor, *, pivot: bool = True, out=None):
    """(LU, pivots) of A; raises LinAlgError for a singular square A."""
    lu_, piv, info = lu_factor_ex(A, pivot=pivot)
    if A.shape[-1] == A.shape[-2] and _any_host(info):
        raise LinAlgError(f"torch.linalg.lu_factor: {_batch_error_prefix(info)}The "
                          "factorization could not be completed because the input is not "
                          "invertible.")
    return _LuFactor(lu_, piv)


def _perm_matrix(pivots: Tensor, m: int, like: Tensor) -> Tensor:
    """P with A = P L U (P[perm[i], i] = 1)."""
    from .. import functional as F
    from ..backend import dtypes as _dt
    xp = _xp(pivots)
    perm = perm_from_pivots_xp(xp, pivots._data, m)
    inv_perm = xp.argsort(perm, axis=-1)
    # Row j of P is e_{inv_perm[j]}.
    idx = _int_tensor(inv_perm, like, _dt.int64)
    return F.one_hot(idx, m).to(like.dtype)


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
              unpack_pivots: bool = True, *, out=None):
    """(P, L, U) from lu_factor's packed output."""
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = min(m, n)
    if unpack_data:
        L = LU_data[..., :, :k].tril(-1) + _eye(max(m, k), LU_data)[:m, :k]
        U = LU_data[..., :k, :].triu()
    else:
        L, U = _empty(LU_data), _empty(LU_data)
    if unpack_pivots:
        P = _perm_matrix(LU_pivots, m, LU_data)
    else:
        P = _empty(LU_data)
    return _LuUnpack(P, L, U)


def lu(A: Tensor, *, pivot: bool = True, out=None):
    """(P, L, U) with A = P L U."""
    lu_, piv, _ = lu_factor_ex(A, pivot=pivot)
    return _Lu(*lu_unpack(lu_, piv))


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True,
             adjoint: bool = False, out=None) -> Tensor:
    """X with A X = B (or variants) from A's lu_factor."""
    P, L, U = lu_unpack(LU, pivots)
    if left and not adjoint:      # P L U X = B
        y = solve_triangular(L, P.mT.matmul(B), upper=False, unitriangular=True)
        return solve_triangular(U, y, upper=True)
    if left and adjoint:          # U^T L^T P^T X = B
        y = solve_triangular(U.mT, B, upper=False)
        z = solve_triangular(L.mT, y, upper=True, unitriangular=True)
        return P.matmul(z)
    if not adjoint:               # X P L U = B
        y = solve_triangular(U, B, upper=True, left=False)
        z = solve_triangular(L, y, upper=False, left=False, unitriangular=True)
        return z.matmul(P.mT)
    # X U^T L^T P^T = B
    y = B.matmul(P)
    z = solve_triangular(L.mT, y, upper=True, left=False, unitriangular=True)
    return solve_triangular(U.mT, z, upper=False, left=False)


__all__ = ["LinAlgError", "inv", "inv_ex", "det", "slogdet", "solve", "solve_ex", "cholesky",
           "cholesky_ex", "qr", "svd", "svdvals", "eigh", "eigvalsh", "eig", "eigvals", "norm",
           "vector_norm", "matrix_norm", "pinv", "lstsq", "matrix_power", "matrix_rank",
           "matrix_exp", "cross", "multi_dot", "solve_triangular", "vander", "diagonal",
           "vecdot", "tensorinv", "tensorsolve", "cond", "lu_factor", "lu_factor_ex", "lu",
           "lu_solve", "matmul"]

from . import _legacy  # noqa: E402,F401  (binds the Tensor methods)
