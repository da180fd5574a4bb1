"""ember.functional_more against torch: oracle cases of its primitives (tests/specs_more.py)
plus values, gradients, dtypes and errors of the composite functions and methods."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember
from oracle import check, gradcheck_case
from specs_more import SPECS

_FWD, _GC = [], []
for _p, _cs in SPECS.items():
    for _i, _c in enumerate(_cs):
        for _d in _c.dtypes:
            _FWD.append(pytest.param(_c, _d, _c.non_contiguous, id=f"{_p}-{_i}-{_d}"))
        if _c.gradcheck:
            _GC.append(pytest.param(_c, id=f"{_p}-{_i}"))


@pytest.mark.parametrize("case,dtype,nc", _FWD)
def test_oracle(case, dtype, nc):
    check(case, dtype)
    if nc and dtype == "float32":
        check(case, "float32", non_contiguous=True)


@pytest.mark.parametrize("case", _GC)
def test_gradcheck(case):
    gradcheck_case(case)
