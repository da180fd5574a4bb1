"""ASGD: averaged stochastic gradient descent (Polyak and Juditsky, 1992)."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..backend import dtypes as _dt
from ..tensor import Tensor, make_tensor
from .optimizer import (Optimizer, _xp_of, check_hparams, finish_update, real_view,
                        scalar_dtype, step_value, to_scalar, zeros_state)

__all__ = ["ASGD"]


def _scalar_state(value: float, p: Tensor) -> Tensor:
    # torch keeps step, eta and mu as 0-d tensors of the scalar dtype on the parameter's
    # device, so eta and mu are rounded to float32 (under a float32 default dtype) before each
    # use; storing them alike matches.
    d = scalar_dtype()
    xp = np if isinstance(p._data, np.ndarray) else _xp_of(p._data)
    return make_tensor(xp.full((), value, dtype=d.np), d, p._device)


def _default_round(value: float):
    # torch builds the new eta and mu with torch.as_tensor(float): a default-dtype tensor, so
    # they carry that rounding even when the state tensor itself is float64 (after loading).
    return np.asarray(value, dtype=_dt.get_default_dtype().np)


class ASGD(Optimizer):
    """Averaged SGD, like ``torch.optim.ASGD``.

    ``p <- p (1 - lambd eta) - eta g``; ``ax`` averages the iterates once ``step > t0``;
    ``eta = lr / (1 + lambd lr step)^alpha`` and ``mu = 1 / max(1, step - t0)``.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lambd: decay term (default 1e-4).
        alpha: power for the eta update (default 0.75).
        t0: step at which averaging starts (default 1e6).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective.
        foreach, differentiable, capturable: accepted for compatibility.

    Example:
        >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.ASGD([w], lr=0.1, t0=2)
        >>> (w * w).sum().backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_hparams(lr=lr, weight_decay=weight_decay, differentiable=differentiable)
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
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
            lr = to_scalar(group["lr"])
            lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar_state(0.0, p)
                    state["eta"] = _scalar_state(lr, p)
                    state["mu"] = _scalar_state(1.0, p)
                    state["ax"] = zeros_state(p)
                g = real_view(self._grad_of(p, group["maximize"], group["weight_decay"]))
                step_t = step_value(state)
                step_t._data += 1
                param = real_view(p._data)
                ax = real_view(state["ax"]._data)
                eta = float(state["eta"]._data)
                param *= 1 - lambd * eta
                tmp = self._scratch(param, 2)
                xp = _xp_of(param)
                xp.multiply(g, -eta, out=tmp)
                param += tmp
                mu = float(state["mu"]._data)
                if mu != 1:
                    xp.subtract(param, ax, out=tmp)
                    tmp *= mu
                    ax += tmp
                else:
                    ax[...] = param
                step = float(step_t._data)
                # Python floats (exact copies of the rounded values) write into host or device
                # state alike.
                state["eta"]._data[...] = float(
                    _default_round(lr / ((1 + lambd * lr * step) ** alpha)))
                state["mu"]._data[...] = float(_default_round(1 / max(1, step - t0)))
                finish_update(p)
        return loss
