"""``torch.nn.utils.stateless.functional_call``: run a module with substituted tensors."""
from __future__ import annotations

from typing import Any, Optional, Union

from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["functional_call"]

_MISSING = object()


def _owner(module: Module, name: str) -> tuple[Module, str]:
    *path, attr = name.split(".")
    for part in path:
        module = getattr(module, part)
    return module, attr


def _swap(module: Module, name: str, value: Any) -> Any:
    """Put ``value`` at dotted ``name``; returns what was there (or _MISSING)."""
    owner, attr = _owner(module, name)
    for slot in ("_parameters", "_buffers"):
        d = owner.__dict__[slot]
        if attr in d:
            old = d[attr]
            d[attr] = value
            return (slot, old)
    old = owner.__dict__.get(attr, _MISSING)
    object.__setattr__(owner, attr, value)
    return ("attr", old)


def _restore(module: Module, name: str, saved: Any) -> None:
    owner, attr = _owner(module, name)
    slot, old = saved
    if slot == "attr":
        if old is _MISSING:
            owner.__dict__.pop(attr, None)
        else:
            object.__setattr__(owner, attr, old)
    else:
        owner.__dict__[slot][attr] = old


def _tied_names(module: Module) -> dict[str, list[str]]:
    """Every name under which each parameter/buffer is reachable, keyed by its first name."""
    first: dict[int, str] = {}
    tied: dict[str, list[str]] = {}
    members = list(module.named_parameters(remove_duplicate=False)) + \
        list(module.named_buffers(remove_duplicate=False))
    for name, t in members:
        key = first.setdefault(id(t), name)
        tied.setdefault(key, []).append(name)
    return tied


def functional_call(module: Module,
                    parameters_and_buffers: Union[dict[str, Tensor], tuple[dict, ...]],
                    args: Any = None, kwargs: Optional[dict[str, Any]] = None, *,
                    tie_weights: bool = True, strict: bool = False) -> Any:
    """Call ``module(*args, **kwargs)`` with its parameters and buffers replaced by the
    given tensors (by dotted name) for this call only; the module is left unchanged."""
    if isinstance(parameters_and_buffers, (list, tuple)):
        merged: dict[str, Tensor] = {}
        for d in parameters_and_buffers:
            for k, v in d.items():
                if k in merged:
                    raise ValueError(f"{k} appeared in multiple dictionaries; behavior of "
                                     "functional call is ambiguous")
                merged[k] = v
        parameters_and_buffers = merged
    values = dict(parameters_and_buffers)
    if tie_weights:
        for names in _tied_names(module).values():
            given = [n for n in names if n in values]
            if given:
                if len({id(values[n]) for n in given}) > 1:
                    raise ValueError(f"functional_call got multiple values for keys {given}, "
                                     "which are tied. Consider using tie_weights=False")
                for n in names:
                    values.setdefault(n, values[given[0]])
    if strict:
        expected = {n for n, _ in module.named_parameters(remove_duplicate=False)}
        expected |= {n for n, _ in module.named_buffers(remove_duplicate=False)}
        missing = sorted(expected - set(values))
        unexpected = sorted(set(values) - expected)
        msgs = []
        if unexpected:
            msgs.append("Unexpected key(s): {}.".format(", ".join(map(repr, unexpected))))
        if missing:
            msgs.append("Missing key(s): {}.".format(", ".join(map(repr, missing))))
        if msgs:
            raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(
                type(module).__name__, "\n\t".join(msgs)))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    saved = []
    try:
        for name, value in values.items():
            saved.append((name, _swap(module, name, value)))
        return module(*args, **(kwargs or {}))
    finally:
        for name, old in reversed(saved):
            _restore(module, name, old)
