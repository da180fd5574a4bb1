"""CUDA parameters through the multi-tensor kernels of ``ember/cuda/kernels/optim.py``.

Routing follows torch's flags: on CUDA the multi-tensor path is the default (torch's
``foreach``/``fused``); ``foreach=False`` (without ``fused=True``) keeps the per-parameter
path. A parameter the kernels cannot take (complex, float32-stored bfloat16, non-contiguous,
state of another dtype) goes through the per-parameter path in the same step.

Capturability (``ember.compile``): the fused update does no host read. Adam's ``state["step"]``
is a float32 device tensor (torch's fused/capturable layout) that the kernel increments and
reads for the bias corrections; ``lr`` is read from a float64 device scalar per (group, device)
that each eager step refreshes when the group's ``lr`` changed, and that ``ember.compile``
refreshes before each replay; a CUDA tensor ``lr`` is read in place. Creating state, or moving a
host ``step`` to the device, cannot be part of a graph: inside a capture that raises, and
``ember.compile`` runs the step eagerly (its warm-up calls create the state first).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import dtypes as _dt
from ..backend.device import CAPTURING
from ..tensor import Tensor, make_tensor
from .optimizer import to_scalar, zeros_state

__all__ = ["wants_fused", "split", "adam", "sgd", "refresh_device_lrs"]


def _capturing() -> bool:
    return CAPTURING[0] > 0


def wants_fused(group: dict) -> bool:
    """torch's default on CUDA: the multi-tensor path, unless ``foreach=False`` without
    ``fused=True``."""
    return bool(group.get("fused")) or group.get("foreach") is not False


def _fusable(p: Tensor, state: dict | None) -> bool:
    if not p.is_cuda:
        return False
    from ..cuda.kernels.optim import dtype_tag
    arr = p._data
    if dtype_tag(arr.dtype) is None or not arr.flags.c_contiguous:
        return False
    if p._dtype is _dt.bfloat16 and not _dt.is_bf16_array(arr):
        return False  # float32-stored bfloat16 (no ml_dtypes) must be rounded after each op
    if p.grad._data.size != arr.size:
        return False
    dev = arr.device.id
    for key, value in (state or {}).items():
        if key == "step" or not isinstance(value, Tensor):
            continue
        a = value._data
        if isinstance(a, np.ndarray) or a.dtype != arr.dtype or a.size != arr.size \
                or not a.flags.c_contiguous or a.device.id != dev:
            return False
    return True


def split(opt, group: dict, params: list) -> tuple[list, list]:
    """``(fused, plain)``: the parameters (with gradients) of ``group`` the kernels update, and
    the rest."""
    if not params or not wants_fused(group):
        return [], params
    fused, plain = [], []
    for p in params:
        (fused if _fusable(p, opt.state.get(p)) else plain).append(p)
    return fused, plain


def _cp():
    import cupy
    return cupy


def _grad_array(p: Tensor):
    g = p.grad._data
    if g.dtype != p._data.dtype:
        g = g.astype(p._data.dtype)
    if not g.flags.c_contiguous:
        g = _cp().ascontiguousarray(g)
    return g


def _no_new_state_in_capture(opt, what: str) -> None:
    if _capturing():
        raise RuntimeError(f"{type(opt).__name__}: {what} inside a CUDA-graph capture; run "
                           "the step eagerly once before capturing (ember.compile's warm-up "
                           "does)")


def _new_device_step(p: Tensor) -> Tensor:
    with _cp().cuda.Device(p._data.device.id):
        arr = _cp().zeros((), dtype=np.float32)
    return make_tensor(arr, _dt.float32, p._device)


def _device_step(opt, state: dict, p: Tensor):
    """``state['step']`` as a 0-d float32 array on ``p``'s device (moved there if needed)."""
    step = state["step"]
    dev = p._data.device.id
    if isinstance(step, Tensor):
        arr = step._data
        if not isinstance(arr, np.ndarray) and arr.dtype == np.float32 and arr.size == 1 \
                and arr.device.id == dev:
            return arr
    # A step from the per-parameter path (host) or from a loaded state dict.
    _no_new_state_in_capture(opt, "moving the step count to the device")
    value = float(step.item()) if isinstance(step, Tensor) else float(step)
    with _cp().cuda.Device(dev):
        arr = _cp().full((), value, dtype=np.float32)
    state["step"] = make_tensor(arr, _dt.float32, p._device)
    return arr


