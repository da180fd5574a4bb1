"""The torch-level functions (``ember.add``, ``ember.sum``, ...) and the Tensor methods bound
from them. Each wraps a registered primitive with torch's argument handling and type promotion,
or composes primitives."""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from .backend import dtypes as _dt
from .backend.device import get_xp, host_checks_allowed
from .amp.autocast_mode import autocast_op
from .ops import registry as _reg
from .ops.elementwise import (Abs, Acos, Add, Asin, Atan, Atan2, BitwiseAnd, BitwiseNot,
                              BitwiseOr, BitwiseXor, Ceil, Clamp, Clone, Cos, Cosh, Div, Eq, Erf,
                              Erfc, Exp, Exp2, Expm1, Floor, FloorDivide, Ge, Gt, IsFinite, IsInf,
                              IsNan, Le, Log, Log1p, Log2, Log10, LogicalAnd, LogicalNot,
                              LogicalOr, LogicalXor, Lt, Maximum, Minimum, Mul, Ne, Neg, Pow,
                              Reciprocal, Relu, Remainder, Round, Rsqrt, Sigmoid, Sign, Sin,
                              Sinh, Sqrt, Sub, Tan, Tanh, Trunc, Where)
from .ops.indexing import (Gather, GetItem, IndexAdd, IndexPut, IndexSelect, MaskedFill,
                           Nonzero, OneHot, Scatter, ScatterAdd, Sort, TopK, Unique)
from .ops.linalg import Einsum, Matmul
from .ops.reduction import (All, Amax, Amin, Any, Argmax, Argmin, Cumprod, Cumsum, LogSumExp,
                            MaxDim, Mean, MinDim, Norm, Prod, Sum, Var, norm_dims)
from .ops.shape import (Cat, Diag, Diagonal, Expand, Flip, Permute, Repeat, Reshape, Roll, Tril,
                        Triu)
from .tensor import Tensor, _wrap_dim
from .creation import tensor as _tensor

_Scalar = (int, float, bool)


def _as_tensor_like(x, ref: Tensor) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return _tensor(x, device=ref._device)
    return _tensor(x, device=ref._device)


def _result_dtype(a: Tensor, b: Tensor) -> _dt.dtype:
    da, db = a._dtype, b._dtype
    a0 = a._data.ndim == 0
    b0 = b._data.ndim == 0
    if a0 == b0:
        return _dt.promote_types(da, db)
    zero, dim = (da, db) if a0 else (db, da)
    if zero.category > dim.category:
        # A complex 0-d tensor meeting a float tensor keeps the float's precision (torch).
        return _dt.complex_of(dim) if zero.is_complex and dim.is_floating_point else zero
    return dim


def _binary(cls, a, b):
    """Apply a binary primitive with torch's promotion (tensors, 0-d tensors, Python scalars)."""
    ta = isinstance(a, Tensor)
    tb = isinstance(b, Tensor)
    if ta and tb:
        if a._dtype is not b._dtype:
            d = _result_dtype(a, b)
            if a._dtype is not d:
                a = a.to(d)
            if b._dtype is not d:
                b = b.to(d)
        elif a._device is not b._device and (a._data.ndim == 0 or b._data.ndim == 0):
            # torch lets a 0-d CPU tensor join a CUDA op as a scalar.
            if a._data.ndim == 0 and a._device.type == "cpu":
                a = a.item()
            elif b._data.ndim == 0 and b._device.type == "cpu":
                b = b.item()
        return cls.apply(a, b)
    if ta:
        t, s = a, b
    else:
        t, s = b, a
    if isinstance(s, _Scalar) or isinstance(s, numbers.Number):
        if isinstance(s, np.generic):
            s = s.item()
        d = t._dtype
        if _dt.scalar_category(s) > d.category:
            t = t.to(_dt.scalar_dtype(s))
        elif d is _dt.bool_ and not isinstance(s, bool):
            t = t.to(_dt.int64)
        return cls.apply(t, s) if ta else cls.apply(s, t)
    s = _as_tensor_like(s, t)
    return _binary(cls, t, s) if ta else _binary(cls, s, t)


def _unary_float(cls, a: Tensor) -> Tensor:
    """Float-valued unary math: integer inputs compute in the default float dtype, like torch."""
    if a._dtype.category < 2:
        a = a.to(_dt.get_default_dtype())
    return cls.apply(a)


# ----------------------------------------------------------------------------- arithmetic
def add(input, other, *, alpha=1, out=None):
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Add, input, other)


def _is_bool(v) -> bool:
    return v._dtype is _dt.bool_ if isinstance(v, Tensor) else isinstance(v, bool)


def sub(input, other, *, alpha=1, out=None):
    bi, bo = _is_bool(input), _is_bool(other)
    if bi and bo:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if bi or bo:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Sub, input, other)


subtract = sub


def mul(input, other, *, out=None):
    return _binary(Mul, input, other)


multiply = mul


def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        _check_int_zero(input, other)
        r = true_divide(input, other)
        ref = input if isinstance(input, Tensor) else other
        if ref._dtype.category < 2 and (not isinstance(other, Tensor) or
                                        other._dtype.category < 2):
            return r.trunc().to(_result_for_int(input, other))
        return r.trunc()
    return true_divide(input, other)


def _result_for_int(a, b):
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return _result_dtype(a, b)
    return a._dtype if isinstance(a, Tensor) else b._dtype


