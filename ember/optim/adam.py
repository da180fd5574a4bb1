"""Adam (Kingma & Ba, 2015) with AMSGrad (Reddi et al., 2018), and AdamW (Loshchilov & Hutter,
2019): the decoupled-weight-decay variant."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..tensor import Tensor
from . import _fused
from ._adam_base import AdamFamily, AdamHyper
from .optimizer import check_hparams, real_view

__all__ = ["Adam", "AdamW"]


class Adam(AdamFamily):
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
        foreach, fused: on CUDA the update of a whole group runs as a few multi-tensor kernel
            launches (``ember/cuda/kernels/optim.py``) unless ``foreach=False`` (then one
            array op at a time per parameter, with the step count on the host). CPU
            parameters always take the per-parameter NumPy path.
        capturable: accepted for compatibility: the CUDA multi-tensor path is always
            capturable (``step`` is a float32 device tensor, as torch's fused/capturable Adam
            keeps it; the bias corrections are computed on the device; ``lr`` is read from a
            device scalar, so a captured step sees a scheduler's new ``lr``).
        differentiable: not supported.

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
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
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

    def _state_names(self, group: dict) -> tuple[str, ...]:
        if group["amsgrad"]:
            return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        return ("exp_avg", "exp_avg_sq")

    def _split(self, group: dict, params: list) -> tuple[list, list]:
        return _fused.split(self, group, params)

    def _fused_update(self, index: int, group: dict, params: list) -> None:
        _fused.adam(self, index, group, params)

    def _update(self, p: Tensor, param, g, state: dict, step: float, hp: AdamHyper,
                group: dict) -> None:
        tmp = self._scratch(param, 2)
        exp_avg = self._first_moment_(state, g, hp, tmp)
        exp_avg_sq = self._second_moment_(state, g, hp, tmp)
        bias_correction1 = 1 - hp.beta1 ** step
        bias_correction2 = 1 - hp.beta2 ** step
        step_size = hp.lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5
        if group["amsgrad"]:
            max_sq = real_view(state["max_exp_avg_sq"]._data)
            np.maximum(max_sq, exp_avg_sq, out=max_sq)
            second = max_sq
        else:
            second = exp_avg_sq
        denom = self._scratch(param, 3)
        np.sqrt(second, out=denom)
        denom /= bias_correction2_sqrt
        denom += hp.eps
        np.multiply(exp_avg, -step_size, out=tmp)
        tmp /= denom
        param += tmp


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
        foreach, capturable, differentiable, fused: as in :class:`Adam`.

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
