"""Linear-algebra primitives of ember.linalg: solve, det, slogdet, qr, svd, eigh, eig, lu_factor
and matrix_exp, each on raw arrays through ``self.xp`` with torch's backward formulas written in
ember ops (so that gradients of gradients work)."""
from __future__ import annotations

import numpy as np

from ..ops.elementwise import _NoGrad
from ..ops.registry import Primitive, register
from ..distributions._special import SolveTriangularOp


class LinAlgError(RuntimeError):
    """Raised for a singular or non-positive-definite input, as torch.linalg.LinAlgError."""


def _xp_raise_ctx(xp):
    """A context under which CuPy reports singular inputs (cuSOLVER's info flag needs a host
    read, so only outside CUDA-graph capture); NumPy raises on its own."""
    import contextlib
    if xp is np:
        return contextlib.nullcontext()
    from ..backend.device import host_checks_allowed
    if not host_checks_allowed():
        return contextlib.nullcontext()
    import cupyx
    return cupyx.errstate(linalg="raise")


def _broadcast_batch(xp, a, b):
    """Give a and b the same (broadcast) batch dims; CuPy's solvers want them equal."""
    if a.shape[:-2] == b.shape[:-2]:
        return a, b
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return (xp.broadcast_to(a, batch + a.shape[-2:]), xp.broadcast_to(b, batch + b.shape[-2:]))


def _sum_to(t, shape):
    from ..ops.elementwise import sum_to
    if tuple(t.shape) == tuple(shape):
        return t
    return sum_to(t, tuple(shape))


def _or_zeros(g, like):
    """The output gradient g, or zeros where that output was not used (the engine passes
    None for it)."""
    if g is not None:
        return g
    from ..creation import zeros_like
    return zeros_like(like)


def _eye_like(t, n=None):
    from ..creation import eye
    n = t.shape[-1] if n is None else n
    return eye(n, dtype=t.dtype, device=t.device)


# ----------------------------------------------------------------------------------- solve
@register("linalg_solve")
class SolveOp(Primitive):
    """X with A X = B for square A and matrix B (batch dims broadcast)."""

    def forward(self, a, b, name="torch.linalg.solve"):
        xp = self.xp
        self.shapes = (a.shape, b.shape)
        a2, b2 = _broadcast_batch(xp, a, b)
        try:
            with _xp_raise_ctx(xp):
                out = xp.linalg.solve(a2, b2)
        except np.linalg.LinAlgError:
            raise LinAlgError(f"{name}: The solver failed because the input matrix is "
                              "singular.") from None
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, x = self.saved_tensors
        gb = SolveOp.apply(a.mT, g)
        ga = _sum_to(-gb.matmul(x.mT), self.shapes[0]) if self.needs_input_grad[0] else None
        gb = _sum_to(gb, self.shapes[1]) if self.needs_input_grad[1] else None
        return ga, gb


def solve_matrix(a, b):
    return SolveOp.apply(a, b)


def inv_matrix(a):
    """A^-1 through the differentiable solve (batched)."""
    eye = _eye_like(a)
    return SolveOp.apply(a, eye.expand(a.shape), name="linalg.inv")


# ---------------------------------------------------------------------------- determinants
@register("linalg_det")
class DetOp(Primitive):
    """det(A); backward g det(A) A^-T (A invertible)."""

    def forward(self, a):
        out = self.xp.linalg.det(a)
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, d = self.saved_tensors
        return (g * d)[..., None, None] * inv_matrix(a).mT


@register("linalg_slogdet")
class SlogdetOp(Primitive):
    """(sign, log|det A|); only the log-magnitude is differentiable: its gradient is A^-T."""

    # Unused outputs reach backward as None (handled there) instead of zeros.
    materialize_grads = False

    def forward(self, a):
        sign, logabs = self.xp.linalg.slogdet(a)
        self.save_for_backward(a)
        return sign.astype(a.dtype), logabs.astype(a.dtype)

    def _non_diff_outputs(self):
        return (0,)

    def backward(self, gsign, glog):
        (a,) = self.saved_tensors
        if glog is None:
            return None
        return glog[..., None, None] * inv_matrix(a).mT


# --------------------------------------------------------------------------------------- qr
def _tri_solve_right_upper_t(r, y):
    """Y R^-T for upper-triangular R: (R^-1 Y^T)^T."""
    return SolveTriangularOp.apply(r, y.mT, upper=True).mT


