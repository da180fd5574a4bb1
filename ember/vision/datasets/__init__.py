"""Datasets with torchvision's names (``torchvision.datasets``)."""
from __future__ import annotations

from .folder import DatasetFolder, ImageFolder
from .mnist import MNIST, FashionMNIST, read_idx

__all__ = ["DatasetFolder", "FashionMNIST", "ImageFolder", "MNIST", "read_idx"]
