"""Oracle cases for the primitives of ``ember/functional_more.py`` (run by
tests/test_functional_more.py; tests/test_registry.py checks coverage)."""
from __future__ import annotations

import numpy as np

from oracle import Case


def _u(lo, hi, *shape):
    return lambda rng: rng.uniform(lo, hi, shape)


def _ints(*shape, lo=-20, hi=21):
    return lambda rng: rng.integers(lo, hi, shape).astype(np.int64)


def _distinct(*shape, off=0.0):
    # Distinct values so amax/amin have no ties (gradcheck needs a smooth point); ``off`` keeps
    # source values apart from the input's too.
    return lambda rng: rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37 - 2.0 + off


def _nd(fn, inputs):
    return Case(fn, inputs, dtypes=("float64",), grad=False, gradcheck=False,
                non_contiguous=False)


SPECS: dict[str, list[Case]] = {
    "acosh": [Case(lambda lib, x: lib.acosh(x), [_u(1.2, 4.0, 3, 4)]),
              Case(lambda lib, x: x.arccosh(), [_u(1.2, 4.0, 5)])],
    "asinh": [Case(lambda lib, x: lib.asinh(x), [(3, 4)]),
              Case(lambda lib, x: lib.arcsinh(x * 30), [(5,)])],
    "atanh": [Case(lambda lib, x: lib.atanh(x), [_u(-0.9, 0.9, 3, 4)])],
    "i0": [Case(lambda lib, x: lib.i0(x), [_u(-4.0, 4.0, 3, 4)]),
           Case(lambda lib, x: x.i0(), [_u(-30.0, 30.0, 6)], gradcheck=False)],
    "gcd": [_nd(lambda lib, a, b: lib.gcd(a, b), [_ints(3, 4), _ints(4)])],
    "lcm": [_nd(lambda lib, a, b: lib.lcm(a, b), [_ints(3, 4), _ints(4)])],
    "nextafter": [Case(lambda lib, a, b: lib.nextafter(a, b), [(3, 4), (4,)], grad=False,
                       gradcheck=False)],
    "bitwise_left_shift": [_nd(lambda lib, a, b: lib.bitwise_left_shift(a, b),
                               [_ints(3, 4), _ints(4, lo=0, hi=8)]),
                           _nd(lambda lib, a: a.bitwise_left_shift(3), [_ints(5)])],
    "bitwise_right_shift": [_nd(lambda lib, a, b: lib.bitwise_right_shift(a, b),
                                [_ints(3, 4), _ints(4, lo=0, hi=8)])],
    "as_strided": [
        Case(lambda lib, x: lib.as_strided(x, (3, 3), (2, 1), 1), [(12,)]),
        Case(lambda lib, x: lib.as_strided(x, (2, 2, 2), (4, 1, 2)), [(3, 4)],
             non_contiguous=False),
        Case(lambda lib, x: x.unfold(1, 3, 2), [(2, 7)]),
        Case(lambda lib, x: x.unfold(0, 2, 1) * 2, [(5, 3)]),
    ],
    "scatter_reduce_ext": [
        Case(lambda lib, x, i, s: lib.index_reduce(x, 0, i, s, "amax"),
             [_distinct(4, 3), lambda rng: np.array([0, 2, 0, 3, 2]), _distinct(5, 3, off=0.11)]),
        Case(lambda lib, x, i, s: x.index_reduce(1, i, s, "amin", include_self=False),
             [_distinct(3, 4), lambda rng: np.array([1, 1, 3]), _distinct(3, 3, off=0.11)]),
        Case(lambda lib, x, i, s: lib.index_reduce(x, 0, i, s, "prod"),
             [_u(0.5, 2.0, 4, 2), lambda rng: np.array([0, 1, 0]), _u(0.5, 2.0, 3, 2)]),
        Case(lambda lib, x, i, s: lib.index_reduce(x, 0, i, s, "mean", include_self=False),
             [(4, 2), lambda rng: np.array([0, 1, 0]), (3, 2)]),
        Case(lambda lib, x, i, s: x.clone().scatter_reduce_(0, i, s, "mean"),
             [(3, 4), lambda rng: rng.integers(0, 3, (2, 4)), (2, 4)]),
        Case(lambda lib, x, i, s: x.clone().scatter_reduce_(1, i, s, "amax",
                                                            include_self=False),
             [_distinct(3, 4), lambda rng: rng.integers(0, 4, (3, 2)), _distinct(3, 2, off=0.11)]),
    ],
}
