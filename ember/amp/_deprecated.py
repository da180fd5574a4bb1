"""The deprecated per-device spellings (``torch.cuda.amp`` / ``torch.cpu.amp``), made once for
each device: each class warns like torch and forwards to ``ember.amp`` with its device fixed."""
from __future__ import annotations

import warnings

from ..backend import dtypes as _dt
from . import autocast_mode as _am
from . import grad_scaler as _gs


def make(device: str, default_dtype: _dt.dtype):
    """(autocast, GradScaler) classes for ``torch.<device>.amp``."""

    class autocast(_am.autocast):
        def __init__(self, enabled: bool = True, dtype: _dt.dtype = default_dtype,
                     cache_enabled: bool = True):
            warnings.warn(f"`torch.{device}.amp.autocast(args...)` is deprecated. Please use "
                          f"`torch.amp.autocast('{device}', args...)` instead.", FutureWarning,
                          stacklevel=2)
            super().__init__(device, enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)

    class GradScaler(_gs.GradScaler):
        def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                     backoff_factor: float = 0.5, growth_interval: int = 2000,
                     enabled: bool = True) -> None:
            warnings.warn(f"`torch.{device}.amp.GradScaler(args...)` is deprecated. Please use "
                          f"`torch.amp.GradScaler('{device}', args...)` instead.",
                          FutureWarning, stacklevel=2)
            super().__init__(device, init_scale=init_scale, growth_factor=growth_factor,
                             backoff_factor=backoff_factor, growth_interval=growth_interval,
                             enabled=enabled)

    autocast.__doc__ = f"""Deprecated: ``ember.autocast("{device}", ...)``, same arguments minus
    ``device_type``.

    Args:
        enabled: whether autocasting is on in the region.
        dtype: the lower precision ({default_dtype.name} by default).
        cache_enabled: whether parameter casts are cached for the region.

    Shape:
        Outputs keep their shapes; only dtypes change.

    Example::

        >>> with ember.{device}.amp.autocast():   # FutureWarning; prefer ember.autocast
        ...     y = model(x)
    """
    GradScaler.__doc__ = f"""Deprecated: ``ember.amp.GradScaler("{device}", ...)``.

    Args:
        init_scale, growth_factor, backoff_factor, growth_interval, enabled: as
            :class:`ember.amp.GradScaler`.

    Shape:
        ``scale(outputs)`` keeps the shapes of ``outputs``.

    Example::

        >>> scaler = ember.{device}.amp.GradScaler()   # FutureWarning
    """
    for cls in (autocast, GradScaler):
        cls.__module__ = f"ember.{device}.amp"
        cls.__qualname__ = cls.__name__
    return autocast, GradScaler
