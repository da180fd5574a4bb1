"""Reduction primitives: sum, mean, prod, amax/amin, max/min with indices, var, norm,
logsumexp, cumsum/cumprod, all/any, argmax/argmin."""
from __future__ import annotations

import numpy as np

from ..backend import dtypes as _dt
from .elementwise import _NoGrad
from .registry import Primitive, register


def norm_dims(dim, ndim: int):
    """``dim`` (None, int, or sequence) as a sorted tuple of non-negative axes; checks range."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    out = []
    n = max(ndim, 1)
    for d in dim:
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}],"
                             f" but got {d})")
        out.append(d % n)
    return tuple(sorted(set(out)))


def _keep_shape(shape, dims):
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def expand_back(g, in_shape, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced ``dims`` of ``in_shape``."""
    if not keepdim and in_shape:
        g = g.reshape(_keep_shape(in_shape, dims))
    return g.expand(in_shape)


class _Reduce(Primitive):
    def _setup(self, a, dim, keepdim):
        dims = norm_dims(dim, a.ndim)
        self.in_shape = a.shape
        self.dims = dims
        self.keepdim = keepdim
        if dim is not None and self.op_name in _DIM_OVERLOAD:
            # torch's sum/mean over dims is a second overload: grad_fn=<SumBackward1>.
            self._backward_name = _DIM_OVERLOAD[self.op_name]
        return dims if a.ndim else None


_DIM_OVERLOAD = {"sum": "SumBackward1", "mean": "MeanBackward1"}


def _half(a) -> bool:
    """float16, or native bfloat16 (CUDA): reduce in float32, as torch does (CuPy would
    accumulate bfloat16 in bfloat16)."""
    return a.dtype.itemsize == 2 and (a.dtype == np.float16 or _dt.is_bf16_array(a))


@register("sum")
class Sum(_Reduce):
    def forward(self, a, dim=None, keepdim=False, dtype=None):
        ax = self._setup(a, dim, keepdim)
        if dtype is not None:
            self.out_dtype = dtype
            return a.sum(axis=ax, keepdims=keepdim, dtype=dtype.np)
        if a.dtype.kind in "biu":
            self.out_dtype = _dt.int64
            return a.sum(axis=ax, keepdims=keepdim, dtype=np.int64)
        if _half(a):
            return a.sum(axis=ax, keepdims=keepdim, dtype=np.float32).astype(a.dtype)
        return a.sum(axis=ax, keepdims=keepdim)

    def backward(self, g):
        return expand_back(g, self.in_shape, self.dims, self.keepdim)


@register("mean")
class Mean(_Reduce):
    def forward(self, a, dim=None, keepdim=False):
        ax = self._setup(a, dim, keepdim)
        n = 1
        for d in self.dims:
            n *= a.shape[d] if a.ndim else 1
        self.n = n
        if _half(a):
            return a.mean(axis=ax, keepdims=keepdim, dtype=np.float32).astype(a.dtype)
        return a.mean(axis=ax, keepdims=keepdim)

    def backward(self, g):
        return expand_back(g / self.n if self.n else g, self.in_shape, self.dims, self.keepdim)


@register("prod")
class Prod(_Reduce):
    upcast_bf16 = True

    def forward(self, a, dim=None, keepdim=False):
        ax = self._setup(a, dim, keepdim)
        self.save_for_backward(a)
        if a.dtype.kind in "biu":
            self.out_dtype = _dt.int64
            return a.prod(axis=ax, keepdims=keepdim, dtype=np.int64)
        return a.prod(axis=ax, keepdims=keepdim)

    def backward(self, g):
        (a,) = self.saved_tensors
        if a.dim() == 0:
            return g
        if len(self.dims) == a.dim() and a.dim() != 1:
            flat = a.reshape(-1)
            gf = _prod_grad_last(flat, g.reshape(()))
            return gf.reshape(a.shape)
        d = self.dims[0]
        x = a.movedim(d, -1)
        gk = g if self.keepdim else g.unsqueeze(d)
        gx = _prod_grad_last(x, gk.movedim(d, -1).squeeze(-1))
        return gx.movedim(-1, d)


