"""ember.utils.dlpack: torch.utils.dlpack's from_dlpack / to_dlpack."""
from __future__ import annotations

from .._dlpack import from_dlpack, to_dlpack

__all__ = ["from_dlpack", "to_dlpack"]
