"""``torch.utils.hooks``: the handle type that hook registrations return."""
from __future__ import annotations

from ..nn.modules.module import RemovableHandle

__all__ = ["RemovableHandle"]
