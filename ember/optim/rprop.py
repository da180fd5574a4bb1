"""Rprop: resilient backpropagation (Riedmiller and Braun, 1993)."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from ..tensor import Tensor
from .optimizer import (Optimizer, _xp_of, finish_update, new_step_tensor, real_view,
                        step_value, to_scalar, zeros_state)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Rprop, like ``torch.optim.Rprop``.

    Each element keeps its own step size: multiplied by ``etaplus`` while the gradient keeps
    its sign, by ``etaminus`` when it flips (that step is then skipped), clamped into
    ``step_sizes``; the parameter moves by ``-sign(g) * step_size``.

    Args:
        params: parameters or parameter groups to optimize.
        lr: initial step size (default 1e-2).
        etas: ``(etaminus, etaplus)`` (default (0.5, 1.2)).
        step_sizes: ``(min, max)`` allowed step sizes (default (1e-6, 50)).
        maximize: maximize the objective.
        capturable, foreach, differentiable: accepted for compatibility.

    Example:
        >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.Rprop([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        if differentiable:
            raise NotImplementedError("ember optimizers do not implement differentiable=True")
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    _setstate_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                          "capturable": False}

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step.

        Args:
            closure: re-evaluates the model and returns the loss (optional).
        """
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            etaminus, etaplus = group["etas"]
            lo, hi = group["step_sizes"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step_tensor()
                    state["prev"] = zeros_state(p)
                    # Complex parameters: real and imaginary parts step independently, so
                    # both start at lr (real_view below splits them).
                    lr = to_scalar(group["lr"])
                    state["step_size"] = zeros_state(p, complex(lr, lr) if p.is_complex()
                                                     else lr)
                step_value(state)._data += 1
                g = real_view(self._grad_of(p, group["maximize"], 0))
                param = real_view(p._data)
                prev = real_view(state["prev"]._data)
                step_size = real_view(state["step_size"]._data)
                xp = _xp_of(param)
                prod = xp.sign(g * prev)
                factor = xp.where(prod > 0, param.dtype.type(etaplus),
                                  xp.where(prod < 0, param.dtype.type(etaminus),
                                           param.dtype.type(1)))
                step_size *= factor
                xp.clip(step_size, lo, hi, out=step_size)
                # Where the sign flipped the step is skipped and the gradient forgotten.
                g = xp.where(factor == param.dtype.type(etaminus), param.dtype.type(0), g)
                param -= xp.sign(g) * step_size
                prev[...] = g
                finish_update(p)
        return loss
