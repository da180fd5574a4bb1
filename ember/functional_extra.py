"""Top-level torch functions composed from ember's ops: running extrema with indices, NaN-aware
statistics, numerical integration and differentiation, bit-level float helpers, and a few
element-wise conveniences. Autograd comes from the ops they are built on.
"""
from __future__ import annotations

import collections
import itertools
import math

from . import functional as F
from .backend import dtypes as _dt
from .creation import arange, full_like, ones_like, tensor, zeros
from .tensor import Tensor

__all__ = ["cummax", "cummin", "nanmedian", "nanquantile", "trapezoid", "trapz",
           "cumulative_trapezoid", "gradient", "deg2rad", "rad2deg", "heaviside", "logaddexp2",
           "copysign", "signbit", "ldexp", "frexp", "isin", "cov", "corrcoef", "combinations",
           "renorm", "vander", "lgamma", "digamma", "polygamma", "logit", "sinc"]


def _scan(xp, a, axis: int, fn):
    """Inclusive running ``fn`` (maximum/minimum) along ``axis`` by doubling steps: works the
    same on NumPy and CuPy arrays, NaN propagating as ``fn`` does."""
    a = xp.moveaxis(a, axis, -1).copy()
    n = a.shape[-1]
    shift = 1
    while shift < n:
        nxt = a.copy()
        nxt[..., shift:] = fn(a[..., shift:], a[..., :-shift])
        a = nxt
        shift *= 2
    return xp.moveaxis(a, -1, axis)


def _cum_extreme(input: Tensor, dim: int, largest: bool):
    from .tensor import make_tensor
    if input.dim() == 0:
        return F._ValuesIndices(input.clone(), zeros((), dtype=_dt.int64, device=input.device))
    dim = dim % input.dim()
    x = input.detach()._data
    xp = _xp(input)
    run = _scan(xp, x, dim, xp.maximum if largest else xp.minimum)
    hit = x == run
    if input.dtype.is_floating_point:
        hit |= xp.isnan(x)
    shape = [1] * x.ndim
    shape[dim] = x.shape[dim]
    pos = xp.arange(x.shape[dim], dtype=xp.int64).reshape(shape)
    # The latest position that reached the running extreme (torch keeps the last of ties).
    idx = _scan(xp, xp.where(hit, pos, -1), dim, xp.maximum)
    indices = make_tensor(idx, _dt.int64, input.device)
    return F._ValuesIndices(input.gather(dim, indices), indices)


def _xp(t: Tensor):
    from .backend.device import get_xp
    return get_xp(t.device)


def cummax(input: Tensor, dim: int):
    """Running maximum along ``dim`` and the index where each running value was reached."""
    return _cum_extreme(input, dim, True)


def cummin(input: Tensor, dim: int):
    """Running minimum along ``dim`` and the index where each running value was reached."""
    return _cum_extreme(input, dim, False)


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """The median ignoring NaN (the lower of the two middle values, as torch.median)."""
    if dim is None:
        flat = input.reshape(-1)
        r = nanmedian(flat, 0)
        return r.values
    dim = dim % max(input.dim(), 1)
    n_valid = (~F.isnan(input)).sum(dim, keepdim=True)
    # NaN sorts last: the k-th valid value, k = (n_valid - 1) // 2 (0 if all are NaN).
    vals, idx = F.sort(input, dim)
    k = ((n_valid - 1).clamp(min=0)) // 2
    values = vals.gather(dim, k)
    indices = idx.gather(dim, k)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return F._ValuesIndices(values, indices)


def nanquantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """torch.nanquantile: quantiles of the non-NaN values (NaN where a slice is all NaN)."""
    qt = q if isinstance(q, Tensor) else tensor(q, dtype=input.dtype, device=input.device)
    scalar_q = qt.dim() == 0
    qt = qt.reshape(-1)
    if dim is None:
        x, dim_ = input.reshape(-1), 0
    else:
        x, dim_ = input, dim % max(input.dim(), 1)
    x = x.movedim(dim_, -1)
    vals, _ = F.sort(x, -1)                                    # NaN last
    n = (~F.isnan(x)).sum(-1, keepdim=True).to(input.dtype)    # valid count per slice
    pos = qt.reshape((1,) * (vals.dim() - 1) + (-1,)) * (n - 1).clamp(min=0)
    lo = pos.floor()
    hi = pos.ceil()
    if interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    elif interpolation == "nearest":
        lo = hi = pos.round()
    v_lo = vals.gather(-1, lo.long())
    v_hi = vals.gather(-1, hi.long())
    if interpolation == "midpoint":
        out = (v_lo + v_hi) / 2
    elif interpolation == "linear":
        out = v_lo + (v_hi - v_lo) * (pos - lo)
    else:
        out = v_lo
    out = F.where(n == 0, full_like(out, math.nan), out)     # all-NaN slice
    out = out.movedim(-1, 0)                                   # q first, as torch
    if keepdim:
        if dim is None:
            out = out.reshape((out.shape[0],) + (1,) * input.dim())
        else:
            out = out.unsqueeze(dim_ + 1)
    return out[0] if scalar_q else out


def trapezoid(y: Tensor, x: Tensor | None = None, *, dx=None, dim: int = -1) -> Tensor:
    """Integral of ``y`` along ``dim`` by the trapezoid rule (sample points ``x`` or spacing
    ``dx``, default 1)."""
    n = y.shape[dim]
    if n == 0:
        return y.sum(dim) * 0
    a = y.narrow(dim, 1, n - 1)
    b = y.narrow(dim, 0, n - 1)
    if x is not None:
        d = F.diff(x, dim=dim if x.dim() == y.dim() else -1)
        if x.dim() == 1 and y.dim() > 1:
            shape = [1] * y.dim()
            shape[dim] = n - 1
            d = d.reshape(shape)
        return ((a + b) * d).sum(dim) / 2
    return (a + b).sum(dim) * ((1.0 if dx is None else dx) / 2)


trapz = trapezoid


def cumulative_trapezoid(y: Tensor, x: Tensor | None = None, *, dx=None,
                         dim: int = -1) -> Tensor:
    n = y.shape[dim]
    a = y.narrow(dim, 1, max(n - 1, 0))
    b = y.narrow(dim, 0, max(n - 1, 0))
    if x is not None:
        d = F.diff(x, dim=dim if x.dim() == y.dim() else -1)
        if x.dim() == 1 and y.dim() > 1:
            shape = [1] * y.dim()
            shape[dim] = n - 1
            d = d.reshape(shape)
        return ((a + b) * d / 2).cumsum(dim)
    return ((a + b) * ((1.0 if dx is None else dx) / 2)).cumsum(dim)