def _prod_grad_last(x, g):
    # d prod / d x_i = prod of all others = (exclusive cumprod from left) * (from right);
    # written with ember ops so that zeros are handled and double backward works.
    from .shape import Cat
    ones = x.new_ones(x.shape[:-1] + (1,))
    left = Cat.apply(ones, x[..., :-1], dim=-1).cumprod(-1)
    right = Cat.apply(x[..., 1:], ones, dim=-1).flip(-1).cumprod(-1).flip(-1)
    return left * right * g.unsqueeze(-1)


class _AmaxAmin(_Reduce):
    def forward(self, a, dim=None, keepdim=False):
        ax = self._setup(a, dim, keepdim)
        if a.size == 0:
            if dim is None or dim == ():
                raise RuntimeError(f"{self.op_name}(): Expected reduction dim to be specified "
                                   "for input.numel() == 0. Specify the reduction dim with the "
                                   "'dim' argument.")
            # Reducing over non-empty dims of an empty tensor is fine (an empty result).
            for d in self.dims:
                if a.shape[d] == 0:
                    raise IndexError(f"{self.op_name}(): Expected reduction dim {d} to have "
                                     "non-zero size.")
        out = self.fn(a, axis=ax, keepdims=keepdim)
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, out = self.saved_tensors
        o = expand_back(out, self.in_shape, self.dims, self.keepdim)
        mask = (a == o).to(g.dtype)
        count = mask.sum(self.dims, keepdim=True)
        return expand_back(g, self.in_shape, self.dims, self.keepdim) * mask / count


@register("amax")
class Amax(_AmaxAmin):
    fn = staticmethod(np.amax)

    def forward(self, a, dim=None, keepdim=False):
        self.fn = self.xp.amax
        return super().forward(a, dim, keepdim)


@register("amin")
class Amin(_AmaxAmin):
    fn = staticmethod(np.amin)

    def forward(self, a, dim=None, keepdim=False):
        self.fn = self.xp.amin
        return super().forward(a, dim, keepdim)


class _MaxMinDim(Primitive):
    """max/min along one dim: (values, indices); the gradient goes to the chosen index."""

    def forward(self, a, dim, keepdim=False):
        xp = self.xp
        self.in_shape = a.shape
        if a.ndim == 0:
            self.dim = 0
            self.keepdim = keepdim
            return a.copy(), xp.zeros((), dtype=np.int64)
        d = norm_dims(dim, a.ndim)[0]
        self.dim = d
        self.keepdim = keepdim
        if a.shape[d] == 0:
            raise IndexError(f"{self.op_name}(): Expected reduction dim {d} to have non-zero "
                             "size.")
        idx = self.argfn(xp, a, d)
        vals = xp.take_along_axis(a, idx, axis=d)
        if not keepdim:
            vals = vals.squeeze(d)
            idx = idx.squeeze(d)
        return vals, idx.astype(np.int64)

    def _non_diff_outputs(self):
        return (1,)

    def backward(self, g, gi):
        if len(self.in_shape) == 0:
            return g
        idx = self._idx(g.device)
        if not self.keepdim:
            g = g.unsqueeze(self.dim)
            idx = idx.unsqueeze(self.dim)
        return g.new_zeros(self.in_shape).scatter(self.dim, idx, g)

    def _idx(self, dev):
        raise NotImplementedError


def _argmax_nan(xp, a, d):
    # torch propagates NaN as the max; numpy's argmax picks the first NaN too.
    return xp.expand_dims(xp.argmax(a, axis=d), d)


def _argmin_nan(xp, a, d):
    return xp.expand_dims(xp.argmin(a, axis=d), d)


