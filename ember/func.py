"""ember.func: torch.func's function transforms, built on ember's reverse-mode autograd.

grad/vjp/jacrev differentiate through ``autograd.grad`` with ``create_graph=True`` so that the
transforms nest (hessian = jacfwd(jacrev(f))). ember has no forward mode, so jvp and jacfwd use
the double-vjp trick / reverse mode; the numbers are the same. vmap runs the function once per
batch entry and stacks the results (correctness first, not speed).
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Union

from .tensor import Tensor

__all__ = ["functional_call", "grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd",
           "hessian", "vmap"]

# How many transforms are running; the outermost one hands back graph-free results.
_DEPTH = [0]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """torch.func.functional_call: call ``module`` with substituted parameters/buffers."""
    from .nn.utils.stateless import functional_call as _fc
    return _fc(module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights,
               strict=strict)


# ----------------------------------------------------------------------------- pytrees
def _flatten(tree) -> tuple[list, Callable[[list], Any]]:
    """Leaves of a (nested) tuple/list/dict and a function that rebuilds the structure."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(t) for t in tree]
        sizes = [len(p[0]) for p in parts]
        kind = type(tree)

        def build(leaves, parts=parts, sizes=sizes, kind=kind):
            out, i = [], 0
            for (_, b), n in zip(parts, sizes):
                out.append(b(leaves[i:i + n]))
                i += n
            return kind(out) if kind in (tuple, list) else kind(*out)
        return [x for p in parts for x in p[0]], build
    if isinstance(tree, dict):
        keys = list(tree)
        leaves, b = _flatten([tree[k] for k in keys])
        return leaves, lambda ls: dict(zip(keys, b(ls)))
    return [tree], lambda ls: ls[0]


def _is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def _track(x):
    # A fresh differentiable handle on x; keeps x's own graph when an outer transform tracks it.
    if not _is_tensor(x):
        raise TypeError(f"expected tensors to differentiate with respect to, got {type(x)}")
    if x.requires_grad:
        return x.view_as(x)
    return x.detach().requires_grad_(True)


def _outer_tracking(leaves) -> bool:
    return _DEPTH[0] > 0 or any(_is_tensor(x) and x.requires_grad for x in leaves)


def _finish(tree, keep_graph: bool):
    leaves, build = _flatten(tree)
    if keep_graph:
        return tree
    return build([x.detach() if _is_tensor(x) else x for x in leaves])


def _grads(outputs: list, inputs: list, grad_outputs: list) -> list:
    from .autograd import grad as _agrad
    from .creation import zeros_like
    outs, gos = [], []
    for o, g in zip(outputs, grad_outputs):
        if o.requires_grad:
            outs.append(o)
            gos.append(g)
    if not outs:
        return [zeros_like(x) for x in inputs]
    gs = _agrad(outs, inputs, gos, retain_graph=True, create_graph=True, allow_unused=True)
    return [zeros_like(x) if g is None else g for g, x in zip(gs, inputs)]


def _split_aux(out, has_aux: bool, who: str):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{who}(f, ...)(*args): output of function f should be a tuple: "
                           "(output, aux) if has_aux is True")
    return out


def _norm_argnums(argnums, nargs: int, who: str) -> tuple[tuple[int, ...], bool]:
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    if not nums:
        raise RuntimeError(f"{who}: argnums must be non-empty")
    out = []
    for a in nums:
        if not isinstance(a, int):
            raise RuntimeError(f"{who}: argnums must be int or Tuple[int, ...], got {type(a)}")
        if not -nargs <= a < nargs:
            raise RuntimeError(f"{who}: Got argnums={a}, but only {nargs} positional inputs")
        out.append(a % nargs)
    return tuple(out), single


def _with_tracked(args: tuple, nums: tuple[int, ...]):
    """Args with the differentiated positions replaced by tracked leaves."""
    args = list(args)
    per_arg = []
    for a in nums:
        leaves, build = _flatten(args[a])
        tracked = [_track(x) for x in leaves]
        args[a] = build(tracked)
        per_arg.append((tracked, build))
    return args, per_arg


