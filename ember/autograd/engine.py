"""The backward pass: an iterative walk of the graph (no recursion, so 100k-op chains work)."""
from __future__ import annotations

from ..ops import registry as _reg
from ..ops.registry import GRAD_MODE, AccumulateGrad, _edge


def _root_edge(t, i):
    e = _edge(t)
    if e is None:
        raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                           "grad_fn")
    return e


def _topo(root_nodes):
    """Dependency counts and a post-order (children before parents) of the reachable nodes."""
    deps: dict = {}
    order = []
    seen = set()
    for r in root_nodes:
        if id(r) in seen:
            continue
        seen.add(id(r))
        stack = [(r, iter(r.next_edges))]
        while stack:
            node, it = stack[-1]
            advanced = False
            for e in it:
                if e is None:
                    continue
                child = e[0]
                deps[child] = deps.get(child, 0) + 1
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(child.next_edges)))
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                order.append(node)
    return deps, order


# How many backward passes have run (ember.compile tells a whole training step, whose outputs
# were already differentiated, from a forward whose outputs backward will still walk).
BACKWARD_CALLS = [0]


def run_backward(tensors, grad_tensors, retain_graph: bool, create_graph: bool,
                 inputs=None, allow_unused: bool = False, accumulate: bool = True):
    """Propagate ``grad_tensors`` from ``tensors`` through the graph.

    With ``accumulate`` the gradients of leaves go into their ``.grad``; otherwise (autograd.grad)
    the gradients reaching ``inputs`` are returned and nothing is accumulated.
    """
    from ..tensor import Tensor
    BACKWARD_CALLS[0] += 1
    roots = [_root_edge(t, i) for i, t in enumerate(tensors)]
    buffers: dict = {}
    for (node, nr), g in zip(roots, grad_tensors):
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._n_outputs
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    root_nodes = [n for n, _ in roots]
    deps, order = _topo(root_nodes)

    captures = None
    needed = None
    if inputs is not None:
        captures = {}
        targets = {}
        for i, t in enumerate(inputs):
            if t.grad_fn is not None:
                key = (t.grad_fn, t._output_nr)
            elif t.requires_grad:
                acc = t._accum
                if acc is None:
                    acc = t._accum = AccumulateGrad(t)
                key = (acc, 0)
            else:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets.setdefault(key, []).append(i)
        target_nodes = {k[0] for k in targets}
        needed = set()
        for n in order:  # children come first in post-order
            if n in target_nodes or any(e is not None and e[0] in needed for e in n.next_edges):
                needed.add(n)

    prev = GRAD_MODE.enabled
    GRAD_MODE.enabled = create_graph
    # Backward ops run in the dtypes autocast chose in forward: no autocasting here (torch).
    prev_autocast = _reg.AUTOCAST
    _reg.AUTOCAST = None
    delivered = set()
    try:
        ready = [n for n in dict.fromkeys(root_nodes) if deps.get(n, 0) == 0]
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is None:
                grads = [None] * node._n_outputs
            if node._pre_hooks:
                for nr, hooks in node._pre_hooks.items():
                    for h in list(hooks):
                        if grads[nr] is not None:
                            r = h(grads[nr])
                            if r is not None:
                                grads[nr] = r
            if node._retain_hooks:
                for nr, ref in node._retain_hooks.items():
                    t = ref()
                    if t is not None and grads[nr] is not None:
                        g = grads[nr] if create_graph else grads[nr].detach()
                        t.grad = g if t.grad is None else t.grad + g
            if type(node) is AccumulateGrad and node.variable._leaf_hooks \
                    and grads[0] is not None:
                # A leaf's tensor hooks run before its gradient is accumulated or returned by
                # autograd.grad (torch runs them as pre-hooks of AccumulateGrad).
                for h in list(node.variable._leaf_hooks):
                    r = h(grads[0])
                    if r is not None:
                        grads[0] = r
            if captures is not None:
                for nr in range(len(grads)):
                    idxs = targets.get((node, nr))
                    if idxs:
                        for i in idxs:
                            captures[i] = grads[nr]
            if node._node_pre_hooks:
                for h in node._node_pre_hooks:
                    r = h(tuple(grads))
                    if r is not None:
                        grads = list(r)
            if type(node) is AccumulateGrad:
                if accumulate and grads[0] is not None:
                    _accumulate(node.variable, grads[0], create_graph, delivered)
                continue
            if needed is not None and node not in needed:
                _finish(node, retain_graph)
                continue
            if all(g is None for g in grads):
                in_grads = (None,) * len(node.next_edges)
            else:
                # Custom Functions fill in zeros themselves (unless set_materialize_grads(False)).
                if node._n_outputs > 1 and any(g is None for g in grads) \
                        and not hasattr(node, "materialize_grads"):
                    grads = [g if g is not None else _zeros_for(node, i)
                             for i, g in enumerate(grads)]
                if _reg.PROFILER is None:
                    in_grads = node.apply_backward(tuple(grads))
                else:  # ember.profiler times each backward node, as torch's autograd engine
                    in_grads = _reg.PROFILER.backward_node(node, tuple(grads))
                if len(in_grads) < len(node.next_edges):
                    in_grads = tuple(in_grads) + (None,) * (len(node.next_edges) - len(in_grads))
            if GRAD_MODE.anomaly:
                _check_anomaly(node, in_grads)
            if node._node_hooks:
                for h in node._node_hooks:
                    r = h(tuple(in_grads), tuple(grads))
                    if r is not None:
                        in_grads = tuple(r)
            _finish(node, retain_graph)
            for e, g in zip(node.next_edges, in_grads):
                if e is None:
                    continue
                child, nr = e
                if g is not None:
                    if not isinstance(g, Tensor):
                        raise TypeError(f"{node.name()} returned a gradient of type "
                                        f"{type(g).__name__}, expected a Tensor")
                    buf = buffers.get(child)
                    if buf is None:
                        buf = buffers[child] = [None] * child._n_outputs
                    buf[nr] = g if buf[nr] is None else buf[nr] + g
                d = deps[child] - 1
                deps[child] = d
                if d == 0:
                    ready.append(child)
    finally:
        GRAD_MODE.enabled = prev
        _reg.AUTOCAST = prev_autocast

    if inputs is None:
        return None
    result = []
    for i, t in enumerate(inputs):
        g = captures.get(i)
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been used "
                               "in the graph. Set allow_unused=True if this is the desired "
                               "behavior.")
        if g is not None and not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)


