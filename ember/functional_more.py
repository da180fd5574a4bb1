"""More top-level torch functions and Tensor methods: type info, inverse hyperbolics, integer
helpers, fused multiply-adds, histograms, mode, splitting helpers, scatter-style views, strided
views, ``*_copy`` variants, top-level in-place aliases, and in-place Tensor methods.

Most are composites of ember ops (autograd for free); the few primitives here (inverse
hyperbolics, i0, integer binaries, strided views, extended scatter-reduce) have oracle cases in
``tests/specs_more.py``.
"""
from __future__ import annotations

import collections
import math
import warnings

import numpy as np

from . import functional as F
from .backend import dtypes as _dt
from .creation import arange, empty, tensor, zeros
from .ops.elementwise import _nondiff_binary, _unary
from .ops.registry import GRAD_MODE, Primitive, register
from .tensor import Tensor, make_tensor

__all__ = ["finfo", "iinfo", "typename", "acosh", "asinh", "atanh", "arccosh", "arcsinh",
           "arctanh", "i0", "mvlgamma", "nextafter", "gcd", "lcm", "bitwise_left_shift",
           "bitwise_right_shift", "isreal", "positive", "rsub", "addcmul", "addcdiv", "addmv",
           "addr", "addbmm", "chain_matmul", "diagflat", "histogram", "histogramdd", "mode",
           "unravel_index", "range", "atleast_1d", "atleast_2d", "atleast_3d", "dsplit",
           "hsplit", "vsplit", "row_stack", "split_with_sizes", "unsafe_split", "unsafe_chunk",
           "select_scatter", "slice_scatter", "diagonal_scatter", "as_strided", "empty_strided",
           "view_copy", "permute_copy", "t_copy", "transpose_copy", "squeeze_copy",
           "unsqueeze_copy", "expand_copy", "diagonal_copy", "select_copy", "slice_copy",
           "split_copy", "unbind_copy", "narrow_copy", "detach_copy", "alias_copy", "detach",
           "fill", "index_put_", "put", "index_reduce"]


def _xp(t: Tensor):
    from .backend.device import get_xp
    return get_xp(t.device)


def _host_ok() -> bool:
    from .backend.device import host_checks_allowed
    return host_checks_allowed()


# ----------------------------------------------------------------------------- type info
class finfo:
    """Machine limits of a floating dtype (torch.finfo)."""

    def __init__(self, type: _dt.dtype | None = None) -> None:
        d = _dt.get_default_dtype() if type is None else type
        if not (d.is_floating_point or d.is_complex):
            raise TypeError("torch.finfo() requires a floating point input type. Use "
                            "torch.iinfo to handle 'torch.finfo'")
        if d is _dt.bfloat16:
            # 8 exponent bits like float32, 7 stored mantissa bits.
            self.bits, self.eps, self.resolution = 16, 2.0 ** -7, 0.01
            self.max = float((2 - 2.0 ** -7) * 2.0 ** 127)
            self.tiny = self.smallest_normal = 2.0 ** -126
        else:
            # Complex dtypes report the limits of their real part, as torch does.
            fi = np.finfo(np.dtype(d.np))
            self.bits = fi.bits
            self.eps, self.max = float(fi.eps), float(fi.max)
            self.tiny = self.smallest_normal = float(fi.smallest_normal)
            self.resolution = 10.0 ** -fi.precision
        self.min = -self.max
        # A complex dtype reports its real part's name (finfo(complex64).dtype == 'float32').
        real = {_dt.complex64: _dt.float32, _dt.complex128: _dt.float64}.get(d, d)
        self.dtype = real.name.replace("torch.", "")

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype (torch.iinfo)."""

    def __init__(self, type: _dt.dtype) -> None:
        if type is _dt.bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if type.is_floating_point or type.is_complex:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        ii = np.iinfo(np.dtype(type.np))
        self.bits, self.min, self.max = ii.bits, int(ii.min), int(ii.max)
        self.dtype = type.name.replace("torch.", "")

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def typename(obj) -> str:
    """'torch.FloatTensor' for tensors, else the object's qualified type name."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if qual is None:
        qual = type(obj).__qualname__
        module = type(obj).__module__
    if module in ("", "builtins"):
        return qual
    return f"{module}.{qual}"


# ----------------------------------------------------------------------------- primitives
def _i1_tensor(a: Tensor) -> Tensor:
    """Modified Bessel I1 of ``a`` as a constant (the derivative of i0)."""
    xp = _xp(a)
    if xp is np:
        from scipy.special import i1 as _i1
    else:  # pragma: no cover - GPU only
        from cupyx.scipy.special import i1 as _i1
    return make_tensor(xp.asarray(_i1(a._data)).astype(a._data.dtype), a._dtype, a._device)


