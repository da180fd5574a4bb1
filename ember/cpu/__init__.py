"""``torch.cpu``: the CPU device module (always available) and ``torch.cpu.amp``."""
from __future__ import annotations

__all__ = ["is_available", "device_count", "current_device", "synchronize", "amp"]


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def synchronize(device=None) -> None:
    """Nothing to wait for: CPU ops run synchronously."""


def __getattr__(name: str):
    if name == "amp":
        import importlib
        return importlib.import_module(".amp", __name__)
    raise AttributeError(f"ember does not implement torch.cpu.{name} yet")
