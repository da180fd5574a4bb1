"""``torch.special``: special functions, composed from ember's primitives.

Example:
    >>> ember.special.expit(ember.tensor([0.0]))
    tensor([0.5000])
"""
from __future__ import annotations

import math

from . import functional as _F
from .backend import dtypes as _dt
from .creation import full_like, ones_like, tensor, zeros_like
from .tensor import Tensor

__all__ = ["erf", "erfc", "erfinv", "expit", "logit", "exp2", "expm1", "log1p", "xlogy",
           "xlog1py", "gammaln", "digamma", "psi", "polygamma", "multigammaln", "sinc",
           "logsumexp", "softmax", "log_softmax", "round", "entr", "ndtr", "ndtri", "log_ndtr"]

erf = _F.erf
erfc = _F.erfc
erfinv = _F.erfinv
expit = _F.sigmoid
exp2 = _F.exp2
expm1 = _F.expm1
log1p = _F.log1p
xlogy = _F.xlogy
logsumexp = _F.logsumexp
round = _F.round


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.is_floating_point else x.to(_dt.get_default_dtype())


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """log(p / (1 - p)); with ``eps`` the input is first clamped to [eps, 1 - eps]."""
    x = _float(input)
    if eps is not None:
        x = x.clamp(eps, 1 - eps)
    return (x / (1 - x)).log()


def xlog1py(input, other) -> Tensor:
    """``input * log1p(other)``, 0 where ``input`` is 0 (unless ``other`` is NaN)."""
    x = input if isinstance(input, Tensor) else tensor(input)
    y = other if isinstance(other, Tensor) else tensor(other, device=x.device)
    out = x * _F.log1p(y)
    return _F.where((x == 0) & ~_F.isnan(y), zeros_like(out), out)


def gammaln(input: Tensor) -> Tensor:
    from .distributions._special import lgamma
    return lgamma(_float(input))


def digamma(input: Tensor) -> Tensor:
    from .distributions._special import digamma as _digamma
    return _digamma(_float(input))


psi = digamma


def polygamma(n: int, input: Tensor) -> Tensor:
    from .distributions._special import polygamma as _polygamma
    return _polygamma(n, _float(input))


def multigammaln(input: Tensor, p: int) -> Tensor:
    """log of the multivariate gamma function of dimension ``p``."""
    x = _float(input)  # like torch 2.13, no domain check: (p-1)/2 or below gives inf/garbage
    terms = [gammaln(x - j / 2) for j in range(p)]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out + p * (p - 1) / 4 * math.log(math.pi)


def sinc(input: Tensor) -> Tensor:
    """sin(pi x) / (pi x), 1 at 0."""
    x = _float(input)
    px = x * math.pi
    safe = _F.where(x == 0, ones_like(px), px)
    return _F.where(x == 0, ones_like(px), safe.sin() / safe)


def entr(input: Tensor) -> Tensor:
    """-x log x for x > 0, 0 at 0, -inf below 0."""
    x = _float(input)
    safe = _F.where(x > 0, x, ones_like(x))
    out = -x * safe.log()
    out = _F.where(x == 0, zeros_like(out), out)
    return _F.where(x < 0, full_like(out, -math.inf), out)


def ndtr(input: Tensor) -> Tensor:
    """The standard normal CDF."""
    return 0.5 * (1 + _F.erf(_float(input) * (1 / math.sqrt(2))))


def ndtri(input: Tensor) -> Tensor:
    """The inverse of the standard normal CDF."""
    return math.sqrt(2) * _F.erfinv(2 * _float(input) - 1)


def log_ndtr(input: Tensor) -> Tensor:
    return ndtr(input).log()


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    from .nn import functional as NF
    return NF.softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    from .nn import functional as NF
    return NF.log_softmax(input, dim, dtype=dtype)
