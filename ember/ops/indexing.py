"""Indexing primitives: getitem, index_put (setitem), gather/scatter, index_select/index_add,
masked_fill, sort/topk, and the non-differentiable nonzero/unique/one_hot."""
from __future__ import annotations

import numpy as np

from ..backend import dtypes as _dt
from ..backend.device import host_checks_allowed
from .elementwise import _NoGrad, sum_to
from .reduction import norm_dims
from .registry import Primitive, register


def add_at(xp, out, idx, values) -> None:
    """``out[idx] += values`` where repeated indices accumulate (np.add.at; cupyx on CUDA)."""
    if xp is np:
        np.add.at(out, idx, values)
    elif _dt.is_bf16_array(out):
        # CuPy's atomic add has no bfloat16: accumulate in float32, round once.
        acc = out.astype(np.float32)
        xp.add.at(acc, idx, values.astype(np.float32) if hasattr(values, "astype") else values)
        out[...] = acc.astype(out.dtype)
    else:
        xp.add.at(out, idx, values)


def _is_basic(idx) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items)


def _basic_index_name(idx) -> str:
    """torch applies a basic index one component at a time; the last one that does something
    names the result's grad_fn (x[0] -> SelectBackward0, x[:, 1:] -> SliceBackward0)."""
    name = "AliasBackward0"
    for i in (idx if isinstance(idx, tuple) else (idx,)):
        if i is None:
            name = "UnsqueezeBackward0"
        elif isinstance(i, slice):
            if i != slice(None):
                name = "SliceBackward0"
        elif i is not Ellipsis:
            name = "SelectBackward0"
    return name


@register("getitem")
class GetItem(Primitive):
    def forward(self, a, idx):
        self.in_shape = a.shape
        self.idx = idx
        self.basic = _is_basic(idx)
        out = a[idx]
        if self.basic:
            self._backward_name = _basic_index_name(idx)
            if not isinstance(out, self.xp.ndarray):
                # NumPy gives a scalar for a full integer index; torch gives a 0-d view, which
                # in-place ops (x[1].fill_(5)) must write through. A trailing ... keeps a view.
                out = a[(idx if isinstance(idx, tuple) else (idx,)) + (Ellipsis,)]
        else:
            self._backward_name = "IndexBackward0"
        return out

    @property
    def is_view(self):
        return self.basic

    def backward(self, g):
        return IndexAddInto.apply(g, self.in_shape, self.idx, self.basic)


@register("index_add_into")
class IndexAddInto(Primitive):
    """Zeros of ``shape`` with ``src`` added at ``idx`` (duplicates accumulate)."""

    def forward(self, src, shape, idx, basic):
        self.idx = idx
        out = self.xp.zeros(shape, dtype=src.dtype)
        if basic:
            out[idx] = src
        else:
            add_at(self.xp, out, idx, src)
        return out

    def backward(self, g):
        return g[self.idx]


@register("index_put")
class IndexPut(Primitive):
    """``a`` with ``a[idx] = v`` (``accumulate``: ``a[idx] += v``), out of place."""

    def forward(self, a, idx, v, accumulate=False):
        self.idx = idx
        self.v_shape = v.shape if hasattr(v, "shape") else None
        self.accumulate = accumulate
        out = a.copy()
        if accumulate:
            add_at(self.xp, out, idx, v)
        else:
            out[idx] = v
        return out

    def backward(self, g):
        ga = g if self.accumulate else IndexPut.apply(g, self.idx, 0)
        gv = None
        if self.v_shape is not None and self.needs_input_grad[2]:
            gv = sum_to(g[self.idx], self.v_shape)
        return ga, None, gv


def _take_along(xp, a, idx, d):
    return xp.take_along_axis(a, idx, axis=d)


def _full_index(xp, idx, d):
    """Index tuple addressing ``out[..., idx[...], ...]`` along dim ``d`` for every idx element."""
    n = idx.ndim
    grids = [xp.arange(s).reshape((1,) * i + (s,) + (1,) * (n - i - 1))
             for i, s in enumerate(idx.shape)]
    grids[d] = idx
    return tuple(grids)


def _check_index_range(idx, size, name):
    if idx.size and host_checks_allowed() and (idx.max() >= size or idx.min() < -size):
        raise RuntimeError(f"index {int(idx.max())} is out of bounds for dimension with size "
                           f"{size}" if idx.max() >= size else
                           f"index {int(idx.min())} is out of bounds for dimension with size "
                           f"{size}")


