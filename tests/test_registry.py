"""Every registered primitive has oracle cases, and every differentiable one is gradchecked.

Cases come from every ``tests/**/specs_*.py`` (``oracle.collect_specs``). Every module of the
package is imported first, so primitives registered anywhere (nn, distributions, ...) are held to
the same rule.
"""
from __future__ import annotations

import importlib
import pkgutil

import pytest

import ember
from ember.ops import REGISTRY
from ember.ops.elementwise import _NoGrad
from oracle import collect_specs

# Import every ember module (but the CLI entry point and the examples, which only use ops), so
# that every primitive anywhere in the package is registered before the walk. A module whose
# optional extra is missing (CuPy, onnx, mpi4py...) registers nothing here either.
for _info in pkgutil.walk_packages(ember.__path__, "ember."):
    if _info.name.endswith("__main__") or _info.name.startswith("ember.examples"):
        continue
    try:
        importlib.import_module(_info.name)
    except Exception:  # noqa: BLE001 - an absent optional dependency
        pass


@pytest.fixture(scope="module")
def specs():
    return collect_specs()


def _non_differentiable(cls) -> bool:
    # _NoGrad primitives produce integer/bool results (or, like floor_divide, have no
    # derivative in torch either): no gradient flows through them.
    return issubclass(cls, _NoGrad)


def test_registry_is_populated():
    assert ember.ops.REGISTRY is REGISTRY
    assert len(REGISTRY) >= 100


def test_every_primitive_has_a_case(specs):
    missing = sorted(name for name in REGISTRY if not specs.get(name))
    assert not missing, f"primitives without an oracle Case in tests/**/specs_*.py: {missing}"


def test_every_differentiable_primitive_is_gradchecked(specs):
    missing = sorted(name for name, cls in REGISTRY.items()
                     if not _non_differentiable(cls)
                     and not any(c.gradcheck and c.grad for c in specs.get(name, [])))
    assert not missing, f"differentiable primitives without a gradcheck=True Case: {missing}"


def test_spec_keys_name_registered_primitives(specs):
    stale = sorted(name for name in specs if name not in REGISTRY)
    assert not stale, f"specs keyed by names that are not registered primitives: {stale}"
