"""Special functions and linear-algebra primitives the distributions need, in NumPy only.

- ``special_lgamma`` (log|Gamma|, via math.lgamma per element: exact to an ulp),
  ``special_polygamma`` (digamma for n=0 and its derivatives, by the recurrence
  psi^(n)(x) = psi^(n)(x+1) - (-1)^n n!/x^(n+1) up to x >= 10 and the asymptotic series there,
  with the reflection formula for negative digamma arguments).
- ``standard_gamma`` sampling with implicit reparameterisation gradients (Figurnov et al.,
  2018): a sample is ``x = F^-1(u; alpha)`` for a uniform ``u``, so ``dx/dalpha =
  -dF/dalpha / p(x)``; F is the regularised lower incomplete gamma function from its power
  series, differentiated term by term.
- ``special_erfinv`` (Halley steps on erf / erfc from a closed-form guess).
- ``cholesky`` and ``solve_triangular`` (batched) with backward passes in ember ops.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import dtypes as _dt
from ..ops.registry import Primitive, register
from ..tensor import Tensor

def _lgamma_scalar(v: float) -> float:
    try:
        return math.lgamma(v)
    except ValueError:  # the poles 0, -1, -2, ...: torch gives +inf there
        return math.inf


_lgamma_u = np.frompyfunc(_lgamma_scalar, 1, 1)
# Bernoulli numbers B_2k for the asymptotic series.
_B2K = (1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6)


def lgamma_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    out = _lgamma_u(x.astype(np.float64))
    return np.asarray(out, dtype=np.float64).astype(x.dtype if x.dtype.kind == "f"
                                                     else np.float32)


def polygamma_np(n: int, x: np.ndarray) -> np.ndarray:
    """psi^(n)(x) in float64 (n = 0: digamma)."""
    x = np.asarray(x, dtype=np.float64).copy()
    acc = np.zeros_like(x)
    if n == 0:
        # Reflection for x < 0.5: psi(x) = psi(1 - x) - pi / tan(pi x).
        neg = x < 0.5
        if np.any(neg):
            with np.errstate(divide="ignore", invalid="ignore"):
                acc = np.where(neg, -np.pi / np.tan(np.pi * x), 0.0)
            x = np.where(neg, 1.0 - x, x)
    sign = -1.0 if n % 2 == 0 else 1.0  # (-1)^(n+1)
    fact = math.factorial(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(64):
            small = x < 10.0
            if not small.any():
                break
            # psi^(n)(x) = psi^(n)(x+1) - (-1)^n n! / x^(n+1)
            acc = acc + np.where(small, sign * fact / x ** (n + 1), 0.0)
            x = np.where(small, x + 1.0, x)
        if n == 0:
            inv2 = 1.0 / (x * x)
            series = np.zeros_like(x)
            p = inv2
            for k, b in enumerate(_B2K, 1):
                series += b / (2 * k) * p
                p = p * inv2
            res = np.log(x) - 0.5 / x - series
        else:
            res = fact / (2 * x ** (n + 1)) + math.factorial(n - 1) / x ** n
            for k, b in enumerate(_B2K, 1):
                res = res + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) \
                    / x ** (2 * k + n)
            res = sign * res
    return res + acc


def _wrap_like(arr, like: Tensor) -> Tensor:
    """A tensor of ``like``'s dtype and device holding the host array ``arr``."""
    from ..ops import registry as _reg
    if like._device.type == "cpu":
        return _reg.make_tensor(np.asarray(arr).astype(like._data.dtype), like._dtype,
                                like._device)
    from ..backend.device import get_xp
    xp = get_xp(like._device)
    with xp.cuda.Device(like._device.index or 0):
        dev = _dt.to_dtype_array(xp.asarray(np.asarray(arr, dtype=np.float64)), like._dtype)
    return _reg.make_tensor(dev, like._dtype, like._device)


def _cupy_special():
    import cupyx.scipy.special as csp
    return csp


def _lgamma_xp(xp, x):
    """lgamma_np on the array's own device (cupyx's gammaln on CUDA, in float64)."""
    if xp is np:
        return lgamma_np(x)
    out = _cupy_special().gammaln(x.astype(xp.float64))
    return out.astype(x.dtype if x.dtype.kind == "f" else xp.float32)


def _polygamma_xp(xp, n: int, x):
    """polygamma_np(n, x) on the array's own device, in float64."""
    if xp is np:
        return polygamma_np(n, x)
    csp = _cupy_special()
    x = x.astype(xp.float64)
    if n == 0:
        return csp.digamma(x)
    # psi^(n)(x) = (-1)^(n+1) n! zeta(n+1, x) for n >= 1 (Hurwitz zeta).
    sign = -1.0 if n % 2 == 0 else 1.0
    return sign * math.factorial(n) * csp.zeta(float(n + 1), x)


@register("special_lgamma")
class LgammaOp(Primitive):
    """log|Gamma(x)|; backward ``g * digamma(x)``."""

    def forward(self, x):
        self.save_for_backward(x)
        return _lgamma_xp(self.xp, x)

    def backward(self, g):
        (x,) = self.saved_tensors
        return g * PolygammaOp.apply(x, n=0)


