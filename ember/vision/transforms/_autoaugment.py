"""Learned and random augmentation policies: AutoAugment, RandAugment, TrivialAugmentWide, AugMix.

The sub-policy tables are the published ones (Cubuk et al. 2018); magnitudes follow
torchvision's bins. Randomness uses ember's generator.
"""
from __future__ import annotations

import enum
import math
import numbers
from typing import Dict, List, Tuple

import numpy as np

from ...tensor import Tensor
from . import _functional_gap as G
from .functional import InterpolationMode, get_dimensions, _is_pil


class AutoAugmentPolicy(enum.Enum):
    """AutoAugment policies learned on ImageNet, CIFAR10 and SVHN."""
    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


def _rand() -> float:
    from ...creation import rand
    return float(rand(1).item())


def _randint(hi: int) -> int:
    from ...creation import randint
    return int(randint(0, hi, size=(1,)).item())


def _apply_op(img, name: str, mag: float, interpolation, fill):
    """One named augmentation at signed magnitude ``mag``."""
    if name == "ShearX":
        # Shear is parametrised by angle: atan of the slope.
        return G.affine(img, 0.0, [0, 0], 1.0, [math.degrees(math.atan(mag)), 0.0],
                        interpolation, fill, center=[0, 0])
    if name == "ShearY":
        return G.affine(img, 0.0, [0, 0], 1.0, [0.0, math.degrees(math.atan(mag))],
                        interpolation, fill, center=[0, 0])
    if name == "TranslateX":
        return G.affine(img, 0.0, [int(mag), 0], 1.0, [0.0, 0.0], interpolation, fill)
    if name == "TranslateY":
        return G.affine(img, 0.0, [0, int(mag)], 1.0, [0.0, 0.0], interpolation, fill)
    if name == "Rotate":
        return G.rotate(img, mag, interpolation, fill=fill)
    if name in _ENHANCE:
        return _ENHANCE[name](img, 1.0 + mag)
    if name == "Posterize":
        return G.posterize(img, int(mag))
    if name == "Solarize":
        # Magnitudes are on the 0..255 scale; float images live in [0, 1].
        if isinstance(img, Tensor) and img.is_floating_point():
            mag = mag / 255.0
        return G.solarize(img, mag)
    if name == "AutoContrast":
        return G.autocontrast(img)
    if name == "Equalize":
        return G.equalize(img)
    if name == "Invert":
        return G.invert(img)
    if name == "Identity":
        return img
    raise ValueError(f"The provided operator {name} is not recognized.")


_ENHANCE = {"Brightness": G.adjust_brightness, "Color": G.adjust_saturation,
            "Contrast": G.adjust_contrast, "Sharpness": G.adjust_sharpness}


def _tensor_fill(img, fill):
    if isinstance(img, Tensor) and fill is not None:
        if isinstance(fill, numbers.Number):
            return [float(fill)] * get_dimensions(img)[0]
        return [float(f) for f in fill]
    return fill


def _space(n: int, size: List[int], shear: float, translate: Tuple[float, float],
           rotate: float, enhance: float | None, post_top: int, post_span: int,
           identity: bool, invert: bool) -> Dict[str, Tuple[np.ndarray, bool]]:
    """op -> (magnitude bins, signed)."""
    space: Dict[str, Tuple[np.ndarray, bool]] = {}
    if identity:
        space["Identity"] = (np.zeros(()), False)
    lin = lambda top: np.linspace(0.0, top, n)  # noqa: E731
    space.update({"ShearX": (lin(shear), True), "ShearY": (lin(shear), True),
                  "TranslateX": (lin(translate[0]), True),
                  "TranslateY": (lin(translate[1]), True), "Rotate": (lin(rotate), True)})
    if enhance is not None:
        for k in ("Brightness", "Color", "Contrast", "Sharpness"):
            space[k] = (lin(enhance), True)
    steps = np.round(np.arange(n) / ((n - 1) / post_span)) if n > 1 else np.zeros(n)
    space["Posterize"] = ((post_top - steps).astype(np.int64), False)
    space["Solarize"] = (np.linspace(255.0, 0.0, n), False)
    space["AutoContrast"] = (np.zeros(()), False)
    space["Equalize"] = (np.zeros(()), False)
    if invert:
        space["Invert"] = (np.zeros(()), False)
    return space


