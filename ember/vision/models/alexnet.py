"""AlexNet (Krizhevsky et al., 2012), torchvision's single-tower variant ("one weird trick")."""
from __future__ import annotations

from typing import Any

import ember as E
from ... import nn
from ...tensor import Tensor
from ._api import (WeightsEnum, _num_classes_from, imagenet_weights, load_weights,
                   register_model, resolve_weights)

__all__ = ["AlexNet", "AlexNet_Weights", "alexnet"]


class AlexNet(nn.Module):
    """Five convs with max pooling, then a three-layer classifier with dropout.

    Args:
        num_classes: classifier outputs.
        dropout: dropout probability in the classifier.

    Shape:
        ``(N, 3, H, W)`` -> ``(N, num_classes)`` (H, W >= 63).

    Example:
        >>> AlexNet(num_classes=4)(ember.randn(1, 3, 64, 64)).shape
        torch.Size([1, 4])
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = E.flatten(x, 1)
        return self.classifier(x)


class AlexNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "alexnet-owt-7be5be79.pth", 61100840, 56.522, 79.066, min_size=(63, 63),
        recipe="https://github.com/pytorch/vision/tree/main/references/classification"
               "#alexnet-and-vgg")
    DEFAULT = IMAGENET1K_V1


@register_model(weights_enum=AlexNet_Weights)
def alexnet(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> AlexNet:
    """AlexNet. ``weights``: an ``AlexNet_Weights`` member, its name or a file path."""
    weights = resolve_weights(weights, AlexNet_Weights)
    _num_classes_from(weights, kwargs)
    model = AlexNet(**kwargs)
    if weights is not None:
        load_weights(model, weights, progress)
    return model
