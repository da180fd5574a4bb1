"""``torch.testing``: ``assert_close``, ``make_tensor`` and the deprecated ``assert_allclose``.

Values are compared on the host in NumPy, with torch's default tolerances per dtype and its
error messages (mismatch count, greatest absolute/relative difference and where).
"""
from __future__ import annotations

import cmath
import collections.abc
import math
import warnings
from typing import Any, Callable

import numpy as np

__all__ = ["assert_close", "make_tensor", "assert_allclose"]


class _Fail(Exception):
    """A comparison failure: the exception type to raise, its message, and the item path."""

    def __init__(self, typ: type, msg: str, path: tuple = ()):
        super().__init__(msg)
        self.typ, self.msg, self.path = typ, msg, path

    def error(self, msg) -> Exception:
        if isinstance(msg, str):
            return self.typ(msg)
        text = self.msg
        if self.path:
            text += ("\n\nThe failure occurred for item "
                     + "".join(str([item]) for item in self.path))
        return self.typ(msg(text) if callable(msg) else text)


def _precisions() -> dict:
    from . import bfloat16, complex64, complex128, float16, float32, float64
    table = {float16: (0.001, 1e-5), bfloat16: (0.016, 1e-5), float32: (1.3e-6, 1e-5),
             float64: (1e-7, 1e-7), complex64: (1.3e-6, 1e-5), complex128: (1e-7, 1e-7)}
    from . import backend
    c32 = getattr(backend.dtypes, "complex32", None)
    if c32 is not None:
        table[c32] = (0.001, 1e-5)
    return table