# ----------------------------------------------------------------------------- grad
def grad_and_value(func: Callable, argnums: Union[int, tuple[int, ...]] = 0,
                   has_aux: bool = False) -> Callable:
    """torch.func.grad_and_value: ``(grad, value)`` (value is ``(output, aux)`` with has_aux)."""
    def wrapper(*args, **kwargs):
        nums, single = _norm_argnums(argnums, len(args), "grad_and_value")
        keep = _outer_tracking(_flatten(list(args))[0])
        _DEPTH[0] += 1
        try:
            targs, per_arg = _with_tracked(args, nums)
            out, aux = _split_aux(func(*targs, **kwargs), has_aux, "grad_and_value")
            if not _is_tensor(out):
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"Tensor, got {type(out)}")
            if out.dim() != 0:
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"scalar Tensor, got tensor with {out.dim()} dims. Maybe you "
                                   "wanted to use the vjp or jacrev APIs instead?")
            from .creation import ones_like
            flat_in = [x for tracked, _ in per_arg for x in tracked]
            gs = _grads([out], flat_in, [ones_like(out)])
            res, i = [], 0
            for tracked, build in per_arg:
                res.append(build(gs[i:i + len(tracked)]))
                i += len(tracked)
            g = res[0] if single else tuple(res)
        finally:
            _DEPTH[0] -= 1
        value = (out, aux) if has_aux else out
        return _finish(g, keep), _finish(value, keep)
    return wrapper


def grad(func: Callable, argnums: Union[int, tuple[int, ...]] = 0,
         has_aux: bool = False) -> Callable:
    """torch.func.grad: gradient of a scalar function w.r.t. ``args[argnums]``."""
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


# ----------------------------------------------------------------------------- vjp / jvp
def vjp(func: Callable, *primals, has_aux: bool = False):
    """torch.func.vjp: ``(output, vjp_fn)`` (+ aux); vjp_fn(cotangents) -> tuple of grads."""
    keep = _outer_tracking(_flatten(list(primals))[0])
    _DEPTH[0] += 1
    try:
        targs, per_arg = _with_tracked(primals, tuple(range(len(primals))))
        out, aux = _split_aux(func(*targs), has_aux, "vjp")
    finally:
        _DEPTH[0] -= 1
    out_leaves, _ = _flatten(out)
    if not all(_is_tensor(o) for o in out_leaves):
        raise RuntimeError("vjp(f, *primals): Expected f to return only Tensors")

    def vjp_fn(cotangents):
        ct_leaves, _ = _flatten(cotangents)
        if len(ct_leaves) != len(out_leaves):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as "
                               "pytree structure of outputs to the function")
        for c, o in zip(ct_leaves, out_leaves):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output has a shape of "
                                   f"{tuple(c.shape)} and output has a shape of "
                                   f"{tuple(o.shape)}")
        flat_in = [x for tracked, _ in per_arg for x in tracked]
        inner = keep or any(c.requires_grad for c in ct_leaves)
        _DEPTH[0] += 1
        try:
            gs = _grads(out_leaves, flat_in, ct_leaves)
        finally:
            _DEPTH[0] -= 1
        res, i = [], 0
        for tracked, build in per_arg:
            res.append(build(gs[i:i + len(tracked)]))
            i += len(tracked)
        return _finish(tuple(res), inner)

    result = (_finish(out, keep), vjp_fn)
    return result + (_finish(aux, keep),) if has_aux else result


