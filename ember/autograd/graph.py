"""``torch.autograd.graph``: the Node type of grad_fn objects and saved-tensor hooks."""
from __future__ import annotations

from typing import Any, Callable

from ..ops import registry as _reg
from ..ops.registry import Node

__all__ = ["Node", "saved_tensors_hooks", "save_on_cpu"]


class saved_tensors_hooks:
    """Inside the block, every tensor an op saves for backward is stored as ``pack_hook(t)`` and
    handed back to backward as ``unpack_hook(packed)``, as ``torch.autograd.graph``'s.

    Args:
        pack_hook: called once per saved tensor when the op runs.
        unpack_hook: called with the packed value each time backward reads it.

    Example:
        >>> with saved_tensors_hooks(lambda t: t.clone(), lambda t: t):
        ...     y = x.exp()
    """

    def __init__(self, pack_hook: Callable[[Any], Any], unpack_hook: Callable[[Any], Any]):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        _reg.SAVED_TENSORS_HOOKS.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *exc):
        _reg.SAVED_TENSORS_HOOKS.pop()
        return False


class save_on_cpu(saved_tensors_hooks):
    """Keep saved tensors on the CPU and move them back to their device for backward."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        def pack(t):
            return (t.device, t.cpu())

        def unpack(packed):
            dev, t = packed
            return t.to(dev)
        super().__init__(pack, unpack)
