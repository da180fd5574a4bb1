"""Every core case against torch: forward, gradients, non-contiguous inputs, float64 gradcheck.

Cases live in ``tests/specs_core.py`` (one list per registered primitive); this module only
parametrizes over them.
"""
from __future__ import annotations

import warnings

import pytest

from oracle import check, gradcheck_case
from specs_core import SPECS

_FWD = []
_NONCONTIG = []
_GRADCHECK = []
for _prim, _cases in SPECS.items():
    for _i, _case in enumerate(_cases):
        for _dt in _case.dtypes:
            _FWD.append(pytest.param(_case, _dt, id=f"{_prim}-{_i}-{_dt}"))
        if _case.non_contiguous:
            _NONCONTIG.append(pytest.param(_case, id=f"{_prim}-{_i}"))
        if _case.gradcheck:
            _GRADCHECK.append(pytest.param(_case, id=f"{_prim}-{_i}"))


@pytest.fixture(autouse=True)
def _quiet():
    # torch warns for deprecated spellings we test on purpose (scatter reduce=, .T on 3-D).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("case,dtype", _FWD)
def test_forward_and_grad(case, dtype):
    check(case, dtype)


@pytest.mark.parametrize("case", _NONCONTIG)
def test_non_contiguous(case):
    check(case, "float32", non_contiguous=True)


@pytest.mark.parametrize("case", _GRADCHECK)
def test_gradcheck(case):
    gradcheck_case(case)