def true_divide(input, other):
    # Integer / integer is a float division in torch.
    ref = input if isinstance(input, Tensor) else other
    if ref._dtype.category < 2:
        o = other if isinstance(other, Tensor) else None
        i = input if isinstance(input, Tensor) else None
        fl = _dt.get_default_dtype()
        if (o is None or o._dtype.category < 2) and (i is None or i._dtype.category < 2):
            input = i.to(fl) if i is not None else input
            other = o.to(fl) if o is not None else other
            if not isinstance(input, Tensor) and not isinstance(other, Tensor):
                pass
    return _binary(Div, input, other)


divide = div


def _check_int_zero(input, other):
    # Integer division by zero: NumPy warns and returns 0, torch raises.
    ti, to = isinstance(input, Tensor), isinstance(other, Tensor)
    if (ti and input._dtype.category < 2 or not ti and not isinstance(input, float)) and (
            to and other._dtype.category == 1 and not bool(other._data.all())
            or not to and type(other) is int and other == 0):
        raise RuntimeError("ZeroDivisionError")


def _check_not_bool(input, other, name):
    if _is_bool(input) and _is_bool(other):
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'Bool\'')


def floor_divide(input, other):
    _check_not_bool(input, other, "div_floor")
    _check_int_zero(input, other)
    return _binary(FloorDivide, input, other)


def remainder(input, other):
    _check_not_bool(input, other, "remainder")
    _check_int_zero(input, other)
    return _binary(Remainder, input, other)


def fmod(input, other):
    return input - (input / other).trunc() * other if input.is_floating_point() else \
        input - div(input, other, rounding_mode="trunc") * other


def pow(input, exponent):
    if not isinstance(input, Tensor):
        return _binary(Pow, input, exponent)
    if isinstance(exponent, _Scalar) and input._dtype.category < 2 and isinstance(
            exponent, float):
        input = input.to(_dt.get_default_dtype())
    if isinstance(exponent, int) and not isinstance(exponent, bool) and exponent < 0 and \
            input._dtype.category == 1:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    r = _binary(Pow, input, exponent)
    if input._dtype is _dt.bool_ and _is_bool(exponent):
        r = r.to(_dt.bool_)  # NumPy gives int8 for bool ** bool; torch keeps bool
    return r


def float_power(input, exponent):
    i = input.to(_dt.float64) if isinstance(input, Tensor) else input
    e = exponent.to(_dt.float64) if isinstance(exponent, Tensor) else exponent
    return pow(i, e)


def maximum(input, other):
    return _binary(Maximum, input, other)


def minimum(input, other):
    return _binary(Minimum, input, other)


def fmax(input, other):
    return where(other.isnan(), input, where(input.isnan(), other, maximum(input, other)))


def fmin(input, other):
    return where(other.isnan(), input, where(input.isnan(), other, minimum(input, other)))


def atan2(input, other):
    def integral(v):
        return v._dtype.category < 2 if isinstance(v, Tensor) else not isinstance(v, float)
    # Integer operands compute in the default float dtype, as torch's atan2 does.
    if integral(input) and integral(other):
        fl = _dt.get_default_dtype()
        input = input.to(fl) if isinstance(input, Tensor) else input
        other = other.to(fl) if isinstance(other, Tensor) else other
    return _binary(Atan2, input, other)


arctan2 = atan2


def neg(input):
    if input._dtype is _dt.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return Neg.apply(input)


negative = neg


def abs(input):
    return Abs.apply(input)


absolute = abs


def sign(input):
    return Sign.apply(input)


def sgn(input):
    return Sign.apply(input)


def exp(input):
    return _unary_float(Exp, input)


def exp2(input):
    return _unary_float(Exp2, input)


def log(input):
    return _unary_float(Log, input)


def log2(input):
    return _unary_float(Log2, input)


def log10(input):
    return _unary_float(Log10, input)


def log1p(input):
    return _unary_float(Log1p, input)


def expm1(input):
    return _unary_float(Expm1, input)


def sqrt(input):
    return _unary_float(Sqrt, input)


def rsqrt(input):
    return _unary_float(Rsqrt, input)


def sin(input):
    return _unary_float(Sin, input)


def cos(input):
    return _unary_float(Cos, input)


def tan(input):
    return _unary_float(Tan, input)


def asin(input):
    return _unary_float(Asin, input)


def acos(input):
    return _unary_float(Acos, input)


def atan(input):
    return _unary_float(Atan, input)


arcsin, arccos, arctan = asin, acos, atan


def sinh(input):
    return _unary_float(Sinh, input)


def cosh(input):
    return _unary_float(Cosh, input)


def tanh(input):
    return _unary_float(Tanh, input)


def sigmoid(input):
    return _unary_float(Sigmoid, input)


def erf(input):
    return _unary_float(Erf, input)


def relu_(input):
    return input.relu_()


def selu_(input):
    from .nn import functional as NF
    return NF.selu_(input)


def celu_(input, alpha=1.0):
    from .nn import functional as NF
    return NF.celu_(input, alpha)


def erfc(input):
    return _unary_float(Erfc, input)


def erfinv(input):
    from .distributions._special import ErfinvOp  # the primitive lives with its users
    return _unary_float(ErfinvOp, input)


def reciprocal(input):
    return _unary_float(Reciprocal, input)


def relu(input):
    return Relu.apply(input)


def square(input):
    return mul(input, input)


def floor(input):
    return input.clone() if input._dtype.category < 2 else Floor.apply(input)


def ceil(input):
    return input.clone() if input._dtype.category < 2 else Ceil.apply(input)


def trunc(input):
    return input.clone() if input._dtype.category < 2 else Trunc.apply(input)


fix = trunc


def round(input, *, decimals=0):
    return input.clone() if input._dtype.category < 2 else Round.apply(input, decimals)


