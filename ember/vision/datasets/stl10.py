"""STL10 from the binary release (``root/stl10_binary``)."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from .vision import VisionDataset
from ._download import check_integrity, download_and_extract_archive, not_found, verify_str_arg
from .mnist import _to_image


class STL10(VisionDataset):
    """STL-10: 96x96 colour images, 10 classes, plus 100,000 unlabeled images.

    Args:
        root: the directory holding ``stl10_binary``.
        split: ``train``, ``train+unlabeled``, ``unlabeled`` or ``test``.
        folds: None (all 5,000 training images) or one of the 10 predefined folds (0-9).
        transform, target_transform, download: as for CIFAR10.

    Shape:
        ``data``: uint8 NumPy ``(N, 3, 96, 96)``; ``labels``: NumPy ``(N,)``, -1 for unlabeled.
    """

    base_folder = "stl10_binary"
    url = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
    filename = "stl10_binary.tar.gz"
    tgz_md5 = "91f7769df0f17e558f3565bffb0c7dfb"
    class_names_file = "class_names.txt"
    folds_list_file = "fold_indices.txt"
    train_list = [["train_X.bin", "918c2871b30a85fa023e0c44e0bee87f"],
                  ["train_y.bin", "5a34089d4802c674881badbb80307741"],
                  ["unlabeled_X.bin", "5242ba1fed5e4be9e1e742405eb56ca4"]]
    test_list = [["test_X.bin", "7f263ba9f9e0b06b93213547f721ac82"],
                 ["test_y.bin", "36f9794fa4beb8a2c72628de14fa638e"]]
    splits = ("train", "train+unlabeled", "unlabeled", "test")

    def __init__(self, root: str, split: str = "train", folds: int | None = None,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        self.root = os.path.expanduser(str(root))
        self.transform = transform
        self.target_transform = target_transform
        self.split = verify_str_arg(split, "split", self.splits)
        self.folds = self._verify_folds(folds)
        if download:
            self.download()
        elif not self._check_integrity():
            raise not_found()
        if self.split in ("train", "train+unlabeled"):
            self.data, self.labels = self._loadfile("train_X.bin", "train_y.bin")
            self._load_folds(folds)
            if self.split == "train+unlabeled":
                unlabeled, _ = self._loadfile("unlabeled_X.bin")
                self.data = np.concatenate((self.data, unlabeled))
                # uint8 labels next to int64 -1s promote to int64, as in torchvision.
                self.labels = np.concatenate(
                    (self.labels, np.full(unlabeled.shape[0], -1, dtype=np.int64)))
        elif self.split == "unlabeled":
            self.data, _ = self._loadfile("unlabeled_X.bin")
            self.labels = np.asarray([-1] * self.data.shape[0])
        else:
            self.data, self.labels = self._loadfile("test_X.bin", "test_y.bin")
        class_file = os.path.join(self.root, self.base_folder, self.class_names_file)
        if os.path.isfile(class_file):
            with open(class_file) as f:
                self.classes = f.read().splitlines()

    @staticmethod
    def _verify_folds(folds: Any) -> int | None:
        if folds is None:
            return folds
        if isinstance(folds, int) and not isinstance(folds, bool):
            if folds in range(10):
                return folds
            raise ValueError(f"Value for argument folds should be in the range [0, 10), "
                             f"but got {folds}.")
        raise ValueError(f"Expected type None or int for argument folds, "
                         f"but got type {type(folds)}.")

    def _loadfile(self, data_file: str, labels_file: str | None = None) -> tuple:
        labels = None
        folder = os.path.join(self.root, self.base_folder)
        if labels_file:
            # Labels are stored 1-10; torchvision shifts them to 0-9 (uint8 arithmetic).
            labels = np.fromfile(os.path.join(folder, labels_file), dtype=np.uint8) - 1
        images = np.fromfile(os.path.join(folder, data_file), dtype=np.uint8)
        # Each image is stored channel by channel in column-major order: swap H and W.
        images = np.transpose(images.reshape(-1, 3, 96, 96), (0, 1, 3, 2))
        return images, labels

    def _load_folds(self, folds: int | None) -> None:
        if folds is None:
            return
        path = os.path.join(self.root, self.base_folder, self.folds_list_file)
        with open(path) as f:
            line = f.read().splitlines()[folds]
        idx = np.array(line.split(), dtype=np.int64)
        self.data, self.labels = self.data[idx], self.labels[idx]

    def _check_integrity(self) -> bool:
        return all(check_integrity(os.path.join(self.root, self.base_folder, name))
                   for name, _ in self.train_list + self.test_list)

    def download(self) -> None:
        """Fetch and extract the 2.6 GB tarball unless verified files are already there."""
        if all(check_integrity(os.path.join(self.root, self.base_folder, name), md5)
               for name, md5 in self.train_list + self.test_list):
            return
        download_and_extract_archive(self.url, self.root, filename=self.filename,
                                     md5=self.tgz_md5)

    def __getitem__(self, index: int) -> tuple:
        target: Any = int(self.labels[index]) if self.labels is not None else None
        img: Any = _to_image(np.ascontiguousarray(np.transpose(self.data[index], (1, 2, 0))))
        return self._transformed(img, target)

    def __len__(self) -> int:
        return self.data.shape[0]

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
