"""Oracle cases for every core primitive, written against the torch API.

Each case goes through the torch-level surface (functions, methods, operators, indexing) so the
promotion and argument handling in ``ember.functional`` is tested together with the primitive.
Keys are registered primitive names; ``tests/test_registry.py`` checks coverage.

Inputs are kept small (gradcheck costs O(numel) forward calls) and away from the points where an
op is not differentiable (abs at 0, sqrt/log at 0, floor at integers, ties for max/sort).
"""
from __future__ import annotations

import numpy as np

from oracle import Case

F32 = ("float32", "float64")
ALL_F = ("float32", "float64", "float16", "bfloat16")


# ----------------------------------------------------------------------------- input makers
def pos(*shape, lo=0.5, hi=2.0):
    """Positive floats (sqrt, log, pow bases)."""
    return lambda rng: rng.uniform(lo, hi, shape)


def away(*shape, m=0.3):
    """Normal floats pushed away from 0 by ``m`` (abs, sign, division)."""
    def f(rng):
        x = rng.standard_normal(shape)
        return np.where(x >= 0, x + m, x - m)
    return f


def unit(*shape):
    """Floats inside (-0.8, 0.8) (asin, acos)."""
    return lambda rng: rng.uniform(-0.8, 0.8, shape)


def offgrid(*shape):
    """Floats whose fractional part stays away from 0 and 0.5 (floor, round, remainder)."""
    def f(rng):
        k = rng.integers(-4, 5, shape)
        u = rng.uniform(0.1, 0.4, shape) + 0.5 * rng.integers(0, 2, shape)
        return (k + u).astype(np.float64)
    return f