def _device_lr(opt, index: int, group: dict, dev: int):
    """The device scalar the kernels read ``lr`` from, for group ``index`` on device ``dev``."""
    lr = group["lr"]
    if isinstance(lr, Tensor) and lr.is_cuda and lr.numel() == 1 \
            and lr._data.dtype in (np.float32, np.float64) and lr._data.device.id == dev:
        return lr._data  # read in place: in-place changes (schedulers' fill_) reach graphs too
    value = float(to_scalar(lr))
    key = (index, dev)
    entry = opt._device_lrs.get(key)
    if entry is None:
        with _cp().cuda.Device(dev):
            entry = opt._device_lrs[key] = [_cp().full((), value, dtype=np.float64), value]
    elif entry[1] != value and not _capturing():
        with _cp().cuda.Device(dev):
            entry[0].fill(value)
        entry[1] = value
    if _capturing():
        from .._compile import on_replay
        on_replay(opt._refresh_device_lrs)
    return entry[0]


def refresh_device_lrs(opt) -> None:
    """Write each group's current host ``lr`` into its device scalar where it changed."""
    groups = opt.param_groups
    for (index, dev), entry in opt._device_lrs.items():
        if index >= len(groups):
            continue
        lr = groups[index]["lr"]
        if isinstance(lr, Tensor) and lr.is_cuda:
            continue
        value = float(to_scalar(lr))
        if value != entry[1]:
            with _cp().cuda.Device(dev):
                entry[0].fill(value)
            entry[1] = value


def adam(opt, index: int, group: dict, params: list) -> None:
    """One Adam/AdamW step of ``params`` (CUDA, fusable) through the multi-tensor kernel."""
    from ..cuda.kernels.optim import adam_step
    amsgrad = group["amsgrad"]
    by_dev: dict[int, Any] = {}
    for p in params:
        state = opt.state[p]
        if len(state) == 0:
            _no_new_state_in_capture(opt, "creating optimizer state")
            opt._init_state(p, group, state, step=_new_device_step(p))
        elif amsgrad and "max_exp_avg_sq" not in state:
            _no_new_state_in_capture(opt, "creating optimizer state")
            state["max_exp_avg_sq"] = zeros_state(p)
        step = _device_step(opt, state, p)
        lists = by_dev.get(p._data.device.id)
        if lists is None:
            lists = by_dev[p._data.device.id] = ([], [], [], [], [], [])
        lists[0].append(p._data)
        lists[1].append(_grad_array(p))
        lists[2].append(state["exp_avg"]._data)
        lists[3].append(state["exp_avg_sq"]._data)
        lists[4].append(state["max_exp_avg_sq"]._data if amsgrad else None)
        lists[5].append(step)
    beta1, beta2 = (to_scalar(b) for b in group["betas"])
    for dev, lists in by_dev.items():
        with _cp().cuda.Device(dev):
            adam_step(*lists[:4], lists[4] if amsgrad else None, lists[5],
                      _device_lr(opt, index, group, dev), beta1=beta1, beta2=beta2,
                      eps=group["eps"], weight_decay=to_scalar(group["weight_decay"]),
                      amsgrad=amsgrad, maximize=group["maximize"],
                      decoupled=group["decoupled_weight_decay"])
    for p in params:
        p._version[0] += 1


def sgd(opt, index: int, group: dict, params: list) -> None:
    """One SGD step of ``params`` (CUDA, fusable) through the multi-tensor kernel."""
    from ..cuda.kernels.optim import sgd_step
    momentum = group["momentum"]
    by_dev: dict[int, Any] = {}
    for p in params:
        buf = None
        first = False
        if momentum != 0:
            state = opt.state[p]
            buf_t = state.get("momentum_buffer")
            if buf_t is None:
                _no_new_state_in_capture(opt, "creating the momentum buffer")
                arr = p._data
                with _cp().cuda.Device(arr.device.id):
                    buf_t = make_tensor(_cp().empty(arr.shape, dtype=arr.dtype), p._dtype,
                                        p._device)
                state["momentum_buffer"] = buf_t
                first = True  # the kernel writes buf = g
            buf = buf_t._data
        lists = by_dev.get(p._data.device.id)
        if lists is None:
            lists = by_dev[p._data.device.id] = ([], [], [], [])
        lists[0].append(p._data)
        lists[1].append(_grad_array(p))
        lists[2].append(buf)
        lists[3].append(first)
    for dev, lists in by_dev.items():
        with _cp().cuda.Device(dev):
            sgd_step(lists[0], lists[1], lists[2] if momentum != 0 else None, lists[3],
                     _device_lr(opt, index, group, dev), momentum=momentum,
                     dampening=group["dampening"], nesterov=group["nesterov"],
                     weight_decay=to_scalar(group["weight_decay"]),
                     maximize=group["maximize"])
    for p in params:
        p._version[0] += 1
