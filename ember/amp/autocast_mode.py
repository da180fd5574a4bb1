"""``torch.autocast``: run listed ops in a lower precision (or float32) inside a region.

How it works: while some device type has autocast enabled, ``ember.ops.registry.AUTOCAST`` holds
:func:`_hook`, which ``Primitive.apply`` calls before every primitive. The hook looks the
primitive's name up in the policy table of the inputs' device type (:mod:`ember.amp._policy`)
and casts the floating inputs through the ``to_dtype`` primitive, so that gradients flow back
in each input's own dtype, as in torch. Composite functions that torch treats as single ops
(losses, ``addmm``, ``scaled_dot_product_attention``...) carry :func:`autocast_op`: their
inputs are cast once and their body runs with the hook off, as torch's autocast excludes
itself below the op it casts. Backward passes run with the hook off (ember.autograd.engine).
"""
from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Optional

from ..backend import dtypes as _dt
from ..ops import registry as _reg
from . import _policy

__all__ = ["autocast", "custom_fwd", "custom_bwd", "is_autocast_available",
           "is_autocast_enabled", "set_autocast_enabled", "get_autocast_dtype",
           "set_autocast_dtype", "is_autocast_cache_enabled", "set_autocast_cache_enabled",
           "clear_autocast_cache", "autocast_increment_nesting", "autocast_decrement_nesting",
           "is_autocast_cpu_enabled", "set_autocast_cpu_enabled", "get_autocast_cpu_dtype",
           "set_autocast_cpu_dtype", "get_autocast_gpu_dtype", "set_autocast_gpu_dtype"]

# Device types torch.device accepts; autocast itself supports only cpu and cuda here.
_TORCH_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep",
                       "hip", "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta",
                       "hpu", "mtia", "privateuseone")
_SUPPORTED = ("cpu", "cuda")

# Per device type: [enabled, dtype]. torch's defaults: bfloat16 on CPU, float16 on CUDA.
_STATE: dict = {"cpu": [False, _dt.bfloat16], "cuda": [False, _dt.float16]}
_CACHE_ENABLED = [True]
_NESTING = [0]
# Weight cache: id(leaf) -> (leaf, cast, made_with_grad). Cleared when the outermost autocast
# region exits (torch's clear_autocast_cache), so a parameter is cast once per forward.
_CACHE: dict = {}
# Enabled device types -> (policy table, dtype), and every op name any of them lists.
_ACTIVE: dict = {}
_ACTIVE_NAMES: set = set()


def _refresh() -> None:
    """Recompute the active tables from the state and install or remove the hook."""
    _ACTIVE.clear()
    _ACTIVE_NAMES.clear()
    for dev, (on, dtype) in _STATE.items():
        if on:
            table = _policy.POLICIES[dev]
            _ACTIVE[dev] = (table, dtype)
            _ACTIVE_NAMES.update(table)
    _reg.AUTOCAST = _hook if _ACTIVE else None


def _check_type(device_type: str) -> None:
    if device_type not in _SUPPORTED:
        if device_type in _TORCH_DEVICE_TYPES:
            raise RuntimeError(f"User specified an unsupported autocast device_type "
                               f"'{device_type}'")
        raise RuntimeError(f"Expected one of {', '.join(_TORCH_DEVICE_TYPES)} device type at "
                           f"start of device string: {device_type}")


# --------------------------------------------------------------------------- state functions
def is_autocast_available(device_type: str) -> bool:
    """Whether ember's autocast supports ``device_type`` ("cpu" and "cuda")."""
    return device_type in _SUPPORTED


def is_autocast_enabled(device_type: Optional[str] = None) -> bool:
    """Whether autocast is on for ``device_type`` (CUDA when omitted, as in torch)."""
    dev = "cuda" if device_type is None else device_type
    _check_type(dev)
    return _STATE[dev][0]


def set_autocast_enabled(device_type, enabled: Optional[bool] = None) -> None:
    """``set_autocast_enabled(device_type, enabled)``; the one-argument form means CUDA."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _check_type(device_type)
    _STATE[device_type][0] = bool(enabled)
    _refresh()


def get_autocast_dtype(device_type: str) -> _dt.dtype:
    """The dtype autocast's lower-precision ops use on ``device_type``."""
    _check_type(device_type)
    return _STATE[device_type][1]


def set_autocast_dtype(device_type: str, dtype: _dt.dtype) -> None:
    _check_type(device_type)
    _STATE[device_type][1] = dtype
    _refresh()


def is_autocast_cpu_enabled() -> bool:
    return _STATE["cpu"][0]


def set_autocast_cpu_enabled(enabled: bool) -> None:
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype() -> _dt.dtype:
    return _STATE["cpu"][1]


def set_autocast_cpu_dtype(dtype: _dt.dtype) -> None:
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype() -> _dt.dtype:
    return _STATE["cuda"][1]


def set_autocast_gpu_dtype(dtype: _dt.dtype) -> None:
    set_autocast_dtype("cuda", dtype)