def jvp(func: Callable, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """torch.func.jvp: ``(output, jvp_out)`` (+ aux), via the double-vjp trick."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be "
                           "tuples")
    p_leaves, _ = _flatten(primals)
    t_leaves, _ = _flatten(tangents)
    if len(p_leaves) != len(t_leaves):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have "
                           "the same python structure")
    for p, t in zip(p_leaves, t_leaves):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to "
                               f"have the same shape, got {tuple(p.shape)} and {tuple(t.shape)}")
    keep = _outer_tracking(p_leaves + t_leaves)
    from .creation import zeros_like
    _DEPTH[0] += 1
    try:
        targs, per_arg = _with_tracked(primals, tuple(range(len(primals))))
        out, aux = _split_aux(func(*targs), has_aux, "jvp")
        out_leaves, out_build = _flatten(out)
        flat_in = [x for tracked, _ in per_arg for x in tracked]
        # u -> J^T u is linear in u; differentiating <J^T u, t> w.r.t. u gives J t.
        us = [zeros_like(o).requires_grad_(True) for o in out_leaves]
        gs = _grads(out_leaves, flat_in, us)
        jt = _grads(gs, us, t_leaves)
    finally:
        _DEPTH[0] -= 1
    result = (_finish(out, keep), _finish(out_build(jt), keep))
    return result + (_finish(aux, keep),) if has_aux else result


# ----------------------------------------------------------------------------- jacobians
def jacrev(func: Callable, argnums: Union[int, tuple[int, ...]] = 0, *, has_aux: bool = False,
           chunk_size: Optional[int] = None, _preallocate_and_copy: bool = False) -> Callable:
    """torch.func.jacrev: Jacobian of every output w.r.t. ``args[argnums]`` (reverse mode).

    Each block has shape ``output.shape + input.shape``.
    """
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    def wrapper(*args, **kwargs):
        from .functional import stack
        from .creation import zeros_like
        nums, single = _norm_argnums(argnums, len(args), "jacrev")
        keep = _outer_tracking(_flatten(list(args))[0])
        _DEPTH[0] += 1
        try:
            targs, per_arg = _with_tracked(args, nums)
            out, aux = _split_aux(func(*targs, **kwargs), has_aux, "jacrev")
            out_leaves, out_build = _flatten(out)
            flat_in = [x for tracked, _ in per_arg for x in tracked]
            blocks = []  # blocks[o][i]: d out_o / d in_i
            for o in out_leaves:
                of = o.reshape(-1)
                rows = []
                for k in range(of.shape[0]):
                    unit = zeros_like(of)
                    unit[k] = 1.0
                    rows.append(_grads([of], flat_in, [unit]))
                per_in = []
                for j, x in enumerate(flat_in):
                    if rows:
                        jac = stack([row[j] for row in rows])
                    else:
                        jac = zeros_like(x).reshape(0, *x.shape)
                    per_in.append(jac.reshape(*o.shape, *x.shape))
                blocks.append(per_in)
        finally:
            _DEPTH[0] -= 1

        def for_output(per_in):
            res, i = [], 0
            for tracked, build in per_arg:
                res.append(build(per_in[i:i + len(tracked)]))
                i += len(tracked)
            return res[0] if single else tuple(res)
        jac = out_build([for_output(b) for b in blocks])
        jac = _finish(jac, keep)
        return (jac, _finish(aux, keep)) if has_aux else jac
    return wrapper


def jacfwd(func: Callable, argnums: Union[int, tuple[int, ...]] = 0, has_aux: bool = False,
           *, randomness: str = "error") -> Callable:
    """torch.func.jacfwd: the same Jacobian as jacrev (ember computes it in reverse mode)."""
    _check_randomness(randomness)
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func: Callable, argnums: Union[int, tuple[int, ...]] = 0) -> Callable:
    """torch.func.hessian: jacfwd(jacrev(func, argnums), argnums)."""
    return jacfwd(jacrev(func, argnums), argnums)


# ----------------------------------------------------------------------------- vmap
def _check_randomness(randomness: str) -> None:
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")


def _match_dims(dims, tree, who: str):
    """Broadcast an int/None ``dims`` over ``tree``'s leaves (or check a matching structure)."""
    leaves, _ = _flatten(tree)
    if dims is None or isinstance(dims, int):
        return [dims] * len(leaves)
    if isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list)):
        if len(dims) != len(tree):
            raise ValueError(f"{who}: in_dims is not compatible with the structure of `inputs`. "
                             f"in_dims has structure of length {len(dims)} but inputs has "
                             f"length {len(tree)}")
        return [d for sub_d, sub_t in zip(dims, tree) for d in _match_dims(sub_d, sub_t, who)]
    if isinstance(dims, dict) and isinstance(tree, dict):
        return [d for k in tree for d in _match_dims(dims[k], tree[k], who)]
    raise ValueError(f"{who}: in_dims is not compatible with the structure of `inputs`")


