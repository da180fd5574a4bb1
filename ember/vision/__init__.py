"""ember.vision: datasets, transforms and image utilities with torchvision's names.

Under ``ember run`` this package is what ``import torchvision`` gives.
"""
from __future__ import annotations

__version__ = "0.1.0+ember"


def __getattr__(name: str):
    # Subpackages load on first use so that `import ember.vision` stays cheap.
    import importlib
    if name in ("datasets", "transforms", "utils", "io", "models", "ops"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"ember does not implement torchvision.{name} yet")