def _copyltu(m):
    """The lower triangle of m mirrored onto the upper one (diagonal kept once)."""
    low = m.tril(-1)
    return low + low.mT + m.tril() - m.tril(-1)


def _qr_square_backward(q, r, gq, gr):
    # Real A = QR with m >= n (reduced): gA = (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q.
    m = r.matmul(gr.mT) - gq.mT.matmul(q)
    return _tri_solve_right_upper_t(r, gq + q.matmul(_copyltu(m)))


@register("linalg_qr")
class QrOp(Primitive):
    """(Q, R) of A (batched) in torch's modes 'reduced', 'complete' and 'r'."""

    # Unused outputs reach backward as None (handled there) instead of zeros.
    materialize_grads = False

    def forward(self, a, mode="reduced"):
        xp = self.xp
        self.mode = mode
        if mode == "r":
            r = xp.linalg.qr(a, mode="r")
            q = xp.empty((0,), dtype=a.dtype)
            return q, r
        q, r = xp.linalg.qr(a, mode=mode)
        self.save_for_backward(q, r)
        return q, r

    def backward(self, gq, gr):
        if self.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you are "
                               "going to differentiate through linalg.qr.")
        q, r = self.saved_tensors
        gq, gr = _or_zeros(gq, q), _or_zeros(gr, r)
        m, n = q.shape[-2], r.shape[-1]
        if self.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when "
                               "mode='complete' and nrows > ncols.")
        if m >= n:
            return _qr_square_backward(q, r, gq, gr)
        # Wide A = Q [R1 | R2]: the right block Y = Q R2 adds Y gR2^T to Q's gradient.
        r1, r2 = r[..., :, :m], r[..., :, m:]
        gr1, gr2 = gr[..., :, :m], gr[..., :, m:]
        from .. import cat
        y = q.matmul(r2)
        gx = _qr_square_backward(q, r1, gq + y.matmul(gr2.mT), gr1)
        return cat([gx, q.matmul(gr2)], -1)


# -------------------------------------------------------------------------------------- svd
@register("linalg_svd")
class SvdOp(Primitive):
    """(U, S, Vh) of A (batched); backward as torch's svd_backward (real inputs)."""

    # Unused outputs reach backward as None (handled there) instead of zeros.
    materialize_grads = False

    def forward(self, a, full_matrices=True):
        xp = self.xp
        self.full = full_matrices
        k = min(a.shape[-2], a.shape[-1])
        if k == 0 or a.size == 0:
            m, n = a.shape[-2], a.shape[-1]
            b = a.shape[:-2]
            um = m if full_matrices else k
            vn = n if full_matrices else k
            eu = xp.broadcast_to(xp.eye(m, um, dtype=a.dtype), b + (m, um)).copy()
            ev = xp.broadcast_to(xp.eye(vn, n, dtype=a.dtype), b + (vn, n)).copy()
            u, s, vh = eu, xp.zeros(b + (k,), dtype=a.dtype), ev
        else:
            u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices)
        self.save_for_backward(u, s, vh)
        return u, s.astype(a.dtype), vh

    def backward(self, gu, gs, gvh):
        u, s, vh = self.saved_tensors
        k = s.shape[-1]
        gs = _or_zeros(gs, s)
        if gu is None and gvh is None:
            # Singular values only: gA = U diag(gS) Vh over the first k vectors.
            return (u[..., :, :k] * gs.unsqueeze(-2)).matmul(vh[..., :k, :])
        gu, gvh = _or_zeros(gu, u), _or_zeros(gvh, vh)
        if self.full:
            # Only the first k singular vectors take part in A; torch narrows them too.
            u, vh = u[..., :, :k], vh[..., :k, :]
            gu, gvh = gu[..., :, :k], gvh[..., :k, :]
        m, n = u.shape[-2], vh.shape[-1]
        v, gv = vh.mT, gvh.mT
        sd = s.unsqueeze(-1)          # s as a column, S_i
        s2 = s * s
        e = s2.unsqueeze(-2) - s2.unsqueeze(-1)          # E_ij = s_j^2 - s_i^2
        eye = _eye_like(s, k)
        e = e + eye                                       # diagonal is masked out below
        utgu = u.mT.matmul(gu)
        vtgv = v.mT.matmul(gv)
        skew_u = (utgu - utgu.mT) / e * (1 - eye)
        skew_v = (vtgv - vtgv.mT) / e * (1 - eye)
        inner = skew_u * s.unsqueeze(-2) + sd * skew_v + gs.diag_embed()
        ga = u.matmul(inner).matmul(vh)
        if m > k:
            # Part of gU outside span(U): (I - U U^T) gU S^-1 V^T.
            proj = gu - u.matmul(utgu)
            ga = ga + (proj / s.unsqueeze(-2)).matmul(vh)
        if n > k:
            proj = gv - v.matmul(vtgv)
            ga = ga + (u / s.unsqueeze(-2)).matmul(proj.mT)
        return ga


