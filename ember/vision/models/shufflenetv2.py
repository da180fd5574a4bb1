"""ShuffleNet V2 (Ma et al., 2018): channel split, depthwise convs and channel shuffle."""
from __future__ import annotations

from typing import Any, Callable, List

import ember as E
from ... import nn
from ...tensor import Tensor
from ._api import (WeightsEnum, _num_classes_from, imagenet_weights, load_weights,
                   register_model, resolve_weights)

__all__ = ["ShuffleNetV2", "ShuffleNet_V2_X1_0_Weights", "shufflenet_v2_x1_0"]


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` groups so information crosses branches."""
    batchsize, num_channels, height, width = x.shape
    channels_per_group = num_channels // groups
    x = x.view(batchsize, groups, channels_per_group, height, width)
    x = E.transpose(x, 1, 2).contiguous()
    return x.view(batchsize, num_channels, height, width)


class InvertedResidual(nn.Module):
    """ShuffleNet V2 unit: split (stride 1) or duplicate (stride 2), transform, shuffle.

    Args:
        inp, oup: channels in and out; stride: 1 to 3.

    Shape:
        ``(N, inp, H, W)`` -> ``(N, oup, H / stride, W / stride)``.

    Example:
        >>> InvertedResidual(8, 8, 1)(ember.randn(1, 8, 4, 4)).shape
        torch.Size([1, 8, 4, 4])
    """

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        if not (1 <= stride <= 3):
            raise ValueError("illegal stride value")
        self.stride = stride
        branch_features = oup // 2
        if (self.stride == 1) and (inp != branch_features << 1):
            raise ValueError(f"Invalid combination of stride {stride}, inp {inp} and oup {oup} "
                             "values. If stride == 1 then inp should be equal to oup // 2 << 1.")
        if self.stride > 1:
            self.branch1 = nn.Sequential(
                self.depthwise_conv(inp, inp, kernel_size=3, stride=self.stride, padding=1),
                nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch_features, kernel_size=1, stride=1, padding=0, bias=False),
                nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if (self.stride > 1) else branch_features, branch_features,
                      kernel_size=1, stride=1, padding=0, bias=False),
            nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True),
            self.depthwise_conv(branch_features, branch_features, kernel_size=3,
                                stride=self.stride, padding=1),
            nn.BatchNorm2d(branch_features),
            nn.Conv2d(branch_features, branch_features, kernel_size=1, stride=1, padding=0,
                      bias=False),
            nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True))

    @staticmethod
    def depthwise_conv(i: int, o: int, kernel_size: int, stride: int = 1, padding: int = 0,
                       bias: bool = False) -> nn.Conv2d:
        return nn.Conv2d(i, o, kernel_size, stride, padding, bias=bias, groups=i)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = E.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = E.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet V2 with torchvision's constructor and parameter names.

    Args:
        stages_repeats: units in stages 2-4.
        stages_out_channels: five widths (stem, stages 2-4, last conv).
        num_classes: classifier outputs.
        inverted_residual: the unit class.

    Shape:
        ``(N, 3, H, W)`` -> ``(N, num_classes)``.

    Example:
        >>> shufflenet_v2_x1_0(num_classes=3)(ember.randn(1, 3, 32, 32)).shape
        torch.Size([1, 3])
    """

    def __init__(self, stages_repeats: List[int], stages_out_channels: List[int],
                 num_classes: int = 1000,
                 inverted_residual: Callable[..., nn.Module] = InvertedResidual) -> None:
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        self._stage_out_channels = stages_out_channels
        input_channels = 3
        output_channels = self._stage_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(output_channels), nn.ReLU(inplace=True))
        input_channels = output_channels
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        stage_names = [f"stage{i}" for i in [2, 3, 4]]
        for name, repeats, output_channels in zip(stage_names, stages_repeats,
                                                  self._stage_out_channels[1:]):
            seq = [inverted_residual(input_channels, output_channels, 2)]
            for _ in range(repeats - 1):
                seq.append(inverted_residual(output_channels, output_channels, 1))
            setattr(self, name, nn.Sequential(*seq))
            input_channels = output_channels
        output_channels = self._stage_out_channels[-1]
        self.conv5 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 1, 1, 0, bias=False),
            nn.BatchNorm2d(output_channels), nn.ReLU(inplace=True))
        self.fc = nn.Linear(output_channels, num_classes)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.stage2(x)
        x = self.stage3(x)
        x = self.stage4(x)
        x = self.conv5(x)
        x = x.mean([2, 3])
        return self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


class ShuffleNet_V2_X1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "shufflenetv2_x1-5666bf0f80.pth", 2278604, 60.552, 81.746,
        recipe="https://github.com/ericsun99/Shufflenet-v2-Pytorch")
    DEFAULT = IMAGENET1K_V1


@register_model(weights_enum=ShuffleNet_V2_X1_0_Weights)
def shufflenet_v2_x1_0(*, weights: Any = None, progress: bool = True,
                       **kwargs: Any) -> ShuffleNetV2:
    """ShuffleNet V2 1.0x. ``weights``: a ``ShuffleNet_V2_X1_0_Weights`` member, its name or
    a file path."""
    weights = resolve_weights(weights, ShuffleNet_V2_X1_0_Weights)
    _num_classes_from(weights, kwargs)
    model = ShuffleNetV2([4, 8, 4], [24, 116, 232, 464, 1024], **kwargs)
    if weights is not None:
        load_weights(model, weights, progress)
    return model
