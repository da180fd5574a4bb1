"""``LowRankMultivariateNormal``: a Gaussian whose covariance is ``W W^T + diag(D)``, and the
KL pairs torch registers with it (against itself and ``MultivariateNormal``)."""
from __future__ import annotations

import math
from typing import Optional

import ember as E
from ..tensor import Tensor
from . import _special as S
from . import constraints
from .continuous import MultivariateNormal
from .distribution import Distribution, _standard_normal
from .kl import register_kl

__all__ = ["LowRankMultivariateNormal"]


def _bexpand(t: Tensor, batch: tuple, tail: int) -> Tensor:
    """``t`` expanded to ``batch`` followed by its own ``tail`` trailing dims."""
    return t.expand(tuple(batch) + tuple(t.shape[t.dim() - tail:]))


def _capacitance_tril(w: Tensor, d: Tensor) -> Tensor:
    # Cholesky factor of the r x r capacitance matrix C = I + W^T D^-1 W (Woodbury's core).
    r = w.shape[-1]
    wt_dinv = w.mT / d.unsqueeze(-2)
    k = wt_dinv.matmul(w)
    eye = E.eye(r, dtype=w.dtype, device=w.device)
    return S.cholesky(k + eye)


class LowRankMultivariateNormal(Distribution):
    """Multivariate normal with covariance ``cov_factor @ cov_factor.mT + diag(cov_diag)``.

    Args:
        loc: ``(*, n)`` mean. cov_factor: ``(*, n, r)`` low-rank factor. cov_diag: ``(*, n)``
        positive diagonal.

    Log densities use the Woodbury identity and the matrix determinant lemma, so the work is
    O(n r^2) rather than O(n^3).
    """

    arg_constraints = {"loc": constraints.real_vector,
                       "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: Tensor, cov_factor: Tensor, cov_diag: Tensor,
                 validate_args: Optional[bool] = None) -> None:
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        n = loc.shape[-1]
        if cov_factor.dim() < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        if tuple(cov_factor.shape[-2:-1]) != (n,):
            raise ValueError(f"cov_factor must be a batch of matrices with shape {n} x m")
        if tuple(cov_diag.shape[-1:]) != (n,):
            raise ValueError(f"cov_diag must be a batch of vectors with shape ({n},)")
        batch = tuple(E.broadcast_shapes(tuple(loc.shape[:-1]), tuple(cov_factor.shape[:-2]),
                                         tuple(cov_diag.shape[:-1])))
        self.loc = _bexpand(loc, batch, 1)
        self.cov_factor = _bexpand(cov_factor, batch, 2)
        self.cov_diag = _bexpand(cov_diag, batch, 1)
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        self._capacitance_tril = _capacitance_tril(cov_factor, cov_diag)
        super().__init__(batch, (n,), validate_args)

    def expand(self, batch_shape, _instance=None) -> "LowRankMultivariateNormal":
        new = self._expand_params(LowRankMultivariateNormal, batch_shape,
                                  ("loc", "cov_factor", "cov_diag"), _instance)
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        return new

    def _full_shape(self, k: int) -> tuple:
        return tuple(self._batch_shape) + tuple(self._event_shape) * k

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return (w.pow(2).sum(-1) + d).expand(self._full_shape(1))

    @property
    def covariance_matrix(self) -> Tensor:
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return (w.matmul(w.mT) + E.diag_embed(d)).expand(self._full_shape(2))

    @property
    def scale_tril(self) -> Tensor:
        # Scaling by sqrt(D) first keeps the Cholesky well conditioned (the unit diagonal
        # term dominates); L = sqrt(D) chol(I + D^-1/2 W W^T D^-1/2).
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        n = self._event_shape[0]
        ds = d.sqrt().unsqueeze(-1)
        wn = w / ds
        k = wn.matmul(wn.mT) + E.eye(n, dtype=w.dtype, device=w.device)
        return (ds * S.cholesky(k)).expand(self._full_shape(2))

    def _woodbury_a(self) -> Tensor:
        # A = Lc^-1 W^T D^-1, so that Sigma^-1 = D^-1 - A^T A.
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        lc = self._capacitance_tril
        rhs = w.mT / d.unsqueeze(-2)
        batch = tuple(E.broadcast_shapes(tuple(lc.shape[:-2]), tuple(rhs.shape[:-2])))
        return S.solve_triangular(_bexpand(lc, batch, 2), _bexpand(rhs, batch, 2))

    @property
    def precision_matrix(self) -> Tensor:
        a = self._woodbury_a()
        d = self._unbroadcasted_cov_diag
        return (E.diag_embed(d.reciprocal()) - a.mT.matmul(a)).expand(self._full_shape(2))

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        r = self._unbroadcasted_cov_factor.shape[-1]
        eps_w = _standard_normal(tuple(shape[:-1]) + (r,), self.loc)
        eps_d = _standard_normal(shape, self.loc)
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return self.loc + w.matmul(eps_w.unsqueeze(-1)).squeeze(-1) + d.sqrt() * eps_d

    def _log_det(self) -> Tensor:
        # Matrix determinant lemma: det(W W^T + D) = det(C) det(D).
        lc = self._capacitance_tril
        return (2 * lc.diagonal(0, -2, -1).log().sum(-1)
                + self._unbroadcasted_cov_diag.log().sum(-1))

    def _mahalanobis(self, diff: Tensor) -> Tensor:
        # diff^T Sigma^-1 diff = |diff|^2_D^-1 - |Lc^-1 W^T D^-1 diff|^2 (Woodbury).
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        lc = self._capacitance_tril
        r = w.shape[-1]
        wt_dinv_diff = w.mT.matmul((diff / d).unsqueeze(-1))
        batch = tuple(E.broadcast_shapes(tuple(wt_dinv_diff.shape[:-2]), tuple(lc.shape[:-2])))
        z = S.solve_triangular(lc.expand(batch + (r, r)),
                               wt_dinv_diff.expand(batch + (r, 1))).squeeze(-1)
        return (diff.pow(2) / d).sum(-1) - z.pow(2).sum(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        n = self._event_shape[0]
        m = self._mahalanobis(diff)
        return -0.5 * (n * math.log(2 * math.pi) + self._log_det() + m)

    def entropy(self) -> Tensor:
        n = self._event_shape[0]
        h = 0.5 * (n * (1.0 + math.log(2 * math.pi)) + self._log_det())
        return h.expand(tuple(self._batch_shape)) if len(self._batch_shape) else h


def _check_events(p, q) -> None:
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two (Low Rank) Multivariate Normals with "
                         "different event shapes cannot be computed")


