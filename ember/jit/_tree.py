"""Flatten nested inputs/outputs (tuples, lists, dicts of Tensors) to a flat list and back.

A spec is plain JSON data so that saved programs keep the nesting of their inputs and outputs:
``["T"]`` is a tensor leaf, ``["tuple", [specs]]``, ``["list", [specs]]``,
``["dict", [keys], [specs]]``, and ``["const", value]`` a non-tensor leaf kept as is.
"""
from __future__ import annotations

from ..tensor import Tensor


def flatten(obj) -> tuple[list, list]:
    leaves: list = []
    spec = _flatten(obj, leaves)
    return leaves, spec


def _flatten(obj, leaves):
    if isinstance(obj, Tensor):
        leaves.append(obj)
        return ["T"]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return ["tuple", [_flatten(o, leaves) for o in obj]]
    if isinstance(obj, tuple):
        # namedtuples (such as ember.max's values/indices) come back as plain tuples.
        return ["tuple", [_flatten(o, leaves) for o in obj]]
    if isinstance(obj, list):
        return ["list", [_flatten(o, leaves) for o in obj]]
    if isinstance(obj, dict):
        keys = list(obj.keys())
        if not all(isinstance(k, str) for k in keys):
            raise RuntimeError("ember.jit: only dicts with string keys can be traced")
        return ["dict", keys, [_flatten(obj[k], leaves) for k in keys]]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return ["const", obj]
    raise RuntimeError(f"ember.jit: cannot trace a value of type {type(obj).__name__}; inputs "
                       "and outputs must be Tensors or tuples/lists/dicts of Tensors")


def unflatten(leaves, spec):
    it = iter(leaves)
    return _unflatten(it, spec)


def _unflatten(it, spec):
    kind = spec[0]
    if kind == "T":
        return next(it)
    if kind == "tuple":
        return tuple(_unflatten(it, s) for s in spec[1])
    if kind == "list":
        return [_unflatten(it, s) for s in spec[1]]
    if kind == "dict":
        return {k: _unflatten(it, s) for k, s in zip(spec[1], spec[2])}
    return spec[1]


def consts_of(spec) -> list:
    """The non-tensor leaves of a spec (part of a scripted call's guard key)."""
    out: list = []
    _consts(spec, out)
    return out


def _consts(spec, out):
    kind = spec[0]
    if kind == "const":
        out.append(spec[1])
    elif kind in ("tuple", "list"):
        for s in spec[1]:
            _consts(s, out)
    elif kind == "dict":
        out.extend(spec[1])
        for s in spec[2]:
            _consts(s, out)
