"""repr(tensor) must be character-for-character torch's."""
import numpy as np
import pytest
import torch

import ember

_RNG = np.random.default_rng(0)

# Each entry builds a tensor from a library module; the same code runs on torch and ember.
REPR_CASES = {
    "float_vec": lambda lib: lib.tensor([1.0, 2.5, -3.25]),
    "float_ints": lambda lib: lib.tensor([1.0, 2.0, -3.0]),
    "float_2d": lambda lib: lib.tensor(_RNG_A23),
    "float_3d": lambda lib: lib.tensor(_RNG_A234),
    "float_0d": lambda lib: lib.tensor(3.14159),
    "float_0d_int": lambda lib: lib.tensor(-2.0),
    "float64": lambda lib: lib.tensor([1.5, 2.0], dtype=lib.float64),
    "float64_0d": lambda lib: lib.tensor(0.5, dtype=lib.float64),
    "float16": lambda lib: lib.tensor([0.1, 2.0], dtype=lib.float16),
    "bfloat16": lambda lib: lib.tensor([0.1, 2.0], dtype=lib.bfloat16),
    "int64": lambda lib: lib.tensor([1, -20, 300]),
    "int64_0d": lambda lib: lib.tensor(5),
    "int32": lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    "uint8_2d": lambda lib: lib.arange(6, dtype=lib.uint8).reshape(2, 3),
    "bool": lambda lib: lib.tensor([True, False, True]),
    "bool_2d": lambda lib: lib.tensor([[True], [False]]),
    "bool_0d": lambda lib: lib.tensor(False),
    "empty": lambda lib: lib.tensor([]),
    "empty_2d": lambda lib: lib.zeros(0, 3),
    "empty_int": lambda lib: lib.zeros(0, dtype=lib.int64),
    "empty_f64": lambda lib: lib.zeros(0, dtype=lib.float64),
    "empty_bool_2d": lambda lib: lib.zeros(2, 0, dtype=lib.bool),
    "sci_large": lambda lib: lib.tensor([1e10, 1.0]),
    "sci_small": lambda lib: lib.tensor([1e-5, 1.0]),
    "sci_range": lambda lib: lib.tensor([0.001, 123456.0]),
    "big_ints_float": lambda lib: lib.tensor([1e9, 2.0]),
    "inf_nan": lambda lib: lib.tensor([float("inf"), float("-inf"), float("nan"), 1.5]),
    "inf_only": lambda lib: lib.tensor([float("inf"), 1.0]),
    "neg_zero": lambda lib: lib.tensor([-0.0, 0.0]),
    "zeros": lambda lib: lib.zeros(2, 2),
    "small_mixed": lambda lib: lib.tensor([0.0001, 0.5]),
    "large_1d": lambda lib: lib.arange(2000.0),
    "large_2d": lambda lib: lib.arange(3000).reshape(100, 30),
    "large_3d": lambda lib: lib.tensor(_RNG_BIG3),
    "wide_row": lambda lib: lib.tensor(_RNG_WIDE),
    "wide_ints": lambda lib: lib.arange(40).reshape(2, 20),
    "requires_grad": lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    "requires_grad_f64": lambda lib: lib.ones(2, dtype=lib.float64, requires_grad=True),
    "grad_fn_mul": lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) * 2,
    "grad_fn_sum": lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).sum(),
    "grad_fn_f64": lambda lib: lib.ones(2, dtype=lib.float64, requires_grad=True).exp(),
    "grad_fn_mean_2d": lambda lib: lib.ones(2, 3, requires_grad=True).mean(0),
    "neg_2d": lambda lib: lib.tensor([[-1.5, 2.25], [3.0, -4.125]]),
    "ints_neg_2d": lambda lib: lib.tensor([[-1, 22], [333, -4]]),
    "precision_round": lambda lib: lib.tensor([0.12345678, 1.99999]),
    "float64_sci": lambda lib: lib.tensor([1e-8, 1.0], dtype=lib.float64),
    "int8": lambda lib: lib.tensor([-5, 7], dtype=lib.int8),
    "col": lambda lib: lib.tensor(_RNG_COL),
    "zero_and_ten": lambda lib: lib.tensor([0.0, 10.0]),
    "nan_only": lambda lib: lib.tensor([float("nan")]),
    "int_sci": lambda lib: lib.tensor([1.0, 5000.0]),
    "large_float_ints_2d": lambda lib: lib.arange(2000.0).reshape(40, 50) / 4,
    "empty_3d": lambda lib: lib.zeros(2, 0, 3),
    "long_1d_no_summary": lambda lib: lib.arange(50) * 1000,
    "float_wrap": lambda lib: lib.linspace(-1, 1, 25),
    "half_2d": lambda lib: lib.tensor(_RNG_A23).half(),
    "rg_2d_f64": lambda lib: lib.tensor(_RNG_A23, dtype=lib.float64, requires_grad=True),
    "grad_fn_matmul": lambda lib: lib.ones(2, 2, requires_grad=True) @ lib.ones(2, 2),
    "grad_fn_view": lambda lib: lib.ones(2, 3, requires_grad=True).view(3, 2),
    "suffix_wrap": lambda lib: lib.tensor(_RNG_A23, dtype=lib.float64, requires_grad=True) * 1,
    "suffix_wrap_1d": lambda lib: lib.tensor(_RNG_WIDE[0, :7], dtype=lib.float64) * 1,
    "suffix_wrap_two": lambda lib: lib.tensor(_RNG_WIDE[:, :6], dtype=lib.float16,
                                              requires_grad=True).exp(),
    "suffix_wrap_0d": lambda lib: lib.tensor(1.5, dtype=lib.float16, requires_grad=True) * 3,
}

