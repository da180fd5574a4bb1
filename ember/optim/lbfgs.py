"""L-BFGS with an optional strong-Wolfe line search (Nocedal & Wright, algorithms 7.4, 3.5/3.6).

The algorithm follows the classic Lua torch/optim ``lbfgs`` and ``lswolfe`` (from minFunc), as
PyTorch does, so that trajectories match torch step for step: same first-step scaling, the same
curvature test ``y.s > 1e-10``, the same cubic interpolation and bracketing rules. All vector
work happens on one flat NumPy array of the parameters' dtype; scalars stay NumPy scalars of
that dtype (torch keeps them as 0-d tensors), so float32 runs round as torch's do.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..backend.dtypes import _xp_of
from ..tensor import Tensor, make_tensor
from .optimizer import Optimizer, check_hparams, finish_update, to_scalar

__all__ = ["LBFGS"]


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to ``bounds``."""
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 ** 2 - g1 * g2
    if disc >= 0:
        d2 = np.sqrt(disc)
        if x1 <= x2:
            xmin = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            xmin = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(xmin, lo), hi)
    # No real minimizer: bisect.
    return (lo + hi) / 2.0


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Find a step ``t`` along ``d`` satisfying the strong Wolfe conditions.

    ``evaluate(t)`` returns (loss, flat gradient) at ``x + t d``. Returns
    ``(f_new, g_new, t, evaluations)``.
    """
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    # Bracketing phase: grow the step until an interval holds an acceptable point.
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket = [t_prev, t]
            bracket_f = [f_prev, f_new]
            bracket_g = [g_prev, g_new.copy()]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket = [t_prev, t]
            bracket_f = [f_prev, f_new]
            bracket_g = [g_prev, g_new.copy()]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        previous = t
        t = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                           bounds=(min_step, max_step))
        t_prev = previous
        f_prev = f_new
        g_prev = g_new.copy()
        gtd_prev = gtd_new
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = [0, t]
        bracket_f = [f, f_new]
        bracket_g = [g, g_new]
    # Zoom phase: shrink the bracket until a point satisfies the conditions.
    insufficient = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bracket_f[0], bracket_gtd[0],
                           bracket[1], bracket_f[1], bracket_gtd[1])
        # Keep away from the bracket ends when progress stalls (move 10% inside).
        b_max, b_min = max(bracket), min(bracket)
        margin = 0.1 * (b_max - b_min)
        if min(b_max - t, t - b_min) < margin:
            if insufficient or t >= b_max or t <= b_min:
                t = b_max - margin if abs(t - b_max) < abs(t - b_min) else b_min + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            # Armijo fails or no better than the low end: the new point is the high end.
            bracket[high] = t
            bracket_f[high] = f_new
            bracket_g[high] = g_new.copy()
            bracket_gtd[high] = gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high] = bracket[low]
                bracket_f[high] = bracket_f[low]
                bracket_g[high] = bracket_g[low]
                bracket_gtd[high] = bracket_gtd[low]
            bracket[low] = t
            bracket_f[low] = f_new
            bracket_g[low] = g_new.copy()
            bracket_gtd[low] = gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


def _wrap(value, dtype, device):
    """State value as torch stores it: arrays and array scalars become ember Tensors."""
    if isinstance(value, np.generic):
        return make_tensor(np.asarray(value), dtype, None)
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return make_tensor(value, dtype, device)
    return value


def _unwrap(value):
    """Inverse of ``_wrap``: Tensors back to arrays (0-d ones to array scalars)."""
    if isinstance(value, Tensor):
        arr = value._data
        if arr.ndim == 0:
            return arr.item() if not isinstance(arr, np.ndarray) else arr[()]
        return arr
    return value


class LBFGS(Optimizer):
    """L-BFGS, like ``torch.optim.LBFGS``; ``step(closure)`` runs up to ``max_iter`` iterations.

    Args:
        params: parameters to optimize (one group only).
        lr: step length scale (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when ``max |g| <= tolerance_grad`` (default 1e-7).
        tolerance_change: stop when the loss or the step changes less (default 1e-9).
        history_size: number of (s, y) pairs kept (default 100).
        line_search_fn: None (fixed step) or ``"strong_wolfe"``.

    Shape:
        Parameters of any shape; they are flattened into one vector internally.

    Example:
        >>> x = ember.tensor([-1.5, 2.0], dtype=ember.float64, requires_grad=True)
        >>> opt = ember.optim.LBFGS([x], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        ...     loss.backward()
        ...     return loss
        >>> opt.step(closure)
    """

    def __init__(self, params: Iterable[Any], lr: float | Tensor = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        check_hparams(lr=lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                    "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                    "history_size": history_size, "line_search_fn": line_search_fn}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._params = self.param_groups[0]["params"]

    # ------------------------------------------------------------------ flat views
    def _flat_grad(self) -> np.ndarray:
        parts = []
        for p in self._params:
            arr = p._data
            xp = _xp_of(arr)
            if p.grad is None:
                part = xp.zeros(arr.size, dtype=arr.dtype)
            else:
                part = p.grad._data.astype(arr.dtype, copy=False).reshape(-1)
            if part.dtype.kind == "c":
                part = xp.ascontiguousarray(part).view(part.real.dtype)
            parts.append(part)
        return _xp_of(parts[0]).concatenate(parts)

    def _add_step(self, t, d: np.ndarray) -> None:
        """``p += t * d[slice of p]`` for every parameter."""
        offset = 0
        for p in self._params:
            arr = p._data
            if arr.dtype.kind == "c":
                arr = arr.view(arr.real.dtype)
            n = arr.size
            arr += (d[offset:offset + n] * t).reshape(arr.shape)
            offset += n
            finish_update(p)

    def _clone_params(self) -> list:
        return [p._data.copy() for p in self._params]

    def _set_params(self, saved: list) -> None:
        for p, arr in zip(self._params, saved):
            p._data[...] = arr
            p._version[0] += 1

    # ------------------------------------------------------------------ step
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations.

        Args:
            closure: clears the gradients, computes the loss, calls ``backward`` and returns
                the loss; it is called with grad mode enabled.

        Returns:
            the loss of the first closure evaluation.
        """
        if closure is None:
            raise RuntimeError("LBFGS requires a closure that reevaluates the model")
        group = self.param_groups[0]
        lr = to_scalar(group["lr"])
        max_iter = group["max_iter"]
        max_eval = group["max_eval"]
        tolerance_grad = group["tolerance_grad"]
        tolerance_change = group["tolerance_change"]
        line_search_fn = group["line_search_fn"]
        history_size = group["history_size"]
        p0 = self._params[0]
        dtype, device = p0.dtype, p0.device

        # The optimizer's state is global; torch files it under the first parameter.
        state = self.state[p0]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._eval_closure(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d = _unwrap(state.get("d"))
        t = _unwrap(state.get("t"))
        old_dirs = [_unwrap(v) for v in state.get("old_dirs") or []]
        old_stps = [_unwrap(v) for v in state.get("old_stps") or []]
        ro = [_unwrap(v) for v in state.get("ro") or []]
        H_diag = _unwrap(state.get("H_diag"))
        prev_flat_grad = _unwrap(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")
        if "al" in state:
            al = [_unwrap(v) for v in state["al"]]
        else:
            al = None

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # Direction: steepest descent first, then the two-loop recursion.
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                num_old = len(old_dirs)
                if al is None:
                    al = [None] * history_size
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q += old_dirs[i] * (-al[i])
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += old_stps[i] * (al[i] - be_i)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # Step length: scaled on the very first iteration, lr afterwards.
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = self._clone_params()

                def evaluate(step_t, x_init=x_init, d=d):
                    self._add_step(step_t, d)
                    value = float(self._eval_closure(closure))
                    grad = self._flat_grad()
                    self._set_params(x_init)
                    return value, grad

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    evaluate, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_step(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_step(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    # Re-evaluate only when another iteration follows (as torch does).
                    loss = float(self._eval_closure(closure))
                    flat_grad = self._flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter:
                break
            if current_evals >= max_eval:
                break
            if opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        wrap = lambda v: _wrap(v, dtype, device)  # noqa: E731
        state["d"] = wrap(d)
        state["t"] = wrap(t)
        state["old_dirs"] = [wrap(v) for v in old_dirs]
        state["old_stps"] = [wrap(v) for v in old_stps]
        state["ro"] = [wrap(v) for v in ro]
        state["H_diag"] = wrap(H_diag)
        state["prev_flat_grad"] = wrap(prev_flat_grad)
        state["prev_loss"] = prev_loss
        if al is not None:
            state["al"] = [wrap(v) for v in al]
        return orig_loss
