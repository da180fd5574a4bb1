"""Binds the functional API onto Tensor as methods, operators and in-place variants."""
from __future__ import annotations

import numpy as np

from . import functional as F
from .backend import dtypes as _dt
from .creation import tensor as _tensor
from .ops import registry as _reg
from .ops.registry import GRAD_MODE, Primitive, register
from .tensor import Tensor, make_tensor

_METHODS = """
abs absolute acos arccos asin arcsin atan arctan atan2 arctan2 add sub subtract mul multiply div
divide true_divide floor_divide remainder fmod pow float_power maximum minimum fmax fmin neg
negative sign sgn exp exp2 log log2 log10 log1p expm1 sqrt rsqrt sin cos tan sinh cosh tanh sigmoid
erf erfc erfinv reciprocal relu square floor ceil trunc fix round frac clamp clip clamp_min
clamp_max lerp where eq ne lt le gt ge greater greater_equal less less_equal not_equal equal
allclose isclose logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor
bitwise_not isnan isinf isfinite isposinf isneginf nan_to_num sum nansum mean nanmean prod amax
amin aminmax max min argmax argmin var std norm dist logsumexp cumsum cumprod all any count_nonzero
matmul mm bmm mv dot inner outer ger addmm baddbmm trace kron cross reshape view view_as reshape_as
flatten unflatten ravel squeeze unsqueeze permute transpose swapaxes swapdims t adjoint movedim
moveaxis expand expand_as broadcast_to split tensor_split chunk unbind select narrow flip fliplr
flipud roll rot90 tril triu diag diagonal diag_embed repeat tile repeat_interleave clone contiguous
gather take_along_dim take scatter scatter_add scatter_reduce index_select index_add index_fill
index_copy index_put masked_fill masked_select masked_scatter nonzero argwhere sort argsort msort
topk kthvalue median quantile unique unique_consecutive bincount histc diff logcumsumexp logaddexp
xlogy hypot softmax log_softmax
"""


def _bind():
    for name in _METHODS.split():
        setattr(Tensor, name, getattr(F, name))


_bind()
# Tensor.where(condition, other) is torch.where(condition, self, other): self is the true branch.
Tensor.where = lambda self, condition, other: F.where(condition, self, other)


# ----------------------------------------------------------------------------- operators
def _r(fn):
    return lambda self, other: fn(other, self)


def _fast_binary(cls, ufunc, slow=F._binary):
    # Same-dtype float tensor operands skip promotion entirely (the common case in training
    # code); small CPU operands with nothing to record skip the node too. Everything else goes
    # through the full rules and checks of ``slow``.
    def op(self, other):
        if type(other) is Tensor and other._dtype is self._dtype and self._dtype.category == 2:
            if (not GRAD_MODE.enabled or not (self._rg or other._rg)) and \
                    self._device is _CPU and other._device is _CPU and self._dtype is not _BF16:
                a = self._data
                b = other._data
                if a.size < _SMALL and b.size < _SMALL:
                    try:
                        r = ufunc(a, b)
                    except ValueError:  # shapes do not broadcast: raise torch's error
                        return cls.apply(self, other)
                    if type(r) is not np.ndarray:
                        r = np.asarray(r)
                    return make_tensor(r, self._dtype, _CPU)
            return cls.apply(self, other)
        return slow(cls, self, other)
    return op


# ember.jit sets this to 0 while tracing so that every operator reaches Primitive.apply.
_SMALL = 1 << 16
_BF16 = _dt.bfloat16


def _cpu_device():
    from .backend.device import cpu
    return cpu


_CPU = _cpu_device()


Tensor.__add__ = _fast_binary(F.Add, np.add)
Tensor.__radd__ = lambda self, other: F._binary(F.Add, other, self)
Tensor.__sub__ = _fast_binary(F.Sub, np.subtract, lambda cls, a, b: F.sub(a, b))
Tensor.__rsub__ = _r(F.sub)
Tensor.__mul__ = _fast_binary(F.Mul, np.multiply)
Tensor.__rmul__ = lambda self, other: F._binary(F.Mul, other, self)
Tensor.__truediv__ = _fast_binary(F.Div, np.true_divide, lambda cls, a, b: F.true_divide(a, b))
Tensor.__rtruediv__ = _r(F.true_divide)
Tensor.__floordiv__ = F.floor_divide
Tensor.__rfloordiv__ = _r(F.floor_divide)
Tensor.__mod__ = F.remainder
Tensor.__rmod__ = _r(F.remainder)
Tensor.__pow__ = F.pow
Tensor.__rpow__ = _r(F.pow)
Tensor.__matmul__ = F.matmul
Tensor.__rmatmul__ = _r(F.matmul)
Tensor.__neg__ = F.neg
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = F.abs
Tensor.__invert__ = lambda self: F.logical_not(self) if self._dtype is _dt.bool_ else \
    F.bitwise_not(self)
