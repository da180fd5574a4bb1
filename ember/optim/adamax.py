"""Adamax: Adam with the infinity norm (Kingma & Ba, 2015, section 7)."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..tensor import Tensor
from .optimizer import (Optimizer, check_hparams, finish_update, lerp_, new_step_tensor,
                        real_view, step_value, to_scalar, zeros_state)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax, like ``torch.optim.Adamax``.

    ``m = lerp(m, g, 1 - beta1)``, ``u = max(beta2 u, |g| + eps)``,
    ``p -= lr / (1 - beta1^t) * m / u``.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: coefficients of the running average and of the infinity norm.
        eps: added to ``|g|`` (default 1e-8).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective.
        foreach, differentiable, capturable: accepted for compatibility.

    Shape:
        Parameters of any shape; states ``exp_avg`` and ``exp_inf`` have its shape.

    Example:
        >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.Adamax([w])
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        check_hparams(lr=lr, eps=eps, betas=betas, weight_decay=weight_decay,
                      differentiable=differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
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
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._grad_of(p, group["maximize"], group["weight_decay"])
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step_tensor()
                    state["exp_avg"] = zeros_state(p)
                    state["exp_inf"] = zeros_state(p)
                step_t = step_value(state)
                step_t._data += 1
                param = real_view(p._data)
                g = real_view(g)
                exp_avg = real_view(state["exp_avg"]._data)
                exp_inf = real_view(state["exp_inf"]._data)
                tmp = self._scratch(param, 2)
                lerp_(exp_avg, g, 1 - beta1, tmp)
                exp_inf *= beta2
                np.abs(g, out=tmp)
                tmp += eps
                np.maximum(exp_inf, tmp, out=exp_inf)
                clr = lr / (1 - beta1 ** float(step_t._data))
                np.multiply(exp_avg, -clr, out=tmp)
                tmp /= exp_inf
                param += tmp
                finish_update(p)
        return loss
