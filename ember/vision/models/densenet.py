"""DenseNet (Huang et al., 2017): each layer sees the concatenation of all earlier ones."""
from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any, Dict, Tuple

import ember as E
from ... import nn
from ...nn import functional as F
from ...tensor import Tensor
from ._api import (WeightsEnum, _num_classes_from, imagenet_weights, load_weights,
                   register_model, resolve_weights)

__all__ = ["DenseNet", "DenseNet121_Weights", "densenet121"]


class _DenseLayer(nn.Module):
    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int,
                 drop_rate: float, memory_efficient: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1,
                               stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        # memory_efficient (checkpointing) only changes memory use, not the result.
        self.memory_efficient = memory_efficient

    def forward(self, input) -> Tensor:
        prev = [input] if isinstance(input, Tensor) else list(input)
        concated = E.cat(prev, 1)
        bottleneck = self.conv1(self.relu1(self.norm1(concated)))
        new_features = self.conv2(self.relu2(self.norm2(bottleneck)))
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
        return new_features


class _DenseBlock(nn.ModuleDict):
    _version = 2

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int,
                 growth_rate: int, drop_rate: float, memory_efficient: bool = False) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate=growth_rate,
                                bn_size=bn_size, drop_rate=drop_rate,
                                memory_efficient=memory_efficient)
            self.add_module("denselayer%d" % (i + 1), layer)

    def forward(self, init_features: Tensor) -> Tensor:
        features = [init_features]
        for _, layer in self.items():
            features.append(layer(features))
        return E.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1,
                              bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """DenseNet-BC with torchvision's constructor and parameter names.

    Args:
        growth_rate: channels each layer adds.
        block_config: layers in each of the four dense blocks.
        num_init_features: channels of the stem conv.
        bn_size: bottleneck width multiplier (``bn_size * growth_rate`` channels).
        drop_rate: dropout after each layer.
        num_classes: classifier outputs.
        memory_efficient: accepted for compatibility (no effect on results).

    Shape:
        ``(N, 3, H, W)`` -> ``(N, num_classes)`` (H, W >= 29).

    Example:
        >>> DenseNet(8, (2, 2, 2, 2), 16, num_classes=3)(ember.randn(1, 3, 32, 32)).shape
        torch.Size([1, 3])
    """

    def __init__(self, growth_rate: int = 32, block_config: Tuple[int, int, int, int] = (6, 12,
                                                                                      24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0,
                 num_classes: int = 1000, memory_efficient: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3,
                                bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers=num_layers, num_input_features=num_features,
                                bn_size=bn_size, growth_rate=growth_rate, drop_rate=drop_rate,
                                memory_efficient=memory_efficient)
            self.features.add_module("denseblock%d" % (i + 1), block)
            num_features = num_features + num_layers * growth_rate
            if i != len(block_config) - 1:
                trans = _Transition(num_input_features=num_features,
                                    num_output_features=num_features // 2)
                self.features.add_module("transition%d" % (i + 1), trans)
                num_features = num_features // 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        features = self.features(x)
        out = F.relu(features, inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        out = E.flatten(out, 1)
        return self.classifier(out)


# The published files predate the module tree's current names: "norm.1" became "norm1".
_OLD_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|"
                      r"running_mean|running_var))$")


def _remap_densenet(state: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in state.items():
        m = _OLD_KEY.match(key)
        out[m.group(1) + m.group(2) if m else key] = value
    return out


class DenseNet121_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("densenet121-a639ec97.pth", 7978856, 74.434, 91.972,
                                     min_size=(29, 29),
                                     recipe="https://github.com/pytorch/vision/pull/116")
    DEFAULT = IMAGENET1K_V1


def _densenet(growth_rate: int, block_config: Tuple[int, int, int, int],
              num_init_features: int, weights: Any, enum_cls, progress: bool,
              **kwargs: Any) -> DenseNet:
    weights = resolve_weights(weights, enum_cls)
    _num_classes_from(weights, kwargs)
    model = DenseNet(growth_rate, block_config, num_init_features, **kwargs)
    if weights is not None:
        load_weights(model, weights, progress, remap=_remap_densenet)
    return model


@register_model(weights_enum=DenseNet121_Weights)
def densenet121(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> DenseNet:
    """DenseNet-121. ``weights``: a ``DenseNet121_Weights`` member, its name or a file path
    (old-style ``norm.1`` keys of the published file are renamed on load)."""
    return _densenet(32, (6, 12, 24, 16), 64, weights, DenseNet121_Weights, progress,
                     **kwargs)


