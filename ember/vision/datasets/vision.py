"""``VisionDataset``: what torchvision's datasets share — applying ``transform`` and
``target_transform`` to a sample, and the printed summary."""
from __future__ import annotations

from typing import Any

from ...utils.data.dataset import Dataset


class VisionDataset(Dataset):
    """Base of the image datasets: subclasses set ``root`` (where they have one),
    ``transform`` and ``target_transform``, and may describe themselves in ``extra_repr``."""

    transform = None
    target_transform = None

    def _transformed(self, img: Any, target: Any) -> tuple:
        """``(transform(img), target_transform(target))``, each where it is set."""
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"Dataset {self.__class__.__name__}", f"    Number of datapoints: {len(self)}"]
        if getattr(self, "root", None) is not None:
            lines.append(f"    Root location: {self.root}")
        lines += ["    " + line for line in self.extra_repr().splitlines()]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)
