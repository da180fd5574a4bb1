"""``torch.cuda.amp``: the deprecated CUDA spellings of ``ember.amp``'s autocast and scaler."""
from __future__ import annotations

import functools
import warnings
from typing import Optional

from ..amp import autocast_mode as _am
from ..amp._deprecated import make as _make
from ..amp.grad_scaler import OptState  # noqa: F401
from ..backend import dtypes as _dt

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]


autocast, GradScaler = _make("cuda", _dt.float16)


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