@register("special_polygamma")
class PolygammaOp(Primitive):
    """psi^(n)(x); backward ``g * psi^(n+1)(x)``."""

    def forward(self, x, n=0):
        self.n = n
        self.save_for_backward(x)
        return _polygamma_xp(self.xp, n, x).astype(x.dtype)

    def backward(self, g):
        (x,) = self.saved_tensors
        return g * PolygammaOp.apply(x, n=self.n + 1)


def lgamma(x: Tensor) -> Tensor:
    return LgammaOp.apply(x)


def digamma(x: Tensor) -> Tensor:
    return PolygammaOp.apply(x, n=0)


def polygamma(n: int, x: Tensor) -> Tensor:
    return PolygammaOp.apply(x, n=n)


# ---------------------------------------------------------------------------------- erfinv
_erf_u = np.frompyfunc(math.erf, 1, 1)
_erfc_u = np.frompyfunc(math.erfc, 1, 1)


def erfinv_np(x: np.ndarray) -> np.ndarray:
    """erf^-1(x) in float64: Winitzki's closed-form guess (~2e-3 relative) polished by Halley
    steps on ``erf(y) = |x|``. For |x| >= 1/2 the residual is ``(1 - |x|) - erfc(y)`` (1 - |x|
    is exact there), so it keeps its relative accuracy as |x| -> 1 where erf(y) -> 1."""
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    inside = ax < 1
    a = np.where(inside, ax, 0.0)
    w = 0.147
    lg = np.log1p(-a * a)
    t = 2.0 / (math.pi * w) + lg / 2
    y = np.sqrt(np.maximum(np.sqrt(t * t - lg / w) - t, 0.0))
    upper = a >= 0.5
    rest = 1.0 - a
    for _ in range(4):
        f = np.where(upper, rest - _erfc_u(y).astype(np.float64),
                     _erf_u(y).astype(np.float64) - a)
        d = (2.0 / math.sqrt(math.pi)) * np.exp(-y * y)
        # Halley: f'' = -2 y f', so y - 2 f f' / (2 f'^2 - f f'') = y - f / (f' + y f).
        y = y - f / (d + y * f)
    out = np.where(inside, y, np.where(ax == 1, np.inf, np.nan))
    return np.copysign(out, x)


def _erfinv_xp(xp, x):
    if xp is np:
        return erfinv_np(x).astype(x.dtype)
    return _cupy_special().erfinv(x.astype(xp.float64)).astype(x.dtype)


@register("special_erfinv")
class ErfinvOp(Primitive):
    """Inverse error function; backward ``g * sqrt(pi)/2 * exp(erfinv(x)^2)``."""

    def forward(self, x):
        self.save_for_backward(x)
        return _erfinv_xp(self.xp, x)

    def backward(self, g):
        (x,) = self.saved_tensors
        y = ErfinvOp.apply(x)  # through the op again, so higher derivatives are right
        return g * ((y * y).exp() * (math.sqrt(math.pi) / 2))


def erfinv(x: Tensor) -> Tensor:
    return ErfinvOp.apply(x)


# ------------------------------------------------------------------------- gamma sampling
def _gamma_cdf_and_dalpha(x: np.ndarray, a: np.ndarray):
    """P(a, x) and dP/da from the series P = sum_k exp((a+k) ln x - x - ln Gamma(a+k+1))."""
    x = np.maximum(x, 1e-300)
    lx = np.log(x)
    lg = lgamma_np(a).astype(np.float64)
    psi = polygamma_np(0, a)
    n_terms = int(min(np.max(x) + 12 * np.sqrt(np.max(x)) + 40, 20000))
    log_term = a * lx - x - lg - np.log(a)   # k = 0: x^a e^-x / (a Gamma(a))
    dlog = lx - psi - 1.0 / a                 # d/da of log_term
    term = np.exp(log_term)
    s = term.copy()
    ds = term * dlog
    for k in range(1, n_terms):
        log_term = log_term + lx - np.log(a + k)
        dlog = dlog - 1.0 / (a + k)
        term = np.exp(log_term)
        s += term
        ds += term * dlog
        if k > 8 and np.all(term < 1e-17 * s):
            break
    return s, ds


def _gamma_log_pdf(x, a):
    x = np.maximum(x, 1e-300)
    return (a - 1) * np.log(x) - x - lgamma_np(a).astype(np.float64)


