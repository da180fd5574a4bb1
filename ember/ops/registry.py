"""The primitive-op registry and the graph node every primitive is.

A primitive is one class: ``forward(ctx, *arrays)`` computes on raw arrays through ``ctx.xp``
(numpy or cupy), ``backward(ctx, *grads)`` returns input gradients written with ember ops, so that
gradients of gradients work. ``Primitive.apply`` runs forward and, when grad mode is on and an input
requires grad, links the node into the autograd graph.
"""
from __future__ import annotations

import numpy as np

from ..backend import dtypes as _dt
from ..backend.device import get_xp as _get_xp

REGISTRY: dict[str, type] = {}


class _GradMode:
    __slots__ = ("enabled", "inference", "anomaly")

    def __init__(self):
        self.enabled = True
        self.inference = False
        self.anomaly = False


GRAD_MODE = _GradMode()

_NDARRAY = np.ndarray
_BF16 = _dt.bfloat16
_F32 = _dt.float32
_BY_NP = _dt._BY_NP

# Bound by ember.tensor at import time (ops sit below the Tensor type in the layering).
Tensor = None
make_tensor = None
# The active ember.jit tracer (None unless a trace is being recorded): Primitive.apply hands
# each call to TRACER.record(cls, args, kwargs), which runs the op and records a graph node.
TRACER = None
# The active ember.profiler.profile (None unless profiling): Primitive.apply hands each call to
# PROFILER.record(cls, args, kwargs), which times the op; unprofiled calls pay one `is None`.
PROFILER = None
# ember.amp's autocast hook (None outside enabled autocast regions and during backward):
# AUTOCAST(cls, args, kwargs) returns args with floating inputs cast per the op's policy.
AUTOCAST = None


def register(name: str):
    """Class decorator: add a primitive to the registry under ``name``."""
    def deco(cls):
        if name in REGISTRY:
            raise ValueError(f"primitive {name!r} registered twice")
        cls.op_name = name
        cls._backward_name = cls.__name__ + "Backward0"
        REGISTRY[name] = cls
        return cls
    return deco


_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.")


class Node:
    """A node of the autograd graph (what ``tensor.grad_fn`` returns)."""

    # next_edges: one entry per forward input, (node, output_nr) or None.
    next_edges: tuple = ()
    _saved = None
    _saved_versions = None
    _saved_out_idx = -1  # which saved tensor is this node's own output, if any
    _unpack = None  # set when saved tensors went through autograd.graph.saved_tensors_hooks
    _released = False
    _pre_hooks = None      # {output_nr: [hook(grad) -> grad|None]} from Tensor.register_hook
    _retain_hooks = None   # {output_nr: tensor} for retain_grad
    _node_pre_hooks = None  # [hook(grad_outputs)] from Node.register_prehook
    _node_hooks = None     # [hook(grad_inputs, grad_outputs)] from Node.register_hook
    _n_outputs = 1
    _backward_name = "Node"

    def name(self) -> str:
        return self._backward_name

    @property
    def metadata(self) -> dict:
        """A dict for the user's annotations of this node (torch's Node.metadata)."""
        d = self.__dict__.get("_metadata")
        if d is None:
            d = self._metadata = {}
        return d

    def __repr__(self) -> str:
        return f"<{self._backward_name} object at {hex(id(self))}>"

    @property
    def next_functions(self) -> tuple:
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self.next_edges)

    def save_for_backward(self, *values) -> None:
        self._saved = values

    @property
    def saved_tensors(self) -> tuple:
        if self._released:
            raise RuntimeError(_FREED_MSG)
        saved = self._saved
        if saved is None:
            return ()
        if self._unpack is not None:
            unpack = self._unpack
            return tuple(None if p is None else unpack(p) for p in saved)
        versions = self._saved_versions
        if versions is not None:
            for i, (t, v) in enumerate(zip(saved, versions)):
                if t is not None and v is not None and t._version[0] != v:
                    raise RuntimeError(_modified_msg(t, v, self if i == self._saved_out_idx
                                                    else t.grad_fn))
        return saved

    def _release(self) -> None:
        if self._saved is not None:
            self._saved = None
            self._released = True

    def register_hook(self, fn):
        if self._node_hooks is None:
            self._node_hooks = []
        self._node_hooks.append(fn)
        return _RemovableHandle(self._node_hooks, fn)

    def register_prehook(self, fn):
        if self._node_pre_hooks is None:
            self._node_pre_hooks = []
        self._node_pre_hooks.append(fn)
        return _RemovableHandle(self._node_pre_hooks, fn)

    def _add_tensor_hook(self, output_nr: int, fn):
        if self._pre_hooks is None:
            self._pre_hooks = {}
        lst = self._pre_hooks.setdefault(output_nr, [])
        lst.append(fn)
        return _RemovableHandle(lst, fn)

    def apply_backward(self, grads: tuple) -> tuple:
        """Input gradients for the output gradients ``grads`` (a tuple, one per output)."""
        out = self.backward(*grads)
        if type(out) is not tuple:
            out = (out,)
        return out


