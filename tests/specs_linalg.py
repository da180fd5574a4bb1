"""Oracle cases for ember.linalg's primitives (run by tests/test_linalg.py).

Decompositions whose factors are unique only up to signs (SVD, eigh) are compared through
sign-invariant functions of the factors (squares, products U Vh)."""
from __future__ import annotations

import numpy as np

from oracle import Case


def wellcond(n, batch=()):
    """Random matrices with a dominant diagonal: far from singular."""
    def f(rng):
        return rng.standard_normal(batch + (n, n)) + 2.0 * n ** 0.5 * np.eye(n)
    return f


def scaled(shape, scale):
    return lambda rng: scale * rng.standard_normal(shape)


def _svd_inv(lib, a):
    u, s, vh = lib.linalg.svd(a, full_matrices=False)
    return s, u * u, vh * vh, u @ vh


def _svd_full_square(lib, a):
    u, s, vh = lib.linalg.svd(a)
    return s, u @ vh


def _eigh_inv(lib, a):
    w, v = lib.linalg.eigh(a + a.mT)
    return w, v * v


def _eigh_upper(lib, a):
    w, v = lib.linalg.eigh(a + a.mT, UPLO="U")
    return w, v @ (w.unsqueeze(-1) * v.mT)


def _eigvals_abs(lib, a):
    return lib.abs(lib.linalg.eigvals(a))


def _lu_factor(lib, a):
    lu, piv = lib.linalg.lu_factor(a)
    return lu, piv


SPECS = {
    "linalg_solve": [
        Case(lambda lib, a, b: lib.linalg.solve(a, b), [wellcond(3, (2,)), (2, 3, 2)]),
        Case(lambda lib, a, b: lib.linalg.solve(a, b), [wellcond(3, (2,)), (3, 4)],
             name="broadcast B"),
        Case(lambda lib, a, b: lib.linalg.solve(a, b), [wellcond(4), (4,)], name="vector"),
        Case(lambda lib, a, b: lib.linalg.solve(a, b, left=False), [wellcond(3), (2, 3)],
             name="right"),
    ],
    "linalg_det": [
        Case(lambda lib, a: lib.linalg.det(a), [wellcond(3, (2,))]),
        Case(lambda lib, a: lib.linalg.det(a), [(4, 4)], name="plain"),
    ],
    "linalg_slogdet": [
        Case(lambda lib, a: tuple(lib.linalg.slogdet(a)), [(2, 3, 3)]),
    ],
    "linalg_qr": [
        Case(lambda lib, a: tuple(lib.linalg.qr(a)), [(2, 5, 3)], name="tall"),
        Case(lambda lib, a: tuple(lib.linalg.qr(a)), [(3, 5)], name="wide"),
        Case(lambda lib, a: tuple(lib.linalg.qr(a, mode="complete")), [(2, 4, 4)],
             name="complete square"),
        Case(lambda lib, a: tuple(lib.linalg.qr(a, mode="complete")), [(3, 5)],
             name="complete wide"),
    ],
    "linalg_svd": [
        Case(_svd_inv, [(2, 5, 3)], name="tall"),
        Case(_svd_inv, [(3, 6)], name="wide"),
        Case(_svd_full_square, [(2, 4, 4)], name="full square"),
        Case(lambda lib, a: lib.linalg.svdvals(a), [(2, 4, 3)], name="svdvals"),
    ],
    "linalg_eigh": [
        Case(_eigh_inv, [(2, 4, 4)]),
        Case(_eigh_upper, [(3, 3)], name="UPLO=U"),
    ],
    "linalg_eig": [
        Case(_eigvals_abs, [(2, 4, 4)], grad=False, gradcheck=False),
    ],
    "linalg_lu_factor": [
        Case(_lu_factor, [wellcond(4, (2,))]),
        Case(_lu_factor, [(5, 5)], name="plain"),
        Case(_lu_factor, [(3, 5)], grad=False, gradcheck=False, name="wide"),
        Case(_lu_factor, [(2, 5, 3)], grad=False, gradcheck=False, name="tall"),
    ],
    "linalg_matrix_exp": [
        Case(lambda lib, a: lib.linalg.matrix_exp(a), [scaled((2, 3, 3), 0.5)]),
        Case(lambda lib, a: lib.linalg.matrix_exp(a), [scaled((4, 4), 3.0)], name="squaring",
             tol=(1e-4, 1e-4)),
    ],
}
