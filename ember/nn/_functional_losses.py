"""torch.nn.functional's remaining losses and sampling ops, as composites of ember ops.

Every function here is built from differentiable ember ops, so autograd (and the device the
inputs live on) comes for free; index bookkeeping uses ember ops on the inputs' device too.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Optional, Sequence, Union

import ember as E
from ..backend.device import host_checks_allowed
from ..tensor import Tensor

__all__ = [
    "gaussian_nll_loss", "poisson_nll_loss", "hinge_embedding_loss", "multi_margin_loss",
    "multilabel_margin_loss", "multilabel_soft_margin_loss", "soft_margin_loss",
    "triplet_margin_with_distance_loss", "embedding_bag", "gumbel_softmax", "grid_sample",
    "affine_grid", "pdist",
]

_REDUCTIONS = ("none", "mean", "sum")


def _legacy(size_average, reduce, reduction: str) -> str:
    """torch's size_average/reduce → reduction string mapping."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    _check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _softplus(z: Tensor) -> Tensor:
    """log(1 + exp(z)) without overflow."""
    return E.clamp(z, min=0.0) + (-z.abs()).exp().log1p()


# ---------------------------------------------------------------------------- regressions
def gaussian_nll_loss(input: Tensor, target: Tensor, var: Union[Tensor, float],
                      full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under N(input, var)."""
    if isinstance(var, (float, int)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = E.full_like(input, float(var))
    elif host_checks_allowed() and bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            # Homoscedastic: one variance per row of the last dimension.
            var = var.unsqueeze(-1)
        elif input.dim() == var.dim() and sum(
                v for i, v in zip(input.shape, var.shape) if i != v) == 1:
            pass  # broadcastable with exactly one size-1 mismatch
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    # torch clamps var outside autograd, so the gradient passes the clamp unchanged.
    var = var + (E.clamp(var, min=eps) - var).detach()
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: Optional[bool] = None, eps: float = 1e-8,
                     reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under Poisson(input) (or Poisson(exp(input)))."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        # Stirling's approximation of log(target!), used only where target > 1.
        t = E.where(target > 1, target, E.ones_like(target))
        stirling = t * t.log() - t + 0.5 * (2 * math.pi * t).log()
        loss = loss + E.where(target > 1, stirling, E.zeros_like(stirling))
    return _reduce(loss, reduction)


# -------------------------------------------------------------------------- margin losses
def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                         reduction: str = "mean") -> Tensor:
    """``x`` where target is 1, ``max(0, margin - x)`` where target is -1."""
    reduction = _legacy(size_average, reduce, reduction)
    zero = E.zeros_like(input)
    hinge = E.clamp(margin - input, min=0.0)
    loss = E.where(target != 1, hinge, zero) + E.where(target != -1, input, zero)
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: Optional[bool] = None,
                     reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """Two-class logistic loss ``log(1 + exp(-y x))``."""
    reduction = _legacy(size_average, reduce, reduction)
    return _reduce(_softplus(-target * input), reduction)


def _as_matrix(input: Tensor, target: Tensor, name: str):
    """(C,) / (N, C) inputs as (N, C), with whether to squeeze the batch back out."""
    if input.dim() > 2 or (input.dim() == 2 and input.shape[1] == 0) or (
            input.dim() <= 1 and input.numel() == 0):
        raise RuntimeError("Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    if input.dim() <= 1:
        return input.reshape(1, -1), target.reshape(1, -1), True
    return input, target, False


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Optional[Tensor] = None, size_average: Optional[bool] = None,
                      reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: sum_j max(0, margin - x[y] + x[j])^p / C over j != y."""
    reduction = _legacy(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    _check_reduction(reduction)
    x, y, single = _as_matrix(input, target, "multi_margin_loss")
    n, c = x.shape
    y = y.reshape(-1)
    if y.numel() != n:
        raise RuntimeError(f"inconsistent target size, expected {n} but got "
                           f"{list(target.shape)}")
    if host_checks_allowed() and n and bool(((y < 0) | (y >= c)).any()):
        raise RuntimeError("target out of range")
    xy = E.gather(x, 1, y.reshape(n, 1))
    z = E.clamp(margin - xy + x, min=0.0)
    if p == 2:
        z = z * z
    other = E.one_hot(y, c) == 0
    z = E.where(other, z, E.zeros_like(z))
    if weight is not None:
        z = z * weight[y].reshape(n, 1)
    loss = z.sum(1) / c
    if single:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: Optional[bool] = None,
                           reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss; ``target`` lists class indices, ended by the first -1."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction)
    x, t, single = _as_matrix(input, target, "multilabel_margin_loss")
    if tuple(t.shape) != tuple(x.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of "
                           f"size: {list(input.shape)}")
    n, c = x.shape
    if host_checks_allowed() and x.numel() and bool(((t < -1) | (t >= c)).any()):
        raise RuntimeError("multilabel_margin_loss: target out of range")
    # Targets count up to (not including) the first -1 of each row.
    valid = E.cumprod((t >= 0).long(), 1) > 0
    idx = E.where(valid, t, E.zeros_like(t))
    is_target = E.zeros((n, c), dtype=E.float64, device=x.device)
    is_target = is_target.scatter_add(1, idx, valid.double()) > 0
    xy = E.gather(x, 1, idx)                                    # (N, K)
    z = E.clamp(1 - xy.unsqueeze(2) + x.unsqueeze(1), min=0.0)   # (N, K, C)
    pair = valid.unsqueeze(2) & (~is_target).unsqueeze(1)
    loss = E.where(pair, z, E.zeros_like(z)).sum((1, 2)) / c
    if single:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                                size_average: Optional[bool] = None,
                                reduce: Optional[bool] = None,
                                reduction: str = "mean") -> Tensor:
    """Per-class logistic loss averaged over the classes (the last dimension)."""
    reduction = _legacy(size_average, reduce, reduction)
    loss = target * _softplus(-input) + (1 - target) * _softplus(input)
    if weight is not None:
        loss = loss * weight
    cdim = input.dim() - 1
    loss = loss.sum(cdim) / input.shape[cdim]
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(
        anchor: Tensor, positive: Tensor, negative: Tensor, *,
        distance_function: Optional[Callable[[Tensor, Tensor], Tensor]] = None,
        margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> Tensor:
    """Triplet loss with any distance: max(0, margin + d(a, p) - d(a, n))."""
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, p, n = anchor.dim(), positive.dim(), negative.dim()
    if not (a == p == n):
        raise RuntimeError("The anchor, positive, and negative tensors are expected to have "
                           "the same number of dimensions, but got: anchor "
                           f"{a}D, positive {p}D, and negative {n}D inputs")
    if distance_function is None:
        from .functional import pairwise_distance
        distance_function = pairwise_distance
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        d_neg = E.minimum(d_neg, distance_function(positive, negative))
    return _reduce(E.clamp(margin + d_pos - d_neg, min=0.0), reduction)


# ------------------------------------------------------------------------------ distances
def pdist(input: Tensor, p: float = 2) -> Tensor:
    """p-norm distances between all row pairs i < j of an (N, M) input, row-major order."""
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not input.dtype.is_floating_point:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    if n < 2:
        return E.zeros((0,), dtype=input.dtype, device=input.device)
    ij = E.triu_indices(n, n, 1, device=input.device)
    return E.norm(input[ij[0]] - input[ij[1]], p, 1)


# ------------------------------------------------------------------------------ embedding
def _bag_ids(input: Tensor, offsets: Tensor, n_bags: int) -> Tensor:
    """Bag of each flat input position; positions outside every bag get ``n_bags``."""
    pos = E.arange(input.shape[0], device=input.device)
    b = E.searchsorted(offsets.long(), pos, right=True) - 1
    return E.where((b < 0) | (b >= n_bags), E.full_like(b, n_bags), b)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Optional[Tensor] = None,
                  max_norm: Optional[float] = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Optional[Tensor] = None, include_last_offset: bool = False,
                  padding_idx: Optional[int] = None) -> Tensor:
    """Sums, means or maxes of bags of embedding rows, without materialising each lookup."""
    if per_sample_weights is not None and tuple(input.shape) != tuple(
            per_sample_weights.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) "
                         "is not None, then it must have the same shape as the input "
                         f"({input.shape})")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.dim()}")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found "
                             f"offsets of type {type(offsets)}")
        offsets = E.arange(0, input.numel(), max(input.shape[1], 1), device=input.device)
        if input.shape[1] == 0:
            offsets = E.zeros((input.shape[0],), dtype=E.int64, device=input.device)
        include_last_offset = False
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()}")
    if mode == "max":
        if scale_grad_by_freq:
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        if sparse:
            raise ValueError("max mode does not support sparse weights")
    elif mode not in ("sum", "mean"):
        raise ValueError("mode has to be one of sum, mean or max")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("ember's embedding_bag supports neither scale_grad_by_freq "
                                  "nor sparse gradients")
    if max_norm is not None:
        from .functional import embedding
        # Renormalise the looked-up rows in place, as F.embedding does.
        embedding(input, weight, max_norm=max_norm, norm_type=norm_type)
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. "
                                  "per_sample_weights is only supported for mode='sum' "
                                  f"(got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    input = input.long()
    n_bags = offsets.shape[0] - (1 if include_last_offset else 0)
    n_bags = max(n_bags, 0)
    dim = weight.shape[1]
    # Like torch on the CPU, the last bag runs to the end of the input even when a last
    # offset is given (it is documented to equal the input's length anyway).
    bags = _bag_ids(input, offsets[:n_bags], n_bags)
    keep = bags < n_bags
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += weight.shape[0]
        keep = keep & (input != padding_idx)
    # Dropped positions are routed to a spare bag row n_bags that is sliced off at the end.
    bags = E.where(keep, bags, E.full_like(bags, n_bags))
    rows = E.index_select(weight, 0, input)
    if mode == "max":
        return _bag_max(rows, bags, keep, n_bags)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.to(rows.dtype).unsqueeze(1)
    out = E.zeros((n_bags + 1, dim), dtype=weight.dtype, device=weight.device)
    out = out.index_add(0, bags, rows)[:n_bags]
    if mode == "mean":
        cnt = E.zeros((n_bags + 1,), dtype=weight.dtype, device=weight.device)
        cnt = cnt.index_add(0, bags, keep.to(weight.dtype))[:n_bags]
        out = out / E.clamp(cnt, min=1.0).unsqueeze(1)
    return out


