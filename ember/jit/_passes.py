"""Graph passes: dead-code elimination, constant folding, common-subexpression elimination.

Each pass rewrites a :class:`Graph` in place and returns it; none changes what the graph
computes (the tests run every pass on the test models and compare against eager results).
"""
from __future__ import annotations

import numpy as np

from ..autograd.grad_mode import no_grad
from ..backend import dtypes as _dt
from ..ops.registry import REGISTRY
from ._ir import DataRef, Graph, SymInt, Value

# Ops that must run even when nothing reads their outputs: guards check data-dependent branches,
# batch_norm in training mode updates running statistics, custom Functions may do anything.
SIDE_EFFECTS = {"_guard", "autograd_function", "batch_norm"}
# (Pseudo-ops such as ``_full`` and ``_to_device`` are not registry primitives: never folded.)
# Ops whose result differs from call to call: never folded, never merged.
NONDETERMINISTIC = {"dropout", "multinomial", "bernoulli", "normal", "uniform", "rand", "randn",
                    "randint", "randperm"}


def _replace(obj, mapping: dict):
    if isinstance(obj, Value):
        return mapping.get(obj.id, obj)
    if isinstance(obj, DataRef):
        v = mapping.get(obj.value.id)
        return DataRef(v) if v is not None else obj
    if type(obj) is tuple:
        return tuple(_replace(o, mapping) for o in obj)
    if type(obj) is list:
        return [_replace(o, mapping) for o in obj]
    if isinstance(obj, slice):
        return slice(_replace(obj.start, mapping), _replace(obj.stop, mapping),
                     _replace(obj.step, mapping))
    if isinstance(obj, dict):
        return {k: _replace(v, mapping) for k, v in obj.items()}
    return obj


def replace_uses(graph: Graph, mapping: dict) -> None:
    """Make every use of value id ``k`` a use of ``mapping[k]`` (a Value)."""
    if not mapping:
        return
    for n in graph.nodes:
        n.args = _replace(n.args, mapping)
        n.kwargs = _replace(n.kwargs, mapping)
    graph.outputs = [mapping.get(v.id, v) for v in graph.outputs]
    graph.invalidate()


def dce(graph: Graph) -> Graph:
    """Drop nodes whose outputs nothing uses, and constants nothing reads."""
    live = {v.id for v in graph.outputs}
    kept = []
    for n in reversed(graph.nodes):
        if n.op in SIDE_EFFECTS or any(o.id in live for o in n.outputs):
            kept.append(n)
            for v in n.input_values():
                live.add(v.id)
    graph.nodes = kept[::-1]
    graph.consts = [c for c in graph.consts if c.id in live]
    graph.invalidate()
    return graph


def constant_fold(graph: Graph) -> Graph:
    """Evaluate nodes whose inputs are all constants, once, and make their outputs constants.

    Parameters and buffers are not constants here: they change when the model trains and carry
    gradients, so only values the traced code created (masks, aranges, ...) are folded.
    """
    consts = {c.id for c in graph.consts}
    env = {c.id: c.data for c in graph.consts}
    kept = []
    mapping = {}
    for n in graph.nodes:
        n.args = _replace(n.args, mapping)
        n.kwargs = _replace(n.kwargs, mapping)
        ins = n.input_values()
        foldable = (n.op in REGISTRY and n.op not in SIDE_EFFECTS and
                    n.op not in NONDETERMINISTIC and n.fn is None
                    and all(v.id in consts for v in ins) and not _has_sym((n.args, n.kwargs)))
        if not foldable:
            kept.append(n)
            continue
        from ._ir import _materialize
        cls = REGISTRY[n.op]
        with no_grad():
            out = cls.apply(*_materialize(n.args, env), **_materialize(n.kwargs, env))
        outs = out if n.multi else (out,)
        for o, t in zip(n.outputs, outs):
            c = graph.add_const(t)
            consts.add(c.id)
            env[c.id] = t
            mapping[o.id] = c
    graph.nodes = kept
    graph.outputs = [mapping.get(v.id, v) for v in graph.outputs]
    graph.invalidate()
    return dce(graph)


def _has_sym(obj) -> bool:
    if isinstance(obj, SymInt):
        return True
    if isinstance(obj, (tuple, list)):
        return any(_has_sym(o) for o in obj)
    if isinstance(obj, slice):
        return _has_sym((obj.start, obj.stop, obj.step))
    if isinstance(obj, dict):
        return any(_has_sym(o) for o in obj.values())
    return False


def _key(obj):
    """A hashable description of a node argument (values by id, arrays by content)."""
    if isinstance(obj, Value):
        return ("v", obj.id)
    if isinstance(obj, DataRef):
        return ("d", obj.value.id)
    if isinstance(obj, SymInt):
        return ("sym", obj.sym, obj.a, obj.b)
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__,) + tuple(_key(o) for o in obj)
    if isinstance(obj, slice):
        return ("slice", _key(obj.start), _key(obj.stop), _key(obj.step))
    if isinstance(obj, dict):
        return ("dict",) + tuple((k, _key(v)) for k, v in sorted(obj.items()))
    if isinstance(obj, np.ndarray):
        return ("arr", str(obj.dtype), obj.shape, obj.tobytes())
    if isinstance(obj, float) and obj != obj:
        return ("nan",)
    if isinstance(obj, _dt.dtype):
        return ("dtype", obj.name)
    try:
        hash(obj)
    except TypeError:
        return ("id", id(obj))
    return (type(obj).__name__, obj)


def cse(graph: Graph) -> Graph:
    """Merge nodes that call the same op on the same values with the same attributes."""
    seen: dict = {}
    mapping: dict = {}
    kept = []
    for n in graph.nodes:
        n.args = _replace(n.args, mapping)
        n.kwargs = _replace(n.kwargs, mapping)
        if n.op in SIDE_EFFECTS or n.op in NONDETERMINISTIC or n.fn is not None:
            kept.append(n)
            continue
        k = (n.op, _key(n.args), _key(n.kwargs))
        prev = seen.get(k)
        if prev is None:
            seen[k] = n
            kept.append(n)
            continue
        for o, p in zip(n.outputs, prev.outputs):
            mapping[o.id] = p
    graph.nodes = kept
    graph.outputs = [mapping.get(v.id, v) for v in graph.outputs]
    graph.invalidate()
    return graph


def optimize(graph: Graph) -> Graph:
    """The default pipeline: constant folding, CSE, then DCE."""
    constant_fold(graph)
    cse(graph)
    return dce(graph)
