"""ResNet (He et al., 2016), ResNeXt (Xie et al., 2017) and Wide ResNet (Zagoruyko and
Komodakis, 2016) with torchvision's module tree, so torchvision checkpoints load strictly.

The stride of the bottleneck sits on the 3x3 conv (``conv2``), torchvision's "ResNet V1.5".
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Type, Union

import ember as E
from ... import nn
from ...tensor import Tensor
from ._api import (WeightsEnum, _num_classes_from, imagenet_weights, load_weights,
                   register_model, resolve_weights)

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "ResNet18_Weights", "ResNet34_Weights",
           "ResNet50_Weights", "ResNet101_Weights", "ResNeXt50_32X4D_Weights",
           "Wide_ResNet50_2_Weights", "resnet18", "resnet34", "resnet50", "resnet101",
           "resnext50_32x4d", "wide_resnet50_2"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1,
            dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (ResNet-18/34).

    Args:
        inplanes, planes: input and output channels; stride: of the first conv.
        downsample: module applied to the identity branch when shapes differ.
        groups, base_width: must be 1 and 64; dilation: must be 1.
        norm_layer: defaults to ``BatchNorm2d``.

    Shape:
        ``(N, inplanes, H, W)`` -> ``(N, planes, H / stride, W / stride)``.

    Example:
        >>> BasicBlock(8, 8)(ember.randn(1, 8, 4, 4)).shape
        torch.Size([1, 8, 4, 4])
    """

    expansion: int = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: Optional[Callable[..., nn.Module]] = None
                 ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = out + identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided, grouped), 1x1 expand by 4, plus the residual connection.

    Args:
        inplanes, planes: input channels and bottleneck base width (output is ``4 * planes``).
        stride, downsample, groups, base_width, dilation, norm_layer: as torchvision.

    Shape:
        ``(N, inplanes, H, W)`` -> ``(N, 4 * planes, H / stride, W / stride)``.

    Example:
        >>> Bottleneck(32, 8)(ember.randn(1, 32, 4, 4)).shape
        torch.Size([1, 32, 4, 4])
    """

    expansion: int = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: Optional[Callable[..., nn.Module]] = None
                 ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = out + identity
        return self.relu(out)


class ResNet(nn.Module):
    """ResNet backbone + classifier with torchvision's constructor and parameter names.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: number of blocks in each of the four stages.
        num_classes: classifier outputs.
        zero_init_residual: start each residual branch's last BN at zero.
        groups, width_per_group: ResNeXt / Wide ResNet bottleneck widths.
        replace_stride_with_dilation: three bools, dilate stages 2-4 instead of striding.
        norm_layer: defaults to ``BatchNorm2d``.

    Shape:
        ``(N, 3, H, W)`` -> ``(N, num_classes)``.

    Example:
        >>> ResNet(BasicBlock, [1, 1, 1, 1], num_classes=5)(ember.randn(1, 3, 32, 32)).shape
        torch.Size([1, 5])
    """

    def __init__(self, block: Type[Union[BasicBlock, Bottleneck]], layers: List[int],
                 num_classes: int = 1000, zero_init_residual: bool = False, groups: int = 1,
                 width_per_group: int = 64,
                 replace_stride_with_dilation: Optional[List[bool]] = None,
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element "
                             f"tuple, got {replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3,
                               bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2,
                                       dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2,
                                       dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2,
                                       dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            # Each residual branch then starts as the identity (Goyal et al., 2017).
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block: Type[Union[BasicBlock, Bottleneck]], planes: int,
                    blocks: int, stride: int = 1, dilate: bool = False) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = E.flatten(x, 1)
        return self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


_RECIPE_V1 = "https://github.com/pytorch/vision/tree/main/references/classification#resnet"
_RECIPE_V2 = "https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621"
_RECIPE_RX = "https://github.com/pytorch/vision/tree/main/references/classification#resnext"


class ResNet18_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("resnet18-f37072fd.pth", 11689512, 69.758, 89.078,
                                     recipe=_RECIPE_V1)
    DEFAULT = IMAGENET1K_V1


class ResNet34_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("resnet34-b627a593.pth", 21797672, 73.314, 91.420,
                                     recipe=_RECIPE_V1)
    DEFAULT = IMAGENET1K_V1


class ResNet50_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("resnet50-0676ba61.pth", 25557032, 76.130, 92.862,
                                     recipe=_RECIPE_V1)
    IMAGENET1K_V2 = imagenet_weights("resnet50-11ad3fa6.pth", 25557032, 80.858, 95.434,
                                     resize=232, recipe=_RECIPE_V2)
    DEFAULT = IMAGENET1K_V2


class ResNet101_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("resnet101-63fe2227.pth", 44549160, 77.374, 93.546,
                                     recipe=_RECIPE_V1)
    IMAGENET1K_V2 = imagenet_weights("resnet101-cd907fc2.pth", 44549160, 81.886, 95.780,
                                     resize=232, recipe=_RECIPE_V2)
    DEFAULT = IMAGENET1K_V2


class ResNeXt50_32X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("resnext50_32x4d-7cdf4587.pth", 25028904, 77.618, 93.698,
                                     recipe=_RECIPE_RX)
    IMAGENET1K_V2 = imagenet_weights("resnext50_32x4d-1a0047aa.pth", 25028904, 81.198, 95.340,
                                     resize=232, recipe=_RECIPE_V2)
    DEFAULT = IMAGENET1K_V2


class Wide_ResNet50_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("wide_resnet50_2-95faca4d.pth", 68883240, 78.468, 94.086,
                                     recipe="https://github.com/pytorch/vision/pull/912"
                                            "#issue-445437439")
    IMAGENET1K_V2 = imagenet_weights("wide_resnet50_2-9ba9bcbe.pth", 68883240, 81.602, 95.758,
                                     resize=232, recipe=_RECIPE_V2)
    DEFAULT = IMAGENET1K_V2


def _resnet(block, layers: List[int], weights: Any, enum_cls, progress: bool,
            **kwargs: Any) -> ResNet:
    weights = resolve_weights(weights, enum_cls)
    _num_classes_from(weights, kwargs)
    model = ResNet(block, layers, **kwargs)
    if weights is not None:
        load_weights(model, weights, progress)
    return model


@register_model(weights_enum=ResNet18_Weights)
def resnet18(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-18. ``weights``: a ``ResNet18_Weights`` member (loaded from the local cache
    folder), its name, or a path to a checkpoint; ``kwargs`` go to :class:`ResNet`."""
    return _resnet(BasicBlock, [2, 2, 2, 2], weights, ResNet18_Weights, progress, **kwargs)


