"""CIFAR10 and CIFAR100 from the python-pickled batches (torchvision's names and layout,
``root/cifar-10-batches-py`` and ``root/cifar-100-python``)."""
from __future__ import annotations

import os
import pickle
from typing import Any, Callable

import numpy as np

from .vision import VisionDataset
from ._download import check_integrity, download_and_extract_archive, not_found
from .mnist import _to_image


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training and 10,000 test 32x32 colour images in 10 classes.

    Args:
        root: the directory holding ``cifar-10-batches-py``.
        train: the five training batches (else ``test_batch``).
        transform: applied to each image (a PIL RGB image).
        target_transform: applied to each label (an int).
        download: fetch and extract the tarball when files are missing.

    Shape:
        ``data``: uint8 NumPy ``(N, 32, 32, 3)``; ``targets``: list of ints.

    md5 sums are checked on download; loading only needs the files to exist, so hand-made
    batches in the same format (e.g. a subset) load too.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [["data_batch_1", "c99cafc152244af753f735de768cd75f"],
                  ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
                  ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
                  ["data_batch_4", "634d18415352ddfa80567beed471001a"],
                  ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"]]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names",
            "md5": "5ff9c542aee3614f3951f8cda6e48888"}

    def __init__(self, root: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        self.root = os.path.expanduser(str(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download:
            self.download()
        if not self._check_integrity():
            raise not_found()
        data, self.targets = [], []
        for name, _ in (self.train_list if train else self.test_list):
            entry = self._unpickle(os.path.join(self.root, self.base_folder, name))
            data.append(np.asarray(entry["data"], dtype=np.uint8))
            # CIFAR-100 batches label with "fine_labels" (and "coarse_labels").
            labels = entry["labels"] if "labels" in entry else entry["fine_labels"]
            self.targets.extend(int(t) for t in labels)
        # Rows hold the red, green then blue planes of 32x32: reorder to HWC for PIL.
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))
        self._load_meta()

    @staticmethod
    def _unpickle(path: str) -> dict:
        with open(path, "rb") as f:
            # The batches were pickled by Python 2: latin1 keeps the byte strings intact.
            return pickle.load(f, encoding="latin1")

    def _load_meta(self) -> None:
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        if not os.path.isfile(path):
            raise not_found()
        self.classes = list(self._unpickle(path)[self.meta["key"]])
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    def _check_integrity(self) -> bool:
        return all(check_integrity(os.path.join(self.root, self.base_folder, name))
                   for name, _ in self.train_list + self.test_list)

    def _check_md5(self) -> bool:
        return all(check_integrity(os.path.join(self.root, self.base_folder, name), md5)
                   for name, md5 in self.train_list + self.test_list)

    def download(self) -> None:
        """Fetch and extract the tarball unless verified batches are already there."""
        if self._check_md5():
            return
        download_and_extract_archive(self.url, self.root, filename=self.filename,
                                     md5=self.tgz_md5)

    def __getitem__(self, index: int) -> tuple:
        img: Any = _to_image(self.data[index])
        target: Any = self.targets[index]
        return self._transformed(img, target)

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: like CIFAR-10 with 100 fine classes (targets are the ``fine_labels``)."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names",
            "md5": "7973b15100ade9c7d40fb424638fde48"}