Tensor.__and__ = lambda self, o: F.logical_and(self, o) if self._dtype is _dt.bool_ else \
    F.bitwise_and(self, o)
Tensor.__or__ = lambda self, o: F.logical_or(self, o) if self._dtype is _dt.bool_ else \
    F.bitwise_or(self, o)
Tensor.__xor__ = lambda self, o: F.logical_xor(self, o) if self._dtype is _dt.bool_ else \
    F.bitwise_xor(self, o)
Tensor.__rand__ = Tensor.__and__
Tensor.__ror__ = Tensor.__or__
Tensor.__rxor__ = Tensor.__xor__
Tensor.__eq__ = F.eq
Tensor.__ne__ = F.ne
Tensor.__lt__ = F.lt
Tensor.__le__ = F.le
Tensor.__gt__ = F.gt
Tensor.__ge__ = F.ge
Tensor.__hash__ = lambda self: id(self)
Tensor.__getitem__ = F.getitem


def _lshift(self, other):
    return self * (2 ** other)


def _rshift(self, other):
    return self // (2 ** other)


Tensor.__lshift__ = _lshift
Tensor.__rshift__ = _rshift


# ----------------------------------------------------------------------------- in-place
@register("view_scatter")
class ViewScatter(Primitive):
    """``base`` with the view described by ``chain`` replaced by ``src`` (torch's CopySlices)."""

    def forward(self, base, src, chain):
        self.chain = chain
        self.src_shape = src.shape
        out = base.copy()
        _replay_arrays(self.xp, out, chain)[...] = src
        return out

    def backward(self, g):
        zeros = g.new_zeros(self.src_shape)
        return ViewScatter.apply(g, zeros, self.chain), replay(g, self.chain), None

    def name(self) -> str:
        return "torch::autograd::CopySlices"


# torch shows this node as grad_fn=<CopySlices> (its type name) and name() is namespaced.
ViewScatter._backward_name = "CopySlices"


def _replay_arrays(xp, arr, chain):
    for cls, rest, kw in chain:
        ctx = object.__new__(cls)
        ctx.xp = xp
        arr = ctx.forward(arr, *rest, **kw)
    return arr


def replay(t, chain):
    for cls, rest, kw in chain:
        t = cls.apply(t, *rest, **kw)
    return t


def _snapshot(t: Tensor) -> Tensor:
    """A copy of ``t``'s values that stands at the same place in the graph."""
    s = make_tensor(t._data.copy(), t._dtype, t._device)
    s._rg = t._rg
    s.grad_fn = t.grad_fn
    s._output_nr = t._output_nr
    if t.grad_fn is None and t._rg:
        s._accum = t._accum
        if s._accum is None:
            from .ops.registry import AccumulateGrad
            s._accum = t._accum = AccumulateGrad(t)
    return s


def _check_cast(self, res):
    if res._dtype is not self._dtype:
        if res._dtype.category > self._dtype.category:
            raise RuntimeError(f"result type {_TYPE.get(res._dtype, res._dtype.name)} can't be "
                               f"cast to the desired output type "
                               f"{_TYPE.get(self._dtype, self._dtype.name)}")
        res = res.to(self._dtype)
    if tuple(res.shape) != tuple(self.shape):
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                           f"shape {list(res.shape)}")
    return res


_TYPE = {_dt.float32: "Float", _dt.float64: "Double", _dt.float16: "Half",
         _dt.bfloat16: "BFloat16", _dt.int64: "Long", _dt.int32: "Int", _dt.int16: "Short",
         _dt.int8: "Char", _dt.uint8: "Byte", _dt.bool_: "Bool"}


