"""Grad-mode switches: no_grad, enable_grad, set_grad_enabled, inference_mode (also decorators)."""
from __future__ import annotations

import functools

from ..ops.registry import GRAD_MODE


class _Mode:
    """Base: a context manager that is also a decorator (with or without parentheses)."""

    def __new__(cls, *args, **kwargs):
        # ``@no_grad`` (no parentheses) hands the function straight to the constructor.
        if len(args) == 1 and callable(args[0]) and not isinstance(args[0], bool) \
                and cls in (no_grad, enable_grad, inference_mode):
            inst = super().__new__(cls)
            inst._args = ()
            return cls.__call__(inst, args[0])
        return super().__new__(cls)

    def __call__(self, fn):
        if isinstance(fn, type):
            raise TypeError("grad mode decorators apply to functions, not classes")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return fn(*args, **kwargs)
        return wrapper

    _args: tuple = ()

    def __enter__(self):
        self._prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = self._target()
        return self

    def __exit__(self, *exc):
        GRAD_MODE.enabled = self._prev
        return False

    def clone(self):
        return self.__class__(*self._args)


class no_grad(_Mode):
    """Disable gradient recording inside the block."""

    def _target(self):
        return False


class enable_grad(_Mode):
    """Enable gradient recording inside the block (e.g. inside ``no_grad``)."""

    def _target(self):
        return True


class set_grad_enabled(_Mode):
    """Turn gradient recording on or off; works as a function, a context manager and decorator."""

    def __init__(self, mode: bool):
        self._args = (mode,)
        self._prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = bool(mode)  # takes effect at once when called as a function

    def _target(self):
        return self._args[0]

    def __enter__(self):
        return self

    def __call__(self, fn):
        # As a decorator the constructor's immediate switch must not leak: undo it (as torch).
        GRAD_MODE.enabled = self._prev
        return super().__call__(fn)


class inference_mode(_Mode):
    """Like ``no_grad`` (ember has no separate inference tensors)."""

    def __init__(self, mode: bool = True):
        self._args = (mode,)

    def __call__(self, fn=None):
        if isinstance(fn, bool) or fn is None:
            return inference_mode(fn if fn is not None else True)
        return super().__call__(fn)

    def _target(self):
        return self._prev and not self._args[0]

    def __enter__(self):
        self._prev_inf = GRAD_MODE.inference
        GRAD_MODE.inference = self._args[0]
        return super().__enter__()

    def __exit__(self, *exc):
        GRAD_MODE.inference = self._prev_inf
        return super().__exit__(*exc)


def is_grad_enabled() -> bool:
    return GRAD_MODE.enabled


def is_inference_mode_enabled() -> bool:
    return GRAD_MODE.inference


class set_detect_anomaly:
    """Turn anomaly detection on or off (a NaN produced in backward names the op that made it)."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self._prev = GRAD_MODE.anomaly
        GRAD_MODE.anomaly = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        GRAD_MODE.anomaly = self._prev
        return False


class detect_anomaly(set_detect_anomaly):
    def __init__(self, check_nan: bool = True):
        self._prev = None
        self._check = check_nan

    def __enter__(self):
        self._prev = GRAD_MODE.anomaly
        GRAD_MODE.anomaly = True
        return self

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly():
                return fn(*args, **kwargs)
        return wrapper


def is_anomaly_enabled() -> bool:
    return GRAD_MODE.anomaly
