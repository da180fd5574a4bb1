"""Scaled-dot-product-attention backend flags (``torch.backends.cuda.*_sdp``).

ember has two attention paths: the composite math one and a fused cuDNN node. The flags are
recorded as torch keeps them; only "every fused backend disabled" changes ember's choice (it
forces the composite path), since ember has no separate flash / memory-efficient kernels.
"""
from __future__ import annotations

import contextlib
import enum
import warnings
from typing import Iterator, Union

# flash, mem_efficient, math, cudnn, overrideable: all on by default, as in torch.
ENABLED = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True,
           "overrideable": True}


def fused_allowed() -> bool:
    """Whether scaled_dot_product_attention may use ember's fused (cuDNN) node."""
    return ENABLED["flash"] or ENABLED["cudnn"] or ENABLED["mem_efficient"]


def _flag(name: str):
    def enable(enabled: bool) -> None:
        ENABLED[name] = bool(enabled)

    def is_enabled() -> bool:
        return ENABLED[name]
    enable.__doc__ = f"Enable or disable the {name} scaled-dot-product-attention backend."
    is_enabled.__doc__ = f"Whether the {name} scaled-dot-product-attention backend is on."
    return enable, is_enabled


enable_flash_sdp, flash_sdp_enabled = _flag("flash")
enable_mem_efficient_sdp, mem_efficient_sdp_enabled = _flag("mem_efficient")
enable_math_sdp, math_sdp_enabled = _flag("math")
enable_cudnn_sdp, cudnn_sdp_enabled = _flag("cudnn")


@contextlib.contextmanager
def sdp_kernel(enable_flash: bool = True, enable_math: bool = True,
               enable_mem_efficient: bool = True, enable_cudnn: bool = True) -> Iterator[None]:
    """Deprecated torch context manager: set the four flags, restore them on exit."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this "
                  "context manager will be removed. Please see "
                  "`torch.nn.attention.sdpa_kernel()` for the new context manager, with "
                  "updated signature.", FutureWarning, stacklevel=3)
    saved = dict(ENABLED)
    ENABLED.update(flash=bool(enable_flash), math=bool(enable_math),
                   mem_efficient=bool(enable_mem_efficient), cudnn=bool(enable_cudnn))
    try:
        yield
    finally:
        ENABLED.clear()
        ENABLED.update(saved)


class _BlasBackend(enum.Enum):
    Default = 0
    Cublas = 1
    Cublaslt = 2
    Ck = 3


_BLAS_NAMES = {"cublas": _BlasBackend.Cublas, "cublaslt": _BlasBackend.Cublaslt,
               "hipblaslt": _BlasBackend.Cublaslt, "ck": _BlasBackend.Ck,
               "default": _BlasBackend.Default}
_BLAS = [_BlasBackend.Cublas]


def preferred_blas_library(backend: Union[None, str, _BlasBackend] = None) -> _BlasBackend:
    """Record a preferred BLAS library (ember always uses cuBLAS); returns the current one."""
    if backend is None:
        return _BLAS[0]
    if isinstance(backend, str):
        if backend not in _BLAS_NAMES:
            raise RuntimeError("Unknown input value. Choose from: "
                               + ", ".join(_BLAS_NAMES) + ".")
        backend = _BLAS_NAMES[backend]
    elif not isinstance(backend, _BlasBackend):
        raise RuntimeError("Unknown input value type.")
    # Default means "let the library decide", which for ember is cuBLAS.
    _BLAS[0] = _BlasBackend.Cublas if backend is _BlasBackend.Default else backend
    return _BLAS[0]


def attach(ns) -> None:
    """Put the flag functions on the ``ember.backends.cuda`` namespace."""
    for name in ("sdp_kernel", "enable_flash_sdp", "flash_sdp_enabled", "enable_math_sdp",
                 "math_sdp_enabled", "enable_mem_efficient_sdp", "mem_efficient_sdp_enabled",
                 "enable_cudnn_sdp", "cudnn_sdp_enabled", "preferred_blas_library"):
        setattr(ns, name, globals()[name])
