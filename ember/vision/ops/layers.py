"""torchvision.ops layers: FrozenBatchNorm2d, DropBlock2d and FeaturePyramidNetwork."""
from __future__ import annotations

from collections import OrderedDict

import ember as E
import ember.nn as nn
import ember.nn.functional as F
from ...nn.modules.module import Module
from ...tensor import Tensor
from .misc import Conv2dNormActivation

__all__ = ["FrozenBatchNorm2d", "drop_block2d", "DropBlock2d", "FeaturePyramidNetwork",
           "LastLevelMaxPool"]


class FrozenBatchNorm2d(Module):
    """BatchNorm2d with fixed statistics and affine parameters (all buffers)."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", E.ones(num_features))
        self.register_buffer("bias", E.zeros(num_features))
        self.register_buffer("running_mean", E.zeros(num_features))
        self.register_buffer("running_var", E.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints of ordinary BatchNorm2d carry a counter this layer has no use for.
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        bias = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.weight.shape[0]}, eps={self.eps})"


def drop_block2d(input: Tensor, p: float, block_size: int, inplace: bool = False,
                 eps: float = 1e-06, training: bool = True) -> Tensor:
    """DropBlock (Ghiasi et al., 2018): zero square blocks, rescale by the kept fraction."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}.")
    if input.ndim != 4:
        raise ValueError(f"input should be 4 dimensional. Got {input.ndim} dimensions.")
    if not training or p == 0.0:
        return input
    n, c, h, w = input.shape
    block_size = min(block_size, w, h)
    gamma = (p * h * w) / ((block_size ** 2) * ((h - block_size + 1) * (w - block_size + 1)))
    noise = E.empty(n, c, h - block_size + 1, w - block_size + 1, dtype=input.dtype,
                    device=input.device).bernoulli_(gamma)
    half = block_size // 2
    noise = F.pad(noise, [half] * 4, value=0)
    noise = F.max_pool2d(noise, stride=(1, 1), kernel_size=(block_size, block_size),
                         padding=half)
    noise = 1 - noise
    scale = noise.numel() / (eps + noise.sum())
    if inplace:
        return input.mul_(noise).mul_(scale)
    return input * noise * scale


class DropBlock2d(Module):
    """Module form of :func:`drop_block2d`."""

    def __init__(self, p: float, block_size: int, inplace: bool = False,
                 eps: float = 1e-06) -> None:
        super().__init__()
        self.p, self.block_size, self.inplace, self.eps = p, block_size, inplace, eps

    def forward(self, input: Tensor) -> Tensor:
        return drop_block2d(input, self.p, self.block_size, self.inplace, self.eps,
                            self.training)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(p={self.p}, block_size={self.block_size}, "
                f"inplace={self.inplace})")


class LastLevelMaxPool(Module):
    """Extra FPN level: a stride-2 1x1 max pool of the coarsest output, named ``"pool"``."""

    def forward(self, x: list, y: list, names: list) -> tuple[list, list]:
        names.append("pool")
        x.append(F.max_pool2d(x[-1], 1, 2, 0))
        return x, names


class FeaturePyramidNetwork(Module):
    """Feature Pyramid Network (Lin et al., 2017) over an ordered dict of feature maps."""

    def __init__(self, in_channels_list: list[int], out_channels: int,
                 extra_blocks: Module | None = None, norm_layer=None) -> None:
        super().__init__()
        self.inner_blocks = nn.ModuleList()
        self.layer_blocks = nn.ModuleList()
        for in_channels in in_channels_list:
            if in_channels == 0:
                raise ValueError("in_channels=0 is currently not supported")
            self.inner_blocks.append(Conv2dNormActivation(
                in_channels, out_channels, kernel_size=1, padding=0, norm_layer=norm_layer,
                activation_layer=None))
            self.layer_blocks.append(Conv2dNormActivation(
                out_channels, out_channels, kernel_size=3, norm_layer=norm_layer,
                activation_layer=None))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=1)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
        self.extra_blocks = extra_blocks

    def forward(self, x: dict) -> "OrderedDict[str, Tensor]":
        names = list(x.keys())
        feats = list(x.values())
        last_inner = self.inner_blocks[-1](feats[-1])
        results = [self.layer_blocks[-1](last_inner)]
        for idx in range(len(feats) - 2, -1, -1):
            lateral = self.inner_blocks[idx](feats[idx])
            top_down = F.interpolate(last_inner, size=tuple(lateral.shape[-2:]),
                                     mode="nearest")
            last_inner = lateral + top_down
            results.insert(0, self.layer_blocks[idx](last_inner))
        if self.extra_blocks is not None:
            results, names = self.extra_blocks(results, feats, names)
        return OrderedDict(zip(names, results))