def _kl_gauss(p, q, log_det_p, log_det_q, trace_term, maha) -> Tensor:
    n = p.event_shape[0]
    return 0.5 * (trace_term + maha - n + log_det_q - log_det_p)


def _lowrank_trace_inv(q, cov_p_sqrt: Tensor, diag_p: Optional[Tensor]) -> Tensor:
    """tr(Sigma_q^-1 Sigma_p) for Sigma_p = B B^T (+ diag(diag_p)), Sigma_q low-rank."""
    dq = q._unbroadcasted_cov_diag
    a = q._woodbury_a()
    t = (cov_p_sqrt.pow(2) / dq.unsqueeze(-1)).sum((-2, -1))
    t = t - a.matmul(cov_p_sqrt).pow(2).sum((-2, -1))
    if diag_p is not None:
        t = t + (diag_p / dq).sum(-1) - (a.pow(2) * diag_p.unsqueeze(-2)).sum((-2, -1))
    return t


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_lowrank(p, q):
    _check_events(p, q)
    tr = _lowrank_trace_inv(q, p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag)
    return _kl_gauss(p, q, p._log_det(), q._log_det(), tr, q._mahalanobis(q.loc - p.loc))


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_mvn_lowrank(p, q):
    _check_events(p, q)
    tr = _lowrank_trace_inv(q, p._unbroadcasted_scale_tril, None)
    return _kl_gauss(p, q, 2 * p._half_log_det(), q._log_det(), tr,
                     q._mahalanobis(q.loc - p.loc))


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_mvn(p, q):
    _check_events(p, q)
    n = p.event_shape[0]
    lq = q._unbroadcasted_scale_tril
    wp, dp = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag
    r = wp.shape[-1]
    diff = (q.loc - p.loc).unsqueeze(-1)
    batch = tuple(E.broadcast_shapes(tuple(lq.shape[:-2]), tuple(wp.shape[:-2]),
                                     tuple(dp.shape[:-1]), tuple(diff.shape[:-2])))
    lqb = lq.expand(batch + (n, n))
    # tr(Sigma_q^-1 (W W^T + D)) = |Lq^-1 W|^2 + |Lq^-1 D^1/2|^2.
    t1 = S.solve_triangular(lqb, wp.expand(batch + (n, r))).pow(2).sum((-2, -1))
    t2 = S.solve_triangular(lqb, E.diag_embed(dp.sqrt()).expand(batch + (n, n)))
    tr = t1 + t2.pow(2).sum((-2, -1))
    maha = S.solve_triangular(lqb, diff.expand(batch + (n, 1))).pow(2).sum((-2, -1))
    return _kl_gauss(p, q, p._log_det(), 2 * q._half_log_det(), tr, maha)