def _write(self, arr):
    data = self._data
    if not getattr(data.flags, "writeable", True):
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the tensor "
                           "before performing the operation.")
    if data.shape == arr.shape and data.dtype == arr.dtype:
        data[...] = arr
    else:
        data[...] = arr.astype(data.dtype, copy=False)


def inplace(self: Tensor, fn, *args) -> Tensor:
    """Run ``fn(self, *args)`` and write the result into ``self`` with torch's in-place rules."""
    if _reg.TRACER is not None:
        return _reg.TRACER.inplace(self, fn, args)
    track = GRAD_MODE.enabled and (self._rg or any(
        isinstance(a, Tensor) and a._rg for a in args))
    if not track:
        with _no_grad():
            res = fn(self, *args)
        res = _check_cast(self, res)
        _write(self, res._data)
        self._version[0] += 1
        return self
    if self.grad_fn is None and self._rg:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    base = self._base
    if base is not None and self._view_chain is not None:
        if base.grad_fn is None and base._rg:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        old_base = _snapshot(base)
        res = _check_cast(self, fn(replay(old_base, self._view_chain), *args))
        new_base = ViewScatter.apply(old_base, res, self._view_chain)
        _write(base, new_base._data)
        base.grad_fn, base._output_nr, base._rg = new_base.grad_fn, 0, True
        self._version[0] += 1
        fresh = replay(base, self._view_chain)
        self.grad_fn, self._output_nr, self._rg = fresh.grad_fn, fresh._output_nr, True
        self._view_version = self._version[0]
        return self
    res = _check_cast(self, fn(_snapshot(self), *args))
    _write(self, res._data)
    self._version[0] += 1
    _alias_saved_result(res, self)
    self.grad_fn = res.grad_fn
    self._output_nr = res._output_nr
    self._rg = res._rg
    return self


def _alias_saved_result(res: Tensor, self: Tensor) -> None:
    """Make an op's saved output ``res`` (e.g. exp_ saves its result) the storage of ``self``.

    torch saves the in-place result itself, so a later in-place change to ``self`` must make
    backward raise "modified by an inplace operation" rather than silently use a stale copy.
    """
    fn = res.grad_fn
    saved = getattr(fn, "_saved", None)
    if not saved or fn._saved_versions is None:
        return
    if not any(s is res for s in saved):
        return
    res._data = self._data
    res._version = self._version
    fn._saved_versions = tuple(self._version[0] if s is res else v
                               for s, v in zip(saved, fn._saved_versions))


class _no_grad:
    def __enter__(self):
        self.prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = False

    def __exit__(self, *a):
        GRAD_MODE.enabled = self.prev


def _make_inplace(name):
    fn = getattr(F, name)

    def method(self, *args, **kwargs):
        return inplace(self, lambda t, *a: fn(t, *a, **kwargs), *args)
    method.__name__ = name + "_"
    return method


_INPLACE = """
abs acos asin atan atan2 add sub mul div true_divide floor_divide remainder fmod pow neg sign exp
exp2 log log2 log10 log1p expm1 sqrt rsqrt sin cos tan sinh cosh tanh sigmoid erf erfc erfinv
reciprocal relu square floor ceil trunc round frac clamp clip clamp_min clamp_max lerp logical_and
logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not masked_fill
scatter scatter_add index_add index_fill index_copy index_put masked_scatter nan_to_num tril triu
maximum minimum hypot xlogy eq ne lt le gt ge
"""
for _n in _INPLACE.split():
    setattr(Tensor, _n + "_", _make_inplace(_n))

Tensor.__iadd__ = Tensor.add_
Tensor.__isub__ = Tensor.sub_
Tensor.__imul__ = Tensor.mul_
Tensor.__itruediv__ = Tensor.div_
Tensor.__ifloordiv__ = Tensor.floor_divide_
Tensor.__imod__ = Tensor.remainder_
Tensor.__ipow__ = Tensor.pow_
Tensor.__iand__ = lambda self, o: inplace(self, lambda t, x: t & x, o)
Tensor.__ior__ = lambda self, o: inplace(self, lambda t, x: t | x, o)
Tensor.__ixor__ = lambda self, o: inplace(self, lambda t, x: t ^ x, o)
Tensor.__imatmul__ = lambda self, o: inplace(self, F.matmul, o)