# Active (pack, unpack) pairs of autograd.graph.saved_tensors_hooks, innermost last.
SAVED_TENSORS_HOOKS: list = []


def pack_saved(node) -> None:
    """Replace a node's saved tensors by ``pack(t)``; ``saved_tensors`` will ``unpack`` them.
    The hooks own the values from here on, so no version check applies (as in torch)."""
    pack, unpack = SAVED_TENSORS_HOOKS[-1]
    node._saved = tuple(None if t is None else pack(t) for t in node._saved)
    node._saved_versions = None
    node._unpack = unpack


def _modified_msg(t, expected, fn) -> str:
    """torch's error for a saved tensor changed in place. It names the op that made the value:
    the saving op for a saved output (``Exp``), else the tensor's current producer (``Add``
    for an input last written by add_), nothing for a leaf."""
    made_by = ""
    if fn is not None:
        op = fn._backward_name
        for suffix in ("Backward0", "Backward1", "Backward"):
            if op.endswith(suffix):
                op = op[:-len(suffix)]
                break
        made_by = f", which is output {t._output_nr} of {op},"
    return ("one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{t._type_name()} {list(t.shape)}]{made_by} is at version "
            f"{t._version[0]}; expected version {expected} instead. Hint: enable anomaly "
            "detection to find the operation that failed to compute its gradient, with "
            "torch.autograd.set_detect_anomaly(True, check_nan=False).")


class _RemovableHandle:
    __slots__ = ("_lst", "_fn")

    def __init__(self, lst, fn):
        self._lst = lst
        self._fn = fn

    def remove(self) -> None:
        try:
            self._lst.remove(self._fn)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.remove()


class AccumulateGrad(Node):
    """The node that ends every path at a leaf tensor: it adds the gradient into ``.grad``."""

    _backward_name = "AccumulateGrad"

    def __init__(self, tensor):
        self.variable = tensor
        self.next_edges = ()


def _edge(t):
    fn = t.grad_fn
    if fn is not None:
        if t._base is not None and t._view_version != t._version[0]:
            fn = _refresh_view(t)
        return (fn, t._output_nr)
    if t._rg:
        acc = t._accum
        if acc is None:
            acc = t._accum = AccumulateGrad(t)
        return (acc, 0)
    return None


def _refresh_view(t):
    """Re-derive a view's grad_fn from its base after an in-place op changed the base.

    torch regenerates a view's history when the shared version counter moved since the view's
    grad_fn was made; without it, ``c = b[0]; b.mul_(2); c.sum().backward()`` would skip the
    mul_ in the gradient.
    """
    prev = GRAD_MODE.enabled
    GRAD_MODE.enabled = True  # also inside backward(), which runs with grad mode off
    try:
        fresh = t._base
        for cls, rest, kw in t._view_chain:
            fresh = cls.apply(fresh, *rest, **kw)
    finally:
        GRAD_MODE.enabled = prev
    t._view_version = t._version[0]
    if fresh.grad_fn is None:
        return t.grad_fn
    t.grad_fn = fresh.grad_fn
    t._output_nr = fresh._output_nr
    return t.grad_fn


