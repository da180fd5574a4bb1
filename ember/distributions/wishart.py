"""``Wishart(df, covariance_matrix | precision_matrix | scale_tril)`` over positive-definite
matrices, with a reparameterised Bartlett-decomposition sampler."""
from __future__ import annotations

import math
from typing import Optional

import ember as E
from ..tensor import Tensor
from . import _special as S
from . import constraints
from .continuous import Gamma, _derived_from_tril, _scale_tril_of
from .distribution import Distribution, _standard_normal
from .lkj import _mvlgamma

__all__ = ["Wishart"]


def _mvdigamma(a: Tensor, p: int) -> Tensor:
    # d/da log Gamma_p(a) = sum_j digamma(a - j / 2).
    out = S.digamma(a)
    for j in range(1, p):
        out = out + S.digamma(a - 0.5 * j)
    return out


class Wishart(Distribution):
    """Wishart distribution of ``X = sum_k z_k z_k^T`` with ``df`` degrees of freedom and
    ``z_k ~ N(0, Sigma)``; give exactly one of covariance_matrix, precision_matrix or
    scale_tril for ``Sigma``. ``df`` must exceed ``p - 1`` (``p`` the matrix size)."""

    # Instances replace this with a df bound of p - 1 once the matrix size is known.
    arg_constraints = {"covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky,
                       "df": constraints.greater_than(0)}
    support = constraints.positive_definite
    has_rsample = True

    def __init__(self, df, covariance_matrix: Optional[Tensor] = None,
                 precision_matrix: Optional[Tensor] = None,
                 scale_tril: Optional[Tensor] = None,
                 validate_args: Optional[bool] = None) -> None:
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or "
                                 "scale_tril may be specified.")
        mat = given[0]
        if mat.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        p = mat.shape[-1]
        if not isinstance(df, Tensor):
            df = E.tensor(float(df), dtype=mat.dtype, device=mat.device)
        batch = tuple(E.broadcast_shapes(tuple(df.shape), tuple(mat.shape[:-2])))
        if bool((df <= p - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {p - 1}.")
        self.df = df.expand(batch)
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(batch + (p, p))
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(batch + (p, p))
        else:
            self.precision_matrix = precision_matrix.expand(batch + (p, p))
        self._unbroadcasted_scale_tril = _scale_tril_of(scale_tril, covariance_matrix,
                                                        precision_matrix)
        self.arg_constraints = {"covariance_matrix": constraints.positive_definite,
                                "precision_matrix": constraints.positive_definite,
                                "scale_tril": constraints.lower_cholesky,
                                "df": constraints.greater_than(p - 1)}
        super().__init__(batch, (p, p), validate_args)

    def expand(self, batch_shape, _instance=None) -> "Wishart":
        new = self._expand_params(Wishart, batch_shape, ("df", "covariance_matrix",
                                                         "precision_matrix", "scale_tril"),
                                  _instance)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        new.arg_constraints = self.arg_constraints
        return new

    def _mat_shape(self) -> tuple:
        return tuple(self._batch_shape) + tuple(self._event_shape)

    def __getattr__(self, name):
        # covariance_matrix / precision_matrix / scale_tril derived on demand.
        if name.startswith("__") or "_unbroadcasted_scale_tril" not in self.__dict__:
            raise AttributeError(name)
        return _derived_from_tril(self._unbroadcasted_scale_tril, name, self._mat_shape())

    def _cov(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return L.matmul(L.mT)

    @property
    def mean(self) -> Tensor:
        return self.df.unsqueeze(-1).unsqueeze(-1) * self._cov()

    @property
    def mode(self) -> Tensor:
        p = self._event_shape[-1]
        factor = (self.df - p - 1).unsqueeze(-1).unsqueeze(-1)
        out = (factor * self._cov()).expand(self._mat_shape())
        # The mode exists only for df >= p + 1 (and is degenerate at equality).
        bad = (self.df <= p + 1).unsqueeze(-1).unsqueeze(-1).expand(self._mat_shape())
        return E.where(bad, E.full_like(out, math.nan), out)

    @property
    def variance(self) -> Tensor:
        # Var X_ij = df (Sigma_ij^2 + Sigma_ii Sigma_jj).
        v = self._cov()
        d = v.diagonal(0, -2, -1)
        outer = d.unsqueeze(-1) * d.unsqueeze(-2)
        return (self.df.unsqueeze(-1).unsqueeze(-1) * (v.pow(2) + outer)).expand(
            self._mat_shape())

    def rsample(self, sample_shape=(), max_try_correction=None) -> Tensor:
        """Bartlett decomposition: ``X = L A A^T L^T`` with ``A`` lower triangular,
        ``A_ii^2 ~ Chi2(df - i)`` and standard normal entries below the diagonal."""
        p = self._event_shape[-1]
        shape = tuple(sample_shape) + tuple(self._batch_shape)
        df = self.df
        i = E.arange(p, dtype=df.dtype, device=df.device)
        conc = 0.5 * (df.unsqueeze(-1) - i)
        chi2 = Gamma(conc, E.full_like(conc, 0.5)).rsample(tuple(sample_shape))
        noise = _standard_normal(shape + (p, p), df).tril(-1)
        a = noise + E.diag_embed(chi2.sqrt())
        la = self._unbroadcasted_scale_tril.matmul(a)
        return la.matmul(la.mT)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        p = self._event_shape[-1]
        nu = self.df
        L = self._unbroadcasted_scale_tril
        half_logdet_sigma = L.diagonal(0, -2, -1).log().sum(-1)
        half_logdet_x = S.cholesky(value).diagonal(0, -2, -1).log().sum(-1)
        # tr(Sigma^-1 X) = |L^-1 chol(X)|_F^2.
        lx = S.cholesky(value)
        batch = tuple(E.broadcast_shapes(tuple(L.shape[:-2]), tuple(lx.shape[:-2])))
        z = S.solve_triangular(L.expand(batch + (p, p)), lx.expand(batch + (p, p)))
        trace = z.pow(2).sum((-2, -1))
        return (-0.5 * nu * p * math.log(2) - nu * half_logdet_sigma
                - _mvlgamma(0.5 * nu, p) + (nu - p - 1) * half_logdet_x - 0.5 * trace)

    def entropy(self) -> Tensor:
        p = self._event_shape[-1]
        nu = self.df
        half_logdet_sigma = self._unbroadcasted_scale_tril.diagonal(0, -2, -1).log().sum(-1)
        return ((p + 1) * half_logdet_sigma + 0.5 * p * (p + 1) * math.log(2)
                + _mvlgamma(0.5 * nu, p) - 0.5 * (nu - p - 1) * _mvdigamma(0.5 * nu, p)
                + 0.5 * nu * p)
