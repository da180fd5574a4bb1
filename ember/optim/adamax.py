"""Adamax: Adam with the infinity norm (Kingma & Ba, 2015, section 7)."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..tensor import Tensor
from ._adam_base import AdamFamily, AdamHyper
from .optimizer import check_hparams, real_view

__all__ = ["Adamax"]


class Adamax(AdamFamily):
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

    def _state_names(self, group: dict) -> tuple[str, ...]:
        return ("exp_avg", "exp_inf")

    def _update(self, p: Tensor, param, g, state: dict, step: float, hp: AdamHyper,
                group: dict) -> None:
        tmp = self._scratch(param, 2)
        exp_avg = self._first_moment_(state, g, hp, tmp)
        exp_inf = real_view(state["exp_inf"]._data)
        exp_inf *= hp.beta2
        np.abs(g, out=tmp)
        tmp += hp.eps
        np.maximum(exp_inf, tmp, out=exp_inf)
        clr = hp.lr / (1 - hp.beta1 ** step)
        np.multiply(exp_avg, -clr, out=tmp)
        tmp /= exp_inf
        param += tmp
