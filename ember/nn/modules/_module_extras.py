"""Helpers behind the newer ``nn.Module`` methods (kept out of module.py)."""
from __future__ import annotations

from typing import Any


def set_submodule(root: Any, target: str, module: Any, strict: bool = False) -> None:
    """``Module.set_submodule``: error types and messages as torch 2.13."""
    from .module import Module
    if target == "":
        raise ValueError("Cannot set the submodule without a target name!")
    atoms = target.split(".")
    if not isinstance(module, Module):
        raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
    parent = root if len(atoms) == 1 else root.get_submodule(".".join(atoms[:-1]))
    last = atoms[-1]
    if strict and not hasattr(parent, last):
        raise AttributeError(parent._get_name() + " has no attribute `" + last + "`")
    if hasattr(parent, last) and not isinstance(getattr(parent, last), Module):
        raise AttributeError("`" + last + "` is not an nn.Module")
    setattr(parent, last, module)