def _bag_max(rows: Tensor, bags: Tensor, keep: Tensor, n_bags: int) -> Tensor:
    """Per-bag max over a (bags, longest bag, D) padded layout (needs the longest length)."""
    n, dim = rows.shape
    if n == 0 or n_bags == 0:
        return E.zeros((n_bags, dim), dtype=rows.dtype, device=rows.device)
    counts = E.zeros((n_bags + 1,), dtype=E.int64, device=rows.device)
    counts = counts.index_add(0, bags, E.ones_like(bags))
    starts = E.cumsum(counts, 0) - counts
    longest = max(int(counts[:n_bags].max()), 1)
    # Slot of each position inside its bag: rank among the kept positions of that bag.
    order = E.argsort(bags * (n + 1) + E.arange(n, device=rows.device))
    sorted_bags = bags[order]
    slot = E.arange(n, device=rows.device) - starts[sorted_bags]
    grid = E.full((n_bags + 1, longest + n), -1, dtype=E.int64, device=rows.device)
    grid = grid.index_put((sorted_bags, slot), order)[:n_bags, :longest]
    present = grid >= 0
    vals = rows[E.where(present, grid, E.zeros_like(grid))]          # (B, L, D)
    vals = E.where(present.unsqueeze(2), vals, E.full_like(vals, -math.inf))
    best = vals.max(1)[0]
    empty = (~present).all(1, keepdim=True)
    return E.where(empty, E.zeros_like(best), best)


