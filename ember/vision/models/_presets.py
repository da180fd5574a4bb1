"""Inference transforms attached to the weight enums (torchvision's ``ImageClassification``)."""
from __future__ import annotations

from typing import Tuple

import ember as E
from ...nn.modules.module import Module
from ...tensor import Tensor
from ..transforms import functional as TF
from ..transforms.functional import InterpolationMode


class ImageClassification(Module):
    """Resize, center-crop, scale to float in [0, 1] and normalise: the evaluation
    preprocessing the published ImageNet weights were measured with.

    Args:
        crop_size: side of the square center crop.
        resize_size: the smaller edge is resized to this first.
        mean, std: per-channel normalisation.
        interpolation: resize filter (bilinear by default).
        antialias: antialias when shrinking.

    Shape:
        PIL image or ``(..., C, H, W)`` tensor -> float ``(..., C, crop, crop)``.

    Example:
        >>> ImageClassification(crop_size=224)(ember.rand(3, 300, 400)).shape
        torch.Size([3, 224, 224])
    """

    def __init__(self, *, crop_size: int, resize_size: int = 256,
                 mean: Tuple[float, ...] = (0.485, 0.456, 0.406),
                 std: Tuple[float, ...] = (0.229, 0.224, 0.225),
                 interpolation: InterpolationMode = InterpolationMode.BILINEAR,
                 antialias: bool = True) -> None:
        super().__init__()
        self.crop_size = [crop_size]
        self.resize_size = [resize_size]
        self.mean = list(mean)
        self.std = list(std)
        if isinstance(interpolation, str):
            interpolation = InterpolationMode(interpolation)
        self.interpolation = interpolation
        self.antialias = antialias

    def forward(self, img) -> Tensor:
        img = TF.resize(img, self.resize_size, interpolation=self.interpolation,
                        antialias=self.antialias)
        img = TF.center_crop(img, self.crop_size)
        if not isinstance(img, Tensor):
            img = TF.pil_to_tensor(img)
        if not img.is_floating_point():
            # convert_image_dtype: integer images scale by their maximum value.
            img = img.to(E.float32) / 255.0
        return TF.normalize(img, mean=self.mean, std=self.std)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(\n    crop_size={self.crop_size}\n"
                f"    resize_size={self.resize_size}\n    mean={self.mean}\n"
                f"    std={self.std}\n    interpolation={self.interpolation}\n)")

    def describe(self) -> str:
        return ("Accepts PIL.Image, batched (B, C, H, W) and single (C, H, W) image tensors. "
                f"The images are resized to resize_size={self.resize_size} using "
                f"interpolation={self.interpolation}, followed by a central crop of "
                f"crop_size={self.crop_size}. Finally the values are first rescaled to "
                f"[0.0, 1.0] and then normalized using mean={self.mean} and std={self.std}.")


