"""Devices and the array namespace (`xp`) that serves each of them."""
from __future__ import annotations

import numpy as np

__all__ = ["device", "cpu", "get_xp", "as_device"]


class device:
    """A place where tensors live, as ``torch.device``: ``device("cpu")``, ``device("cuda:0")``.

    Args:
        type: ``"cpu"`` or ``"cuda"``, optionally with ``":index"``.
        index: the device ordinal for ``cuda``.

    Example:
        >>> device("cuda:1").index
        1
    """

    __slots__ = ("type", "index")

    def __new__(cls, type_or_str="cpu", index: int | None = None):
        if isinstance(type_or_str, device):
            return type_or_str
        if isinstance(type_or_str, int):
            type_or_str, index = "cuda", type_or_str
        s = str(type_or_str)
        if ":" in s:
            s, idx = s.split(":", 1)
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type_or_str}'")
            index = int(idx)
        if s not in ("cpu", "cuda", "meta"):
            raise RuntimeError(
                "Expected one of cpu, cuda, meta device type at start of device string: "
                f"{type_or_str}")
        key = (s, index)
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        obj = object.__new__(cls)
        object.__setattr__(obj, "type", s)
        object.__setattr__(obj, "index", index)
        _CACHE[key] = obj
        return obj

    def __setattr__(self, k, v):
        raise AttributeError("device is immutable")

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))


_CACHE: dict = {}
cpu = device("cpu")


def as_device(d) -> device:
    """A device with the index filled in: plain ``"cuda"`` means the current CUDA device, so that
    tensors made with ``device="cuda"`` and ``"cuda:0"`` compare as the same place."""
    if d is None:
        return cpu
    dev = device(d)
    if dev.type == "cuda" and dev.index is None:
        from .. import cuda
        dev = device("cuda", cuda.current_device())
    return dev


# Depth of CUDA-graph captures in progress (ember.cuda.graphs). While capturing, code must not
# read device values on the host (bounds checks that would sync are skipped then).
CAPTURING = [0]


def host_checks_allowed() -> bool:
    """False while a CUDA graph is being captured: skip validation that reads GPU values."""
    return CAPTURING[0] == 0


def matmul(a, b):
    """``a @ b`` on raw arrays; CUDA arrays go through ember.cuda.blas so that matrix products
    also work while a CUDA graph is being captured."""
    if type(a) is np.ndarray:
        return a @ b
    from ..cuda import blas
    return blas.matmul(a, b)


_CUPY: list = []


def get_xp(dev: device):
    """The array module for a device: numpy for CPU, cupy for CUDA."""
    if dev.type == "cpu":
        return np
    if _CUPY:
        return _CUPY[0]
    from .. import cuda as _cuda
    xp = _cuda._cupy()
    _CUPY.append(xp)  # an op's hot path asks for it: no import machinery after the first
    return xp
