"""ember.utils: helpers around training (``ember.utils.data`` is the DataLoader stack)."""
from __future__ import annotations


def __getattr__(name: str):
    # Subpackages load on first use so that `import ember` stays fast.
    import importlib
    if name in ("data", "tensorboard", "summary", "viz", "progress", "dlpack",
                "checkpoint", "hooks"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"ember does not implement torch.utils.{name} yet")