def _tolerances(dtypes, rtol, atol, path) -> tuple:
    if (rtol is None) ^ (atol is None):
        raise _Fail(ValueError, "Both 'rtol' and 'atol' must be either specified or omitted, "
                    f"but got no {'rtol' if rtol is None else 'atol'}.", path)
    if rtol is not None:
        return rtol, atol
    table = _precisions()
    pairs = [table.get(d, (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _mismatch_msg(ident: str, extra: str, abs_diff, abs_idx, atol, rel_diff, rel_idx,
                  rtol) -> str:
    equality = rtol == 0 and atol == 0

    def line(kind: str, diff, idx, tol) -> str:
        s = (f"{kind.title()} difference: {diff}" if idx is None
             else f"Greatest {kind} difference: {diff} at index {idx}")
        return s + ("" if equality else f" (up to {tol} allowed)") + "\n"
    msg = f"{ident} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        msg += extra.strip() + "\n"
    msg += line("absolute", abs_diff, abs_idx, atol) + line("relative", rel_diff, rel_idx, rtol)
    return msg.strip()


def _scalar_msg(actual, expected, rtol, atol) -> str:
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg("Scalars", f"Expected {expected} but got {actual}.", abs_diff, None,
                         atol, rel_diff, None, rtol)


def _host(t) -> np.ndarray:
    """Host NumPy values (bfloat16 widened to float32, NumPy has none)."""
    a = t.detach()
    if a.device.type != "cpu":
        a = a.cpu()
    arr = np.asarray(a.numpy())
    if arr.dtype.kind == "V" or arr.dtype.name == "bfloat16":
        arr = arr.astype(np.float32)
    return arr


def _isclose(a: np.ndarray, e: np.ndarray, rtol: float, atol: float, equal_nan: bool):
    if a.dtype == np.bool_:
        return a == e
    with np.errstate(invalid="ignore", over="ignore"):
        if a.dtype.kind in "iu":
            if rtol == 0 and atol == 0:
                return a == e
            a, e = a.astype(np.float64), e.astype(np.float64)
        eq = a == e
        fin = np.isfinite(a) & np.isfinite(e)
        close = eq | (fin & (np.abs(a - e) <= atol + rtol * np.abs(e)))
        if equal_nan:
            close |= np.isnan(a) & np.isnan(e)
    return close


def _tensor_msg(a: np.ndarray, e: np.ndarray, matches: np.ndarray, rtol, atol) -> str:
    n = matches.size
    bad = n - int(matches.sum())
    extra = f"Mismatched elements: {bad} / {n} ({bad / n:.1%})"
    af, ef, mf = a.reshape(-1), e.reshape(-1), matches.reshape(-1)
    if a.dtype.kind in "biu":
        af, ef = af.astype(np.int64), ef.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        abs_diff = np.abs(af - ef)
        abs_diff[mf] = 0
        # integer true division gives torch's default float dtype (float32)
        den = np.abs(ef)
        rel_diff = (abs_diff.astype(np.float32) / den.astype(np.float32)
                    if abs_diff.dtype.kind == "i" else abs_diff / den)
        rel_diff[mf] = 0

    def worst(d: np.ndarray) -> tuple:
        nan = np.isnan(d) if d.dtype.kind in "fc" else np.zeros(d.shape, bool)
        i = int(np.argmax(nan)) if nan.any() else int(np.argmax(d))
        return d[i].item(), tuple(int(v) for v in np.unravel_index(i, matches.shape))
    ad, ai = worst(abs_diff)
    rd, ri = worst(rel_diff)
    return _mismatch_msg("Tensor-likes", extra, ad, ai, atol, rd, ri, rtol)


def _compare_tensors(actual, expected, path, rtol, atol, equal_nan, check_device, check_dtype,
                     check_layout, check_stride) -> None:
    def attr(name, av, ev):
        raise _Fail(AssertionError, f"The values for attribute '{name}' do not match: "
                    f"{av} != {ev}.", path)
    if tuple(actual.shape) != tuple(expected.shape):
        attr("shape", actual.shape, expected.shape)
    if check_stride and actual.stride() != expected.stride():
        attr("stride()", actual.stride(), expected.stride())
    if check_device and actual.device != expected.device:
        attr("device", actual.device, expected.device)
    if check_dtype and actual.dtype != expected.dtype:
        attr("dtype", actual.dtype, expected.dtype)
    rtol, atol = _tolerances((actual.dtype, expected.dtype), rtol, atol, path)
    a, e = _host(actual), _host(expected)
    if a.dtype != e.dtype:
        common = np.promote_types(a.dtype, e.dtype)
        a, e = a.astype(common), e.astype(common)
    matches = _isclose(a, e, rtol, atol, equal_nan)
    if matches.all():
        return
    if a.ndim == 0:
        msg = _scalar_msg(a.item(), e.item(), rtol, atol)
    else:
        msg = _tensor_msg(a, e, matches, rtol, atol)
    raise _Fail(AssertionError, msg, path)


_NUM_DTYPE = {int: "int64", float: "float64", complex: "complex128"}


def _compare_numbers(actual, expected, path, rtol, atol, equal_nan, check_dtype) -> None:
    from . import backend
    actual = actual.item() if isinstance(actual, np.number) else actual
    expected = expected.item() if isinstance(expected, np.number) else expected
    if check_dtype and type(actual) is not type(expected):
        raise _Fail(AssertionError, f"The (d)types do not match: {type(actual)} != "
                    f"{type(expected)}.", path)
    dts = [getattr(backend.dtypes, _NUM_DTYPE[type(v)]) for v in (actual, expected)]
    rtol, atol = _tolerances(dts, rtol, atol, path)
    if actual == expected:
        return
    if equal_nan and cmath.isnan(actual) and cmath.isnan(expected):
        return
    diff = abs(actual - expected)
    if cmath.isfinite(diff) and diff <= atol + rtol * abs(expected):
        return
    raise _Fail(AssertionError, _scalar_msg(actual, expected, rtol, atol), path)


def _compare(actual, expected, path: tuple, opts: dict) -> None:
    from .tensor import Tensor
    seq = collections.abc.Sequence
    if (isinstance(actual, seq) and not isinstance(actual, str)
            and isinstance(expected, seq) and not isinstance(expected, str)):
        if len(actual) != len(expected):
            raise _Fail(AssertionError, "The length of the sequences mismatch: "
                        f"{len(actual)} != {len(expected)}", path)
        for i in range(len(actual)):
            _compare(actual[i], expected[i], path + (i,), opts)
        return
    mp = collections.abc.Mapping
    if isinstance(actual, mp) and isinstance(expected, mp):
        ak, ek = set(actual.keys()), set(expected.keys())
        if ak != ek:
            raise _Fail(AssertionError, "The keys of the mappings do not match:\n"
                        f"Missing keys in the actual mapping: {sorted(ek - ak)}\n"
                        f"Additional keys in the actual mapping: {sorted(ak - ek)}", path)
        keys = list(ak)
        try:
            keys = sorted(keys)
        except Exception:  # unorderable keys: any order
            pass
        for k in keys:
            _compare(actual[k], expected[k], path + (k,), opts)
        return
    if actual is None or expected is None:
        if not (actual is None and expected is None):
            raise _Fail(AssertionError, f"None mismatch: {actual} is not {expected}", path)
        return
    if isinstance(actual, (bool, np.bool_)) and isinstance(expected, (bool, np.bool_)):
        if bool(actual) is not bool(expected):
            raise _Fail(AssertionError, f"Booleans mismatch: {bool(actual)} is not "
                        f"{bool(expected)}", path)
        return
    num = (int, float, complex, np.number)
    if (isinstance(actual, num) and isinstance(expected, num)
            and not isinstance(actual, bool) and not isinstance(expected, bool)):
        _compare_numbers(actual, expected, path, opts["rtol"], opts["atol"], opts["equal_nan"],
                         opts["check_dtype"])
        return
    tl = (Tensor, np.ndarray)
    if isinstance(actual, tl) and isinstance(expected, tl):
        from .creation import as_tensor
        a = actual if isinstance(actual, Tensor) else as_tensor(actual)
        e = expected if isinstance(expected, Tensor) else as_tensor(expected)
        if not opts["allow_subclasses"] and type(a) is not type(e):
            raise _Fail(TypeError, f"No comparison pair was able to handle inputs of type "
                        f"{type(actual)} and {type(expected)}.", path)
        _compare_tensors(a, e, path, opts["rtol"], opts["atol"], opts["equal_nan"],
                         opts["check_device"], opts["check_dtype"], opts["check_layout"],
                         opts["check_stride"])
        return
    raise _Fail(TypeError, f"No comparison pair was able to handle inputs of type "
                f"{type(actual)} and {type(expected)}.", path)


def assert_close(actual: Any, expected: Any, *, allow_subclasses: bool = True,
                 rtol: float | None = None, atol: float | None = None,
                 equal_nan: bool = False, check_device: bool = True, check_dtype: bool = True,
                 check_layout: bool = True, check_stride: bool = False,
                 msg: str | Callable[[str], str] | None = None) -> None:
    """Raise AssertionError unless ``actual`` and ``expected`` are close: tensors, Python
    numbers, or (nested) sequences and mappings of them, as ``torch.testing.assert_close``."""
    __tracebackhide__ = True
    opts = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol, equal_nan=equal_nan,
                check_device=check_device, check_dtype=check_dtype, check_layout=check_layout,
                check_stride=check_stride)
    try:
        _compare(actual, expected, (), opts)
    except _Fail as f:
        raise f.error(msg) from None


def assert_allclose(actual: Any, expected: Any, rtol: float | None = None,
                    atol: float | None = None, equal_nan: bool = True, msg: str = "") -> None:
    """Deprecated: use ``assert_close`` (tensors of other dtype/device are compared as-is)."""
    from .tensor import Tensor
    from .creation import tensor as _tensor
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be "
                  "removed in a future release. Please use `torch.testing.assert_close()` "
                  "instead. You can find detailed upgrade instructions in "
                  "https://github.com/pytorch/pytorch/issues/61844.", FutureWarning,
                  stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = _tensor(actual)
    if not isinstance(expected, Tensor):
        expected = _tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtol, atol = _tolerances((actual.dtype, expected.dtype), None, None, ())
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_device=True, check_dtype=False, check_stride=False, msg=msg or None)


def make_tensor(*shape, dtype, device, low: float | None = None, high: float | None = None,
                requires_grad: bool = False, noncontiguous: bool = False,
                exclude_zero: bool = False, memory_format=None):
    """A tensor of ``shape`` filled with uniform values in ``[low, high)`` (defaults -9, 9;
    integers in ``[low, high)``, unsigned from 0), as ``torch.testing.make_tensor``."""
    from . import backend
    from .creation import empty, tensor as _tensor
    from .random import default_generator
    dt = backend.dtypes
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    if requires_grad and not (dtype.is_floating_point or dtype.is_complex):
        raise ValueError("`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={dtype}")
    rng = default_generator.rng
    integral = not (dtype.is_floating_point or dtype.is_complex)

    def bounds(lo_def, hi_def, lo_min, hi_max):
        lo = lo_def if low is None else low
        hi = hi_def if high is None else high
        if any(isinstance(v, float) and math.isnan(v) for v in (lo, hi)):
            raise ValueError(f"`low` and `high` cannot be NaN, but got low={lo} and high={hi}")
        if lo == hi and not integral:
            warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or "
                          "complex types is deprecated since 2.1 and will be removed in 2.3. "
                          "Use `torch.full(...)` instead.", FutureWarning, stacklevel=3)
        elif lo >= hi:
            raise ValueError(f"`low` must be less than `high`, but got {lo} >= {hi}")
        return max(lo, lo_min), min(hi, hi_max)

    n_shape = shape
    if noncontiguous and len(shape) > 0 and math.prod(shape) > 1:
        n_shape = shape[:-1] + (shape[-1] * 2,)
    if dtype == dt.bool_:
        vals = rng.integers(0, 2, size=n_shape).astype(np.bool_)
    elif not (dtype.is_floating_point or dtype.is_complex):
        info = np.iinfo(np.dtype(str(dtype).replace("torch.", "")))
        lo, hi = bounds(0 if info.min == 0 else -9, 10, info.min, info.max + 1)
        vals = rng.integers(math.ceil(lo), math.ceil(hi), size=n_shape, endpoint=False)
    else:
        fmax = float(np.finfo(np.float16 if dtype == dt.float16 else np.float32).max) \
            if dtype in (dt.float16, dt.bfloat16) else float(np.finfo(np.float64).max)
        lo, hi = bounds(-9, 9, -fmax, fmax)
        vals = rng.uniform(lo, hi, size=n_shape)
        if dtype.is_complex:
            vals = vals + 1j * rng.uniform(lo, hi, size=n_shape)
    if exclude_zero:
        if dtype.is_floating_point or dtype.is_complex:
            tiny = float(np.finfo(np.float16).tiny) if dtype == dt.float16 else \
                float(np.finfo(np.float32).tiny) if dtype in (dt.float32, dt.bfloat16,
                                                              dt.complex64) \
                else float(np.finfo(np.float64).tiny)
            vals = np.where(vals == 0, tiny, vals)
        elif dtype != dt.bool_:
            vals = np.where(vals == 0, 1, vals)
        else:
            vals = np.ones_like(vals)
    if len(shape) == 0:
        out = _tensor(np.asarray(vals).reshape(()), dtype=dtype, device=device)
    else:
        out = _tensor(np.asarray(vals), dtype=dtype, device=device)
        if n_shape != shape:
            out = out[..., ::2]
    if shape and math.prod(shape) == 0:
        out = empty(shape, dtype=dtype, device=device)
    if requires_grad:
        out.requires_grad_(True)
    return out
