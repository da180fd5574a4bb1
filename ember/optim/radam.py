"""RAdam: Adam with a rectified adaptive learning rate (Liu et al., 2020)."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..tensor import Tensor
from ._adam_base import AdamFamily, AdamHyper
from .optimizer import check_hparams

__all__ = ["RAdam"]


class RAdam(AdamFamily):
    """RAdam, like ``torch.optim.RAdam``.

    With ``rho_inf = 2 / (1 - beta2) - 1`` and
    ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)``: while ``rho_t <= 5`` the step is plain
    momentum SGD with bias correction, ``p -= lr m / (1 - beta1^t)``; after that it is
    multiplied by the adaptive term ``sqrt(1 - beta2^t) / (sqrt(v) + eps)`` and the
    rectification ``sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))``.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: running-average coefficients (default (0.9, 0.999)).
        eps: denominator term (default 1e-8).
        weight_decay: weight decay (default 0).
        decoupled_weight_decay: decay the parameter directly (RAdamW).
        maximize: maximize the objective.
        foreach, capturable, differentiable: accepted for compatibility.

    Shape:
        Parameters of any shape; states ``exp_avg``, ``exp_avg_sq`` have its shape.

    Example:
        >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.RAdam([w])
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        check_hparams(lr=lr, eps=eps, betas=betas, weight_decay=weight_decay,
                      differentiable=differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    # Group options a state saved by an older version may lack (filled in on unpickling).
    _setstate_defaults = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
        "capturable": False,
    }

    def _update(self, p: Tensor, param, g, state: dict, step: float, hp: AdamHyper,
                group: dict) -> None:
        tmp = self._scratch(param, 2)
        exp_avg = self._first_moment_(state, g, hp, tmp)
        exp_avg_sq = self._second_moment_(state, g, hp, tmp)
        bias_correction1 = 1 - hp.beta1 ** step
        bias_correction2 = 1 - hp.beta2 ** step
        # tmp = bias-corrected first moment, times lr (torch's evaluation order).
        np.divide(exp_avg, bias_correction1, out=tmp)
        tmp *= hp.lr
        rho_inf = 2 / (1 - hp.beta2) - 1
        rho_t = rho_inf - 2 * step * (hp.beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            adaptive = self._scratch(param, 3)
            np.sqrt(exp_avg_sq, out=adaptive)
            adaptive += hp.eps
            np.divide(bias_correction2 ** 0.5, adaptive, out=adaptive)
            tmp *= adaptive
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            tmp *= rect
        param -= tmp
