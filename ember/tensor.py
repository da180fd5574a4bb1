"""The Tensor type: an array, its dtype and device, and its place in the autograd graph.

Methods that compute are bound from ``ember.functional`` (one definition per op); this module
holds the data model: construction, attributes, conversion, repr, grad bookkeeping.
"""
from __future__ import annotations

import weakref

import numpy as np

from .backend import dtypes as _dt
from .backend.device import as_device, cpu, device, get_xp
from .ops import registry as _reg
from .ops.registry import GRAD_MODE


class Tensor:
    """A multi-dimensional array with autograd, like ``torch.Tensor``.

    Args:
        data: anything ``ember.tensor`` accepts (``Tensor(...)`` is kept for compatibility and
            makes a float32 tensor, as ``torch.Tensor(...)`` does).

    Shape:
        ``shape`` is a ``torch.Size``-like tuple; 0-d tensors have shape ``()``.

    Example:
        >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
    """

    # Only what every tensor sets is a slot; the rest are class-level defaults that an instance
    # overrides in its __dict__ when it needs to. Creating a tensor is the cost of every op,
    # and this keeps it to four stores.
    __slots__ = ("_data", "_dtype", "_device", "_version", "__dict__", "__weakref__")
    _rg = False
    grad = None
    grad_fn = None
    _output_nr = 0
    _base = None
    _view_chain = None
    _view_version = 0  # version of the base when a view's grad_fn was made (see _refresh_view)
    _accum = None
    _leaf_hooks = None
    _post_accumulate_hooks = None
    __array_priority__ = 1000  # numpy defers to our reflected operators

    def __new__(cls, *args, **kwargs):
        from . import creation
        if len(args) == 1 and not isinstance(args[0], int):
            src = creation.tensor(args[0], dtype=_dt.get_default_dtype()
                                  if not isinstance(args[0], Tensor) else None)
        elif args:
            src = creation.empty(*args, dtype=_dt.get_default_dtype())
        else:
            src = creation.empty(0)
        t = object.__new__(cls)
        _init(t, src._data, src._dtype, src._device)
        return t

    def __init__(self, *args, **kwargs):
        pass

    @classmethod
    def _from_array(cls, arr, dtype: _dt.dtype | None = None, dev: device | None = None):
        t = object.__new__(cls)
        _init(t, arr, dtype if dtype is not None else _dt.from_numpy_dtype(arr.dtype),
              dev if dev is not None else _device_of(arr))
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> "Size":
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    @property
    def dtype(self) -> _dt.dtype:
        return self._dtype

    @property
    def device(self) -> device:
        return self._device

    @property
    def is_cuda(self) -> bool:
        return self._device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self._device.type == "cpu"

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self._dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.numel() * self._dtype.itemsize

    def stride(self, dim: int | None = None):
        isz = self._data.itemsize
        st = [s // isz for s in self._data.strides]
        shape = self._data.shape
        for i in range(len(st) - 1, -1, -1):
            # NumPy gives new axes of size 1 a 0 stride; torch's unsqueeze uses the next
            # dim's extent (size * stride), or 1 for the last dim.
            if shape[i] == 1 and st[i] == 0:
                st[i] = st[i + 1] * shape[i + 1] if i + 1 < len(st) else 1
        st = tuple(st)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim)]

    def storage_offset(self) -> int:
        if self._base is None:
            return 0
        base = self._base._data
        return int((self._data.__array_interface__["data"][0]
                    - base.__array_interface__["data"][0]) // self._data.itemsize)

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self._data.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self._dtype.is_floating_point

    def is_complex(self) -> bool:
        return self._dtype.is_complex

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None and not value:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        if value and not (self._dtype.is_floating_point or self._dtype.is_complex):
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        self._rg = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    @property
    def data(self) -> "Tensor":
        # torch's .data does not share the version counter (unlike detach()).
        return Tensor._from_array(self._data, self._dtype, self._device)

    @data.setter
    def data(self, value: "Tensor") -> None:
        self._data = value._data
        self._dtype = value._dtype
        self._device = value._device

    @property
    def T(self) -> "Tensor":
        return self.permute(tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> "Tensor":
        if self.ndim < 2:
            raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                               f"Got {self.ndim}-D tensor.")
        return self.transpose(-2, -1)

    @property
    def H(self) -> "Tensor":
        return self.T

    @property
    def mH(self) -> "Tensor":
        return self.mT

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def _version_value(self) -> int:
        return self._version[0]

    # ------------------------------------------------------------------ conversion
    def numpy(self, force: bool = False) -> np.ndarray:
        if self._rg and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if self._device.type != "cpu":
            if not force:
                raise TypeError(f"can't convert {self._device} device type tensor to numpy. "
                                "Use Tensor.cpu() to copy the tensor to host memory first.")
            return _dt.host_array(self._data)
        if _reg.TRACER is not None:
            _reg.TRACER.read(self, "numpy")
        if self._dtype is _dt.bfloat16:
            return self._data  # float32 storage; NumPy has no bfloat16
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self.detach().cpu()._data
        return arr if dtype is None else arr.astype(dtype)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        if _reg.TRACER is not None:
            _reg.TRACER.read(self, "item")
        return self._data.reshape(-1)[0].item()

    def tolist(self):
        if _reg.TRACER is not None:
            _reg.TRACER.read(self, "tolist")
        return _host(self._data).tolist()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        if _reg.TRACER is not None:
            _reg.TRACER.read(self, "bool")
        return bool(self._data.reshape(-1)[0])

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def _scalar(self):
        # float()/int() word their error differently from item(), and raise ValueError.
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __index__(self) -> int:
        if self._dtype.category > 1 or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0 and spec:
            return self.item().__format__(spec)
        return self.__repr__()

    def __reduce_ex__(self, proto):
        return (_rebuild, (_host(self._data), self._dtype.name, str(self._device), self._rg))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        t = type(self).__new__(type(self)) if type(self) is not Tensor else object.__new__(Tensor)
        _init(t, self._data.copy(), self._dtype, self._device)
        t._rg = self._rg
        if self.grad is not None:
            t.grad = self.grad.__deepcopy__(memo)
        import copy
        for k, v in self.__dict__.items():
            if k not in _INTERNAL:
                t.__dict__[k] = copy.deepcopy(v, memo)
        memo[id(self)] = t
        return t

    def to(self, *args, **kwargs) -> "Tensor":
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; also copy= and
        non_blocking=."""
        dtype = kwargs.get("dtype")
        dev = kwargs.get("device")
        copy = kwargs.get("copy", False)
        for a in args:
            if isinstance(a, _dt.dtype):
                dtype = a
            elif isinstance(a, Tensor):
                dtype, dev = a._dtype, a._device
            elif isinstance(a, (str, device, int)):
                dev = a
        out = self
        if dev is not None:
            dev = as_device(dev)
            if dev.type == "cuda" and dev.index is None:
                from . import cuda
                dev = device("cuda", cuda.current_device())
            if dev != self._device:
                out = _ToDevice.apply(out, dev)
        if dtype is not None and dtype is not out._dtype:
            out = _reg.REGISTRY["to_dtype"].apply(out, dtype, out._dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self) -> "Tensor":
        return self.to(cpu)

    def cuda(self, device=None, non_blocking: bool = False) -> "Tensor":
        return self.to("cuda" if device is None else
                       (f"cuda:{device}" if isinstance(device, int) else device))

    def float(self) -> "Tensor":
        return self.to(_dt.float32)

    def double(self) -> "Tensor":
        return self.to(_dt.float64)

    def half(self) -> "Tensor":
        return self.to(_dt.float16)

    def bfloat16(self) -> "Tensor":
        return self.to(_dt.bfloat16)

    def long(self) -> "Tensor":
        return self.to(_dt.int64)

    def int(self) -> "Tensor":
        return self.to(_dt.int32)

    def short(self) -> "Tensor":
        return self.to(_dt.int16)

    def char(self) -> "Tensor":
        return self.to(_dt.int8)

    def byte(self) -> "Tensor":
        return self.to(_dt.uint8)

    def bool(self) -> "Tensor":
        return self.to(_dt.bool_)

    def type(self, dtype=None):
        if dtype is None:
            return self._type_name()
        if isinstance(dtype, str):
            name = dtype.split(".")[-1]
            dtype = _TYPE_NAMES_REV[name]
        return self.to(dtype)

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.to(other._dtype)

    def _type_name(self) -> str:
        base = _TYPE_NAMES.get(self._dtype, "Tensor")
        return ("torch.cuda." if self.is_cuda else "torch.") + base

    # ------------------------------------------------------------------ graph
    def detach(self) -> "Tensor":
        t = Tensor._from_array(self._data, self._dtype, self._device)
        t._version = self._version
        return t

    def detach_(self) -> "Tensor":
        if self._base is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead. If you are "
                               "using DistributedDataParallel (DDP) for training, and "
                               "gradient_as_bucket_view is set as True, gradients are views of "
                               "DDP buckets, and hence detach_() cannot be called on these "
                               "gradients. To fix this error, please refer to the "
                               "Optimizer.zero_grad() function in torch/optim/optimizer.py as "
                               "the solution.")
        self.grad_fn = None
        self._rg = False
        return self

    def retain_grad(self) -> None:
        if self.grad_fn is None:
            if not self._rg:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        fn = self.grad_fn
        if fn._retain_hooks is None:
            fn._retain_hooks = {}
        fn._retain_hooks[self._output_nr] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        fn = self.grad_fn
        return bool(fn is not None and fn._retain_hooks and self._output_nr in fn._retain_hooks)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn._add_tensor_hook(self._output_nr, hook)
        if self._leaf_hooks is None:
            self._leaf_hooks = []
        self._leaf_hooks.append(hook)
        return _reg._RemovableHandle(self._leaf_hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        return _reg._RemovableHandle(self._post_accumulate_hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        from .autograd import backward as _backward
        _backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        from ._repr import tensor_repr
        return tensor_repr(self)

    __str__ = __repr__


def _init(t, arr, dtype, dev):
    t._data = arr
    t._dtype = dtype
    t._device = dev
    t._version = [0]


def make_tensor(arr, dtype, dev):
    t = object.__new__(Tensor)
    t._data = arr
    t._dtype = dtype
    t._device = dev if dev is not None else cpu
    t._version = [0]
    return t


# Instance attributes that are ember's bookkeeping, not user data (skipped by deepcopy).
_INTERNAL = frozenset(("_rg", "grad", "grad_fn", "_output_nr", "_base", "_view_chain",
                       "_view_version", "_accum",
                       "_leaf_hooks", "_post_accumulate_hooks"))


def _device_of(arr) -> device:
    if isinstance(arr, np.ndarray):
        return cpu
    return device("cuda", arr.device.id)


def _host(arr):
    return _dt.host_array(arr)


def _rebuild(arr, dtype_name, dev, rg):
    t = Tensor._from_array(np.array(arr), _dt._dtype_by_name(dtype_name))
    if dev != "cpu":
        t = t.to(dev)
    t._rg = rg
    return t


def _wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


class Size(tuple):
    """``torch.Size``: a tuple of ints with ``numel()``."""

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"torch.Size([{', '.join(str(s) for s in self)}])"

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    # Concatenating with a tuple stays a Size, either way round, as torch.Size does.
    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))


_TYPE_NAMES = {_dt.float32: "FloatTensor", _dt.float64: "DoubleTensor",
               _dt.float16: "HalfTensor", _dt.bfloat16: "BFloat16Tensor",
               _dt.int64: "LongTensor", _dt.int32: "IntTensor", _dt.int16: "ShortTensor",
               _dt.int8: "CharTensor", _dt.uint8: "ByteTensor", _dt.bool_: "BoolTensor"}
_TYPE_NAMES_REV = {v: k for k, v in _TYPE_NAMES.items()}


class _ToDevice(_reg.Primitive):
    """Copy between devices; the gradient goes back to the source device."""

    def forward(self, a, dev):
        self.src = _device_of(a)
        if dev.type == "cpu":
            return _dt.host_array(a)
        xp = get_xp(dev)
        with xp.cuda.Device(dev.index or 0):
            return xp.asarray(a)

    def backward(self, g):
        return g.to(self.src)

    @classmethod
    def apply(cls, t, dev):
        if _reg.TRACER is not None:
            # Not a registry primitive: ember.jit records the move as its `_to_device` node.
            return _reg.TRACER.device_move(cls, t, dev)
        ctx = object.__new__(cls)
        arr = ctx.forward(t._data, dev)
        d = t._dtype
        if d is _dt.bfloat16 and dev.type != "cpu":
            arr = _dt.round_bf16(arr)  # float32 host storage -> native bfloat16 on CUDA
        out = make_tensor(arr, d, dev)
        if t._rg and GRAD_MODE.enabled:
            ctx.next_edges = (_reg._edge(t), None)
            out._rg = True
            out.grad_fn = ctx
        return out


_ToDevice._backward_name = "ToCopyBackward0"

_reg.Tensor = Tensor
_reg.make_tensor = make_tensor
