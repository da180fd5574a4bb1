"""``torch.cpu.amp``: the deprecated CPU spellings of ``ember.amp``'s autocast and scaler."""
from __future__ import annotations

from ..amp._deprecated import make as _make
from ..backend import dtypes as _dt

__all__ = ["autocast", "GradScaler"]


autocast, GradScaler = _make("cpu", _dt.bfloat16)
