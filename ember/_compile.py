"""``ember.compile``: capture a whole step (forward, backward, optimizer update) as a CUDA graph.

torch.compile makes a step fast by generating kernels; on a GPU most of a small model's step is
Python overhead and kernel-launch latency instead, and a CUDA graph removes both: the step's
kernels are recorded once and replayed with a single launch.

How it behaves:

* Calls are grouped by signature (shape, dtype, device of each tensor argument, and the other
  arguments' values). Each signature runs eagerly for ``warmup`` calls (optimizer state, cuBLAS
  handles and memory-pool blocks come into being then); the last of them also checks that every
  op ran on a CUDA device. Such a signature is captured on the next call and replayed from then
  on; one that did any work on the CPU stays eager.
* On replay the tensor arguments are copied into the captured input buffers, the graph is
  launched, and the captured outputs are returned. As with torch's CUDA-graph mode, outputs are
  the same tensors each call and are overwritten by the next call: clone what you keep.
* A new signature (other shapes, dtypes or devices) gets its own warm-up and capture: shape
  changes fall back to eager until the new shape is stable.
* Anything that is not on a CUDA device (or a machine without CuPy) runs eagerly, unchanged.
  Tensor arguments on the CPU skip even the warm-up bookkeeping.

Differences from torch.compile that a user can notice: the function must do the same GPU work
each call for a signature — Python branches on tensor values, host reads (``.item()``) inside
the step and random numbers drawn on the host inside the step (``ember.randn`` and the like)
are frozen at capture time. For those, call ``ember.compile(fn, mode="eager")`` or leave the
function uncompiled. ``F.dropout`` on CUDA is not affected: its kernel keeps its seed and offset
on the device and advances them there, so each replay draws a new mask.

Optimizers: on CUDA, SGD and Adam/AdamW update through multi-tensor kernels that keep Adam's
step count in device tensors and compute the bias corrections on the device, so a captured step
replays with the right count. They read ``lr`` from a device scalar that is refreshed from the
parameter group before each replay (through ``on_replay``), so a scheduler's new ``lr`` shows
without a new capture; the other hyperparameters are fixed at capture. An update that reads its
step count on the host (``foreach=False``, NAdam, RAdam, Adamax) raises inside a capture, and
the step then runs eagerly (with a warning) instead of replaying a frozen count.
"""
from __future__ import annotations

import functools

from .tensor import Tensor

# Host callbacks that code running inside a capture asked to run before each replay of that
# graph (``on_replay``); ``_capture`` hands them to the captured entry.
_REPLAY_HOOKS: list = []


def on_replay(fn) -> None:
    """Run ``fn()`` on the host before every replay of the step being captured now.

    For state that lives on the host but is read by the graph from device memory (an
    optimizer's learning rate): ``fn`` copies the current value to the device. Outside an
    ``ember.compile`` capture it has no effect.
    """
    if fn not in _REPLAY_HOOKS:
        _REPLAY_HOOKS.append(fn)


def _signature(args, kwargs):
    sig = []
    on_cuda = True
    saw_tensor = False
    for a in list(args) + [kwargs[k] for k in sorted(kwargs)]:
        if isinstance(a, Tensor):
            saw_tensor = True
            on_cuda = on_cuda and a.is_cuda
            sig.append((tuple(a.shape), a.dtype.name, str(a.device), a.requires_grad))
        else:
            try:
                hash(a)
                sig.append(("py", a))
            except TypeError:
                sig.append(("py", id(a)))
    return tuple(sorted(kwargs)), tuple(sig), (on_cuda and saw_tensor)


class _DeviceProbe:
    """Counts the ops of a call by the device of their tensor inputs (through the profiler hook
    of ``Primitive.apply``, with the small-CPU-op fast path turned off meanwhile)."""

    def __init__(self):
        self.cpu_ops = 0
        self.cuda_ops = 0

    def record(self, cls, args, kwargs):
        from .ops import registry as _reg
        for a in args:
            if isinstance(a, Tensor):
                if a.is_cuda:
                    self.cuda_ops += 1
                else:
                    self.cpu_ops += 1
        _reg.PROFILER = None
        try:
            return cls.apply(*args, **kwargs)
        finally:
            _reg.PROFILER = self

    def backward_node(self, node, grads):
        # The engine hands backward nodes to the profiler hook too; they just run.
        return node.apply_backward(grads)

    def __enter__(self):
        from . import _tensor_methods as tm
        from .ops import registry as _reg
        self._prev = _reg.PROFILER
        self._prev_small = tm._SMALL
        if self._prev is None:
            _reg.PROFILER = self
            tm._SMALL = 0
        else:
            self.cpu_ops = 1  # a profiler is running: don't capture under it
        return self

    def __exit__(self, *exc):
        from . import _tensor_methods as tm
        from .ops import registry as _reg
        _reg.PROFILER = self._prev
        tm._SMALL = self._prev_small
        return False


