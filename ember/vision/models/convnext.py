"""ConvNeXt (Liu et al., 2022, "A ConvNet for the 2020s"): ConvNeXt-Tiny."""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, List, Optional, Sequence

import ember as E
from ... import nn
from ...nn import functional as F
from ...tensor import Tensor
from ..ops.misc import Conv2dNormActivation, Permute
from ..ops.stochastic_depth import StochasticDepth
from ._api import (WeightsEnum, _num_classes_from, imagenet_weights, load_weights,
                   register_model, resolve_weights)

__all__ = ["ConvNeXt", "ConvNeXt_Tiny_Weights", "convnext_tiny", "LayerNorm2d"]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an ``(N, C, H, W)`` map (channels-first).

    Args:
        normalized_shape: the channel count; other arguments as ``nn.LayerNorm``.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.

    Example:
        >>> LayerNorm2d(4)(ember.randn(1, 4, 3, 3)).shape
        torch.Size([1, 4, 3, 3])
    """

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """Depthwise 7x7, LayerNorm, MLP (4x, GELU), layer scale, stochastic depth, residual."""

    def __init__(self, dim: int, layer_scale: float, stochastic_depth_prob: float,
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = partial(nn.LayerNorm, eps=1e-6)
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            norm_layer(dim),
            nn.Linear(in_features=dim, out_features=4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(in_features=4 * dim, out_features=dim, bias=True),
            Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(E.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input: Tensor) -> Tensor:
        result = self.layer_scale * self.block(input)
        result = self.stochastic_depth(result)
        return result + input


class CNBlockConfig:
    """A stage: ``num_layers`` blocks at ``input_channels``, then downsample to
    ``out_channels`` (None for the last stage)."""

    def __init__(self, input_channels: int, out_channels: Optional[int],
                 num_layers: int) -> None:
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(input_channels={self.input_channels}, "
                f"out_channels={self.out_channels}, num_layers={self.num_layers})")


class ConvNeXt(nn.Module):
    """ConvNeXt with torchvision's constructor and parameter names.

    Args:
        block_setting: the stages (``CNBlockConfig`` list).
        stochastic_depth_prob: the largest drop probability (linear in depth).
        layer_scale: initial value of the per-channel residual scale.
        num_classes: classifier outputs.
        block: the block class; norm_layer: defaults to ``LayerNorm2d(eps=1e-6)``.

    Shape:
        ``(N, 3, H, W)`` -> ``(N, num_classes)`` (H, W >= 32).

    Example:
        >>> convnext_tiny(num_classes=3)(ember.randn(1, 3, 32, 32)).shape
        torch.Size([1, 3])
    """

    def __init__(self, block_setting: List[CNBlockConfig], stochastic_depth_prob: float = 0.0,
                 layer_scale: float = 1e-6, num_classes: int = 1000,
                 block: Optional[Callable[..., nn.Module]] = None,
                 norm_layer: Optional[Callable[..., nn.Module]] = None,
                 **kwargs: Any) -> None:
        super().__init__()
        if not block_setting:
            raise ValueError("The block_setting should not be empty")
        if not (isinstance(block_setting, Sequence)
                and all(isinstance(s, CNBlockConfig) for s in block_setting)):
            raise TypeError("The block_setting should be List[CNBlockConfig]")
        if block is None:
            block = CNBlock
        if norm_layer is None:
            norm_layer = partial(LayerNorm2d, eps=1e-6)
        layers: List[nn.Module] = []
        firstconv_output_channels = block_setting[0].input_channels
        layers.append(Conv2dNormActivation(3, firstconv_output_channels, kernel_size=4,
                                           stride=4, padding=0, norm_layer=norm_layer,
                                           activation_layer=None, bias=True))
        total_stage_blocks = sum(cnf.num_layers for cnf in block_setting)
        stage_block_id = 0
        for cnf in block_setting:
            stage: List[nn.Module] = []
            for _ in range(cnf.num_layers):
                sd_prob = stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0)
                stage.append(block(cnf.input_channels, layer_scale, sd_prob))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
            if cnf.out_channels is not None:
                layers.append(nn.Sequential(
                    norm_layer(cnf.input_channels),
                    nn.Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        lastblock = block_setting[-1]
        lastconv_output_channels = (lastblock.out_channels if lastblock.out_channels is not None
                                    else lastblock.input_channels)
        self.classifier = nn.Sequential(norm_layer(lastconv_output_channels), nn.Flatten(1),
                                        nn.Linear(lastconv_output_channels, num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        return self.classifier(x)


class ConvNeXt_Tiny_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "convnext_tiny-983f1562.pth", 28589128, 82.520, 96.146, resize=236, min_size=(32, 32),
        recipe="https://github.com/pytorch/vision/tree/main/references/classification"
               "#convnext")
    DEFAULT = IMAGENET1K_V1


@register_model(weights_enum=ConvNeXt_Tiny_Weights)
def convnext_tiny(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ConvNeXt:
    """ConvNeXt-Tiny. ``weights``: a ``ConvNeXt_Tiny_Weights`` member, its name or a path."""
    weights = resolve_weights(weights, ConvNeXt_Tiny_Weights)
    _num_classes_from(weights, kwargs)
    block_setting = [CNBlockConfig(96, 192, 3), CNBlockConfig(192, 384, 3),
                     CNBlockConfig(384, 768, 9), CNBlockConfig(768, None, 3)]
    stochastic_depth_prob = kwargs.pop("stochastic_depth_prob", 0.1)
    model = ConvNeXt(block_setting, stochastic_depth_prob=stochastic_depth_prob, **kwargs)
    if weights is not None:
        load_weights(model, weights, progress)
    return model
