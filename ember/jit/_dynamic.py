"""Dynamic axes: find which recorded integers follow an input dimension (the batch size).

A trace records concrete integers: ``x.view(x.size(0), -1)`` becomes ``reshape(x, (64, 2304))``.
To make the batch (or any named axis) dynamic, the function is recorded a second time with that
axis one larger. The two graphs must have the same structure; every integer attribute that
differs becomes a :class:`SymInt` ``a * axis + b`` solved from the two recordings. What cannot
be expressed that way (a constant tensor or an index array whose contents depend on the axis)
makes the axis impossible to keep dynamic, and :func:`make_dynamic` says why.
"""
from __future__ import annotations

import numpy as np

from ..autograd.grad_mode import no_grad
from ._ir import DataRef, Graph, SymInt, Value
from ._tree import flatten, unflatten


class NotDynamic(Exception):
    """The recordings for two sizes of a dynamic axis differ in more than integers."""


def _grow(t, dim: int):
    """``t`` with one more entry along ``dim`` (a copy of its first slice)."""
    from ..functional import cat
    return cat([t, t.narrow(dim, 0, 1)], dim)


def _merge(a, b, sym: str, delta: int, where: str):
    if isinstance(a, Value):
        if not isinstance(b, Value) or a.id != b.id:
            raise NotDynamic(f"{where}: different inputs")
        return a
    if isinstance(a, DataRef):
        if not isinstance(b, DataRef) or a.value.id != b.value.id:
            raise NotDynamic(f"{where}: different inputs")
        return a
    if isinstance(a, SymInt):
        if not isinstance(b, int) or b - a.value != 0:
            raise NotDynamic(f"{where}: an integer depends on more than one dynamic axis")
        return a
    if type(a) is int and type(b) is int:
        if a == b:
            return a
        step = b - a
        if step % delta:
            raise NotDynamic(f"{where}: integer {a} -> {b} is not affine in {sym}")
        return SymInt(sym, step // delta, 0, a)   # b fixed in _finish
    if type(a) is not type(b):
        raise NotDynamic(f"{where}: {a!r} vs {b!r}")
    if isinstance(a, (tuple, list)):
        if len(a) != len(b):
            raise NotDynamic(f"{where}: lengths differ")
        out = [_merge(x, y, sym, delta, where) for x, y in zip(a, b)]
        return tuple(out) if isinstance(a, tuple) else out
    if isinstance(a, slice):
        return slice(*(_merge(x, y, sym, delta, where) for x, y in
                       ((a.start, b.start), (a.stop, b.stop), (a.step, b.step))))
    if isinstance(a, dict):
        if a.keys() != b.keys():
            raise NotDynamic(f"{where}: keyword arguments differ")
        return {k: _merge(a[k], b[k], sym, delta, where) for k in a}
    if isinstance(a, np.ndarray):
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
            raise NotDynamic(f"{where}: an index or constant array depends on {sym}")
        return a
    if isinstance(a, float) and a != b and not (a != a and b != b):
        raise NotDynamic(f"{where}: a float argument depends on {sym} ({a} vs {b})")
    if not isinstance(a, float) and a != b:
        raise NotDynamic(f"{where}: {a!r} vs {b!r}")
    return a


def _finish(obj, base_size: dict):
    """Fill in the offset ``b`` of each new SymInt from its recorded value."""
    if isinstance(obj, SymInt):
        obj.b = obj.value - obj.a * base_size[obj.sym]
        return obj
    if isinstance(obj, tuple):
        return tuple(_finish(o, base_size) for o in obj)
    if isinstance(obj, list):
        return [_finish(o, base_size) for o in obj]
    if isinstance(obj, slice):
        return slice(_finish(obj.start, base_size), _finish(obj.stop, base_size),
                     _finish(obj.step, base_size))
    if isinstance(obj, dict):
        return {k: _finish(v, base_size) for k, v in obj.items()}
    return obj


def _uniform_value(arr: np.ndarray):
    """The one value every element of ``arr`` holds, or None."""
    flat = np.asarray(arr).reshape(-1)
    if flat.size == 0 or not (flat == flat[0]).all():
        return None
    return flat[0].item()


def _filled_shape(c1: Value, c2: Value, shape, sym: str, delta: int, base: int) -> list:
    """The shape of constant ``c1`` with the dims that follow ``sym`` as SymInts.

    Only constants filled with one value (``zeros``/``ones``/``full`` of a size read from an
    input, like an RNN's default state) can follow an axis: they become ``_full`` nodes.
    """
    v1, v2 = _uniform_value(c1.data._data), _uniform_value(c2.data._data)
    if v1 is None or v1 != v2 or len(c1.shape) != len(c2.shape):
        raise NotDynamic(f"a constant tensor's shape depends on {sym} and it is not filled "
                         "with a single value")
    shape = list(c1.shape) if shape is None else shape
    for d, (a, b) in enumerate(zip(c1.shape, c2.shape)):
        if a == b:
            continue
        if isinstance(shape[d], SymInt) or (b - a) % delta:
            raise NotDynamic(f"a constant tensor's size {a} -> {b} is not affine in {sym}")
        step = (b - a) // delta
        shape[d] = SymInt(sym, step, a - step * base, a)
    return shape


def _consts_to_full(g: Graph, filled: dict) -> None:
    """Turn the constants ``filled`` ({value id: shape}) into ``_full`` nodes."""
    from ._ir import Node
    new_nodes = []
    for c in g.consts:
        shape = filled.get(c.id)
        if shape is None:
            continue
        value = _uniform_value(c.data._data)
        node = Node("_full", (tuple(shape), value, c.dtype, str(c.data.device)), {}, [c],
                    False)
        c.kind = "node"
        c.node = node
        c.index = 0
        c.data = None
        new_nodes.append(node)
    g.consts = [c for c in g.consts if c.id not in filled]
    g.nodes = new_nodes + g.nodes


def merge_graphs(g: Graph, other: Graph, sym: str, delta: int, base: int,
                 filled: dict | None = None) -> None:
    """Turn the integers of ``g`` that differ in ``other`` into SymInts of ``sym``.

    Constants whose shape differs are noted in ``filled`` ({value id: shape with SymInts});
    :func:`make_dynamic` turns them into ``_full`` nodes once every axis is merged.
    """
    filled = {} if filled is None else filled
    if len(g.nodes) != len(other.nodes):
        raise NotDynamic(f"the recording for another {sym} has a different number of ops")
    if [c.id for c in g.consts] != [c.id for c in other.consts]:
        raise NotDynamic(f"the recording for another {sym} has different constants")
    for c1, c2 in zip(g.consts, other.consts):
        if c1.shape != c2.shape:
            filled[c1.id] = _filled_shape(c1, c2, filled.get(c1.id), sym, delta, base)
            continue
        if not np.array_equal(np.asarray(c1.data._data), np.asarray(c2.data._data),
                              equal_nan=True):
            raise NotDynamic(f"a constant tensor's values depend on {sym}")
    for n1, n2 in zip(g.nodes, other.nodes):
        where = f"op {n1.op}"
        if n1.op != n2.op or len(n1.outputs) != len(n2.outputs):
            raise NotDynamic(f"the ops differ for another {sym} ({n1.op} vs {n2.op})")
        n1.args = _finish(_merge(n1.args, n2.args, sym, delta, where), {sym: base})
        n1.kwargs = _finish(_merge(n1.kwargs, n2.kwargs, sym, delta, where), {sym: base})
    if [v.id for v in g.outputs] != [v.id for v in other.outputs]:
        raise NotDynamic("the outputs differ")


def make_dynamic(record, fn, args: tuple, module, axes: dict, **kw) -> Graph:
    """Record ``fn(*args)``, then once more per symbol of ``axes`` ({(leaf, dim): symbol}).

    Raises NotDynamic when some recorded value depends on an axis other than affinely.
    """
    g = record(fn, args, module, **kw)
    leaves, spec = flatten(tuple(args))
    by_sym: dict = {}
    for (i, d), s in axes.items():
        by_sym.setdefault(s, []).append((i, d))
    filled: dict = {}
    for s, places in by_sym.items():
        sizes = {leaves[i].shape[d] for i, d in places}
        if len(sizes) != 1:
            raise NotDynamic(f"the inputs disagree on the size of dynamic axis {s}: {sizes}")
        base = sizes.pop()
        grown = list(leaves)
        with no_grad():
            for i, d in places:
                grown[i] = _grow(grown[i], d)
        g2 = record(fn, tuple(unflatten(grown, spec)), module, **kw)
        merge_graphs(g, g2, s, 1, base, filled)
        g.sym_sources[s] = places[0]
    if filled:
        _consts_to_full(g, filled)
    g.invalidate()
    return g
