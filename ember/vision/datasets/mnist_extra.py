"""KMNIST, EMNIST and QMNIST: MNIST-format datasets (torchvision's names and layout,
``root/<ClassName>/raw/``). Files may be gzipped or not."""
from __future__ import annotations

import os
import shutil
import string
from typing import Any, Callable

import numpy as np

from ._download import download_and_extract_archive, extract_archive, verify_str_arg
from .mnist import MNIST, _to_image, read_idx


class KMNIST(MNIST):
    """Kuzushiji-MNIST: 28x28 grey images of 10 cursive Japanese characters (MNIST format).

    Files live in ``root/KMNIST/raw``; ``download=True`` fetches them from ROIS-CODH.

    Example:
        >>> ds = KMNIST("./data", train=False, download=True)
    """

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    npm_package = None
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
    md5s = {"train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
            "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
            "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
            "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134"}


def _load_pair(images_path: str, labels_path: str, label_ndim: int) -> tuple:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"{images_path}: expected uint8 (N, H, W) images, got "
                         f"{images.dtype} {images.shape}")
    if labels.ndim != label_ndim or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{labels_path}: labels of shape {labels.shape} do not match "
                         f"{images.shape[0]} images")
    return np.ascontiguousarray(images), labels.astype(np.int64)


class EMNIST(MNIST):
    """Extended MNIST: handwritten digits and letters as 28x28 grey images.

    Args:
        root: the data directory (files in ``root/EMNIST/raw``, e.g.
            ``emnist-letters-train-images-idx3-ubyte``).
        split: one of ``byclass``, ``bymerge``, ``balanced``, ``letters``, ``digits``,
            ``mnist``.
        **kwargs: ``train``, ``transform``, ``target_transform``, ``download`` as for MNIST.

    Images are kept as stored in the files (transposed relative to MNIST), as torchvision does.
    """

    url = "https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    # Letters whose upper and lower case look alike are merged in bymerge/balanced.
    _merged_classes = {"c", "i", "j", "k", "l", "m", "o", "p", "s", "u", "v", "w", "x", "y",
                       "z"}
    _all_classes = set(string.digits + string.ascii_letters)
    classes_split_dict = {
        "byclass": sorted(_all_classes),
        "bymerge": sorted(_all_classes - _merged_classes),
        "balanced": sorted(_all_classes - _merged_classes),
        "letters": ["N/A"] + list(string.ascii_lowercase),
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }

    def __init__(self, root: str, split: str, **kwargs: Any) -> None:
        self.split = verify_str_arg(split, "split", self.splits)
        # classes must be known before MNIST.__init__ so class_to_idx works straight away.
        self.classes = self.classes_split_dict[self.split]
        super().__init__(root, **kwargs)

    @property
    def _file_prefix(self) -> str:
        return f"emnist-{self.split}-{'train' if self.train else 'test'}"

    @property
    def images_file(self) -> str:
        return os.path.join(self.raw_folder, f"{self._file_prefix}-images-idx3-ubyte")

    @property
    def labels_file(self) -> str:
        return os.path.join(self.raw_folder, f"{self._file_prefix}-labels-idx1-ubyte")

    def _check_exists(self) -> bool:
        return all(self._find(os.path.basename(p)) is not None
                   for p in (self.images_file, self.labels_file))

    def _load_data(self):
        from ...creation import from_numpy
        self._images_np, self._labels_np = _load_pair(
            self._find(os.path.basename(self.images_file)),
            self._find(os.path.basename(self.labels_file)), 1)
        return from_numpy(self._images_np), from_numpy(self._labels_np)

    def download(self) -> None:
        """Fetch NIST's gzip.zip (all splits, ~560 MB) and unpack it into ``raw_folder``."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        download_and_extract_archive(self.url, self.raw_folder, md5=self.md5)
        gzip_folder = os.path.join(self.raw_folder, "gzip")
        for name in os.listdir(gzip_folder):
            if name.endswith(".gz"):
                extract_archive(os.path.join(gzip_folder, name), self.raw_folder)
        shutil.rmtree(gzip_folder)


_QMNIST_BASE = "https://raw.githubusercontent.com/facebookresearch/qmnist/master/"


class QMNIST(MNIST):
    """QMNIST: MNIST rebuilt from NIST, with 8 metadata columns per label.

    Args:
        root: the data directory (files in ``root/QMNIST/raw``).
        what: ``train``, ``test`` (60k), ``test10k`` (the first 10k, matching MNIST's test
            set), ``test50k`` (the other 50k) or ``nist``; default from ``train``.
        compat: targets are class ints (MNIST-compatible); else the int64 row of 8 values.
        train: chooses ``what`` when it is None.
        **kwargs: ``transform``, ``target_transform``, ``download``.

    Shape:
        ``data``: uint8 ``(N, 28, 28)``; ``targets``: int64 ``(N, 8)``.
    """

    subsets = {"train": "train", "test": "test", "test10k": "test", "test50k": "test",
               "nist": "nist"}
    resources = {  # type: ignore[assignment]
        "train": [(_QMNIST_BASE + "qmnist-train-images-idx3-ubyte.gz",
                   "ed72d4157d28c017586c42bc6afe6370"),
                  (_QMNIST_BASE + "qmnist-train-labels-idx2-int.gz",
                   "0058f8dd561b90ffdd0f734c6a30e5e4")],
        "test": [(_QMNIST_BASE + "qmnist-test-images-idx3-ubyte.gz",
                  "1394631089c404de565df7b7aeaf9412"),
                 (_QMNIST_BASE + "qmnist-test-labels-idx2-int.gz",
                  "5b5b05890a5e13444e108efe57b788aa")],
        "nist": [(_QMNIST_BASE + "xnist-images-idx3-ubyte.xz",
                  "7f124b3b8ab81486c9d8c2749c17f834"),
                 (_QMNIST_BASE + "xnist-labels-idx2-int.xz",
                  "5ed0e788978e45d4a8bd4b7caec3d79d")],
    }
    npm_package = None

    def __init__(self, root: str, what: str | None = None, compat: bool = True,
                 train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        if what is None:
            what = "train" if train else "test"
        self.what = verify_str_arg(what, "what", tuple(self.subsets))
        self.compat = compat
        super().__init__(root, train, transform, target_transform, download)

    def _stem(self, i: int) -> str:
        url = self.resources[self.subsets[self.what]][i][0]
        return os.path.splitext(os.path.basename(url))[0]

    @property
    def images_file(self) -> str:
        return os.path.join(self.raw_folder, self._stem(0))

    @property
    def labels_file(self) -> str:
        return os.path.join(self.raw_folder, self._stem(1))

    def _check_exists(self) -> bool:
        return all(self._find(self._stem(i)) is not None for i in (0, 1))

    def _load_data(self):
        from ...creation import from_numpy
        images, labels = _load_pair(self._find(self._stem(0)), self._find(self._stem(1)), 2)
        if self.what == "test10k":
            images, labels = images[:10000], labels[:10000]
        elif self.what == "test50k":
            images, labels = images[10000:], labels[10000:]
        self._images_np = np.ascontiguousarray(images)
        self._labels_np = np.ascontiguousarray(labels)
        return from_numpy(self._images_np), from_numpy(self._labels_np)

    def __getitem__(self, index: int) -> tuple:
        img = _to_image(self._images_np[index])
        target: Any = int(self._labels_np[index][0]) if self.compat else self.targets[index]
        return self._transformed(img, target)

    def download(self) -> None:
        """Fetch (and decompress) only the two files that ``what`` needs."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for url, md5 in self.resources[self.subsets[self.what]]:
            download_and_extract_archive(url, self.raw_folder, md5=md5)

    def extra_repr(self) -> str:
        return f"Split: {self.what}"
