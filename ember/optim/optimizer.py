"""The ``Optimizer`` base class: parameter groups, per-parameter state, state_dict, hooks.

Updates run on the raw arrays (``p._data``) in place, outside autograd, and bump each updated
parameter's version counter once per step, as torch's in-place ``param.add_`` does under
``no_grad``. State tensors are ember Tensors (so ``state_dict()`` has torch's layout and values),
and the update math reads and writes their arrays directly.
"""
from __future__ import annotations

import functools
import itertools
import warnings
from collections import OrderedDict, defaultdict
from copy import deepcopy
from typing import Any, Callable, Iterable

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..backend import dtypes as _dt
from ..tensor import Tensor, make_tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Singleton marking a default that every parameter group must give itself (like torch)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_global_step_pre_hooks: "OrderedDict[int, Callable]" = OrderedDict()
_global_step_post_hooks: "OrderedDict[int, Callable]" = OrderedDict()
_hook_ids = itertools.count()


class RemovableHandle:
    """Handle returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook."""

    def __init__(self, hooks_dict: "OrderedDict[int, Callable]") -> None:
        self.id = next(_hook_ids)
        self._hooks = hooks_dict

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _add_hook(hooks: "OrderedDict[int, Callable]", hook: Callable,
              prepend: bool = False) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook: Callable) -> RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run before every optimizer's ``step``."""
    return _add_hook(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook: Callable) -> RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run after every optimizer's ``step``."""
    return _add_hook(_global_step_post_hooks, hook)