Acosh = _unary("acosh", lambda xp, a: xp.arccosh(a), lambda a: (a * a - 1).rsqrt())
Asinh = _unary("asinh", lambda xp, a: xp.arcsinh(a), lambda a: (a * a + 1).rsqrt())
Atanh = _unary("atanh", lambda xp, a: xp.arctanh(a), lambda a: (1 - a * a).reciprocal())
I0 = _unary("i0", lambda xp, a: xp.i0(a), _i1_tensor)

Gcd = _nondiff_binary("gcd", lambda xp, a, b: xp.gcd(a, b))
Lcm = _nondiff_binary("lcm", lambda xp, a, b: xp.lcm(a, b))
Nextafter = _nondiff_binary("nextafter", lambda xp, a, b: xp.nextafter(a, b))
BitwiseLeftShift = _nondiff_binary("bitwise_left_shift", lambda xp, a, b: xp.left_shift(a, b))
BitwiseRightShift = _nondiff_binary("bitwise_right_shift",
                                    lambda xp, a, b: xp.right_shift(a, b))


def acosh(input: Tensor) -> Tensor:
    return F._unary_float(Acosh, input)


def asinh(input: Tensor) -> Tensor:
    return F._unary_float(Asinh, input)


def atanh(input: Tensor) -> Tensor:
    return F._unary_float(Atanh, input)


arccosh, arcsinh, arctanh = acosh, asinh, atanh


def i0(input: Tensor) -> Tensor:
    return F._unary_float(I0, input)


def mvlgamma(input: Tensor, p: int) -> Tensor:
    """Log of the multivariate gamma function of dimension ``p``."""
    from .special import multigammaln
    if _host_ok() and bool((input <= (p - 1) / 2).any()):
        raise RuntimeError("All elements must be greater than (p-1)/2")
    return multigammaln(input, p)


def _int_binary(cls, name):
    def fn(input, other):
        for v in (input, other):
            if isinstance(v, Tensor) and (v.dtype.is_floating_point or v.dtype.is_complex):
                raise RuntimeError(f"\"{name}_cpu\" not implemented for "
                                   f"'{str(v.dtype).replace('torch.', '').title()}'")
        return F._binary(cls, input, other)
    fn.__name__ = name
    return fn


gcd = _int_binary(Gcd, "gcd")
lcm = _int_binary(Lcm, "lcm")
bitwise_left_shift = _int_binary(BitwiseLeftShift, "bitwise_left_shift")
bitwise_right_shift = _int_binary(BitwiseRightShift, "bitwise_right_shift")


def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next float after ``input`` towards ``other`` (no gradient)."""
    return F._binary(Nextafter, input, other)


def isreal(input: Tensor) -> Tensor:
    if input.dtype.is_complex:
        return F.imag(input) == 0 if hasattr(F, "imag") else input.imag == 0
    return F.ones_like(input, dtype=_dt.bool_) if hasattr(F, "ones_like") else \
        (input == input) | (input != input)


def positive(input: Tensor) -> Tensor:
    if input.dtype is _dt.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def rsub(input: Tensor, other, alpha=1) -> Tensor:
    """``other - alpha * input``."""
    return F.sub(other, input, alpha=alpha)


# ----------------------------------------------------------------------------- fused products
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    return input + value * (tensor1 * tensor2) if value != 1 else input + tensor1 * tensor2


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    if not (tensor1.dtype.is_floating_point or tensor1.dtype.is_complex) and \
            not (tensor2.dtype.is_floating_point or tensor2.dtype.is_complex):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future release addcdiv will perform a true division of tensor1 "
                           "and tensor2. The historic addcdiv behavior can be implemented as "
                           "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) "
                           "for integer inputs and as (input + value * tensor1 / tensor2) for "
                           "float inputs. The future addcdiv behavior is just the latter "
                           "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    return input + value * (tensor1 / tensor2) if value != 1 else input + tensor1 / tensor2


def _beta_alpha(input: Tensor, prod: Tensor, beta, alpha) -> Tensor:
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        # torch ignores input entirely (NaN/inf in it do not propagate).
        # where() keeps input in the graph with a zero gradient, as torch reports.
        return prod + F.where((input != input) & (input == input), input, 0)
    return (input * beta if beta != 1 else input) + prod


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    if mat.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.dim()}, "
                           f"{mat.dim()}, {vec.dim()}")
    return _beta_alpha(input, F.mv(mat, vec), beta, alpha)


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    if vec1.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"outer product expected 1-D vectors, got {vec1.dim()}-D and "
                           f"{vec2.dim()}-D")
    return _beta_alpha(input, F.outer(vec1, vec2), beta, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    if batch1.dim() != 3 or batch2.dim() != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    return _beta_alpha(input, F.bmm(batch1, batch2).sum(0), beta, alpha)


_CHAIN_WARNED = [False]


def chain_matmul(*matrices: Tensor, out=None) -> Tensor:
    """Deprecated product of 2-D matrices (torch.linalg.multi_dot)."""
    if not _CHAIN_WARNED[0]:
        _CHAIN_WARNED[0] = True
        warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
                      "release. Use torch.linalg.multi_dot instead, which accepts a list of two "
                      "or more tensors rather than multiple parameters.", UserWarning)
    if len(matrices) == 0:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.dim() != 2:
            raise RuntimeError(f"Tensor dimension is {m.dim()}, expected 2 instead.")
    if len(matrices) == 1:
        return matrices[0].clone()
    res = matrices[0]
    for m in matrices[1:]:
        res = F.matmul(res, m)
    return res


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    return F.diag(input.reshape(-1), offset)


# ----------------------------------------------------------------------------- histograms, mode
_Histogram = collections.namedtuple("histogram", ["hist", "bin_edges"])
_HistogramDD = collections.namedtuple("histogramdd", ["hist", "bin_edges"])
_Mode = collections.namedtuple("mode", ["values", "indices"])


def histogram(input: Tensor, bins=100, *, range=None, weight: Tensor | None = None,
              density: bool = False, out=None):
    """Histogram of ``input`` (flattened): ``(hist, bin_edges)`` in input's dtype."""
    if not input.dtype.is_floating_point:
        raise RuntimeError("torch.histogram: input tensor and bins tensors should have the "
                           "same dtype")
    xp = _xp(input)
    a = input.detach()._data.reshape(-1)
    b = bins.detach()._data if isinstance(bins, Tensor) else int(bins)
    if range is None and not isinstance(bins, Tensor) and a.size:
        range = (float(a.min()), float(a.max()))
    w = None if weight is None else weight.detach()._data.reshape(-1)
    h, e = xp.histogram(a, bins=b, range=range, weights=w, density=density)
    dt = input.dtype
    return _Histogram(make_tensor(h.astype(a.dtype), dt, input.device),
                      make_tensor(xp.asarray(e).astype(a.dtype), dt, input.device))


