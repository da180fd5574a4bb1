"""Stochastic gradient descent with momentum, dampening, Nesterov, weight decay, maximize."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..tensor import Tensor, make_tensor
from . import _fused
from .optimizer import Optimizer, check_hparams, finish_update, to_scalar

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), like ``torch.optim.SGD``.

    With ``g`` the gradient (plus ``weight_decay * p``, negated if ``maximize``), momentum keeps
    ``buf = momentum * buf + (1 - dampening) * g`` (``buf = g`` on the first step) and the step
    is ``p -= lr * (g + momentum * buf if nesterov else buf)`` (Sutskever et al., 2013, in
    PyTorch's formulation, which differs from the paper's placement of ``lr``).

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening of the momentum (default 0).
        weight_decay: L2 penalty added to the gradient (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, fused: on CUDA the update of a whole group runs as a few multi-tensor
            kernel launches (``ember/cuda/kernels/optim.py``, ``lr`` read from a device
            scalar) unless ``foreach=False``; CPU parameters take one in-place NumPy update
            per parameter.
        differentiable: not supported.

    Shape:
        Parameters of any shape; state ``momentum_buffer`` has the parameter's shape.

    Example:
        >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_hparams(lr=lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        check_hparams(weight_decay=weight_decay, differentiable=differentiable)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    # Group options a state saved by an older version may lack (filled in on unpickling).
    _setstate_defaults = {
        "nesterov": False,
        "maximize": False,
        "foreach": None,
        "differentiable": False,
        "fused": False,
    }

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step.

        Args:
            closure: re-evaluates the model and returns the loss (optional).
        """
        loss = self._eval_closure(closure)
        for index, group in enumerate(self.param_groups):
            params = [p for p in group["params"] if p.grad is not None]
            fused, params = _fused.split(self, group, params)
            if fused:
                _fused.sgd(self, index, group, fused)
            if not params:
                continue
            lr = to_scalar(group["lr"])
            momentum = group["momentum"]
            dampening = group["dampening"]
            nesterov = group["nesterov"]
            weight_decay = to_scalar(group["weight_decay"])
            maximize = group["maximize"]
            for p in params:
                g = self._grad_of(p, maximize, weight_decay)
                if momentum != 0:
                    state = self.state[p]
                    buf_t = state.get("momentum_buffer")
                    if buf_t is None:
                        buf = g.copy()
                        state["momentum_buffer"] = make_tensor(buf, p._dtype, p._device)
                    else:
                        buf = buf_t._data
                        buf *= momentum
                        if dampening == 0:
                            buf += g
                        else:
                            tmp = self._scratch(p._data, 2)
                            np.multiply(g, 1 - dampening, out=tmp)
                            buf += tmp
                    if nesterov:
                        out = self._scratch(p._data, 2)
                        np.multiply(buf, momentum, out=out)
                        np.add(g, out, out=out)
                        g = out
                    else:
                        g = buf
                upd = self._scratch(p._data, 3)
                np.multiply(g, -lr, out=upd)
                p._data += upd
                finish_update(p)
        return loss
