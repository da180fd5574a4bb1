"""Oracle cases of ember/functional_last.py's primitives (run by tests/test_functional_last.py).

torch differentiates igamma/igammac only in the second argument, so the first is detached."""
from __future__ import annotations

import numpy as np

from oracle import Case


def _pos(lo: float, hi: float, shape):
    return lambda rng: rng.uniform(lo, hi, size=shape)


# torch has no gradient for the first argument: it is a constant so that gradcheck's
# finite differences move only the second.
_A = np.random.default_rng(11).uniform(0.3, 6.0, size=(3, 4))
_A_BIG = np.array([1.0, 2.5, 7.0, 12.0, 20.0])


def _const(L, arr, like):
    return L.tensor(arr, dtype=like.dtype, device=like.device)


SPECS = {
    "igamma": [
        Case(lambda L, x: L.igamma(_const(L, _A, x), x), [_pos(0.1, 9.0, (3, 4))]),
        Case(lambda L, x: L.igamma(_const(L, _A[0], x), x), [_pos(0.1, 5.0, (2, 4))]),
    ],
    "igammac": [
        Case(lambda L, x: L.igammac(_const(L, _A, x), x), [_pos(0.1, 9.0, (3, 4))]),
        Case(lambda L, x: _const(L, _A_BIG, x).igammac(x), [_pos(0.5, 30.0, (5,))]),
    ],
}
