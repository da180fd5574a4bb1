"""Fused CUDA kernels for ember.nn's hot ops (softmax, cross_entropy, layer_norm, GELU, dropout,
embedding backward), as CuPy RawKernels compiled on first use.

The nn primitives call them for CUDA arrays that ``available`` accepts and keep their generic
CuPy path for everything else. Every kernel computes in float32 and reads and writes float32,
float16 and bfloat16 arrays; none reads device values on the host, so all of them can be
recorded into CUDA graphs. ``EMBER_CUDA_KERNELS=0`` in the environment (or ``enabled(False)``)
turns them off, for comparisons.

Nothing here imports CuPy until a kernel runs: ``import ember`` works without it.
"""
from __future__ import annotations

import os

import numpy as np

from . import activation, dropout, embedding, loss, norm, softmax  # noqa: F401
from ._common import tag

__all__ = ["available", "enabled", "activation", "dropout", "embedding", "loss", "norm",
           "softmax"]

_ON = [os.environ.get("EMBER_CUDA_KERNELS", "1") != "0"]


def enabled(on: bool | None = None) -> bool:
    """Whether the kernels are used; ``enabled(False)`` / ``enabled(True)`` switches them."""
    if on is not None:
        _ON[0] = bool(on)
    return _ON[0]


def available(arr) -> bool:
    """True when the kernels handle ``arr``: a non-empty CuPy float32/float16/bfloat16 array."""
    if not _ON[0] or type(arr) is np.ndarray:
        return False
    return arr.size > 0 and tag(arr) is not None