# ------------------------------------------------------------------------------------- eigh
@register("linalg_eigh")
class EighOp(Primitive):
    """(eigenvalues, eigenvectors) of a symmetric A, read from the UPLO triangle."""

    # Unused outputs reach backward as None (handled there) instead of zeros.
    materialize_grads = False

    def forward(self, a, UPLO="L"):
        w, v = self.xp.linalg.eigh(a, UPLO=UPLO)
        self.save_for_backward(w, v)
        return w.astype(a.dtype), v

    def backward(self, gw, gv):
        w, v = self.saved_tensors
        gw = _or_zeros(gw, w)
        if gv is None:
            return (v * gw.unsqueeze(-2)).matmul(v.mT)
        n = w.shape[-1]
        eye = _eye_like(w, n)
        # F_ij = 1 / (w_j - w_i) off the diagonal.
        diff = w.unsqueeze(-2) - w.unsqueeze(-1) + eye
        inner = v.mT.matmul(gv) / diff * (1 - eye) + gw.diag_embed()
        return v.matmul(inner).matmul(v.mT)


# -------------------------------------------------------------------------------------- eig
@register("linalg_eig")
class EigOp(_NoGrad):
    """Complex (eigenvalues, eigenvectors) of a general square A. Forward only: ember has no
    complex autograd, so the outputs carry no gradient."""

    def forward(self, a):
        xp = self.xp
        cplx = np.complex64 if a.dtype in (np.float32, np.complex64) else np.complex128
        host = a if xp is np else xp.asnumpy(a)   # cuSOLVER has no general eigensolver here
        w, v = np.linalg.eig(host)
        # LAPACK normalises each eigenvector to unit 2-norm, as torch does.
        w, v = w.astype(cplx), v.astype(cplx)
        if xp is not np:
            w, v = xp.asarray(w), xp.asarray(v)
        return w, v

    def _non_diff_outputs(self):
        return (0, 1)


# ---------------------------------------------------------------------------------------- lu
def lu_factor_xp(xp, a):
    """Batched LU with partial pivoting (as LAPACK getrf): packed LU, 1-based int32 pivots and
    info (1-based index of the first zero pivot, 0 if none)."""
    m, n = a.shape[-2], a.shape[-1]
    batch = a.shape[:-2]
    lu = a.reshape((-1, m, n)).astype(a.dtype, copy=True)
    nb = lu.shape[0]
    k_all = min(m, n)
    piv = xp.zeros((nb, k_all), dtype=np.int32)
    info = xp.zeros((nb,), dtype=np.int32)
    rows = xp.arange(nb)
    for k in range(k_all):
        p = xp.argmax(xp.abs(lu[:, k:, k]), axis=1) + k
        piv[:, k] = (p + 1).astype(np.int32)
        row_k = lu[rows, k].copy()
        row_p = lu[rows, p].copy()
        lu[rows, k] = row_p
        lu[rows, p] = row_k
        d = lu[:, k, k]
        zero = d == 0
        info = xp.where((info == 0) & zero, k + 1, info).astype(np.int32)
        safe = xp.where(zero, 1, d)
        # A zero pivot leaves its column as it is (LAPACK skips the scaling then).
        lu[:, k + 1:, k] = xp.where(zero[:, None], lu[:, k + 1:, k],
                                    lu[:, k + 1:, k] / safe[:, None])
        lu[:, k + 1:, k + 1:] -= lu[:, k + 1:, k, None] * lu[:, k, None, k + 1:]
    return (lu.reshape(batch + (m, n)), piv.reshape(batch + (k_all,)),
            info.reshape(batch))