def _fill(self, value):
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.dim()} dimensions.")
        return inplace(self, lambda t, v: (t * 0 + v.to(t._dtype)).expand(t.shape), value)
    if not (GRAD_MODE.enabled and self._rg):
        _write(self, np.asarray(value, dtype=self._data.dtype) if isinstance(
            self._data, np.ndarray) else self._data.dtype.type(value))
        self._version[0] += 1
        return self
    return inplace(self, lambda t: F.full_like_graph(t, value))


def _zero(self):
    return _fill(self, 0)


def _copy(self, src, non_blocking=False):
    if not isinstance(src, Tensor):
        src = _tensor(src)
    if src._device != self._device:
        src = src.to(self._device)

    def f(t, s):
        return _CopyFrom.apply(t, s, dst_dtype=t._dtype, src_dtype=s._dtype)
    try:
        F.broadcast_shapes(src.shape, self.shape)
    except RuntimeError:
        raise RuntimeError(f"The size of tensor a ({self.shape[-1] if self.dim() else 1}) must "
                           f"match the size of tensor b ({src.shape[-1] if src.dim() else 1}) "
                           "at non-singleton dimension 0") from None
    if not (GRAD_MODE.enabled and (self._rg or src._rg)):
        arr = np.broadcast_to(src._data, self._data.shape) if isinstance(
            src._data, np.ndarray) else src._data
        if src._dtype is not self._dtype:
            arr = _dt.to_dtype_array(arr, self._dtype)
        _write(self, arr)
        self._version[0] += 1
        return self
    return inplace(self, f, src)


class _CopyFrom(Primitive):
    """``dst.copy_(src)`` as one graph node (torch's CopyBackwards): the values of ``src``
    broadcast to ``dst``'s shape and cast to its dtype; ``dst``'s old values get no gradient."""

    def forward(self, dst, src, dst_dtype, src_dtype):
        self.src_shape = src.shape
        self.src_dtype = src_dtype
        self.out_dtype = dst_dtype
        out = self.xp.broadcast_to(src, dst.shape)
        return _dt.to_dtype_array(out, dst_dtype) if src_dtype is not dst_dtype else out.copy()

    def backward(self, g):
        from .ops.elementwise import sum_to
        gs = sum_to(g, self.src_shape)
        return None, gs.to(self.src_dtype) if gs._dtype is not self.src_dtype else gs

    def name(self) -> str:
        return "torch::autograd::CopyBackwards"


_CopyFrom._backward_name = "CopyBackwards"


def _full_like_graph(t, value):
    return t * 0 + value


F.full_like_graph = _full_like_graph
Tensor.fill_ = _fill
Tensor.zero_ = _zero
Tensor.copy_ = _copy


def _setitem(self, idx, value):
    # While tracing, the graph path below (index_put, then an in-place rebind) is recorded.
    if _reg.TRACER is None and not (GRAD_MODE.enabled and (
            self._rg or (isinstance(value, Tensor) and value._rg))):
        arr_idx = F._index_arrays(self, idx)
        if isinstance(value, Tensor):
            v = value._data
            if value._dtype is not self._dtype:
                v = _dt.to_dtype_array(v, self._dtype)
        else:
            v = value
        if not getattr(self._data.flags, "writeable", True):
            _write(self, self._data)
        try:
            self._data[arr_idx] = v
        except ValueError as e:
            raise RuntimeError(str(e)) from None
        if self._dtype is _dt.bfloat16:
            self._data[...] = _dt.round_bf16(self._data)
        self._version[0] += 1
        return
    if not isinstance(value, Tensor):
        value = _tensor(value, dtype=self._dtype, device=self._device)
    from .ops.indexing import _is_basic
    if _is_basic(idx) and _reg.TRACER is None:
        # As torch: a basic index writes through a view (grad_fn=<CopySlices>). (ember.jit
        # records the index_put path below instead: a write through a view is not traceable.)
        _copy(F.getitem(self, idx), value)
        return
    inplace(self, lambda t, v: F.index_put(t, (idx,) if not isinstance(idx, tuple) else idx, v),
            value)


Tensor.__setitem__ = _setitem