def distinct(*shape, step=0.25):
    """Floats with no ties, spaced ``step`` apart (exact in float16/bfloat16)."""
    def f(rng):
        n = int(np.prod(shape)) if shape else 1
        return (rng.permutation(n) - n // 2).reshape(shape).astype(np.float64) * step
    return f


def ints(*shape, lo=-5, hi=6, dtype=np.int64):
    return lambda rng: rng.integers(lo, hi, shape).astype(dtype)


def nonzero_ints(*shape, lo=-5, hi=6, dtype=np.int64):
    def f(rng):
        x = rng.integers(lo, hi, shape)
        return np.where(x == 0, 1, x).astype(dtype)
    return f


def bools(*shape, p=0.5):
    return lambda rng: rng.random(shape) < p


def idx(*shape, n):
    """int64 indices in [0, n)."""
    return lambda rng: rng.integers(0, n, shape).astype(np.int64)


def perm_idx(n, k=None):
    """k distinct int64 indices in [0, n)."""
    return lambda rng: rng.permutation(n)[:k if k is not None else n].astype(np.int64)


def row_perm_idx(rows, k, n):
    """int64 indices of shape (rows, k), distinct within each row."""
    return lambda rng: np.stack([rng.permutation(n)[:k] for _ in range(rows)]).astype(np.int64)


def special(*shape):
    """Floats with NaN, +inf and -inf mixed in."""
    def f(rng):
        x = rng.standard_normal(shape).reshape(-1)
        x[::4] = np.nan
        x[1::5] = np.inf
        x[2::7] = -np.inf
        return x.reshape(shape)
    return f


def const(arr):
    return lambda rng: np.asarray(arr)


def _has_float(inputs) -> bool:
    rng = np.random.default_rng(0)
    return any(not callable(i) or np.asarray(i(rng)).dtype.kind == "f" for i in inputs)


def C(fn, inputs, **kw) -> Case:
    if not _has_float(inputs):
        # The float dtype does not reach integer/bool inputs: run once.
        kw["dtypes"] = ("float32",)
    return Case(fn=fn, inputs=inputs, **kw)


def ND(fn, inputs, **kw) -> Case:
    """A case with no gradient (integer/bool results or non-differentiable ops)."""
    kw.setdefault("grad", False)
    kw.setdefault("gradcheck", False)
    return C(fn, inputs, **kw)


# Ties and kinks: torch's subgradient choice is compared by ``check``; a finite difference
# across the kink is meaningless there, so such cases skip gradcheck.
NOGC = {"gradcheck": False}


def _one_hot(lib):
    # torch exposes one_hot in nn.functional only; fall back to ember's top level until
    # ember.nn.functional exists.
    fn = getattr(getattr(getattr(lib, "nn", None), "functional", None), "one_hot", None)
    return fn if fn is not None else lib.one_hot


SPECS: dict[str, list[Case]] = {}

# ----------------------------------------------------------------------------- arithmetic
SPECS["add"] = [
    C(lambda lib, x, y: lib.add(x, y), [(3, 4), (4,)], dtypes=ALL_F),
    C(lambda lib, x, y: x + y, [(2, 1, 4), (3, 1)]),
    C(lambda lib, x, y: x + y, [(), (3,)]),
    C(lambda lib, x, y: x + y, [(), ()]),
    C(lambda lib, x: x + 2.5, [(2, 3)], dtypes=ALL_F),
    C(lambda lib, x: 2 + x, [(2, 3)]),
    C(lambda lib, x, y: lib.add(x, y, alpha=2), [(2, 3), (2, 3)]),
    C(lambda lib, x, y: x + y, [(0, 3), (3,)]),
    C(lambda lib, x, y: x.add(y), [(4,), (3, 1)]),
    ND(lambda lib, a, b: a + b, [ints(3, 4), ints(4, dtype=np.int32)]),
    ND(lambda lib, a, b: a + b, [ints(3, dtype=np.uint8, lo=0), ints(3, dtype=np.int8)]),
    ND(lambda lib, a, b: a + b, [bools(5), bools(5)]),
    ND(lambda lib, a: a + True, [bools(5)]),
    ND(lambda lib, a: a + 3, [bools(5)]),
    ND(lambda lib, a: a + 1.5, [ints(2, 3)]),
    ND(lambda lib, a: a + 7, [ints(4, dtype=np.int16)]),
    C(lambda lib, x, a: x + a, [(3,), ints(3)]),
    C(lambda lib, x, a: x + a, [(), ints(3)]),   # 0-d float tensor wins over int tensor
    C(lambda lib, x, y: x + y, [(3,), ()], dtypes=("float32",)),
    ND(lambda lib, a, b: a.to(lib.float16) + b, [(3,), ()]),  # 0-d double does not promote
    ND(lambda lib, a, b: a.to(lib.bfloat16) + b.half(), [(3,), (3,)]),
]

SPECS["sub"] = [
    C(lambda lib, x, y: lib.sub(x, y), [(3, 4), (4,)], dtypes=ALL_F),
    C(lambda lib, x, y: x - y, [(2, 1, 3), (2, 1)]),
    C(lambda lib, x: 1 - x, [(2, 3)]),
    C(lambda lib, x: x - 0.5, [()]),
    C(lambda lib, x, y: lib.sub(x, y, alpha=0.5), [(2, 3), (3,)]),
    C(lambda lib, x, y: x.subtract(y), [(0,), (1,)]),
    ND(lambda lib, a, b: a - b, [ints(3, 4), ints(3, 4)]),
    ND(lambda lib, a: 10 - a, [ints(4, dtype=np.uint8, lo=0)]),
]

SPECS["mul"] = [
    C(lambda lib, x, y: lib.mul(x, y), [(3, 4), (4,)], dtypes=ALL_F),
    C(lambda lib, x, y: x * y, [(2, 1, 3), (4, 1)]),
    C(lambda lib, x: x * 3, [(2, 3)], dtypes=ALL_F),
    C(lambda lib, x: -1.5 * x, [(2, 3)]),
    C(lambda lib, x, y: x * y, [(), (2, 2)]),
    C(lambda lib, x: x * x, [(5,)]),
    C(lambda lib, x, y: x.multiply(y), [(0, 2), (2,)]),
    ND(lambda lib, a, b: a * b, [ints(3, 4), ints(3, 1)]),
    ND(lambda lib, a: a * 2.5, [ints(3)]),
    ND(lambda lib, a, b: a * b, [bools(4), bools(4)]),
    C(lambda lib, x, b: x * b, [(4,), bools(4)]),
    C(lambda lib, x: lib.square(x), [(3,)]),
]

SPECS["div"] = [
    C(lambda lib, x, y: lib.div(x, y), [(3, 4), away(4)], dtypes=ALL_F),
    C(lambda lib, x, y: x / y, [(2, 1, 3), away(2, 1)]),
    C(lambda lib, x: x / 4, [(2, 3)], dtypes=ALL_F),
    C(lambda lib, y: 2 / y, [away(2, 3)]),
    C(lambda lib, x, y: x / y, [(3,), away()]),
    C(lambda lib, x, y: x.divide(y), [(0, 3), away(3)]),
    ND(lambda lib, a, b: a / b, [ints(3, 4), nonzero_ints(3, 4)]),
    ND(lambda lib, a: a / 2, [ints(5)]),
    ND(lambda lib, a, b: lib.true_divide(a, b), [ints(5, dtype=np.int32), nonzero_ints(5)]),
    ND(lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"), [ints(6), nonzero_ints(6)]),
    ND(lambda lib, a, b: lib.div(a, b, rounding_mode="floor"), [ints(6), nonzero_ints(6)]),
    ND(lambda lib, x, y: lib.div(x, y, rounding_mode="trunc"), [(6,), away(6)]),
    C(lambda lib, x, a: x / a, [(4,), nonzero_ints(4)]),
]

SPECS["pow"] = [
    C(lambda lib, x: x ** 2, [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x ** 3, [()]),
    C(lambda lib, x: x.pow(0.5), [pos(2, 3)], dtypes=ALL_F),
    C(lambda lib, x: x ** -1.5, [pos(4)]),
    C(lambda lib, x: x ** 0, [(3,)]),
    C(lambda lib, x, y: x ** y, [pos(3, 4), (4,)]),
    C(lambda lib, x, y: lib.pow(x, y), [pos(2, 1), (3,)]),
    C(lambda lib, y: 2 ** y, [(2, 3)]),
    C(lambda lib, y: lib.pow(1.5, y), [(4,)]),
    C(lambda lib, x, y: x ** y, [pos(3), ()]),
    ND(lambda lib, a: a ** 2, [ints(5)]),
    ND(lambda lib, a, b: a ** b, [ints(5), ints(5, lo=0, hi=4)]),
    ND(lambda lib, a: a ** 0.5, [ints(5, lo=0)]),
    ND(lambda lib, a: 2 ** a, [ints(5, lo=0, hi=8)]),
    C(lambda lib, x: lib.float_power(x, 2), [(3,)]),
]

SPECS["maximum"] = [
    C(lambda lib, x, y: lib.maximum(x, y), [(3, 4), (4,)], dtypes=ALL_F),
    C(lambda lib, x, y: lib.max(x, y), [(2, 3), (2, 3)]),
    C(lambda lib, x, y: x.maximum(y), [(), (3,)]),
    ND(lambda lib, a, b: lib.maximum(a, b), [ints(3, 4), ints(4)]),
    ND(lambda lib, a, x: lib.maximum(a, x), [ints(4), (4,)]),
    C(lambda lib, x, y: lib.fmax(x, y), [(3,), (3,)]),
]

SPECS["minimum"] = [
    C(lambda lib, x, y: lib.minimum(x, y), [(3, 4), (4,)], dtypes=ALL_F),
    C(lambda lib, x, y: lib.min(x, y), [(2, 3), (2, 3)]),
    C(lambda lib, x, y: x.minimum(y), [(2, 1), (3,)]),
    ND(lambda lib, a, b: lib.minimum(a, b), [ints(3, 4), ints(3, 4)]),
    C(lambda lib, x, y: lib.fmin(x, y), [(3,), (3,)]),
]

SPECS["atan2"] = [
    C(lambda lib, x, y: lib.atan2(x, y), [(3, 4), away(4)], dtypes=ALL_F),
    C(lambda lib, x, y: x.atan2(y), [(), away(2)]),
    C(lambda lib, x, y: lib.arctan2(x, y), [(2, 1), away(1, 3)]),
    ND(lambda lib, a, b: lib.atan2(a, b), [ints(4), nonzero_ints(4)]),
]

SPECS["remainder"] = [
    C(lambda lib, x, y: x % y, [offgrid(3, 4), const(np.full(4, 1.0))]),
    C(lambda lib, x: x % 1.5, [offgrid(2, 3)], dtypes=ALL_F),
    C(lambda lib, x: lib.remainder(x, -1.0), [offgrid(5)]),
    C(lambda lib, x, y: lib.remainder(x, y), [(3,), const([2.5, -3.5, 4.25])]),
    ND(lambda lib, a, b: a % b, [ints(3, 4, lo=-9, hi=10), nonzero_ints(3, 4)]),
    ND(lambda lib, a: a % 3, [ints(7, lo=-9, hi=10)]),
    ND(lambda lib, a: a.remainder(-4), [ints(7, lo=-9, hi=10)]),
    ND(lambda lib, x: lib.fmod(x, 1.5), [offgrid(5)]),
]

SPECS["floor_divide"] = [
    ND(lambda lib, x, y: x // y, [(3, 4), away(4)], dtypes=ALL_F),
    ND(lambda lib, x: x // 0.7, [offgrid(5)]),
    ND(lambda lib, a, b: a // b, [ints(3, 4, lo=-9, hi=10), nonzero_ints(4)]),
    ND(lambda lib, a: lib.floor_divide(a, 3), [ints(7, lo=-9, hi=10)]),
    ND(lambda lib, a: 7 // a, [nonzero_ints(5)]),
]

# ----------------------------------------------------------------------------- comparisons
_CMP = {"eq": lambda x, y: x == y, "ne": lambda x, y: x != y, "lt": lambda x, y: x < y,
        "le": lambda x, y: x <= y, "gt": lambda x, y: x > y, "ge": lambda x, y: x >= y}
for _name, _op in _CMP.items():
    SPECS[_name] = [
        ND(lambda lib, a, b, op=_op: op(a, b), [ints(3, 4, lo=0, hi=3), ints(4, lo=0, hi=3)]),
        ND(lambda lib, x, y, op=_op: op(x, y), [(2, 3), (2, 3)], dtypes=ALL_F),
        ND(lambda lib, x, op=_op: op(x, 0.25), [(5,)]),
        ND(lambda lib, a, op=_op: op(a, 1), [ints(5, lo=0, hi=3)]),
        ND(lambda lib, a, op=_op: op(a, 1.5), [ints(5, lo=0, hi=3)]),
        ND(lambda lib, a, x, op=_op: op(a, x), [ints(4, lo=-1, hi=2), (4,)]),
        ND(lambda lib, x, y, op=_op: op(x, y), [(), (0, 2)]),
        ND(lambda lib, a, b, op=_op: op(a, b), [bools(5), bools(5)]),
        ND(lambda lib, a, b, n=_name: getattr(lib, n)(a, b),
           [ints(2, 3, lo=0, hi=2), ints(3, lo=0, hi=2)]),
    ]

_LOGIC = {"logical_and": "__and__", "logical_or": "__or__", "logical_xor": "__xor__"}
for _name, _dunder in _LOGIC.items():
    SPECS[_name] = [
        ND(lambda lib, a, b, n=_name: getattr(lib, n)(a, b), [bools(3, 4), bools(4)]),
        ND(lambda lib, a, b, d=_dunder: getattr(a, d)(b), [bools(2, 3), bools(2, 3)]),
        ND(lambda lib, x, y, n=_name: getattr(lib, n)(x, y), [ints(5, lo=-1, hi=2), (5,)]),
        ND(lambda lib, x, n=_name: getattr(x, n)(x > 0), [(2, 3)]),
        ND(lambda lib, a, b, n=_name: getattr(lib, n)(a, b), [bools(), bools(0)]),
    ]

SPECS["logical_not"] = [
    ND(lambda lib, a: ~a, [bools(3, 4)]),
    ND(lambda lib, a: lib.logical_not(a), [ints(5, lo=-1, hi=2)]),
    ND(lambda lib, x: x.logical_not(), [const([0.0, 1.5, -2.0, 0.0])]),
    ND(lambda lib, a: lib.logical_not(a), [bools()]),
]

_BIT = {"bitwise_and": lambda a, b: a & b, "bitwise_or": lambda a, b: a | b,
        "bitwise_xor": lambda a, b: a ^ b}
for _name, _op in _BIT.items():
    SPECS[_name] = [
        ND(lambda lib, a, b, op=_op: op(a, b), [ints(3, 4, lo=-8, hi=8), ints(4, lo=-8, hi=8)]),
        ND(lambda lib, a, b, n=_name: getattr(lib, n)(a, b),
           [ints(5, lo=0, hi=255, dtype=np.uint8), ints(5, lo=0, hi=255, dtype=np.uint8)]),
        ND(lambda lib, a, op=_op: op(a, 6), [ints(5, lo=0, hi=16, dtype=np.int32)]),
        ND(lambda lib, a, b, op=_op: op(a, b), [ints(4, dtype=np.int16), ints(4)]),
        ND(lambda lib, a, b, n=_name: getattr(a, n)(b), [bools(4), bools(4)]),
        ND(lambda lib, a, op=_op: op(a, True), [bools(4)]),
    ]

SPECS["bitwise_not"] = [
    ND(lambda lib, a: ~a, [ints(3, 4, lo=-8, hi=8)]),
    ND(lambda lib, a: lib.bitwise_not(a), [ints(5, lo=0, hi=255, dtype=np.uint8)]),
    ND(lambda lib, a: a.bitwise_not(), [bools(4)]),
    ND(lambda lib, a: ~a, [ints(dtype=np.int32)]),
]

SPECS["isnan"] = [
    ND(lambda lib, x: lib.isnan(x), [special(3, 4)], dtypes=ALL_F),
    ND(lambda lib, a: a.isnan(), [ints(4)]),
    ND(lambda lib, x: x.isnan(), [()]),
    ND(lambda lib, x: lib.nan_to_num(x), [special(6)]),
]
SPECS["isinf"] = [
    ND(lambda lib, x: lib.isinf(x), [special(3, 4)], dtypes=ALL_F),
    ND(lambda lib, a: a.isinf(), [ints(4)]),
    ND(lambda lib, x: (lib.isposinf(x), lib.isneginf(x)), [special(8)]),
]
SPECS["isfinite"] = [
    ND(lambda lib, x: lib.isfinite(x), [special(3, 4)], dtypes=ALL_F),
    ND(lambda lib, a: a.isfinite(), [ints(4)]),
    ND(lambda lib, a: a.isfinite(), [bools(0)]),
]

# ----------------------------------------------------------------------------- unary math
SPECS["sign"] = [
    C(lambda lib, x: lib.sign(x), [away(3, 4)], dtypes=ALL_F),
    ND(lambda lib, a: a.sign(), [ints(6)]),
    C(lambda lib, x: x.sgn(), [away()], grad=False),  # torch's grad is a ZeroTensor
    ND(lambda lib, x: x.sign(), [const([0.0, -0.0, 2.0, -3.0])]),
]
for _name in ("floor", "ceil", "trunc"):
    SPECS[_name] = [
        C(lambda lib, x, n=_name: getattr(lib, n)(x), [offgrid(3, 4)], dtypes=ALL_F),
        C(lambda lib, x, n=_name: getattr(x, n)(), [offgrid()]),
        ND(lambda lib, a, n=_name: getattr(lib, n)(a), [ints(5)]),
        C(lambda lib, x, n=_name: getattr(lib, n)(x), [(0, 2)]),
    ]
SPECS["trunc"].append(C(lambda lib, x: lib.fix(x), [offgrid(4)]))
SPECS["trunc"].append(C(lambda lib, x: lib.frac(x), [offgrid(4)]))
SPECS["round"] = [
    C(lambda lib, x: lib.round(x), [offgrid(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.round(), [const([0.5, 1.5, 2.5, -0.5, -1.5, 3.2])], **NOGC),
    C(lambda lib, x: lib.round(x, decimals=2), [offgrid(5)]),
    ND(lambda lib, a: a.round(), [ints(5)]),
]

SPECS["neg"] = [
    C(lambda lib, x: -x, [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: lib.neg(x), [()]),
    C(lambda lib, x: x.negative(), [(0,)]),
    ND(lambda lib, a: -a, [ints(5)]),
    ND(lambda lib, a: lib.neg(a), [ints(5, dtype=np.int8)]),
]
SPECS["abs"] = [
    C(lambda lib, x: lib.abs(x), [away(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: abs(x), [away()]),
    C(lambda lib, x: x.absolute(), [away(2, 3)]),
    ND(lambda lib, a: a.abs(), [ints(6)]),
    ND(lambda lib, a: a.abs(), [ints(6, dtype=np.int16)]),
]

# Unary float math: name -> (input maker(shape...), also checks int inputs -> default float).
_UNARY = {
    "exp": (lambda *s: s, True), "exp2": (lambda *s: s, True), "log": (pos, True),
    "log2": (pos, True), "log10": (pos, True), "log1p": (pos, True), "expm1": (lambda *s: s, True),
    "sin": (lambda *s: s, True), "cos": (lambda *s: s, True), "tan": (unit, True),
    "asin": (unit, False), "acos": (unit, False), "atan": (lambda *s: s, True),
    "sinh": (lambda *s: s, True), "cosh": (lambda *s: s, True), "sqrt": (pos, True),
    "rsqrt": (pos, True), "tanh": (lambda *s: s, True), "sigmoid": (lambda *s: s, True),
    "reciprocal": (away, True), "erf": (lambda *s: s, True), "erfc": (lambda *s: s, True),
}
for _name, (_mk, _int_ok) in _UNARY.items():
    SPECS[_name] = [
        C(lambda lib, x, n=_name: getattr(lib, n)(x), [_mk(3, 4)], dtypes=ALL_F),
        C(lambda lib, x, n=_name: getattr(x, n)(), [_mk()]),
        C(lambda lib, x, n=_name: getattr(lib, n)(x), [_mk(2, 0)]),
        C(lambda lib, x, n=_name: getattr(lib, n)(x) * 2, [_mk(2, 3, 2)]),
    ]
    if _int_ok:
        SPECS[_name].append(ND(lambda lib, a, n=_name: getattr(lib, n)(a), [ints(5, lo=1, hi=3)]))
        SPECS[_name].append(ND(lambda lib, a, n=_name: getattr(lib, n)(a), [bools(4)]))
SPECS["erf"].append(C(lambda lib, x: lib.erf(x), [const(np.linspace(-5, 5, 21))]))
SPECS["erfc"].append(C(lambda lib, x: lib.erfc(x), [const(np.linspace(-5, 9, 29))]))
SPECS["sigmoid"].append(C(lambda lib, x: lib.sigmoid(x), [const([-800.0, -30.0, 0.0, 30.0,
                                                                 800.0])]))
SPECS["exp"].append(C(lambda lib, x: lib.softmax(x, 1), [(3, 4)]))
SPECS["tanh"].append(C(lambda lib, x: lib.tanh(x).tanh(), [(3,)]))

SPECS["relu"] = [
    C(lambda lib, x: lib.relu(x), [away(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.relu(), [away()]),
    C(lambda lib, x: lib.relu(x), [(0, 3)]),
    ND(lambda lib, a: lib.relu(a), [ints(6)]),
]

SPECS["clamp"] = [
    C(lambda lib, x: lib.clamp(x, -0.5, 0.5), [distinct(3, 4, step=0.13)], dtypes=ALL_F),
    C(lambda lib, x: x.clamp(min=0.1), [distinct(5, step=0.13)]),
    C(lambda lib, x: x.clamp(max=-0.1), [distinct(2, 3, step=0.13)]),
    C(lambda lib, x: lib.clip(x, -1, 1), [distinct(6, step=0.37)]),
    C(lambda lib, x, lo, hi: lib.clamp(x, lo, hi),
      [distinct(3, 4, step=0.13), const([-0.5, -0.2, -1.0, 0.1]), const([0.5, 0.3, 1.0, 0.9])]),
    C(lambda lib, x, lo: x.clamp(min=lo), [distinct(3, 4, step=0.13), const(-0.21)]),
    C(lambda lib, x: lib.clamp_min(x, 0.0), [away(4)]),
    C(lambda lib, x: lib.clamp_max(x, 0.0), [away(4)]),
    ND(lambda lib, a: a.clamp(-2, 2), [ints(7)]),
    ND(lambda lib, a: a.clamp(-1.5, 2.5), [ints(7)]),
    C(lambda lib, x: x.clamp(0.0, 1.0), [()]),
]

SPECS["where"] = [
    C(lambda lib, c, x, y: lib.where(c, x, y), [bools(3, 4), (3, 4), (4,)], dtypes=ALL_F),
    C(lambda lib, c, x, y: lib.where(c, x, y), [bools(2, 1, 3), (2, 1), ()]),
    C(lambda lib, c, x: lib.where(c, x, 0.0), [bools(5), (5,)]),
    C(lambda lib, c, y: lib.where(c, 1.5, y), [bools(2, 3), (2, 3)]),
    C(lambda lib, c, x, y: x.where(c, y), [bools(4), (4,), (4,)]),
    ND(lambda lib, c, a, b: lib.where(c, a, b), [bools(4), ints(4), ints(4, dtype=np.int32)]),
    ND(lambda lib, c, a: lib.where(c, a, 2.5), [bools(4), ints(4)]),
    ND(lambda lib, c: lib.where(c, 1, 0), [bools(4)]),
    ND(lambda lib, c: lib.where(c, 1.0, 0), [bools(4)]),
    C(lambda lib, c, x, a: lib.where(c, x, a), [bools(4), (4,), ints(4)]),
    ND(lambda lib, c: lib.where(c), [bools(3, 4)]),
    C(lambda lib, x: lib.where(x > 0, x, x * 0.1), [away(3, 4)]),
]

SPECS["to_dtype"] = [
    C(lambda lib, x: x.to(lib.float64), [(3, 4)]),
    C(lambda lib, x: x.double() * 2, [(3,)], dtypes=ALL_F),
    # Casts down to lower precision: a float64 finite difference would see the rounding.
    C(lambda lib, x: x.float(), [(3,)], dtypes=ALL_F, **NOGC),
    C(lambda lib, x: x.half(), [(3, 2)], **NOGC),
    C(lambda lib, x: x.bfloat16(), [(3, 2)], **NOGC),
    C(lambda lib, x: x.to(lib.float16).to(lib.float32), [(2, 2)], **NOGC),
    ND(lambda lib, x: x.long(), [(3, 4)]),
    ND(lambda lib, x: x.int(), [const([-2.7, -0.5, 0.5, 2.7])]),
    ND(lambda lib, x: x.bool(), [const([0.0, -0.0, 0.5, 2.0])]),
    ND(lambda lib, a: a.to(lib.float32), [ints(5)]),
    ND(lambda lib, a: a.to(lib.uint8), [ints(5, lo=0, hi=200)]),
    ND(lambda lib, a: a.byte(), [bools(5)]),
    ND(lambda lib, a: a.to(lib.int16), [ints(5)]),
    ND(lambda lib, a: a.float(), [bools(4)]),
    ND(lambda lib, a: a.type(lib.float64), [ints(3)]),
    ND(lambda lib, a, x: a.type_as(x), [ints(3), (2,)]),
]

SPECS["clone"] = [
    C(lambda lib, x: x.clone(), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: lib.clone(x), [()]),
    C(lambda lib, x: x.t().contiguous(), [(3, 4)]),
    ND(lambda lib, a: a.clone(), [ints(3)]),
]

# ----------------------------------------------------------------------------- reductions
SPECS["sum"] = [
    C(lambda lib, x: lib.sum(x), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.sum(1), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: lib.sum(x, 1, keepdim=True), [(3, 4)]),
    C(lambda lib, x: x.sum((0, 2)), [(2, 3, 2)]),
    C(lambda lib, x: x.sum(dim=-1, keepdim=True), [(2, 3, 2)]),
    C(lambda lib, x: x.sum([0, -1], keepdim=True), [(2, 3, 2)]),
    C(lambda lib, x: x.sum(), [()]),
    C(lambda lib, x: x.sum(0), [()]),
    C(lambda lib, x: x.sum(), [(0, 3)]),
    C(lambda lib, x: x.sum(0), [(0, 3)]),
    C(lambda lib, x: x.sum(dtype=lib.float64), [(3,)]),
    ND(lambda lib, a: a.sum(), [ints(3, 4)]),
    ND(lambda lib, a: a.sum(0), [ints(3, 4, dtype=np.int32)]),
    ND(lambda lib, a: a.sum(1), [ints(3, 4, lo=0, hi=200, dtype=np.uint8)]),
    ND(lambda lib, a: a.sum(), [bools(3, 4)]),
    ND(lambda lib, a: lib.sum(a, dtype=lib.float32), [ints(4)]),
    ND(lambda lib, a: lib.count_nonzero(a), [ints(3, 4)]),
    C(lambda lib, x: lib.nansum(x), [(4,)]),
]

SPECS["mean"] = [
    C(lambda lib, x: lib.mean(x), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.mean(1), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.mean((0, 2), keepdim=True), [(2, 3, 2)]),
    C(lambda lib, x: x.mean(-1), [(2, 3)]),
    C(lambda lib, x: x.mean(), [()]),
    ND(lambda lib, a: a.mean(dtype=lib.float64), [ints(3, 4)]),
    ND(lambda lib, x: x.mean(), [(0,)]),
    ND(lambda lib, x: x.mean(0), [(0, 3)]),
    C(lambda lib, x: lib.std(x, 1), [(3, 4)]),
]

SPECS["prod"] = [
    C(lambda lib, x: lib.prod(x), [(2, 3)], dtypes=ALL_F),
    C(lambda lib, x: x.prod(1), [(3, 4)]),
    C(lambda lib, x: x.prod(0, keepdim=True), [(3, 4)]),
    C(lambda lib, x: x.prod(-1), [(2, 2, 3)]),
    C(lambda lib, x: x.prod(), [()]),
    C(lambda lib, x: x.prod(), [(5,)]),
    C(lambda lib, x: x.prod(1), [const([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0], [1.0, 2.0, -1.0]])]),
    C(lambda lib, x: x.prod(), [const([[1.5, 0.0], [2.0, -3.0]])]),
    ND(lambda lib, a: a.prod(), [ints(3, 4, lo=1, hi=4)]),
    ND(lambda lib, a: a.prod(1), [ints(3, 4, lo=-3, hi=4, dtype=np.int32)]),
    ND(lambda lib, a: a.prod(), [bools(3)]),
    ND(lambda lib, x: x.prod(0), [(0, 2)]),
    C(lambda lib, x: x.prod(dtype=lib.float64), [(3,)]),
]

for _name in ("amax", "amin"):
    SPECS[_name] = [
        C(lambda lib, x, n=_name: getattr(lib, n)(x), [distinct(3, 4)], dtypes=ALL_F),
        C(lambda lib, x, n=_name: getattr(x, n)(1), [distinct(3, 4)]),
        C(lambda lib, x, n=_name: getattr(x, n)((0, 2), keepdim=True), [distinct(2, 3, 2)]),
        C(lambda lib, x, n=_name: getattr(x, n)(-1), [const([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])],
          **NOGC),
        C(lambda lib, x, n=_name: getattr(x, n)(), [()]),
        ND(lambda lib, a, n=_name: getattr(a, n)(0), [ints(3, 4)]),
        ND(lambda lib, a, n=_name: getattr(a, n)(), [bools(5)]),
        ND(lambda lib, x, n=_name: getattr(x, n)(1), [(0, 3)]),
    ]
SPECS["amax"] += [
    C(lambda lib, x: lib.max(x), [distinct(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: lib.max(x), [const([1.0, 5.0, 5.0, 2.0])], **NOGC),
    C(lambda lib, x: lib.aminmax(x)[1], [distinct(6)]),
]
SPECS["amin"] += [
    C(lambda lib, x: x.min(), [distinct(3, 4)]),
    C(lambda lib, x: lib.aminmax(x, dim=0)[0], [distinct(3, 2)]),
]

for _name, _fn in (("max_dim", "max"), ("min_dim", "min")):
    SPECS[_name] = [
        C(lambda lib, x, f=_fn: getattr(lib, f)(x, 1), [distinct(3, 4)], dtypes=ALL_F),
        C(lambda lib, x, f=_fn: getattr(x, f)(dim=0, keepdim=True), [distinct(3, 4)]),
        C(lambda lib, x, f=_fn: getattr(x, f)(-1).values, [distinct(2, 3, 2)]),
        ND(lambda lib, x, f=_fn: getattr(x, f)(-1).indices, [distinct(2, 3, 2)]),
        C(lambda lib, x, f=_fn: getattr(x, f)(0), [()]),
        C(lambda lib, x, f=_fn: getattr(lib, f)(x, 1), [(0, 3)]),
        ND(lambda lib, a, f=_fn: getattr(a, f)(1), [ints(3, 4, lo=0, hi=100)]),
        ND(lambda lib, a, f=_fn: getattr(a, f)(0), [bools(4, 2)]),
        C(lambda lib, x, f=_fn: getattr(x, f)(1), [const([[1.0, 3.0, 3.0], [2.0, 2.0, 1.0]])],
          **NOGC),
    ]
SPECS["max_dim"].append(C(lambda lib, x: lib.kthvalue(x, 2, 1), [distinct(3, 4)]))
SPECS["max_dim"].append(C(lambda lib, x: lib.median(x, 1), [distinct(3, 5)]))

for _name in ("argmax", "argmin"):
    SPECS[_name] = [
        ND(lambda lib, x, n=_name: getattr(lib, n)(x), [distinct(3, 4)], dtypes=ALL_F),
        ND(lambda lib, x, n=_name: getattr(x, n)(1), [distinct(3, 4)]),
        ND(lambda lib, x, n=_name: getattr(x, n)(0, keepdim=True), [distinct(3, 4)]),
        ND(lambda lib, x, n=_name: getattr(x, n)(dim=-1), [distinct(2, 3, 2)]),
        ND(lambda lib, x, n=_name: getattr(x, n)(), [()]),
        ND(lambda lib, a, n=_name: getattr(a, n)(1), [ints(3, 4)]),
        ND(lambda lib, x, n=_name: getattr(x, n)(), [const([1.0, 3.0, 3.0, 1.0])]),
        ND(lambda lib, x, n=_name: getattr(x, n)(keepdim=True), [distinct(2, 3)]),
    ]

SPECS["var"] = [
    C(lambda lib, x: lib.var(x), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.var(1), [(3, 4)]),
    C(lambda lib, x: lib.var(x, 1, unbiased=False), [(3, 4)]),
    C(lambda lib, x: x.var(0, keepdim=True), [(3, 4)]),
    C(lambda lib, x: x.var((0, 2), correction=0), [(2, 3, 2)]),
    C(lambda lib, x: x.var(dim=-1, correction=2), [(2, 5)]),
    C(lambda lib, x: x.std(), [(6,)]),
    C(lambda lib, x: lib.std(x, 0, keepdim=True), [(3, 2)]),
    C(lambda lib, x: lib.var_mean(x, 1), [(3, 4)]),
    C(lambda lib, x: lib.std_mean(x, 0, unbiased=False), [(3, 4)]),
]

SPECS["norm"] = [
    C(lambda lib, x: x.norm(), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: lib.norm(x, dim=1), [(3, 4)]),
    C(lambda lib, x: lib.norm(x, 1, dim=1), [away(3, 4)]),
    C(lambda lib, x: x.norm(p=3, dim=0, keepdim=True), [away(3, 4)]),
    C(lambda lib, x: x.norm(float("inf"), dim=-1), [distinct(2, 3)]),
    C(lambda lib, x: x.norm(p=1.5), [away(5)]),
    C(lambda lib, x: x.norm(), [()]),
    C(lambda lib, x, y: lib.dist(x, y), [(3,), (3,)]),
    C(lambda lib, x, y: lib.cdist(x, y), [(3, 2), (4, 2)]),
]

SPECS["logsumexp"] = [
    C(lambda lib, x: lib.logsumexp(x, 1), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.logsumexp(0, keepdim=True), [(3, 4)]),
    C(lambda lib, x: x.logsumexp((0, 2)), [(2, 3, 2)]),
    C(lambda lib, x: x.logsumexp(-1), [const([[1000.0, 1000.0], [-1000.0, 0.0]])]),
    C(lambda lib, x: x.logsumexp(0), [()]),
    C(lambda lib, x: lib.log_softmax(x, -1), [(3, 4)]),
]

SPECS["cumsum"] = [
    C(lambda lib, x: lib.cumsum(x, 1), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.cumsum(0), [(3, 4)]),
    C(lambda lib, x: x.cumsum(-1), [(2, 3, 2)]),
    C(lambda lib, x: x.cumsum(0), [()]),
    C(lambda lib, x: x.cumsum(0), [(0, 2)]),
    ND(lambda lib, a: a.cumsum(0), [ints(5)]),
    ND(lambda lib, a: a.cumsum(0), [bools(5)]),
    ND(lambda lib, a: a.cumsum(1, dtype=lib.float32), [ints(2, 3)]),
]

SPECS["cumprod"] = [
    C(lambda lib, x: lib.cumprod(x, 1), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.cumprod(0), [(3, 2)]),
    C(lambda lib, x: x.cumprod(-1), [const([[1.5, 0.0, 2.0, 3.0], [0.0, 2.0, 0.0, 1.0]])]),
    C(lambda lib, x: x.cumprod(0), [()]),
    ND(lambda lib, a: a.cumprod(0), [ints(5, lo=-3, hi=4)]),
]

for _name in ("all", "any"):
    SPECS[_name] = [
        ND(lambda lib, a, n=_name: getattr(lib, n)(a), [bools(3, 4, p=0.8)]),
        ND(lambda lib, a, n=_name: getattr(a, n)(1), [bools(3, 4, p=0.7)]),
        ND(lambda lib, a, n=_name: getattr(a, n)(0, keepdim=True), [bools(3, 4, p=0.3)]),
        ND(lambda lib, x, n=_name: getattr(x, n)(), [(3, 4)], dtypes=ALL_F),
        ND(lambda lib, a, n=_name: getattr(a, n)(dim=-1), [ints(2, 3, lo=0, hi=2)]),
        ND(lambda lib, a, n=_name: getattr(a, n)(), [bools(0)]),
        ND(lambda lib, a, n=_name: getattr(a, n)(), [bools()]),
        ND(lambda lib, a, n=_name: getattr(a, n)(), [ints(4, lo=0, hi=3, dtype=np.uint8)]),
    ]

# ----------------------------------------------------------------------------- shape
SPECS["reshape"] = [
    C(lambda lib, x: x.reshape(4, 3), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.reshape(-1), [(3, 4)]),
    C(lambda lib, x: x.reshape((2, -1, 2)), [(3, 4)]),
    C(lambda lib, x: lib.reshape(x, (1, 1)), [()]),
    C(lambda lib, x: x.reshape(()), [(1,)]),
    C(lambda lib, x: x.reshape(0, 4), [(0, 2, 2)]),
    # view needs compatible strides: torch refuses these on the non-contiguous variant too.
    C(lambda lib, x: x.view(6, 2), [(3, 4)], non_contiguous=False),
    C(lambda lib, x: x.view(-1, 2), [(2, 2, 3)], non_contiguous=False),
    C(lambda lib, x: x.flatten(), [(2, 3, 2)]),
    C(lambda lib, x: x.flatten(1), [(2, 3, 2)]),
    C(lambda lib, x: lib.flatten(x), [()]),
    C(lambda lib, x: x.unsqueeze(0), [(3, 4)]),
    C(lambda lib, x: x.unsqueeze(-1), [(3,)]),
    C(lambda lib, x: x.squeeze(), [(1, 3, 1)]),
    C(lambda lib, x: x.squeeze(0), [(1, 3, 1)]),
    C(lambda lib, x: x.squeeze(1), [(1, 3, 1)]),
    C(lambda lib, x: x.unflatten(1, (2, 2)), [(3, 4)]),
    C(lambda lib, x, y: x.view_as(y), [(3, 4), (2, 6)], non_contiguous=False),
    ND(lambda lib, a: a.view(2, 2), [ints(4)]),
    C(lambda lib, x: x.ravel(), [(3, 4)]),
]

SPECS["permute"] = [
    C(lambda lib, x: x.permute(2, 0, 1), [(2, 3, 4)], dtypes=ALL_F),
    C(lambda lib, x: lib.permute(x, (1, 0)), [(3, 4)]),
    C(lambda lib, x: x.permute(-1, 0, 1), [(2, 3, 2)]),
    C(lambda lib, x: x.t(), [(3, 4)]),
    C(lambda lib, x: x.T, [(3, 4)]),
    C(lambda lib, x: x.mT, [(2, 3, 4)]),
    C(lambda lib, x: x.transpose(0, 2), [(2, 3, 4)]),
    C(lambda lib, x: lib.transpose(x, -1, -2), [(2, 3)]),
    C(lambda lib, x: x.movedim(0, -1), [(2, 3, 4)]),
    C(lambda lib, x: lib.movedim(x, (0, 1), (2, 0)), [(2, 3, 4)]),
    C(lambda lib, x: x.t(), [(3,)]),
    C(lambda lib, x: x.permute(1, 0), [(0, 3)]),
    ND(lambda lib, a: a.t(), [ints(2, 3)]),
    C(lambda lib, x: x.swapaxes(0, 1), [(2, 3)]),
]

SPECS["expand"] = [
    C(lambda lib, x: x.expand(3, 4), [(1, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.expand(2, -1, -1), [(3, 4)]),
    C(lambda lib, x: x.expand(2, 3), [()]),
    C(lambda lib, x, y: x.expand_as(y), [(3, 1), (3, 4)]),
    C(lambda lib, x: lib.broadcast_to(x, (2, 3, 4)), [(3, 1)]),
    C(lambda lib, x, y: lib.broadcast_tensors(x, y), [(3, 1), (1, 4)]),
    C(lambda lib, x: x.expand(0, 3), [(1, 3)]),
    ND(lambda lib, a: a.expand(2, 3), [ints(3)]),
]

SPECS["cat"] = [
    C(lambda lib, x, y: lib.cat([x, y]), [(2, 3), (4, 3)], dtypes=ALL_F),
    C(lambda lib, x, y: lib.cat((x, y), 1), [(2, 3), (2, 1)]),
    C(lambda lib, x, y, z: lib.cat([x, y, z], dim=-1), [(2, 1), (2, 2), (2, 3)]),
    C(lambda lib, x, y: lib.cat([x, y]), [(3,), (0,)]),
    C(lambda lib, x, y: lib.cat([x, y], 1), [(2, 3), (0,)]),
    C(lambda lib, x, y: lib.cat([x, y]), [(0, 3), (2, 3)]),
    C(lambda lib, x, a: lib.cat([x, a]), [(2,), ints(3)]),
    ND(lambda lib, a, b: lib.cat([a, b]), [ints(2, dtype=np.int32), ints(3)]),
    ND(lambda lib, a, b: lib.cat([a, b]), [bools(2), ints(3, dtype=np.uint8, lo=0)]),
    C(lambda lib, x, y: lib.concat([x, y], 0), [(1, 2), (1, 2)]),
    C(lambda lib, x, y: lib.stack([x, y]), [(2, 3), (2, 3)]),
    C(lambda lib, x, y: lib.stack([x, y], dim=-1), [(2, 3), (2, 3)]),
    C(lambda lib, x, y: lib.stack([x, y], -1), [(), ()]),
    C(lambda lib, x, y: lib.hstack([x, y]), [(2, 3), (2, 1)]),
    C(lambda lib, x, y: lib.vstack([x, y]), [(3,), (3,)]),
]

SPECS["flip"] = [
    C(lambda lib, x: x.flip(0), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: lib.flip(x, (0, 2)), [(2, 3, 2)]),
    C(lambda lib, x: x.flip(-1), [(4,)]),
    C(lambda lib, x: x.flip(0), [()]),
    C(lambda lib, x: lib.fliplr(x), [(2, 3)]),
    C(lambda lib, x: lib.flipud(x), [(2, 3)]),
    C(lambda lib, x: lib.rot90(x), [(2, 3)]),
    ND(lambda lib, a: a.flip([0, 1]), [ints(2, 3)]),
]

SPECS["roll"] = [
    C(lambda lib, x: x.roll(1, 0), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: lib.roll(x, -2, -1), [(3, 4)]),
    C(lambda lib, x: x.roll(3), [(3, 4)]),
    C(lambda lib, x: x.roll((1, 2), (0, 1)), [(3, 4)]),
    C(lambda lib, x: x.roll(5, 0), [(3,)]),
    ND(lambda lib, a: a.roll(1), [ints(5)]),
]

for _name in ("tril", "triu"):
    SPECS[_name] = [
        C(lambda lib, x, n=_name: getattr(lib, n)(x), [(3, 4)], dtypes=ALL_F),
        C(lambda lib, x, n=_name: getattr(x, n)(1), [(4, 3)]),
        C(lambda lib, x, n=_name: getattr(x, n)(diagonal=-1), [(3, 3)]),
        C(lambda lib, x, n=_name: getattr(x, n)(), [(2, 3, 3)]),
        ND(lambda lib, a, n=_name: getattr(a, n)(), [ints(3, 3)]),
        ND(lambda lib, a, n=_name: getattr(a, n)(), [bools(2, 3)]),
    ]

SPECS["diagonal"] = [
    C(lambda lib, x: x.diagonal(), [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: lib.diagonal(x, 1), [(3, 4)]),
    C(lambda lib, x: x.diagonal(-1), [(3, 4)]),
    C(lambda lib, x: x.diagonal(0, 1, 2), [(2, 3, 3)]),
    C(lambda lib, x: x.diagonal(offset=1, dim1=-1, dim2=0), [(3, 2, 4)]),
    C(lambda lib, x: lib.trace(x), [(3, 3)]),
    ND(lambda lib, a: a.diagonal(), [ints(3, 3)]),
]

SPECS["diagonal_scatter"] = [
    C(lambda lib, x: lib.diag_embed(x), [(2, 3)], dtypes=ALL_F),
    C(lambda lib, x: lib.diag_embed(x, 1), [(3,)]),
    C(lambda lib, x: lib.diag_embed(x, -1), [(2, 2)]),
    C(lambda lib, x: x.diagonal(0, 1, 2) * 2, [(2, 3, 4)]),
]

SPECS["diag"] = [
    C(lambda lib, x: lib.diag(x), [(3,)], dtypes=ALL_F),
    C(lambda lib, x: x.diag(1), [(3,)]),
    C(lambda lib, x: x.diag(-2), [(2,)]),
    C(lambda lib, x: lib.diag(x), [(3, 4)]),
    C(lambda lib, x: x.diag(1), [(3, 4)]),
    C(lambda lib, x: x.diag(-1), [(4, 3)]),
    ND(lambda lib, a: a.diag(), [ints(3)]),
]

SPECS["repeat"] = [
    C(lambda lib, x: x.repeat(2, 1), [(2, 3)], dtypes=ALL_F),
    C(lambda lib, x: x.repeat(2, 1, 3), [(2, 3)]),
    C(lambda lib, x: x.repeat((3,)), [(2,)]),
    C(lambda lib, x: x.repeat(2, 2), [()]),
    C(lambda lib, x: x.tile((2,)), [(2, 3)]),
    C(lambda lib, x: x.repeat(0, 2), [(2, 3)]),
    ND(lambda lib, a: a.repeat(2), [ints(3)]),
]

# ----------------------------------------------------------------------------- indexing
SPECS["getitem"] = [
    C(lambda lib, x: x[1], [(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x[:, 1:3], [(3, 4)]),
    C(lambda lib, x: x[-1, ::2], [(3, 4)]),
    C(lambda lib, x: x[..., 0], [(2, 3, 4)]),
    C(lambda lib, x: x[None, 1, :, None], [(3, 4)]),
    C(lambda lib, x: x[1:1], [(3, 4)]),
    C(lambda lib, x: x[5:], [(3, 4)]),
    C(lambda lib, x: x[...], [()]),
    C(lambda lib, x: x[None], [()]),
    C(lambda lib, x, i: x[i], [(5, 3), idx(4, n=5)], dtypes=ALL_F),
    C(lambda lib, x, i: x[:, i], [(2, 5), idx(2, 3, n=5)]),
    C(lambda lib, x, i, j: x[i, j], [(4, 5), idx(3, n=4), idx(3, n=5)]),
    C(lambda lib, x, i, j: x[i, :, j], [(4, 2, 5), idx(3, 1, n=4), idx(2, n=5)]),
    C(lambda lib, x, i, j: x[:, i, j], [(2, 4, 5), idx(3, n=4), idx(3, n=5)]),
    C(lambda lib, x, i: x[i, 1:], [(4, 3), idx(2, 2, n=4)]),
    C(lambda lib, x, m: x[m], [(3, 4), bools(3, 4)], dtypes=ALL_F),
    C(lambda lib, x, m: x[m], [(3, 4), bools(3)]),
    C(lambda lib, x, m: x[:, m], [(3, 4), bools(4)]),
    C(lambda lib, x: x[[0, 2, 2]], [(3, 4)]),
    C(lambda lib, x: x[[0, -1], [1, 0]], [(3, 4)]),
    C(lambda lib, x: x[x > 0], [away(3, 4)]),
    C(lambda lib, x, i: x[i], [(3, 4), const(np.array(1))]),
    C(lambda lib, x, i: x[i], [(3,), const(np.zeros(0, dtype=np.int64))]),
    C(lambda lib, x, i: x[i], [(3, 4), idx(5, n=3)]),   # duplicates accumulate in backward
    C(lambda lib, x: x.narrow(1, 1, 2), [(3, 4)]),
    C(lambda lib, x: x.select(0, -1), [(3, 4)]),
    C(lambda lib, x: x.unbind(1), [(2, 3)]),
    C(lambda lib, x: x.split(2), [(5, 2)]),
    C(lambda lib, x: x.split([1, 3], 1), [(2, 4)]),
    C(lambda lib, x: x.chunk(3, 1), [(2, 5)]),
    C(lambda lib, x: lib.tensor_split(x, 3), [(7,)]),
    C(lambda lib, x, i: lib.take(x, i), [(3, 4), idx(5, n=12)]),
    ND(lambda lib, a, i: a[i], [ints(5), idx(3, n=5)]),
    ND(lambda lib, a, m: a[m], [ints(5), bools(5)]),
    C(lambda lib, x, m: lib.masked_select(x, m), [(3, 4), bools(4)]),
    C(lambda lib, x, i: x[i], [(3, 4), const(np.array([0, 2], dtype=np.int32))]),
]

SPECS["index_add_into"] = [
    # index_add_into is getitem's backward: duplicated indices must accumulate.
    C(lambda lib, x, i: x[i] * 2, [(4, 3), idx(6, n=4)], dtypes=ALL_F),
    C(lambda lib, x, i, j: x[i, j], [(3, 3), const([0, 0, 2, 2]), const([1, 1, 0, 1])]),
    C(lambda lib, x: x[1:, ::2], [(3, 4)]),
    C(lambda lib, x, m: x[m].sum(), [(3, 4), bools(3, 4)]),
]

SPECS["index_put"] = [
    C(lambda lib, x, i, v: x.index_put((i,), v), [(5, 3), perm_idx(5, 3), (3, 3)],
      dtypes=ALL_F),
    C(lambda lib, x, i, v: x.index_put((i,), v, accumulate=True), [(5, 3), idx(4, n=5), (4, 3)]),
    C(lambda lib, x, i, v: lib.index_put(x, (i,), v), [(5, 3), perm_idx(5, 2), (3,)]),
    C(lambda lib, x, m, v: x.index_put((m,), v), [(3, 4), bools(3, 4), ()]),
    C(lambda lib, x, i, j, v: x.index_put((i, j), v, True), [(3, 4), idx(5, n=3), idx(5, n=4),
                                                            (5,)]),
    C(lambda lib, x, i: x.index_fill(1, i, -1.0), [(3, 4), perm_idx(4, 2)]),
    C(lambda lib, x, i, s: x.index_copy(0, i, s), [(4, 3), perm_idx(4, 2), (2, 3)]),
    C(lambda lib, x, m, s: x.masked_scatter(m, s), [(3, 4), bools(3, 4), (12,)]),
    ND(lambda lib, a, i: a.index_put((i,), lib.tensor(7)), [ints(5), perm_idx(5, 2)]),
]


def _setitem_case(idx_fn):
    def fn(lib, x, v, *rest):
        y = x * 1
        y[idx_fn(*rest)] = v
        return y
    return fn


SPECS["index_put"] += [
    C(_setitem_case(lambda: (slice(1, 3),)), [(4, 3), (2, 3)]),
    C(_setitem_case(lambda: (Ellipsis, 0)), [(2, 3), (2,)]),
    C(_setitem_case(lambda i: i), [(4, 3), (3,), perm_idx(4, 2)]),
    C(_setitem_case(lambda m: m), [(3, 4), (), bools(3, 4)]),
]


def _view_inplace(lib, x, w):
    y = x * 1
    v = y[1:]
    v.mul_(w)
    return y


def _view_inplace_t(lib, x):
    y = x.clone()
    y.t()[0].add_(1.0)
    return y


def _view_iadd(lib, x, w):
    y = x * 2
    y[:, 0] += w
    return y


SPECS["view_scatter"] = [
    C(_view_inplace, [(3, 4), (4,)], dtypes=ALL_F),
    C(_view_inplace_t, [(3, 4)]),
    C(_view_iadd, [(3, 4), (3,)]),
]

SPECS["gather"] = [
    C(lambda lib, x, i: lib.gather(x, 1, i), [(3, 4), idx(3, 2, n=4)], dtypes=ALL_F),
    C(lambda lib, x, i: x.gather(0, i), [(3, 4), idx(5, 4, n=3)]),
    C(lambda lib, x, i: x.gather(-1, i), [(2, 3, 4), idx(2, 2, 3, n=4)]),
    C(lambda lib, x, i: x.gather(0, i), [(4,), idx(6, n=4)]),
    C(lambda lib, x, i: x.gather(1, i), [(3, 4), idx(2, 2, n=4)]),   # index smaller than input
    ND(lambda lib, a, i: a.gather(0, i), [ints(5), idx(3, n=5)]),
    C(lambda lib, x, i: lib.take_along_dim(x, i, 1), [(3, 4), idx(3, 2, n=4)]),
    C(lambda lib, x, i: x.gather(0, i), [(3,), const(np.zeros(0, dtype=np.int64))]),
]

SPECS["scatter"] = [
    # Rows of distinct indices: with duplicates, which write wins is unspecified in torch.
    C(lambda lib, x, i, s: x.scatter(1, i, s), [(3, 5), row_perm_idx(3, 2, n=5), (3, 2)],
      dtypes=ALL_F),
    C(lambda lib, x, i: lib.scatter(x, 0, i, 1.5), [(3, 4), idx(2, 4, n=3)]),
    # src larger than index: torch's own backward rejects it, so only ember's gradcheck runs.
    C(lambda lib, x, i, s: x.scatter(0, i, s), [(4,), perm_idx(4, 3), (5,)], grad=False),
    C(lambda lib, x, i: x.scatter(1, i, value=-2.0), [(2, 4), idx(2, 3, n=4)]),
    ND(lambda lib, a, i, s: a.scatter(0, i, s), [ints(5), perm_idx(5, 2), ints(2)]),
    ND(lambda lib, x, i, s: x.scatter(0, i, s, reduce="add"), [(4,), idx(6, n=4), (6,)]),
    ND(lambda lib, x, i, s: x.scatter(0, i, s, reduce="multiply"), [(4,), idx(6, n=4), (6,)]),
]

SPECS["scatter_add"] = [
    C(lambda lib, x, i, s: x.scatter_add(1, i, s), [(3, 4), idx(3, 5, n=4), (3, 5)],
      dtypes=ALL_F),
    C(lambda lib, x, i, s: lib.scatter_add(x, 0, i, s), [(3,), idx(6, n=3), (6,)]),
    C(lambda lib, x, i, s: x.scatter_add(0, i, s), [(3, 2), idx(2, 2, n=3), (4, 3)],
      grad=False),
    C(lambda lib, x, i, s: x.scatter_reduce(0, i, s, "sum"), [(4,), idx(5, n=4), (5,)]),
    ND(lambda lib, a, i, s: a.scatter_add(0, i, s), [ints(4), idx(6, n=4), ints(6)]),
]

SPECS["index_select"] = [
    C(lambda lib, x, i: lib.index_select(x, 0, i), [(4, 3), idx(5, n=4)], dtypes=ALL_F),
    C(lambda lib, x, i: x.index_select(1, i), [(2, 4), idx(3, n=4)]),
    C(lambda lib, x, i: x.index_select(-1, i), [(2, 3, 4), idx(2, n=4)]),
    C(lambda lib, x, i: x.index_select(0, i), [(3,), const(np.zeros(0, dtype=np.int64))]),
    C(lambda lib, x, i: x.index_select(0, i), [(3, 2), const(np.array([2, 0], np.int32))]),
    ND(lambda lib, a, i: a.index_select(0, i), [ints(4), idx(3, n=4)]),
    C(lambda lib, x: lib.repeat_interleave(x, 2, dim=0), [(2, 3)]),
    C(lambda lib, x: x.repeat_interleave(2), [(2, 2)]),
]

SPECS["index_add"] = [
    C(lambda lib, x, i, s: x.index_add(0, i, s), [(4, 3), idx(5, n=4), (5, 3)], dtypes=ALL_F),
    C(lambda lib, x, i, s: lib.index_add(x, 1, i, s), [(2, 4), idx(3, n=4), (2, 3)]),
    C(lambda lib, x, i, s: x.index_add(0, i, s, alpha=2.5), [(4,), idx(6, n=4), (6,)]),
    ND(lambda lib, a, i, s: a.index_add(0, i, s), [ints(4), idx(3, n=4), ints(3)]),
]

SPECS["masked_fill"] = [
    C(lambda lib, x, m: x.masked_fill(m, 0.5), [(3, 4), bools(3, 4)], dtypes=ALL_F),
    C(lambda lib, x, m: lib.masked_fill(x, m, float("-inf")).exp(), [(3, 4), bools(4)]),
    C(lambda lib, x, m, v: x.masked_fill(m, v), [(3, 4), bools(3, 1), ()]),
    C(lambda lib, x, m: x.masked_fill(m, 2), [(), bools()]),
    ND(lambda lib, a, m: a.masked_fill(m, -1), [ints(5), bools(5)]),
    ND(lambda lib, a, m: a.masked_fill(m, True), [bools(5), bools(5)]),
]

SPECS["sort"] = [
    C(lambda lib, x: lib.sort(x), [distinct(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.sort(0, descending=True), [distinct(3, 4)]),
    C(lambda lib, x: x.sort(dim=1).values, [distinct(2, 3, 2)]),
    C(lambda lib, x: x.sort(), [()]),
    C(lambda lib, x: x.sort(stable=True), [const([2.0, 1.0, 2.0, 1.0, 3.0])], **NOGC),
    C(lambda lib, x: x.sort(descending=True, stable=True), [const([2.0, 1.0, 2.0, 1.0, 3.0])],
      **NOGC),
    ND(lambda lib, a: a.sort(), [ints(3, 4, lo=0, hi=100)]),
    ND(lambda lib, a: a.sort(descending=True), [perm_idx(7)]),
    ND(lambda lib, a: a.sort(descending=True, stable=True), [bools(6)]),
    ND(lambda lib, x: lib.argsort(x, 0), [distinct(3, 4)]),
    ND(lambda lib, x: x.argsort(descending=True), [distinct(5)]),
    C(lambda lib, x: lib.msort(x), [distinct(3, 2)]),
    ND(lambda lib, x: x.sort(), [const([1.0, float("nan"), -1.0, float("inf")])]),
    ND(lambda lib, x: x.sort(descending=True), [const([1.0, float("nan"), -1.0, 2.0])]),
    C(lambda lib, x: x.sort(0), [(0, 2)]),
]

SPECS["topk"] = [
    C(lambda lib, x: lib.topk(x, 2), [distinct(3, 4)], dtypes=ALL_F),
    C(lambda lib, x: x.topk(2, dim=0), [distinct(3, 4)]),
    C(lambda lib, x: x.topk(3, largest=False), [distinct(2, 5)]),
    C(lambda lib, x: x.topk(1, -1).values, [distinct(2, 3, 2)]),
    C(lambda lib, x: x.topk(0), [distinct(4)]),
    C(lambda lib, x: x.topk(4), [distinct(4)]),
    ND(lambda lib, a: a.topk(2), [perm_idx(6)]),
]

SPECS["nonzero"] = [
    ND(lambda lib, x: lib.nonzero(x), [const([[0.0, 1.0, 0.0], [2.0, 0.0, -1.0]])],
       dtypes=ALL_F),
    ND(lambda lib, a: a.nonzero(), [bools(2, 3, 2)]),
    ND(lambda lib, a: a.nonzero(as_tuple=True), [ints(3, 4, lo=0, hi=2)]),
    ND(lambda lib, a: lib.nonzero(a), [bools(0)]),
    ND(lambda lib, a: lib.argwhere(a), [ints(5, lo=0, hi=2)]),
    ND(lambda lib, a: a.nonzero(), [bools()]),
]

SPECS["unique"] = [
    ND(lambda lib, a: lib.unique(a), [ints(10, lo=0, hi=4)]),
    ND(lambda lib, a: a.unique(return_inverse=True), [ints(3, 4, lo=0, hi=5)]),
    ND(lambda lib, a: a.unique(return_counts=True), [ints(8, lo=-2, hi=3)]),
    ND(lambda lib, a: lib.unique(a, return_inverse=True, return_counts=True),
       [ints(2, 5, lo=0, hi=3)]),
    ND(lambda lib, x: lib.unique(x), [const([1.5, -1.0, 1.5, 0.0])], dtypes=ALL_F),
    ND(lambda lib, a: a.unique(dim=0), [const(np.array([[1, 2], [0, 1], [1, 2]]))]),
    ND(lambda lib, a: a.unique(), [bools(6)]),
]

SPECS["one_hot"] = [
    ND(lambda lib, a: _one_hot(lib)(a), [idx(5, n=4)]),
    ND(lambda lib, a: _one_hot(lib)(a, 6), [idx(2, 3, n=4)]),
    ND(lambda lib, a: _one_hot(lib)(a, 3), [const(np.array(2))]),
    ND(lambda lib, a: _one_hot(lib)(a, 3), [const(np.zeros(0, dtype=np.int64))]),
]

# ----------------------------------------------------------------------------- linear algebra
SPECS["matmul"] = [
    C(lambda lib, x, y: x @ y, [(3, 4), (4, 2)], dtypes=ALL_F),
    C(lambda lib, x, y: lib.matmul(x, y), [(4,), (4,)], dtypes=ALL_F),
    C(lambda lib, x, y: lib.matmul(x, y), [(4,), (4, 3)]),
    C(lambda lib, x, y: lib.matmul(x, y), [(3, 4), (4,)]),
    C(lambda lib, x, y: x @ y, [(2, 3, 4), (4, 2)]),
    C(lambda lib, x, y: x @ y, [(3, 4), (2, 4, 2)]),
    C(lambda lib, x, y: x @ y, [(2, 1, 3, 4), (3, 4, 2)]),
    C(lambda lib, x, y: x @ y, [(4,), (2, 4, 3)]),
    C(lambda lib, x, y: x @ y, [(2, 3, 4), (4,)]),
    C(lambda lib, x, y: x @ y, [(0, 4), (4, 2)]),
    C(lambda lib, x, y: x @ y, [(3, 0), (0, 2)]),
    C(lambda lib, x, y: lib.mm(x, y), [(3, 4), (4, 2)]),
    C(lambda lib, x, y: lib.bmm(x, y), [(2, 3, 4), (2, 4, 2)]),
    C(lambda lib, x, y: lib.mv(x, y), [(3, 4), (4,)]),
    C(lambda lib, x, y: lib.dot(x, y), [(4,), (4,)]),
    C(lambda lib, x, y: x.matmul(y.t()), [(3, 4), (2, 4)]),
    C(lambda lib, b, x, y: lib.addmm(b, x, y, beta=0.5, alpha=2.0), [(2,), (3, 4), (4, 2)]),
    C(lambda lib, b, x, y: lib.baddbmm(b, x, y), [(2, 3, 2), (2, 3, 4), (2, 4, 2)]),
    C(lambda lib, x, y: lib.outer(x, y), [(3,), (2,)]),
    ND(lambda lib, a, b: a @ b, [ints(2, 3), ints(3, 2)]),
]

SPECS["einsum"] = [
    # Ellipses (spelled out into letters, so their gradients are plain einsums too).
    C(lambda lib, x, w, y: lib.einsum("...i,kij,...j->...k", x, w, y), [(2, 3), (4, 3, 5),
                                                                        (2, 5)]),
    C(lambda lib, x, y: lib.einsum("...ij,...jk", x, y), [(2, 3, 4), (4, 5)]),
    C(lambda lib, x, y: lib.einsum("b...,b...->b", x, y), [(2, 3, 4), (2, 3, 4)]),
    C(lambda lib, x, y: lib.einsum("ij,jk->ik", x, y), [(3, 4), (4, 2)], dtypes=ALL_F),
    C(lambda lib, x, y: lib.einsum("bij,bjk->bik", x, y), [(2, 3, 4), (2, 4, 2)]),
    C(lambda lib, x, y: lib.einsum("i,j->ij", x, y), [(3,), (2,)]),
    C(lambda lib, x: lib.einsum("ij->ji", x), [(3, 4)]),
    C(lambda lib, x: lib.einsum("ij->", x), [(3, 4)]),
    C(lambda lib, x: lib.einsum("ij->j", x), [(3, 4)]),
    C(lambda lib, x, y: lib.einsum("ij,jk", x, y), [(3, 4), (4, 2)]),
    C(lambda lib, x, y: lib.einsum("...ij,...jk->...ik", x, y), [(2, 3, 4), (2, 4, 2)]),
    C(lambda lib, x, y: lib.einsum("i,i->", x, y), [(4,), (4,)]),
    C(lambda lib, x, y: lib.einsum("bi,bi->b", x, y), [(3, 4), (3, 4)]),
    C(lambda lib, x, y, z: lib.einsum("ij,jk,kl->il", x, y, z), [(2, 3), (3, 4), (4, 2)]),
    C(lambda lib, x, y: lib.einsum("ij,kj->ik", [x, y]), [(3, 4), (2, 4)]),
    C(lambda lib, x, y: lib.tensordot(x, y, dims=1), [(2, 3), (3, 4)]),
    C(lambda lib, x, y: lib.tensordot(x, y, dims=([0, 1], [1, 0])), [(2, 3), (3, 2)]),
    C(lambda lib, x: lib.einsum("ii->i", x), [(3, 3)]),
    C(lambda lib, x: lib.einsum("ii", x), [(3, 3)]),
]