# ------------------------------------------------------------------------------- sampling
def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """Sample from Gumbel-Softmax; ``hard`` returns one-hot with the soft sample's gradient."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -E.empty_like(logits).exponential_().log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = E.zeros_like(logits).scatter(dim, index, 1.0)
    # Straight-through: the value of y_hard, the gradient of y_soft.
    return y_hard - y_soft.detach() + y_soft


def _align_default(align_corners: Optional[bool]) -> bool:
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to "
                      "align_corners=False since 1.3.0. Please specify align_corners=True if "
                      "the old behavior is desired. See the documentation of grid_sample for "
                      "details.", stacklevel=3)
        return False
    return bool(align_corners)


def _linspace_grid(n: int, align_corners: bool, like: Tensor) -> Tensor:
    if n <= 1:
        return E.zeros((max(n, 0),), dtype=like.dtype, device=like.device)
    r = E.linspace(-1, 1, n, dtype=like.dtype, device=like.device)
    return r if align_corners else r * ((n - 1) / n)


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: Optional[bool] = None
                ) -> Tensor:
    """Sampling grid (N, H, W, 2) — or (N, D, H, W, 3) — of the affine maps ``theta``."""
    align_corners = _align_default(align_corners)
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = [int(s) for s in size]
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError("Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {theta.shape}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError("Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {theta.shape}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError("affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    n = size[0]
    # Coordinates are (x, y[, z], 1) with x along the last (fastest) spatial dimension.
    axes = [_linspace_grid(s, align_corners, theta) for s in reversed(spatial)]
    mesh = E.meshgrid(*reversed(axes), indexing="ij")[::-1]
    ones = E.ones(tuple(spatial), dtype=theta.dtype, device=theta.device)
    base = E.stack(list(mesh) + [ones], -1).reshape(1, -1, len(spatial) + 1)
    grid = E.matmul(base, theta.transpose(1, 2))
    return grid.reshape(n, *spatial, len(spatial))


def _unnormalize(coord: Tensor, size: int, align_corners: bool) -> Tensor:
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _clip(coord: Tensor, size: int) -> Tensor:
    """Clamp to [0, size-1]; like torch, the gradient is zero on and beyond the edges."""
    hi = float(size - 1)
    inside = (coord > 0) & (coord < hi)
    return E.where(inside, coord, E.clamp(coord, 0.0, hi).detach())


def _reflect(coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """Reflect into [twice_low/2, twice_high/2] as often as needed."""
    if twice_low == twice_high:
        return E.zeros_like(coord).detach()
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    c = (coord - low).abs()
    extra = E.fmod(c, span)
    flips = E.floor(c / span).detach()
    even = E.fmod(flips, 2.0) == 0
    return E.where(even, extra + low, span - extra + low)


def _source_index(coord: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    c = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        c = _clip(c, size)
    elif padding_mode == "reflection":
        if align_corners:
            c = _reflect(c, 0, 2 * (size - 1))
        else:
            c = _reflect(c, -1, 2 * size - 1)
        c = _clip(c, size)
    return c


def _gather_2d(flat: Tensor, xs: Tensor, ys: Tensor, h: int, w: int) -> tuple:
    """Values of (N, C, H*W) ``flat`` at integer (N, L) positions, and their in-bounds mask."""
    n, c, _ = flat.shape
    ok = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    lin = (E.clamp(ys, 0, h - 1) * w + E.clamp(xs, 0, w - 1)).long()
    vals = E.gather(flat, 2, lin.unsqueeze(1).expand(n, c, lin.shape[1]))
    return vals, ok.unsqueeze(1)


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: Optional[bool] = None) -> Tensor:
    """Sample (N, C, H, W) ``input`` at the normalised (x, y) locations of (N, Ho, Wo, 2)."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    align_corners = _align_default(align_corners)
    if input.dtype != grid.dtype:
        raise RuntimeError("grid_sampler(): expected input and grid to have same dtype, but "
                           f"input has {input.dtype} and grid has {grid.dtype}")
    if input.dim() != grid.dim() or input.dim() not in (4, 5):
        raise RuntimeError("grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, but got input with sizes {list(input.shape)} and "
                           f"grid with sizes {list(grid.shape)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError("grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {list(input.shape)} and grid with sizes "
                           f"{list(grid.shape)}")
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.dim() - 2} in "
                           "last dimension, but got grid with sizes "
                           f"{list(grid.shape)}")
    if input.dim() == 5 or mode == "bicubic":
        raise NotImplementedError("ember's grid_sample supports 4-D inputs with the "
                                  "'bilinear' and 'nearest' modes")
    n, c, h, w = input.shape
    ho, wo = grid.shape[1], grid.shape[2]
    gx = grid[..., 0].reshape(n, ho * wo)
    gy = grid[..., 1].reshape(n, ho * wo)
    ix = _source_index(gx, w, padding_mode, align_corners)
    iy = _source_index(gy, h, padding_mode, align_corners)
    flat = input.reshape(n, c, h * w)
    if mode == "nearest":
        # torch rounds half to even (nearbyint); no gradient reaches the grid.
        xs, ys = E.round(ix).detach(), E.round(iy).detach()
        vals, ok = _gather_2d(flat, xs, ys, h, w)
        out = E.where(ok, vals, E.zeros_like(vals))
        return out.reshape(n, c, ho, wo)
    x0, y0 = E.floor(ix).detach(), E.floor(iy).detach()
    wx1, wy1 = ix - x0, iy - y0
    wx0, wy0 = 1 - wx1, 1 - wy1
    out = None
    for xs, ys, wt in ((x0, y0, wx0 * wy0), (x0 + 1, y0, wx1 * wy0),
                       (x0, y0 + 1, wx0 * wy1), (x0 + 1, y0 + 1, wx1 * wy1)):
        vals, ok = _gather_2d(flat, xs, ys, h, w)
        term = E.where(ok, vals * wt.unsqueeze(1), E.zeros_like(vals))
        out = term if out is None else out + term
    return out.reshape(n, c, ho, wo)
