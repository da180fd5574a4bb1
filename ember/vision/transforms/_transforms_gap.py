"""Random and colour transforms with torchvision's names (``torchvision.transforms``).

Randomness comes from ember's global generator, so ``ember.manual_seed`` makes them repeatable.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, List, Sequence

import numpy as np

from ...tensor import Tensor
from . import _functional_gap as G
from .functional import InterpolationMode, get_dimensions


def _rand() -> float:
    from ...creation import rand
    return float(rand(1).item())


def _uniform(lo: float, hi: float) -> float:
    return lo + (hi - lo) * _rand()


def _randint(lo: int, hi: int) -> int:
    """An int in [lo, hi)."""
    from ...creation import randint
    return int(randint(lo, hi, size=(1,)).item())


def _randperm(n: int) -> List[int]:
    from ...creation import randperm
    return [int(v) for v in randperm(n).tolist()]


def _range(value, name: str, center: float = 1.0, bound=(0, float("inf")),
           clip_first: bool = True):
    """ColorJitter's parameter parsing: a number v gives [center - v, center + v]."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative.")
        value = [center - float(value), center + float(value)]
        if clip_first:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"{name} values should be between {bound}, but got {value}.")
    if value[0] == value[1] == center:
        return None
    return tuple(value)


class _Random:
    """Base: apply ``self._apply`` with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img):
        return self._apply(img) if _rand() < self.p else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomResizedCrop:
    """Crop a random area (``scale`` of the image, aspect ``ratio``), resize to ``size``."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
        from .functional import _pair
        self.size = _pair(size)
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            import warnings
            warnings.warn("Scale and ratio should be of kind (min, max)")
        self.scale, self.ratio = scale, ratio
        self.interpolation, self.antialias = interpolation, antialias

    @staticmethod
    def get_params(img, scale: Sequence[float], ratio: Sequence[float]) -> tuple:
        """``(top, left, h, w)``: 10 tries at a random window, then a centre fallback."""
        _, height, width = get_dimensions(img)
        area = height * width
        log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
        for _ in range(10):
            target = area * _uniform(scale[0], scale[1])
            aspect = math.exp(_uniform(log_lo, log_hi))
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return _randint(0, height - h + 1), _randint(0, width - w + 1), h, w
        in_ratio = float(width) / float(height)
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return G.resized_crop(img, i, j, h, w, self.size, self.interpolation, self.antialias)

    def __repr__(self) -> str:
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio})"


class ColorJitter:
    """Random brightness, contrast, saturation and hue, applied in a random order."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0) -> None:
        self.brightness = _range(brightness, "brightness")
        self.contrast = _range(contrast, "contrast")
        self.saturation = _range(saturation, "saturation")
        self.hue = _range(hue, "hue", center=0, bound=(-0.5, 0.5), clip_first=False)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue) -> tuple:
        """``(order, b, c, s, h)``: a permutation of 0..3 and the sampled factors (or None)."""
        order = _randperm(4)
        pick = [None if r is None else _uniform(r[0], r[1])
                for r in (brightness, contrast, saturation, hue)]
        return (order, *pick)

    def __call__(self, img):
        order, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation,
                                            self.hue)
        for k in order:
            if k == 0 and b is not None:
                img = G.adjust_brightness(img, b)
            elif k == 1 and c is not None:
                img = G.adjust_contrast(img, c)
            elif k == 2 and s is not None:
                img = G.adjust_saturation(img, s)
            elif k == 3 and h is not None:
                img = G.adjust_hue(img, h)
        return img

    def __repr__(self) -> str:
        return (f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue})")


class Grayscale:
    """Convert to grayscale with 1 or 3 output channels."""

    def __init__(self, num_output_channels: int = 1) -> None:
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        return G.rgb_to_grayscale(img, self.num_output_channels)

    def __repr__(self) -> str:
        return f"Grayscale(num_output_channels={self.num_output_channels})"


class RandomGrayscale(_Random):
    """Grayscale with probability ``p`` (keeping the channel count)."""

    def __init__(self, p: float = 0.1) -> None:
        super().__init__(p)

    def _apply(self, img):
        return G.rgb_to_grayscale(img, get_dimensions(img)[0])


def _degrees(degrees, name: str = "degrees") -> List[float]:
    if isinstance(degrees, numbers.Number):
        if degrees < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        return [-float(degrees), float(degrees)]
    if len(degrees) != 2:
        raise ValueError(f"If {name} is a sequence, it must be of len 2.")
    return [float(d) for d in degrees]


class RandomRotation:
    """Rotate by an angle drawn uniformly from ``degrees``."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand: bool = False,
                 center=None, fill=0) -> None:
        self.degrees = _degrees(degrees)
        self.interpolation, self.expand, self.center, self.fill = \
            interpolation, expand, center, fill

    @staticmethod
    def get_params(degrees: List[float]) -> float:
        """An angle uniform in ``degrees``."""
        return _uniform(degrees[0], degrees[1])

    def __call__(self, img):
        fill = self.fill
        if isinstance(img, Tensor) and isinstance(fill, numbers.Number):
            fill = [float(fill)] * get_dimensions(img)[0]
        return G.rotate(img, self.get_params(self.degrees), self.interpolation, self.expand,
                        self.center, fill)

    def __repr__(self) -> str:
        return f"RandomRotation(degrees={self.degrees})"