def _finish(node, retain_graph):
    if not retain_graph:
        node._release()


def _zeros_for(node, i):
    meta = getattr(node, "_out_meta", None)
    non_diff = getattr(node, "_non_diff_outputs", None)
    if meta is None and non_diff is not None and i in non_diff():
        # An integer output (indices of max/sort/pool) never carries a gradient.
        return None
    if meta is None:
        raise RuntimeError(f"{node.name()}: missing gradient for output {i}")
    from .. import creation
    shape, dtype, device = meta[i]
    return creation.zeros(shape, dtype=dtype, device=device)


def _accumulate(t, g, create_graph, delivered):
    if not create_graph:
        g = g.detach()
    if g.shape != t.shape:
        # An expanded gradient (e.g. from a 0-d root) still has to land in the leaf's shape.
        g = g.expand(t.shape) if g.numel() == 1 or g.dim() < t.dim() else g.reshape(t.shape)
    if g._dtype is not t._dtype:
        g = g.to(t._dtype)
    if t.grad is None:
        # The same gradient tensor may reach several leaves (add passes it through): copy it
        # once it has been handed out, so an in-place change to one .grad leaves the others.
        if id(g) in delivered or not g._data.flags.owndata or g._base is not None:
            g = g.clone() if create_graph else g.detach().clone()
        delivered.add(id(g))
        t.grad = g
    elif create_graph:
        t.grad = t.grad + g
    else:
        t.grad._data += g._data
        t.grad._version[0] += 1
    for h in (t._post_accumulate_hooks or ()):
        h(t)


def _check_anomaly(node, in_grads):
    for i, g in enumerate(in_grads):
        if g is not None and g.dtype.is_floating_point and bool(g.isnan().any()):
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                               "output.")