def _typename(x: Any) -> str:
    if isinstance(x, Tensor):
        return x.type()
    t = type(x)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _with_step_hooks(step: Callable) -> Callable:
    """Wrap a subclass's ``step`` so that the global and per-instance step hooks run around it."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        for hook in itertools.chain(_global_step_pre_hooks.values(),
                                    self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError("hook must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
                args, kwargs = result
        out = step(self, *args, **kwargs)
        for hook in itertools.chain(self._optimizer_step_post_hooks.values(),
                                    _global_step_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    wrapper._ember_hooked = True
    return wrapper


def scalar_dtype() -> _dt.dtype:
    """dtype of the ``step`` counters: float64 under a float64 default dtype, else float32."""
    return _dt.float64 if _dt.get_default_dtype() is _dt.float64 else _dt.float32


def new_step_tensor(value: float = 0.0) -> Tensor:
    """A 0-d CPU tensor holding a step count, as torch>=2 keeps ``state['step']``."""
    d = scalar_dtype()
    return make_tensor(np.array(value, dtype=d.np), d, None)


def to_scalar(x: Any) -> float:
    """A hyperparameter that may be given as a 1-element Tensor, as a Python float."""
    if isinstance(x, Tensor):
        return float(x.item())
    return x


def real_view(arr):
    """The array itself, or for complex arrays a float view of (re, im) pairs (view_as_real)."""
    if arr.dtype.kind == "c":
        if not arr.flags.c_contiguous:
            raise RuntimeError("ember optimizers need contiguous complex parameters and state")
        return arr.view(arr.real.dtype)
    return arr


class Optimizer:
    """Base class of all optimizers, like ``torch.optim.Optimizer``.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (parameter groups,
            each with a ``"params"`` entry and optional per-group options).
        defaults: the default value of every option (used where a group does not set it).

    Shape:
        Parameters of any shape; each keeps its own state (``optimizer.state[param]``).

    Example:
        >>> w = ember.zeros(3, requires_grad=True)
        >>> opt = ember.optim.SGD([w], lr=0.1)
        >>> (w - 1).pow(2).sum().backward()
        >>> opt.step()
        >>> opt.zero_grad()
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_state_dict_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_state_dict_post_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: OrderedDict[int, Callable] = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._scratch_bufs: dict = {}
        # (group index, CUDA device) -> [device lr scalar, value it holds] (see _fused.py).
        self._device_lrs: dict = {}
        self._patch_step_function()
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def _patch_step_function(self) -> None:
        # Like torch, wrap the most derived class's step once so that step hooks run around it.
        cls = self.__class__
        if not getattr(cls.step, "_ember_hooked", False):
            cls.step = _with_step_hooks(cls.step)

    # ------------------------------------------------------------------ pickling / printing
    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    # Subclasses list the group options that older saved states may lack.
    _setstate_defaults: dict[str, Any] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for group in self.param_groups:
            for key, value in self._setstate_defaults.items():
                group.setdefault(key, value)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self.__dict__.setdefault("_scratch_bufs", {})
        self.__dict__.setdefault("_device_lrs", {})
        self.defaults.setdefault("differentiable", False)
        self._patch_step_function()

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += "\n"
            text += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        text += ")"
        return text

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group (a dict with ``"params"`` and optional options) to optimize.

        Args:
            param_group: the group; options it lacks take the optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for item in param_group["params"]:
            if isinstance(item, tuple):
                names.append(item[0])
                tensors.append(item[1])
            else:
                tensors.append(item)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not self.defaults.get("differentiable", None) and not (
                    p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        if len(tensors) != len({id(p) for p in tensors}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
        if any(id(p) in seen for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        if self.param_groups and ("param_names" in param_group) != (
                "param_names" in self.param_groups[0]):
            raise ValueError("all optimizer param groups should be with/without names. cannot "
                             "add param group with names to the optimizer")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ grads
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters.

        Args:
            set_to_none: set ``.grad`` to None (default) instead of filling it with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (subclasses implement it).

        Args:
            closure: re-evaluates the model and returns the loss (optional for most).
        """
        raise NotImplementedError

    @staticmethod
    def _eval_closure(closure: Callable[[], Any] | None) -> Any:
        # The closure runs backward, so it must see grad mode on even inside no_grad.
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ hooks
    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Register ``hook(optimizer, args, kwargs)`` to run before ``step``."""
        return _add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """Register ``hook(optimizer, args, kwargs)`` to run after ``step``."""
        return _add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook: Callable,
                                     prepend: bool = False) -> RemovableHandle:
        """Register ``hook(optimizer)`` to run before ``state_dict``."""
        return _add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable,
                                      prepend: bool = False) -> RemovableHandle:
        """Register ``hook(optimizer, state_dict)`` (may return a new dict) after ``state_dict``."""
        return _add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable,
                                          prepend: bool = False) -> RemovableHandle:
        """Register ``hook(optimizer, state_dict)`` to run before ``load_state_dict``."""
        return _add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable,
                                           prepend: bool = False) -> RemovableHandle:
        """Register ``hook(optimizer)`` to run after ``load_state_dict``."""
        return _add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------------ state_dict
    def state_dict(self) -> dict[str, Any]:
        """The optimizer state in torch's layout.

        ``{"state": {index: {name: value}}, "param_groups": [{option: value, "params": [index]}]}``
        where parameters are numbered in group order; the parameters themselves are not saved.
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index_of: dict[int, int] = {}
        next_index = 0
        packed_groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                if id(p) not in index_of:
                    index_of[id(p)] = next_index
                    next_index += 1
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            packed_groups.append(packed)
        packed_state = {(index_of[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        result = {"state": packed_state, "param_groups": packed_groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            out = hook(self, result)
            if out is not None:
                result = out
        return result

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state produced by ``state_dict()`` (ember's or torch's, converted to ember).

        Args:
            state_dict: ``{"state": ..., "param_groups": ...}``. Floating-point state tensors are
                cast to their parameter's dtype (``"step"`` keeps its own), as torch does.
        """
        state_dict = state_dict.copy()
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            out = hook(self, state_dict)
            if out is not None:
                state_dict = out
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(itertools.chain.from_iterable(g["params"] for g in saved_groups),
                          itertools.chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = _cast_state(param, value, None)
            else:
                state[key] = value
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.__setstate__({"state": state, "param_groups": new_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    # ------------------------------------------------------------------ update helpers
    def _refresh_device_lrs(self) -> None:
        """Copy each group's host ``lr`` into its device scalar where it changed (run before
        each replay of a captured step, so that a scheduler's change reaches the graph)."""
        from ._fused import refresh_device_lrs
        refresh_device_lrs(self)

    def _scratch(self, like, slot: int):
        """A reusable C-contiguous work array shaped like ``like`` (contents undefined).

        One flat buffer per (array type, dtype, slot) serves every parameter in turn, so the
        per-step temporaries cost no allocation after the first step.
        """
        # CuPy's Device objects are unhashable: key on the device ordinal.
        key = (type(like), like.dtype, slot, getattr(getattr(like, "device", None), "id", None))
        buf = self._scratch_bufs.get(key)
        n = like.size
        if buf is None or buf.size < n:
            buf = np.empty(n, dtype=like.dtype) if isinstance(like, np.ndarray) else \
                _empty_like_flat(like, n)
            self._scratch_bufs[key] = buf
        return buf[:n].reshape(like.shape)

    def _grad_of(self, p: Tensor, maximize: bool, weight_decay: float, slot: int = 0):
        """``p``'s gradient array, negated for ``maximize`` and plus ``weight_decay * p``.

        Returns the gradient array itself when neither applies (it must then only be read).
        """
        g = p.grad._data
        if g.dtype != p._data.dtype:
            g = g.astype(p._data.dtype)
        if not maximize and weight_decay == 0:
            return g
        out = self._scratch(p._data, slot)
        if maximize:
            np.negative(g, out=out)
            g = out
        if weight_decay != 0:
            if g is out:
                tmp = self._scratch(p._data, slot + 1)
                np.multiply(p._data, weight_decay, out=tmp)
                np.add(out, tmp, out=out)
            else:
                np.multiply(p._data, weight_decay, out=out)
                np.add(g, out, out=out)
            g = out
        return g


def finish_update(p: Tensor) -> None:
    """Bump ``p``'s version once for the step (its in-place writes are done) and keep bfloat16
    parameters on the bfloat16 grid (ember stores them in float32 arrays)."""
    if p._dtype is _dt.bfloat16:
        p._data[...] = _dt.round_bf16(p._data)
    p._version[0] += 1


def zeros_state(p: Tensor, fill: Any = 0) -> Tensor:
    """A state tensor like ``p`` (same dtype, device, shape, contiguous) filled with ``fill``."""
    arr = p._data
    xp = np if isinstance(arr, np.ndarray) else _xp_of(arr)
    out = xp.full(arr.shape, fill, dtype=arr.dtype)
    return make_tensor(out, p._dtype, p._device)


def step_value(state: dict) -> Tensor:
    """``state['step']`` as a tensor (older state dicts stored a Python number)."""
    step = state["step"]
    if not isinstance(step, Tensor):
        step = new_step_tensor(float(step))
        state["step"] = step
    return step


def increment_step(state: dict) -> float:
    """Add 1 to ``state['step']`` and return the new count as a Python float (a host read: on
    CUDA this synchronizes, which is why the fused CUDA paths never call it)."""
    step_t = step_value(state)
    step_t._data += 1
    return float(step_t._data)


def _xp_of(arr):
    return _dt._xp_of(arr)


def _empty_like_flat(like, n):
    xp = _xp_of(like)
    return xp.empty(n, dtype=like.dtype)


def _cast_state(param: Tensor, value: Any, key: Any) -> Any:
    """Cast a loaded state value the way torch's ``load_state_dict`` does: float tensors take
    the parameter's dtype and device (``step`` keeps its dtype); containers recurse.

    The tensors are copied, so the loaded optimizer never shares buffers with the dict it was
    loaded from (torch shares them when no cast is needed; a copy is the safer choice here).
    """
    if isinstance(value, Tensor):
        if key != "step" and param.is_floating_point():
            out = value.detach().to(dtype=param.dtype, device=param.device)
        else:
            out = value.detach().to(device=param.device)
        arr = out._data
        copy = arr.copy() if isinstance(arr, np.ndarray) else _xp_of(arr).array(arr, copy=True)
        return make_tensor(copy, out._dtype, out._device)
    if isinstance(value, dict):
        return {k: _cast_state(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, v, None) for v in value)
    return value


def check_hparams(lr: Any = None, eps: Any = None, betas: Any = None,
                  weight_decay: Any = None, differentiable: bool = False) -> None:
    """Validate the common options with torch's messages (ValueError)."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if lr is not None and not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if eps is not None and not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if betas is not None:
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if weight_decay is not None and not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if differentiable:
        raise NotImplementedError("ember optimizers do not implement differentiable=True yet "
                                  "(the update runs outside autograd)")


def lerp_(avg, target, weight: float, tmp) -> None:
    """``avg.lerp_(target, weight)`` in place with torch's formula (``tmp`` is work space).

    torch uses ``avg + w * (target - avg)`` for ``|w| < 0.5`` and
    ``target - (target - avg) * (1 - w)`` otherwise; both are kept for bit-closeness.
    """
    np.subtract(target, avg, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        avg += tmp
    else:
        # torch rounds the weight to the tensor's dtype before taking 1 - w.
        tmp *= 1 - avg.dtype.type(weight)
        np.subtract(target, tmp, out=avg)


def addcmul_sq_(avg, g, value: float, tmp) -> None:
    """``avg.addcmul_(g, g, value=value)``: ``avg += value * g * g`` (``tmp`` is work space)."""
    np.multiply(g, value, out=tmp)
    tmp *= g
    avg += tmp
