"""SVHN (Street View House Numbers) from the cropped-digit ``.mat`` files."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from .vision import VisionDataset
from ._download import check_integrity, download_url, not_found, verify_str_arg
from .mnist import _to_image


class SVHN(VisionDataset):
    """SVHN cropped digits: 32x32 colour images, label 0-9 (the files' 10 means 0).

    Args:
        root: the directory holding ``train_32x32.mat`` / ``test_32x32.mat`` /
            ``extra_32x32.mat``.
        split: ``train``, ``test`` or ``extra``.
        transform, target_transform, download: as for CIFAR10.

    Shape:
        ``data``: uint8 NumPy ``(N, 3, 32, 32)``; ``labels``: int64 NumPy ``(N,)``.

    Reading the MATLAB files needs SciPy, imported only here (it is not an ember dependency).
    """

    split_list = {
        "train": ["http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
                  "train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"],
        "test": ["http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
                 "test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"],
        "extra": ["http://ufldl.stanford.edu/housenumbers/extra_32x32.mat",
                  "extra_32x32.mat", "a93ce644f1a588dc4d68dda5feec44a7"],
    }

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        self.root = os.path.expanduser(str(root))
        self.transform = transform
        self.target_transform = target_transform
        self.split = verify_str_arg(split, "split", tuple(self.split_list))
        self.url, self.filename, self.file_md5 = self.split_list[split]
        if download:
            self.download()
        if not self._check_integrity():
            raise not_found()
        try:
            import scipy.io as sio
        except ImportError as e:
            raise ImportError("SVHN needs SciPy to read its .mat files: "
                              "pip install scipy") from e
        mat = sio.loadmat(os.path.join(self.root, self.filename))
        # X is (32, 32, 3, N) in MATLAB's order; y is (N, 1) with 10 standing for digit 0.
        self.data = np.transpose(np.asarray(mat["X"], dtype=np.uint8), (3, 2, 0, 1))
        self.labels = np.asarray(mat["y"]).astype(np.int64).squeeze(-1) % 10

    def _check_integrity(self) -> bool:
        return check_integrity(os.path.join(self.root, self.filename))

    def download(self) -> None:
        """Fetch this split's ``.mat`` file (md5-checked)."""
        download_url(self.url, self.root, self.filename, self.file_md5)

    def __getitem__(self, index: int) -> tuple:
        img: Any = _to_image(np.ascontiguousarray(np.transpose(self.data[index], (1, 2, 0))))
        target: Any = int(self.labels[index])
        return self._transformed(img, target)

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
