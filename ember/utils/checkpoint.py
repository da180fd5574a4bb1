"""Activation checkpointing, as ``torch.utils.checkpoint``.

The checkpointed forward runs under ``no_grad`` and keeps only its inputs; backward re-runs it
with grad enabled (the RNG state put back as it was, so dropout draws the same mask) and
backpropagates through the recomputed graph.

Both variants share one ``autograd.Function``. ``use_reentrant=False`` differs in what it
accepts (keyword arguments, ``context_fn``, ``determinism_check``) and in that its output takes
part in autograd even when no input requires grad (parameters used inside still get gradients),
as torch's. Its gradients equal the reentrant ones; like the reentrant variant, gradients of
tensors used inside that are not inputs are accumulated into their ``.grad`` during backward
(``autograd.grad`` with respect to such tensors is not supported).
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterable

from ..autograd import Function
from ..autograd.grad_mode import enable_grad, is_grad_enabled, no_grad

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction",
           "noop_context_fn", "detach_variable", "check_backward_validity",
           "get_device_states", "set_device_states", "set_checkpoint_early_stop",
           "set_checkpoint_debug_enabled", "DefaultDeviceType"]


class CheckpointError(RuntimeError):
    """The recomputed forward differed from the original one (``determinism_check``)."""


def noop_context_fn():
    """The default ``context_fn``: no context around the forward or the recompute."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def _is_tensor(x) -> bool:
    from ..tensor import Tensor
    return isinstance(x, Tensor)


def detach_variable(inputs: tuple) -> tuple:
    """Detached copies of ``inputs`` that keep their ``requires_grad``."""
    if not isinstance(inputs, tuple):
        raise RuntimeError("Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    out = []
    for x in inputs:
        if not _is_tensor(x):
            out.append(x)
            continue
        d = x.detach()
        d.requires_grad_(x.requires_grad)
        out.append(d)
    return tuple(out)


def check_backward_validity(inputs: Iterable) -> None:
    """Warn (as torch) when no tensor input requires grad."""
    if not any(_is_tensor(x) and x.requires_grad for x in inputs):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=3)


def get_device_states(*args) -> tuple:
    """The CUDA RNG states of the devices the tensor ``args`` live on: (devices, states)."""
    from .. import random as _random
    devs = sorted({_random._device_index(a.device) for a in args
                   if _is_tensor(a) and a.device.type == "cuda"})
    return devs, [_random._cuda_states([d]) for d in devs]


def set_device_states(devices, states, *, device_type=None) -> None:
    """Put back states from ``get_device_states``."""
    from .. import random as _random
    for st in states:
        _random._set_cuda_states(st)


class DefaultDeviceType:
    """The device type whose RNG state checkpoint saves (CUDA is the only accelerator)."""
    _default_device_type = "cuda"

    @staticmethod
    def set_device_type(device: str = "cuda") -> None:
        DefaultDeviceType._default_device_type = device

    @staticmethod
    def get_device_type() -> str:
        return DefaultDeviceType._default_device_type


@contextlib.contextmanager
def set_checkpoint_early_stop(enable: bool):
    """Accepted for compatibility: ember always recomputes the whole checkpointed forward."""
    yield


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled):
    """Accepted for compatibility: ember has no checkpoint debug trace."""
    yield


def _rng_snapshot(args) -> tuple:
    from .. import random as _random
    if any(_is_tensor(a) and a.device.type == "cuda" for a in args):
        # Make the dropout kernel's device state exist now, so that a first dropout inside the
        # function is replayed from the same (seed, offset) on recompute.
        from ..cuda.kernels import dropout as _drop
        _drop._state()
    gen = _random.default_generator
    return gen._rng.bit_generator.state, _random._cuda_states()


@contextlib.contextmanager
def _rng_restored(snapshot):
    """Run the recompute from the RNG state of the forward, then give the state back as it is
    now, so the recompute leaves the caller's random stream untouched (torch's fork_rng)."""
    from .. import random as _random
    gen = _random.default_generator
    with _random.fork_rng():
        cpu_state, cuda_states = snapshot
        gen._rng.bit_generator.state = cpu_state
        _random._set_cuda_states(cuda_states)
        yield


