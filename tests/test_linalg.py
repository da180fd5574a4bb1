"""ember.linalg and the top-level linear-algebra functions against torch (CPU) as the oracle:
values, gradients (random projections and float64 gradcheck) and error types."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember
from oracle import Case, check, device_default, gradcheck_case, to_numpy
from specs_linalg import SPECS, wellcond


def spd(n, batch=()):
    def f(rng):
        a = rng.standard_normal(batch + (n, n))
        return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)
    return f


def lower(n, batch=()):
    def f(rng):
        a = np.tril(rng.standard_normal(batch + (n, n)))
        idx = np.arange(n)
        a[..., idx, idx] = np.abs(a[..., idx, idx]) + 1.0
        return a
    return f


def _sym(a):
    """Cholesky reads one triangle only: differentiate through a symmetric input, as torch's
    own tests do, so that numerical and analytical gradients agree."""
    return (a + a.mT) / 2


def _lu_unpack(lib, a):
    lu, piv = lib.linalg.lu_factor(a)
    return tuple(lib.lu_unpack(lu, piv))


def _lu_solve(lib, a, b, left, adjoint):
    lu, piv = lib.linalg.lu_factor(a)
    return lib.linalg.lu_solve(lu, piv, b, left=left, adjoint=adjoint)


def _svd_legacy(lib, a):
    u, s, v = lib.svd(a)
    return s, u @ v.mT, v * v


COMPOSITES = {
    "inv": [Case(lambda lib, a: lib.linalg.inv(a), [wellcond(3, (2,))])],
    "inv_ex": [Case(lambda lib, a: tuple(lib.linalg.inv_ex(a)), [wellcond(3, (2,))])],
    "solve_ex": [Case(lambda lib, a, b: tuple(lib.linalg.solve_ex(a, b)),
                      [wellcond(3), (3, 2)])],
    "cholesky": [Case(lambda lib, a: lib.linalg.cholesky(_sym(a)), [spd(3, (2,))]),
                 Case(lambda lib, a: lib.linalg.cholesky(_sym(a), upper=True), [spd(3)])],
    "cholesky_ex": [Case(lambda lib, a: tuple(lib.linalg.cholesky_ex(_sym(a))),
                         [spd(3, (2,))])],
    "qr_r": [Case(lambda lib, a: lib.linalg.qr(a, mode="r")[1], [(4, 3)], grad=False,
                  gradcheck=False)],
    "eigvalsh": [Case(lambda lib, a: lib.linalg.eigvalsh(a + a.mT), [(2, 4, 4)])],
    "vector_norm": [
        Case(lambda lib, x: lib.linalg.vector_norm(x), [(3, 4)]),
        Case(lambda lib, x: lib.linalg.vector_norm(x, 3, dim=1, keepdim=True), [(3, 4)]),
        Case(lambda lib, x: lib.linalg.vector_norm(x, 1, dim=(0, 2)), [(2, 3, 4)]),
        Case(lambda lib, x: lib.linalg.vector_norm(x, float("inf"), dim=-1), [(3, 4)]),
        Case(lambda lib, x: lib.linalg.vector_norm(x, -float("inf"), dim=-1), [(3, 4)]),
        Case(lambda lib, x: lib.linalg.vector_norm(x, 0.5), [(3, 4)]),
        Case(lambda lib, x: lib.linalg.vector_norm(x, 0, dim=0), [(3, 4)], grad=False,
             gradcheck=False),
    ],
    "matrix_norm": [
        Case(lambda lib, a, o=o: lib.linalg.matrix_norm(a, o), [(2, 4, 3)], name=str(o))
        for o in ("fro", "nuc", 1, -1, 2, -2, float("inf"), -float("inf"))
    ] + [
        Case(lambda lib, a: lib.linalg.matrix_norm(a, 1, dim=(0, 2), keepdim=True), [(3, 2, 4)]),
        Case(lambda lib, a: lib.linalg.matrix_norm(a, "nuc", dim=(2, 0), keepdim=True),
             [(3, 2, 4)]),
    ],
    "norm": [
        Case(lambda lib, a: lib.linalg.norm(a), [(2, 3, 4)]),
        Case(lambda lib, a: lib.linalg.norm(a, 2), [(3, 4)]),
        Case(lambda lib, a: lib.linalg.norm(a, 3), [(5,)]),
        Case(lambda lib, a: lib.linalg.norm(a, dim=1), [(3, 4)]),
        Case(lambda lib, a: lib.linalg.norm(a, "nuc", dim=(1, 2)), [(2, 3, 4)]),
    ],
    "cond": [Case(lambda lib, a: lib.linalg.cond(a), [wellcond(3, (2,))]),
             Case(lambda lib, a: lib.linalg.cond(a, "fro"), [wellcond(3)], grad=False),
             Case(lambda lib, a: lib.linalg.cond(a, -2), [(4, 3)])],
    "pinv": [Case(lambda lib, a: lib.linalg.pinv(a), [(2, 5, 3)]),
             Case(lambda lib, a: lib.linalg.pinv(a), [(3, 5)]),
             Case(lambda lib, a: lib.linalg.pinv(a + a.mT, hermitian=True), [wellcond(3)]),
             Case(lambda lib, a: lib.pinverse(a), [(4, 3)])],
    "lstsq": [Case(lambda lib, a, b: tuple(lib.linalg.lstsq(a, b)), [(2, 5, 3), (2, 5, 2)]),
              # singular_values carry no gradient in torch: compared on their own below.
              Case(lambda lib, a, b: tuple(lib.linalg.lstsq(a, b, driver="gelsd"))[:3],
                   [(5, 3), (5, 2)]),
              Case(lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gelss").singular_values,
                   [(5, 3), (5, 2)], grad=False, gradcheck=False),
              Case(lambda lib, a, b: lib.linalg.lstsq(a, b).solution, [(3, 5), (3, 2)],
                   name="underdetermined")],
    "matrix_power": [Case(lambda lib, a, n=n: lib.linalg.matrix_power(a, n),
                          [wellcond(3, (2,))], name=str(n)) for n in (0, 1, 2, 5, -1, -3)],
    "matrix_rank": [Case(lambda lib, a: lib.linalg.matrix_rank(a), [(2, 4, 3)], grad=False,
                         gradcheck=False),
                    Case(lambda lib, a: lib.linalg.matrix_rank(a[..., :1] * a[..., :1, :]),
                         [(2, 4, 3)], grad=False, gradcheck=False, name="rank one"),
                    Case(lambda lib, a: lib.linalg.matrix_rank(a + a.mT, hermitian=True),
                         [(3, 3)], grad=False, gradcheck=False)],
    "matrix_exp": [Case(lambda lib, a: lib.matrix_exp(a), [(3, 3)])],
    "cross": [Case(lambda lib, a, b: lib.linalg.cross(a, b), [(4, 3), (4, 3)]),
              Case(lambda lib, a, b: lib.linalg.cross(a, b, dim=0), [(3, 2), (3, 1)])],
    "multi_dot": [Case(lambda lib, a, b, c, d: lib.linalg.multi_dot([a, b, c, d]),
                       [(6,), (6, 2), (2, 5), (5,)]),
                  Case(lambda lib, a, b, c: lib.linalg.multi_dot([a, b, c]),
                       [(2, 7), (7, 3), (3, 4)])],
    "solve_triangular": [
        Case(lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=False), [lower(3), (3, 2)]),
        Case(lambda lib, a, b: lib.linalg.solve_triangular(a.mT, b, upper=True, left=False),
             [lower(3, (2,)), (2, 4, 3)]),
        Case(lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=False,
                                                           unitriangular=True),
             [lower(3), (3, 2)]),
    ],
    "vander": [Case(lambda lib, x: lib.linalg.vander(x), [(2, 4)]),
               Case(lambda lib, x: lib.linalg.vander(x, N=6), [(3,)])],
    "diagonal": [Case(lambda lib, a: lib.linalg.diagonal(a, offset=1), [(2, 3, 4)])],
    "vecdot": [Case(lambda lib, x, y: lib.linalg.vecdot(x, y, dim=0), [(3, 4), (3, 1)])],
    "tensorinv": [Case(lambda lib, a: lib.linalg.tensorinv(a.reshape(4, 6, 8, 3), ind=2),
                       [wellcond(24)], gradcheck=False)],
    "tensorsolve": [Case(lambda lib, a, b: lib.linalg.tensorsolve(a.reshape(2, 3, 6), b),
                         [wellcond(6), (2, 3)]),
                    Case(lambda lib, a, b: lib.linalg.tensorsolve(a.reshape(6, 2, 3), b,
                                                                  dims=(0,)),
                         [wellcond(6), (2, 3)])],
    "lu": [Case(lambda lib, a: tuple(lib.linalg.lu(a)), [wellcond(4, (2,))]),
           Case(_lu_unpack, [(3, 5)], grad=False, gradcheck=False, name="wide"),
           Case(_lu_unpack, [(5, 3)], grad=False, gradcheck=False, name="tall")],
    "lu_solve": [Case(lambda lib, a, b, lf=lf, ad=ad: _lu_solve(lib, a, b, lf, ad),
                      [wellcond(3, (2,)), (2, 3, 3)], name=f"{lf}-{ad}")
                 for lf in (True, False) for ad in (False, True)],
    "legacy": [
        Case(lambda lib, a: lib.inverse(a), [wellcond(3)]),
        Case(lambda lib, a: lib.det(a), [wellcond(3, (2,))]),
        Case(lambda lib, a: lib.logdet(a), [spd(3, (2,))]),
        Case(lambda lib, a: tuple(lib.slogdet(a)), [(3, 3)]),
        Case(_svd_legacy, [(2, 5, 3)]),
        Case(lambda lib, a: lib.svd(a, compute_uv=False)[1], [(2, 5, 3)], name="no uv"),
        Case(lambda lib, a: tuple(lib.qr(a)), [(5, 3)]),
        Case(lambda lib, a: tuple(lib.qr(a, some=False)), [(3, 3)]),
        Case(lambda lib, a: lib.cholesky(_sym(a), upper=True), [spd(3)]),
        Case(lambda lib, b, a: lib.cholesky_solve(b, lib.linalg.cholesky(_sym(a))),
             [(3, 2), spd(3)]),
        Case(lambda lib, b, a: lib.cholesky_solve(b, lib.linalg.cholesky(_sym(a)).mT,
                                                  upper=True),
             [(2, 3, 2), spd(3, (2,))]),
        Case(lambda lib, a: lib.cholesky_inverse(lib.linalg.cholesky(_sym(a))), [spd(3)]),
        Case(lambda lib, a: tuple(lib.lu(a)), [wellcond(3, (2,))]),
        Case(lambda lib, b, a: tuple(lib.triangular_solve(b, a)), [(3, 2), lower(3)]),
        Case(lambda lib, b, a: tuple(lib.triangular_solve(b, a, upper=False, transpose=True)),
             [(2, 3, 2), lower(3, (2,))]),
        Case(lambda lib, a: lib.matrix_power(a, 3), [(3, 3)]),
    ],
    "methods": [
        Case(lambda lib, a: a.inverse() + a.det()[..., None, None], [wellcond(3, (2,))]),
        Case(lambda lib, a: a.logdet(), [spd(3)]),
        Case(lambda lib, a: (a.matrix_power(2), a.matrix_exp(), a.pinverse()), [(3, 3)]),
        Case(lambda lib, a: _sym(a).cholesky(), [spd(3)]),
    ],
}

_CASES = [pytest.param(k, c, id=f"{k}-{i}{'-' + c.name if c.name else ''}")
          for k, cs in list(SPECS.items()) + list(COMPOSITES.items()) for i, c in enumerate(cs)]


@pytest.fixture(autouse=True)
def _quiet():
    # torch warns for its deprecated spellings (torch.lu, triangular_solve) tested on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("name,case", _CASES)
def test_against_torch(name, case):
    for dt in case.dtypes:
        check(case, dt)
    if case.non_contiguous:
        check(case, "float32", non_contiguous=True)


@pytest.mark.parametrize("name,case", [p for p in _CASES if p.values[1].gradcheck])
def test_gradcheck(name, case):
    gradcheck_case(case)


@pytest.fixture(autouse=True)
def _on_device(request):
    """The hand-written tests make their ember tensors on the device under test (the spec
    tests place theirs through ``check``; gradcheck runs on the host in float64)."""
    if request.node.name.startswith(("test_against_torch", "test_gradcheck")):
        yield
        return
    with device_default():
        yield


def _pair(arr):
    return torch.tensor(arr), ember.tensor(arr)


def test_eig_matches_torch():
    a = np.random.default_rng(0).standard_normal((2, 4, 4))
    ta, ea = _pair(a)
    tw, tv = torch.linalg.eig(ta)
    ew, ev = ember.linalg.eig(ea)
    assert str(ew.dtype).endswith("complex128") and str(ev.dtype).endswith("complex128")
    ew, ev = to_numpy(ew), to_numpy(ev)
    np.testing.assert_allclose(ew, tw.numpy(), rtol=1e-10, atol=1e-10)
    # Eigenvectors up to a unit phase per column: compare A V = V diag(w) and |V|.
    np.testing.assert_allclose(np.abs(ev), np.abs(tv.numpy()), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a @ ev, ev * ew[..., None, :],
                               atol=1e-10)
    w32 = ember.linalg.eigvals(ember.tensor(a, dtype=ember.float32))
    assert str(w32.dtype).endswith("complex64")


def test_result_types_and_fields():
    a = np.random.default_rng(1).standard_normal((3, 3)) + 3 * np.eye(3)
    ea = ember.tensor(a)
    r = ember.linalg.slogdet(ea)
    assert r.sign is r[0] and r.logabsdet is r[1]
    assert "linalg_slogdet" in repr(r)
    q = ember.linalg.qr(ea)
    assert q.Q is q[0] and q.R is q[1]
    s = ember.linalg.svd(ea)
    assert s.U is s[0] and s.S is s[1] and s.Vh is s[2]
    e = ember.linalg.eigh(ea)
    assert e.eigenvalues is e[0] and e.eigenvectors is e[1]
    ls = ember.linalg.lstsq(ea, ea)
    assert ls.solution is ls[0] and ls.rank is ls[2]
    assert ember.linalg.inv_ex(ea).info.dtype is ember.int32
    assert ember.linalg.lu_factor(ea).pivots.dtype is ember.int32
    s2 = ember.svd(ea)
    assert s2.V is s2[2]
    assert ember.triangular_solve(ea, ea.tril(), upper=False).cloned_coefficient.shape == (3, 3)


def test_linalg_error_type():
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)
    sing = ember.zeros(3, 3, dtype=ember.float64)
    for fn in (ember.linalg.inv, ember.inverse, ember.linalg.lu_factor,
               lambda a: ember.linalg.solve(a, ember.ones(3, dtype=ember.float64))):
        with pytest.raises(ember.linalg.LinAlgError):
            fn(sing)
    with pytest.raises(torch.linalg.LinAlgError):
        torch.linalg.inv(torch.zeros(3, 3))
    batch = ember.tensor(np.stack([np.eye(3), np.zeros((3, 3))]))
    with pytest.raises(ember.linalg.LinAlgError, match="Batch element 1"):
        ember.linalg.inv(batch)
    with pytest.raises(ember.linalg.LinAlgError, match="leading minor of order 2"):
        ember.linalg.cholesky(ember.tensor(np.diag([1.0, -1.0, 1.0])))
    with pytest.raises(ember.linalg.LinAlgError):
        ember.linalg.inv_ex(sing, check_errors=True)
    with pytest.raises(ember.linalg.LinAlgError):
        ember.linalg.cholesky_ex(-ember.eye(2, dtype=ember.float64), check_errors=True)


def test_ex_infos_match_torch():
    m = np.stack([np.eye(3), np.diag([1.0, 0.0, 2.0]), np.diag([1.0, 2.0, -1.0])])
    t, e = _pair(m)
    assert ember.linalg.inv_ex(e).info.tolist() == torch.linalg.inv_ex(t).info.tolist()
    assert ember.linalg.cholesky_ex(e).info.tolist() == torch.linalg.cholesky_ex(t).info.tolist()
    assert (ember.linalg.lu_factor_ex(e).info.tolist()
            == torch.linalg.lu_factor_ex(t).info.tolist())
    np.testing.assert_allclose(to_numpy(ember.linalg.inv_ex(e).inverse)[0], np.eye(3))


@pytest.mark.parametrize("call", [
    lambda L, a: L.linalg.inv(a[..., :2]),
    lambda L, a: L.linalg.det(a[0]),
    lambda L, a: L.linalg.cholesky(a[..., :2]),
    lambda L, a: L.linalg.inv(a.to(L.int64)),
    lambda L, a: L.linalg.qr(a, mode="bad"),
    lambda L, a: L.linalg.eigh(a, UPLO="X"),
    lambda L, a: L.linalg.solve(a, a[..., :2, :]),
    lambda L, a: L.linalg.matrix_norm(a, 3),
    lambda L, a: L.linalg.norm(a.unsqueeze(0), 2),
    lambda L, a: L.linalg.cross(a[..., :2], a[..., :2]),
    lambda L, a: L.linalg.multi_dot([a]),
    lambda L, a: L.linalg.tensorinv(a[:2], ind=1),
    lambda L, a: L.linalg.lstsq(a, a, driver="nope"),
])
def test_error_types_match_torch(call):
    a = np.random.default_rng(2).standard_normal((3, 3))
    with pytest.raises(Exception) as te:
        call(torch, torch.tensor(a))
    with pytest.raises(Exception) as ee:
        call(ember, ember.tensor(a))
    assert isinstance(ee.value, type(te.value)) or issubclass(type(te.value), type(ee.value))


def test_matrix_power_type_error():
    with pytest.raises(TypeError):
        ember.linalg.matrix_power(ember.eye(2), 1.5)


def test_qr_r_mode_has_no_gradient():
    a = ember.randn(4, 3, dtype=ember.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="mode='r'"):
        ember.linalg.qr(a, mode="r").R.sum().backward()


def test_second_order_gradients():
    """Backward formulas are written in ember ops, so they differentiate again."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)

    def f(lib, x):
        return (lib.linalg.inv(x).sum() + lib.linalg.slogdet(x)[1]
                + lib.linalg.matrix_exp(0.3 * x).sum())
    grads = []
    for lib in (torch, ember):
        x = lib.tensor(a, requires_grad=True)
        (g,) = lib.autograd.grad(f(lib, x), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        grads.append(to_numpy(gg))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-8, atol=1e-8)
