"""``torch.nn.utils.parametrizations``: weight_norm, spectral_norm and orthogonal as
parametrizations (see :mod:`ember.nn.utils.parametrize`)."""
from __future__ import annotations

import math
from enum import Enum, auto
from typing import Optional

import numpy as np

import ember as E
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor, make_tensor
from ..modules.module import Module
from . import parametrize
from .spectral_norm import _default_dim
from .weight_norm import _weight_norm, norm_except_dim

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _normalize(x: Tensor, eps: float) -> Tensor:
    from .. import functional as F
    return F.normalize(x, dim=0, eps=eps)


# ---------------------------------------------------------------------------- orthogonal
class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


def _matrix_exp(a: Tensor) -> Tensor:
    """exp(A) by scaling and squaring a degree-18 Taylor polynomial, built from ember ops so
    that autograd differentiates it (||A / 2^s|| <= 1/2 keeps the truncation below 1e-22)."""
    n = a.shape[-1]
    norm = float(a.detach().abs().sum(-2).max()) if a.numel() else 0.0
    s = max(0, int(math.ceil(math.log2(norm / 0.5))) if norm > 0.5 else 0)
    b = a / (2.0 ** s)
    eye = E.eye(n, dtype=a.dtype, device=a.device)
    out = eye + b / 18.0
    for k in range(17, 0, -1):
        out = eye + (b @ out) / float(k)
    for _ in range(s):
        out = out @ out
    return out


def _householder_product(a: Tensor, tau: Tensor) -> Tensor:
    """H_1 ... H_k applied to the first k columns of the identity, H_i = I - tau_i v_i v_i^H
    with v_i column i of ``a`` below the diagonal and 1 on it (LAPACK's orgqr)."""
    n, k = a.shape[-2], a.shape[-1]
    rows = E.arange(n, device=a.device).unsqueeze(-1)
    q = E.eye(n, k, dtype=a.dtype, device=a.device).expand(*a.shape[:-2], n, k)
    for i in range(k - 1, -1, -1):
        col = a[..., :, i:i + 1]
        v = E.where(rows > i, col, E.zeros_like(col)) + (rows == i).to(a.dtype)
        q = q - tau[..., i:i + 1].unsqueeze(-1) * (v @ (v.mT @ q))
    return q


def _make_orthogonal(a: Tensor) -> Tensor:
    """The Q of A's QR decomposition with R's diagonal made positive (no autograd)."""
    arr = a.detach()._data
    from ...backend.device import get_xp
    xp = get_xp(a.device)  # the device's array module (ember's CuPy handle on CUDA)
    q, r = xp.linalg.qr(arr)
    d = xp.sign(xp.diagonal(r, axis1=-2, axis2=-1))
    return make_tensor(q * d[..., None, :], a._dtype, a._device)


def _is_orthogonal(q: Tensor) -> bool:
    n, k = q.shape[-2], q.shape[-1]
    eps = 10 * n * float(np.finfo(q.detach()._data.dtype).eps)
    eye = E.eye(k, dtype=q.dtype, device=q.device)
    return bool(E.allclose(q.mT @ q, eye, atol=eps))