_IMAGENET = [
    (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
    (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)), (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, None)),
    (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)), (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)), (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
    (("Equalize", 0.0, None), ("Equalize", 0.8, None)),
    (("Invert", 0.6, None), ("Equalize", 1.0, None)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)), (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)), (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, None)), (("Color", 0.4, 0), ("Equalize", 0.6, None)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Invert", 0.6, None), ("Equalize", 1.0, None)), (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
]
_CIFAR10 = [
    (("Invert", 0.1, None), ("Contrast", 0.2, 6)), (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
    (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)), (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.5, None), ("Equalize", 0.9, None)),
    (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
    (("Color", 0.4, 3), ("Brightness", 0.6, 7)), (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
    (("Equalize", 0.6, None), ("Equalize", 0.5, None)),
    (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
    (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
    (("Equalize", 0.3, None), ("AutoContrast", 0.4, None)),
    (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)), (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
    (("Solarize", 0.5, 2), ("Invert", 0.0, None)),
    (("Equalize", 0.2, None), ("AutoContrast", 0.6, None)),
    (("Equalize", 0.2, None), ("Equalize", 0.6, None)),
    (("Color", 0.9, 9), ("Equalize", 0.6, None)),
    (("AutoContrast", 0.8, None), ("Solarize", 0.2, 8)),
    (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
    (("Solarize", 0.4, 5), ("AutoContrast", 0.9, None)),
    (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.9, None), ("Solarize", 0.8, 3)),
    (("Equalize", 0.8, None), ("Invert", 0.1, None)),
    (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, None)),
]
_SVHN = [
    (("ShearX", 0.9, 4), ("Invert", 0.2, None)), (("ShearY", 0.9, 8), ("Invert", 0.7, None)),
    (("Equalize", 0.6, None), ("Solarize", 0.6, 6)),
    (("Invert", 0.9, None), ("Equalize", 0.6, None)),
    (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
    (("ShearX", 0.9, 4), ("AutoContrast", 0.8, None)),
    (("ShearY", 0.9, 8), ("Invert", 0.4, None)), (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
    (("Invert", 0.9, None), ("AutoContrast", 0.8, None)),
    (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
    (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)), (("ShearY", 0.8, 8), ("Invert", 0.7, None)),
    (("Equalize", 0.9, None), ("TranslateY", 0.6, 6)),
    (("Invert", 0.9, None), ("Equalize", 0.6, None)),
    (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)), (("Invert", 0.8, None), ("TranslateY", 0.0, 2)),
    (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)), (("Invert", 0.6, None), ("Rotate", 0.8, 4)),
    (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)), (("ShearX", 0.1, 6), ("Invert", 0.6, None)),
    (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)), (("ShearY", 0.8, 4), ("Invert", 0.8, None)),
    (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)), (("ShearY", 0.8, 5), ("AutoContrast", 0.7, None)),
    (("ShearX", 0.7, 2), ("Invert", 0.1, None)),
]


class AutoAugment:
    """Apply one randomly chosen learned sub-policy (two ops, each with its probability)."""

    def __init__(self, policy: AutoAugmentPolicy = AutoAugmentPolicy.IMAGENET,
                 interpolation=InterpolationMode.NEAREST, fill=None) -> None:
        table = {AutoAugmentPolicy.IMAGENET: _IMAGENET, AutoAugmentPolicy.CIFAR10: _CIFAR10,
                 AutoAugmentPolicy.SVHN: _SVHN}
        if policy not in table:
            raise ValueError(f"The provided policy {policy} is not recognized.")
        self.policy, self.interpolation, self.fill = policy, interpolation, fill
        self.policies = table[policy]

    @staticmethod
    def get_params(transform_num: int) -> tuple:
        """``(policy_id, probs[2], signs[2])``."""
        return _randint(transform_num), [_rand(), _rand()], [_randint(2), _randint(2)]

    def __call__(self, img):
        fill = _tensor_fill(img, self.fill)
        pid, probs, signs = self.get_params(len(self.policies))
        _, h, w = get_dimensions(img)
        space = _space(10, [w, h], 0.3, (150.0 / 331.0 * w, 150.0 / 331.0 * h), 30.0, 0.9,
                       8, 4, identity=False, invert=True)
        for k, (name, p, mag_id) in enumerate(self.policies[pid]):
            if probs[k] <= p:
                mags, signed = space[name]
                mag = float(mags[mag_id]) if mag_id is not None else 0.0
                if signed and signs[k] == 0:
                    mag = -mag
                img = _apply_op(img, name, mag, self.interpolation, fill)
        return img

    def __repr__(self) -> str:
        return f"AutoAugment(policy={self.policy}, fill={self.fill})"