class RandomAffine:
    """Random rotation, translation, scale and shear."""

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None) -> None:
        self.degrees = _degrees(degrees)
        if translate is not None:
            for t in translate:
                if not 0.0 <= t <= 1.0:
                    raise ValueError("translation values should be between 0 and 1")
        if scale is not None:
            for s in scale:
                if s <= 0:
                    raise ValueError("scale values should be positive")
        if shear is not None:
            if isinstance(shear, numbers.Number):
                shear = _degrees(shear, "shear")
            else:
                shear = [float(s) for s in shear]
                if len(shear) not in (2, 4):
                    raise ValueError("shear should be a sequence of length 2 or 4.")
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation, self.fill, self.center = interpolation, fill, center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size) -> tuple:
        """``(angle, (tx, ty), scale, (shear_x, shear_y))`` for an image of ``[w, h]``."""
        angle = _uniform(degrees[0], degrees[1])
        if translate is not None:
            mx, my = float(translate[0] * img_size[0]), float(translate[1] * img_size[1])
            tr = (int(round(_uniform(-mx, mx))), int(round(_uniform(-my, my))))
        else:
            tr = (0, 0)
        sc = _uniform(scale_ranges[0], scale_ranges[1]) if scale_ranges is not None else 1.0
        sx = sy = 0.0
        if shears is not None:
            sx = _uniform(shears[0], shears[1])
            if len(shears) == 4:
                sy = _uniform(shears[2], shears[3])
        return angle, tr, sc, (sx, sy)

    def __call__(self, img):
        c, h, w = get_dimensions(img)
        fill = self.fill
        if isinstance(img, Tensor) and isinstance(fill, numbers.Number):
            fill = [float(fill)] * c
        angle, tr, sc, sh = self.get_params(self.degrees, self.translate, self.scale,
                                            self.shear, [w, h])
        return G.affine(img, angle, list(tr), sc, list(sh), self.interpolation, fill,
                        self.center)

    def __repr__(self) -> str:
        return (f"RandomAffine(degrees={self.degrees}, translate={self.translate}, "
                f"scale={self.scale}, shear={self.shear})")


