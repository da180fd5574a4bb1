"""ember.testing against torch.testing: same pass/fail, error types and messages."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.testing

import ember
import ember.testing

INF, NAN = float("inf"), float("nan")


def _outcome(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except Exception as e:  # the type and text are what is compared
        return type(e).__name__, str(e).replace("ember.tensor.Tensor", "torch.Tensor")
    return "ok", ""


def _conv(lib, obj):
    """Build the same nested input for torch or ember from a plain description."""
    if isinstance(obj, tuple) and obj and obj[0] == "T":
        _, data, dtype = obj
        return lib.tensor(data, dtype=getattr(lib, dtype))
    if isinstance(obj, list):
        return [_conv(lib, o) for o in obj]
    if isinstance(obj, dict):
        return {k: _conv(lib, v) for k, v in obj.items()}
    return obj


def T(data, dtype="float32"):
    return ("T", data, dtype)


CASES = [
    (T([1., 2., 3.]), T([1., 2.5, 3.1]), {}),
    (T([1., 2., 3.]), T([1., 2. + 1e-6, 3.]), {}),
    (T([[1, 2], [3, 4]], "int64"), T([[1, 2], [3, 5]], "int64"), {}),
    (T([1., 2.]), T([1., 2.], "float64"), {}),
    (T([1., 2.]), T([1., 2.5], "float64"), {"check_dtype": False}),
    (T([1.]), T([1.0001], "float64"), {"check_dtype": False}),
    (T([1., 2.]), T([1., 2., 3.]), {}),
    (T([1., 2.], "float64"), T([1., 2. + 1e-8], "float64"), {}),
    (T([1., 2.], "float64"), T([1., 2. + 1e-5], "float64"), {}),
    (T([1., 2.], "float16"), T([1., 2.001], "float16"), {}),
    (T([1., 2.], "bfloat16"), T([1., 2.01], "bfloat16"), {}),
    (T([[1., 5.], [2., 0.]]), T([[1., 5.1], [2., 1.]]), {"rtol": 0.05, "atol": 0.0}),
    (T([1.]), T([1.]), {"rtol": 0.1}),
    (T([1.]), T([1.]), {"atol": 0.1}),
    (T([NAN, 1.]), T([NAN, 1.]), {}),
    (T([NAN, 1.]), T([NAN, 1.]), {"equal_nan": True}),
    (T([1., 0.]), T([1., INF]), {}),
    (T([INF, -INF]), T([INF, -INF]), {}),
    (T([0., 0.]), T([1., 0.]), {}),
    (T([True, False], "bool"), T([False, False], "bool"), {}),
    (T(1.), T(2.), {}),
    (T(3, "int64"), T(4, "int64"), {}),
    (T([1.]), T([2.]), {"msg": "custom"}),
    (1.0, 1.1, {}),
    (1.0, 1.0 + 1e-9, {}),
    (1, 2, {}),
    (1, 1.0, {}),
    (1, 1.0, {"check_dtype": False}),
    (True, False, {}),
    (True, True, {}),
    (None, None, {}),
    (None, 1, {}),
    (NAN, NAN, {}),
    (NAN, NAN, {"equal_nan": True}),
    (1 + 2j, 1 + 2.1j, {}),
    (T([1.]), 1.0, {}),
    ("a", "a", {}),
    ([T([1.]), T([2.])], [T([1.]), T([2.5])], {}),
    ([1, 2], [1, 2, 3], {}),
    ({"a": T([1.])}, {"a": T([1.5])}, {}),
    ({"a": T([1.])}, {"b": T([1.5])}, {}),
    ({"a": [T([1.]), {"x": 2}]}, {"a": [T([1.]), {"x": 3}]}, {}),
    ((1.0, 2.0), [1.0, 2.0], {}),
]


@pytest.mark.parametrize("actual,expected,kw", CASES)
def test_assert_close_matches_torch(actual, expected, kw):
    t = _outcome(torch.testing.assert_close, _conv(torch, actual), _conv(torch, expected), **kw)
    e = _outcome(ember.testing.assert_close, _conv(ember, actual), _conv(ember, expected), **kw)
    assert e == t


def test_msg_callable_and_defaults_table():
    got = _outcome(ember.testing.assert_close, ember.tensor([1.]), ember.tensor([2.]),
                   msg=lambda m: "X" + m)
    want = _outcome(torch.testing.assert_close, torch.tensor([1.]), torch.tensor([2.]),
                    msg=lambda m: "X" + m)
    assert got == want and got[1].startswith("XTensor-likes")
    # the per-dtype default tolerances are torch's: just inside passes, just outside fails
    from torch.testing._comparison import _DTYPE_PRECISIONS as table
    for name in ("float16", "float32", "float64", "complex64", "complex128"):
        rtol, atol = table[getattr(torch, name)]
        for factor, ok in ((0.5, True), (3.0, False)):
            d = factor * (atol + rtol * 100.0)
            e = _outcome(ember.testing.assert_close,
                         ember.tensor([100.0 + d], dtype=getattr(ember, name)),
                         ember.tensor([100.0], dtype=getattr(ember, name)))
            assert (e[0] == "ok") == ok, (name, factor, e)


def test_check_stride_and_numpy():
    a = ember.ones(2, 4)[:, ::2]
    b = ember.ones(2, 2)
    ember.testing.assert_close(a, b)
    with pytest.raises(AssertionError, match=r"attribute 'stride\(\)'"):
        ember.testing.assert_close(a, b, check_stride=True)
    ember.testing.assert_close(np.ones(3), np.ones(3))


def test_assert_allclose_deprecated():
    with pytest.warns(FutureWarning):
        ember.testing.assert_allclose(ember.tensor([1., 2.]), [1., 2.])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(AssertionError):
            ember.testing.assert_allclose(ember.tensor([1., 2.]), [1., 2.5])
        ember.testing.assert_allclose(ember.tensor([NAN]), [NAN])  # equal_nan defaults True


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool",
                                   "float16", "complex64"])
def test_make_tensor(dtype):
    edt = getattr(ember, dtype)
    x = ember.testing.make_tensor(40, 30, dtype=edt, device="cpu")
    assert x.shape == (40, 30) and x.dtype == edt
    v = x.numpy()
    tref = torch.testing.make_tensor(40, 30, dtype=getattr(torch, dtype), device="cpu")
    assert tuple(tref.shape) == tuple(x.shape)
    if dtype == "bool":
        assert set(np.unique(v)) == {False, True}
    elif dtype == "complex64":
        assert np.all(np.abs(v.real) <= 9) and np.all(np.abs(v.imag) <= 9)
    else:
        lo = 0 if dtype in ("uint8",) else -9
        assert v.min() >= lo and v.max() <= 9 and v.min() < 0.5 * (lo + 9) < v.max()
    y = ember.testing.make_tensor((3, 5), dtype=edt, device="cpu", noncontiguous=True,
                                  exclude_zero=True)
    assert y.shape == (3, 5) and not y.is_contiguous()
    assert np.all(y.numpy() != 0)
    z = ember.testing.make_tensor(500, dtype=edt, device="cpu", low=2, high=4) \
        if dtype != "bool" else None
    if z is not None:
        zz = np.abs(z.numpy()) if dtype == "complex64" else z.numpy()
        if dtype != "complex64":
            assert zz.min() >= 2 and zz.max() <= 4


def test_make_tensor_errors_match_torch():
    for kw in ({"dtype": "int64", "requires_grad": True}, {"low": 5, "high": 1},
               {"low": NAN}, {"dtype": "int32", "low": 2, "high": 2}):
        kw = dict(kw)
        name = kw.pop("dtype", "float32")
        t = _outcome(torch.testing.make_tensor, 3, dtype=getattr(torch, name), device="cpu",
                     **kw)
        e = _outcome(ember.testing.make_tensor, 3, dtype=getattr(ember, name), device="cpu",
                     **kw)
        assert e == t and e[0] == "ValueError"
    g = ember.testing.make_tensor(2, 3, dtype=ember.float64, device="cpu", requires_grad=True)
    assert g.requires_grad and g.is_leaf
    assert ember.testing.make_tensor(dtype=ember.float32, device="cpu").shape == ()