def histogramdd(input: Tensor, bins=10, *, range=None, weight: Tensor | None = None,
                density: bool = False):
    """Histogram of the rows of an ``(N, D)`` input over D dimensions."""
    xp = _xp(input)
    a = input.detach()._data
    a = a.reshape(-1, a.shape[-1])
    if isinstance(bins, Tensor):
        b = [bins.detach()._data]
    elif isinstance(bins, (list, tuple)):
        b = [x.detach()._data if isinstance(x, Tensor) else int(x) for x in bins]
    else:
        b = int(bins)
    rng = None
    if range is not None:
        rng = [(range[2 * i], range[2 * i + 1]) for i in builtins_range(len(range) // 2)]
    w = None if weight is None else weight.detach()._data.reshape(-1)
    h, edges = xp.histogramdd(a, bins=b, range=rng, weights=w, density=density)
    dt = input.dtype
    return _HistogramDD(make_tensor(h.astype(a.dtype), dt, input.device),
                        tuple(make_tensor(xp.asarray(e).astype(a.dtype), dt, input.device)
                              for e in edges))


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """Most frequent value along ``dim`` (the smallest among ties) and its last index."""
    xp = _xp(input)
    if input.dim() == 0:
        return _Mode(input.clone(), zeros((), dtype=_dt.int64, device=input.device))
    dim = dim % input.dim()
    x = xp.moveaxis(input.detach()._data, dim, -1)
    eq = x[..., :, None] == x[..., None, :]
    count = eq.sum(-1)
    best = count.max(-1, keepdims=True)
    if x.dtype.kind == "b":
        key = xp.where(count == best, x.astype(np.int8), 2)
        val = key.min(-1, keepdims=True).astype(bool)
    elif x.dtype.kind in "iu":
        key = xp.where(count == best, x, np.iinfo(x.dtype).max)
        val = key.min(-1, keepdims=True)
    else:
        key = xp.where(count == best, x, xp.inf)
        val = key.min(-1, keepdims=True)
    n = x.shape[-1]
    pos = xp.where(x == val, xp.arange(n, dtype=np.int64), -1).max(-1)
    idx = make_tensor(xp.asarray(pos).copy(), _dt.int64, input.device).unsqueeze(-1)
    idx = idx.movedim(-1, dim)
    values = input.gather(dim, idx)
    if not keepdim:
        values, idx = values.squeeze(dim), idx.squeeze(dim)
    return _Mode(values, idx)


def unravel_index(indices: Tensor, shape) -> tuple:
    """Coordinates in ``shape`` of flat ``indices`` (tuple of int64 tensors)."""
    if not isinstance(indices, Tensor):
        indices = tensor(indices)
    if indices.dtype.is_floating_point or indices.dtype.is_complex or \
            indices.dtype is _dt.bool_:
        raise TypeError("expected 'indices' to be integer dtype, but got "
                        f"{indices.dtype}")
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(int(s) for s in shape)
    for s in shape:
        if s < 0:
            raise ValueError("'shape' cannot have negative values, but got "
                             f"{tuple(shape)}")
    numel = math.prod(shape)
    if _host_ok() and indices.numel() and (bool((indices < -numel).any()) or
                                           bool((indices >= numel).any())):
        raise RuntimeError("index is out of bounds for shape")
    flat = indices.to(_dt.int64)
    flat = F.where(flat < 0, flat + numel, flat)
    out = []
    for s in reversed(shape):
        out.append(F.remainder(flat, s))
        flat = F.floor_divide(flat, s)
    return tuple(reversed(out))


builtins_range = range


def range(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Deprecated: ``[start, end]`` inclusive of ``end``, in the default float dtype."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and start > end) or (step < 0 and start < end):
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    n = int(math.floor((end - start) / step)) + 1
    d = dtype or _dt.get_default_dtype()
    res = (arange(n, dtype=_dt.float64, device=device) * step + start).to(d)
    if requires_grad:
        res.requires_grad_(True)
    return res


# ----------------------------------------------------------------------------- shape helpers
def _atleast(args, fn):
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        return tuple(fn(a) for a in args[0])
    res = tuple(fn(a) for a in args)
    return res[0] if len(res) == 1 else res


def atleast_1d(*tensors):
    return _atleast(tensors, lambda t: t.reshape(1) if t.dim() == 0 else t)


def atleast_2d(*tensors):
    def f(t):
        if t.dim() == 0:
            return t.reshape(1, 1)
        return t.unsqueeze(0) if t.dim() == 1 else t
    return _atleast(tensors, f)


def atleast_3d(*tensors):
    def f(t):
        if t.dim() == 0:
            return t.reshape(1, 1, 1)
        if t.dim() == 1:
            return t.unsqueeze(0).unsqueeze(-1)
        return t.unsqueeze(-1) if t.dim() == 2 else t
    return _atleast(tensors, f)


def _dir_split(input, sections, dim, name, min_dim):
    if input.dim() < min_dim:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dim} dimension, "
                           f"but got a tensor with {input.dim()} dimensions!")
    if isinstance(sections, int):
        if sections == 0 or input.shape[dim] % sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but "
                               f"the size of the dimension {input.shape[dim]} is not divisible "
                               f"by the split_size {sections}!")
    return F.tensor_split(input, sections, dim)


