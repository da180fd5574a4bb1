"""``CorrCholeskyTransform`` (unconstrained vectors to Cholesky factors of correlation
matrices) and ``LKJCholesky``, the LKJ distribution over those factors."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

import ember as E
from ..tensor import Tensor
from . import _special as S
from . import constraints
from .constraint_registry import biject_to, transform_to
from .continuous import Beta
from .distribution import Distribution, _finfo, _size, _standard_normal, broadcast_all
from .transforms import Transform, _softplus

__all__ = ["CorrCholeskyTransform", "LKJCholesky"]


def _tril_gather_index(d: int, offset: int) -> np.ndarray:
    """For a ``(d, d)`` matrix, the index into ``[vec, 0]`` of every entry: the entries with
    ``col - row <= offset`` take the vector in row-major order, the rest the trailing zero."""
    rows, cols = np.indices((d, d))
    mask = (cols - rows) <= offset
    n = int(mask.sum())
    idx = np.full((d, d), n, dtype=np.int64)
    idx[mask] = np.arange(n)
    return idx.reshape(-1)


def _vec_to_tril(vec: Tensor, d: int, offset: int) -> Tensor:
    zero = E.zeros(tuple(vec.shape[:-1]) + (1,), dtype=vec.dtype, device=vec.device)
    idx = E.tensor(_tril_gather_index(d, offset), device=vec.device)
    return E.cat([vec, zero], -1)[..., idx].reshape(tuple(vec.shape[:-1]) + (d, d))


def _tril_to_vec(mat: Tensor, offset: int) -> Tensor:
    d = mat.shape[-1]
    rows, cols = np.indices((d, d))
    flat = np.nonzero(((cols - rows) <= offset).reshape(-1))[0]
    idx = E.tensor(flat.astype(np.int64), device=mat.device)
    return mat.reshape(tuple(mat.shape[:-2]) + (d * d,))[..., idx]


def _dim_from_vec(n: int) -> int:
    d = int(round((1 + math.sqrt(1 + 8 * n)) / 2))
    if d * (d - 1) // 2 != n:
        raise ValueError("Input is not a flattened lower-diagonal number")
    return d


class CorrCholeskyTransform(Transform):
    """Maps a vector of ``D (D - 1) / 2`` reals to the lower Cholesky factor of a ``D x D``
    correlation matrix: ``tanh`` gives partial correlations (row-major, below the diagonal),
    then each row is built by stick breaking so that it has unit norm and a positive
    diagonal."""

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    def __eq__(self, other) -> bool:
        return isinstance(other, CorrCholeskyTransform)

    __hash__ = object.__hash__

    def _call(self, x: Tensor) -> Tensor:
        d = _dim_from_vec(x.shape[-1])
        eye = E.eye(d, dtype=x.dtype, device=x.device)
        r = _vec_to_tril(x.tanh(), d, -1)
        # y_ij = r_ij prod_{k<j} sqrt(1 - r_ik^2): the part of row i's unit length left after
        # columns 0..j-1; the diagonal takes what remains.
        left = (1 - r.pow(2)).sqrt().cumprod(-1)
        ones = E.ones(tuple(left.shape[:-1]) + (1,), dtype=x.dtype, device=x.device)
        left = E.cat([ones, left[..., :-1]], -1)
        return (r + eye) * left

    def _inverse(self, y: Tensor) -> Tensor:
        # 1 - sum_{k<j} y_ik^2 is the remaining squared length before column j.
        rem = 1 - y.pow(2).cumsum(-1)
        ones = E.ones(tuple(rem.shape[:-1]) + (1,), dtype=y.dtype, device=y.device)
        # Past the diagonal nothing remains (0 / 0): clamp so those dropped entries, and
        # their zero gradients, stay finite.
        rem = E.cat([ones, rem[..., :-1]], -1).clamp(min=float(_finfo(y.dtype).tiny))
        r = _tril_to_vec(y / rem.sqrt(), -1)
        r = r.clamp(-1 + float(_finfo(y.dtype).eps), 1 - float(_finfo(y.dtype).eps))
        return 0.5 * ((r).log1p() - (-r).log1p())

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor, intermediates=None) -> Tensor:
        # The map r -> y is triangular within each row with dy_ij/dr_ij = sqrt(remaining
        # length before column j); the tanh contributes log(1 - tanh^2 x).
        rem = 1 - y.pow(2).cumsum(-1)
        stick = 0.5 * _tril_to_vec(rem, -2).log().sum(-1)
        tanh_part = 2 * (math.log(2) - x - _softplus(-2 * x)).sum(-1)
        return stick + tanh_part

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        d = _dim_from_vec(shape[-1])
        return _size(tuple(shape[:-1]) + (d, d))

    def inverse_shape(self, shape):
        if len(shape) < 2:
            raise ValueError("Too few dimensions on input")
        if shape[-1] != shape[-2]:
            raise ValueError("Input is not square")
        d = shape[-1]
        return _size(tuple(shape[:-2]) + (d * (d - 1) // 2,))


@biject_to.register(constraints.corr_cholesky)
@transform_to.register(constraints.corr_cholesky)
def _to_corr_cholesky(constraint):
    return CorrCholeskyTransform()


def _mvlgamma(a: Tensor, p: int) -> Tensor:
    # log of the multivariate gamma function Gamma_p(a).
    out = p * (p - 1) / 4 * math.log(math.pi)
    for j in range(p):
        out = out + S.lgamma(a - 0.5 * j)
    return out


class LKJCholesky(Distribution):
    """LKJ distribution over lower Cholesky factors ``L`` of ``dim x dim`` correlation
    matrices, with density proportional to ``det(L L^T)^(concentration - 1)`` on the
    correlation matrix. Sampling uses the onion method."""

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim: int, concentration=1.0,
                 validate_args: Optional[bool] = None) -> None:
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        super().__init__(tuple(self.concentration.shape), (dim, dim), validate_args)
        self._init_beta()

    def _init_beta(self) -> None:
        # Row i's squared off-diagonal length is Beta(i / 2, eta + (dim - 1 - i) / 2); row 0
        # has none (its Beta is a placeholder that gets multiplied by a zero direction).
        c = self.concentration
        i = E.arange(self.dim, dtype=c.dtype, device=c.device)
        conc1 = E.where(i == 0, E.full_like(i, 0.5), 0.5 * i)
        conc0 = c.unsqueeze(-1) + 0.5 * (self.dim - 1) - 0.5 * i
        conc0 = E.where(i == 0, c.unsqueeze(-1) + 0.5 * (self.dim - 2), conc0)
        self._beta = Beta(conc1.expand(tuple(conc0.shape)), conc0)

    def expand(self, batch_shape, _instance=None) -> "LKJCholesky":
        new = self._get_checked_instance(LKJCholesky, _instance)
        new.dim = self.dim
        new.concentration = self.concentration.expand(tuple(batch_shape))
        self._finish_expand(new, batch_shape)
        new._init_beta()
        return new

    def sample(self, sample_shape=()) -> Tensor:
        with E.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            shape = self._extended_shape(sample_shape)
            u = _standard_normal(shape, self.concentration).tril(-1)
            norm = u.pow(2).sum(-1, keepdim=True).sqrt()
            tiny = float(_finfo(u.dtype).tiny)
            # A uniform direction on row i's sphere; row 0 is all zero (norm clamped).
            w = y.sqrt() * u / norm.clamp(min=tiny)
            diag = (1 - w.pow(2).sum(-1)).clamp(min=tiny).sqrt()
            return w + E.diag_embed(diag)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        d = self.dim
        diag = value.diagonal(0, -2, -1)[..., 1:]
        i = E.arange(1, d, dtype=value.dtype, device=value.device)
        # Density of C = L L^T is det(C)^(eta - 1) = prod L_ii^(2 (eta - 1)); the map
        # L -> C contributes prod_i L_ii^(d - 1 - i).
        order = 2 * (self.concentration.unsqueeze(-1) - 1) + (d - 1 - i)
        unnorm = (order * diag.log()).sum(-1)
        dm1 = d - 1
        alpha = self.concentration + 0.5 * dm1
        norm = (0.5 * dm1 * math.log(math.pi) + _mvlgamma(alpha - 0.5, dm1)
                - dm1 * S.lgamma(alpha))
        return unnorm - norm