@register("gather")
class Gather(Primitive):
    def forward(self, a, dim, idx):
        d = norm_dims(dim, a.ndim)[0] if a.ndim else 0
        self.dim, self.in_shape = d, a.shape
        self.save_for_backward(None, idx)
        if a.ndim == 0:
            return a.copy()
        _check_index_range(idx, a.shape[d], "gather")
        if idx.shape != a.shape:
            sl = tuple(slice(0, s) for s in idx.shape)
            sl = tuple(slice(None) if i == d else s for i, s in enumerate(sl))
            return self.xp.take_along_axis(a[sl], idx, axis=d)
        return self.xp.take_along_axis(a, idx, axis=d)

    def backward(self, g):
        _, idx = self.saved_tensors
        if len(self.in_shape) == 0:
            return g, None, None
        return g.new_zeros(self.in_shape).scatter_add(self.dim, idx, g), None, None


@register("scatter")
class Scatter(Primitive):
    def forward(self, a, dim, idx, src, reduce=None):
        d = norm_dims(dim, a.ndim)[0] if a.ndim else 0
        self.dim = d
        self.src_shape = src.shape if hasattr(src, "shape") else None
        self.save_for_backward(None, idx)
        out = a.copy()
        if a.ndim == 0:
            return out
        _check_index_range(idx, a.shape[d], "scatter")
        full = _full_index(self.xp, idx, d)
        if self.src_shape is not None:
            src = src[tuple(slice(0, s) for s in idx.shape)]
        if reduce == "add":
            add_at(self.xp, out, full, src)
        elif reduce == "multiply":
            if self.xp is np:
                np.multiply.at(out, full, src)
            else:
                # CuPy has no multiply.at: do the rare multiplicative scatter on the host.
                host = out.get()
                np.multiply.at(host, tuple(g.get() if hasattr(g, "get") else g for g in full),
                               src.get() if hasattr(src, "get") else src)
                out[...] = self.xp.asarray(host)
        else:
            out[full] = src
        return out

    def backward(self, g):
        _, idx = self.saved_tensors
        ga = g.scatter(self.dim, idx, 0.0)
        gs = None
        if self.src_shape is not None and self.needs_input_grad[3]:
            gs = g.gather(self.dim, idx)
            if gs.shape != self.src_shape:
                gs = IndexAddInto.apply(gs, self.src_shape,
                                        tuple(slice(0, t) for t in gs.shape), True)
        return ga, None, None, gs


@register("scatter_add")
class ScatterAdd(Primitive):
    def forward(self, a, dim, idx, src):
        d = norm_dims(dim, a.ndim)[0] if a.ndim else 0
        self.dim = d
        self.src_shape = src.shape
        self.save_for_backward(None, idx)
        out = a.copy()
        _check_index_range(idx, a.shape[d] if a.ndim else 1, "scatter_add")
        full = _full_index(self.xp, idx, d)
        add_at(self.xp, out, full, src[tuple(slice(0, s) for s in idx.shape)])
        return out

    def backward(self, g):
        _, idx = self.saved_tensors
        gs = None
        if self.needs_input_grad[3]:
            gs = g.gather(self.dim, idx)
            if gs.shape != self.src_shape:
                gs = IndexAddInto.apply(gs, self.src_shape,
                                        tuple(slice(0, t) for t in gs.shape), True)
        return g, None, None, gs


@register("index_select")
class IndexSelect(Primitive):
    def forward(self, a, dim, idx):
        d = norm_dims(dim, a.ndim)[0] if a.ndim else 0
        if idx.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
        self.dim, self.in_shape = d, a.shape
        self.save_for_backward(None, idx)
        if a.ndim:
            if idx.size and (idx.max() >= a.shape[d] or idx.min() < -a.shape[d]):
                raise IndexError("index out of range in self")  # torch's wording
            return self.xp.take(a, idx.reshape(-1), axis=d)
        return a.reshape(1)[idx.reshape(-1)].reshape(())

    def backward(self, g):
        _, idx = self.saved_tensors
        return g.new_zeros(self.in_shape).index_add(self.dim, idx, g), None, None


@register("index_add")
class IndexAdd(Primitive):
    def forward(self, a, dim, idx, src, alpha=1):
        d = norm_dims(dim, a.ndim)[0] if a.ndim else 0
        self.dim, self.alpha = d, alpha
        self.save_for_backward(None, idx)
        out = a.copy()
        sel = [slice(None)] * a.ndim
        sel[d] = idx
        moved_src = src * alpha if alpha != 1 else src
        add_at(self.xp, out, tuple(sel), moved_src)
        return out

    def backward(self, g):
        _, idx = self.saved_tensors
        gs = g.index_select(self.dim, idx)
        if self.alpha != 1:
            gs = gs * self.alpha
        return g, None, None, gs