class _Entry:
    __slots__ = ("calls", "graph", "static_args", "static_kwargs", "out", "eager", "hooks")

    def __init__(self):
        self.hooks = ()
        self.eager = False
        self.calls = 0
        self.graph = None
        self.static_args = None
        self.static_kwargs = None
        self.out = None


class CompiledFunction:
    """A function whose CUDA work is captured and replayed per input signature."""

    def __init__(self, fn, warmup: int = 3, mode: str | None = None):
        self.fn = fn
        self.warmup = max(1, int(warmup))
        self.eager = mode == "eager"
        self.entries: dict = {}
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        if self.eager:
            return self.fn(*args, **kwargs)
        names, sig, on_cuda = _signature(args, kwargs)
        if not on_cuda and any(isinstance(a, Tensor) for a in _flatten(list(args))):
            return self.fn(*args, **kwargs)
        key = (names, sig)
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = _Entry()
        if entry.graph is None:
            entry.calls += 1
            if entry.eager or entry.calls < self.warmup:
                return self.fn(*args, **kwargs)
            if entry.calls == self.warmup:
                # The last warm-up call also checks that every op runs on a CUDA device: CPU
                # work would not be in the graph, so such a step stays eager.
                probe = _DeviceProbe()
                with probe:
                    out = self.fn(*args, **kwargs)
                entry.eager = probe.cpu_ops > 0 or probe.cuda_ops == 0
                return out
            self._capture(entry, args, kwargs)
            if entry.graph is None:
                return self.fn(*args, **kwargs)
        self._copy_inputs(entry, args, kwargs)
        for hook in entry.hooks:
            hook()
        entry.graph.replay()
        return entry.out

    def _capture(self, entry, args, kwargs):
        from . import cuda
        from .autograd.grad_mode import no_grad
        with no_grad():
            entry.static_args = [a.detach().clone().requires_grad_(a.requires_grad)
                                 if isinstance(a, Tensor) else a for a in args]
            entry.static_kwargs = {k: (v.detach().clone().requires_grad_(v.requires_grad)
                                       if isinstance(v, Tensor) else v)
                                   for k, v in kwargs.items()}
        from .autograd.engine import BACKWARD_CALLS
        g = cuda.CUDAGraph()
        before = BACKWARD_CALLS[0]
        del _REPLAY_HOOKS[:]
        try:
            with cuda.graph(g):
                out = self.fn(*entry.static_args, **entry.static_kwargs)
        except RuntimeError as e:
            # Something in the step reads GPU values on the host (a data-dependent branch, an
            # .item()); such a step cannot be a graph. Nothing ran on the GPU during the
            # capture, so the caller simply runs this call, and all later ones, eagerly.
            import warnings
            warnings.warn(f"ember.compile: running {getattr(self.fn, '__name__', 'fn')} "
                          f"eagerly, it cannot be captured as a CUDA graph: {e}")
            entry.eager = True
            return
        if BACKWARD_CALLS[0] != before:
            # A whole training step: its outputs (the loss) were differentiated inside the step.
            # Hand them out detached so nobody walks the captured graph again.
            out = _detach_outputs(out)
        elif any(isinstance(o, Tensor) and o.grad_fn is not None for o in _flatten(out)):
            # An output that backward will run through later (a compiled forward used in
            # training) would replay into a graph whose saved tensors are freed: stay eager.
            entry.eager = True
            return
        entry.out = out
        entry.graph = g
        entry.hooks = tuple(_REPLAY_HOOKS)
        del _REPLAY_HOOKS[:]

    @staticmethod
    def _copy_inputs(entry, args, kwargs):
        for dst, src in zip(entry.static_args, args):
            if isinstance(src, Tensor) and dst is not src:
                dst._data[...] = src._data
        for k, v in kwargs.items():
            if isinstance(v, Tensor):
                entry.static_kwargs[k]._data[...] = v._data

    def reset(self) -> None:
        self.entries.clear()


def _detach_outputs(x):
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, (list, tuple)):
        return type(x)(_detach_outputs(v) for v in x)
    if isinstance(x, dict):
        return {k: _detach_outputs(v) for k, v in x.items()}
    return x


def _flatten(x):
    if isinstance(x, (list, tuple)):
        for v in x:
            yield from _flatten(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _flatten(v)
    else:
        yield x


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend=None,
            mode: str | None = None, options=None, disable: bool = False, warmup: int = 3):
    """Compile ``model`` (a function or Module); usable as ``@ember.compile`` or
    ``ember.compile(fn, mode=...)``. See the module docstring for the semantics."""
    def wrap(fn):
        if disable:
            return fn
        if hasattr(fn, "forward") and hasattr(fn, "parameters"):
            fn.forward = CompiledFunction(fn.forward, warmup, mode)
            return fn
        return CompiledFunction(fn, warmup, mode)
    if model is None:
        return wrap
    return wrap(model)