class CheckpointFunction(Function):
    """The checkpoint Function: ``apply(run_function, preserve_rng_state, *args)``."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        return _forward(ctx, run_function, preserve_rng_state, args, {}, True,
                        noop_context_fn, "none")

    @staticmethod
    def backward(ctx, *grads):
        return (None, None) + _backward(ctx, grads)


class _NonReentrant(Function):
    """``apply(run_function, preserve, kwargs, context_fn, determinism_check, dummy, *args)``:
    ``dummy`` requires grad so that the output joins the graph even when no input does."""

    @staticmethod
    def forward(ctx, run_function, preserve, kwargs, context_fn, determinism_check, dummy,
                *args):
        return _forward(ctx, run_function, preserve, args, kwargs, False, context_fn,
                        determinism_check)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) * 6 + _backward(ctx, grads)


def _forward(ctx, run_function, preserve, args, kwargs, reentrant, context_fn, det_check):
    from ..ops import registry as _reg
    ctx.run_function = run_function
    ctx.kwargs = kwargs
    ctx.reentrant = reentrant
    ctx.context_fn = context_fn
    ctx.det_check = det_check
    ctx.autocast = _reg.AUTOCAST
    ctx.rng = _rng_snapshot(args) if preserve else None
    ctx.inputs = [None if _is_tensor(a) else a for a in args]
    ctx.tensor_indices = [i for i, a in enumerate(args) if _is_tensor(a)]
    ctx.save_for_backward(*[a for a in args if _is_tensor(a)])
    fwd_ctx, _ = context_fn()
    with no_grad(), fwd_ctx:
        out = run_function(*args, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    ctx.out_meta = [(tuple(o.shape), o.dtype) if _is_tensor(o) else None for o in outs]
    return out


def _backward(ctx, grads) -> tuple:
    from .. import autograd
    from ..ops import registry as _reg
    inputs = list(ctx.inputs)
    for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
        inputs[i] = t
    detached = detach_variable(tuple(inputs))
    rng = _rng_restored(ctx.rng) if ctx.rng is not None else contextlib.nullcontext()
    _, recompute_ctx = ctx.context_fn()
    prev_autocast = _reg.AUTOCAST
    _reg.AUTOCAST = ctx.autocast  # recompute under the forward's autocast state, as torch
    try:
        with rng, enable_grad(), recompute_ctx:
            out = ctx.run_function(*detached, **ctx.kwargs)
    finally:
        _reg.AUTOCAST = prev_autocast
    outs = out if isinstance(out, tuple) else (out,)
    if ctx.det_check == "default":
        meta = [(tuple(o.shape), o.dtype) if _is_tensor(o) else None for o in outs]
        if meta != ctx.out_meta:
            raise CheckpointError("torch.utils.checkpoint: Recomputed values have different "
                                  f"metadata than during the original forward: {ctx.out_meta} "
                                  f"vs {meta}")
    with_grad, grad_args = [], []
    for o, g in zip(outs, grads):
        if _is_tensor(o) and o.requires_grad and g is not None:
            with_grad.append(o)
            grad_args.append(g)
    if not with_grad:
        if ctx.reentrant:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is "
                               "not necessary")
        return tuple(None for _ in detached)
    autograd.backward(with_grad, grad_args)
    return tuple(d.grad if _is_tensor(d) else None for d in detached)


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None,
               context_fn: Callable = noop_context_fn, determinism_check: str = "default",
               debug: bool = False, early_stop: bool = True, **kwargs) -> Any:
    """Run ``function(*args, **kwargs)`` without keeping its activations; backward recomputes
    them. ``preserve_rng_state`` (default True) replays the forward's random draws."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
            "Starting in PyTorch 2.9, calling checkpoint without use_reentrant will raise an "
            "exception. use_reentrant=False is recommended, but if you need to preserve the "
            "current default behavior, you can pass use_reentrant=True. Refer to docs for more "
            "details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        if is_grad_enabled():
            check_backward_validity(args)
        return CheckpointFunction.apply(function, preserve, *args)
    if determinism_check not in ("default", "none"):
        raise ValueError("determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    if not is_grad_enabled():
        fwd_ctx, _ = context_fn()
        with fwd_ctx:
            return function(*args, **kwargs)
    from ..creation import zeros
    dev = next((a.device for a in args if _is_tensor(a)), None)
    dummy = zeros((), device=dev) if dev is not None else zeros(())
    dummy.requires_grad_(True)
    return _NonReentrant.apply(function, preserve, kwargs, context_fn, determinism_check,
                               dummy, *args)


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None,
                          **kwargs):
    """Run a sequence of modules in ``segments`` chunks, checkpointing all but the last."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should "
            "be passed explicitly. In version 2.9 we will raise an exception if use_reentrant "
            "is not passed. use_reentrant=False is recommended, but if you need to preserve "
            "the current default behavior, you can pass use_reentrant=True. Refer to docs for "
            "more details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    from ..nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    functions = list(functions)

    def run(start: int, end: int):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run(end + 1, len(functions) - 1)(input)
