"""FakeData: random images for smoke tests, with torchvision's signature."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .vision import VisionDataset
from .mnist import _to_image


class FakeData(VisionDataset):
    """A dataset of random images; sample ``i`` is the same every time it is read.

    Args:
        size: number of samples.
        image_size: ``(C, H, W)`` of each image (C of 1 or 3 gives L / RGB images).
        num_classes: targets are drawn from ``range(num_classes)``.
        transform, target_transform: as for the other datasets.
        random_offset: shifts the per-sample seeds, giving a different dataset.

    The pixels come from NumPy's generator seeded with ``index + random_offset`` (torch's
    generator is not available), so the values differ from torchvision's, the distribution
    (standard normal scaled to [0, 255] bytes) and the determinism do not; the global RNG is
    untouched.
    """

    def __init__(self, size: int = 1000, image_size: tuple = (3, 224, 224),
                 num_classes: int = 10, transform: Callable | None = None,
                 target_transform: Callable | None = None, random_offset: int = 0) -> None:
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset
        self.transform = transform
        self.target_transform = target_transform

    def __getitem__(self, index: int) -> tuple:
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        rng = np.random.default_rng(index + self.random_offset)
        pixels = rng.standard_normal(tuple(self.image_size), dtype=np.float32)
        target: Any = int(rng.integers(0, self.num_classes))
        # Like ToPILImage on a float tensor: scale by 255 and keep the low byte.
        arr = (pixels * 255).astype(np.int64).astype(np.uint8)
        arr = arr[0] if arr.shape[0] == 1 else np.ascontiguousarray(np.moveaxis(arr, 0, -1))
        img: Any = _to_image(arr)
        return self._transformed(img, target)

    def __len__(self) -> int:
        return self.size
