"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with the momentum-decay schedule."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..tensor import Tensor, make_tensor
from ._adam_base import AdamFamily, AdamHyper
from .optimizer import check_hparams, scalar_dtype

__all__ = ["NAdam"]


class NAdam(AdamFamily):
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

    _scalar_states = {"mu_product": 1.0}

    def _update(self, p: Tensor, param, g, state: dict, step: float, hp: AdamHyper,
                group: dict) -> None:
        mu_product_t = state["mu_product"]
        if not isinstance(mu_product_t, Tensor):
            d = scalar_dtype()
            mu_product_t = make_tensor(np.array(mu_product_t, dtype=d.np), d, None)
            state["mu_product"] = mu_product_t
        beta1 = hp.beta1
        momentum_decay = group["momentum_decay"]
        bias_correction2 = 1 - hp.beta2 ** step
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product_t._data *= mu
        mu_product = float(mu_product_t._data)
        tmp = self._scratch(param, 2)
        exp_avg = self._first_moment_(state, g, hp, tmp)
        exp_avg_sq = self._second_moment_(state, g, hp, tmp)
        denom = self._scratch(param, 3)
        np.divide(exp_avg_sq, bias_correction2, out=denom)
        np.sqrt(denom, out=denom)
        denom += hp.eps
        mu_product_next = mu_product * mu_next
        np.multiply(g, -hp.lr * (1.0 - mu) / (1.0 - mu_product), out=tmp)
        tmp /= denom
        param += tmp
        np.multiply(exp_avg, (-hp.lr * mu_next) / (1.0 - mu_product_next), out=tmp)
        tmp /= denom
        param += tmp