def _uniform(self, a=0.0, b=1.0, generator=None):
    from .random import rng_of
    arr = rng_of(generator).uniform(a, b, self.shape)
    return _copy_rand(self, arr)


def _normal(self, mean=0.0, std=1.0, generator=None):
    from .random import rng_of
    arr = rng_of(generator).standard_normal(self.shape) * std + mean
    return _copy_rand(self, arr)


def _copy_rand(self, arr):
    with _no_grad():
        _copy(self, make_tensor(np.asarray(arr, dtype=self._data.dtype), self._dtype, _cpu()))
    return self


def _cpu():
    from .backend.device import cpu
    return cpu


def _bernoulli_(self, p=0.5, generator=None):
    from .random import rng_of
    pv = p._data if isinstance(p, Tensor) else p
    return _copy_rand(self, (rng_of(generator).random(self.shape) < pv))


def _random_(self, low=0, high=None, generator=None):
    from .random import rng_of
    if high is None:
        low, high = 0, low if low else 2 ** 24
    return _copy_rand(self, rng_of(generator).integers(low, high, self.shape))


def _exponential_(self, lambd=1.0, generator=None):
    from .random import rng_of
    return _copy_rand(self, rng_of(generator).exponential(1.0 / lambd, self.shape))


Tensor.uniform_ = _uniform
Tensor.normal_ = _normal
Tensor.bernoulli_ = _bernoulli_
Tensor.random_ = _random_
Tensor.exponential_ = _exponential_


def _bernoulli(self, p=None, generator=None):
    from .creation import bernoulli
    return bernoulli(self, p, generator=generator)


Tensor.bernoulli = _bernoulli


def _multinomial(self, num_samples, replacement=False, generator=None):
    from .creation import multinomial
    return multinomial(self, num_samples, replacement, generator=generator)


Tensor.multinomial = _multinomial


# ----------------------------------------------------------------------------- new_* and misc
def _new(factory):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return factory(*size, dtype=dtype or self._dtype,
                       device=device if device is not None else self._device,
                       requires_grad=requires_grad)
    return method


def _install_new():
    from . import creation as C
    Tensor.new_zeros = _new(C.zeros)
    Tensor.new_ones = _new(C.ones)
    Tensor.new_empty = _new(C.empty)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return C.full(size, fill_value, dtype=dtype or self._dtype,
                      device=device if device is not None else self._device,
                      requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return C.tensor(data, dtype=dtype or self._dtype,
                        device=device if device is not None else self._device,
                        requires_grad=requires_grad)
    Tensor.new_full = new_full
    Tensor.new_tensor = new_tensor


_install_new()


def _apply_(self, fn):
    flat = self._data.reshape(-1)
    for i in range(flat.size):
        flat[i] = fn(flat[i].item())
    return self


Tensor.apply_ = _apply_
Tensor.map_ = lambda self, other, fn: inplace(
    self, lambda t, o: _tensor(np.vectorize(fn)(t._data, o._data), dtype=t._dtype), other)
Tensor.one_hot = F.one_hot
Tensor.pin_memory = lambda self, *a: self
Tensor.share_memory_ = lambda self: self
Tensor.is_pinned = lambda self: False
Tensor.is_shared = lambda self: False
Tensor.is_sparse = False
Tensor.is_quantized = False
Tensor.is_meta = False
Tensor.layout = "torch.strided"
Tensor.untyped_storage = lambda self: self._data
Tensor.data_ptr = lambda self: int(self._data.__array_interface__["data"][0]) if isinstance(
    self._data, np.ndarray) else int(self._data.data.ptr)
Tensor.get_device = lambda self: -1 if self._device.type == "cpu" else (self._device.index or 0)
Tensor.resize_ = lambda self, *size: _resize(self, F._shape_arg(size))
Tensor.sum_to_size = lambda self, *size: __import__(
    "ember.ops.elementwise", fromlist=["sum_to"]).sum_to(self, F._shape_arg(size))


def _resize(self, size):
    n = 1
    for s in size:
        n *= s
    flat = self._data.reshape(-1)
    if flat.size >= n:
        self._data = flat[:n].reshape(size)
    else:
        new = np.zeros(n, dtype=self._data.dtype)
        new[:flat.size] = flat
        self._data = new.reshape(size)
    return self

