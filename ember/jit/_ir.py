"""The graph IR of ember.jit: typed values, nodes that name registry primitives, and execution.

A :class:`Graph` is a straight-line program. Every :class:`Value` has a kind:

- ``input``: a positional input of the traced function (flattened from nested args),
- ``param``: a parameter or buffer of the traced module, named by its ``state_dict`` key,
- ``const``: a tensor the traced code created or captured (its data is kept in the graph),
- ``node``: an output of a :class:`Node`.

A node stores its positional arguments and keyword arguments as they were given to
``Primitive.apply``, with every Tensor argument replaced by the :class:`Value` it stands for (a
raw array nested inside an argument, such as an index array that came from a traced tensor, is a
:class:`DataRef`). Executing a node calls ``REGISTRY[op].apply`` with the Tensors bound to those
values, so a graph gives the eager result and stays differentiable.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from ..backend import dtypes as _dt
from ..ops.registry import REGISTRY


class _FullOp:
    """Pseudo-op ``_full``: a tensor filled with one value whose shape follows a dynamic axis.

    A trace sees ``torch.zeros(n_layers, x.size(0), hidden)`` (an LSTM's default state) only as
    a constant; when its shape changes with a dynamic axis, :mod:`ember.jit._dynamic` turns the
    constant into this node so that it is rebuilt for each input size.
    """

    @staticmethod
    def apply(shape, value, dtype, device="cpu"):
        from ..creation import full
        return full(tuple(shape), value, dtype=dtype, device=device)


class _ToDeviceOp:
    """Pseudo-op ``_to_device``: ``Tensor.to(device)`` (a copy between devices, not a registry
    primitive); the graph replays it through ``Tensor.to``, so gradients flow back across."""

    @staticmethod
    def apply(t, device):
        return t.to(device)


# Graph ops that are not registry primitives, but that the executor knows how to run.
PSEUDO_OPS = {"_full": _FullOp, "_to_device": _ToDeviceOp}


class GuardFailure(Exception):
    """Raised while running a graph when a recorded data-dependent branch would go the other way."""


class Value:
    """One SSA value of a graph: shape, dtype and where it comes from.

    Args:
        vid: the value's number (unique in its graph).
        kind: ``"input"``, ``"param"``, ``"const"`` or ``"node"``.
        shape: the shape seen when recording.
        dtype: the ember dtype.
        name: the ``state_dict`` key of a param, or a readable name.
    """

    __slots__ = ("id", "kind", "shape", "dtype", "name", "data", "node", "index",
                 "requires_grad")

    def __init__(self, vid: int, kind: str, shape: tuple, dtype, name: str = "",
                 data=None, node=None, index: int = 0, requires_grad: bool = False):
        self.id = vid
        self.kind = kind
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self.data = data            # a Tensor for const values
        self.node = node            # producing Node for node values
        self.index = index          # output position in its node
        self.requires_grad = requires_grad

    def ref(self) -> str:
        if self.kind == "param":
            return f"%{self.name}"
        return f"%{self.id}"

    def type_str(self) -> str:
        dt = self.dtype.name if self.dtype is not None else "?"
        return f"{dt}[{', '.join(str(s) for s in self.shape)}]"

    def __repr__(self) -> str:
        return f"Value({self.ref()} : {self.type_str()})"


class SymInt:
    """An integer attribute that follows a dynamic dimension: ``a * <sym> + b``.

    ``sym`` names a dynamic axis of the inputs (``graph.sym_sources[sym] = (input, dim)``);
    ``value`` is what it was when recording.
    """

    __slots__ = ("sym", "a", "b", "value")

    def __init__(self, sym: str, a: int, b: int, value: int):
        self.sym = sym
        self.a = a
        self.b = b
        self.value = value

    def eval(self, syms: dict) -> int:
        return self.a * syms[self.sym] + self.b

    def __repr__(self) -> str:
        a = "" if self.a == 1 else f"{self.a}*"
        b = "" if self.b == 0 else f"{self.b:+d}"
        return f"{a}{self.sym}{b}"


class DataRef:
    """A raw array nested in a node argument that is the data of a graph value."""

    __slots__ = ("value",)

    def __init__(self, value: Value):
        self.value = value

    def __repr__(self) -> str:
        return f"data({self.value.ref()})"


class Node:
    """One call of a primitive (``op`` is its registry name).

    ``args``/``kwargs`` hold literals and :class:`Value` objects; ``outputs`` are the values it
    defines; ``multi`` says whether the primitive returned a tuple.
    """

    __slots__ = ("op", "args", "kwargs", "outputs", "multi", "fn")

    def __init__(self, op: str, args: tuple, kwargs: dict, outputs: list, multi: bool,
                 fn=None):
        self.op = op
        self.args = tuple(args)
        self.kwargs = dict(kwargs)
        self.outputs = list(outputs)
        self.multi = multi
        self.fn = fn    # a custom autograd.Function class (op == "autograd_function")

    def input_values(self) -> list:
        out = []
        _collect_values(self.args, out)
        _collect_values(tuple(self.kwargs.values()), out)
        return out

    def attributes(self) -> dict:
        """The non-tensor arguments: positional ones as ``arg<i>``, then the keyword ones."""
        attrs = {}
        for i, a in enumerate(self.args):
            if not isinstance(a, Value):
                attrs[f"arg{i}"] = a
        attrs.update(self.kwargs)
        return attrs

    def __repr__(self) -> str:
        return f"Node({self.op})"


def _collect_values(obj, out: list) -> None:
    if isinstance(obj, Value):
        out.append(obj)
    elif isinstance(obj, DataRef):
        out.append(obj.value)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _collect_values(o, out)
    elif isinstance(obj, slice):
        _collect_values((obj.start, obj.stop, obj.step), out)
    elif isinstance(obj, dict):
        _collect_values(tuple(obj.values()), out)


def _has_nested_refs(obj) -> bool:
    if isinstance(obj, (Value, DataRef, SymInt)):
        return True
    if isinstance(obj, (tuple, list)):
        return any(_has_nested_refs(o) for o in obj)
    if isinstance(obj, slice):
        return _has_nested_refs((obj.start, obj.stop, obj.step))
    if isinstance(obj, dict):
        return any(_has_nested_refs(o) for o in obj.values())
    return False


def _materialize(obj, env: dict):
    """Replace Values by their Tensors and DataRefs by their arrays, keeping structure."""
    if isinstance(obj, Value):
        return env[obj.id]
    if isinstance(obj, DataRef):
        return env[obj.value.id]._data
    if isinstance(obj, SymInt):
        return obj.eval(env["syms"])
    if isinstance(obj, slice):
        return slice(_materialize(obj.start, env), _materialize(obj.stop, env),
                     _materialize(obj.step, env))
    if type(obj) is tuple:
        return tuple(_materialize(o, env) for o in obj)
    if type(obj) is list:
        return [_materialize(o, env) for o in obj]
    if isinstance(obj, dict):
        return {k: _materialize(v, env) for k, v in obj.items()}
    return obj


def _fmt_literal(a) -> str:
    if isinstance(a, (Value, SymInt, DataRef)):
        return a.ref() if isinstance(a, Value) else repr(a)
    if isinstance(a, np.ndarray):
        if a.size <= 6:
            return f"array({a.tolist()})"
        return f"array<{a.dtype}{list(a.shape)}>"
    if isinstance(a, slice):
        parts = ["" if v is None else _fmt_literal(v) for v in (a.start, a.stop, a.step)]
        s = f"{parts[0]}:{parts[1]}"
        return s + (f":{parts[2]}" if a.step is not None else "")
    if a is Ellipsis:
        return "..."
    if isinstance(a, tuple):
        inner = ", ".join(_fmt_literal(x) for x in a)
        return f"({inner},)" if len(a) == 1 else f"({inner})"
    if isinstance(a, list):
        return "[" + ", ".join(_fmt_literal(x) for x in a) + "]"
    if isinstance(a, float) and not math.isfinite(a):
        return repr(a)
    if isinstance(a, type):
        return a.__name__
    return repr(a)


class Graph:
    """A straight-line program of primitive calls.

    Attributes:
        inputs: the input values, in flattened argument order.
        outputs: the output values, in flattened output order.
        nodes: the nodes in execution order.
        params: ``{name: Value}`` for parameters and buffers.
        in_spec / out_spec: how the flat inputs/outputs nest (see ``ember.jit._tree``).

    Example:
        >>> g = ember.jit.trace(lambda x: (x * 2).relu(), ember.randn(3)).graph
        >>> print(g)   # doctest: +SKIP
    """

    def __init__(self):
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.nodes: list[Node] = []
        self.params: dict[str, Value] = {}
        self.consts: list[Value] = []
        self.in_spec = None
        self.out_spec = None
        # Dynamic axes: {symbol: (input index, dim)}; SymInt attributes read them at run time.
        self.sym_sources: dict = {}
        self._next_id = 0
        self._plan = None
        self._raw_plan = None
        self._raw_bad = None
        self._frees = None

    # ---------------------------------------------------------------- building
    def new_value(self, kind: str, shape, dtype, **kw) -> Value:
        v = Value(self._next_id, kind, shape, dtype, **kw)
        self._next_id += 1
        return v

    def add_input(self, shape, dtype, name: str = "") -> Value:
        v = self.new_value("input", shape, dtype, name=name or f"input{len(self.inputs)}")
        self.inputs.append(v)
        return v

    def add_param(self, name: str, tensor) -> Value:
        v = self.new_value("param", tensor.shape, tensor.dtype, name=name,
                           requires_grad=tensor.requires_grad)
        self.params[name] = v
        return v

    def add_const(self, tensor) -> Value:
        v = self.new_value("const", tensor.shape, tensor.dtype, data=tensor,
                           name=f"c{len(self.consts)}")
        self.consts.append(v)
        return v

    def add_node(self, node: Node) -> Node:
        self.nodes.append(node)
        self.invalidate()
        return node

    def invalidate(self) -> None:
        self._plan = None
        self._raw_plan = None
        self._raw_bad = None

    # ---------------------------------------------------------------- printing
    def __str__(self) -> str:
        lines = []
        ins = ", ".join(f"{v.ref()} : {v.type_str()}" for v in self.inputs)
        ps = ", ".join(f"{v.ref()} : {v.type_str()}" for v in self.params.values())
        head = ins + (", " + ps if ps and ins else ps)
        lines.append(f"graph({head}):")
        for c in self.consts:
            if self.is_used(c):
                body = _fmt_literal(c.data._data)
                lines.append(f"  {c.ref()} : {c.type_str()} = constant[{body}]")
        for n in self.nodes:
            outs = ", ".join(f"{o.ref()} : {o.type_str()}" for o in n.outputs)
            args = [_fmt_literal(a) for a in n.args]
            args += [f"{k}={_fmt_literal(v)}" for k, v in n.kwargs.items()]
            op = n.op if n.fn is None else f"{n.op}[{n.fn.__name__}]"
            lhs = f"{outs} = " if outs else ""
            lines.append(f"  {lhs}ember::{op}({', '.join(args)})")
        lines.append(f"  return ({', '.join(v.ref() for v in self.outputs)})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def is_used(self, v: Value) -> bool:
        if v in self.outputs:
            return True
        return any(u is v for n in self.nodes for u in n.input_values())

    # ---------------------------------------------------------------- running
    def _compile(self):
        """Per node: the primitive class, a fast argument plan, and the output value ids."""
        plan = []
        for n in self.nodes:
            cls = n.fn if n.fn is not None else (REGISTRY.get(n.op) or PSEUDO_OPS.get(n.op))
            if cls is None and n.op != "_guard":
                raise RuntimeError(f"ember.jit: unknown primitive {n.op!r} in graph")
            nested = _has_nested_refs(tuple(a for a in n.args if not isinstance(a, Value))) or \
                _has_nested_refs(n.kwargs)
            spec = tuple((True, a.id) if isinstance(a, Value) else (False, a) for a in n.args)
            plan.append((n, cls, spec, nested, tuple(o.id for o in n.outputs)))
        self._plan = plan
        self._frees = self._last_uses()
        return plan

    def _last_uses(self) -> list:
        """Per node, the node-made values that nothing reads after it (graph outputs aside).

        The executors drop those from their environment right away, as eager code drops a
        temporary: holding every intermediate until the end keeps a model's whole activation
        footprint alive, and the fresh pages cost page faults (a batch-64 CNN ran 1.5x slower).
        """
        keep = {v.id for v in self.outputs}
        last = {}
        for i, n in enumerate(self.nodes):
            for o in n.outputs:
                last[o.id] = i
            for v in n.input_values():
                if v.kind == "node":
                    last[v.id] = i
        frees = [[] for _ in self.nodes]
        for vid, i in last.items():
            if vid not in keep:
                frees[i].append(vid)
        return [tuple(f) for f in frees]

    def _compile_raw(self):
        """The plan of :meth:`_run_raw`: per node, how to call ``forward`` on raw arrays.

        Each entry is ``(node, cls, mode, spec, kwargs, out_ids, out_np_dtypes)``; ``mode`` is
        ``"fwd"`` (call ``cls.forward`` on arrays, ``spec`` as in :meth:`_compile`),
        ``"nested"`` (arguments hold values inside tuples/slices or SymInts: materialize them
        like ``Primitive.apply`` would see them), ``"apply"`` (custom Functions and pseudo-ops:
        go through ``apply`` on Tensors) or ``"guard"``.
        """
        plan = []
        for n, cls, spec, nested, out_ids in (self._plan or self._compile()):
            if n.op == "_guard":
                mode = "guard"
            elif n.fn is not None or n.op in PSEUDO_OPS:
                mode = "apply"
            else:
                mode = "nested" if nested else "fwd"
            dts = tuple(o.dtype.np for o in n.outputs)
            plan.append((n, cls, mode, spec, n.kwargs, out_ids, dts, self._frees[len(plan)]))
        self._raw_plan = plan
        return plan

    def _raw_ok(self, flat_inputs: list, params: dict) -> bool:
        """Whether :meth:`_run_raw` gives what :meth:`run` would: nothing to differentiate
        (grad mode off, or no input or weight requires grad), CPU tensors, no bfloat16 (whose
        rounding ``Primitive.apply`` does), and no autocast or profiler hooks installed."""
        from ..ops import registry as _reg
        if _reg.AUTOCAST is not None or _reg.PROFILER is not None or _reg.TRACER is not None:
            return False
        bad = self._raw_bad
        if bad is None:
            vals = list(self.inputs) + list(self.params.values()) + list(self.consts)
            vals += [o for n in self.nodes for o in n.outputs]
            bad = self._raw_bad = [any(v.dtype is None or v.dtype.name == "bfloat16"
                                       for v in vals)]
        if bad[0]:
            return False
        grad = _reg.GRAD_MODE.enabled
        for t in flat_inputs:
            if (grad and t._rg) or t._device.type != "cpu":
                return False
        for name in self.params:
            t = params[name]
            if (grad and t._rg) or t._device.type != "cpu":
                return False
        return True

    def _run_raw(self, flat_inputs: list, params: dict, check_guards: bool) -> list:
        """Run the graph on NumPy arrays, calling each primitive's ``forward`` directly.

        With nothing to differentiate, ``Primitive.apply`` only wraps each result in a Tensor
        (dtype lookup, view bookkeeping) for the next op to unwrap; skipping that is what
        makes the traced program cheaper than eager code per op. Results equal ``run``'s.
        """
        from ..tensor import make_tensor
        env = {}
        for v, t in zip(self.inputs, flat_inputs):
            env[v.id] = t._data
        for name, v in self.params.items():
            env[v.id] = params[name]._data
        for c in self.consts:
            env[c.id] = c.data._data
        dev = flat_inputs[0]._device if flat_inputs else None
        if dev is None:
            from ..backend.device import cpu as dev
        if self.sym_sources:
            env["syms"] = {k: flat_inputs[i].shape[d] for k, (i, d) in self.sym_sources.items()}
        plan = self._raw_plan if self._raw_plan is not None else self._compile_raw()
        ndarray = np.ndarray
        new = object.__new__
        for n, cls, mode, spec, kwargs, out_ids, dts, frees in plan:
            if mode == "fwd":
                out = cls.forward(new(cls), *[env[a] if is_v else a for is_v, a in spec],
                                  **kwargs)
            elif mode == "nested":
                tenv = _TensorView(env, dev)
                args = [env[a] if is_v else _materialize(a, tenv) for is_v, a in spec]
                out = cls.forward(new(cls), *args, **_materialize(kwargs, tenv))
            elif mode == "guard":
                if check_guards:
                    _check_guard(n, _TensorView(env, dev))
                for i in frees:
                    del env[i]
                continue
            else:
                tenv = _TensorView(env, dev)
                res = cls.apply(*_materialize(n.args, tenv), **_materialize(kwargs, tenv))
                out = tuple(r._data for r in res) if n.multi else res._data
            if n.multi:
                for i, o, dt in zip(out_ids, out, dts):
                    if type(o) is not ndarray or o.dtype != dt:
                        o = np.asarray(o, dtype=dt)
                    env[i] = o
            else:
                dt = dts[0]
                if type(out) is not ndarray or out.dtype != dt:
                    out = np.asarray(out, dtype=dt)
                env[out_ids[0]] = out
            out = None
            for i in frees:
                del env[i]
        outs = []
        given = {v.id: t for v, t in zip(self.inputs, flat_inputs)}
        for v in self.outputs:
            t = given.get(v.id)
            if t is None and v.kind == "param":
                t = params[v.name]
            outs.append(t if t is not None else make_tensor(env[v.id], v.dtype, dev))
        return outs

    def run(self, flat_inputs: list, params: dict, check_guards: bool = True) -> list:
        """Execute the graph on a flat list of Tensors; ``params`` maps names to Tensors."""
        if self._raw_ok(flat_inputs, params):
            try:
                return self._run_raw(flat_inputs, params, check_guards)
            except ValueError:
                # NumPy's broadcasting errors: rerun through apply, which raises torch's
                # RuntimeError naming the shapes.
                pass
        env = {}
        for v, t in zip(self.inputs, flat_inputs):
            env[v.id] = t
        for name, v in self.params.items():
            env[v.id] = params[name]
        for c in self.consts:
            env[c.id] = c.data
        if self.sym_sources:
            env["syms"] = {k: flat_inputs[i].shape[d] for k, (i, d) in self.sym_sources.items()}
        plan = self._plan if self._plan is not None else self._compile()
        for (n, cls, spec, nested, out_ids), frees in zip(plan, self._frees):
            if n.op == "_guard":
                if check_guards:
                    _check_guard(n, env)
                for i in frees:
                    del env[i]
                continue
            if nested:
                args = _materialize(n.args, env)
                kwargs = _materialize(n.kwargs, env)
            else:
                args = [env[a] if is_v else a for is_v, a in spec]
                kwargs = n.kwargs
            out = cls.apply(*args, **kwargs)
            if n.multi:
                for i, o in zip(out_ids, out):
                    env[i] = o
            else:
                env[out_ids[0]] = out
            out = None
            for i in frees:
                del env[i]
        return [env[v.id] for v in self.outputs]


class _TensorView:
    """``env[value id]`` as Tensors over a raw-array environment (for ``_materialize``)."""

    __slots__ = ("env", "dev")

    def __init__(self, env: dict, dev):
        self.env = env
        self.dev = dev

    def __getitem__(self, key):
        arr = self.env[key]
        if key == "syms":
            return arr
        from ..tensor import make_tensor
        return make_tensor(arr, _dt.from_numpy_dtype(arr.dtype), self.dev)


def _check_guard(node: Node, env: dict) -> None:
    t = env[node.args[0].id]
    kind = node.kwargs["kind"]
    expected = node.kwargs["value"]
    arr = t._data
    if hasattr(arr, "get"):
        arr = _dt.host_array(arr)
    if kind == "bool":
        got = bool(np.asarray(arr).reshape(-1)[0])
    elif kind == "item":
        got = np.asarray(arr).reshape(-1)[0].item()
    else:
        got = np.asarray(arr).tolist()
    if got != expected and not (isinstance(got, float) and isinstance(expected, float) and
                                math.isnan(got) and math.isnan(expected)):
        raise GuardFailure(f"guard on {node.args[0].ref()}: recorded {expected!r}, got {got!r}")


def dtype_from_name(name: Optional[str]):
    return None if name is None else _dt._dtype_by_name(name)


def literal_ok(a: Any) -> bool:
    """Whether ``a`` can stand in a graph as a literal attribute."""
    return a is None or isinstance(a, (bool, int, float, str, complex, slice, tuple, list,
                                       np.ndarray, np.generic, _dt.dtype)) or a is Ellipsis