def gradient(input: Tensor, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """torch.gradient: central differences inside, one-sided (first or second order) at the
    edges; ``spacing`` a scalar, a list of scalars or a list of coordinate tensors."""
    dims = list(range(input.dim())) if dim is None else \
        ([dim] if isinstance(dim, int) else list(dim))
    if not isinstance(spacing, (list, tuple)):
        spacing = [spacing] * len(dims)
    if edge_order not in (1, 2):
        raise ValueError("torch.gradient only supports edge_order=1 and edge_order=2.")
    outs = []
    for d, h in zip(dims, spacing):
        d = d % input.dim()
        n = input.shape[d]
        if n < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1")
        f = input if input.dtype.is_floating_point else input.to(_dt.get_default_dtype())
        if isinstance(h, Tensor):
            outs.append(_gradient_coords(f, h, d, edge_order))
            continue
        mid = (f.narrow(d, 2, n - 2) - f.narrow(d, 0, n - 2)) / (2 * h)
        if edge_order == 1:
            first = (f.narrow(d, 1, 1) - f.narrow(d, 0, 1)) / h
            last = (f.narrow(d, n - 1, 1) - f.narrow(d, n - 2, 1)) / h
        else:
            first = (-1.5 * f.narrow(d, 0, 1) + 2 * f.narrow(d, 1, 1)
                     - 0.5 * f.narrow(d, 2, 1)) / h
            last = (0.5 * f.narrow(d, n - 3, 1) - 2 * f.narrow(d, n - 2, 1)
                    + 1.5 * f.narrow(d, n - 1, 1)) / h
        outs.append(F.cat([first, mid, last], d))
    return tuple(outs)


def _gradient_coords(f: Tensor, x: Tensor, d: int, edge_order: int) -> Tensor:
    """Non-uniform spacing: numpy/torch's second-order interior formula."""
    n = f.shape[d]
    shape = [1] * f.dim()
    shape[d] = -1
    hs = F.diff(x).to(f.dtype).reshape(shape)
    h0 = hs.narrow(d, 0, n - 2)
    h1 = hs.narrow(d, 1, n - 2)
    fl, fc, fr = f.narrow(d, 0, n - 2), f.narrow(d, 1, n - 2), f.narrow(d, 2, n - 2)
    mid = (-h1 / (h0 * (h0 + h1)) * fl + (h1 - h0) / (h0 * h1) * fc
           + h0 / (h1 * (h0 + h1)) * fr)
    if edge_order != 1:
        raise NotImplementedError("torch.gradient with coordinate spacing: edge_order=1 only")
    first = (f.narrow(d, 1, 1) - f.narrow(d, 0, 1)) / hs.narrow(d, 0, 1)
    last = (f.narrow(d, n - 1, 1) - f.narrow(d, n - 2, 1)) / hs.narrow(d, n - 2, 1)
    return F.cat([first, mid, last], d)


def deg2rad(input: Tensor) -> Tensor:
    x = input if input.dtype.is_floating_point else input.to(_dt.get_default_dtype())
    return x * (math.pi / 180.0)


def rad2deg(input: Tensor) -> Tensor:
    x = input if input.dtype.is_floating_point else input.to(_dt.get_default_dtype())
    return x * (180.0 / math.pi)


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """0 below zero, 1 above, ``values`` at zero."""
    if input.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    pos = (input > 0).to(input.dtype)
    return F.where(input == 0, values, pos)


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    ln2 = math.log(2.0)
    return F.logaddexp(input * ln2, other * ln2) / ln2


def signbit(input: Tensor) -> Tensor:
    """True where the sign bit is set (negative numbers, -0.0 and NaNs with the bit set)."""
    xp = _xp(input)
    from .tensor import make_tensor
    return make_tensor(xp.signbit(input.detach()._data), _dt.bool_, input.device)


def copysign(input, other) -> Tensor:
    """|input| with the sign of ``other`` (-0.0 counts as negative)."""
    a = input if isinstance(input, Tensor) else tensor(input)
    if not a.dtype.is_floating_point:
        a = a.to(_dt.get_default_dtype())
    if isinstance(other, Tensor):
        neg = signbit(other)
    else:
        neg = tensor(math.copysign(1.0, other) < 0, device=a.device)
    mag = a.abs()
    return F.where(neg, -mag, mag)


def ldexp(input: Tensor, other: Tensor) -> Tensor:
    """input * 2**other."""
    x = input if input.dtype.is_floating_point else input.to(_dt.get_default_dtype())
    return x * F.pow(2.0, other.to(x.dtype) if isinstance(other, Tensor) else other)


_Frexp = collections.namedtuple("frexp", ["mantissa", "exponent"])


def frexp(input: Tensor):
    """(mantissa, exponent) with input = mantissa * 2**exponent, |mantissa| in [0.5, 1)."""
    if not input.dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    xp = _xp(input)
    m, e = xp.frexp(input.detach()._data)
    from .tensor import make_tensor
    return _Frexp(make_tensor(m.astype(input.detach()._data.dtype), input.dtype, input.device),
                 make_tensor(e.astype("int32"), _dt.int32, input.device))


def isin(elements, test_elements, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    e = elements if isinstance(elements, Tensor) else tensor(elements)
    t = test_elements if isinstance(test_elements, Tensor) else tensor(test_elements,
                                                                        device=e.device)
    hit = (e.detach().unsqueeze(-1) == t.detach().reshape(-1)).any(-1)
    return ~hit if invert else hit


def cov(input: Tensor, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """Covariance of the rows (variables) of ``input`` over its columns (observations)."""
    x = input if input.dim() == 2 else input.reshape(1, -1)
    if not x.dtype.is_floating_point:
        x = x.to(_dt.get_default_dtype())
    w = None
    if fweights is not None:
        w = fweights.to(x.dtype)
    if aweights is not None:
        w = aweights.to(x.dtype) if w is None else w * aweights.to(x.dtype)
    if w is None:
        n = x.shape[1]
        mean = x.mean(1, keepdim=True)
        xc = x - mean
        c = xc @ xc.t() / max(n - correction, 0)
    else:
        wsum = w.sum()
        mean = (x * w).sum(1, keepdim=True) / wsum
        xc = x - mean
        if aweights is None or correction == 0:
            norm = wsum - correction
        else:
            norm = wsum - correction * (w * aweights.to(x.dtype)).sum() / wsum
        c = (xc * w) @ xc.t() / norm
    return c.squeeze() if input.dim() < 2 else c


def corrcoef(input: Tensor) -> Tensor:
    c = cov(input)
    if c.dim() == 0:
        return c / c
    d = c.diagonal().sqrt()
    out = c / d.unsqueeze(1) / d.unsqueeze(0)
    return out.clamp(-1, 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """All length-``r`` combinations of the 1-D ``input``'s elements, one per row."""
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    n = input.shape[0]
    gen = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    combos = list(gen(range(n), r)) if r > 0 else []  # torch: r=0 gives an empty vector
    if not combos:
        return zeros((0,) if r == 0 else (0, r), dtype=input.dtype, device=input.device)
    idx = tensor(combos, dtype=_dt.int64, device=input.device)
    return input[idx.reshape(-1)].reshape(len(combos), r)


def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each slice along ``dim`` rescaled so its p-norm is at most ``maxnorm``."""
    dims = [d for d in range(input.dim()) if d != dim % input.dim()]
    norms = input.abs().pow(p).sum(dims, keepdim=True).pow(1.0 / p) if p != float("inf") \
        else input.abs().amax(dims, keepdim=True)
    scale = F.where(norms > maxnorm, maxnorm / (norms + 1e-7), ones_like(norms))
    return input * scale


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of the 1-D ``x``: columns x**(N-1) ... x**0 (or increasing)."""
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    powers = arange(n, device=x.device)
    if not increasing:
        powers = powers.flip(0)
    base = x if x.dtype.is_floating_point or x.dtype.is_complex else x.to(_dt.int64)
    return base.unsqueeze(-1) ** powers.to(base.dtype)


def lgamma(input: Tensor) -> Tensor:
    from . import special
    return special.gammaln(input)


def digamma(input: Tensor) -> Tensor:
    from . import special
    return special.digamma(input)


def polygamma(n: int, input: Tensor) -> Tensor:
    from . import special
    return special.polygamma(n, input)


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    from . import special
    return special.logit(input, eps)


def sinc(input: Tensor) -> Tensor:
    from . import special
    return special.sinc(input)


def _bind_methods() -> None:
    """Tensor methods of the same names (``t.cummax(0)``, ``t.lgamma()``, ...)."""
    import sys
    mod = sys.modules[__name__]
    for name in ("cummax", "cummin", "nanmedian", "nanquantile", "deg2rad", "rad2deg",
                 "heaviside", "logaddexp2", "copysign", "signbit", "ldexp", "frexp", "cov",
                 "corrcoef", "renorm", "lgamma", "digamma", "logit", "sinc"):
        if not hasattr(Tensor, name):
            setattr(Tensor, name, getattr(mod, name))
    if not hasattr(Tensor, "polygamma"):
        Tensor.polygamma = lambda self, n: polygamma(n, self)


_bind_methods()