class _Orthogonal(Module):
    def __init__(self, weight: Tensor, orthogonal_map: _OrthMaps, *,
                 use_trivialization: bool = True) -> None:
        super().__init__()
        if weight.is_complex():
            raise NotImplementedError("ember's orthogonal parametrization supports real "
                                      "tensors only")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x = x.mT
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            x = x.tril()
            if n != k:
                pad = E.zeros(n, n - k, dtype=x.dtype, device=x.device)
                x = E.cat([x, pad.expand(*x.shape[:-2], n, n - k)], dim=-1)
            a = x - x.mT
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                q = _matrix_exp(a)
            else:
                eye = E.eye(n, dtype=a.dtype, device=a.device)
                q = E.linalg.solve(eye - 0.5 * a, eye + 0.5 * a)
            if n != k:
                q = q[..., :k]
        else:
            a = x.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (a * a).sum(dim=-2))
            q = _householder_product(a, tau)
            # torch multiplies by the diagonal truncated to int: no gradient flows there.
            sign = x.diagonal(dim1=-2, dim2=-1).detach().to(E.int64).to(q.dtype)
            q = q * sign.unsqueeze(-2)
        if "base" in self._buffers:
            q = self.base @ q
        if transposed:
            q = q.mT
        return q

    def right_inverse(self, q: Tensor) -> Tensor:
        with no_grad():
            if q.shape != self.shape:
                raise ValueError(f"Expected a matrix or batch of matrices of shape "
                                 f"{self.shape}. Got a tensor of shape {q.shape}.")
            q_init = q
            n, k = q.shape[-2], q.shape[-1]
            transpose = n < k
            if transpose:
                q = q.mT
                n, k = k, n
            if "base" not in self._buffers:
                raise NotImplementedError("ember's orthogonal parametrization supports "
                                          "use_trivialization=True only")
            if n == k:
                q = q.clone() if _is_orthogonal(q) else _make_orthogonal(q)
            else:
                noise = E.randn(*(tuple(q.shape[:-2]) + (n, n - k)), dtype=q.dtype,
                                device=q.device)
                q = _make_orthogonal(E.cat([q, noise], dim=-1))
            self.base = q
            eye = E.eye(q_init.shape[-2], q_init.shape[-1], dtype=q_init.dtype,
                        device=q_init.device)
            return (-eye).expand(*q_init.shape).clone()


def orthogonal(module: Module, name: str = "weight", orthogonal_map: Optional[str] = None,
               *, use_trivialization: bool = True) -> Module:
    """Constrain ``module.<name>`` to (batches of) orthogonal or semi-orthogonal matrices.

    ``orthogonal_map`` defaults to ``"matrix_exp"`` for square matrices and
    ``"householder"`` otherwise, as torch chooses.
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.dim() < 2:
        raise ValueError("Expected a matrix or batch of matrices. Got a tensor of "
                         f"{weight.dim()} dimensions.")
    if orthogonal_map is None:
        square = weight.shape[-2] == weight.shape[-1]
        orthogonal_map = "matrix_exp" if square or weight.is_complex() else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


# --------------------------------------------------------------------------- weight_norm
class _WeightNorm(Module):
    def __init__(self, dim: Optional[int] = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: Optional[int] = 0) -> Module:
    """``module.<name> = g * v / ||v||`` with ``original0`` = g and ``original1`` = v; state
    dicts of the hook-style :func:`ember.nn.utils.weight_norm` (``name_g``/``name_v``) load."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def load_hook(mod, state_dict, prefix, local_metadata, strict, missing_keys,
                  unexpected_keys, error_msgs) -> None:
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module.register_load_state_dict_pre_hook(load_hook)
    return module


# ------------------------------------------------------------------------- spectral_norm
class _SpectralNorm(Module):
    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError("Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            mat = self._reshape_weight_to_matrix(weight)
            h, w = mat.shape
            u = E.randn(h, dtype=weight.dtype, device=weight.device)
            v = E.randn(w, dtype=weight.dtype, device=weight.device)
            self.register_buffer("_u", _normalize(u, eps).detach())
            self.register_buffer("_v", _normalize(v, eps).detach())
            # torch starts from 15 iterations so that the first sigma is already good.
            self._power_method(mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim())
                                                if d != self.dim))
        return weight.reshape(weight.shape[0], -1)

    def _power_method(self, mat: Tensor, n_power_iterations: int) -> None:
        with no_grad():
            mat = mat.detach()
            for _ in range(n_power_iterations):
                self._u.copy_(_normalize(E.mv(mat, self._v), self.eps))
                self._v.copy_(_normalize(E.mv(mat.t(), self._u), self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.dim() == 1:
            return _normalize(weight, self.eps)
        mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(mat, self.n_power_iterations)
        u = self._u.clone()
        v = self._v.clone()
        sigma = E.dot(u, E.mv(mat, v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: Optional[int] = None) -> Module:
    """Divide ``module.<name>`` by its spectral norm (power iteration on buffers ``_u``,
    ``_v`` of the parametrization, advanced only in training mode)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = _default_dim(module)
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