def broadcast_error(shapes) -> RuntimeError:
    """torch's error for shapes that do not broadcast, naming both offending shapes."""
    shapes = [tuple(s) for s in shapes]
    n = max((len(s) for s in shapes), default=0)
    # torch checks from the last dim backwards and reports the first conflict it meets.
    for d in range(n - 1, -1, -1):
        seen = None
        for s in shapes:
            k = d - (n - len(s))
            if k < 0 or s[k] == 1:
                continue
            if seen is None:
                seen = s
            elif s[k] != seen[d - (n - len(seen))]:
                return RuntimeError(
                    f"The size of tensor a ({seen[d - (n - len(seen))]}) must match the size of "
                    f"tensor b ({s[k]}) at non-singleton dimension {d} (shapes {list(seen)} and "
                    f"{list(s)})")
    return RuntimeError(f"shapes {[list(s) for s in shapes]} cannot be broadcast together")


def _device_error(a, b):
    return RuntimeError("Expected all tensors to be on the same device, but found at least two "
                        f"devices, {a} and {b}!")


class Primitive(Node):
    """Base class of every registered primitive op (see module docstring)."""

    op_name = "primitive"
    xp = np
    # Output dtype chosen by forward (None: read it off the result array).
    out_dtype = None
    # View ops: the output shares memory and the version counter with its input.
    is_view = False
    # CuPy has no bfloat16 kernel for this op (sorting, atomics, products, einsum): its native
    # bfloat16 inputs are widened to float32 and the float32 result is rounded back.
    upcast_bf16 = False

    def forward(self, *args):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, *grads):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        # The hot path of every op: kept flat (no helper calls) since a 10-element op must cost
        # little more than NumPy's own call.
        if AUTOCAST is not None:
            args = AUTOCAST(cls, args, kwargs)
        if TRACER is not None:
            return TRACER.record(cls, args, kwargs)
        if PROFILER is not None:
            return PROFILER.record(cls, args, kwargs)
        ctx = object.__new__(cls)
        T = Tensor
        arrays = []
        need_grad = False
        dev = None
        low_prec = None
        for a in args:
            if isinstance(a, T):
                arrays.append(a._data)
                if a._rg:
                    need_grad = True
                d = a._device
                if dev is None:
                    dev = d
                elif d is not dev:
                    raise _device_error(dev, d)
                if a._dtype is _BF16:
                    low_prec = _BF16
            else:
                arrays.append(a)
        if dev is not None and dev.type != "cpu":
            ctx.xp = _get_xp(dev)
            if low_prec is not None and cls.upcast_bf16:
                arrays = _upcast_bf16(arrays)
        try:
            out = ctx.forward(*arrays, **kwargs)
        except ValueError as e:
            # NumPy reports a broadcasting failure as ValueError; torch raises RuntimeError.
            if "broadcast" not in str(e):
                raise
            raise broadcast_error([getattr(x, "shape", ()) for x in arrays]) from None
        if need_grad:
            need_grad = GRAD_MODE.enabled
        if type(out) is tuple:
            outs = tuple(_wrap(ctx, o, dev, low_prec) for o in out)
            ctx._n_outputs = len(outs)
            if need_grad:
                ctx.next_edges = tuple([_edge(a) if isinstance(a, T) else None for a in args])
                for i, o in enumerate(outs):
                    if o._dtype.category >= 2 and i not in ctx._non_diff_outputs():
                        o._rg = True
                        o.grad_fn = ctx
                        o._output_nr = i
                _resolve_saved(ctx, args, arrays, outs)
            return outs
        # Inline of _wrap for the single-output case.
        if type(out) is not _NDARRAY:
            if not isinstance(out, ctx.xp.ndarray):
                out = ctx.xp.asarray(out)
        d = ctx.out_dtype
        if d is None:
            d = _BY_NP.get(out.dtype)
            if d is None:
                d = _dt.from_numpy_dtype(out.dtype)
            if low_prec is not None and d is _F32:
                d = low_prec
        elif out.dtype != d.np and d is not _BF16:
            out = out.astype(d.np)
        if d is _BF16 and not ctx.is_view:
            # A view of a bfloat16 tensor holds rounded values already; rounding would copy.
            out = _dt.round_bf16(out)
        res = make_tensor(out, d, dev)
        # A "view" op may still have copied (reshape of a non-contiguous array returns a view
        # of a fresh copy): only memory shared with the input makes the result a view.
        if ctx.is_view and out.base is not None and ctx.xp.may_share_memory(out, arrays[0]):
            base = args[0]
            res._base = base._base if base._base is not None else base
            res._version = base._version
            # How to remake this view from its base: lets an in-place op on the view
            # rewrite the base's history (torch's CopySlices).
            step = (cls, args[1:], kwargs)
            chain = base._view_chain
            res._view_chain = chain + (step,) if chain else (step,)
            res._view_version = base._version[0]
        if need_grad and d.category >= 2:
            ctx.next_edges = tuple([_edge(a) if isinstance(a, T) else None for a in args])
            res._rg = True
            res.grad_fn = ctx
            if ctx._saved is not None:
                _resolve_saved(ctx, args, arrays, (res,))
        return res

    def _non_diff_outputs(self):
        return ()

    @property
    def needs_input_grad(self) -> tuple:
        return tuple(e is not None for e in self.next_edges)


