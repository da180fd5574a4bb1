"""ember.jit: trace a model into a graph of registry primitives, optimise it, save it, load it.

``trace(fn, example_inputs)`` runs ``fn`` once and records every primitive it calls; the result
is callable and replays the recorded graph (calling the same primitives, so results equal the
eager ones and gradients flow).

``script(fn)`` is ember's stand-in for ``torch.jit.script``. **It differs from TorchScript:**
ember cannot compile Python source, so a scripted object records a trace on its first call and
keeps one graph per *guard set*: the structure of the arguments, every input's shape, dtype and
device, non-tensor arguments, the ``training`` flags of the module tree, and the values of every
tensor that Python control flow read (``if x.sum() > 0``, ``x.item()``). The first four are
checked before a graph runs; the values are checked inside the graph where they were read. When
a guard fails, the call runs the Python code again and records a new graph. So data-dependent
loops and branches give eager results (at the cost of re-recording), but Python side effects
(printing, appending to lists) happen only while recording, and a loaded program, having no
Python code to re-record from, raises when its guards fail.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional

from ..autograd.grad_mode import no_grad
from ..tensor import Tensor, make_tensor
from . import _passes as passes
from ._ir import DataRef, Graph, GuardFailure, Node, Value
from ._serialize import load_program, save_program
from ._tracer import Tracer, TracerWarning
from ._tree import consts_of, flatten, unflatten

__all__ = ["trace", "script", "save", "load", "freeze", "optimize_for_inference",
           "TracerWarning", "ScriptModule", "ScriptFunction", "TracedModule", "Graph",
           "GuardFailure", "passes", "is_tracing"]


def is_tracing() -> bool:
    """Whether a trace is being recorded (``torch.jit.is_tracing``)."""
    from ..ops import registry as _reg
    return _reg.TRACER is not None


def is_scripting() -> bool:
    return False


def _module_cls():
    try:
        from ..nn.modules.module import Module
        return Module
    except ImportError:  # pragma: no cover
        return None


def _is_module(obj) -> bool:
    M = _module_cls()
    return M is not None and isinstance(obj, M)


def _param_names(module) -> dict:
    names = {}
    if module is None:
        return names
    for name, p in module.named_parameters():
        names.setdefault(id(p), name)
    for name, b in module.named_buffers():
        if b is not None:
            names.setdefault(id(b), name)
    return names


def _live_params(module) -> dict:
    if module is None:
        return {}
    out = dict(module.named_parameters())
    out.update({k: v for k, v in module.named_buffers() if v is not None})
    return out


def record(fn: Callable, args: tuple, module=None, keep_guards: bool = True) -> Graph:
    """Run ``fn(*args)`` once and return the graph of primitives it called."""
    leaves, in_spec = flatten(tuple(args))
    g = Graph()
    tracer = Tracer(g, _param_names(module))
    if module is not None:
        for t in _live_params(module).values():
            tracer.param_data[id(t._data)] = t
    aliases = []
    for i, t in enumerate(leaves):
        a = make_tensor(t._data, t._dtype, t._device)
        v = g.add_input(t.shape, t.dtype, name=f"x{i}")
        tracer.bind(a, v)
        aliases.append(a)
    rebuilt = unflatten(aliases, in_spec)
    with no_grad(), tracer:
        out = fn(*rebuilt)
    out_leaves, out_spec = flatten(out)
    g.outputs = [tracer.lookup(t) for t in out_leaves]
    g.in_spec = in_spec
    g.out_spec = out_spec
    if not keep_guards:
        g.nodes = [n for n in g.nodes if n.op != "_guard"]
    # Drop what only fed values that nothing reads (e.g. shape arithmetic left unused).
    passes.dce(g)
    return g


def _as_tuple(example_inputs) -> tuple:
    if isinstance(example_inputs, Tensor):
        return (example_inputs,)
    if isinstance(example_inputs, list):
        return tuple(example_inputs)
    return tuple(example_inputs)


def _code(graph: Graph, name: str = "forward") -> str:
    """Python-like text of a graph (``.code``)."""
    from ._ir import _fmt_literal
    ins = ", ".join(["self"] + [v.name for v in graph.inputs])
    lines = [f"def {name}({ins}):"]
    names = {v.id: v.name for v in graph.inputs}
    for name_, v in graph.params.items():
        names[v.id] = f"self.{name_}"
    for c in graph.consts:
        names[c.id] = f"CONSTANTS.{c.name}"

    def ref(a):
        if isinstance(a, Value):
            return names.get(a.id, f"_{a.id}")
        if isinstance(a, DataRef):
            return ref(a.value) + ".data"
        if isinstance(a, (tuple, list)) and any(isinstance(x, (Value, DataRef)) for x in a):
            return "(" + ", ".join(ref(x) for x in a) + ")"
        return _fmt_literal(a)

    for n in graph.nodes:
        args = [ref(a) for a in n.args] + [f"{k}={ref(v)}" for k, v in n.kwargs.items()]
        call = f"ember.ops.{n.op}({', '.join(args)})"
        if n.op == "_guard":
            lines.append(f"  _guard({ref(n.args[0])} == {n.kwargs['value']!r})")
            continue
        outs = ", ".join(f"_{o.id}" for o in n.outputs)
        lines.append(f"  {outs} = {call}")
    outs = ", ".join(ref(v) for v in graph.outputs)
    lines.append(f"  return ({outs})")
    return "\n".join(lines)


class _Program:
    """What every jit object shares: run a graph on live parameters, print it, save it."""

    _graph: Optional[Graph] = None
    _module = None
    _params: Optional[dict] = None

    def _param_tensors(self) -> dict:
        if self._params is None:
            # Resolved once, like a torch traced module that holds its module's Parameters;
            # in-place updates (optimizer steps, load_state_dict) are seen through them.
            self._params = _live_params(self._module)
        return self._params

    def _run(self, graph: Graph, leaves: list, check_guards: bool = True):
        out = graph.run(leaves, self._param_tensors(), check_guards)
        return unflatten(out, graph.out_spec)

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            raise RuntimeError("ember.jit.script records its graph on the first call (ember "
                               "cannot compile Python source); call the scripted object once "
                               "before reading .graph")
        return self._graph

    @property
    def inlined_graph(self) -> Graph:
        return self.graph

    @property
    def code(self) -> str:
        return _code(self.graph)

    def save(self, f) -> None:
        save(self, f)

    # nn.Module-like access to the weights the graph reads.
    def named_parameters(self, prefix: str = "", recurse: bool = True):
        for k, v in self._param_tensors().items():
            if getattr(v, "requires_grad", False) or k in self._param_names():
                yield prefix + k, v

    def _param_names(self) -> set:
        if self._module is not None:
            return {k for k, _ in self._module.named_parameters()}
        return {k for k, v in self._graph.params.items() if v.requires_grad}

    def parameters(self, recurse: bool = True):
        for _, v in self.named_parameters():
            yield v

    def state_dict(self) -> dict:
        if self._module is not None:
            return self._module.state_dict()
        return {k: v.detach() for k, v in self._param_tensors().items()}

    def eval(self):
        if self._module is not None:
            self._module.eval()
        return self

    def train(self, mode: bool = True):
        if self._module is not None:
            self._module.train(mode)
        return self


class TracedModule(_Program):
    """The result of :func:`trace`: replays the recorded graph.

    Args:
        graph: the recorded :class:`Graph`.
        module: the traced Module (its live parameters are the graph's params), or None.
        fn: the traced callable, for ``repr``.

    Shape:
        Inputs and outputs nest as in the example call; the graph was recorded for the example
        shapes, and shape-dependent Python logic is frozen as it ran (as in torch.jit.trace).

    Example:
        >>> traced = ember.jit.trace(model, ember.randn(2, 784))
        >>> y = traced(ember.randn(5, 784))
    """

    def __init__(self, graph: Graph, module=None, fn=None):
        self._graph = graph
        self._module = module
        self._fn = fn
        self.training = bool(getattr(module, "training", False))

    def __call__(self, *args):
        leaves, spec = flatten(tuple(args))
        if len(leaves) != len(self._graph.inputs):
            raise RuntimeError(f"traced function expects {len(self._graph.inputs)} tensor "
                               f"inputs, got {len(leaves)}")
        return self._run(self._graph, leaves, check_guards=False)

    forward = __call__

    def __repr__(self) -> str:
        inner = type(self._module).__name__ if self._module is not None else \
            getattr(self._fn, "__name__", "function")
        return f"TracedModule[{inner}]"


class ScriptModule(_Program):
    """The result of :func:`script` (records on first call; see the module docstring) or of
    :func:`load` (a saved graph with its weights, no Python code).

    Args:
        fn: the Module or function to record, or None for a loaded program.
        graph / params: the loaded graph and its weights (name -> Tensor).

    Shape:
        Any input shapes; one graph is kept per guard set and re-recorded when guards fail.

    Example:
        >>> scripted = ember.jit.script(net)
        >>> y = scripted(x)          # records, then runs the graph
        >>> scripted.save("net.pt"); net2 = ember.jit.load("net.pt")
    """

    def __init__(self, fn=None, graph: Optional[Graph] = None, params: Optional[dict] = None):
        self._fn = fn
        self._module = fn if _is_module(fn) else None
        self._cache: dict = {}
        self._params = params
        self._graph = graph
        self.n_records = 0
        if graph is not None:
            self._cache[None] = [graph]

    @property
    def training(self) -> bool:
        return bool(getattr(self._module, "training", False))

    def _guard_key(self, leaves, spec):
        shapes = tuple((tuple(t.shape), t._dtype.name, str(t._device)) for t in leaves)
        consts = tuple(repr(c) for c in consts_of(spec))
        modes = ()
        if self._module is not None:
            modes = tuple(m.training for m in self._module.modules())
        return (repr(spec), shapes, consts, modes)

    @property
    def graphs(self) -> list:
        """Every recorded graph (one per guard set seen so far)."""
        return [g for gs in self._cache.values() for g in gs]

    def __call__(self, *args):
        leaves, spec = flatten(tuple(args))
        if self._fn is None:
            return self._call_loaded(leaves)
        key = self._guard_key(leaves, spec)
        for g in self._cache.get(key, ()):
            try:
                out = self._run(g, leaves)
            except GuardFailure:
                continue
            self._graph = g
            return out
        g = record(self._fn, tuple(args), self._module, keep_guards=True)
        self.n_records += 1
        self._cache.setdefault(key, []).append(g)
        self._graph = g
        # The recording ran without a graph; run the recorded graph for a result that carries
        # gradients exactly like later calls.
        return self._run(g, leaves)

    forward = __call__

    def _call_loaded(self, leaves):
        g = self._graph
        if len(leaves) != len(g.inputs):
            raise RuntimeError(f"the loaded program expects {len(g.inputs)} tensor inputs, got "
                               f"{len(leaves)}")
        try:
            return self._run(g, leaves)
        except GuardFailure as e:
            raise RuntimeError("ember.jit: a data-dependent branch recorded in this program "
                               f"went the other way ({e}); a loaded program has no Python code "
                               "to record the new branch from") from None

    def __repr__(self) -> str:
        name = type(self._fn).__name__ if self._module is not None else \
            getattr(self._fn, "__name__", "loaded")
        return f"ScriptModule[{name}]"


ScriptFunction = ScriptModule
RecursiveScriptModule = ScriptModule


def trace(func, example_inputs=None, optimize: Any = None, check_trace: bool = True,
          check_inputs=None, check_tolerance: float = 1e-5, strict: bool = True,
          _force_outplace: bool = False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs: bool = True) -> TracedModule:
    """Record the primitives ``func(*example_inputs)`` calls (``torch.jit.trace``).

    Args:
        func: a Module or a function of Tensors.
        example_inputs: a Tensor or a tuple of arguments.
        check_trace: run the graph on the example inputs and warn (TracerWarning) when it does
            not reproduce the eager output.

    Returns:
        A callable :class:`TracedModule` with ``.graph`` and ``.code``.
    """
    if example_inputs is None and example_kwarg_inputs is None:
        raise TypeError("trace() missing required argument 'example_inputs'")
    args = _as_tuple(example_inputs)
    module = func if _is_module(func) else None
    g = _record_batch_dynamic(func, args, module)
    traced = TracedModule(g, module, func)
    if check_trace:
        _check(func, traced, args, check_tolerance)
    return traced


def _record_batch_dynamic(func, args, module) -> Graph:
    """Record with dim 0 of the inputs as a dynamic ``batch`` axis where the trace allows it.

    torch.jit.trace freezes the sizes Python code read; ember records once more with a batch one
    larger and turns the integers that follow the batch into symbols, so the traced program
    also runs other batch sizes. When that is not possible (the inputs disagree on dim 0, or
    something other than integers depends on it) the graph stays static, as torch's does.
    """
    from ._dynamic import NotDynamic, make_dynamic
    leaves, _ = flatten(tuple(args))
    sizes = {t.shape[0] for t in leaves if t.dim() > 0}
    if len(sizes) == 1 and all(t.dim() > 0 for t in leaves):
        axes = {(i, 0): "batch" for i in range(len(leaves))}
        try:
            return make_dynamic(record, func, args, module, axes, keep_guards=False)
        except NotDynamic:
            pass
        except Exception:  # the model rejects another batch size: keep the static trace
            pass
    return record(func, args, module, keep_guards=False)


def _check(func, traced, args, tol):
    import warnings

    import numpy as np
    with no_grad():
        want, _ = flatten(func(*args))
        got, _ = flatten(traced(*args))
    for i, (w, g) in enumerate(zip(want, got)):
        a, b = np.asarray(w.detach()._data), np.asarray(g.detach()._data)
        if a.shape != b.shape or not np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True):
            warnings.warn(f"Output nr {i + 1}. of the traced function does not match the "
                          "corresponding output of the Python function.", TracerWarning,
                          stacklevel=3)


def script(obj, optimize=None, _frames_up: int = 0, _rcb=None, example_inputs=None):
    """``torch.jit.script`` for ember: record on first call, one graph per guard set.

    Args:
        obj: a Module or a function of Tensors.

    Returns:
        A :class:`ScriptModule` (see the module docstring for how it differs from TorchScript).
    """
    if isinstance(obj, _Program):
        return obj
    return ScriptModule(obj)


def save(m, f, _extra_files=None) -> None:
    """Save a traced or scripted program (graph + weights) to a path or binary file."""
    if not isinstance(m, _Program):
        raise TypeError("ember.jit.save expects the result of ember.jit.trace/script, got "
                        f"{type(m).__name__}")
    g = m.graph
    params = m._param_tensors()
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            save_program(g, params, fh)
    else:
        save_program(g, params, f)


def load(f, map_location=None, _extra_files=None) -> ScriptModule:
    """Load a program written by :func:`save`; it runs without the model's Python code."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            g, params, _ = load_program(fh)
    else:
        g, params, _ = load_program(f)
    return ScriptModule(None, g, params)


def freeze(mod, preserved_attrs=None, optimize_numerics: bool = True):
    """Fold constants, merge common subexpressions and drop dead code (in place)."""
    passes.optimize(mod.graph)
    return mod


def optimize_for_inference(mod, other_methods=None):
    return freeze(mod)
