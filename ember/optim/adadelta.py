"""Adadelta (Zeiler, 2012)."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..tensor import Tensor
from .optimizer import (Optimizer, addcmul_sq_, check_hparams, finish_update,
                        new_step_tensor, real_view, step_value, to_scalar, zeros_state)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta, like ``torch.optim.Adadelta``.

    ``v = rho v + (1 - rho) g^2``; ``delta = sqrt(u + eps) / sqrt(v + eps) * g``;
    ``u = rho u + (1 - rho) delta^2``; ``p -= lr delta``.

    Args:
        params: parameters or parameter groups to optimize.
        lr: coefficient of the update (default 1.0).
        rho: running-average coefficient (default 0.9).
        eps: term inside the square roots (default 1e-6).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective.
        foreach, capturable, differentiable: accepted for compatibility.

    Shape:
        Parameters of any shape; states ``square_avg`` and ``acc_delta`` have its shape.

    Example:
        >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.Adadelta([w])
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_hparams(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_hparams(eps=eps, weight_decay=weight_decay, differentiable=differentiable)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    # Group options a state saved by an older version may lack (filled in on unpickling).
    _setstate_defaults = {
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
            rho = group["rho"]
            eps = group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._grad_of(p, group["maximize"], group["weight_decay"])
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step_tensor()
                    state["square_avg"] = zeros_state(p)
                    state["acc_delta"] = zeros_state(p)
                step_value(state)._data += 1
                param = real_view(p._data)
                g = real_view(g)
                square_avg = real_view(state["square_avg"]._data)
                acc_delta = real_view(state["acc_delta"]._data)
                tmp = self._scratch(param, 2)
                square_avg *= rho
                addcmul_sq_(square_avg, g, 1 - rho, tmp)
                std = self._scratch(param, 3)
                np.add(square_avg, eps, out=std)
                np.sqrt(std, out=std)
                delta = self._scratch(param, 4)
                np.add(acc_delta, eps, out=delta)
                np.sqrt(delta, out=delta)
                delta /= std
                delta *= g
                acc_delta *= rho
                addcmul_sq_(acc_delta, delta, 1 - rho, tmp)
                np.multiply(delta, -lr, out=tmp)
                param += tmp
                finish_update(p)
        return loss