class RandomPerspective(_Random):
    """Random perspective warp (corner moves up to ``distortion_scale`` of half the size)."""

    def __init__(self, distortion_scale: float = 0.5, p: float = 0.5,
                 interpolation=InterpolationMode.BILINEAR, fill=0) -> None:
        super().__init__(p)
        self.distortion_scale, self.interpolation, self.fill = \
            distortion_scale, interpolation, fill

    @staticmethod
    def get_params(width: int, height: int, distortion_scale: float) -> tuple:
        """``(startpoints, endpoints)``: the corners and their random displacements."""
        hw, hh = width // 2, height // 2
        dx, dy = int(distortion_scale * hw), int(distortion_scale * hh)
        tl = [_randint(0, dx + 1), _randint(0, dy + 1)]
        tr = [_randint(width - dx - 1, width), _randint(0, dy + 1)]
        br = [_randint(width - dx - 1, width), _randint(height - dy - 1, height)]
        bl = [_randint(0, dx + 1), _randint(height - dy - 1, height)]
        start = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        return start, [tl, tr, br, bl]

    def _apply(self, img):
        c, h, w = get_dimensions(img)
        fill = self.fill
        if isinstance(img, Tensor) and isinstance(fill, numbers.Number):
            fill = [float(fill)] * c
        s, e = self.get_params(w, h, self.distortion_scale)
        return G.perspective(img, s, e, self.interpolation, fill)


class GaussianBlur:
    """Gaussian blur with ``sigma`` drawn uniformly from ``sigma`` (min, max)."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)) -> None:
        ks = [kernel_size, kernel_size] if isinstance(kernel_size, numbers.Number) \
            else list(kernel_size)
        for k in ks:
            if k <= 0 or k % 2 == 0:
                raise ValueError("Kernel size value should be an odd and positive number.")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError("If sigma is a single number, it must be positive.")
            sigma = (float(sigma), float(sigma))
        elif not 0.0 < sigma[0] <= sigma[1]:
            raise ValueError("sigma values should be positive and of the form (min, max).")
        self.kernel_size, self.sigma = ks, tuple(sigma)

    @staticmethod
    def get_params(sigma_min: float, sigma_max: float) -> float:
        """A sigma uniform in [min, max]."""
        return _uniform(sigma_min, sigma_max)

    def __call__(self, img):
        s = self.get_params(self.sigma[0], self.sigma[1])
        return G.gaussian_blur(img, self.kernel_size, [s, s])

    def __repr__(self) -> str:
        return f"GaussianBlur(kernel_size={self.kernel_size}, sigma={self.sigma})"


class RandomErasing:
    """Erase a random rectangle of a tensor image (``value``: number, tuple or "random")."""

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0,
                 inplace: bool = False) -> None:
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("Argument value should be either a number or str or a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError("If value is str, it should be 'random'")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            import warnings
            warnings.warn("Scale and ratio should be of kind (min, max)")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        if p < 0 or p > 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        self.p, self.scale, self.ratio, self.value, self.inplace = p, scale, ratio, value, inplace

    @staticmethod
    def get_params(img: Tensor, scale, ratio, value=None) -> tuple:
        """``(i, j, h, w, v)``; ``v`` is a tensor (random normal when value is None)."""
        from ...creation import randn, tensor as make
        c, ih, iw = img.shape[-3], img.shape[-2], img.shape[-1]
        area = ih * iw
        log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
        for _ in range(10):
            target = area * _uniform(scale[0], scale[1])
            aspect = math.exp(_uniform(log_lo, log_hi))
            h = int(round(math.sqrt(target * aspect)))
            w = int(round(math.sqrt(target / aspect)))
            if not (h < ih and w < iw):
                continue
            if value is None:
                v = randn(c, h, w, dtype=img.dtype, device=img.device)
            else:
                v = make(list(value), dtype=img.dtype, device=img.device)[:, None, None]
            return _randint(0, ih - h + 1), _randint(0, iw - w + 1), h, w, v
        return 0, 0, ih, iw, img

    def __call__(self, img):
        if _rand() >= self.p:
            return img
        if isinstance(self.value, numbers.Number):
            value = [float(self.value)]
        elif isinstance(self.value, str):
            value = None
        else:
            value = [float(v) for v in self.value]
        c = img.shape[-3]
        if value is not None and len(value) not in (1, c):
            raise ValueError("If value is a sequence, it should have either a single value or "
                             f"{c} (number of input channels)")
        i, j, h, w, v = self.get_params(img, self.scale, self.ratio, value)
        return G.erase(img, i, j, h, w, v, self.inplace)

    def __repr__(self) -> str:
        return (f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value}, inplace={self.inplace})")


class RandomApply:
    """Apply the list of ``transforms`` (in order) with probability ``p``."""

    def __init__(self, transforms: Sequence[Callable], p: float = 0.5) -> None:
        self.transforms, self.p = list(transforms), p

    def __call__(self, img):
        if self.p < _rand():
            return img
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        return f"RandomApply(p={self.p}, transforms={self.transforms})"


class RandomChoice:
    """Apply one transform picked at random (weights ``p``, uniform by default)."""

    def __init__(self, transforms: Sequence[Callable], p: Sequence[float] | None = None):
        if p is not None and len(p) != len(transforms):
            raise ValueError(f"Length of p doesn't match the number of transforms: {len(p)} != "
                             f"{len(transforms)}")
        self.transforms, self.p = list(transforms), p

    def __call__(self, *args):
        weights = [1.0] * len(self.transforms) if self.p is None else list(self.p)
        cum = np.cumsum(weights) / float(np.sum(weights))
        k = min(int(np.searchsorted(cum, _rand(), side="right")), len(self.transforms) - 1)
        return self.transforms[k](*args)

    def __repr__(self) -> str:
        return f"RandomChoice(transforms={self.transforms}, p={self.p})"


class RandomOrder:
    """Apply all ``transforms`` in a random order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img):
        for k in _randperm(len(self.transforms)):
            img = self.transforms[k](img)
        return img

    def __repr__(self) -> str:
        return f"RandomOrder(transforms={self.transforms})"


