"""Oracle cases for the primitives registered by ember.distributions."""
from __future__ import annotations

import numpy as np
import scipy.special

from oracle import Case


def positive(shape, lo=0.3, hi=4.0):
    return lambda rng: rng.uniform(lo, hi, shape)


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


def _special(lib):
    import ember
    if lib is ember:
        from ember.distributions import _special
        return _special
    return None


def lgamma(lib, x):
    s = _special(lib)
    return s.lgamma(x) if s else lib.lgamma(x)


def polygamma(n):
    def fn(lib, x):
        s = _special(lib)
        return s.polygamma(n, x) if s else lib.polygamma(n, x)
    return fn


def cholesky(lib, a):
    s = _special(lib)
    a = (a + a.mT) / 2  # gradients of the symmetric part, as torch reads only one triangle
    return s.cholesky(a) if s else lib.linalg.cholesky(a)


def solve(upper):
    def fn(lib, a, b):
        s = _special(lib)
        if s:
            return s.solve_triangular(a, b, upper=upper)
        return lib.linalg.solve_triangular(a, b, upper=upper)
    return fn


_U = np.array([0.2, 0.5, 0.9, 0.05])


def standard_gamma(lib, alpha):
    """x = F^-1(u; alpha) for fixed u. torch side: scipy's gammaincinv for the values and
    torch._standard_gamma_grad for dx/dalpha."""
    s = _special(lib)
    if s:
        return s.StandardGammaOp.apply(alpha, _U[:alpha.shape[0]])

    class G(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            x = lib.tensor(scipy.special.gammaincinv(a.detach().double().numpy(),
                                                     _U[:a.shape[0]]), dtype=a.dtype)
            ctx.save_for_backward(a, x)
            return x

        @staticmethod
        def backward(ctx, g):
            a, x = ctx.saved_tensors
            return g * lib._standard_gamma_grad(a, x)
    return G.apply(alpha)


SPECS = {
    "special_lgamma": [
        Case(lgamma, [positive((3, 4), 0.1, 8.0)]),
        Case(lgamma, [lambda rng: rng.uniform(-3.9, -0.1, (5,))], name="negative",
             non_contiguous=False),
    ],
    "special_polygamma": [
        Case(polygamma(0), [positive((3, 4), 0.1, 30.0)], name="digamma"),
        Case(polygamma(0), [lambda rng: rng.uniform(-2.9, -0.1, (6,))], name="digamma-neg",
             non_contiguous=False),
        # torch's own trigamma is good to ~1e-9 (ours matches scipy to 1e-14): float32 only.
        Case(polygamma(1), [positive((2, 5), 0.2, 15.0)], name="trigamma",
             dtypes=("float32",)),
        Case(polygamma(2), [positive((4,), 0.5, 12.0)], name="n=2", gradcheck=False),
    ],
    "standard_gamma": [
        # torch._standard_gamma_grad is an approximation good to ~1e-5 relative (ours
        # matches scipy's gammaincinv derivative to 1e-9): float32 with a looser tolerance.
        Case(standard_gamma, [positive((4,), 0.5, 6.0)], dtypes=("float32",),
             tol=(1e-4, 1e-5), non_contiguous=False),
    ],
    "cholesky": [
        Case(cholesky, [spd(3)]),
        Case(cholesky, [spd(2, (2,))], name="batched"),
    ],
    "solve_triangular": [
        Case(solve(False), [lower(3), (3, 2)]),
        Case(solve(True), [lambda rng: np.ascontiguousarray(
            np.swapaxes(lower(3, (2,))(rng), -1, -2)), (2, 3, 4)],
             name="upper-batched"),
        Case(solve(False), [lower(2), (3, 2, 1)], name="broadcast"),
    ],
}
