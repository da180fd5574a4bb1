"""``torch.nn.attention``: ``SDPBackend`` and the ``sdpa_kernel`` context manager."""
from __future__ import annotations

import contextlib
import enum
from typing import Iterator, Union

from ...backends import _sdp

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.IntEnum):
    """The attention implementations torch can pick between."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_FLAG_OF = {SDPBackend.MATH: "math", SDPBackend.FLASH_ATTENTION: "flash",
            SDPBackend.EFFICIENT_ATTENTION: "mem_efficient",
            SDPBackend.CUDNN_ATTENTION: "cudnn", SDPBackend.OVERRIDEABLE: "overrideable"}


@contextlib.contextmanager
def sdpa_kernel(backends: Union[list, SDPBackend], set_priority: bool = False) -> Iterator[None]:
    """Enable only ``backends`` for scaled_dot_product_attention inside the block.

    ember records the choice; a list without any fused backend (e.g. ``[MATH]``) makes
    ember use its composite path. ``set_priority`` is accepted and has no effect.
    """
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of "
                             f"SDPBackend instances, got {type(backends).__name__}")
    chosen = [backends] if isinstance(backends, SDPBackend) else list(backends)
    for b in chosen:
        if not isinstance(b, SDPBackend):
            raise AssertionError("Backend must be an instance of SDPBackend or a list of "
                                 f"SDPBackend instances, got {type(b).__name__}")
    saved = dict(_sdp.ENABLED)
    for b, flag in _FLAG_OF.items():
        _sdp.ENABLED[flag] = b in chosen
    try:
        yield
    finally:
        _sdp.ENABLED.clear()
        _sdp.ENABLED.update(saved)
