"""The nn primitives' oracle cases against torch (cases in specs_nn.py, specs_nn_extra.py,
specs_attention.py and specs_ctc.py)."""
from __future__ import annotations

import os
import sys
import warnings

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from oracle import check, gradcheck_case  # noqa: E402
from specs_attention import SPECS as _ATTENTION  # noqa: E402
from specs_ctc import SPECS as _CTC  # noqa: E402
from specs_nn import SPECS as _NN  # noqa: E402
from specs_nn_extra import SPECS as _NN_EXTRA  # noqa: E402

SPECS = {**_NN, **_ATTENTION, **_NN_EXTRA, **_CTC}

_FWD = []
_NONCONTIG = []
_GRADCHECK = []
for _prim, _cases in SPECS.items():
    for _i, _case in enumerate(_cases):
        tag = f"{_prim}-{_i}{'-' + _case.name if _case.name else ''}"
        for _dt in _case.dtypes:
            _FWD.append(pytest.param(_case, _dt, id=f"{tag}-{_dt}"))
        if _case.non_contiguous:
            _NONCONTIG.append(pytest.param(_case, id=tag))
        if _case.gradcheck:
            _GRADCHECK.append(pytest.param(_case, id=tag))


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("case,dtype", _FWD)
def test_forward_and_grad(case, dtype):
    check(case, dtype)


@pytest.mark.parametrize("case", _NONCONTIG)
def test_non_contiguous(case):
    check(case, "float64", non_contiguous=True)


@pytest.mark.parametrize("case", _GRADCHECK)
def test_gradcheck(case):
    gradcheck_case(case)
