"""RMSprop (Hinton's lecture 6e; centered variant of Graves, 2013)."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..tensor import Tensor
from .optimizer import (Optimizer, addcmul_sq_, check_hparams, finish_update, lerp_,
                        new_step_tensor, real_view, step_value, to_scalar, zeros_state)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, like ``torch.optim.RMSprop``.

    ``v = alpha v + (1 - alpha) g^2``; the denominator is ``sqrt(v) + eps`` (``centered``:
    ``sqrt(v - mean_g^2) + eps`` with ``mean_g`` a running average of ``g``); with momentum,
    ``buf = momentum buf + g / denom`` and ``p -= lr buf``, else ``p -= lr g / denom``.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant (default 0.99).
        eps: denominator term (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalize by an estimate of the gradient's variance.
        maximize: maximize the objective.
        capturable, foreach, differentiable: accepted for compatibility.

    Shape:
        Parameters of any shape; states ``square_avg`` (and ``momentum_buffer``, ``grad_avg``)
        have the parameter's shape.

    Example:
        >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.RMSprop([w], lr=0.01, momentum=0.9, centered=True)
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_hparams(lr=lr, eps=eps)
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        check_hparams(weight_decay=weight_decay)
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        check_hparams(differentiable=differentiable)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    # Group options a state saved by an older version may lack (filled in on unpickling).
    _setstate_defaults = {
        "momentum": 0,
        "centered": False,
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "capturable": False,
    }

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step.

        Args:
            closure: re-evaluates the model and returns the loss (optional).
        """
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = to_scalar(group["lr"])
            alpha = group["alpha"]
            eps = group["eps"]
            momentum = group["momentum"]
            centered = group["centered"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._grad_of(p, group["maximize"], group["weight_decay"])
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step_tensor()
                    state["square_avg"] = zeros_state(p)
                    if momentum > 0:
                        state["momentum_buffer"] = zeros_state(p)
                    if centered:
                        state["grad_avg"] = zeros_state(p)
                step_value(state)._data += 1
                param = real_view(p._data)
                g = real_view(g)
                square_avg = real_view(state["square_avg"]._data)
                tmp = self._scratch(param, 2)
                square_avg *= alpha
                addcmul_sq_(square_avg, g, 1 - alpha, tmp)
                avg = self._scratch(param, 3)
                if centered:
                    grad_avg = real_view(state["grad_avg"]._data)
                    lerp_(grad_avg, g, 1 - alpha, tmp)
                    np.multiply(grad_avg, -1, out=avg)
                    avg *= grad_avg
                    avg += square_avg
                    np.sqrt(avg, out=avg)
                else:
                    np.sqrt(square_avg, out=avg)
                avg += eps
                if momentum > 0:
                    buf = real_view(state["momentum_buffer"]._data)
                    buf *= momentum
                    np.divide(g, avg, out=tmp)
                    buf += tmp
                    np.multiply(buf, -lr, out=tmp)
                else:
                    np.multiply(g, -lr, out=tmp)
                    tmp /= avg
                param += tmp
                finish_update(p)
        return loss
