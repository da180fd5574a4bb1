"""Datasets with torchvision's names (``torchvision.datasets``)."""
from __future__ import annotations

from .vision import VisionDataset
from .folder import DatasetFolder, ImageFolder
from .mnist import MNIST, FashionMNIST, read_idx
from .mnist_extra import EMNIST, KMNIST, QMNIST
from .cifar import CIFAR10, CIFAR100
from .svhn import SVHN
from .stl10 import STL10
from .fakedata import FakeData

__all__ = ["DatasetFolder", "FashionMNIST", "ImageFolder", "MNIST", "read_idx"]
__all__ += ["VisionDataset"]
__all__ += ["CIFAR10", "CIFAR100", "EMNIST", "FakeData", "KMNIST", "QMNIST", "STL10", "SVHN"]
