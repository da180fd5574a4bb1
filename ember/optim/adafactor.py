"""Adafactor (Shazeer and Stern, 2018) in torch's formulation."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import numpy as np

from ..tensor import Tensor, make_tensor
from .optimizer import (Optimizer, _xp_of, finish_update, lerp_, new_step_tensor,
                        step_value, to_scalar, zeros_state)

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor, like ``torch.optim.Adafactor``.

    For tensors of 2 or more dimensions the second moment is factored into a row and a column
    running average over the last two dimensions; vectors keep a full ``variance``. The
    update ``g / sqrt(v)`` is scaled down to RMS ``d`` and multiplied by
    ``max(eps2, RMS(p)) * min(lr, 1 / sqrt(step))``; ``beta2_t = 1 - step^beta2_decay``.

    Args:
        params: parameters or parameter groups to optimize (real).
        lr: learning rate, an upper bound on the relative step (default 1e-2).
        beta2_decay: decay rate exponent of the second moment (default -0.8).
        eps: ``(eps1, eps2)``; eps1 guards the variance (None: the dtype's machine epsilon),
            eps2 the parameter scale (default (None, 1e-3)).
        d: clipping threshold on the update's RMS (default 1.0).
        weight_decay: decoupled weight decay (default 0).
        maximize: maximize the objective.
        foreach: accepted for compatibility.

    Example:
        >>> w = ember.randn(3, 4, requires_grad=True)
        >>> opt = ember.optim.Adafactor([w])
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1e-2,
                 beta2_decay: float = -0.8, eps: tuple[Optional[float], float] = (None, 1e-3),
                 d: float = 1.0, weight_decay: float = 0.0, *, foreach: bool | None = None,
                 maximize: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize}
        super().__init__(params, defaults)

    _setstate_defaults = {"foreach": None}

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step.

        Args:
            closure: re-evaluates the model and returns the loss (optional).
        """
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = to_scalar(group["lr"])
            eps1, eps2 = group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.is_complex():
                    raise RuntimeError("Adafactor does not support complex parameters")
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step_tensor()
                    if p.grad.dim() > 1:
                        g_arr = p.grad._data
                        xp = _xp_of(g_arr)
                        row = list(p.grad.shape)
                        row[-1] = 1
                        col = list(p.grad.shape)
                        col[-2] = 1
                        state["row_var"] = make_tensor(xp.zeros(row, dtype=g_arr.dtype),
                                                       p.grad._dtype, p.grad._device)
                        state["col_var"] = make_tensor(xp.zeros(col, dtype=g_arr.dtype),
                                                       p.grad._dtype, p.grad._device)
                    else:
                        state["variance"] = zeros_state(p.grad)
                if eps1 is None:
                    # torch fixes eps1 from the first parameter of the group it meets.
                    eps1 = float(np.finfo(p._data.dtype).eps)
                self._update(p, state, lr, group, eps1, eps2)
        return loss

    def _update(self, p: Tensor, state: dict, lr: float, group: dict, eps1: float,
                eps2: float) -> None:
        g = p.grad._data
        if group["maximize"]:
            g = -g
        param = p._data
        xp = _xp_of(param)
        step_t = step_value(state)
        step_t._data += 1
        step = float(step_t._data)
        one_minus_beta2 = step ** group["beta2_decay"]
        rho = min(lr, 1 / (step ** 0.5))
        p_rms = float(xp.sqrt(xp.sum(param * param))) / (param.size ** 0.5)
        alpha = max(eps2, p_rms) * rho
        if group["weight_decay"] != 0:
            param *= 1 - lr * group["weight_decay"]
        if g.ndim > 1:
            row_var = state["row_var"]._data
            col_var = state["col_var"]._data
            row_mean = (g * g).sum(axis=-1, keepdims=True) / g.shape[-1]
            lerp_(row_var, row_mean, one_minus_beta2, xp.empty_like(row_var))
            col_mean = (g * g).sum(axis=-2, keepdims=True) / g.shape[-2]
            lerp_(col_var, col_mean, one_minus_beta2, xp.empty_like(col_var))
            var = xp.matmul(row_var, col_var)
            var /= xp.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
        else:
            variance = state["variance"]._data
            lerp_(variance, g * g, one_minus_beta2, xp.empty_like(variance))
            var = variance.copy()
        update = 1 / xp.sqrt(xp.maximum(var, eps1 * eps1))
        update *= g
        u_rms = float(xp.sqrt(xp.sum(update * update)))
        denom = max(1.0, u_rms / ((update.size ** 0.5) * group["d"]))
        param += (-alpha / denom) * update
        finish_update(p)