def vmap(func: Callable, in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error", *,
         chunk_size: Optional[int] = None) -> Callable:
    """torch.func.vmap: map ``func`` over a dimension of its inputs (a loop, then stack)."""
    _check_randomness(randomness)
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("vmap: chunk_size should be None or greater than 0.")

    def wrapper(*args, **kwargs):
        from .functional import stack
        from .random import get_rng_state, set_rng_state
        who = f"vmap({getattr(func, '__name__', 'func')}, in_dims={in_dims}, ...)(<inputs>)"
        if not isinstance(in_dims, (int, tuple, list)) and in_dims is not None:
            raise ValueError(f"{who}: expected `in_dims` to be int or a (potentially nested) "
                             f"tuple matching the structure of inputs, got: {type(in_dims)}.")
        if isinstance(in_dims, (tuple, list)) and len(in_dims) != len(args):
            raise ValueError(f"{who}: Expected `in_dims` to be compatible with the structure of "
                             f"the inputs, got in_dims of length {len(in_dims)} for "
                             f"{len(args)} inputs")
        leaves, build = _flatten(list(args))
        dims = _match_dims(in_dims if isinstance(in_dims, (tuple, list)) else in_dims,
                           list(args), who)
        size = None
        norm = []
        for x, d in zip(leaves, dims):
            if d is None:
                norm.append(None)
                continue
            if not _is_tensor(x):
                raise ValueError(f"{who}: Got in_dim={d} for an input but the input is of type "
                                 f"{type(x)}. We cannot vmap over non-Tensor arguments")
            if not -x.dim() <= d < max(x.dim(), 1) or x.dim() == 0:
                raise ValueError(f"{who}: Got in_dim={d} for some input, but that input is a "
                                 f"Tensor of dimensionality {x.dim()} so expected in_dim to "
                                 f"satisfy -{x.dim()} <= in_dim < {x.dim()}.")
            d %= x.dim()
            n = x.shape[d]
            if size is not None and n != size:
                raise ValueError(f"{who}: Expected all tensors to have the same size in the "
                                 f"mapped dimension, got sizes {size} and {n} for the mapped "
                                 "dimension")
            size = n
            norm.append(d)
        if size is None:
            raise ValueError(f"{who}: at least one input must be a Tensor mapped over (in_dims "
                             "not all None)")
        start_state = get_rng_state()
        results = []
        for i in range(size):
            if randomness == "same":
                set_rng_state(start_state)  # every batch entry sees the same random draws
            before = get_rng_state() if randomness == "error" else None
            sliced = [x if d is None else x.select(d, i) for x, d in zip(leaves, norm)]
            results.append(func(*build(sliced), **kwargs))
            if before is not None and not bool((get_rng_state() == before).all()):
                raise RuntimeError("vmap: called random operation while in randomness error "
                                   "mode. Please either use the 'same' or 'different' "
                                   "randomness flags on vmap or perform the randomness "
                                   "operation out of vmap")
        out_leaves0, out_build = _flatten(results[0])
        per_out = [_flatten(r)[0] for r in results]
        odims = _match_dims(out_dims, results[0], who)
        stacked = []
        for j, od in enumerate(odims):
            col = [p[j] for p in per_out]
            if not all(_is_tensor(c) for c in col):
                raise ValueError(f"{who}: `{getattr(func, '__name__', 'func')}` must only "
                                 f"return Tensors, got type {type(col[0])}.")
            if od is None:
                stacked.append(col[0])
                continue
            nd = col[0].dim() + 1
            if not -nd <= od < nd:
                raise ValueError(f"{who}: out_dim={od} is out of range for a result of "
                                 f"dimensionality {nd}")
            stacked.append(stack(col, od % nd))
        return out_build(stacked)
    return wrapper