class RandAugment:
    """Apply ``num_ops`` uniformly chosen ops, each at bin ``magnitude`` of the bins."""

    def __init__(self, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31,
                 interpolation=InterpolationMode.NEAREST, fill=None) -> None:
        self.num_ops, self.magnitude, self.num_magnitude_bins = \
            num_ops, magnitude, num_magnitude_bins
        self.interpolation, self.fill = interpolation, fill

    def __call__(self, img):
        fill = _tensor_fill(img, self.fill)
        _, h, w = get_dimensions(img)
        space = _space(self.num_magnitude_bins, [w, h], 0.3,
                       (150.0 / 331.0 * w, 150.0 / 331.0 * h), 30.0, 0.9, 8, 4,
                       identity=True, invert=False)
        names = list(space)
        for _ in range(self.num_ops):
            name = names[_randint(len(names))]
            mags, signed = space[name]
            mag = float(mags[self.magnitude]) if mags.ndim > 0 else 0.0
            if signed and _randint(2):
                mag = -mag
            img = _apply_op(img, name, mag, self.interpolation, fill)
        return img

    def __repr__(self) -> str:
        return (f"RandAugment(num_ops={self.num_ops}, magnitude={self.magnitude}, "
                f"num_magnitude_bins={self.num_magnitude_bins}, fill={self.fill})")


class TrivialAugmentWide:
    """Apply one uniformly chosen op at a uniformly chosen magnitude bin (wide ranges)."""

    def __init__(self, num_magnitude_bins: int = 31, interpolation=InterpolationMode.NEAREST,
                 fill=None) -> None:
        self.num_magnitude_bins, self.interpolation, self.fill = \
            num_magnitude_bins, interpolation, fill

    def __call__(self, img):
        fill = _tensor_fill(img, self.fill)
        space = _space(self.num_magnitude_bins, [0, 0], 0.99, (32.0, 32.0), 135.0, 0.99, 8, 6,
                       identity=True, invert=False)
        names = list(space)
        name = names[_randint(len(names))]
        mags, signed = space[name]
        mag = float(mags[_randint(len(mags))]) if mags.ndim > 0 else 0.0
        if signed and _randint(2):
            mag = -mag
        return _apply_op(img, name, mag, self.interpolation, fill)

    def __repr__(self) -> str:
        return f"TrivialAugmentWide(num_magnitude_bins={self.num_magnitude_bins})"


class AugMix:
    """Mix the image with ``mixture_width`` random augmentation chains (Dirichlet weights)."""

    def __init__(self, severity: int = 3, mixture_width: int = 3, chain_depth: int = -1,
                 alpha: float = 1.0, all_ops: bool = True,
                 interpolation=InterpolationMode.BILINEAR, fill=None) -> None:
        if not 1 <= severity <= 10:
            raise ValueError(f"The severity must be between [1, 10]. Got {severity} instead.")
        self.severity, self.mixture_width, self.chain_depth = severity, mixture_width, chain_depth
        self.alpha, self.all_ops, self.interpolation, self.fill = \
            alpha, all_ops, interpolation, fill

    def __call__(self, img):
        from ...creation import tensor as make
        from ...distributions import Dirichlet
        from .functional import pil_to_tensor, to_pil_image
        was_pil = _is_pil(img)
        orig = pil_to_tensor(img) if was_pil else img
        fill = _tensor_fill(orig, self.fill)
        _, h, w = get_dimensions(orig)
        space = _space(11, [w, h], 0.3, (w / 3.0, h / 3.0), 30.0,
                       0.9 if self.all_ops else None, 4, 4, identity=False, invert=False)
        names = list(space)
        m = Dirichlet(make([self.alpha, self.alpha])).sample().tolist()
        ws = Dirichlet(make([self.alpha] * self.mixture_width)).sample().tolist()
        mixed = orig.double() * m[0]
        for k in range(self.mixture_width):
            aug = orig
            depth = self.chain_depth if self.chain_depth > 0 else 1 + _randint(3)
            for _ in range(depth):
                name = names[_randint(len(names))]
                mags, signed = space[name]
                mag = float(mags[_randint(self.severity)]) if mags.ndim > 0 else 0.0
                if signed and _randint(2):
                    mag = -mag
                aug = _apply_op(aug, name, mag, self.interpolation, fill)
            mixed = mixed + aug.double() * (m[1] * ws[k])
        out = mixed.to(orig.dtype)
        return to_pil_image(out, mode=img.mode) if was_pil else out

    def __repr__(self) -> str:
        return (f"AugMix(severity={self.severity}, mixture_width={self.mixture_width}, "
                f"chain_depth={self.chain_depth}, alpha={self.alpha}, all_ops={self.all_ops})")
