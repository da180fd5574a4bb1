"""Run the oracle cases of tests/distributions/specs_distributions*.py."""
from __future__ import annotations

import importlib.util
import pathlib

import pytest

from oracle import check, gradcheck_case

CASES = []
for _file in ("specs_distributions.py", "specs_distributions_extra.py"):
    _spec = importlib.util.spec_from_file_location(
        "_run_" + _file[:-3], pathlib.Path(__file__).with_name(_file))
    _mod = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_mod)
    CASES += [(k, c) for k, cs in _mod.SPECS.items() for c in cs]


@pytest.mark.parametrize("name,case", CASES, ids=[f"{k}-{c.name}" for k, c in CASES])
def test_spec(name, case):
    for dt in case.dtypes:
        check(case, dt)
        if case.non_contiguous:
            check(case, dt, non_contiguous=True)
    if case.gradcheck and case.grad:
        gradcheck_case(case)
