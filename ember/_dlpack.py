"""DLPack interchange: ``Tensor.__dlpack__``, ``ember.from_dlpack`` and the legacy capsules.

CPU tensors go through NumPy's DLPack support and CUDA tensors through CuPy's, so memory is
shared, never copied. (On the CPU a bfloat16 tensor is stored as float32 and exports as such.)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["from_dlpack", "to_dlpack"]

_KDL_CPU, _KDL_CUDA, _KDL_CUDA_HOST, _KDL_CUDA_MANAGED = 1, 2, 3, 13


def _tensor_dlpack(self: Tensor, stream: Any = None, *, max_version=None, dl_device=None,
                   copy=None):
    """Export this tensor's memory as a DLPack capsule (the array-API protocol)."""
    if self.requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    kw = {}
    if stream is not None:
        kw["stream"] = stream
    if max_version is not None:
        kw["max_version"] = max_version
    if dl_device is not None:
        kw["dl_device"] = dl_device
    if copy is not None:
        kw["copy"] = copy
    return self._data.__dlpack__(**kw)


def _tensor_dlpack_device(self: Tensor) -> tuple:
    """(DLPack device type, device index) of this tensor's memory."""
    dev = self._data.__dlpack_device__()
    return (int(dev[0]), int(dev[1]))


Tensor.__dlpack__ = _tensor_dlpack
Tensor.__dlpack_device__ = _tensor_dlpack_device


class _Capsule:
    # Lets a bare (legacy) capsule pass through the object-based from_dlpack of NumPy/CuPy.
    def __init__(self, capsule, device: tuple):
        self._capsule = capsule
        self._device = device

    def __dlpack__(self, stream=None, **kw):
        return self._capsule

    def __dlpack_device__(self):
        return self._device


def from_dlpack(ext_tensor: Any) -> Tensor:
    """A tensor sharing the memory of any DLPack producer (or of a legacy DLPack capsule)."""
    if hasattr(ext_tensor, "__dlpack_device__"):
        kind = int(ext_tensor.__dlpack_device__()[0])
        if kind in (_KDL_CUDA, _KDL_CUDA_MANAGED):
            import cupy
            arr = cupy.from_dlpack(ext_tensor)
        elif kind in (_KDL_CPU, _KDL_CUDA_HOST):
            arr = np.from_dlpack(ext_tensor)
        else:
            raise RuntimeError(f"from_dlpack: unsupported DLPack device type {kind}")
    elif type(ext_tensor).__name__ == "PyCapsule":
        # A capsule does not say where its memory lives: try the host first, then CuPy.
        # (NumPy imports unversioned capsules read-only; the memory is still shared.)
        try:
            arr = np.from_dlpack(_Capsule(ext_tensor, (_KDL_CPU, 0)))
        except (RuntimeError, BufferError, TypeError, ValueError):
            import cupy
            arr = cupy.from_dlpack(ext_tensor)
    else:
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ or a DLPack capsule, "
                        f"got {type(ext_tensor).__name__}")
    return Tensor._from_array(arr)


def to_dlpack(tensor: Tensor):
    """A legacy DLPack capsule of ``tensor`` (use ``from_dlpack`` to consume it)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dlpack: expected a Tensor, got {type(tensor).__name__}")
    return tensor._data.__dlpack__()
