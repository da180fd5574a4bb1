"""Automatic differentiation: backward/grad, grad modes, custom Functions, gradcheck."""
from __future__ import annotations

from typing import Sequence

from . import graph
from .engine import run_backward
from .function import Function, FunctionCtx, InplaceFunction, once_differentiable
from .grad_mode import (detect_anomaly, enable_grad, inference_mode, is_anomaly_enabled,
                        is_grad_enabled, is_inference_mode_enabled, no_grad, set_detect_anomaly,
                        set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "no_grad",
           "enable_grad", "set_grad_enabled", "inference_mode", "detect_anomaly",
           "set_detect_anomaly", "gradcheck", "gradgradcheck", "GradcheckError",
           "is_grad_enabled", "graph"]


def _make_grads(outputs, grad_outputs):
    from ..creation import ones_like
    res = []
    for i, (o, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if o.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not o.dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs "
                                   f"but got {o.dtype!r}")
            g = ones_like(o)
        elif not hasattr(g, "_data"):
            from ..creation import tensor
            g = tensor(g, dtype=o.dtype, device=o.device)
        elif tuple(g.shape) != tuple(o.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{g.shape} and output[{i}] has a shape of {o.shape}.")
        res.append(g)
    return res


def _seq(x):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False,
             inputs=None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves."""
    tensors = _seq(tensors)
    grads = _seq(grad_tensors) or [None] * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    grads = _make_grads(tensors, grads)
    if inputs is not None:
        inputs = _seq(inputs)
        res = run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs,
                           allow_unused=True, accumulate=False)
        for t, g in zip(inputs, res):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
        return
    run_backward(tensors, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused=None, is_grads_batched: bool = False,
         materialize_grads: bool = False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated)."""
    outputs = _seq(outputs)
    inputs_seq = _seq(inputs)
    grads = _seq(grad_outputs) or [None] * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    grads = _make_grads(outputs, grads)
    res = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs_seq,
                       allow_unused=allow_unused, accumulate=False)
    if materialize_grads:
        from ..creation import zeros_like
        res = tuple(g if g is not None else zeros_like(x) for g, x in zip(res, inputs_seq))
    return res


class Variable:
    """Deprecated torch API: ``Variable(t)`` returns the tensor itself."""

    def __new__(cls, data, requires_grad: bool = False, volatile: bool = False):
        if requires_grad:
            data.requires_grad_(True)
        return data


Sequence = Sequence


from . import functional  # noqa: E402  (needs grad() above)
