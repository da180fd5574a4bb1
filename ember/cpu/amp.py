"""``torch.cpu.amp``: the deprecated CPU spellings of ``ember.amp``'s autocast and scaler."""
from __future__ import annotations

import warnings

from ..amp import autocast_mode as _am
from ..amp import grad_scaler as _gs
from ..backend import dtypes as _dt

__all__ = ["autocast", "GradScaler"]


class autocast(_am.autocast):
    """Deprecated: ``ember.autocast("cpu", ...)``. Same arguments minus ``device_type``.

    Args:
        enabled: whether autocasting is on in the region.
        dtype: the lower precision (bfloat16 by default).
        cache_enabled: whether parameter casts are cached for the region.

    Shape:
        Outputs keep their shapes; only dtypes change.

    Example::

        >>> with ember.cpu.amp.autocast():      # FutureWarning; prefer ember.autocast("cpu")
        ...     y = model(x)
    """

    def __init__(self, enabled: bool = True, dtype: _dt.dtype = _dt.bfloat16,
                 cache_enabled: bool = True):
        warnings.warn("`torch.cpu.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cpu', args...)` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(_gs.GradScaler):
    """Deprecated: ``ember.amp.GradScaler("cpu", ...)``.

    Args:
        init_scale, growth_factor, backoff_factor, growth_interval, enabled: as
            :class:`ember.amp.GradScaler`.

    Shape:
        ``scale(outputs)`` keeps the shapes of ``outputs``.

    Example::

        >>> scaler = ember.cpu.amp.GradScaler()   # FutureWarning
    """

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        warnings.warn("`torch.cpu.amp.GradScaler(args...)` is deprecated. Please use "
                      "`torch.amp.GradScaler('cpu', args...)` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__("cpu", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)
