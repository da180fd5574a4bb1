"""``torch.overrides`` (minimal): ember has no ``__torch_function__`` dispatch, so the checks
third-party code makes always say "no override" and it takes its ordinary path."""
from __future__ import annotations

from typing import Any, Callable, Iterable

__all__ = ["has_torch_function", "handle_torch_function", "has_torch_function_unary",
           "has_torch_function_variadic", "is_tensor_like", "get_ignored_functions",
           "get_overridable_functions"]


def has_torch_function(relevant_args: Iterable[Any]) -> bool:
    """Always False: no argument overrides ember functions."""
    return False


def has_torch_function_unary(arg: Any) -> bool:
    return False


def has_torch_function_variadic(*args: Any) -> bool:
    return False


def handle_torch_function(public_api: Callable, relevant_args: Iterable[Any], *args: Any,
                          **kwargs: Any) -> Any:
    """Only reached when has_torch_function was True, which never happens: just call it."""
    return public_api(*args, **kwargs)


def is_tensor_like(inp: Any) -> bool:
    from .tensor import Tensor
    return isinstance(inp, Tensor)


def get_ignored_functions() -> set:
    return set()


def get_overridable_functions() -> dict:
    return {}
