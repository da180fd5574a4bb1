"""RegNet (Radosavovic et al., 2020, "Designing Network Design Spaces"): RegNetY-400MF."""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

import ember as E
from ... import nn
from ...tensor import Tensor
from ..ops.misc import Conv2dNormActivation, SqueezeExcitation
from ._api import (WeightsEnum, _num_classes_from, imagenet_weights, load_weights,
                   register_model, resolve_weights)
from ._utils import _make_divisible

__all__ = ["RegNet", "BlockParams", "RegNet_Y_400MF_Weights", "regnet_y_400mf"]


class SimpleStemIN(Conv2dNormActivation):
    """Stem: 3x3 stride-2 conv, norm, activation."""

    def __init__(self, width_in: int, width_out: int, norm_layer: Callable[..., nn.Module],
                 activation_layer: Callable[..., nn.Module]) -> None:
        super().__init__(width_in, width_out, kernel_size=3, stride=2, norm_layer=norm_layer,
                         activation_layer=activation_layer)


class BottleneckTransform(nn.Sequential):
    """1x1, grouped 3x3 (strided), optional SE, 1x1 without activation."""

    def __init__(self, width_in: int, width_out: int, stride: int,
                 norm_layer: Callable[..., nn.Module], activation_layer: Callable[..., nn.Module],
                 group_width: int, bottleneck_multiplier: float,
                 se_ratio: Optional[float]) -> None:
        layers: "OrderedDict[str, nn.Module]" = OrderedDict()
        w_b = int(round(width_out * bottleneck_multiplier))
        g = w_b // group_width
        layers["a"] = Conv2dNormActivation(width_in, w_b, kernel_size=1, stride=1,
                                           norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        layers["b"] = Conv2dNormActivation(w_b, w_b, kernel_size=3, stride=stride, groups=g,
                                           norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        if se_ratio:
            # The SE width follows the block's input width, as in the paper's RegNetY.
            width_se_out = int(round(se_ratio * width_in))
            layers["se"] = SqueezeExcitation(input_channels=w_b, squeeze_channels=width_se_out,
                                             activation=activation_layer)
        layers["c"] = Conv2dNormActivation(w_b, width_out, kernel_size=1, stride=1,
                                           norm_layer=norm_layer, activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    """Residual bottleneck: ``activation(proj(x) + f(x))``, projecting when shapes change."""

    def __init__(self, width_in: int, width_out: int, stride: int,
                 norm_layer: Callable[..., nn.Module], activation_layer: Callable[..., nn.Module],
                 group_width: int = 1, bottleneck_multiplier: float = 1.0,
                 se_ratio: Optional[float] = None) -> None:
        super().__init__()
        self.proj = None
        should_proj = (width_in != width_out) or (stride != 1)
        if should_proj:
            self.proj = Conv2dNormActivation(width_in, width_out, kernel_size=1, stride=stride,
                                             norm_layer=norm_layer, activation_layer=None)
        self.f = BottleneckTransform(width_in, width_out, stride, norm_layer, activation_layer,
                                     group_width, bottleneck_multiplier, se_ratio)
        self.activation = activation_layer(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        if self.proj is not None:
            x = self.proj(x) + self.f(x)
        else:
            x = x + self.f(x)
        return self.activation(x)


class AnyStage(nn.Sequential):
    """``depth`` blocks named ``block{stage}-{i}``; the first one strides."""

    def __init__(self, width_in: int, width_out: int, stride: int, depth: int,
                 block_constructor: Callable[..., nn.Module],
                 norm_layer: Callable[..., nn.Module], activation_layer: Callable[..., nn.Module],
                 group_width: int, bottleneck_multiplier: float,
                 se_ratio: Optional[float] = None, stage_index: int = 0) -> None:
        super().__init__()
        for i in range(depth):
            block = block_constructor(width_in if i == 0 else width_out, width_out,
                                      stride if i == 0 else 1, norm_layer, activation_layer,
                                      group_width, bottleneck_multiplier, se_ratio)
            self.add_module(f"block{stage_index}-{i}", block)


class BlockParams:
    """Per-stage widths, depths, strides, group widths and bottleneck multipliers."""

    def __init__(self, depths: List[int], widths: List[int], group_widths: List[int],
                 bottleneck_multipliers: List[float], strides: List[int],
                 se_ratio: Optional[float] = None) -> None:
        self.depths = depths
        self.widths = widths
        self.group_widths = group_widths
        self.bottleneck_multipliers = bottleneck_multipliers
        self.strides = strides
        self.se_ratio = se_ratio

    @classmethod
    def from_init_params(cls, depth: int, w_0: int, w_a: float, w_m: float, group_width: int,
                         bottleneck_multiplier: float = 1.0, se_ratio: Optional[float] = None,
                         **kwargs: Any) -> "BlockParams":
        """The quantised linear width rule of the paper (section 3.3): widths
        ``w_0 + w_a * j`` snapped to ``w_0 * w_m ** k`` and to multiples of 8."""
        QUANT = 8
        STRIDE = 2
        if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
            raise ValueError("Invalid RegNet settings")
        # float32 arithmetic like the reference, so rounding ties land the same way.
        widths_cont = np.arange(depth, dtype=np.float32) * np.float32(w_a) + np.float32(w_0)
        block_capacity = np.round(np.log(widths_cont / np.float32(w_0)) /
                                  np.float32(math.log(w_m)))
        block_widths = (np.round(np.float32(w_0) * np.power(np.float32(w_m), block_capacity)
                                 / np.float32(QUANT)) * QUANT).astype(np.int32).tolist()
        num_stages = len(set(block_widths))
        split_helper = zip(block_widths + [0], [0] + block_widths, block_widths + [0],
                           [0] + block_widths)
        splits = [w != wp or r != rp for w, wp, r, rp in split_helper]
        stage_widths = [w for w, t in zip(block_widths, splits[:-1]) if t]
        stage_depths = np.diff([d for d, t in enumerate(splits) if t]).astype(int).tolist()
        strides = [STRIDE] * num_stages
        bottleneck_multipliers = [bottleneck_multiplier] * num_stages
        group_widths = [group_width] * num_stages
        stage_widths, group_widths = _adjust_widths_groups_compatibilty(
            stage_widths, bottleneck_multipliers, group_widths)
        return cls(depths=stage_depths, widths=stage_widths, group_widths=group_widths,
                   bottleneck_multipliers=bottleneck_multipliers, strides=strides,
                   se_ratio=se_ratio)

    def _get_expanded_params(self):
        return zip(self.widths, self.strides, self.depths, self.group_widths,
                   self.bottleneck_multipliers)


def _adjust_widths_groups_compatibilty(stage_widths: List[int], bottleneck_ratios: List[float],
                                       group_widths: List[int]) -> Tuple[List[int], List[int]]:
    # Bottleneck widths must be divisible by the group width.
    widths = [int(w * b) for w, b in zip(stage_widths, bottleneck_ratios)]
    group_widths_min = [min(g, w_bot) for g, w_bot in zip(group_widths, widths)]
    ws_bot = [_make_divisible(w_bot, g) for w_bot, g in zip(widths, group_widths_min)]
    stage_widths = [int(w_bot / b) for w_bot, b in zip(ws_bot, bottleneck_ratios)]
    return stage_widths, group_widths_min


class RegNet(nn.Module):
    """RegNet with torchvision's constructor and parameter names.

    Args:
        block_params: the stage description.
        num_classes: classifier outputs.
        stem_width: channels of the stem.
        stem_type, block_type: stem and block classes.
        norm_layer: defaults to ``BatchNorm2d``; activation: defaults to ``ReLU``.

    Shape:
        ``(N, 3, H, W)`` -> ``(N, num_classes)``.

    Example:
        >>> regnet_y_400mf(num_classes=3)(ember.randn(1, 3, 32, 32)).shape
        torch.Size([1, 3])
    """

    def __init__(self, block_params: BlockParams, num_classes: int = 1000,
                 stem_width: int = 32, stem_type: Optional[Callable[..., nn.Module]] = None,
                 block_type: Optional[Callable[..., nn.Module]] = None,
                 norm_layer: Optional[Callable[..., nn.Module]] = None,
                 activation: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        stem_type = stem_type or SimpleStemIN
        norm_layer = norm_layer or nn.BatchNorm2d
        block_type = block_type or ResBottleneckBlock
        activation = activation or nn.ReLU
        self.stem = stem_type(3, stem_width, norm_layer, activation)
        current_width = stem_width
        blocks = []
        for i, (width_out, stride, depth, group_width, bottleneck_multiplier) in enumerate(
                block_params._get_expanded_params()):
            blocks.append((f"block{i + 1}",
                           AnyStage(current_width, width_out, stride, depth, block_type,
                                    norm_layer, activation, group_width, bottleneck_multiplier,
                                    block_params.se_ratio, stage_index=i + 1)))
            current_width = width_out
        self.trunk_output = nn.Sequential(OrderedDict(blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_features=current_width, out_features=num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # He init over fan-out, as in the pycls reference.
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.trunk_output(x)
        x = self.avgpool(x)
        x = E.flatten(x, start_dim=1)
        return self.fc(x)


class RegNet_Y_400MF_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "regnet_y_400mf-c65dace8.pth", 4344144, 74.046, 91.716,
        recipe="https://github.com/pytorch/vision/tree/main/references/classification#"
               "small-models")
    IMAGENET1K_V2 = imagenet_weights(
        "regnet_y_400mf-e6988f5f.pth", 4344144, 75.804, 92.742, resize=232,
        recipe="https://github.com/pytorch/vision/issues/3995#new-recipe")
    DEFAULT = IMAGENET1K_V2


@register_model(weights_enum=RegNet_Y_400MF_Weights)
def regnet_y_400mf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetY-400MF. ``weights``: a ``RegNet_Y_400MF_Weights`` member, its name or a path."""
    weights = resolve_weights(weights, RegNet_Y_400MF_Weights)
    _num_classes_from(weights, kwargs)
    params = BlockParams.from_init_params(depth=16, w_0=48, w_a=27.89, w_m=2.09,
                                          group_width=8, se_ratio=0.25, **kwargs)
    norm_layer = kwargs.pop("norm_layer", partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1))
    model = RegNet(params, norm_layer=norm_layer, **kwargs)
    if weights is not None:
        load_weights(model, weights, progress)
    return model
