"""Oracle cases for the primitives added with the extra distributions (erfinv for icdf)."""
from __future__ import annotations

import numpy as np

from oracle import Case


def erfinv(lib, x):
    import ember
    if lib is ember:
        from ember.distributions import _special
        return _special.erfinv(x)
    return lib.erfinv(x)


def _tails(rng):
    # Near +-1 (where erf(y) -> 1 and only the erfc residual keeps its accuracy) and near 0.
    near_one = 1.0 - 10.0 ** -rng.uniform(2.0, 9.0, (4,))
    return np.concatenate([near_one, -near_one, rng.uniform(-1e-6, 1e-6, (2,))])


SPECS = {
    "special_erfinv": [
        Case(erfinv, [lambda rng: rng.uniform(-0.95, 0.95, (3, 4))]),
        # Finite differences would step past +-1 here: values and analytic gradients only.
        Case(erfinv, [_tails], name="tails", dtypes=("float64",), gradcheck=False,
             non_contiguous=False),
    ],
}
