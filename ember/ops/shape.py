"""Shape primitives: reshape/view, permute, expand, cat, flip, roll, tril/triu, diag, diagonal,
repeat. View-producing ops set ``is_view`` so their outputs share the base's version counter."""
from __future__ import annotations

import numpy as np

from .reduction import norm_dims
from .registry import Primitive, register


def _shape_str(s):
    return "[" + ", ".join(str(int(x)) for x in s) + "]"


@register("reshape")
class Reshape(Primitive):
    is_view = True

    def forward(self, a, shape, view=False):
        self.in_shape = a.shape
        self._backward_name = "ViewBackward0"
        if view:
            try:
                if self.xp is np:
                    return a.reshape(shape, copy=False)
                out = a.reshape(shape)
                # CuPy's reshape copies where a view is impossible: that must fail as in torch.
                if a.size and not self.xp.may_share_memory(out, a):
                    raise ValueError("not viewable")
                return out
            except ValueError:
                raise RuntimeError(
                    "view size is not compatible with input tensor's size and stride (at least "
                    "one dimension spans across two contiguous subspaces). Use .reshape(...) "
                    "instead.") from None
        out = a.reshape(shape)
        # torch names a reshape that copies UnsafeViewBackward0 (after a clone).
        if a.size and not self.xp.may_share_memory(out, a):
            self._backward_name = "UnsafeViewBackward0"
        return out

    def backward(self, g):
        return g.reshape(self.in_shape)


@register("permute")
class Permute(Primitive):
    is_view = True

    def forward(self, a, dims):
        self.dims = dims
        return a.transpose(dims)

    def backward(self, g):
        inv = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inv[d] = i
        return g.permute(inv)


@register("expand")
class Expand(Primitive):
    is_view = True

    def forward(self, a, shape):
        self.in_shape = a.shape
        return self.xp.broadcast_to(a, shape)

    def backward(self, g):
        from .elementwise import sum_to
        return sum_to(g, self.in_shape)


@register("cat")
class Cat(Primitive):
    def forward(self, *arrays, dim=0):
        ref = next((a for a in arrays if not (a.ndim == 1 and a.shape[0] == 0)), arrays[0])
        d = norm_dims(dim, ref.ndim)[0]
        self.dim = d
        kept = []
        self.sizes = []
        for i, a in enumerate(arrays):
            if a.ndim == 1 and a.shape[0] == 0 and ref.ndim != 1:
                self.sizes.append(None)  # torch skips legacy empty 1-d tensors
                continue
            if a.ndim != ref.ndim:
                raise RuntimeError(f"Tensors must have same number of dimensions: got "
                                   f"{ref.ndim} and {a.ndim}")
            for k in range(a.ndim):
                if k != d and a.shape[k] != ref.shape[k]:
                    raise RuntimeError(
                        f"Sizes of tensors must match except in dimension {d}. Expected size "
                        f"{ref.shape[k]} but got size {a.shape[k]} for tensor number {i} in "
                        f"the list (shapes {list(ref.shape)} and {list(a.shape)}).")
            self.sizes.append(a.shape[d])
            kept.append(a)
        return self.xp.concatenate(kept, axis=d)

    def backward(self, g):
        out = []
        start = 0
        for s in self.sizes:
            if s is None:
                # torch still gives the skipped legacy empty input an (empty) gradient.
                out.append(g.new_zeros((0,)))
                continue
            out.append(g.narrow(self.dim, start, s))
            start += s
        return tuple(out)


@register("flip")
class Flip(Primitive):
    def forward(self, a, dims):
        self.dims = norm_dims(dims, a.ndim) if a.ndim else ()
        return self.xp.flip(a, self.dims).copy() if self.dims else a.copy()

    def backward(self, g):
        return g.flip(self.dims) if self.dims else g


@register("roll")
class Roll(Primitive):
    def forward(self, a, shifts, dims=None):
        self.shifts, self.dims = shifts, dims
        return self.xp.roll(a, shifts, dims)

    def backward(self, g):
        neg = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return g.roll(neg, self.dims)


@register("tril")
class Tril(Primitive):
    def forward(self, a, diagonal=0):
        self.k = diagonal
        return self.xp.tril(a, diagonal)

    def backward(self, g):
        return g.tril(self.k)


@register("triu")
class Triu(Primitive):
    def forward(self, a, diagonal=0):
        self.k = diagonal
        return self.xp.triu(a, diagonal)

    def backward(self, g):
        return g.triu(self.k)


@register("diagonal")
class Diagonal(Primitive):
    def forward(self, a, offset=0, dim1=0, dim2=1):
        self.args = (offset, dim1 % a.ndim, dim2 % a.ndim)
        self.in_shape = a.shape
        return self.xp.diagonal(a, offset, dim1, dim2).copy()

    def backward(self, g):
        return DiagonalScatter.apply(g, self.in_shape, *self.args)


@register("diagonal_scatter")
class DiagonalScatter(Primitive):
    """Zeros of ``shape`` with ``src`` written on a diagonal (the gradient of diagonal)."""

    def forward(self, src, shape, offset=0, dim1=0, dim2=1):
        self.args = (offset, dim1, dim2)
        out = self.xp.zeros(shape, dtype=src.dtype)
        view = self.xp.diagonal(out, offset, dim1, dim2)
        view.setflags(write=True) if self.xp is np else None
        _diag_write(self.xp, out, src, offset, dim1, dim2)
        return out

    def backward(self, g):
        return g.diagonal(*self.args)


def _diag_write(xp, out, src, offset, dim1, dim2):
    n = src.shape[-1]
    i = xp.arange(n)
    rows = i + max(-offset, 0)
    cols = i + max(offset, 0)
    idx = [slice(None)] * out.ndim
    idx[dim1] = rows
    idx[dim2] = cols
    # Advanced indices on dim1 and dim2 put the diagonal axis where numpy decides: move it last.
    moved = xp.moveaxis(out, (dim1, dim2), (-2, -1))
    moved[..., rows, cols] = src


@register("diag")
class Diag(Primitive):
    def forward(self, a, diagonal=0):
        self.k = diagonal
        self.nd = a.ndim
        if a.ndim not in (1, 2):
            raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{a.ndim}D")
        self.in_shape = a.shape
        return self.xp.diag(a, diagonal).copy()

    def backward(self, g):
        if self.nd == 1:
            return g.diagonal(self.k)
        return DiagonalScatter.apply(g, self.in_shape, self.k, 0, 1)


@register("repeat")
class Repeat(Primitive):
    def forward(self, a, sizes):
        if len(sizes) < a.ndim:
            raise RuntimeError("Number of dimensions of repeat dims can not be smaller than "
                               "number of dimensions of tensor")
        self.orig_shape = a.shape
        self.in_shape = (1,) * (len(sizes) - a.ndim) + a.shape
        self.sizes = sizes
        return self.xp.tile(a.reshape(self.in_shape), sizes)

    def backward(self, g):
        split = []
        for r, s in zip(self.sizes, self.in_shape):
            split += [r, s]
        g = g.reshape(split).sum(tuple(range(0, len(split), 2)))
        return g.reshape(self.orig_shape)