def frac(input):
    return input - input.trunc()


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    lo, hi = min, max
    if isinstance(lo, Tensor) or isinstance(hi, Tensor):
        d = input._dtype
        for b in (lo, hi):
            if isinstance(b, Tensor):
                d = _dt.promote_types(d, b._dtype)
        input = input.to(d)
        lo = lo.to(d) if isinstance(lo, Tensor) else lo
        hi = hi.to(d) if isinstance(hi, Tensor) else hi
    elif input._dtype.category < 2 and (isinstance(lo, float) or isinstance(hi, float)):
        input = input.to(_dt.get_default_dtype())
    return Clamp.apply(input, lo, hi)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def lerp(input, end, weight):
    return input + weight * (end - input)


def where(condition, input=None, other=None):
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if condition._dtype is not _dt.bool_:
        if condition._dtype is _dt.uint8:
            condition = condition.to(_dt.bool_)
        else:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {condition._dtype.name.title()}")
    ti, to = isinstance(input, Tensor), isinstance(other, Tensor)
    if ti and to:
        if input._dtype is not other._dtype:
            d = _result_dtype(input, other)
            input, other = input.to(d), other.to(d)
    elif ti or to:
        t = input if ti else other
        s = other if ti else input
        d = _dt.result_type_scalar(t._dtype, s)
        t = t.to(d)
        s = _tensor(s, dtype=d, device=t._device)
        input, other = (t, s) if ti else (s, t)
    else:
        d = _dt.promote_types(_dt.scalar_dtype(input), _dt.scalar_dtype(other))
        input = _tensor(input, dtype=d, device=condition._device)
        other = _tensor(other, dtype=d, device=condition._device)
    return Where.apply(condition, input, other)


def _cmp(cls):
    def f(input, other):
        return _binary(cls, input, other)
    return f


