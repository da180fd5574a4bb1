"""Gradient clipping (in place on ``p.grad``)."""
from __future__ import annotations

import math
from typing import Iterable, Union

import numpy as np

import ember as E
from ...tensor import Tensor

_Params = Union[Tensor, Iterable[Tensor]]


def _grads(parameters: _Params) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: _Params, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale all gradients so that their joint norm is at most ``max_norm``.

    Returns the total norm before clipping (a 0-d tensor), as torch does.
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return E.tensor(0.0)
    if grads[0].device.type != "cpu":
        return _clip_grad_norm_device(grads, float(max_norm), norm_type, error_if_nonfinite)
    if norm_type == math.inf:
        total = max(float(np.abs(g._data).max()) if g.numel() else 0.0 for g in grads)
    else:
        total = float(np.sum([np.sum(np.abs(g._data.astype(np.float64)) ** norm_type)
                              for g in grads]) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g._data *= g._data.dtype.type(coef)
            g._version[0] += 1
    return E.tensor(total, dtype=grads[0].dtype)


def _clip_grad_norm_device(grads: list, max_norm: float, norm_type: float,
                           error_if_nonfinite: bool) -> Tensor:
    """The GPU path: the norm and the scale stay on the device (the host path's
    ``np.sum`` over a list of CuPy scalars cannot convert them), so no host synchronisation
    unless ``error_if_nonfinite`` asks for a check, and the clip can be captured in a graph.
    The arithmetic matches the host path: float64 partial sums, coefficient capped at 1."""
    dev = grads[0].device  # per-gradient norms gather here when parameters span devices
    with E.no_grad():
        if norm_type == math.inf:
            parts = [g.detach().abs().max().double().to(dev) if g.numel()
                     else E.zeros((), dtype=E.float64, device=dev) for g in grads]
            total = E.stack(parts).max()
        else:
            parts = [g.detach().double().abs().pow(norm_type).sum().to(dev) for g in grads]
            total = E.stack(parts).sum() ** (1.0 / norm_type)
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                               "`parameters` is non-finite, so it cannot be clipped. To "
                               "disable this error and scale the gradients by the non-finite "
                               "norm anyway, set `error_if_nonfinite=False`")
        # Multiplying by a coefficient capped at 1 (rather than testing coef < 1 on the host)
        # keeps the step free of a device-to-host read; x * 1.0 leaves x unchanged.
        coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.device, g.dtype))
        return total.to(grads[0].dtype)


def clip_grad_value_(parameters: _Params, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        if g.device.type != "cpu":
            # A device op: NumPy cannot write into a CuPy (or bfloat16) array in place.
            with E.no_grad():
                g.clamp_(-clip_value, clip_value)
            continue
        np.clip(g._data, -clip_value, clip_value, out=g._data)
        g._version[0] += 1


def clip_grad_norm(parameters: _Params, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)
