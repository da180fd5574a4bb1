"""Primitive ops: one class per op, registered once in ``REGISTRY``."""
from . import elementwise, indexing, linalg, reduction, shape  # noqa: F401  (registers ops)
from .registry import REGISTRY, Primitive, register

__all__ = ["REGISTRY", "Primitive", "register"]