@register_model(weights_enum=ResNet34_Weights)
def resnet34(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-34 (see :func:`resnet18` for ``weights``)."""
    return _resnet(BasicBlock, [3, 4, 6, 3], weights, ResNet34_Weights, progress, **kwargs)


@register_model(weights_enum=ResNet50_Weights)
def resnet50(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-50 (see :func:`resnet18` for ``weights``)."""
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, ResNet50_Weights, progress, **kwargs)


@register_model(weights_enum=ResNet101_Weights)
def resnet101(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-101 (see :func:`resnet18` for ``weights``)."""
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, ResNet101_Weights, progress, **kwargs)


@register_model(weights_enum=ResNeXt50_32X4D_Weights)
def resnext50_32x4d(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNeXt-50 32x4d: 32 groups of width 4 in each bottleneck."""
    _fix(kwargs, "groups", 32)
    _fix(kwargs, "width_per_group", 4)
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, ResNeXt50_32X4D_Weights, progress,
                   **kwargs)


@register_model(weights_enum=Wide_ResNet50_2_Weights)
def wide_resnet50_2(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """Wide ResNet-50-2: bottlenecks twice as wide as ResNet-50's."""
    _fix(kwargs, "width_per_group", 64 * 2)
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, Wide_ResNet50_2_Weights, progress,
                   **kwargs)


def _fix(kwargs, name, value):
    from ._api import _ovewrite_named_param
    _ovewrite_named_param(kwargs, name, value)
