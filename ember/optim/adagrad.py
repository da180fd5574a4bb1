"""Adagrad (Duchi et al., 2011)."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..tensor import Tensor
from .optimizer import (Optimizer, addcmul_sq_, check_hparams, finish_update,
                        new_step_tensor, real_view, step_value, to_scalar, zeros_state)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, like ``torch.optim.Adagrad``.

    ``sum += g^2``; ``p -= clr * g / (sqrt(sum) + eps)`` with
    ``clr = lr / (1 + (t - 1) * lr_decay)``. The state is created for every parameter at
    construction (as torch does), so ``state_dict()`` lists all parameters from the start.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of ``sum`` (default 0).
        eps: denominator term (default 1e-10).
        maximize: maximize the objective.
        foreach, differentiable, fused: accepted for compatibility.

    Shape:
        Parameters of any shape; state ``sum`` has the parameter's shape.

    Example:
        >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_hparams(lr=lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        check_hparams(weight_decay=weight_decay)
        if not 0.0 <= initial_accumulator_value:
            raise ValueError("Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        check_hparams(eps=eps, differentiable=differentiable)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value,
                    "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p: Tensor) -> None:
        state = self.state[p]
        state["step"] = new_step_tensor()
        init = self.defaults["initial_accumulator_value"]
        state["sum"] = zeros_state(p, complex(init, init) if p.is_complex() else init)

    # Group options a state saved by an older version may lack (filled in on unpickling).
    _setstate_defaults = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "fused": None,
    }

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step.

        Args:
            closure: re-evaluates the model and returns the loss (optional).
        """
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = to_scalar(group["lr"])
            lr_decay = group["lr_decay"]
            eps = group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._grad_of(p, group["maximize"], group["weight_decay"])
                state = self.state[p]
                if len(state) == 0:
                    self._init_state(p)
                step_t = step_value(state)
                step_t._data += 1
                step = float(step_t._data)
                clr = lr / (1 + (step - 1) * lr_decay)
                param = real_view(p._data)
                g = real_view(g)
                state_sum = real_view(state["sum"]._data)
                tmp = self._scratch(param, 2)
                addcmul_sq_(state_sum, g, 1, tmp)
                std = self._scratch(param, 3)
                np.sqrt(state_sum, out=std)
                std += eps
                np.multiply(g, -clr, out=tmp)
                tmp /= std
                param += tmp
                finish_update(p)
        return loss
