"""SqueezeNet (Iandola et al., 2016): Fire modules of 1x1 squeeze + 1x1/3x3 expand."""
from __future__ import annotations

from typing import Any

import ember as E
from ... import nn
from ...tensor import Tensor
from ._api import (WeightsEnum, _num_classes_from, imagenet_weights, load_weights,
                   register_model, resolve_weights)

__all__ = ["SqueezeNet", "SqueezeNet1_0_Weights", "SqueezeNet1_1_Weights", "squeezenet1_0",
           "squeezenet1_1"]


class Fire(nn.Module):
    """Squeeze to ``squeeze_planes`` then concatenate 1x1 and 3x3 expansions.

    Args:
        inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes: channel counts.

    Shape:
        ``(N, inplanes, H, W)`` -> ``(N, expand1x1_planes + expand3x3_planes, H, W)``.

    Example:
        >>> Fire(8, 2, 4, 4)(ember.randn(1, 8, 5, 5)).shape
        torch.Size([1, 8, 5, 5])
    """

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int,
                 expand3x3_planes: int) -> None:
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return E.cat([self.expand1x1_activation(self.expand1x1(x)),
                      self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.0 or 1.1 (1.1 needs 2.4x less computation at the same accuracy).

    Args:
        version: ``"1_0"`` or ``"1_1"``.
        num_classes: classifier outputs.
        dropout: dropout probability before the final conv.

    Shape:
        ``(N, 3, H, W)`` -> ``(N, num_classes)`` (H, W >= 17 for 1.1).

    Example:
        >>> SqueezeNet("1_1", num_classes=3)(ember.randn(1, 3, 32, 32)).shape
        torch.Size([1, 3])
    """

    def __init__(self, version: str = "1_0", num_classes: int = 1000,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.num_classes = num_classes
        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=7, stride=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(512, 64, 256, 256))
        elif version == "1_1":
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256))
        else:
            raise ValueError(f"Unsupported SqueezeNet version {version}: 1_0 or 1_1 expected")
        final_conv = nn.Conv2d(512, self.num_classes, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.classifier(x)
        return E.flatten(x, 1)


_RECIPE = "https://github.com/pytorch/vision/pull/49#issuecomment-277560717"


class SqueezeNet1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("squeezenet1_0-b66bff10.pth", 1248424, 58.092, 80.420,
                                     min_size=(21, 21), recipe=_RECIPE)
    DEFAULT = IMAGENET1K_V1


class SqueezeNet1_1_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("squeezenet1_1-b8a52dc0.pth", 1235496, 58.178, 80.624,
                                     min_size=(17, 17), recipe=_RECIPE)
    DEFAULT = IMAGENET1K_V1


def _squeezenet(version: str, weights: Any, enum_cls, progress: bool,
                **kwargs: Any) -> SqueezeNet:
    weights = resolve_weights(weights, enum_cls)
    _num_classes_from(weights, kwargs)
    model = SqueezeNet(version, **kwargs)
    if weights is not None:
        load_weights(model, weights, progress)
    return model


@register_model(weights_enum=SqueezeNet1_0_Weights)
def squeezenet1_0(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> SqueezeNet:
    """SqueezeNet 1.0. ``weights``: a member of ``SqueezeNet1_0_Weights``, its name or a path."""
    return _squeezenet("1_0", weights, SqueezeNet1_0_Weights, progress, **kwargs)


@register_model(weights_enum=SqueezeNet1_1_Weights)
def squeezenet1_1(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> SqueezeNet:
    """SqueezeNet 1.1. ``weights``: a member of ``SqueezeNet1_1_Weights``, its name or a path."""
    return _squeezenet("1_1", weights, SqueezeNet1_1_Weights, progress, **kwargs)