def hsplit(input: Tensor, indices_or_sections):
    return _dir_split(input, indices_or_sections, 0 if input.dim() == 1 else 1, "hsplit", 1)


def vsplit(input: Tensor, indices_or_sections):
    return _dir_split(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input: Tensor, indices_or_sections):
    return _dir_split(input, indices_or_sections, 2, "dsplit", 3)


def row_stack(tensors, *, out=None) -> Tensor:
    return F.vstack(tensors)


def split_with_sizes(input: Tensor, split_sizes, dim: int = 0):
    sizes = [int(s) for s in split_sizes]
    d = dim % max(input.dim(), 1)
    if sum(sizes) != input.shape[d]:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to "
                           f"{input.shape[d]} (input tensor's size at dimension {dim}), but got "
                           f"split_sizes={sizes}")
    return F.split(input, sizes, dim)


def unsafe_split(input: Tensor, split_size, dim: int = 0):
    return F.split(input, split_size, dim)


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0):
    return F.chunk(input, chunks, dim)


# ----------------------------------------------------------------------------- scatter views
def _embed(input: Tensor, src: Tensor, view_fn) -> Tensor:
    out = input.clone()
    view = view_fn(out)
    if tuple(view.shape) != tuple(src.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size "
                           f"= {list(src.shape)}, slice size = {list(view.shape)}")
    view.copy_(src)
    return out


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    return _embed(input, src, lambda t: t.select(dim, index))


def _slice(t: Tensor, dim: int, start, end, step: int) -> Tensor:
    idx = [slice(None)] * t.dim()
    idx[dim] = slice(start, end, step)
    return t[tuple(idx)]


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start=None, end=None,
                  step: int = 1) -> Tensor:
    return _embed(input, src, lambda t: _slice(t, dim, start, end, step))


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0,
                     dim2: int = 1) -> Tensor:
    view = input.diagonal(offset, dim1, dim2)
    if tuple(view.shape) != tuple(src.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size "
                           f"= {list(src.shape)}, slice size = {list(view.shape)}")
    # ember's diagonal may copy, so the values go in through index_put on (row, col) pairs.
    n = view.shape[-1]
    x = input.movedim((dim1, dim2), (0, 1))
    r = arange(n, device=input.device) + max(-offset, 0)
    c = arange(n, device=input.device) + max(offset, 0)
    return F.index_put(x, (r, c), src.movedim(-1, 0)).movedim((0, 1), (dim1, dim2))


