"""torch's top-level linear-algebra functions (torch.inverse, torch.svd, torch.lu, ...) and the
Tensor methods of the same names, written on ember.linalg."""
from __future__ import annotations

from ..tensor import Tensor
from . import (_result, cholesky as _cholesky, det, inv, lu_factor_ex, lu_solve as _lu_s,
               lu_unpack, matrix_exp, matrix_power, pinv, qr as _qr, slogdet, solve_triangular,
               svd as _svd)
from . import _check_matrix

_Svd = _result("svd", ["U", "S", "V"])
_Qr = _result("qr", ["Q", "R"])
_Slogdet = _result("slogdet", ["sign", "logabsdet"])
_TriSolve = _result("triangular_solve", ["solution", "cloned_coefficient"])


def inverse(input: Tensor, *, out=None) -> Tensor:
    return inv(input)


def logdet(input: Tensor) -> Tensor:
    """log(det A): NaN for a negative determinant, -inf for a zero one."""
    sign, logabs = slogdet(input)
    return logabs + sign.log()


def svd(input: Tensor, some: bool = True, compute_uv: bool = True, *, out=None):
    """(U, S, V) with input = U diag(S) V^T (V, not V^T, unlike linalg.svd)."""
    _check_matrix(input, "svd")
    if not compute_uv:
        from ..creation import zeros
        from ..linalg import svdvals
        m, n = input.shape[-2], input.shape[-1]
        b = tuple(input.shape[:-2])
        kw = {"dtype": input.dtype, "device": input.device}
        return _Svd(zeros(b + (m, m), **kw), svdvals(input), zeros(b + (n, n), **kw))
    u, s, vh = _svd(input, full_matrices=not some)
    return _Svd(u, s, vh.mT)


def qr(input: Tensor, some: bool = True, *, out=None):
    return _Qr(*_qr(input, "reduced" if some else "complete"))


def cholesky(input: Tensor, upper: bool = False, *, out=None) -> Tensor:
    return _cholesky(input, upper=upper)


def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """X with A X = B for A = L L^T (or U^T U), given B=input and the factor input2."""
    low = input2.mT if upper else input2
    y = solve_triangular(low, input, upper=False)
    return solve_triangular(low.mT, y, upper=True)


def cholesky_inverse(input: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """A^-1 from A's Cholesky factor."""
    from ..creation import eye
    n = input.shape[-1]
    ident = eye(n, dtype=input.dtype, device=input.device).expand(input.shape)
    return cholesky_solve(ident, input, upper)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    return pinv(input, rtol=rcond)


def lu(A: Tensor, pivot: bool = True, get_infos: bool = False, out=None):
    """(LU, pivots) or, with ``get_infos``, (LU, pivots, infos); deprecated in torch."""
    lu_, piv, info = lu_factor_ex(A, pivot=pivot, check_errors=not get_infos)
    return (lu_, piv, info) if get_infos else (lu_, piv)


def lu_solve(b: Tensor, LU_data: Tensor, LU_pivots: Tensor, *, out=None) -> Tensor:
    return _lu_s(LU_data, LU_pivots, b)


def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False, *, out=None):
    """(solution, cloned_coefficient): X with op(A) X = b, op transposing if asked."""
    a = A.mT if transpose else A
    up = (not upper) if transpose else upper
    x = solve_triangular(a, b, upper=up, unitriangular=unitriangular)
    return _TriSolve(x, A.clone())


def _slogdet(input: Tensor):
    return _Slogdet(*slogdet(input))


_TOP = {"inverse": inverse, "det": det, "logdet": logdet, "slogdet": _slogdet, "svd": svd,
        "qr": qr, "cholesky": cholesky, "cholesky_solve": cholesky_solve,
        "cholesky_inverse": cholesky_inverse, "pinverse": pinverse, "lu": lu,
        "lu_unpack": lu_unpack, "lu_solve": lu_solve, "triangular_solve": triangular_solve,
        "matrix_power": matrix_power, "matrix_exp": matrix_exp}

# Tensor methods: t.inverse(), t.det(), ... (each takes the tensor as its first argument).
for _name in ("inverse", "det", "logdet", "slogdet", "svd", "qr", "cholesky", "cholesky_solve",
              "cholesky_inverse", "pinverse", "lu", "lu_solve", "triangular_solve",
              "matrix_power", "matrix_exp"):
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _TOP[_name])


__all__ = list(_TOP)