class FiveCrop:
    """The four corner crops and the centre crop, as a tuple."""

    def __init__(self, size) -> None:
        from .functional import _pair
        self.size = _pair(size)

    def __call__(self, img) -> tuple:
        return G.five_crop(img, self.size)

    def __repr__(self) -> str:
        return f"FiveCrop(size={self.size})"


class TenCrop:
    """``FiveCrop`` of the image and of its flip."""

    def __init__(self, size, vertical_flip: bool = False) -> None:
        from .functional import _pair
        self.size, self.vertical_flip = _pair(size), vertical_flip

    def __call__(self, img) -> tuple:
        return G.ten_crop(img, self.size, self.vertical_flip)

    def __repr__(self) -> str:
        return f"TenCrop(size={self.size}, vertical_flip={self.vertical_flip})"


class LinearTransformation:
    """``(flatten(x) - mean_vector) @ transformation_matrix``, reshaped back (e.g. ZCA)."""

    def __init__(self, transformation_matrix: Tensor, mean_vector: Tensor) -> None:
        n = transformation_matrix.shape[0]
        if transformation_matrix.shape[0] != transformation_matrix.shape[1]:
            raise ValueError("transformation_matrix should be square. Got "
                             f"{tuple(transformation_matrix.shape)} rectangular matrix.")
        if mean_vector.shape[0] != n:
            raise ValueError(f"mean_vector should have the same length {mean_vector.shape[0]} "
                             f"as any one of the dimensions of the transformation_matrix "
                             f"[{tuple(transformation_matrix.shape)}]")
        self.transformation_matrix, self.mean_vector = transformation_matrix, mean_vector

    def __call__(self, tensor: Tensor) -> Tensor:
        shape = tensor.shape
        n = shape[-3] * shape[-2] * shape[-1]
        if n != self.transformation_matrix.shape[0]:
            raise ValueError("Input tensor and transformation matrix have incompatible shape."
                             f"[{shape[-3]} x {shape[-2]} x {shape[-1]}] != "
                             f"{self.transformation_matrix.shape[0]}")
        flat = tensor.reshape(-1, n) - self.mean_vector
        return (flat @ self.transformation_matrix.to(flat.dtype)).reshape(shape)

    def __repr__(self) -> str:
        return "LinearTransformation()"


