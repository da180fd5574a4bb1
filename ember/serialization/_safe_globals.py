"""The user's additions to the ``weights_only`` allowlist (torch.serialization's safe globals).

A listed class or function may be named by a checkpoint loaded with ``weights_only=True``:
functions may be called (REDUCE), classes instantiated (REDUCE or NEWOBJ) and their instances
given state (BUILD). Each entry is the object itself, found under
``f"{obj.__module__}.{obj.__qualname__}"``, or ``(obj, "module.qualname")`` to match the name
a checkpoint uses (say a class written by torch under another module path).
"""
from __future__ import annotations

from typing import Any, Callable, Union

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "safe_globals",
           "user_allowed_globals"]

# An entry: the object, or (object, "module.qualname").
SafeGlobal = Union[Callable, "tuple[Callable, str]"]

_MARKED: set = set()


def add_safe_globals(safe_globals: list[SafeGlobal]) -> None:
    """Mark classes/functions (or ``(obj, "module.qualname")`` pairs) as safe for
    ``ember.load(..., weights_only=True)``.

    Only list what you trust: a checkpoint may call a listed function with any arguments.

    Example:
        >>> ember.serialization.add_safe_globals([MyConfig])
        >>> ember.load("ckpt.pt")  # may now hold MyConfig instances
    """
    global _MARKED
    _MARKED = _MARKED.union(set(safe_globals))


def get_safe_globals() -> list[SafeGlobal]:
    """The user-added globals that ``weights_only`` loads accept."""
    return list(_MARKED)


def clear_safe_globals() -> None:
    """Forget every global added with ``add_safe_globals``."""
    global _MARKED
    _MARKED = set()


def _remove_safe_globals(items: list[SafeGlobal]) -> None:
    global _MARKED
    _MARKED = _MARKED - set(items)


class safe_globals:
    """Context manager: ``add_safe_globals(items)`` inside, removed again on exit.

    Example:
        >>> with ember.serialization.safe_globals([MyConfig]):
        ...     ckpt = ember.load("ckpt.pt")
    """

    def __init__(self, safe_globals: list[SafeGlobal]) -> None:
        self.safe_globals = safe_globals

    def __enter__(self) -> None:
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc: Any) -> None:
        _remove_safe_globals(self.safe_globals)


def user_allowed_globals() -> dict:
    """``{"module.qualname": obj}`` of the current entries (validated as torch does)."""
    out: dict = {}
    for entry in _MARKED:
        if isinstance(entry, tuple):
            if len(entry) != 2:
                raise ValueError("Expected tuple of length 2 (global, str of callable full "
                                 f"path), but got tuple of length: {len(entry)}")
            if type(entry[1]) is not str:
                raise TypeError("Expected second item in tuple to be str of callable full "
                                f"path, but got: {type(entry[1])}")
            out[entry[1]] = entry[0]
        else:
            out[f"{entry.__module__}.{entry.__qualname__}"] = entry
    return out