def _upcast_bf16(arrays):
    return [a.astype(np.float32) if getattr(a, "dtype", None) is not None
            and _dt.is_bf16_array(a) else a for a in arrays]


def _wrap(ctx, arr, dev, low_prec):
    xp = ctx.xp
    if not isinstance(arr, xp.ndarray):
        arr = xp.asarray(arr)
    d = ctx.out_dtype
    if d is None:
        d = _dt.from_numpy_dtype(arr.dtype)
        if low_prec is not None and d is _dt.float32:
            d = low_prec
    elif arr.dtype != d.np and d is not _dt.bfloat16:
        arr = arr.astype(d.np)
    # A view of a bfloat16 tensor holds already-rounded values; rounding again would copy it
    # and cut it off from its base.
    if d is _dt.bfloat16 and not ctx.is_view:
        arr = _dt.round_bf16(arr)
    return make_tensor(arr, d, dev)


def _resolve_saved(ctx, args, arrays, outs):
    saved = ctx._saved
    if saved is None:
        return
    T = Tensor
    res = []
    versions = []
    for s in saved:
        if s is None or isinstance(s, T) or not hasattr(s, "dtype"):
            res.append(s)
            versions.append(s._version[0] if isinstance(s, T) else None)
            continue
        found = None
        for a, arr in zip(args, arrays):
            if arr is s and isinstance(a, T):
                found = a
                break
        if found is None:
            for o in outs:
                if o._data is s:
                    found = o
                    ctx._saved_out_idx = len(res)  # names this op in the modified-error
                    break
        if found is None:
            d = _dt.from_numpy_dtype(s.dtype)
            if d is _dt.float32 and outs[0]._dtype is _dt.bfloat16:
                # A bfloat16 op's float32 intermediate (say its output before rounding): keep
                # it bfloat16 so that gradients come out in bfloat16, as in torch.
                s, d = _dt.round_bf16(s), _dt.bfloat16
            found = make_tensor(s, d, outs[0]._device)
        res.append(found)
        versions.append(found._version[0])
    ctx._saved = tuple(res)
    ctx._saved_versions = tuple(versions)
    if SAVED_TENSORS_HOOKS:
        pack_saved(ctx)