def is_autocast_cache_enabled() -> bool:
    return _CACHE_ENABLED[0]


def set_autocast_cache_enabled(enabled: bool) -> None:
    _CACHE_ENABLED[0] = bool(enabled)


def clear_autocast_cache() -> None:
    _CACHE.clear()


def autocast_increment_nesting() -> int:
    _NESTING[0] += 1
    return _NESTING[0]


def autocast_decrement_nesting() -> int:
    _NESTING[0] -= 1
    return _NESTING[0]


# ------------------------------------------------------------------------------- the casts
def _cast_one(t, target):
    """``t`` converted to ``target`` through the differentiable ``to_dtype`` primitive; fp32
    leaves that require grad (parameters) are cast once per region when the cache is on."""
    cacheable = (_CACHE_ENABLED[0] and t._rg and t.grad_fn is None and t._base is None
                 and t._dtype is _dt.float32 and target is not _dt.float32)
    grad_on = _reg.GRAD_MODE.enabled
    if cacheable:
        hit = _CACHE.get(id(t))
        # A cast made under no_grad has no graph: never hand it to a differentiable region.
        if hit is not None and hit[0] is t and hit[1]._dtype is target and \
                (hit[2] or not grad_on):
            return hit[1]
    out = _reg.REGISTRY["to_dtype"].apply(t, target, t._dtype)
    if cacheable:
        _CACHE[id(t)] = (t, out, grad_on)
    return out


def _eligible(x, T, dev_type) -> bool:
    # torch: floating tensors of the region's device type, float64 excepted.
    if not isinstance(x, T):
        return False
    d = x._dtype
    return d.category == 2 and d is not _dt.float64 and x._device.type == dev_type


def _target(kind, values, dtype, dev_type):
    if kind == "lower":
        return dtype
    if kind == "fp32":
        return _dt.float32
    if kind == "promote":
        T = _reg.Tensor
        widest = None
        for v in values:
            if _eligible(v, T, dev_type):
                widest = v._dtype if widest is None else _dt.promote_types(widest, v._dtype)
        return widest
    if kind == "banned":
        raise RuntimeError(_policy.BANNED_MSG)
    if kind == "off":
        return None
    raise ValueError(f"unknown autocast policy {kind!r}")


def _cast_values(values, target, dev_type) -> list:
    T = _reg.Tensor
    out = list(values)
    for i, v in enumerate(out):
        if _eligible(v, T, dev_type) and v._dtype is not target:
            out[i] = _cast_one(v, target)
    return out


def _device_type(args, kwargs):
    T = _reg.Tensor
    for a in args:
        if isinstance(a, T):
            return a._device.type
    if kwargs:
        for a in kwargs.values():
            if isinstance(a, T):
                return a._device.type
    return None


def _policy_for(name, args, kwargs):
    """(kind, dtype, device type) of op ``name`` for these inputs, or None when not listed."""
    dev_type = _device_type(args, kwargs)
    act = _ACTIVE.get(dev_type)
    if act is None:
        return None
    table, dtype = act
    kind = table.get(name)
    if kind is not None and not isinstance(kind, str):
        kind = kind(args, kwargs)
    if kind is None:
        return None
    return kind, dtype, dev_type


def _hook(cls, args, kwargs):
    """``registry.AUTOCAST``: the inputs of primitive ``cls`` cast per its policy."""
    name = getattr(cls, "autocast_name", None) or cls.op_name
    if name not in _ACTIVE_NAMES:
        return args
    pol = _policy_for(name, args, kwargs)
    if pol is None:
        return args
    kind, dtype, dev_type = pol
    target = _target(kind, args, dtype, dev_type)
    if target is None:
        return args
    return tuple(_cast_values(args, target, dev_type))


def _run_composite(name, fn, args, kwargs):
    if name not in _ACTIVE_NAMES:
        return fn(*args, **kwargs)
    pol = _policy_for(name, args, kwargs)
    if pol is None:
        # Not listed for this device: the body's own ops autocast (torch's composite ops).
        return fn(*args, **kwargs)
    kind, dtype, dev_type = pol
    target = _target(kind, list(args) + list(kwargs.values()), dtype, dev_type)
    if target is not None:
        args = _cast_values(args, target, dev_type)
        if kwargs:
            keys = list(kwargs)
            kwargs = dict(zip(keys, _cast_values([kwargs[k] for k in keys], target,
                                                 dev_type)))
    saved = _reg.AUTOCAST
    _reg.AUTOCAST = None
    try:
        return fn(*args, **kwargs)
    finally:
        _reg.AUTOCAST = saved


def autocast_op(name: str) -> Callable:
    """Decorator for a composite function that torch runs as the single op ``name``.

    Outside autocast it costs one ``is None`` check. Inside, the function's floating inputs
    are cast per ``name``'s policy and its body runs with autocast off (ops that ``name`` is
    not listed for on the device run unchanged, their inner primitives autocast as usual).
    """
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if _reg.AUTOCAST is None:
                return fn(*args, **kwargs)
            return _run_composite(name, fn, args, kwargs)
        return wrapper
    return deco


