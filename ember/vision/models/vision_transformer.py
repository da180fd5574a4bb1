"""Vision Transformer (Dosovitskiy et al., 2021): ViT-B/16 with torchvision's module tree."""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial
from typing import Any, Callable, List, NamedTuple, Optional, Tuple

import ember as E
from ... import nn
from ...nn import functional as F
from ...tensor import Tensor
from ..ops.misc import MLP, Conv2dNormActivation
from ._api import (WeightsEnum, _num_classes_from, _ovewrite_named_param, imagenet_weights,
                   load_weights, register_model, resolve_weights)

__all__ = ["VisionTransformer", "ViT_B_16_Weights", "vit_b_16"]


class ConvStemConfig(NamedTuple):
    out_channels: int
    kernel_size: int
    stride: int
    norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d
    activation_layer: Callable[..., nn.Module] = nn.ReLU


class _SelfAttention(nn.Module):
    """Multi-head attention with ``nn.MultiheadAttention``'s parameter names
    (``in_proj_weight``, ``in_proj_bias``, ``out_proj``) and ``batch_first=True`` call
    convention; used when ember.nn has no MultiheadAttention."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 batch_first: bool = True) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise AssertionError("embed_dim must be divisible by num_heads")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = nn.Parameter(E.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(E.empty(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.constant_(self.in_proj_bias, 0.0)
        nn.init.constant_(self.out_proj.bias, 0.0)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, need_weights: bool = True,
                **kwargs: Any) -> Tuple[Tensor, Optional[Tensor]]:
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        n, length, e = query.shape
        w_q, w_k, w_v = self.in_proj_weight.chunk(3, 0)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3, 0)
        h, d = self.num_heads, self.head_dim

        def heads(t: Tensor) -> Tensor:
            return t.reshape(n, -1, h, d).permute(0, 2, 1, 3)

        q = heads(F.linear(query, w_q, b_q))
        k = heads(F.linear(key, w_k, b_k))
        v = heads(F.linear(value, w_v, b_v))
        attn = F.softmax(E.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(d)), dim=-1)
        if self.dropout > 0.0:
            attn = F.dropout(attn, p=self.dropout, training=self.training)
        out = E.matmul(attn, v).permute(0, 2, 1, 3).reshape(n, length, e)
        out = self.out_proj(out)
        if not self.batch_first:
            out = out.transpose(0, 1)
        weights = attn.mean(1) if need_weights else None
        return out, weights


def _attention(hidden_dim: int, num_heads: int, dropout: float) -> nn.Module:
    mha = getattr(nn, "MultiheadAttention", None)
    if mha is not None:
        return mha(hidden_dim, num_heads, dropout=dropout, batch_first=True)
    return _SelfAttention(hidden_dim, num_heads, dropout=dropout, batch_first=True)


class MLPBlock(MLP):
    """Transformer MLP: Linear, GELU, Dropout, Linear, Dropout."""

    _version = 2

    def __init__(self, in_dim: int, mlp_dim: int, dropout: float) -> None:
        super().__init__(in_dim, [mlp_dim, in_dim], activation_layer=nn.GELU, inplace=None,
                         dropout=dropout)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # Files written before torchvision 0.14 name the two layers linear_1/linear_2.
        for i, new in ((1, 0), (2, 3)):
            for kind in ("weight", "bias"):
                old_key = f"{prefix}linear_{i}.{kind}"
                if old_key in state_dict:
                    state_dict[f"{prefix}{new}.{kind}"] = state_dict.pop(old_key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class EncoderBlock(nn.Module):
    """Pre-norm transformer layer: x + attn(ln_1(x)), then + mlp(ln_2(.))."""

    def __init__(self, num_heads: int, hidden_dim: int, mlp_dim: int, dropout: float,
                 attention_dropout: float,
                 norm_layer: Callable[..., nn.Module] = partial(nn.LayerNorm, eps=1e-6)
                 ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = _attention(hidden_dim, num_heads, attention_dropout)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = norm_layer(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() != 3:
            raise AssertionError(f"Expected (batch_size, seq_length, hidden_dim) got "
                                 f"{tuple(input.shape)}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x)
        x = x + input
        y = self.ln_2(x)
        y = self.mlp(y)
        return x + y


class Encoder(nn.Module):
    """Positional embedding, dropout, the encoder layers and a final LayerNorm."""

    def __init__(self, seq_length: int, num_layers: int, num_heads: int, hidden_dim: int,
                 mlp_dim: int, dropout: float, attention_dropout: float,
                 norm_layer: Callable[..., nn.Module] = partial(nn.LayerNorm, eps=1e-6)
                 ) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(E.empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        layers: "OrderedDict[str, nn.Module]" = OrderedDict()
        for i in range(num_layers):
            layers[f"encoder_layer_{i}"] = EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout,
                                                        attention_dropout, norm_layer)
        self.layers = nn.Sequential(layers)
        self.ln = norm_layer(hidden_dim)

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() != 3:
            raise AssertionError(f"Expected (batch_size, seq_length, hidden_dim) got "
                                 f"{tuple(input.shape)}")
        input = input + self.pos_embedding
        return self.ln(self.layers(self.dropout(input)))


class VisionTransformer(nn.Module):
    """Vision Transformer with torchvision's constructor and parameter names.

    Args:
        image_size: input side (fixed: the position embedding has one row per patch).
        patch_size: side of the square patches.
        num_layers, num_heads, hidden_dim, mlp_dim: encoder size.
        dropout, attention_dropout: dropout probabilities.
        num_classes: classifier outputs.
        representation_size: optional pre-logits layer width (tanh).
        norm_layer: defaults to ``LayerNorm(eps=1e-6)``.
        conv_stem_configs: optional conv stem instead of the patchify conv.

    Shape:
        ``(N, 3, image_size, image_size)`` -> ``(N, num_classes)``.

    Example:
        >>> VisionTransformer(32, 16, 1, 2, 8, 16, num_classes=3)(
        ...     ember.randn(1, 3, 32, 32)).shape
        torch.Size([1, 3])
    """

    def __init__(self, image_size: int, patch_size: int, num_layers: int, num_heads: int,
                 hidden_dim: int, mlp_dim: int, dropout: float = 0.0,
                 attention_dropout: float = 0.0, num_classes: int = 1000,
                 representation_size: Optional[int] = None,
                 norm_layer: Callable[..., nn.Module] = partial(nn.LayerNorm, eps=1e-6),
                 conv_stem_configs: Optional[List[ConvStemConfig]] = None) -> None:
        super().__init__()
        if image_size % patch_size != 0:
            raise AssertionError("Input shape indivisible by patch size!")
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.num_classes = num_classes
        self.representation_size = representation_size
        self.norm_layer = norm_layer

        if conv_stem_configs is not None:
            # Xiao et al., 2021: a stack of 3x3 convs before the 1x1 projection.
            seq_proj = nn.Sequential()
            prev_channels = 3
            for i, cfg in enumerate(conv_stem_configs):
                seq_proj.add_module(f"conv_bn_relu_{i}", Conv2dNormActivation(
                    in_channels=prev_channels, out_channels=cfg.out_channels,
                    kernel_size=cfg.kernel_size, stride=cfg.stride, norm_layer=cfg.norm_layer,
                    activation_layer=cfg.activation_layer))
                prev_channels = cfg.out_channels
            seq_proj.add_module("conv_last", nn.Conv2d(prev_channels, hidden_dim,
                                                       kernel_size=1))
            self.conv_proj: nn.Module = seq_proj
        else:
            self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size,
                                       stride=patch_size)

        seq_length = (image_size // patch_size) ** 2
        self.class_token = nn.Parameter(E.zeros(1, 1, hidden_dim))
        seq_length += 1
        self.encoder = Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                               attention_dropout, norm_layer)
        self.seq_length = seq_length

        heads_layers: "OrderedDict[str, nn.Module]" = OrderedDict()
        if representation_size is None:
            heads_layers["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads_layers["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads_layers["act"] = nn.Tanh()
            heads_layers["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads_layers)

        if isinstance(self.conv_proj, nn.Conv2d):
            fan_in = (self.conv_proj.in_channels * self.conv_proj.kernel_size[0]
                      * self.conv_proj.kernel_size[1])
            nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
            if self.conv_proj.bias is not None:
                nn.init.zeros_(self.conv_proj.bias)
        elif isinstance(getattr(self.conv_proj, "conv_last", None), nn.Conv2d):
            last = self.conv_proj.conv_last
            nn.init.normal_(last.weight, mean=0.0, std=math.sqrt(2.0 / last.out_channels))
            if last.bias is not None:
                nn.init.zeros_(last.bias)
        if hasattr(self.heads, "pre_logits") and isinstance(self.heads.pre_logits, nn.Linear):
            fan_in = self.heads.pre_logits.in_features
            nn.init.trunc_normal_(self.heads.pre_logits.weight, std=math.sqrt(1 / fan_in))
            nn.init.zeros_(self.heads.pre_logits.bias)
        if isinstance(self.heads.head, nn.Linear):
            nn.init.zeros_(self.heads.head.weight)
            nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        p = self.patch_size
        if h != self.image_size:
            raise AssertionError(f"Wrong image height! Expected {self.image_size} but got {h}!")
        if w != self.image_size:
            raise AssertionError(f"Wrong image width! Expected {self.image_size} but got {w}!")
        n_h = h // p
        n_w = w // p
        x = self.conv_proj(x)
        x = x.reshape(n, self.hidden_dim, n_h * n_w)
        # (N, hidden, L) -> (N, L, hidden): the encoder takes batch-first sequences.
        return x.permute(0, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self._process_input(x)
        n = x.shape[0]
        batch_class_token = self.class_token.expand(n, -1, -1)
        x = E.cat([batch_class_token, x], dim=1)
        x = self.encoder(x)
        x = x[:, 0]
        return self.heads(x)


class ViT_B_16_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "vit_b_16-c867db91.pth", 86567656, 81.072, 95.318, min_size=(224, 224),
        recipe="https://github.com/pytorch/vision/tree/main/references/classification"
               "#vit_b_16")
    IMAGENET1K_SWAG_E2E_V1 = imagenet_weights(
        "vit_b_16_swag-9ac1b537.pth", 86859496, 85.304, 97.650, crop=384, resize=384,
        min_size=(384, 384), recipe="https://github.com/facebookresearch/SWAG",
        _transform_kw={"interpolation": "bicubic"})
    IMAGENET1K_SWAG_LINEAR_V1 = imagenet_weights(
        "vit_b_16_lc_swag-4e70ced5.pth", 86567656, 81.886, 96.180, crop=224, resize=224,
        min_size=(224, 224), recipe="https://github.com/pytorch/vision/pull/5793",
        _transform_kw={"interpolation": "bicubic"})
    DEFAULT = IMAGENET1K_V1


def _vision_transformer(patch_size: int, num_layers: int, num_heads: int, hidden_dim: int,
                        mlp_dim: int, weights: Any, progress: bool,
                        **kwargs: Any) -> VisionTransformer:
    if isinstance(weights, WeightsEnum):
        _num_classes_from(weights, kwargs)
        if weights.meta["min_size"][0] != weights.meta["min_size"][1]:
            raise AssertionError("non-square min_size")
        _ovewrite_named_param(kwargs, "image_size", weights.meta["min_size"][0])
    image_size = kwargs.pop("image_size", 224)
    model = VisionTransformer(image_size=image_size, patch_size=patch_size,
                              num_layers=num_layers, num_heads=num_heads, hidden_dim=hidden_dim,
                              mlp_dim=mlp_dim, **kwargs)
    if weights is not None:
        load_weights(model, weights, progress)
    return model


@register_model(weights_enum=ViT_B_16_Weights)
def vit_b_16(*, weights: Any = None, progress: bool = True,
             **kwargs: Any) -> VisionTransformer:
    """ViT-B/16. ``weights``: a ``ViT_B_16_Weights`` member, its name or a file path
    (``image_size`` follows the weights' ``min_size``: 384 for the SWAG end-to-end ones)."""
    weights = resolve_weights(weights, ViT_B_16_Weights)
    return _vision_transformer(16, 12, 12, 768, 3072, weights, progress, **kwargs)
