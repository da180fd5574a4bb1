"""SparseAdam: Adam masked to the rows a sparse gradient touches."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _xp_of, finish_update, to_scalar, zeros_state

__all__ = ["SparseAdam"]


def _coalesce(xp, indices, values, sparse_shape: tuple):
    """Sum duplicate entries of a COO gradient; returns (index tuple, summed values)."""
    flat = xp.ravel_multi_index(tuple(indices), sparse_shape) if len(sparse_shape) else \
        xp.zeros(indices.shape[1], dtype=np.int64)
    uniq, inverse = xp.unique(flat, return_inverse=True)
    summed = xp.zeros((uniq.size,) + tuple(values.shape[1:]), dtype=values.dtype)
    if xp is np:
        np.add.at(summed, inverse.reshape(-1), values)
    else:
        import cupyx
        cupyx.scatter_add(summed, inverse.reshape(-1), values)
    return xp.unravel_index(uniq, sparse_shape), summed


class SparseAdam(Optimizer):
    """SparseAdam, like ``torch.optim.SparseAdam``.

    Adam's moments and the parameter are updated only where the (sparse) gradient has
    entries. ember has no sparse tensor type yet, so a dense gradient raises torch's
    ``RuntimeError``; a gradient object with ``is_sparse`` true and torch's ``_indices()`` /
    ``_values()`` accessors (COO layout) is accepted.

    Args:
        params: parameters or parameter groups to optimize (dense, real).
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages (default (0.9, 0.999)).
        eps: denominator term (default 1e-8).
        maximize: maximize the objective.
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)
        complex_params = [[gi, pi] for gi, group in enumerate(self.param_groups)
                          for pi, p in enumerate(group["params"]) if p.is_complex()]
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not "
                             "support complex parameters")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step.

        Args:
            closure: re-evaluates the model and returns the loss (optional).
        """
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if not getattr(grad, "is_sparse", False):
                    raise RuntimeError("SparseAdam does not support dense gradients, please "
                                       "consider Adam instead")
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                state["step"] += 1
                self._update(p, grad, state, to_scalar(group["lr"]), beta1, beta2,
                             group["eps"], group.get("maximize", False))
        return loss

    @staticmethod
    def _update(p: Tensor, grad: Any, state: dict, lr: float, beta1: float, beta2: float,
                eps: float, maximize: bool) -> None:
        indices = grad._indices()._data
        values = grad._values()._data.astype(p._data.dtype, copy=False)
        if values.size == 0:
            return
        if maximize:
            values = -values
        xp = _xp_of(p._data)
        rows, values = _coalesce(xp, indices, values, tuple(p.shape[:indices.shape[0]]))
        exp_avg = state["exp_avg"]._data
        exp_avg_sq = state["exp_avg_sq"]._data
        old_avg = exp_avg[rows]
        old_sq = exp_avg_sq[rows]
        # torch's order: update = (g - old)(1 - b); the new moment is old + update.
        avg_update = (values - old_avg) * (1 - beta1)
        sq_update = (values * values - old_sq) * (1 - beta2)
        exp_avg[rows] = old_avg + avg_update
        exp_avg_sq[rows] = old_sq + sq_update
        numer = avg_update + old_avg
        denom = xp.sqrt(sq_update + old_sq) + eps
        step = state["step"]
        step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
        p._data[rows] += -step_size * (numer / denom)
        finish_update(p)
