"""Image transforms with torchvision's names (``torchvision.transforms``).

Random transforms draw from ember's global generator, so ``ember.manual_seed`` makes them
repeatable (the numbers differ from torchvision's, whose stream is torch's).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ...tensor import Tensor
from . import functional
from . import functional as F
from .functional import InterpolationMode
from ._autoaugment import (AugMix, AutoAugment, AutoAugmentPolicy, RandAugment,  # noqa: F401
                           TrivialAugmentWide)
from ._transforms_gap import (ColorJitter, ConvertImageDtype, ElasticTransform,  # noqa: F401
                              FiveCrop, GaussianBlur, Grayscale, LinearTransformation,
                              RandomAdjustSharpness, RandomAffine, RandomApply,
                              RandomAutocontrast, RandomChoice, RandomEqualize, RandomErasing,
                              RandomGrayscale, RandomInvert, RandomOrder, RandomPerspective,
                              RandomPosterize, RandomResizedCrop, RandomRotation, RandomSolarize,
                              TenCrop)

__all__ = ["CenterCrop", "Compose", "InterpolationMode", "Lambda", "Normalize", "Pad",
           "PILToTensor", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "Resize",
           "ToPILImage", "ToTensor", "functional"]
__all__ += ["AugMix", "AutoAugment", "AutoAugmentPolicy", "ColorJitter", "ConvertImageDtype",
            "ElasticTransform", "FiveCrop", "GaussianBlur", "Grayscale", "LinearTransformation",
            "RandAugment", "RandomAdjustSharpness", "RandomAffine", "RandomApply",
            "RandomAutocontrast", "RandomChoice", "RandomEqualize", "RandomErasing",
            "RandomGrayscale", "RandomInvert", "RandomOrder", "RandomPerspective",
            "RandomPosterize", "RandomResizedCrop", "RandomRotation", "RandomSolarize",
            "TenCrop", "TrivialAugmentWide"]


def _rand() -> float:
    from ...creation import rand
    return float(rand(1).item())


class Compose:
    """Apply transforms one after the other.

    Args:
        transforms: the list of transforms (callables).

    Shape:
        whatever the transforms take and return.

    Example:
        >>> t = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + "("]
        lines += [f"    {t}" for t in self.transforms]
        return "\n".join(lines) + "\n)"


class ToTensor:
    """PIL image or ``(H, W[, C])`` array -> float ``(C, H, W)`` tensor, uint8 scaled to [0, 1].

    Args:
        (none)

    Shape:
        ``(H, W, C)`` -> ``(C, H, W)``.

    Example:
        >>> ToTensor()(np.zeros((28, 28), np.uint8)).shape
        ember.Size([1, 28, 28])
    """

    def __call__(self, pic) -> Tensor:
        return F.to_tensor(pic)

    def __repr__(self) -> str:
        return "ToTensor()"


class PILToTensor:
    """PIL image -> ``(C, H, W)`` tensor of the same dtype, without scaling.

    Args:
        (none)

    Shape:
        ``(H, W, C)`` -> ``(C, H, W)``.

    Example:
        >>> PILToTensor()(img).dtype
        ember.uint8
    """

    def __call__(self, pic) -> Tensor:
        return F.pil_to_tensor(pic)

    def __repr__(self) -> str:
        return "PILToTensor()"


class ToPILImage:
    """Tensor or array -> PIL image (requires Pillow).

    Args:
        mode: the PIL mode, inferred when None.

    Shape:
        ``(C, H, W)`` -> PIL ``W x H``.

    Example:
        >>> ToPILImage()(ember.rand(3, 8, 8))
    """

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)

    def __repr__(self) -> str:
        return f"ToPILImage(mode={self.mode})" if self.mode else "ToPILImage()"