@register("masked_fill")
class MaskedFill(Primitive):
    def forward(self, a, mask, value):
        if mask.dtype != np.bool_:
            raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with "
                               f"dtype {_dt.from_numpy_dtype(mask.dtype)}")
        self.save_for_backward(mask)
        self.in_shape = a.shape
        self.v_tensor = hasattr(value, "shape")
        out = self.xp.where(mask, value, a)
        if out.shape != a.shape:
            raise RuntimeError(f"The size of tensor a ({a.shape}) must match the size of mask "
                               f"({mask.shape})")
        return out.astype(a.dtype, copy=False)

    def backward(self, g):
        (mask,) = self.saved_tensors
        gv = None
        if self.v_tensor and self.needs_input_grad[2]:
            gv = g.where(mask, g.new_zeros(())).sum()
        return g.masked_fill(mask, 0.0), None, gv


class _SortLike(Primitive):
    def _non_diff_outputs(self):
        return (1,)

    def backward(self, g, gi):
        if len(self.in_shape) == 0:
            return g
        idx = self._idx_tensor()
        return g.new_zeros(self.in_shape).scatter(self.dim, idx, g)

    def _idx_tensor(self):
        from ..tensor import Tensor
        return Tensor._from_array(self.indices)


@register("sort")
class Sort(_SortLike):
    upcast_bf16 = True

    def forward(self, a, dim=-1, descending=False, stable=False):
        xp = self.xp
        self.in_shape = a.shape
        if a.ndim == 0:
            self.dim = 0
            self.indices = xp.zeros((), np.int64)
            return a.copy(), self.indices
        d = norm_dims(dim, a.ndim)[0]
        self.dim = d
        if descending:
            # Stable descending order = stable ascending order of an order-reversing key.
            # NaN counts as the largest value, like torch; ~x reverses integers without overflow.
            if a.dtype.kind == "f":
                key = xp.where(xp.isnan(a), -xp.inf, -a)
            elif a.dtype.kind == "b":
                key = ~a.astype(np.uint8)
            else:
                key = ~a
            idx = xp.argsort(key, axis=d, kind="stable")
        else:
            idx = xp.argsort(a, axis=d, kind="stable")
        idx = idx.astype(np.int64)
        self.indices = idx
        return xp.take_along_axis(a, idx, axis=d), idx


@register("topk")
class TopK(_SortLike):
    upcast_bf16 = True

    def forward(self, a, k, dim=-1, largest=True, sorted=True):
        self.in_shape = a.shape
        xp = self.xp
        d = norm_dims(dim, a.ndim)[0] if a.ndim else 0
        self.dim = d
        n = a.shape[d] if a.ndim else 1
        if k > n or k < 0:
            raise RuntimeError("selected index k out of range")
        s = Sort()
        s.xp = xp
        vals, idx = s.forward(a, d, descending=largest, stable=True)
        sl = [slice(None)] * a.ndim
        if a.ndim:
            sl[d] = slice(0, k)
        idx = idx[tuple(sl)]
        self.indices = idx
        return vals[tuple(sl)], idx


@register("nonzero")
class Nonzero(_NoGrad):
    out_dtype = _dt.int64

    def forward(self, a):
        if a.ndim == 0:
            return self.xp.zeros((int(bool(a)), 0), dtype=np.int64)
        return self.xp.stack(self.xp.nonzero(a), axis=1).astype(np.int64)


@register("unique")
class Unique(_NoGrad):
    upcast_bf16 = True

    def forward(self, a, sorted=True, return_inverse=False, return_counts=False, dim=None):
        xp = self.xp
        if dim is None:
            vals, inv, counts = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True)
            inv = inv.reshape(a.shape)
        else:
            vals, inv, counts = xp.unique(a, return_inverse=True, return_counts=True, axis=dim)
            inv = inv.reshape(-1)
        out = [vals]
        if return_inverse:
            out.append(inv.astype(np.int64))
        if return_counts:
            out.append(counts.astype(np.int64))
        return tuple(out) if len(out) > 1 else vals

    def backward(self, *g):
        return (None,)


@register("one_hot")
class OneHot(_NoGrad):
    out_dtype = _dt.int64

    def forward(self, a, num_classes=-1):
        if a.dtype.kind not in "iu":
            raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
        if a.size and a.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        n = int(a.max()) + 1 if num_classes == -1 else num_classes
        if num_classes != -1 and a.size and a.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
        return (a[..., None] == self.xp.arange(n)).astype(np.int64)
