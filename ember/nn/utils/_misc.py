"""Small ``torch.nn.utils`` helpers: skip_init, get_total_norm, clip_grads_with_norm_,
convert_conv{2,3}d_weight_memory_format."""
from __future__ import annotations

import inspect
import math
from typing import Any, Iterable, Optional, Union

import ember as E
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["skip_init", "get_total_norm", "clip_grads_with_norm_",
           "convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]

_Tensors = Union[Tensor, Iterable[Tensor]]


def skip_init(module_cls: type, *args: Any, **kwargs: Any) -> Module:
    """Build ``module_cls(*args, **kwargs)`` without running its parameter initialisers
    (the values are then unspecified, as torch's are); the module must take ``device``."""
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    from .. import init
    # torch builds on the meta device and allocates afterwards; ember has no meta storage,
    # so it disables the in-place initialisers while the constructor runs instead.
    names = [n for n in dir(init) if n.endswith("_") and not n.startswith("_")
             and n != "calculate_gain"]
    saved = {n: getattr(init, n) for n in names}
    try:
        for n in names:
            setattr(init, n, lambda tensor, *a, **k: tensor)
        return module_cls(*args, **kwargs)
    finally:
        for n, f in saved.items():
            setattr(init, n, f)


def _vector_norm(t: Tensor, p: float) -> Tensor:
    a = t.detach().abs()
    if p == math.inf:
        return a.max() if a.numel() else E.zeros((), dtype=a.dtype, device=a.device)
    if p == -math.inf:
        return a.min()
    if p == 0:
        return (a != 0).to(a.dtype).sum()
    if p == 1:
        return a.sum()
    if p == 2:
        return (a * a).sum().sqrt()
    return a.pow(p).sum().pow(1.0 / p)


def get_total_norm(tensors: _Tensors, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: Optional[bool] = None) -> Tensor:
    """The ``norm_type`` norm of the norms of ``tensors`` (as if concatenated)."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return E.tensor(0.0)
    with no_grad():
        dev = tensors[0].device
        norms = [_vector_norm(t, norm_type).to(dev) for t in tensors]
        total = _vector_norm(E.stack(norms), norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters: _Tensors, max_norm: float, total_norm: Tensor,
                          foreach: Optional[bool] = None) -> None:
    """Scale the gradients by ``min(1, max_norm / (total_norm + 1e-6))`` in place."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    with no_grad():
        coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.device, g.dtype))


def convert_conv2d_weight_memory_format(module: Module, memory_format: Any) -> Module:
    """Accepted for compatibility: ember stores every tensor contiguous, so this returns
    ``module`` unchanged."""
    return module


def convert_conv3d_weight_memory_format(module: Module, memory_format: Any) -> Module:
    """Accepted for compatibility (see :func:`convert_conv2d_weight_memory_format`)."""
    return module
