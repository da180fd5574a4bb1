"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with the momentum-decay schedule."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..tensor import Tensor, make_tensor
from .optimizer import (Optimizer, addcmul_sq_, check_hparams, finish_update, lerp_,
                        new_step_tensor, real_view, scalar_dtype, step_value, to_scalar,
                        zeros_state)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam, like ``torch.optim.NAdam``.

    ``mu_t = beta1 (1 - 0.5 * 0.96^(t * momentum_decay))``; ``mu_product`` is the running
    product of the ``mu_t`` (kept, like torch, as a 0-d tensor of the step dtype, so it is
    rounded to float32 under the default dtype). With ``m``, ``v`` as in Adam and
    ``denom = sqrt(v / (1 - beta2^t)) + eps``:
    ``p -= lr (1 - mu_t) / (1 - mu_product) g / denom
    + lr mu_{t+1} / (1 - mu_product mu_{t+1}) m / denom``.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: running-average coefficients (default (0.9, 0.999)).
        eps: denominator term (default 1e-8).
        weight_decay: weight decay (default 0).
        momentum_decay: momentum decay psi (default 4e-3).
        decoupled_weight_decay: decay the parameter directly (NAdamW) instead of adding the
            L2 penalty to the gradient.
        maximize: maximize the objective.
        foreach, capturable, differentiable: accepted for compatibility.

    Shape:
        Parameters of any shape; states ``exp_avg``, ``exp_avg_sq`` have its shape; ``step`` and
        ``mu_product`` are 0-d tensors.

    Example:
        >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.NAdam([w])
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_hparams(lr=lr, eps=eps, betas=betas, weight_decay=weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        check_hparams(differentiable=differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    # Group options a state saved by an older version may lack (filled in on unpickling).
    _setstate_defaults = {
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
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
            weight_decay = group["weight_decay"]
            momentum_decay = group["momentum_decay"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._grad_of(p, group["maximize"], 0 if decoupled else weight_decay)
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step_tensor()
                    state["mu_product"] = new_step_tensor(1.0)
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                step_t = step_value(state)
                step_t._data += 1
                step = float(step_t._data)
                mu_product_t = state["mu_product"]
                if not isinstance(mu_product_t, Tensor):
                    d = scalar_dtype()
                    mu_product_t = make_tensor(np.array(mu_product_t, dtype=d.np), d, None)
                    state["mu_product"] = mu_product_t
                bias_correction2 = 1 - beta2 ** step
                if weight_decay != 0 and decoupled:
                    p._data *= 1 - lr * weight_decay
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                mu_product_t._data *= mu
                mu_product = float(mu_product_t._data)
                param = real_view(p._data)
                g = real_view(g)
                exp_avg = real_view(state["exp_avg"]._data)
                exp_avg_sq = real_view(state["exp_avg_sq"]._data)
                tmp = self._scratch(param, 2)
                lerp_(exp_avg, g, 1 - beta1, tmp)
                exp_avg_sq *= beta2
                addcmul_sq_(exp_avg_sq, g, 1 - beta2, tmp)
                denom = self._scratch(param, 3)
                np.divide(exp_avg_sq, bias_correction2, out=denom)
                np.sqrt(denom, out=denom)
                denom += eps
                mu_product_next = mu_product * mu_next
                np.multiply(g, -lr * (1.0 - mu) / (1.0 - mu_product), out=tmp)
                tmp /= denom
                param += tmp
                np.multiply(exp_avg, (-lr * mu_next) / (1.0 - mu_product_next), out=tmp)
                tmp /= denom
                param += tmp
                finish_update(p)
        return loss