# ----------------------------------------------------------------------------- strided views
def _strided(xp, arr, mode, params):
    """The view of ``arr`` that as_strided (mode "raw") or unfold (mode "unfold") makes."""
    isz = arr.itemsize
    if mode == "unfold":
        dim, size, step = params
        if arr.ndim == 0:
            shape, strides = (size,), (isz,)
            return xp.lib.stride_tricks.as_strided(arr.reshape(1), shape, strides)
        n = (arr.shape[dim] - size) // step + 1
        shape = arr.shape[:dim] + (n,) + arr.shape[dim + 1:] + (size,)
        st = arr.strides
        strides = st[:dim] + (st[dim] * step,) + st[dim + 1:] + (st[dim],)
        return xp.lib.stride_tricks.as_strided(arr, shape, strides)
    size, stride, offset = params
    flat = arr.reshape(-1)
    return xp.lib.stride_tricks.as_strided(flat[offset:], size, tuple(s * isz for s in stride))


@register("as_strided")
class AsStrided(Primitive):
    """A strided view (as_strided on a contiguous input, or unfold); the gradient adds the
    output's gradient into every input element each output element reads."""

    is_view = True

    def forward(self, a, mode, params):
        self.shape, self.mode, self.params = a.shape, mode, params
        return _strided(self.xp, a, mode, params)

    def backward(self, g):
        xp = self.xp
        n = math.prod(self.shape)
        pos = xp.arange(n, dtype=np.int64).reshape(self.shape)
        idx = xp.ascontiguousarray(_strided(xp, pos, self.mode, self.params)).reshape(-1)
        it = make_tensor(idx, _dt.int64, g.device)
        flat = zeros(n, dtype=g.dtype, device=g.device)
        return flat.index_add(0, it, g.reshape(-1)).reshape(self.shape)