class Normalize:
    """Per-channel ``(x - mean) / std`` of a float tensor image.

    Args:
        mean: one value per channel.
        std: one value per channel.
        inplace: modify the input tensor.

    Shape:
        ``(..., C, H, W)`` -> same.

    Example:
        >>> Normalize((0.1307,), (0.3081,))(ember.rand(1, 28, 28))
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float],
                 inplace: bool = False) -> None:
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Resize:
    """Resize an image: an int size matches the smaller edge, ``(h, w)`` is exact.

    Args:
        size: int or ``(h, w)``.
        interpolation: ``InterpolationMode.BILINEAR`` (default) or ``NEAREST``.
        max_size: cap on the longer edge when ``size`` is an int.
        antialias: low-pass filter when shrinking (torchvision's default True).

    Shape:
        ``(..., H, W)`` -> ``(..., h, w)``.

    Example:
        >>> Resize(14)(ember.rand(1, 28, 28)).shape
        ember.Size([1, 14, 14])
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR,
                 max_size: int | None = None, antialias: bool | None = True) -> None:
        if not isinstance(size, (int, Sequence)):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        if isinstance(size, Sequence) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        self.size = size
        self.interpolation = interpolation
        self.max_size = max_size
        self.antialias = antialias

    def __call__(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self) -> str:
        return (f"Resize(size={self.size}, interpolation={self.interpolation.value}, "
                f"max_size={self.max_size}, antialias={self.antialias})")


class CenterCrop:
    """Crop the centre (padding with zeros when the image is smaller).

    Args:
        size: int or ``(h, w)``.

    Shape:
        ``(..., H, W)`` -> ``(..., h, w)``.

    Example:
        >>> CenterCrop(24)(ember.rand(1, 28, 28)).shape
        ember.Size([1, 24, 24])
    """

    def __init__(self, size) -> None:
        self.size = F._pair(size)

    def __call__(self, img):
        return F.center_crop(img, self.size)

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class Pad:
    """Pad the borders.

    Args:
        padding: int, (left/right, top/bottom) or (left, top, right, bottom).
        fill: value for constant padding.
        padding_mode: "constant", "edge", "reflect" or "symmetric".

    Shape:
        ``(..., H, W)`` -> ``(..., H + top + bottom, W + left + right)``.

    Example:
        >>> Pad(2)(ember.rand(1, 28, 28)).shape
        ember.Size([1, 32, 32])
    """

    def __init__(self, padding, fill: float = 0, padding_mode: str = "constant") -> None:
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self) -> str:
        return (f"Pad(padding={self.padding}, fill={self.fill}, "
                f"padding_mode={self.padding_mode})")


class RandomCrop:
    """Crop at a random place, after optional padding.

    Args:
        size: int or ``(h, w)``.
        padding: optional border padding applied first.
        pad_if_needed: pad when the image is smaller than ``size``.
        fill: value for constant padding.
        padding_mode: "constant", "edge", "reflect" or "symmetric".

    Shape:
        ``(..., H, W)`` -> ``(..., h, w)``.

    Example:
        >>> RandomCrop(28, padding=4)(ember.rand(1, 28, 28)).shape
        ember.Size([1, 28, 28])
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill: float = 0,
                 padding_mode: str = "constant") -> None:
        self.size = F._pair(size)
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    @staticmethod
    def get_params(img, output_size) -> tuple:
        """A random ``(top, left, h, w)`` window of ``output_size``."""
        from ...creation import randint
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        if w == tw and h == th:
            return 0, 0, h, w
        i = int(randint(0, h - th + 1, size=(1,)).item())
        j = int(randint(0, w - tw + 1, size=(1,)).item())
        return i, j, th, tw

    def __call__(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, h, w = F.get_dimensions(img)
        if self.pad_if_needed and w < self.size[1]:
            img = F.pad(img, [self.size[1] - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < self.size[0]:
            img = F.pad(img, [0, self.size[0] - h], self.fill, self.padding_mode)
        i, j, th, tw = self.get_params(img, self.size)
        return F.crop(img, i, j, th, tw)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p``.

    Args:
        p: the flip probability.

    Shape:
        unchanged.

    Example:
        >>> RandomHorizontalFlip(p=1.0)(img)
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img):
        return F.hflip(img) if _rand() < self.p else img

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomVerticalFlip:
    """Mirror top-bottom with probability ``p``.

    Args:
        p: the flip probability.

    Shape:
        unchanged.

    Example:
        >>> RandomVerticalFlip(p=1.0)(img)
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img):
        return F.vflip(img) if _rand() < self.p else img

    def __repr__(self) -> str:
        return f"RandomVerticalFlip(p={self.p})"


class Lambda:
    """Wrap a function as a transform.

    Args:
        lambd: the function.

    Shape:
        whatever ``lambd`` does.

    Example:
        >>> Lambda(lambda x: x.view(-1))(ember.rand(1, 28, 28)).shape
        ember.Size([784])
    """

    def __init__(self, lambd: Callable[[Any], Any]) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {repr(type(lambd).__name__)}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self) -> str:
        return "Lambda()"