eq, ne, lt, le, gt, ge = (_cmp(c) for c in (Eq, Ne, Lt, Le, Gt, Ge))
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def equal(input, other) -> bool:
    return input.shape == other.shape and bool((input == other).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    a = input._data
    b = other._data if isinstance(other, Tensor) else other
    xp = _reg.Primitive.xp if input._device.type == "cpu" else None
    xp = np if xp is None else xp
    return Tensor._from_array(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def logical_and(input, other):
    return _binary(LogicalAnd, input, other)


def logical_or(input, other):
    return _binary(LogicalOr, input, other)


def logical_xor(input, other):
    return _binary(LogicalXor, input, other)


def logical_not(input):
    return LogicalNot.apply(input)


_FLOAT_WORD = {_dt.float32: "Float", _dt.float64: "Double", _dt.float16: "Half",
               _dt.bfloat16: "BFloat16"}


def _check_int(t, name):
    if t._dtype.category >= 2:
        word = _FLOAT_WORD.get(t._dtype, t._dtype.name.title())
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'{word}\'')


def bitwise_and(input, other):
    _check_int(input, "bitwise_and")
    return _binary(BitwiseAnd, input, other)


def bitwise_or(input, other):
    _check_int(input, "bitwise_or")
    return _binary(BitwiseOr, input, other)


def bitwise_xor(input, other):
    _check_int(input, "bitwise_xor")
    return _binary(BitwiseXor, input, other)


def bitwise_not(input):
    _check_int(input, "bitwise_not")
    return BitwiseNot.apply(input)


def isnan(input):
    return IsNan.apply(input)


def isinf(input):
    return IsInf.apply(input)


def isfinite(input):
    return IsFinite.apply(input)


def isposinf(input):
    return input.isinf() & (input > 0)


def isneginf(input):
    return input.isinf() & (input < 0)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    big = np.finfo(input._dtype.np).max if input.is_floating_point() else 0
    r = where(input.isnan(), nan, input)
    r = where(r.isposinf(), big if posinf is None else posinf, r)
    return where(r.isneginf(), -big if neginf is None else neginf, r)


# ----------------------------------------------------------------------------- reductions
def _dims_arg(dim):
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        return None
    return dim


def sum(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None and input._dtype.category >= 2 and dtype.category >= 2:
        # Cast first so the gradient flows back through the cast in the input's dtype.
        input = input.to(dtype)
    return Sum.apply(input, _dims_arg(dim), keepdim, dtype)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    return sum(where(input.isnan(), 0.0, input), dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if input._dtype.category < 2:
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           "floating point or complex dtype. Got: "
                           f"{_TYPE_WORD.get(input._dtype, input._dtype.name)}")
    return Mean.apply(input, _dims_arg(dim), keepdim)


_TYPE_WORD = {_dt.int64: "Long", _dt.int32: "Int", _dt.int16: "Short", _dt.int8: "Char",
              _dt.uint8: "Byte", _dt.bool_: "Bool"}


def nanmean(input, dim=None, keepdim=False):
    keep = ~input.isnan()
    return nansum(input, dim, keepdim) / keep.sum(dim, keepdim)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return Prod.apply(input, dim, keepdim)


def amax(input, dim=(), keepdim=False):
    return Amax.apply(input, _dims_arg(dim), keepdim)


def amin(input, dim=(), keepdim=False):
    return Amin.apply(input, _dims_arg(dim), keepdim)


class _ValuesIndices(tuple):
    """Named (values, indices) result, as torch.return_types."""

    def __new__(cls, values, indices):
        return tuple.__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self):
        return f"torch.return_types(\nvalues={self[0]!r},\nindices={self[1]!r})"


def max(input, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("max(): Expected reduction dim to be specified for input.numel() "
                               "== 0. Specify the reduction dim with the 'dim' argument.")
        return Amax.apply(input, None, False)
    return _ValuesIndices(*MaxDim.apply(input, dim, keepdim))


def min(input, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("min(): Expected reduction dim to be specified for input.numel() "
                               "== 0. Specify the reduction dim with the 'dim' argument.")
        return Amin.apply(input, None, False)
    return _ValuesIndices(*MinDim.apply(input, dim, keepdim))


def aminmax(input, *, dim=None, keepdim=False):
    return amin(input, dim if dim is not None else (), keepdim), \
        amax(input, dim if dim is not None else (), keepdim)


def argmax(input, dim=None, keepdim=False):
    return Argmax.apply(input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return Argmin.apply(input, dim, keepdim)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    correction = _correction(unbiased, correction)
    if isinstance(dim, bool):
        correction, dim = int(dim), None
    return Var.apply(input, _dims_arg(dim), correction, keepdim)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if p == "fro" or p is None:
        p = 2.0
    if p == "nuc":
        raise NotImplementedError("ember does not implement the nuclear norm yet")
    return Norm.apply(input, float(p), _dims_arg(dim), keepdim)


@autocast_op("dist")
def dist(input, other, p=2.0):
    return norm(input - other, p)


def logsumexp(input, dim, keepdim=False):
    return LogSumExp.apply(input, dim, keepdim)


def cumsum(input, dim, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return Cumsum.apply(input, dim)


def cumprod(input, dim, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return Cumprod.apply(input, dim)


def all(input, dim=None, keepdim=False):
    r = All.apply(input, dim, keepdim)
    # torch keeps uint8 for all/any of a uint8 tensor (a legacy of byte masks).
    return r.to(_dt.uint8) if input._dtype is _dt.uint8 else r


def any(input, dim=None, keepdim=False):
    r = Any.apply(input, dim, keepdim)
    return r.to(_dt.uint8) if input._dtype is _dt.uint8 else r


def count_nonzero(input, dim=None):
    return sum(input != 0, dim)


# ----------------------------------------------------------------------------- linear algebra
@autocast_op("matmul")
def matmul(input, other):
    if input._dtype is not other._dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_dt_word(input._dtype)} != {_dt_word(other._dtype)}")
    return Matmul.apply(input, other)


def _dt_word(d):
    return {_dt.float32: "float", _dt.float64: "double", _dt.float16: "c10::Half",
            _dt.bfloat16: "c10::BFloat16", _dt.int64: "long int"}.get(d, d.name)


def mm(input, mat2):
    if input.dim() != 2 or mat2.dim() != 2:
        bad = input if input.dim() != 2 else mat2
        raise RuntimeError(f"{'self' if bad is input else 'mat2'} must be a matrix")
    return matmul(input, mat2)


def bmm(input, mat2):
    if input.dim() != 3 or mat2.dim() != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if input.dim() != 3 else
                           "batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: "
                           f"[{mat2.shape[0]}, {mat2.shape[1]}].")
    return matmul(input, mat2)


@autocast_op("mv")
def mv(input, vec):
    return matmul(input, vec)


@autocast_op("dot")
def dot(input, other):
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {other.dim()}D "
                           "tensors")
    return matmul(input, other)


inner = dot
vdot = dot


def outer(input, vec2):
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


@autocast_op("addmm")
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    r = mm(mat1, mat2)
    if alpha != 1:
        r = r * alpha
    return r + (input if beta == 1 else input * beta)


@autocast_op("baddbmm")
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    r = bmm(batch1, batch2)
    if alpha != 1:
        r = r * alpha
    return r + (input if beta == 1 else input * beta)


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    d = operands[0]._dtype
    for o in operands[1:]:
        d = _dt.promote_types(d, o._dtype)
    operands = tuple(o.to(d) for o in operands)
    return Einsum.apply(*operands, equation=equation)


@autocast_op("tensordot")
def tensordot(a, b, dims=2):
    if isinstance(dims, int):
        da = list(range(a.dim() - dims, a.dim()))
        db = list(range(dims))
    else:
        da, db = [list(x) if isinstance(x, (list, tuple)) else [x] for x in dims]
    letters = "abcdefghijklmnopqrstuvwxyz"
    sa = list(letters[:a.dim()])
    sb = list(letters[a.dim():a.dim() + b.dim()])
    for i, j in zip(da, db):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in da] + [c for j, c in enumerate(sb)
                                                          if j not in db]
    return einsum("".join(sa) + "," + "".join(sb) + "->" + "".join(out), a, b)


@autocast_op("trace")
def trace(input):
    return input.diagonal().sum()


def kron(a, b):
    r = a.reshape(a.shape[0], 1, a.shape[1], 1) * b.reshape(1, b.shape[0], 1, b.shape[1])
    return r.reshape(a.shape[0] * b.shape[0], a.shape[1] * b.shape[1])


def cross(input, other, dim=None):
    if dim is None:
        dim = next(i for i, s in enumerate(input.shape) if s == 3)
    a0, a1, a2 = input.unbind(dim)
    b0, b1, b2 = other.unbind(dim)
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


# ----------------------------------------------------------------------------- shape
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _infer_shape(shape, numel, src_shape):
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if neg:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        n *= s
    if n != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def reshape(input, *shape):
    shape = _infer_shape(_shape_arg(shape), input._data.size, input.shape)
    if shape == input._data.shape:
        return Reshape.apply(input, shape, True)
    return Reshape.apply(input, shape)


def view(input, *shape):
    if len(shape) == 1 and isinstance(shape[0], _dt.dtype):
        return _view_dtype(input, shape[0])
    shape = _infer_shape(_shape_arg(shape), input._data.size, input.shape)
    return Reshape.apply(input, shape, True)


def _view_dtype(input, dtype):
    arr = input._data.view(dtype.np)
    return Tensor._from_array(arr, dtype, input._device)


def view_as(input, other):
    return view(input, other.shape)


def reshape_as(input, other):
    return reshape(input, other.shape)


def flatten(input, start_dim=0, end_dim=-1):
    if input.dim() == 0:
        return reshape(input, 1)
    s = _wrap_dim(start_dim, input.dim())
    e = _wrap_dim(end_dim, input.dim())
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    shp = input.shape
    n = 1
    for x in shp[s:e + 1]:
        n *= x
    return reshape(input, tuple(shp[:s]) + (n,) + tuple(shp[e + 1:]))


def unflatten(input, dim, sizes):
    d = _wrap_dim(dim, input.dim())
    sizes = tuple(sizes)
    if -1 in sizes:
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        sizes = tuple(input.shape[d] // known if s == -1 else s for s in sizes)
    return reshape(input, tuple(input.shape[:d]) + sizes + tuple(input.shape[d + 1:]))


def ravel(input):
    return reshape(input, -1)


def squeeze(input, dim=None):
    shp = input.shape
    if dim is None:
        new = tuple(s for s in shp if s != 1)
    else:
        dims = norm_dims(dim, input.dim()) if input.dim() else ()
        new = tuple(s for i, s in enumerate(shp) if not (i in dims and s == 1))
    if new == tuple(shp):
        return Reshape.apply(input, new, True)
    return Reshape.apply(input, new, True)


def unsqueeze(input, dim):
    n = input.dim() + 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    d = dim % n
    shp = tuple(input.shape)
    return Reshape.apply(input, shp[:d] + (1,) + shp[d:], True)


def permute(input, *dims):
    dims = _shape_arg(dims)
    n = input.dim()
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {n} is not equal to len(dims) = {len(dims)}")
    dims = tuple(_wrap_dim(d, n) for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, dims)


def transpose(input, dim0, dim1):
    n = input.dim()
    if n == 0:
        return input
    d0, d1 = _wrap_dim(dim0, n), _wrap_dim(dim1, n)
    perm = list(range(n))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return Permute.apply(input, tuple(perm))


swapaxes = swapdims = transpose


def t(input):
    if input.dim() > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.dim()}D")
    return transpose(input, 0, 1) if input.dim() == 2 else input


def adjoint(input):
    return transpose(input, -2, -1)


def movedim(input, source, destination):
    n = input.dim()
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_wrap_dim(s, n) for s in src]
    dst = [_wrap_dim(d, n) for d in dst]
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Permute.apply(input, tuple(order))


moveaxis = movedim


def expand(input, *sizes):
    sizes = _shape_arg(sizes)
    n = len(sizes)
    if n < input.dim():
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(input.shape)}}}, size={list(sizes)}"
                           f"): the number of sizes provided ({n}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({input.dim()})")
    shp = (1,) * (n - input.dim()) + tuple(input.shape)
    out = []
    for i, (want, have) in enumerate(zip(sizes, shp)):
        if want == -1:
            if i < n - input.dim():
                raise RuntimeError("The expanded size of the tensor (-1) isn't allowed in a "
                                   "leading, non-existing dimension 0")
            want = have
        if have != 1 and want != have:
            raise RuntimeError(f"The expanded size of the tensor ({want}) must match the "
                               f"existing size ({have}) at non-singleton dimension {i}.  "
                               f"Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(input.shape)}")
        out.append(want)
    out = tuple(out)
    if out == tuple(input.shape):
        return Reshape.apply(input, out, True)
    return Expand.apply(input, out)