def _make_maxmin(name, argfn):
    def forward(self, a, dim, keepdim=False):
        vals, idx = _MaxMinDim.forward(self, a, dim, keepdim)
        self.indices = idx
        return vals, idx

    def _idx(self, dev):
        from ..tensor import Tensor
        # The gradient's device names the indices' one (not inferred from the array type).
        return Tensor._from_array(self.indices, dev=dev)

    cls = type(name.title().replace("_", ""), (_MaxMinDim,),
               {"argfn": staticmethod(argfn), "forward": forward, "_idx": _idx})
    return register(name)(cls)


MaxDim = _make_maxmin("max_dim", _argmax_nan)
MinDim = _make_maxmin("min_dim", _argmin_nan)


class _ArgReduce(_NoGrad):
    out_dtype = _dt.int64

    def forward(self, a, dim=None, keepdim=False):
        xp = self.xp
        if a.size == 0:
            if dim is None:
                raise IndexError(f"{self.op_name}(): Expected reduction dim to be specified for "
                                 "input.numel() == 0.")
            d = norm_dims(dim, a.ndim)[0] if a.ndim else 0
            if a.ndim and a.shape[d] == 0:
                raise IndexError(f"{self.op_name}(): Expected reduction dim {d} to have non-zero "
                                 "size.")
        if dim is None:
            r = self.fn(xp, a.reshape(-1), 0)
            return xp.asarray(r).reshape((1,) * a.ndim if keepdim else ())
        d = norm_dims(dim, a.ndim)[0] if a.ndim else None
        if d is None:
            return xp.zeros((), dtype=np.int64)
        r = self.fn(xp, a, d)
        return xp.expand_dims(r, d) if keepdim else r


@register("argmax")
class Argmax(_ArgReduce):
    fn = staticmethod(lambda xp, a, d: xp.argmax(a, axis=d))


@register("argmin")
class Argmin(_ArgReduce):
    fn = staticmethod(lambda xp, a, d: xp.argmin(a, axis=d))


@register("var")
class Var(_Reduce):
    def forward(self, a, dim=None, correction=1, keepdim=False):
        ax = self._setup(a, dim, keepdim)
        n = 1
        for d in self.dims:
            n *= a.shape[d] if a.ndim else 1
        self.n = n
        self.correction = correction
        self.save_for_backward(a)
        if _half(a):
            return a.astype(np.float32).var(axis=ax, ddof=correction,
                                            keepdims=keepdim).astype(a.dtype)
        return a.var(axis=ax, ddof=correction, keepdims=keepdim)

    def backward(self, g):
        (a,) = self.saved_tensors
        mean = a.mean(self.dims, keepdim=True)
        ge = expand_back(g, self.in_shape, self.dims, self.keepdim)
        return ge * (a - mean) * (2.0 / max(self.n - self.correction, 0))


@register("norm")
class Norm(_Reduce):
    """Vector p-norm over ``dim`` (all elements by default)."""

    def forward(self, a, p=2.0, dim=None, keepdim=False):
        ax = self._setup(a, dim, keepdim)
        xp = self.xp
        self.p = p
        absa = xp.abs(a)
        if p == float("inf"):
            out = absa.max(axis=ax, keepdims=keepdim)
        elif p == 2:
            out = xp.sqrt((absa * absa).sum(axis=ax, keepdims=keepdim,
                                            dtype=np.float32 if _half(a) else None))
            if _half(a):
                out = out.astype(a.dtype)
        elif p == 1:
            out = absa.sum(axis=ax, keepdims=keepdim)
        elif p == 0:
            out = (a != 0).sum(axis=ax, keepdims=keepdim).astype(a.dtype)
        else:
            out = (absa ** p).sum(axis=ax, keepdims=keepdim) ** (1.0 / p)
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, out = self.saved_tensors
        p = self.p
        ge = expand_back(g, self.in_shape, self.dims, self.keepdim)
        o = expand_back(out, self.in_shape, self.dims, self.keepdim)
        if p == 0:
            return ge * 0
        if p == 1:
            return ge * a.sign()
        if p == float("inf"):
            mask = (a.abs() == o).to(g.dtype)
            return ge * a.sign() * mask / mask.sum(self.dims, keepdim=True)
        if p == 2:
            safe = o.masked_fill(o == 0, 1.0)
            return (ge * a / safe).masked_fill(o == 0, 0.0)
        safe = o.masked_fill(o == 0, 1.0)
        r = ge * a * a.abs() ** (p - 2) / safe ** (p - 1)
        return r.masked_fill(o == 0, 0.0)


