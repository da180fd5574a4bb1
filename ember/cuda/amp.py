"""``torch.cuda.amp``: the deprecated CUDA spellings of ``ember.amp``'s autocast and scaler."""
from __future__ import annotations

import functools
import warnings
from typing import Optional

from ..amp import autocast_mode as _am
from ..amp import grad_scaler as _gs
from ..amp.grad_scaler import OptState  # noqa: F401
from ..backend import dtypes as _dt

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]


class autocast(_am.autocast):
    """Deprecated: ``ember.autocast("cuda", ...)``. Same arguments minus ``device_type``.

    Args:
        enabled: whether autocasting is on in the region.
        dtype: the lower precision (float16 by default).
        cache_enabled: whether parameter casts are cached for the region.

    Shape:
        Outputs keep their shapes; only dtypes change.

    Example::

        >>> with ember.cuda.amp.autocast():     # FutureWarning; prefer ember.autocast("cuda")
        ...     y = model(x)
    """

    def __init__(self, enabled: bool = True, dtype: _dt.dtype = _dt.float16,
                 cache_enabled: bool = True):
        warnings.warn("`torch.cuda.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(_gs.GradScaler):
    """Deprecated: ``ember.amp.GradScaler("cuda", ...)``.

    Args:
        init_scale, growth_factor, backoff_factor, growth_interval, enabled: as
            :class:`ember.amp.GradScaler`.

    Shape:
        ``scale(outputs)`` keeps the shapes of ``outputs``.

    Example::

        >>> scaler = ember.cuda.amp.GradScaler()   # FutureWarning
    """

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                      "`torch.amp.GradScaler('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)


def custom_fwd(fwd=None, *, cast_inputs: Optional[_dt.dtype] = None):
    """Deprecated: ``ember.amp.custom_fwd(device_type="cuda")``."""
    warnings.warn("`torch.cuda.amp.custom_fwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_fwd(args..., device_type='cuda')` instead.",
                  FutureWarning, stacklevel=2)
    if fwd is None:
        return functools.partial(_am.custom_fwd, device_type="cuda", cast_inputs=cast_inputs)
    return _am.custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd=None):
    """Deprecated: ``ember.amp.custom_bwd(device_type="cuda")``."""
    warnings.warn("`torch.cuda.amp.custom_bwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_bwd(args..., device_type='cuda')` instead.",
                  FutureWarning, stacklevel=2)
    if bwd is None:
        return functools.partial(_am.custom_bwd, device_type="cuda")
    return _am.custom_bwd(bwd, device_type="cuda")