def as_strided(input: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """A view with explicit sizes and element strides over the input's storage."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError("as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    base = input
    if not input.is_contiguous():
        base = input._base if input._base is not None and input._base.is_contiguous() \
            else input.contiguous()
    own = input.storage_offset() if base is input else 0
    off = own if storage_offset is None else int(storage_offset)
    rel = off - (base.storage_offset() if base is input else 0)
    last = rel + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else rel
    if rel < 0 or last >= max(base.numel(), 1) and all(size):
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {off}, and itemsize {input.element_size()} requiring a "
                           f"storage size of {(last + 1) * input.element_size()} are out of "
                           f"bounds for storage of size {base.numel() * input.element_size()}")
    return AsStrided.apply(base, "raw", (size, stride, rel))


def unfold(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Every ``size``-long window along ``dimension`` with stride ``step``, in a new last dim."""
    nd = self.dim()
    d = dimension % nd if nd else 0
    extent = self.shape[d] if nd else 1
    if size > extent:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {extent} but size is "
                           f"{size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return AsStrided.apply(self, "unfold", (d, int(size), int(step)))


def empty_strided(size, stride, *, dtype=None, layout=None, device=None,
                  requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    size = tuple(int(s) for s in size)
    need = 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    store = zeros(max(need, 1), dtype=dtype, device=device)
    res = as_strided(store, size, stride, 0)
    res = make_tensor(res._data, res._dtype, res._device)
    if requires_grad:
        res.requires_grad_(True)
    return res


# ----------------------------------------------------------------------------- *_copy variants
def view_copy(input: Tensor, *size) -> Tensor:
    if len(size) == 1 and isinstance(size[0], _dt.dtype):
        return input.view(size[0]).clone()
    return input.view(*size).clone()


def permute_copy(input: Tensor, dims) -> Tensor:
    return input.permute(*dims).contiguous().clone() if input.dim() else input.clone()


def t_copy(input: Tensor) -> Tensor:
    return input.t().contiguous().clone()


def transpose_copy(input: Tensor, dim0: int, dim1: int) -> Tensor:
    return input.transpose(dim0, dim1).contiguous().clone()


def squeeze_copy(input: Tensor, dim=None) -> Tensor:
    return (input.squeeze() if dim is None else input.squeeze(dim)).clone()


def unsqueeze_copy(input: Tensor, dim: int) -> Tensor:
    return input.unsqueeze(dim).clone()


def expand_copy(input: Tensor, size, *, implicit: bool = False) -> Tensor:
    return input.expand(*size).contiguous().clone()


def diagonal_copy(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    return input.diagonal(offset, dim1, dim2).contiguous().clone()


def select_copy(input: Tensor, dim: int, index: int) -> Tensor:
    return input.select(dim, index).clone()


def slice_copy(input: Tensor, dim: int = 0, start=None, end=None, step: int = 1) -> Tensor:
    return _slice(input, dim, start, end, step).contiguous().clone()


def split_copy(input: Tensor, split_size, dim: int = 0) -> tuple:
    return tuple(p.contiguous().clone() for p in F.split(input, split_size, dim))


def unbind_copy(input: Tensor, dim: int = 0) -> tuple:
    return tuple(p.contiguous().clone() for p in F.unbind(input, dim))


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    return input.narrow(dim, start, length).contiguous().clone()


def detach_copy(input: Tensor) -> Tensor:
    return input.detach().clone()


def alias_copy(input: Tensor) -> Tensor:
    return input.clone()


def detach(input: Tensor) -> Tensor:
    return input.detach()


def fill(input: Tensor, value) -> Tensor:
    return input.clone().fill_(value)


def index_put_(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    return input.index_put_(indices, values, accumulate)


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """``input`` with ``source`` written at flat ``index`` positions (a copy)."""
    n = input.numel()
    if _host_ok() and index.numel() and (bool((index < -n).any()) or
                                         bool((index >= n).any())):
        raise IndexError(f"out of range: tried to access index {int(index.max())} on a tensor "
                         f"of {n} elements.")
    if index.numel() != source.numel():
        raise RuntimeError(f"put_(): Expected source and index to have the same number of "
                           f"elements, but got source.numel() = {source.numel()}, "
                           f"index.numel() = {index.numel()}")
    idx = index.reshape(-1)
    idx = F.where(idx < 0, idx + n, idx)
    flat = input.reshape(-1)
    return F.index_put(flat, (idx,), source.reshape(-1), accumulate).reshape(input.shape)


# ----------------------------------------------------------------------------- reductions
_IDENTITY = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}


@register("scatter_reduce_ext")
class ScatterReduceExt(Primitive):
    """scatter_reduce with every torch reduction; the gradient weights (ties share amax/amin,
    prod divides the result by each factor, mean by the count) are fixed in the forward."""

    def forward(self, a, index, src, reduce, include_self, dim):
        xp = self.xp
        self.dim = dim
        coords = list(xp.indices(index.shape))
        coords[dim] = index
        lin = xp.ravel_multi_index(tuple(coords), a.shape, mode="wrap").reshape(-1)
        s = src[tuple(slice(0, n) for n in index.shape)].reshape(-1)
        out = a.copy().reshape(-1)
        hit = xp.zeros(out.size, dtype=np.int64)
        xp.add.at(hit, lin, 1)
        touched = hit > 0
        if not include_self:
            ident = _IDENTITY[reduce]
            if out.dtype.kind in "iu" and not math.isfinite(ident):
                ident = np.iinfo(out.dtype).min if ident < 0 else np.iinfo(out.dtype).max
            out[touched] = ident
        if reduce in ("sum", "mean"):
            xp.add.at(out, lin, s)
        elif reduce == "prod":
            xp.multiply.at(out, lin, s)
        elif reduce == "amax":
            xp.maximum.at(out, lin, s)
        else:
            xp.minimum.at(out, lin, s)
        cnt = hit + (1 if include_self else 0)
        if reduce == "mean":
            c = xp.maximum(cnt, 1).astype(out.dtype)
            out = xp.where(touched, out // c if out.dtype.kind in "iu" else out / c, out)
        af = a.reshape(-1)
        # Gradient weights, flat over input positions (w_self) and scattered elements (w_src).
        if reduce == "sum":
            w_self = xp.ones_like(af) if include_self else xp.where(touched, 0, 1)
            w_src = xp.ones_like(s)
        elif reduce == "mean":
            c = xp.maximum(cnt, 1).astype(af.dtype)
            w_self = xp.where(touched, (1 / c) if include_self else 0, 1)
            w_src = (1 / c)[lin]
        elif reduce == "prod":
            with np.errstate(divide="ignore", invalid="ignore"):
                w_self = xp.where(touched, (out / af) if include_self else 0, 1)
                w_src = out[lin] / s
            w_self = xp.where(xp.isfinite(w_self), w_self, 0)
            w_src = xp.where(xp.isfinite(w_src), w_src, 0)
        else:
            ties = xp.zeros(out.size, dtype=np.int64)
            src_eq = s == out[lin]
            xp.add.at(ties, lin, src_eq.astype(np.int64))
            self_eq = (af == out) & touched
            if include_self:
                ties = ties + self_eq
            t = xp.maximum(ties, 1).astype(af.dtype)
            w_self = xp.where(touched, (self_eq / t) if include_self else 0, 1)
            w_src = src_eq / t[lin]
        self._w = (w_self.astype(af.dtype).reshape(a.shape),
                   w_src.astype(af.dtype).reshape(index.shape), index, src.shape)
        return out.reshape(a.shape)

    def backward(self, g):
        w_self, w_src, index, src_shape = self._w
        dev = g.device
        ws = make_tensor(w_self, g.dtype, dev)
        wr = make_tensor(w_src, g.dtype, dev)
        it = make_tensor(index, _dt.int64, dev)
        gs = g.gather(self.dim, it) * wr
        if tuple(index.shape) != tuple(src_shape):
            pads = []
            for n, m in zip(reversed(index.shape), reversed(src_shape)):
                pads += [0, m - n]
            from .nn import functional as NF
            gs = NF.pad(gs, pads)
        return g * ws, None, gs


def _scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                    include_self: bool = True) -> Tensor:
    if reduce not in _IDENTITY:
        raise RuntimeError("reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    if input.dtype is not src.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    dim = dim % max(input.dim(), 1)
    return ScatterReduceExt.apply(input, index, src, reduce=reduce, include_self=include_self,
                                  dim=dim)


def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    """Reduce the slices of ``source`` into ``input`` at ``index`` along ``dim``."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    if index.dim() > 1:
        raise IndexError("index_reduce_(): Index is supposed to be a vector")
    nd = input.dim()
    d = dim % max(nd, 1)
    shape = [1] * max(source.dim(), 1)
    shape[d] = index.numel()
    idx = index.reshape(shape).expand(*source.shape) if source.dim() else index.reshape(())
    return _scatter_reduce(input, d, idx.contiguous(), source, reduce, include_self=include_self)


# ----------------------------------------------------------------------------- methods
def _ensure_meta_inplace(self: Tensor) -> None:
    if GRAD_MODE.enabled and self._rg and self.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")


def _meta_inplace(fn):
    """In-place shape change (squeeze_, t_, ...): self takes the result's view and history."""
    def method(self, *args, **kwargs):
        _ensure_meta_inplace(self)
        res = fn(self, *args, **kwargs)
        self._data = res._data
        if res.grad_fn is not None:
            self.grad_fn, self._output_nr, self._rg = res.grad_fn, res._output_nr, True
        self._version[0] += 1
        return self
    return method


def _inplace_of(fn):
    from ._tensor_methods import inplace

    def method(self, *args, **kwargs):
        return inplace(self, lambda t, *a: fn(t, *a, **kwargs), *args)
    return method


def _float_power_(self, exponent):
    if self.dtype is not _dt.float64 and self.dtype is not _dt.complex128:
        raise RuntimeError(f"the base given to float_power_ has dtype "
                           f"{str(self.dtype).replace('torch.', '').title()} but the "
                           f"operation's result requires dtype Double")
    return _inplace_of(F.float_power)(self, exponent)


def _fill_diagonal_(self, fill_value, wrap: bool = False):
    if self.dim() < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.dim() > 2 and len(set(self.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")

    def f(t, v):
        n = min(t.shape)
        if t.dim() == 2:
            rows, cols = t.shape
            idx = list(builtins_range(n))
            r = idx[:]
            c = idx[:]
            if wrap and rows > cols + 1:
                # torch continues the diagonal every cols+1 rows on tall matrices.
                start = cols + 1
                while start < rows:
                    k = min(cols, rows - start)
                    r += list(builtins_range(start, start + k))
                    c += list(builtins_range(k))
                    start += cols + 1
            ri = tensor(r, dtype=_dt.int64, device=t.device)
            ci = tensor(c, dtype=_dt.int64, device=t.device)
            return F.index_put(t, (ri, ci), tensor(v, dtype=t.dtype, device=t.device))
        ii = arange(n, device=t.device)
        return F.index_put(t, (ii,) * t.dim(), tensor(v, dtype=t.dtype, device=t.device))
    from ._tensor_methods import inplace
    return inplace(self, f, fill_value)


def _rand_fill(sampler):
    def method(self, *args, generator=None):
        from ._tensor_methods import _copy_rand
        from .random import rng_of
        return _copy_rand(self, sampler(rng_of(generator), self.shape, *args))
    return method


def _new_legacy(self, *args, **kwargs):
    dev = kwargs.pop("device", None) or self.device
    if not args:
        return empty(0, dtype=self.dtype, device=dev)
    if len(args) == 1 and isinstance(args[0], Tensor):
        return args[0].to(dtype=self.dtype, device=dev)
    if all(isinstance(a, int) for a in args) or (
            len(args) == 1 and type(args[0]).__name__ == "Size"):
        size = args[0] if len(args) == 1 and not isinstance(args[0], int) else args
        return empty(*size, dtype=self.dtype, device=dev)
    return tensor(args[0], dtype=self.dtype, device=dev)


def _bind_methods() -> None:
    """Tensor methods (``t.acosh()``, ``t.addcmul_(...)``, ``t.unfold(0, 2, 1)``, ...) and the
    top-level in-place functions torch exports (``torch.exp_(t)``)."""
    import sys
    from . import special as _sp
    mod = sys.modules[__name__]
    T = Tensor

    def put_if_missing(name, fn):
        if not hasattr(T, name):
            setattr(T, name, fn)

    for name in ("acosh", "asinh", "atanh", "arccosh", "arcsinh", "arctanh", "i0", "mvlgamma",
                 "nextafter", "gcd", "lcm", "bitwise_left_shift", "bitwise_right_shift",
                 "isreal", "positive", "addcmul", "addcdiv", "addmv", "addr", "addbmm",
                 "diagflat", "histogram", "mode", "dsplit", "hsplit", "vsplit",
                 "split_with_sizes", "unsafe_split", "unsafe_chunk", "select_scatter",
                 "slice_scatter", "diagonal_scatter", "as_strided", "put", "index_reduce",
                 "narrow_copy"):
        put_if_missing(name, getattr(mod, name))
    put_if_missing("vdot", F.vdot)
    put_if_missing("unfold", unfold)
    put_if_missing("unsafe_split_with_sizes", split_with_sizes)
    put_if_missing("cdouble", lambda self: self.to(_dt.complex128))
    put_if_missing("cfloat", lambda self: self.to(_dt.complex64))
    put_if_missing("new", _new_legacy)
    put_if_missing("scatter_reduce_", _inplace_of(
        lambda t, dim, index, src, reduce, include_self=True:
        _scatter_reduce(t, dim, index, src, reduce, include_self=include_self)))
    # Value in-place variants through ember's in-place machinery (version counter, autograd).
    plain = {"acosh": acosh, "asinh": asinh, "atanh": atanh, "arccosh": acosh,
             "arcsinh": asinh, "arctanh": atanh, "i0": i0, "gcd": gcd, "lcm": lcm,
             "nextafter": nextafter, "bitwise_left_shift": bitwise_left_shift,
             "bitwise_right_shift": bitwise_right_shift, "mvlgamma": mvlgamma,
             "addcmul": addcmul, "addcdiv": addcdiv, "addmv": addmv, "addr": addr,
             "addbmm": addbmm, "put": put, "index_reduce": index_reduce,
             "addmm": F.addmm, "baddbmm": F.baddbmm, "cumsum": F.cumsum, "cumprod": F.cumprod,
             "sgn": F.sgn, "divide": F.divide, "multiply": F.multiply, "subtract": F.subtract,
             "greater": F.greater, "greater_equal": F.greater_equal, "less": F.less,
             "less_equal": F.less_equal, "not_equal": F.not_equal, "absolute": F.abs,
             "arccos": F.acos, "arcsin": F.asin, "arctan": F.atan, "arctan2": F.atan2,
             "negative": F.neg, "fix": F.trunc}
    for name in ("copysign", "lgamma", "digamma", "logit", "heaviside", "ldexp", "renorm",
                 "deg2rad", "rad2deg", "sinc"):
        fn = getattr(sys.modules["ember"], name, None) or getattr(_sp, name, None)
        if fn is not None:
            plain[name] = fn
    for name, fn in plain.items():
        put_if_missing(name + "_", _inplace_of(fn))
    put_if_missing("polygamma_", _inplace_of(lambda t, n: _sp.polygamma(n, t)))
    put_if_missing("float_power_", _float_power_)
    from ._complex import conj_physical
    put_if_missing("conj_physical_", _inplace_of(conj_physical))
    put_if_missing("resize_as_", lambda self, other, memory_format=None:
                   self.resize_(*other.shape))
    put_if_missing("fill_diagonal_", _fill_diagonal_)
    for name in ("squeeze", "unsqueeze", "t", "transpose", "swapaxes", "swapdims"):
        put_if_missing(name + "_", _meta_inplace(getattr(T, name)))
    put_if_missing("as_strided_", _meta_inplace(as_strided))
    put_if_missing("cauchy_", _rand_fill(
        lambda r, shape, median=0.0, sigma=1.0: r.standard_cauchy(shape) * sigma + median))
    put_if_missing("geometric_", _rand_fill(lambda r, shape, p: r.geometric(p, shape)))
    put_if_missing("log_normal_", _rand_fill(
        lambda r, shape, mean=1.0, std=2.0: r.lognormal(mean, std, shape)))


_TOP_INPLACE = """abs_ acos_ acosh_ addmv_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_
as_strided_ asin_ asinh_ atan_ atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ conj_physical_
cos_ cosh_ deg2rad_ detach_ erf_ erfc_ exp2_ exp_ expm1_ fill_ fix_ floor_ frac_ gcd_ i0_ lcm_
ldexp_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_ rad2deg_ reciprocal_
resize_as_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ trunc_
xlogy_ zero_""".split()


def _top_level(name):
    def fn(input: Tensor, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = name
    return fn


_bind_methods()
for _name in _TOP_INPLACE:
    if hasattr(Tensor, _name) and _name not in globals():
        globals()[_name] = _top_level(_name)
        __all__.append(_name)