@register("standard_gamma")
class StandardGammaOp(Primitive):
    """A Gamma(alpha, 1) sample ``F^-1(u; alpha)`` with implicit reparameterised gradients.

    ``u`` (uniforms, a raw array) fixes the sample; ``x0`` (keyword) is a starting point for the
    Newton solve (numpy's own Gamma draw when sampling, so the solve ends at once).
    """

    def forward(self, alpha, u, x0=None):
        # The solve runs on the host: u and x0 come from the host generator (no capture here).
        a = _dt.host_array(alpha).astype(np.float64)
        x = np.asarray(x0, dtype=np.float64).copy() if x0 is not None else np.maximum(a, 1e-3)
        for _ in range(60):
            p, _ = _gamma_cdf_and_dalpha(x, a)
            step = (p - u) / np.exp(_gamma_log_pdf(x, a))
            x_new = np.where(step >= x, x / 2, x - step)  # stay positive
            if np.all(np.abs(x_new - x) <= 1e-14 * np.maximum(x, 1e-300)):
                x = x_new
                break
            x = x_new
        self.x64 = x
        self.save_for_backward(alpha)
        if self.xp is np:
            return x.astype(alpha.dtype)
        with self.xp.cuda.Device(alpha.device.id):
            return self.xp.asarray(x).astype(alpha.dtype)  # back to alpha's device

    def backward(self, g):
        (alpha,) = self.saved_tensors
        a = _dt.host_array(alpha._data).astype(np.float64)
        x = self.x64
        _, dp = _gamma_cdf_and_dalpha(x, a)
        dx = -dp / np.exp(_gamma_log_pdf(x, a))
        return g * _wrap_like(dx, alpha)


def standard_gamma_rsample(alpha: Tensor, generator=None) -> Tensor:
    from ..random import rng_of
    rng = rng_of(generator)
    host = _dt.host_array(alpha._data)
    a = host.astype(np.float64)
    x0 = rng.standard_gamma(a)
    x0 = np.maximum(x0, np.finfo(host.dtype).tiny)
    u, _ = _gamma_cdf_and_dalpha(x0, a)
    return StandardGammaOp.apply(alpha, u, x0=x0)


# -------------------------------------------------------------------------- linear algebra
def _cupy_cholesky(xp, a):
    """CuPy's Cholesky factor; cuSOLVER's failure flag is read (raising LinAlgError) only when
    a host synchronisation is allowed, i.e. not during a CUDA-graph capture."""
    from ..backend.device import host_checks_allowed
    if not host_checks_allowed():
        return xp.linalg.cholesky(a)
    import cupyx
    with cupyx.errstate(linalg="raise"):
        return xp.linalg.cholesky(a)


@register("cholesky")
class CholeskyOp(Primitive):
    """Lower Cholesky factor L of a (batched) symmetric positive-definite A = L L^T.

    Backward (Murray, 2016): ``A_bar = sym(L^-T Phi(L^T L_bar) L^-1)``, Phi taking the lower
    triangle with the diagonal halved.
    """

    def forward(self, a):
        xp = self.xp
        try:
            if xp is np:
                out = np.linalg.cholesky(a)
            else:
                out = _cupy_cholesky(xp, a)
        except np.linalg.LinAlgError:
            raise RuntimeError("linalg.cholesky: The factorization could not be completed "
                               "because the input is not positive-definite.") from None
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (L,) = self.saved_tensors
        P = L.mT.matmul(g).tril()
        n = L.shape[-1]
        from .. import eye
        half = 1.0 - 0.5 * eye(n, dtype=L.dtype, device=L.device)
        P = P * half
        Y = SolveTriangularOp.apply(L.mT, P, upper=True)           # L^-T P
        Z = SolveTriangularOp.apply(L.mT, Y.mT, upper=True)        # L^-T Y^T = (Y L^-1)^T
        S = Z.mT
        return 0.5 * (S + S.mT)


@register("solve_triangular")
class SolveTriangularOp(Primitive):
    """X with A X = B for a triangular A (batched, broadcasting batch dims)."""

    def forward(self, a, b, upper=False):
        self.upper = upper
        self.shapes = (a.shape, b.shape)
        xp = self.xp
        tri = xp.triu(a) if upper else xp.tril(a)
        if b.ndim >= 2 and tri.shape[:-2] != b.shape[:-2]:
            # CuPy's solve wants equal batch dims (NumPy's would broadcast them the same way).
            batch = np.broadcast_shapes(tri.shape[:-2], b.shape[:-2])
            tri = xp.broadcast_to(tri, batch + tri.shape[-2:])
            b = xp.broadcast_to(b, batch + b.shape[-2:])
        out = xp.linalg.solve(tri, b)
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, x = self.saved_tensors
        need = self.needs_input_grad
        gb = SolveTriangularOp.apply(a.mT, g, upper=not self.upper)
        ga = None
        if need[0]:
            ga = -gb.matmul(x.mT)
            ga = ga.triu() if self.upper else ga.tril()
            ga = _sum_to(ga, self.shapes[0])
        gb = _sum_to(gb, self.shapes[1]) if need[1] else None
        return ga, gb


def _sum_to(t, shape):
    from ..ops.elementwise import sum_to
    if tuple(t.shape) == tuple(shape):
        return t
    return sum_to(t, tuple(shape))


def cholesky(a: Tensor) -> Tensor:
    return CholeskyOp.apply(a)


def solve_triangular(a: Tensor, b: Tensor, upper: bool = False) -> Tensor:
    return SolveTriangularOp.apply(a, b, upper=upper)