def perm_from_pivots_xp(xp, piv, m):
    """perm with A[perm] = L U, from LAPACK's sequential row swaps."""
    batch = piv.shape[:-1]
    p = piv.reshape((-1, piv.shape[-1])).astype(np.int64) - 1
    nb = p.shape[0]
    perm = xp.broadcast_to(xp.arange(m), (nb, m)).copy()
    rows = xp.arange(nb)
    for k in range(p.shape[-1]):
        a = perm[rows, k].copy()
        b = perm[rows, p[:, k]].copy()
        perm[rows, k] = b
        perm[rows, p[:, k]] = a
    return perm.reshape(batch + (m,))


@register("linalg_lu_factor")
class LuFactorOp(Primitive):
    """(LU, pivots, info) of A; backward for square A: with A = P L U,
    gA = P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T."""

    # Unused outputs reach backward as None (handled there) instead of zeros.
    materialize_grads = False

    def forward(self, a):
        lu, piv, info = lu_factor_xp(self.xp, a)
        self.save_for_backward(lu)
        perm = perm_from_pivots_xp(self.xp, piv, a.shape[-2])
        self.inv_perm = self.xp.argsort(perm, axis=-1)
        return lu, piv, info

    def _non_diff_outputs(self):
        return (1, 2)

    def backward(self, glu, gpiv=None, ginfo=None):
        (lu,) = self.saved_tensors
        if glu is None:
            return None
        m, n = lu.shape[-2], lu.shape[-1]
        if m != n:
            raise NotImplementedError("ember: the derivative of lu_factor is implemented for "
                                      "square matrices only")
        eye = _eye_like(lu, n)
        low = lu.tril(-1) + eye
        up = lu.triu()
        phi = low.mT.matmul(glu.tril(-1)).tril(-1) + glu.triu().matmul(up.mT).triu()
        # X = L^-T phi U^-T
        y = SolveTriangularOp.apply(low.mT, phi, upper=True)
        x = SolveTriangularOp.apply(up, y.mT, upper=True).mT
        # gA = P X: row i of X belongs to row perm[i] of A.
        from ..backend import dtypes as _dt
        from ..tensor import make_tensor
        idx = make_tensor(self.inv_perm, _dt.int64, x._device)
        return x.gather(-2, idx.unsqueeze(-1).expand(x.shape))


# ------------------------------------------------------------------------------- matrix_exp
_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
           129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
           40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def expm_xp(xp, a):
    """exp(A) by scaling and squaring with the [13/13] Pade approximant (Higham 2005); each
    batch element is scaled by its own power of two."""
    n = a.shape[-1]
    if n == 0 or a.size == 0:
        return a.copy()
    norm1 = xp.abs(a).sum(axis=-2).max(axis=-1)
    with np.errstate(divide="ignore"):
        s = xp.ceil(xp.log2(xp.maximum(norm1, 1e-300) / _THETA13))
    s = xp.maximum(s, 0)
    s = xp.where(xp.isfinite(s), s, 0)
    a = a / (2.0 ** s)[..., None, None].astype(a.dtype)
    b = _PADE13
    ident = xp.eye(n, dtype=a.dtype)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2)
             + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * ident)
    v = (a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2)
         + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * ident)
    r = xp.linalg.solve(v - u, v + u)
    steps = int(float(s.max())) if s.size else 0   # host read: the squaring count
    for i in range(steps):
        sq = r @ r
        r = xp.where((s > i)[..., None, None], sq, r)
    return r


@register("linalg_matrix_exp")
class MatrixExpOp(Primitive):
    """exp(A); backward: the top-right block of exp([[A^T, G], [0, A^T]])."""

    def forward(self, a):
        self.save_for_backward(a)
        return expm_xp(self.xp, a)

    def backward(self, g):
        (a,) = self.saved_tensors
        from .. import cat, zeros_like
        at = a.mT
        top = cat([at, g], -1)
        bottom = cat([zeros_like(at), at], -1)
        n = a.shape[-1]
        big = MatrixExpOp.apply(cat([top, bottom], -2))
        return big[..., :n, n:]


__all__ = ["LinAlgError", "SolveOp", "DetOp", "SlogdetOp", "QrOp", "SvdOp", "EighOp", "EigOp",
           "LuFactorOp", "MatrixExpOp", "lu_factor_xp", "perm_from_pivots_xp", "expm_xp"]