# ----------------------------------------------------------------------------- the manager
def _cuda_available() -> bool:
    try:
        from .. import cuda
        return cuda.is_available()
    except Exception:
        return False


class autocast:
    """Context manager and decorator that runs listed ops in a lower precision.

    Inside an enabled region, matmuls, linear layers and convolutions run in ``dtype``; ops
    that need range (losses, ``prod``... on CPU; also softmax, norms, exp/log/pow... on CUDA)
    run in float32; a few ops promote to the widest input dtype. Gradients come back in each
    input's own dtype. Regions nest; ``enabled=False`` turns autocast off inside one.

    Args:
        device_type: ``"cpu"`` or ``"cuda"``.
        dtype: the lower precision, ``float16`` or ``bfloat16``; default
            ``get_autocast_dtype(device_type)`` (bfloat16 on CPU, float16 on CUDA).
        enabled: whether autocasting is on in the region.
        cache_enabled: whether casts of parameters are cached for the region (default: the
            current ``is_autocast_cache_enabled()``).

    Shape:
        Outputs have the shapes the ops give; only dtypes change.

    Example::

        >>> with ember.autocast("cpu", dtype=ember.bfloat16):
        ...     y = model(x)            # y.dtype == ember.bfloat16 for a Linear model
        >>> loss = y.float().sum()
        >>> loss.backward()             # parameter grads are float32, as the parameters
    """

    def __init__(self, device_type: str, dtype: Optional[_dt.dtype] = None,
                 enabled: bool = True, cache_enabled: Optional[bool] = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: "
                             f"`{type(device_type)}`")
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self.device = device_type
        self._cache_enabled = (is_autocast_cache_enabled() if cache_enabled is None
                               else cache_enabled)
        if enabled:
            if device_type == "cuda":
                if not _cuda_available():
                    warnings.warn("CUDA is not available or torch_xla is imported. Disabling "
                                  "autocast.", stacklevel=2)
                    enabled = False
            elif self.fast_dtype not in (_dt.bfloat16, _dt.float16):
                name = device_type.upper()
                warnings.warn(f"In {name} autocast, but the target dtype is not supported. "
                              f"Disabling autocast.\n{name} Autocast only supports dtypes of "
                              "torch.bfloat16, torch.float16 currently.", stacklevel=2)
                enabled = False
        self._enabled = enabled

    def __enter__(self):
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = _STATE[self.device][0]
        self.prev_fastdtype = _STATE[self.device][1]
        # Restore the exact hook on exit: inside a backward pass (custom_bwd) the hook is off
        # even though the outer region's state says enabled.
        self._prev_hook = _reg.AUTOCAST
        _STATE[self.device][0] = self._enabled
        _STATE[self.device][1] = self.fast_dtype
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        _refresh()
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> bool:
        # Drop the cache when leaving the outermost region, as torch does.
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        _STATE[self.device][0] = self.prev
        _STATE[self.device][1] = self.prev_fastdtype
        set_autocast_cache_enabled(self.prev_cache_enabled)
        _refresh()
        _reg.AUTOCAST = self._prev_hook
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(
                f"autocast()(func) requires a callable, but got {type(func).__name__}. "
                f"Did you mean to use autocast as a context manager? For example:\n"
                f"    with torch.autocast(device_type=...):\n"
                f"        output = model(input)")

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return decorate_autocast


# -------------------------------------------------------------- custom autograd Functions
def _cast(value, device_type: str, dtype):
    """Tensors (also inside lists, tuples and dicts) of ``device_type`` cast to ``dtype``."""
    T = _reg.Tensor
    if isinstance(value, T):
        ok = (value.is_floating_point() and value.device.type == device_type
              and value.dtype is not _dt.float64)
        return value.to(dtype) if ok else value
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, dict):
        return {_cast(k, device_type, dtype): _cast(v, device_type, dtype)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_cast(v, device_type, dtype) for v in value]
        return type(value)(items) if isinstance(value, list) else tuple(items)
    return value


def custom_fwd(fwd=None, *, device_type: str, cast_inputs: Optional[_dt.dtype] = None):
    """Decorator for ``forward`` of a custom ``autograd.Function`` (torch.amp.custom_fwd).

    With ``cast_inputs``, inside an autocast region the forward runs with autocast off on
    floating inputs cast to ``cast_inputs``; otherwise it runs under the surrounding state,
    which :func:`custom_bwd` then reproduces for the backward.
    """
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        on = is_autocast_enabled(device_type)
        ctx._fwd_used_autocast = False
        if on:
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast(args, device_type, cast_inputs),
                           **_cast(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorator for ``backward`` of a custom ``autograd.Function``: runs it with the autocast
    state its forward saw (torch.amp.custom_bwd)."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=ctx._fwd_used_autocast,
                      dtype=ctx._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
