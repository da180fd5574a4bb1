"""``torch.autograd.functional``: Jacobians, Hessians and vector products of whole functions.

Everything is built from reverse-mode ``autograd.grad`` (one backward pass per output element
for Jacobians; the double-backward trick for forward-mode products), so it works for any
function written with ember ops.
"""
from __future__ import annotations

from typing import Callable

from . import grad as _grad

__all__ = ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"]


def _as_tuple(x) -> tuple[bool, tuple]:
    if isinstance(x, (tuple, list)):
        return True, tuple(x)
    return False, (x,)


def _prepare(inputs: tuple, create_graph: bool) -> tuple:
    # With create_graph the result must stay differentiable w.r.t. the caller's inputs, so keep
    # them in the graph through an alias; otherwise start from fresh leaves.
    out = []
    for x in inputs:
        if create_graph and x.requires_grad:
            out.append(x.view_as(x))
        else:
            out.append(x.detach().requires_grad_(x.dtype.is_floating_point))
    return tuple(out)


def _finish(t, create_graph: bool):
    if t is None:
        return None
    return t if create_graph else t.detach()


def _grads_or_zeros(outputs, inputs, grad_outputs, create_graph: bool, strict: bool) -> tuple:
    from ..creation import zeros_like
    diff = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if diff:
        res = _grad([o for o, _ in diff], list(inputs), [g for _, g in diff],
                    retain_graph=True, create_graph=create_graph, allow_unused=True)
    else:
        res = (None,) * len(inputs)
    out = []
    for i, (g, x) in enumerate(zip(res, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of "
                                   f"input {i}. This is not allowed in strict mode.")
            g = zeros_like(x)
        out.append(g)
    return tuple(out)


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output ``o`` and input ``x`` a tensor of shape
    ``o.shape + x.shape``; nested in tuples like torch when inputs/outputs are tuples."""
    from ..functional import stack
    from ..creation import zeros
    in_tuple, ins = _as_tuple(inputs)
    ins = _prepare(ins, create_graph)
    out_tuple, outs = _as_tuple(func(*ins))
    per_output = []
    for o in outs:
        flat = o.reshape(-1)
        rows = [[] for _ in ins]
        for k in range(flat.numel()):
            if o.requires_grad:
                unit = zeros(flat.shape, dtype=o.dtype, device=o.device)
                unit[k] = 1
                gs = _grads_or_zeros([flat], ins, [unit], create_graph, strict)
            else:
                if strict:
                    raise RuntimeError("Output 0 of the user-provided function does not require "
                                       "gradients. This is not allowed in strict mode.")
                gs = tuple(x.new_zeros(x.shape) for x in ins)
            for j, g in enumerate(gs):
                rows[j].append(g)
        blocks = []
        for j, x in enumerate(ins):
            if rows[j]:
                b = stack(rows[j]).reshape(tuple(o.shape) + tuple(x.shape))
            else:
                b = x.new_zeros(tuple(o.shape) + tuple(x.shape))
            blocks.append(_finish(b, create_graph))
        per_output.append(tuple(blocks) if in_tuple else blocks[0])
    return tuple(per_output) if out_tuple else per_output[0]


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar function: ``x.shape + x.shape`` for one input, a tuple of tuples
    ``H[i][j]`` for several."""
    in_tuple, _ = _as_tuple(inputs)

    def gradient(*xs):
        return jacobian(func, xs if in_tuple else xs[0], create_graph=True, strict=strict)
    return jacobian(gradient, inputs, create_graph=create_graph, strict=strict)


def _check_v(v, outs, what: str) -> tuple:
    from ..creation import ones_like
    if v is None:
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        return (ones_like(outs[0]),)
    _, vs = _as_tuple(v)
    for o, vv in zip(outs, vs):
        if tuple(o.shape) != tuple(vv.shape):
            raise RuntimeError(f"Mismatch in shape: {what} has shape {tuple(vv.shape)} but the "
                               f"corresponding tensor has shape {tuple(o.shape)}")
    return vs


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``."""
    in_tuple, ins = _as_tuple(inputs)
    ins = _prepare(ins, create_graph)
    out_tuple, outs = _as_tuple(func(*ins))
    vs = _check_v(v, outs, "v")
    gs = _grads_or_zeros(outs, ins, vs, create_graph, strict)
    outs = tuple(_finish(o, create_graph) for o in outs)
    gs = tuple(_finish(g, create_graph) for g in gs)
    return (outs if out_tuple else outs[0]), (gs if in_tuple else gs[0])


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)`` by the double-backward trick: J v = d/du (u^T J) v."""
    from ..creation import zeros_like
    in_tuple, ins = _as_tuple(inputs)
    ins = _prepare(ins, create_graph)
    out_tuple, outs = _as_tuple(func(*ins))
    if v is None:
        if len(ins) != 1 or ins[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        v = (ins[0].new_ones(ins[0].shape),)
    _, vs = _as_tuple(v)
    us = tuple(zeros_like(o).requires_grad_(True) for o in outs)
    gs = _grads_or_zeros(outs, ins, us, True, strict)
    res = _grads_or_zeros(gs, us, vs, create_graph, strict)
    outs = tuple(_finish(o, create_graph) for o in outs)
    res = tuple(_finish(r, create_graph) for r in res)
    return (outs if out_tuple else outs[0]), (res if out_tuple else res[0])


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)`` for a scalar function."""
    in_tuple, ins = _as_tuple(inputs)
    ins = _prepare(ins, create_graph)
    out = func(*ins)
    if out.numel() != 1:
        raise RuntimeError("The function given to hvp should return a single element Tensor, "
                           f"but it returned a Tensor with {out.numel()} elements.")
    _, vs = _as_tuple(v)
    gs = _grads_or_zeros([out], ins, [out.new_ones(out.shape)], True, strict)
    res = _grads_or_zeros(gs, ins, vs, create_graph, strict)
    res = tuple(_finish(r, create_graph) for r in res)
    return _finish(out, create_graph), (res if in_tuple else res[0])


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)``; the Hessian of a twice-differentiable function is symmetric,
    so this equals ``vhp``."""
    return vhp(func, inputs, v, create_graph=create_graph, strict=strict)