@register("logsumexp")
class LogSumExp(_Reduce):
    def forward(self, a, dim=None, keepdim=False):
        ax = self._setup(a, dim, keepdim)
        xp = self.xp
        m = a.max(axis=ax, keepdims=True) if a.size else xp.zeros(
            _keep_shape(a.shape, self.dims), a.dtype)
        m = xp.where(xp.isfinite(m), m, 0)
        acc = np.float32 if _half(a) else None
        out = xp.log(xp.exp(a - m).sum(axis=ax, keepdims=True, dtype=acc)) + m
        if acc is not None:
            out = out.astype(a.dtype)
        if not keepdim:
            out = out.reshape(tuple(s for i, s in enumerate(a.shape) if i not in self.dims))
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, out = self.saved_tensors
        o = expand_back(out, self.in_shape, self.dims, self.keepdim)
        return expand_back(g, self.in_shape, self.dims, self.keepdim) * (a - o).exp()


@register("cumsum")
class Cumsum(Primitive):
    def forward(self, a, dim):
        self.dim = norm_dims(dim, a.ndim)[0] if a.ndim else 0
        if a.ndim == 0:
            return a.copy()
        if a.dtype.kind in "biu":
            self.out_dtype = _dt.int64
            return self.xp.cumsum(a, axis=self.dim, dtype=np.int64)
        if _half(a):
            return self.xp.cumsum(a, axis=self.dim, dtype=np.float32).astype(a.dtype)
        return self.xp.cumsum(a, axis=self.dim)

    def backward(self, g):
        if g.dim() == 0:
            return g
        return g.flip(self.dim).cumsum(self.dim).flip(self.dim)


@register("cumprod")
class Cumprod(Primitive):
    upcast_bf16 = True

    def forward(self, a, dim):
        self.dim = norm_dims(dim, a.ndim)[0] if a.ndim else 0
        self.save_for_backward(a)
        if a.ndim == 0:
            return a.copy()
        if a.dtype.kind in "biu":
            self.out_dtype = _dt.int64
            return self.xp.cumprod(a, axis=self.dim, dtype=np.int64)
        return self.xp.cumprod(a, axis=self.dim)

    def backward(self, g):
        (a,) = self.saved_tensors
        if a.dim() == 0:
            return g
        d = self.dim
        n = a.shape[d]
        # out_j = prod_{k<=j} a_k, so d out_j / d a_i = prod_{k<=j, k!=i} a_k for j >= i.
        # Build it with exclusive products so zeros in ``a`` are exact (O(n^2) along dim).
        from .shape import Cat
        x = a.movedim(d, -1)
        gx = g.movedim(d, -1)
        cols = []
        for i in range(n):
            onehot = x.new_zeros((n,))
            onehot._data[i] = 1
            others = x * (1 - onehot) + onehot
            prefix = others.cumprod(-1)[..., i:]
            cols.append((prefix * gx[..., i:]).sum(-1, keepdim=True))
        return Cat.apply(*cols, dim=-1).movedim(-1, d) if n else g


class _BoolReduce(_NoGrad):
    out_dtype = _dt.bool_

    def forward(self, a, dim=None, keepdim=False):
        ax = norm_dims(dim, a.ndim) if a.ndim else None
        return self.fn(a, axis=ax, keepdims=keepdim)


@register("all")
class All(_BoolReduce):
    fn = staticmethod(lambda a, axis, keepdims: a.all(axis=axis, keepdims=keepdims))


@register("any")
class Any(_BoolReduce):
    fn = staticmethod(lambda a, axis, keepdims: a.any(axis=axis, keepdims=keepdims))