_RNG_A23 = _RNG.standard_normal((2, 3)).astype(np.float32)
_RNG_A234 = _RNG.standard_normal((2, 3, 4)).astype(np.float32)
_RNG_BIG3 = _RNG.standard_normal((12, 10, 12)).astype(np.float32)
_RNG_WIDE = (_RNG.standard_normal((2, 30)) * 100).astype(np.float32)
_RNG_COL = _RNG.standard_normal((4, 1)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(REPR_CASES))
def test_repr_matches_torch(name):
    fn = REPR_CASES[name]
    t, e = fn(torch), fn(ember)
    assert repr(e) == repr(t)
    assert str(e) == str(t)


def test_repr_of_views_and_non_contiguous():
    a = _RNG.standard_normal((3, 4)).astype(np.float32)
    for f in (lambda lib, x: x.t(), lambda lib, x: x[:, 1], lambda lib, x: x[::2]):
        assert repr(f(ember, ember.tensor(a))) == repr(f(torch, torch.tensor(a)))


def test_set_printoptions_precision_and_sci_mode():
    a = [1.123456789, 22.5]
    try:
        for lib in (torch, ember):
            lib.set_printoptions(precision=2)
        assert repr(ember.tensor(a)) == repr(torch.tensor(a))
        for lib in (torch, ember):
            lib.set_printoptions(precision=4, sci_mode=True)
        assert repr(ember.tensor(a)) == repr(torch.tensor(a))
        for lib in (torch, ember):
            lib.set_printoptions(sci_mode=False)
        assert repr(ember.tensor([1e-8, 1.0])) == repr(torch.tensor([1e-8, 1.0]))
    finally:
        for lib in (torch, ember):
            lib.set_printoptions(profile="default")
            lib.set_printoptions(sci_mode=None)


def test_repr_grad_fn_of_custom_function_and_inplace_view():
    for lib in (torch, ember):
        b = lib.ones(2, 2, requires_grad=True) * 2
        b[0].mul_(3)
        assert repr(b).endswith("grad_fn=<CopySlices>)")
