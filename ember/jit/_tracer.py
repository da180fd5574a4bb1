"""The tracer: records every ``Primitive.apply`` call into a :class:`Graph` while a function runs.

``ember.ops.registry.TRACER`` is ``None`` except while a trace is being recorded; then
``Primitive.apply`` hands each call to :meth:`Tracer.record`, which runs the primitive (with the
hook switched off) and appends a node. Tensor values that Python code reads (``bool(t)``,
``t.item()``, ``t.tolist()``) are reported to :meth:`Tracer.read`: that raises a TracerWarning,
as torch does, and records a guard node so that a scripted function can notice when the branch
would be taken differently. In-place Tensor methods go through :meth:`Tracer.inplace`, which
rebinds the tensor to its new value; any other mutation of a traced tensor is caught by its
version counter and raises.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..backend import dtypes as _dt
from ..ops import registry as _reg
from ..tensor import Tensor
from ._ir import DataRef, Graph, Node, Value


class TracerWarning(Warning):
    """Warns that the trace may not generalise (Python read a tensor's value while tracing)."""


_INPLACE_MSG = ("ember.jit: a traced tensor ({}) was modified in place by an operation the "
                "tracer cannot see (fill_/zero_/copy_/setitem without a graph, or writes to "
                "its .data); use out-of-place operations in traced code")


class Tracer:
    """Records primitive calls into ``graph``; ``param_names`` maps ``id(tensor)`` to names."""

    def __init__(self, graph: Graph, param_names: dict):
        self.graph = graph
        self.param_names = param_names
        self.env: dict[int, tuple] = {}      # id(tensor) -> (tensor, value, version)
        self.by_data: dict[int, tuple] = {}  # id(array) -> (array, value)
        self.consts: dict[tuple, Value] = {}
        # Raw arrays of parameters/buffers passed to primitives (batch_norm's running stats).
        self.param_data: dict[int, Tensor] = {}
        self._prev = None
        self._prev_small = None

    # ---------------------------------------------------------------- activation
    def __enter__(self):
        from .. import _tensor_methods as tm
        self._prev = _reg.TRACER
        _reg.TRACER = self
        # The operators' no-graph fast path computes small ops without reaching
        # Primitive.apply; a size limit of 0 sends every op through it while tracing.
        self._prev_small = tm._SMALL
        tm._SMALL = 0
        return self

    def __exit__(self, *exc):
        from .. import _tensor_methods as tm
        _reg.TRACER = self._prev
        tm._SMALL = self._prev_small
        return False

    # ---------------------------------------------------------------- values
    def bind(self, t: Tensor, v: Value) -> None:
        self.env[id(t)] = (t, v, t._version[0])
        self.by_data[id(t._data)] = (t._data, v)

    def is_traced(self, t: Tensor) -> bool:
        return id(t) in self.env or id(t._data) in self.by_data

    def lookup(self, t: Tensor) -> Value:
        e = self.env.get(id(t))
        if e is not None and e[0] is t:
            if t._version[0] != e[2]:
                raise RuntimeError(_INPLACE_MSG.format(e[1].ref()))
            return e[1]
        d = self.by_data.get(id(t._data))
        if d is not None and d[0] is t._data:
            # An alias of a traced value (detach(), .data, a no-op .to()/contiguous()).
            return d[1]
        name = self.param_names.get(id(t))
        if name is not None:
            v = self.graph.params.get(name)
            if v is None:
                v = self.graph.add_param(name, t)
            self.env[id(t)] = (t, v, t._version[0])
            return v
        key = (id(t), t._version[0])
        c = self.consts.get(key)
        if c is not None and c.data is not None:
            return c
        from ..tensor import make_tensor
        snap = make_tensor(t._data.copy(), t._dtype, t._device)
        c = self.graph.add_const(snap)
        # Keep t alive so that its id is not reused by another tensor during the trace.
        self.consts[key] = c
        self.env.setdefault(("keep", id(t)), (t, c, -1))
        return c

    def _encode(self, a, top: bool):
        if isinstance(a, Tensor):
            return self.lookup(a)
        if isinstance(a, np.ndarray):
            d = self.by_data.get(id(a))
            if d is not None and d[0] is a:
                return DataRef(d[1])
            p = self.param_data.get(id(a))
            if p is not None and p._data is a:
                return DataRef(self.lookup(p))
            return a
        if type(a) is tuple:
            return tuple(self._encode(x, False) for x in a)
        if type(a) is list:
            return [self._encode(x, False) for x in a]
        if isinstance(a, slice):
            return slice(self._encode(a.start, False), self._encode(a.stop, False),
                         self._encode(a.step, False))
        return a

    # ---------------------------------------------------------------- hooks
    def record(self, cls, args, kwargs):
        """Called by ``Primitive.apply``: run the primitive and append a node for it."""
        op = getattr(cls, "op_name", None)
        if op is None or _reg.REGISTRY.get(op) is not cls:
            raise RuntimeError(f"ember.jit: primitive {cls.__name__} is not in the registry, so "
                               "it cannot be traced; register it with @register(name)")
        enc_args = tuple(self._encode(a, True) for a in args)
        enc_kwargs = {k: self._encode(v, False) for k, v in kwargs.items()}
        _reg.TRACER = None
        try:
            out = cls.apply(*args, **kwargs)
        finally:
            _reg.TRACER = self
        self._add(op, enc_args, enc_kwargs, out, None)
        return out

    def function(self, fn_cls, args, kwargs):
        """Called by ``autograd.Function.apply``: one node that calls the Function again."""
        enc_args = tuple(self._encode(a, True) for a in args)
        enc_kwargs = {k: self._encode(v, False) for k, v in kwargs.items()}
        _reg.TRACER = None
        try:
            out = fn_cls.apply(*args, **kwargs)
        finally:
            _reg.TRACER = self
        self._add("autograd_function", enc_args, enc_kwargs, out, fn_cls)
        return out

    def device_move(self, cls, t: Tensor, dev):
        """Called by ``Tensor.to(device)`` (``_ToDevice``, which is not a registry primitive):
        move ``t`` and record a ``_to_device`` node, which replays through ``Tensor.to``."""
        enc_args = (self._encode(t, True), str(dev))
        _reg.TRACER = None
        try:
            out = cls.apply(t, dev)
        finally:
            _reg.TRACER = self
        self._add("_to_device", enc_args, {}, out, None)
        return out

    def _add(self, op, enc_args, enc_kwargs, out, fn):
        g = self.graph
        multi = type(out) is tuple or (isinstance(out, tuple) and fn is not None)
        outs = tuple(out) if multi else (out,)
        vals = []
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                raise RuntimeError(f"ember.jit: {op} returned a {type(o).__name__}, not a Tensor")
            v = g.new_value("node", o.shape, o.dtype, index=i)
            vals.append(v)
        node = Node(op, enc_args, enc_kwargs, vals, multi, fn=fn)
        for v in vals:
            v.node = node
        g.add_node(node)
        for o, v in zip(outs, vals):
            self.bind(o, v)

    def read(self, t: Tensor, kind: str) -> None:
        """Python code reads the value of ``t`` (``bool``, ``item``, ``tolist``, ``numpy``)."""
        if not self.is_traced(t):
            return
        warnings.warn(
            "Converting a tensor to a Python value might cause the trace to be incorrect. We "
            "can't record the data flow of Python values, so this value will be treated as a "
            "constant in the future. This means that the trace might not generalize to other "
            "inputs!", TracerWarning, stacklevel=3)
        if kind == "numpy":
            return
        arr = t._data
        if hasattr(arr, "get"):
            arr = _dt.host_array(arr)
        arr = np.asarray(arr)
        if kind == "bool":
            value = bool(arr.reshape(-1)[0])
        elif kind == "item":
            value = arr.reshape(-1)[0].item()
        else:
            value = arr.tolist()
        v = self.lookup(t)
        self.graph.add_node(Node("_guard", (v,), {"kind": kind, "value": value}, [], False))

    def inplace(self, t: Tensor, fn, args) -> Tensor:
        """An in-place Tensor method while tracing: compute out of place, then rebind ``t``."""
        from .._tensor_methods import _check_cast, _write
        base = t._base
        if base is not None and (self.is_traced(base) or self.is_traced(t)):
            raise RuntimeError("ember.jit: in-place operation on a view of a traced tensor "
                               f"(shape {list(t.shape)}) cannot be traced; use out-of-place "
                               "operations (e.g. torch.where or cat) in traced code")
        res = _check_cast(t, fn(t, *args))
        _write(t, res._data)
        t._version[0] += 1
        if isinstance(res, Tensor) and self.is_traced(res):
            self.bind(t, self.lookup(res))
        return t