class RandomInvert(_Random):
    """Invert colours with probability ``p``."""

    def _apply(self, img):
        return G.invert(img)


class RandomPosterize(_Random):
    """Posterize to ``bits`` with probability ``p``."""

    def __init__(self, bits: int, p: float = 0.5) -> None:
        super().__init__(p)
        self.bits = bits

    def _apply(self, img):
        return G.posterize(img, self.bits)


class RandomSolarize(_Random):
    """Solarize above ``threshold`` with probability ``p``."""

    def __init__(self, threshold: float, p: float = 0.5) -> None:
        super().__init__(p)
        self.threshold = threshold

    def _apply(self, img):
        return G.solarize(img, self.threshold)


class RandomAdjustSharpness(_Random):
    """Adjust sharpness by ``sharpness_factor`` with probability ``p``."""

    def __init__(self, sharpness_factor: float, p: float = 0.5) -> None:
        super().__init__(p)
        self.sharpness_factor = sharpness_factor

    def _apply(self, img):
        return G.adjust_sharpness(img, self.sharpness_factor)


class RandomAutocontrast(_Random):
    """Autocontrast with probability ``p``."""

    def _apply(self, img):
        return G.autocontrast(img)


class RandomEqualize(_Random):
    """Histogram-equalise with probability ``p``."""

    def _apply(self, img):
        return G.equalize(img)


class ConvertImageDtype:
    """Convert a tensor image to ``dtype``, rescaling its values."""

    def __init__(self, dtype) -> None:
        self.dtype = dtype

    def __call__(self, image: Tensor) -> Tensor:
        return G.convert_image_dtype(image, self.dtype)

    def __repr__(self) -> str:
        return f"ConvertImageDtype(dtype={self.dtype})"


class ElasticTransform:
    """Random elastic displacement: uniform noise blurred by ``sigma``, scaled by ``alpha``."""

    def __init__(self, alpha=50.0, sigma=5.0, interpolation=InterpolationMode.BILINEAR,
                 fill=0) -> None:
        self.alpha = [float(alpha)] * 2 if isinstance(alpha, numbers.Number) else \
            [float(a) for a in alpha]
        self.sigma = [float(sigma)] * 2 if isinstance(sigma, numbers.Number) else \
            [float(s) for s in sigma]
        if len(self.alpha) != 2 or len(self.sigma) != 2:
            raise ValueError("alpha and sigma should be a number or a sequence of length 2")
        self.interpolation, self.fill = interpolation, fill

    @staticmethod
    def get_params(alpha: List[float], sigma: List[float], size: List[int]) -> Tensor:
        """A ``(1, H, W, 2)`` displacement for an image of ``size`` ``[h, w]``."""
        from ...creation import rand
        from ...functional import stack
        h, w = size
        parts = []
        for k, extent in ((0, w), (1, h)):
            d = rand(1, h, w) * 2 - 1
            if sigma[k] > 0.0:
                ks = int(8 * sigma[k] + 1)
                ks += 1 - ks % 2  # the blur needs an odd kernel
                d = G.gaussian_blur(d, [ks, ks], [sigma[k], sigma[k]])
            parts.append(d[0] * (alpha[k] / extent))
        return stack(parts, dim=-1)[None]

    def __call__(self, img):
        c, h, w = get_dimensions(img)
        fill = self.fill
        if isinstance(img, Tensor) and isinstance(fill, numbers.Number):
            fill = [float(fill)] * c
        disp = self.get_params(self.alpha, self.sigma, [h, w])
        return G.elastic_transform(img, disp, self.interpolation, fill)

    def __repr__(self) -> str:
        return f"ElasticTransform(alpha={self.alpha}, sigma={self.sigma})"

