"""What Adam/AdamW, NAdam, RAdam and Adamax share: state creation, the step count, the
(coupled or decoupled) weight decay, the running moments, and the step loop around them.

Each optimizer gives its state names and the update that follows the moments (``_update``);
Adam also routes CUDA parameters to the multi-tensor kernel (``_split`` / ``_fused_update``).
"""
from __future__ import annotations

from typing import Any, Callable

from ..backend.device import host_checks_allowed
from ..tensor import Tensor
from .optimizer import (Optimizer, addcmul_sq_, finish_update, increment_step, lerp_,
                        new_step_tensor, real_view, to_scalar, zeros_state)


class AdamHyper:
    """A group's hyperparameters as Python numbers, read once per step."""

    __slots__ = ("lr", "beta1", "beta2", "eps", "weight_decay", "maximize", "decoupled")

    def __init__(self, group: dict) -> None:
        self.lr = to_scalar(group["lr"])
        self.beta1, self.beta2 = (to_scalar(b) for b in group["betas"])
        self.eps = group["eps"]
        self.weight_decay = to_scalar(group["weight_decay"])
        self.maximize = group["maximize"]
        self.decoupled = group.get("decoupled_weight_decay", False)


class AdamFamily(Optimizer):
    """Base of the Adam-family optimizers (not public)."""

    # 0-d states created after ``step`` (name -> initial value), e.g. NAdam's ``mu_product``.
    _scalar_states: dict[str, float] = {}

    def _state_names(self, group: dict) -> tuple[str, ...]:
        """The zero-initialized per-parameter states, in torch's state_dict order."""
        return ("exp_avg", "exp_avg_sq")

    def _init_state(self, p: Tensor, group: dict, state: dict,
                    step: Tensor | None = None) -> None:
        """Fill an empty ``state`` in torch's key order (``step`` first)."""
        state["step"] = new_step_tensor() if step is None else step
        for name, value in self._scalar_states.items():
            state[name] = new_step_tensor(value)
        for name in self._state_names(group):
            state[name] = zeros_state(p)

    def _split(self, group: dict, params: list) -> tuple[list, list]:
        """``(fused, plain)`` parameters of a group; only the per-parameter path by default."""
        return [], params

    def _fused_update(self, index: int, group: dict, params: list) -> None:
        raise NotImplementedError

    def _update(self, p: Tensor, param, g, state: dict, step: float, hp: AdamHyper,
                group: dict) -> None:
        """The per-parameter update after weight decay and the step count (subclasses)."""
        raise NotImplementedError

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step.

        Args:
            closure: re-evaluates the model and returns the loss (optional).
        """
        loss = self._eval_closure(closure)
        plans = []
        for index, group in enumerate(self.param_groups):
            params = [p for p in group["params"] if p.grad is not None]
            fused, plain = self._split(group, params)
            if plain and not host_checks_allowed() and any(p.is_cuda for p in plain):
                # Checked before any state changes, so the step can rerun eagerly.
                raise RuntimeError(
                    f"{type(self).__name__}: this update reads its step count on the host, "
                    "which a CUDA graph would freeze; use Adam/AdamW with the default "
                    "foreach/fused settings to capture it")
            plans.append((index, group, fused, plain))
        for index, group, fused, plain in plans:
            if fused:
                self._fused_update(index, group, fused)
            if plain:
                self._plain_update(group, plain)
        return loss

    def _plain_update(self, group: dict, params: list) -> None:
        hp = AdamHyper(group)
        for p in params:
            g = self._grad_of(p, hp.maximize, 0 if hp.decoupled else hp.weight_decay)
            state = self.state[p]
            if len(state) == 0:
                self._init_state(p, group, state)
            step = increment_step(state)
            if hp.weight_decay != 0 and hp.decoupled:
                p._data *= 1 - hp.lr * hp.weight_decay
            self._update(p, real_view(p._data), real_view(g), state, step, hp, group)
            finish_update(p)

    # Running moments, in torch's formulas (``tmp`` is work space of the parameter's shape).
    @staticmethod
    def _first_moment_(state: dict, g, hp: AdamHyper, tmp):
        """``exp_avg.lerp_(g, 1 - beta1)``; returns the updated array."""
        exp_avg = real_view(state["exp_avg"]._data)
        lerp_(exp_avg, g, 1 - hp.beta1, tmp)
        return exp_avg

    @staticmethod
    def _second_moment_(state: dict, g, hp: AdamHyper, tmp):
        """``exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g``; returns the array."""
        exp_avg_sq = real_view(state["exp_avg_sq"]._data)
        exp_avg_sq *= hp.beta2
        addcmul_sq_(exp_avg_sq, g, 1 - hp.beta2, tmp)
        return exp_avg_sq
