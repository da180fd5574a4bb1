"""``torch.amp``: automatic mixed precision — :class:`autocast` and :class:`GradScaler`.

Kept light: ``ember.functional`` imports :func:`autocast_op` from here at ``import ember``.
"""
from __future__ import annotations

from .autocast_mode import (autocast, autocast_op, custom_bwd, custom_fwd,  # noqa: F401
                            is_autocast_available)
from .grad_scaler import GradScaler, OptState  # noqa: F401

__all__ = ["autocast", "custom_fwd", "custom_bwd", "is_autocast_available", "GradScaler"]
