"""Adam (Kingma & Ba, 2015) with AMSGrad (Reddi et al., 2018), and AdamW (Loshchilov & Hutter,
2019): the decoupled-weight-decay variant."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..tensor import Tensor
from .optimizer import (Optimizer, addcmul_sq_, check_hparams, finish_update, lerp_,
                        new_step_tensor, real_view, step_value, to_scalar, zeros_state)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam, like ``torch.optim.Adam``.

    ``m = lerp(m, g, 1 - beta1)``, ``v = beta2 v + (1 - beta2) g^2``, and
    ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``; with ``amsgrad`` the
    running maximum of ``v`` replaces ``v`` in the denominator.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and its square.
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (added to the gradient; decoupled in AdamW) (default 0).
        amsgrad: use the AMSGrad variant.
        maximize: maximize the objective.
        decoupled_weight_decay: shrink the parameter by ``1 - lr * weight_decay`` instead of
            adding the penalty to the gradient (this is AdamW).
        foreach, capturable, differentiable, fused: accepted for compatibility.

    Shape:
        Parameters of any shape; states ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``)
        have the parameter's shape, ``step`` is a 0-d float tensor.

    Example:
        >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.Adam([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        check_hparams(lr=lr, eps=eps, betas=betas, weight_decay=weight_decay,
                      differentiable=differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    # Group options a state saved by an older version may lack (filled in on unpickling).
    _setstate_defaults = {
        "amsgrad": False,
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
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
            beta1, beta2 = (to_scalar(b) for b in group["betas"])
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            amsgrad = group["amsgrad"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._grad_of(p, group["maximize"], 0 if decoupled else weight_decay)
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step_tensor()
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = zeros_state(p)
                step_t = step_value(state)
                step_t._data += 1
                if weight_decay != 0 and decoupled:
                    p._data *= 1 - lr * weight_decay
                param = real_view(p._data)
                g = real_view(g)
                exp_avg = real_view(state["exp_avg"]._data)
                exp_avg_sq = real_view(state["exp_avg_sq"]._data)
                tmp = self._scratch(param, 2)
                lerp_(exp_avg, g, 1 - beta1, tmp)
                exp_avg_sq *= beta2
                addcmul_sq_(exp_avg_sq, g, 1 - beta2, tmp)
                step = float(step_t._data)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2 ** 0.5
                if amsgrad:
                    max_sq = real_view(state["max_exp_avg_sq"]._data)
                    np.maximum(max_sq, exp_avg_sq, out=max_sq)
                    second = max_sq
                else:
                    second = exp_avg_sq
                denom = self._scratch(param, 3)
                np.sqrt(second, out=denom)
                denom /= bias_correction2_sqrt
                denom += eps
                np.multiply(exp_avg, -step_size, out=tmp)
                tmp /= denom
                param += tmp
                finish_update(p)
        return loss


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay, like ``torch.optim.AdamW``.

    Each step first shrinks the parameter, ``p *= 1 - lr * weight_decay``, then applies the
    Adam update to the plain gradient.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: running-average coefficients (default (0.9, 0.999)).
        eps: denominator term (default 1e-8).
        weight_decay: decoupled weight decay (default 1e-2).
        amsgrad: use the AMSGrad variant.
        maximize: maximize the objective.
        foreach, capturable, differentiable, fused: accepted for compatibility.

    Shape:
        As :class:`Adam`.

    Example:
        >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.AdamW([w], lr=0.01, weight_decay=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # A state saved by AdamW is always decoupled, whatever the loaded group says.
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