def expand_as(input, other):
    return expand(input, other.shape)


def broadcast_to(input, shape):
    return expand(input, shape)


def broadcast_shapes(*shapes):
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape. "
                           f"Mismatch is between {list(shapes[0])} and {list(shapes[1])}.")


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


def _promote_list(tensors):
    d = tensors[0]._dtype
    for x in tensors[1:]:
        d = _dt.promote_types(d, x._dtype)
    return [x.to(d) if x._dtype is not d else x for x in tensors]


def cat(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    return Cat.apply(*_promote_list(tensors), dim=dim)


concat = concatenate = cat


def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    s0 = tensors[0].shape
    for i, x in enumerate(tensors):
        if x.shape != s0:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(s0)} at entry 0 and {list(x.shape)} at entry {i}")
    n = tensors[0].dim() + 1
    d = dim % n if -n <= dim < n else _wrap_dim(dim, n)
    return cat([unsqueeze(x, d) for x in tensors], d)


def hstack(tensors):
    return cat(tensors, 0 if tensors[0].dim() == 1 else 1)


def vstack(tensors):
    return cat([x.reshape(1, -1) if x.dim() == 1 else x for x in tensors], 0)


def dstack(tensors):
    return stack(tensors, 2) if tensors[0].dim() == 2 else cat(tensors, 2)


def column_stack(tensors):
    return cat([x.reshape(-1, 1) if x.dim() <= 1 else x for x in tensors], 1)


def narrow(input, dim, start, length):
    d = _wrap_dim(dim, input.dim())
    if isinstance(start, Tensor):
        start = int(start.item())
    if start < 0:
        start += input.shape[d]
    if start + length > input.shape[d] or length < 0:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({input.shape[d]}).")
    idx = (slice(None),) * d + (slice(start, start + length),)
    return GetItem.apply(input, idx)


def split(input, split_size_or_sections, dim=0):
    d = _wrap_dim(dim, input.dim())
    n = input.shape[d]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if s > 0 else [n]
        if n == 0:
            sizes = [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got split_sizes="
                               f"{sizes}")
    out = []
    start = 0
    for s in sizes:
        out.append(narrow(input, d, start, s))
        start += s
    return tuple(out)


