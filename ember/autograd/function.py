"""User-defined differentiable functions: ``autograd.Function`` with a ``ctx``."""
from __future__ import annotations

import functools

from ..ops import registry as _reg
from ..ops.registry import GRAD_MODE, Node, _edge
from .grad_mode import no_grad


class FunctionCtx(Node):
    """The ``ctx`` of a custom Function: also the graph node its outputs point to."""

    def __init__(self, fn_cls):
        self._fn_cls = fn_cls
        self._backward_name = fn_cls.__name__ + "Backward"
        self._non_diff = set()
        self._dirty = ()
        self.materialize_grads = True
        self.next_edges = ()
        self._needs = ()

    def save_for_backward(self, *tensors) -> None:
        self._saved = tensors
        self._saved_versions = tuple(None if t is None else t._version[0] for t in tensors)
        if _reg.SAVED_TENSORS_HOOKS:
            _reg.pack_saved(self)

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_diff.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors) -> None:
        self._dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value

    @property
    def needs_input_grad(self) -> tuple:
        return self._needs

    def save_for_forward(self, *tensors) -> None:
        self.saved_for_forward = tensors

    def apply_backward(self, grads):
        if self.materialize_grads:
            # Non-tensor outputs (meta None) have no gradient to materialize.
            grads = tuple(g if g is not None or m is None else _zeros(m)
                          for g, m in zip(grads, self._out_meta))
        out = self._fn_cls.backward(self, *grads)
        if not isinstance(out, tuple):
            out = (out,)
        n = len(self.next_edges)
        if len(out) != n:
            if len(out) > n and all(g is None for g in out[n:]):
                out = out[:n]
            else:
                raise RuntimeError(f"function {self._backward_name} returned an incorrect number "
                                   f"of gradients (expected {n}, got {len(out)})")
        return out


def _zeros(meta):
    from ..creation import zeros
    shape, dtype, dev = meta
    return zeros(shape, dtype=dtype, device=dev)


class _FunctionMeta(type):
    pass


class Function(metaclass=_FunctionMeta):
    """Base class for custom autograd operations, as ``torch.autograd.Function``.

    Subclasses define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as static
    methods (or ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``), and are called
    through ``apply``.

    Example:
        >>> class Square(Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x * x
        ...     @staticmethod
        ...     def backward(ctx, g):
        ...         (x,) = ctx.saved_tensors
        ...         return 2 * x * g
        >>> y = Square.apply(ember.ones(2, requires_grad=True))
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your "
                                  "custom autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        if _reg.TRACER is not None:
            # ember.jit records the call as one node that calls this Function again.
            return _reg.TRACER.function(cls, args, kwargs)
        from ..tensor import Tensor
        ctx_cls = cls.__dict__.get("_ctx_cls")
        if ctx_cls is None:
            # One ctx type per Function, named like torch's (type(y.grad_fn).__name__).
            ctx_cls = type(cls.__name__ + "Backward", (FunctionCtx,), {})
            cls._ctx_cls = ctx_cls
        ctx = ctx_cls(cls)
        tensors_in = [a for a in args if isinstance(a, Tensor)]
        need = GRAD_MODE.enabled and any(t._rg for t in tensors_in)
        ctx._needs = tuple(isinstance(a, Tensor) and a._rg for a in args)
        custom_setup = cls.setup_context.__func__ is not Function.setup_context.__func__ \
            if hasattr(cls.setup_context, "__func__") else \
            cls.setup_context is not Function.setup_context
        with no_grad():
            if custom_setup:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not need:
            return out
        ctx.next_edges = tuple(_edge(a) if isinstance(a, Tensor) else None for a in args)
        wrapped = []
        meta = []
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                wrapped.append(o)
                meta.append(None)
                continue
            if any(o is a for a in tensors_in) and not any(o is d for d in ctx._dirty):
                o = o.view_as(o) if False else _alias(o)
            meta.append((tuple(o.shape), o._dtype, o._device))
            if id(o) not in ctx._non_diff and o._dtype.is_floating_point:
                o._rg = True
                o.grad_fn = ctx
                o._output_nr = i
            wrapped.append(o)
        ctx._out_meta = meta
        ctx._n_outputs = len(outs)
        return wrapped[0] if single else tuple(wrapped)


def _alias(t):
    from ..tensor import make_tensor
    a = make_tensor(t._data, t._dtype, t._device)
    a._version = t._version
    return a


def once_differentiable(fn):
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    return wrapper


class InplaceFunction(Function):
    pass
