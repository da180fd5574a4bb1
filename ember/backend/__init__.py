"""Arrays and devices: dtype table, promotion, and the per-device array namespace."""
from .device import as_device, cpu, device, get_xp
from .dtypes import dtype, get_default_dtype, promote_types, set_default_dtype

__all__ = ["as_device", "cpu", "device", "get_xp", "dtype", "get_default_dtype",
           "promote_types", "set_default_dtype"]