def tensor_split(input, indices_or_sections, dim=0):
    d = _wrap_dim(dim, input.dim())
    n = input.shape[d]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        base, extra = divmod(n, k)
        sizes = [base + 1] * extra + [base] * (k - extra)
    else:
        idx = [0] + list(indices_or_sections) + [n]
        sizes = [builtins.max(0, builtins.min(b, n) - builtins.min(a, n))
                 for a, b in zip(idx[:-1], idx[1:])]
    return split(input, sizes, d)


def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    n = input.shape[_wrap_dim(dim, input.dim())]
    size = -(-n // chunks) if n else 1
    return split(input, size, dim)


def unbind(input, dim=0):
    d = _wrap_dim(dim, input.dim())
    return tuple(GetItem.apply(input, (slice(None),) * d + (i,)) for i in range(input.shape[d]))


def select(input, dim, index):
    d = _wrap_dim(dim, input.dim())
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return GetItem.apply(input, (slice(None),) * d + (index,))


def flip(input, dims):
    if isinstance(dims, int):
        dims = (dims,)
    return Flip.apply(input, tuple(dims))


def fliplr(input):
    return flip(input, (1,))


def flipud(input):
    return flip(input, (0,))


def roll(input, shifts, dims=None):
    if dims is None:
        return Roll.apply(input.reshape(-1), shifts if isinstance(shifts, int) else
                          tuple(shifts), None).reshape(input.shape)
    if isinstance(shifts, (list, tuple)):
        shifts = tuple(shifts)
        dims = tuple(dims)
    return Roll.apply(input, shifts, dims)


def rot90(input, k=1, dims=(0, 1)):
    k %= 4
    d0, d1 = dims
    if k == 0:
        return input.clone()
    if k == 1:
        return flip(input, (d1,)).transpose(d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    return flip(input.transpose(d0, d1), (d1,))


def tril(input, diagonal=0):
    return Tril.apply(input, diagonal)


def triu(input, diagonal=0):
    return Triu.apply(input, diagonal)


def diag(input, diagonal=0):
    return Diag.apply(input, diagonal)


def diagonal(input, offset=0, dim1=0, dim2=1):
    return Diagonal.apply(input, offset, dim1, dim2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    from .ops.shape import DiagonalScatter
    n = input.shape[-1] + builtins.abs(offset)
    shape = tuple(input.shape[:-1]) + (n, n)
    return DiagonalScatter.apply(input, shape, offset, input.dim() - 1, input.dim())


def repeat(input, *sizes):
    return Repeat.apply(input, _shape_arg(sizes))


def tile(input, dims):
    dims = tuple(dims)
    if len(dims) < input.dim():
        dims = (1,) * (input.dim() - len(dims)) + dims
    return Repeat.apply(input, dims)


def repeat_interleave(input, repeats, dim=None):
    if dim is None:
        input = input.reshape(-1)
        dim = 0
    d = _wrap_dim(dim, input.dim())
    if isinstance(repeats, Tensor):
        idx = np.repeat(np.arange(input.shape[d]), repeats.detach().cpu()._data)
    else:
        idx = np.repeat(np.arange(input.shape[d]), repeats)
    return index_select(input, d, Tensor._from_array(idx.astype(np.int64)).to(input._device))


def clone(input, *, memory_format=None):
    return Clone.apply(input)


def contiguous(input, memory_format=None):
    if input._data.flags.c_contiguous:
        return input
    return Clone.apply(input)


# ----------------------------------------------------------------------------- indexing
def _index_arrays(input, idx):
    """Turn a Python index (ints, slices, None, Ellipsis, tensors, lists) into a numpy index,
    checking bounds so that errors are torch's IndexError."""
    items = idx if isinstance(idx, tuple) else (idx,)
    out = []
    dim = 0
    n_ell = 0
    consumed = 0
    for it in items:
        if it is None or it is Ellipsis:
            continue
        if isinstance(it, Tensor) and it._dtype is _dt.bool_:
            consumed += it.dim()
        elif isinstance(it, (list, np.ndarray)) and np.asarray(it).dtype == np.bool_:
            consumed += np.asarray(it).ndim
        else:
            consumed += 1
    ndim = input.dim()
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    for it in items:
        if it is Ellipsis:
            n_ell += 1
            if n_ell > 1:
                raise IndexError("an index can only have a single ellipsis ('...')")
            out.append(Ellipsis)
            dim += ndim - consumed
            continue
        if it is None:
            out.append(None)
            continue
        if isinstance(it, bool):
            out.append(it)
            continue
        if isinstance(it, (int, np.integer)):
            size = input.shape[dim]
            if not -size <= it < size:
                raise IndexError(f"index {it} is out of bounds for dimension {dim} with size "
                                 f"{size}")
            out.append(int(it))
            dim += 1
            continue
        if isinstance(it, slice):
            s = it
            vals = [v.item() if isinstance(v, Tensor) else v for v in (s.start, s.stop, s.step)]
            if vals[2] is not None and vals[2] <= 0:
                raise ValueError("step must be greater than zero")
            out.append(slice(*vals))
            dim += 1
            continue
        if isinstance(it, Tensor):
            arr = it._data
            if it._dtype is _dt.bool_:
                shp = tuple(input.shape[dim:dim + arr.ndim])
                if arr.shape != shp:
                    raise IndexError(f"The shape of the mask {list(arr.shape)} at index {dim} "
                                     f"does not match the shape of the indexed tensor "
                                     f"{list(input.shape)} at index {dim}")
                out.append(arr)
                dim += arr.ndim
                continue
            if it._dtype.category != 1:
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            if it._dtype is _dt.uint8:
                out.append(arr.astype(bool))
                dim += arr.ndim
                continue
        else:
            # Raw arrays come from primitives replaying a saved index (CuPy ones stay put).
            arr = it if hasattr(it, "__cuda_array_interface__") else np.asarray(it)
            if arr.dtype == np.bool_:
                out.append(arr)
                dim += arr.ndim
                continue
            if arr.dtype.kind not in "iu":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
        size = input.shape[dim]
        if arr.size and host_checks_allowed():
            mx, mn = int(arr.max()), int(arr.min())
            if mx >= size or mn < -size:
                bad = mx if mx >= size else mn
                raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size "
                                 f"{size}")
        out.append(arr)
        dim += 1
    return tuple(out) if isinstance(idx, tuple) or len(out) != 1 else out[0]


def getitem(input, idx):
    return GetItem.apply(input, _index_arrays(input, idx))


def index_put(input, indices, values, accumulate=False):
    idx = _index_arrays(input, tuple(indices))
    if not isinstance(values, Tensor):
        values = _tensor(values, dtype=input._dtype, device=input._device)
    elif values._dtype is not input._dtype:
        values = values.to(input._dtype)
    return IndexPut.apply(input, idx, values, accumulate)


def gather(input, dim, index, *, sparse_grad=False):
    _check_index_tensor(index, "gather")
    if index.dim() != input.dim() and input.dim() > 0:
        raise RuntimeError("Index tensor must have the same number of dimensions as input "
                           "tensor")
    return Gather.apply(input, dim, index)


def _check_index_tensor(index, name):
    # torch accepts int32 indices here too (since 2.x).
    if index._dtype is not _dt.int64 and index._dtype is not _dt.int32:
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    shape = list(broadcast_shapes(tuple(input.shape[:dim]) + (1,) + tuple(input.shape[dim + 1:]),
                                  tuple(indices.shape[:dim]) + (1,) +
                                  tuple(indices.shape[dim + 1:])))
    ishape = list(shape)
    ishape[dim] = input.shape[dim]
    jshape = list(shape)
    jshape[dim] = indices.shape[dim]
    return gather(input.expand(ishape), dim, indices.expand(jshape))


def take(input, index):
    return input.reshape(-1)[index]


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    _check_index_tensor(index, "scatter")
    if src is None:
        src = value
    if isinstance(src, Tensor) and src._dtype is not input._dtype:
        src = src.to(input._dtype)
    return Scatter.apply(input, dim, index, src, reduce)


def scatter_add(input, dim, index, src):
    _check_index_tensor(index, "scatter_add")
    return ScatterAdd.apply(input, dim, index, src.to(input._dtype))


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    if reduce == "sum" and include_self:
        return scatter_add(input, dim, index, src)
    from .functional_more import _scatter_reduce  # every reduction, with its gradient
    return _scatter_reduce(input, dim % builtins.max(input.dim(), 1), index, src, reduce,
                           include_self=include_self)


def index_select(input, dim, index):
    if index._dtype is not _dt.int64 and index._dtype is not _dt.int32:
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    return IndexSelect.apply(input, dim, index)


def index_add(input, dim, index, source, *, alpha=1):
    return IndexAdd.apply(input, dim, index, source.to(input._dtype), alpha)


def index_fill(input, dim, index, value):
    d = _wrap_dim(dim, input.dim())
    idx = (slice(None),) * d + (index,)
    return index_put(input, idx, value if isinstance(value, Tensor) else
                     _tensor(value, dtype=input._dtype))


@autocast_op("index_copy")
def index_copy(input, dim, index, source):
    d = _wrap_dim(dim, input.dim())
    return index_put(input, (slice(None),) * d + (index,), source)


def masked_fill(input, mask, value):
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.dim()} dimension(s).")
        value = value.to(input._dtype)
    return MaskedFill.apply(input, mask, value)


def masked_select(input, mask):
    shape = broadcast_shapes(input.shape, mask.shape)
    return getitem(expand(input, shape), expand(mask, shape))


def masked_scatter(input, mask, source):
    shape = broadcast_shapes(input.shape, mask.shape)
    m = expand(mask, shape)
    n = int(m.sum().item())
    return index_put(expand(input, shape).clone(), (m,), source.reshape(-1)[:n])


def nonzero(input, *, as_tuple=False):
    r = Nonzero.apply(input)
    if as_tuple:
        if input.dim() == 0:
            return (r.reshape(-1),)
        return tuple(r[:, i] for i in range(r.shape[1]))
    return r


def argwhere(input):
    return nonzero(input)


def sort(input, dim=-1, descending=False, stable=False):
    return _ValuesIndices(*Sort.apply(input, dim, descending, stable))


def argsort(input, dim=-1, descending=False, stable=False):
    return Sort.apply(input, dim, descending, stable)[1]


def msort(input):
    return sort(input, 0)[0]


def topk(input, k, dim=-1, largest=True, sorted=True):
    return _ValuesIndices(*TopK.apply(input, k, dim, largest, sorted))


def kthvalue(input, k, dim=-1, keepdim=False):
    v, i = sort(input, dim)
    v = v.narrow(dim, k - 1, 1)
    i = i.narrow(dim, k - 1, 1)
    if not keepdim:
        v, i = v.squeeze(dim), i.squeeze(dim)
    return _ValuesIndices(v, i)


def median(input, dim=None, keepdim=False):
    if dim is None:
        flat = input.reshape(-1)
        return sort(flat)[0][(flat.numel() - 1) // 2]
    n = input.shape[dim]
    return kthvalue(input, (n - 1) // 2 + 1, dim, keepdim)


def quantile(input, q, dim=None, keepdim=False, interpolation="linear"):
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else dim
    s = sort(x, d)[0]
    n = s.shape[d]
    qs = q if isinstance(q, Tensor) else _tensor(q, dtype=input._dtype)
    pos = qs * (n - 1)
    lo = pos.floor().long()
    hi = pos.ceil().long()
    w = pos - lo.to(input._dtype)
    vlo = s.index_select(d, lo.reshape(-1))
    vhi = s.index_select(d, hi.reshape(-1))
    r = vlo + (vhi - vlo) * w.reshape(-1).reshape(
        [-1 if i == d else 1 for i in range(s.dim())])
    if qs.dim() == 0:
        r = r.squeeze(d)
        if keepdim and dim is not None:
            r = r.unsqueeze(d)
    else:
        r = r.movedim(d, 0)
    return r


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    return Unique.apply(input, sorted, return_inverse, return_counts, dim)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    a = input.detach().cpu()._data.reshape(-1)
    if a.size == 0:
        keep = np.zeros(0, bool)
    else:
        keep = np.concatenate([[True], a[1:] != a[:-1]])
    vals = Tensor._from_array(a[keep], input._dtype)
    out = [vals]
    if return_inverse:
        out.append(Tensor._from_array((np.cumsum(keep) - 1).reshape(input.shape)
                                      .astype(np.int64)))
    if return_counts:
        starts = np.flatnonzero(keep)
        out.append(Tensor._from_array(np.diff(np.append(starts, a.size)).astype(np.int64)))
    return tuple(out) if len(out) > 1 else vals


def bincount(input, weights=None, minlength=0):
    w = None if weights is None else weights.detach().cpu()._data
    r = np.bincount(input.detach().cpu()._data, w, minlength)
    return Tensor._from_array(r if w is not None else r.astype(np.int64))


def histc(input, bins=100, min=0, max=0):
    a = input.detach().cpu()._data
    lo, hi = (a.min(), a.max()) if min == max == 0 else (min, max)
    h, _ = np.histogram(a, bins, (lo, hi))
    return Tensor._from_array(h.astype(input._dtype.np), input._dtype)


def searchsorted(sorted_sequence, values, *, right=False, side=None):
    side = side or ("right" if right else "left")
    # Searched on the sequence's own device (a CUDA input stays there, with no host copy).
    dev = sorted_sequence.device
    xp = get_xp(dev)

    def arr(t):
        a = t.detach()._data if isinstance(t, Tensor) else xp.asarray(t)
        return a.astype(xp.float32) if _dt.is_bf16_array(a) else a
    s, v = arr(sorted_sequence), arr(values)
    if s.ndim == 1:
        r = xp.searchsorted(s, v, side=side)
    else:
        r = xp.stack([xp.searchsorted(a, b, side=side) for a, b in zip(s, v)])
    return Tensor._from_array(xp.asarray(r, dtype=xp.int64), dev=dev)


def bucketize(input, boundaries, *, right=False):
    return searchsorted(boundaries, input, right=right)


def one_hot(input, num_classes=-1):
    return OneHot.apply(input, num_classes)


@autocast_op("cdist")
def cdist(x1, x2, p=2.0):
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return norm(diff, p, dim=-1)


def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    n = len(tensors)
    shape = [x.numel() for x in tensors]
    if indexing == "xy" and n >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, x in enumerate(tensors):
        view_shape = [1] * n
        j = i
        if indexing == "xy" and n >= 2 and i < 2:
            j = 1 - i
        view_shape[j] = x.numel()
        out.append(x.reshape(view_shape).expand(shape))
    return tuple(out)


def cartesian_prod(*tensors):
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    r, c = np.tril_indices(row, offset, col)
    return Tensor._from_array(np.stack([r, c]).astype(np.int64))


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    r, c = np.triu_indices(row, offset, col)
    return Tensor._from_array(np.stack([r, c]).astype(np.int64))


def block_diag(*tensors):
    rows = builtins.sum(x.shape[0] for x in tensors)
    cols = builtins.sum(x.shape[1] for x in tensors)
    out = tensors[0].new_zeros((rows, cols))
    r = c = 0
    for x in tensors:
        out = index_put(out, (slice(r, r + x.shape[0]), slice(c, c + x.shape[1])), x)
        r += x.shape[0]
        c += x.shape[1]
    return out


def diff(input, n=1, dim=-1):
    for _ in range(n):
        m = input.shape[dim]
        input = input.narrow(dim, 1, m - 1) - input.narrow(dim, 0, m - 1)
    return input


def logcumsumexp(input, dim):
    m = input.detach().amax(dim, keepdim=True)
    return (input - m).exp().cumsum(dim).log() + m


def logaddexp(input, other):
    m = maximum(input, other).detach()
    # An infinite maximum would make inf - inf: shift by 0 there (the result is that inf).
    m = m.masked_fill(isinf(m), 0.0)
    return ((input - m).exp() + (other - m).exp()).log() + m


def xlogy(input, other):
    """``input * log(other)``, 0 where ``input`` is 0 unless ``other`` is NaN (as torch)."""
    if not isinstance(other, Tensor):
        other = _tensor(other, device=input.device if isinstance(input, Tensor) else None)
    if not isinstance(input, Tensor):
        input = _tensor(input, device=other.device)
    return where((input == 0) & ~isnan(other), 0.0, input * log(other))


def hypot(input, other):
    return sqrt(input * input + other * other)


def softmax(input, dim, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    m = input.detach().amax(dim, keepdim=True)
    e = (input - m).exp()
    return e / e.sum(dim, keepdim=True)


def log_softmax(input, dim, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return input - input.logsumexp(dim, keepdim=True)
