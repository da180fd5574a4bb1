"""DatasetFolder and ImageFolder: one sub-directory per class (torchvision's layout)."""
from __future__ import annotations

import os
from typing import Any, Callable

from .vision import VisionDataset

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def has_file_allowed_extension(filename: str, extensions) -> bool:
    return filename.lower().endswith(tuple(extensions))


def find_classes(directory: str) -> tuple:
    """Sorted class names (the sub-directories of ``directory``) and their indices."""
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory: str, class_to_idx: dict, extensions=None,
                 is_valid_file: Callable | None = None, allow_empty: bool = False) -> list:
    """``[(path, class_index), ...]`` in class order, then sorted file order."""
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the "
                         "same time")
    if is_valid_file is None:
        def is_valid_file(path: str) -> bool:
            return has_file_allowed_extension(path, extensions)
    samples = []
    for name in sorted(class_to_idx):
        idx = class_to_idx[name]
        folder = os.path.join(directory, name)
        if not os.path.isdir(folder):
            continue
        found = 0
        for base, _, files in sorted(os.walk(folder, followlinks=True)):
            for fname in sorted(files):
                path = os.path.join(base, fname)
                if is_valid_file(path):
                    samples.append((path, idx))
                    found += 1
        if found == 0 and not allow_empty:
            msg = f"Found no valid file for the classes {name}. "
            if extensions is not None:
                msg += f"Supported extensions are: {', '.join(extensions)}"
            raise FileNotFoundError(msg)
    return samples


class DatasetFolder(VisionDataset):
    """Samples from ``root/<class>/**/<file>``, read with ``loader``.

    Args:
        root: the directory holding one folder per class.
        loader: reads one file into a sample.
        extensions: file endings to keep (excludes ``is_valid_file``).
        transform: applied to each sample.
        target_transform: applied to each class index.
        is_valid_file: predicate on a path (excludes ``extensions``).
        allow_empty: accept class folders with no file.

    Shape:
        ``samples``: list of ``(path, class_index)``; ``classes``, ``class_to_idx``.

    Example:
        >>> ds = DatasetFolder("data/train", loader=np.load, extensions=(".npy",))
    """

    def __init__(self, root: str, loader: Callable[[str], Any], extensions=None,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 is_valid_file: Callable | None = None, allow_empty: bool = False) -> None:
        self.root = os.path.expanduser(str(root))
        self.transform = transform
        self.target_transform = target_transform
        classes, class_to_idx = self.find_classes(self.root)
        self.samples = make_dataset(self.root, class_to_idx, extensions, is_valid_file,
                                    allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.targets = [s[1] for s in self.samples]

    def find_classes(self, directory: str) -> tuple:
        return find_classes(directory)

    def __getitem__(self, index: int) -> tuple:
        path, target = self.samples[index]
        sample = self.loader(path)
        return self._transformed(sample, target)

    def __len__(self) -> int:
        return len(self.samples)


def pil_loader(path: str):
    """Open an image file as RGB with Pillow (a clear error when Pillow is missing)."""
    try:
        from PIL import Image
    except ImportError:
        raise RuntimeError(f"ImageFolder needs Pillow to decode {path!r}; install it with "
                           "`pip install pillow` (or pass a loader= of your own)") from None
    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


def default_loader(path: str):
    return pil_loader(path)


class ImageFolder(DatasetFolder):
    """Images in ``root/<class>/<file>.png|jpg|...`` decoded with Pillow.

    Args:
        root: the directory holding one folder per class.
        transform: applied to each PIL image.
        target_transform: applied to each class index.
        loader: reads one file (default: Pillow, RGB).
        is_valid_file: predicate on a path (default: image extensions).
        allow_empty: accept class folders with no image.

    Shape:
        ``imgs`` (= ``samples``): list of ``(path, class_index)``.

    Example:
        >>> ds = ImageFolder("data/train", transform=transforms.ToTensor())
    """

    def __init__(self, root: str, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader,
                 is_valid_file: Callable | None = None, allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples
