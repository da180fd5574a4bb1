"""dtype promotion and default-dtype rules against torch (torch.promote_types/result_type)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import ember

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
         "float64", "complex64", "complex128"]
REAL = NAMES[:-2]
SCALARS = [True, 3, -2, 2.5, 1 + 2j]


def _d(lib, name):
    return getattr(lib, name)


def _tensor(lib, name, shape):
    return lib.zeros(shape, dtype=_d(lib, name))


def _same(e, t) -> bool:
    # ember has no complex32 (torch's chalf): complex64 stands in for it.
    t = "complex64" if str(t) == "torch.complex32" else t
    return str(e).replace("torch.", "") == str(t).replace("torch.", "")


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
def test_promote_types(a, b):
    t = torch.promote_types(_d(torch, a), _d(torch, b))
    e = ember.promote_types(_d(ember, a), _d(ember, b))
    assert _same(e, t), f"promote_types({a}, {b}): ember {e}, torch {t}"


# (shape of a, shape of b): tensor x tensor, tensor x 0-d, 0-d x tensor, 0-d x 0-d
SHAPES = [((2,), (2,)), ((2,), ()), ((), (2,)), ((), ())]


@pytest.mark.parametrize("sa,sb", SHAPES)
def test_result_type_tensors(sa, sb):
    bad = []
    for a, b in itertools.product(NAMES, NAMES):
        t = torch.result_type(_tensor(torch, a, sa), _tensor(torch, b, sb))
        e = ember.result_type(_tensor(ember, a, sa), _tensor(ember, b, sb))
        if not _same(e, t):
            bad.append(f"{a}{list(sa)} x {b}{list(sb)}: ember {e}, torch {t}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("shape", [(2,), ()])
def test_result_type_scalars(shape):
    bad = []
    for a, s in itertools.product(NAMES, SCALARS):
        for args in ((_tensor(torch, a, shape), s), (s, _tensor(torch, a, shape))):
            t = torch.result_type(*args)
            eargs = tuple(_tensor(ember, a, shape) if isinstance(x, torch.Tensor) else x
                          for x in args)
            e = ember.result_type(*eargs)
            if not _same(e, t):
                bad.append(f"{a}{list(shape)} with {s!r}: ember {e}, torch {t}")
    assert not bad, "\n".join(bad)


def _values(lib, name, shape):
    # Small positive values that every dtype holds exactly.
    return lib.ones(shape, dtype=_d(lib, name))


@pytest.mark.parametrize("op", ["add", "mul", "sub", "div", "maximum", "eq", "where"])
@pytest.mark.parametrize("sa,sb", SHAPES[:2])
def test_binary_ops_promote_like_torch(op, sa, sb):
    bad = []
    for a, b in itertools.product(REAL, REAL):
        if op == "sub" and "bool" in (a, b):
            continue  # an error in both (compared in test_binary_ops_with_scalars)

        def run(lib):
            x, y = _values(lib, a, sa), _values(lib, b, sb)
            if op == "where":
                return lib.where(lib.ones(sa, dtype=lib.bool), x, y)
            return getattr(lib, op)(x, y)
        t, e = run(torch), run(ember)
        if not _same(e.dtype, t.dtype):
            bad.append(f"{op}({a}{list(sa)}, {b}{list(sb)}): ember {e.dtype}, torch {t.dtype}")
        elif not np.allclose(e.float().numpy(), t.float().numpy()):
            bad.append(f"{op}({a}, {b}): values differ")
    assert not bad, "\n".join(bad)


def _outcome(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - the exception type is compared
        return e


@pytest.mark.parametrize("op", ["add", "mul", "sub", "div", "pow", "remainder", "eq"])
def test_binary_ops_with_scalars(op):
    bad = []
    for a, s, rev in itertools.product(REAL, [True, 3, 2.5], (False, True)):
        if rev and op in ("remainder", "pow", "eq"):
            continue  # torch.<op>(scalar, tensor) is not an overload for these

        def run(lib):
            x = _values(lib, a, (2,))
            f = getattr(lib, op)
            return f(s, x) if rev else f(x, s)
        t, e = _outcome(lambda: run(torch)), _outcome(lambda: run(ember))
        if isinstance(t, Exception) or isinstance(e, Exception):
            if type(t) is not type(e):
                bad.append(f"{op}({a}, {s!r}, rev={rev}): ember {e!r}, torch {t!r}")
        elif not _same(e.dtype, t.dtype):
            bad.append(f"{op}({a}, {s!r}, rev={rev}): ember {e.dtype}, torch {t.dtype}")
    assert not bad, "\n".join(bad)


DATA = [
    [1, 2, 3], [1.0, 2], [True, False], [True, 2], [[1, 2], [3.5, 4]], [], [[]], 3, 2.5, True,
    [1, 2.0, True], (1, 2), [np.float64(1.5)], [np.int32(3)], np.float32(2.0),
    np.array([1, 2], dtype=np.int32), np.array([1.5], dtype=np.float16),
    np.array([True]), np.array(3.0),
]


@pytest.mark.parametrize("data", DATA, ids=[repr(d)[:30] for d in DATA])
@pytest.mark.parametrize("default", ["float32", "float64"])
def test_tensor_dtype_inference(data, default):
    torch.set_default_dtype(_d(torch, default))
    ember.set_default_dtype(_d(ember, default))
    try:
        t = torch.tensor(data)
        e = ember.tensor(data)
        assert _same(e.dtype, t.dtype), f"tensor({data!r}): ember {e.dtype}, torch {t.dtype}"
        assert tuple(e.shape) == tuple(t.shape)
        for fn in (lambda lib: lib.zeros(2), lambda lib: lib.arange(3.0),
                   lambda lib: lib.full((2,), 1.5), lambda lib: lib.ones(2, dtype=None) + 1,
                   lambda lib: lib.tensor([1, 2]) / 2, lambda lib: lib.tensor([1, 2]) * 1.5,
                   lambda lib: lib.randn(2), lambda lib: lib.linspace(0, 1, 3)):
            assert _same(fn(ember).dtype, fn(torch).dtype)
    finally:
        torch.set_default_dtype(torch.float32)
        ember.set_default_dtype(ember.float32)


def test_get_set_default_dtype():
    assert ember.get_default_dtype() is ember.float32
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.get_default_dtype() is ember.float64
        assert ember.tensor([1.0]).dtype is ember.float64
        assert (ember.tensor([1, 2]) + 0.5).dtype is ember.float64
        assert ember.tensor([1, 2]).sqrt().dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    assert ember.tensor([1.0]).dtype is ember.float32


@pytest.mark.parametrize("name", ["int64", "bool", "int32"])
def test_set_default_dtype_rejects_non_float(name):
    with pytest.raises(TypeError):
        torch.set_default_dtype(_d(torch, name))
    with pytest.raises(TypeError):
        ember.set_default_dtype(_d(ember, name))
    assert ember.get_default_dtype() is ember.float32


@pytest.mark.parametrize("name", REAL)
def test_dtype_attributes(name):
    t, e = _d(torch, name), _d(ember, name)
    assert repr(e) == repr(t)
    assert e.is_floating_point == t.is_floating_point
    assert e.itemsize == t.itemsize
    assert e.is_signed == t.is_signed
