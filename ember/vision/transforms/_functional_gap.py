"""Colour, geometric and dtype transforms beyond the basics (torchvision.transforms.functional).

Tensor images ``(..., C, H, W)`` follow torchvision's tensor formulas (computed in NumPy and
returned on the input's device); PIL images go through PIL's own operations, as torchvision does.
NumPy ``(H, W[, C])`` arrays, ember's stand-in for PIL, are handled like tensors.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, List, Sequence

import numpy as np

from ...tensor import Tensor
from .functional import (InterpolationMode, _is_pil, _np, center_crop, crop, get_dimensions,
                         hflip, resize, vflip)

try:
    from PIL import Image as _PILImage, ImageEnhance as _Enh, ImageOps as _Ops
except ImportError:  # Pillow optional
    _PILImage = _Enh = _Ops = None


# ---------------------------------------------------------------------- plumbing
def _chw(img) -> np.ndarray:
    """Image -> array with channels at axis -3 (a copy of the data on the host)."""
    if isinstance(img, Tensor):
        arr = _np(img)
        return arr[None] if arr.ndim == 2 else arr
    arr = np.asarray(img)
    return arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)


def _back(arr: np.ndarray, like):
    """Array with channels at -3 -> the same kind, dtype and device as ``like``."""
    if isinstance(like, Tensor):
        from ...creation import as_tensor
        if like.ndim == 2:
            arr = arr[0]
        return as_tensor(np.ascontiguousarray(arr), dtype=like.dtype, device=like.device)
    like_arr = np.asarray(like)
    out = arr[0] if like_arr.ndim == 2 else np.moveaxis(arr, 0, -1)
    return np.ascontiguousarray(out)


def _is_float(arr: np.ndarray) -> bool:
    return np.issubdtype(arr.dtype, np.floating)


def _bound(arr: np.ndarray) -> float:
    return 1.0 if _is_float(arr) else float(np.iinfo(arr.dtype).max)


def _cast(work: np.ndarray, dtype) -> np.ndarray:
    """Float results -> ``dtype``; integer targets truncate, as torch's ``.to`` does."""
    if np.issubdtype(dtype, np.floating):
        return work.astype(dtype)
    return np.trunc(work).astype(dtype)


def _blend(img1: np.ndarray, img2, ratio: float) -> np.ndarray:
    bound = _bound(img1)
    out = np.clip(ratio * img1.astype(np.float64) + (1.0 - ratio) * np.asarray(img2, np.float64),
                  0, bound)
    return _cast(out, img1.dtype)


def _gray(arr: np.ndarray) -> np.ndarray:
    """(.., 3, H, W) -> (.., 1, H, W) luma in the input dtype (ITU-R 601-2 weights)."""
    f = arr.astype(np.float64)
    g = 0.2989 * f[..., 0, :, :] + 0.587 * f[..., 1, :, :] + 0.114 * f[..., 2, :, :]
    return _cast(g, arr.dtype)[..., None, :, :]


def _check_channels(arr: np.ndarray, allowed: Sequence[int]) -> None:
    if arr.shape[-3] not in allowed:
        raise TypeError(f"Input image tensor permitted channel values are {list(allowed)}, "
                        f"but found {arr.shape[-3]}")


def _nonneg(name: str, factor: float) -> None:
    if factor < 0:
        raise ValueError(f"{name} ({factor}) is not non-negative.")


# ---------------------------------------------------------------------- colour
def rgb_to_grayscale(img, num_output_channels: int = 1):
    """Luma ``0.2989 R + 0.587 G + 0.114 B``, repeated to ``num_output_channels`` (1 or 3)."""
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if _is_pil(img):
        out = img.convert("L")
        return _PILImage.merge("RGB", [out, out, out]) if num_output_channels == 3 else out
    arr = _chw(img)
    _check_channels(arr, (1, 3))
    g = _gray(arr) if arr.shape[-3] == 3 else arr
    if num_output_channels == 3:
        g = np.concatenate([g, g, g], axis=-3)
    if isinstance(img, Tensor) and img.ndim == 2:
        return _back(g, img)
    if not isinstance(img, Tensor) and np.asarray(img).ndim == 2 and num_output_channels == 3:
        return np.ascontiguousarray(np.moveaxis(g, 0, -1))
    return _back(g, img)


def to_grayscale(img, num_output_channels: int = 1):
    """PIL-image grayscale (torchvision's ``to_grayscale``)."""
    return rgb_to_grayscale(img, num_output_channels)


def adjust_brightness(img, brightness_factor: float):
    """Blend with black: 0 gives black, 1 the original."""
    _nonneg("brightness_factor", brightness_factor)
    if _is_pil(img):
        return _Enh.Brightness(img).enhance(brightness_factor)
    arr = _chw(img)
    _check_channels(arr, (1, 3))
    return _back(_blend(arr, 0.0, brightness_factor), img)


def adjust_contrast(img, contrast_factor: float):
    """Blend with the mean grey level: 0 gives a flat grey image."""
    _nonneg("contrast_factor", contrast_factor)
    if _is_pil(img):
        return _Enh.Contrast(img).enhance(contrast_factor)
    arr = _chw(img)
    _check_channels(arr, (1, 3))
    g = _gray(arr) if arr.shape[-3] == 3 else arr
    mean = g.astype(np.float64).mean(axis=(-3, -2, -1), keepdims=True)
    return _back(_blend(arr, mean, contrast_factor), img)


def adjust_saturation(img, saturation_factor: float):
    """Blend with the grayscale image: 0 gives grey, 2 doubles the saturation."""
    _nonneg("saturation_factor", saturation_factor)
    if _is_pil(img):
        return _Enh.Color(img).enhance(saturation_factor)
    arr = _chw(img)
    _check_channels(arr, (1, 3))
    if arr.shape[-3] == 1:
        return img
    return _back(_blend(arr, _gray(arr), saturation_factor), img)


def _rgb2hsv(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    maxc, minc = rgb.max(axis=-3), rgb.min(axis=-3)
    span = maxc - minc
    flat = span == 0
    s = span / np.where(maxc == 0, 1.0, maxc)
    safe = np.where(flat, 1.0, span)
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = np.where(maxc == r, bc - gc, np.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.where(flat, 0.0, (h / 6.0) % 1.0)
    return np.stack([h, s, maxc], axis=-3)


def _hsv2rgb(hsv: np.ndarray) -> np.ndarray:
    h, s, v = hsv[..., 0, :, :], hsv[..., 1, :, :], hsv[..., 2, :, :]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = [np.select([i == k for k in range(6)], [row[c] for row in table]) for c in range(3)]
    return np.stack(out, axis=-3)


def adjust_hue(img, hue_factor: float):
    """Rotate the hue (HSV) by ``hue_factor`` turns, ``hue_factor`` in [-0.5, 0.5]."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if _is_pil(img):
        if img.mode in {"L", "1", "I", "F"}:
            return img
        h, s, v = img.convert("HSV").split()
        hue = np.array(h, dtype=np.uint8)
        # PIL hue is a byte: the shift wraps around modulo 256.
        hue = (hue.astype(np.int64) + int(np.int64(hue_factor * 255))) % 256
        h = _PILImage.fromarray(hue.astype(np.uint8), "L")
        return _PILImage.merge("HSV", (h, s, v)).convert(img.mode)
    arr = _chw(img)
    _check_channels(arr, (1, 3))
    if arr.shape[-3] == 1:
        return img
    work = arr.astype(np.float64) / (1.0 if _is_float(arr) else 255.0)
    hsv = _rgb2hsv(work)
    hsv[..., 0, :, :] = (hsv[..., 0, :, :] + hue_factor) % 1.0
    out = _hsv2rgb(hsv)
    if not _is_float(arr):
        out = out * 255.0
    return _back(_cast(out, arr.dtype), img)


def adjust_gamma(img, gamma: float, gain: float = 1.0):
    """``gain * img ** gamma`` on intensities scaled to [0, 1]."""
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    if _is_pil(img):
        table = [int((255 + 1 - 1e-3) * gain * pow(v / 255.0, gamma)) for v in range(256)]
        return img.point(table * len(img.getbands()))
    arr = _chw(img)
    if _is_float(arr):
        return _back(np.clip(gain * arr.astype(np.float64) ** gamma, 0, 1).astype(arr.dtype),
                     img)
    top = float(np.iinfo(arr.dtype).max)
    out = np.clip(gain * (arr.astype(np.float64) / top) ** gamma, 0, 1)
    return _back(_cast(out * (top + 1.0 - 1e-3), arr.dtype), img)


def adjust_sharpness(img, sharpness_factor: float):
    """Blend with a 3x3-smoothed copy (borders kept): 0 blurs, 2 sharpens."""
    _nonneg("sharpness_factor", sharpness_factor)
    if _is_pil(img):
        return _Enh.Sharpness(img).enhance(sharpness_factor)
    arr = _chw(img)
    _check_channels(arr, (1, 3))
    if arr.shape[-1] <= 2 or arr.shape[-2] <= 2:
        return img
    f = arr.astype(np.float64)
    acc = np.zeros_like(f[..., 1:-1, 1:-1])
    h, w = f.shape[-2:]
    for dy in range(3):
        for dx in range(3):
            acc += f[..., dy:h - 2 + dy, dx:w - 2 + dx] * (5.0 if dy == dx == 1 else 1.0)
    acc /= 13.0
    if not _is_float(arr):
        acc = np.round(acc)
    degenerate = f.copy()
    degenerate[..., 1:-1, 1:-1] = acc
    return _back(_blend(arr, degenerate, sharpness_factor), img)


def invert(img):
    """``bound - img`` (1 for float images, the dtype's max for integers)."""
    if _is_pil(img):
        return _Ops.invert(img)
    arr = _chw(img)
    _check_channels(arr, (1, 3))
    if _is_float(arr):
        return _back(1.0 - arr, img)
    return _back(np.bitwise_not(arr), img)


def posterize(img, bits: int):
    """Keep the ``bits`` most significant bits of each uint8 channel."""
    if _is_pil(img):
        return _Ops.posterize(img, bits)
    arr = _chw(img)
    if arr.dtype != np.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {arr.dtype}")
    _check_channels(arr, (1, 3))
    mask = np.uint8((0xFF << (8 - bits)) & 0xFF)
    return _back(arr & mask, img)


def solarize(img, threshold: float):
    """Invert the pixels at or above ``threshold``."""
    if _is_pil(img):
        return _Ops.solarize(img, threshold)
    arr = _chw(img)
    _check_channels(arr, (1, 3))
    if threshold > _bound(arr):
        raise TypeError("Threshold should be less than bound of img.")
    inv = 1.0 - arr if _is_float(arr) else np.bitwise_not(arr)
    return _back(np.where(arr >= threshold, inv, arr).astype(arr.dtype), img)


def autocontrast(img):
    """Stretch each channel so its darkest pixel is 0 and its lightest the maximum."""
    if _is_pil(img):
        return _Ops.autocontrast(img)
    arr = _chw(img)
    _check_channels(arr, (1, 3))
    bound = _bound(arr)
    f = arr.astype(np.float64)
    lo = f.min(axis=(-2, -1), keepdims=True)
    hi = f.max(axis=(-2, -1), keepdims=True)
    flat = lo == hi
    lo = np.where(flat, 0.0, lo)
    scale = np.where(flat, 1.0, bound / np.where(flat, 1.0, hi - lo))
    return _back(_cast(np.clip((f - lo) * scale, 0, bound), arr.dtype), img)


def _equalize_channel(ch: np.ndarray) -> np.ndarray:
    hist = np.bincount(ch.ravel(), minlength=256)
    used = hist[hist != 0]
    step = int(used[:-1].sum()) // 255
    if step == 0:
        return ch
    lut = (np.cumsum(hist) + step // 2) // step
    lut = np.clip(np.concatenate([[0], lut[:-1]]), 0, 255).astype(np.uint8)
    return lut[ch]


def equalize(img):
    """Histogram-equalise each uint8 channel (PIL's ``ImageOps.equalize`` algorithm)."""
    if _is_pil(img):
        return _Ops.equalize(img)
    arr = _chw(img)
    if arr.dtype != np.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {arr.dtype}")
    _check_channels(arr, (1, 3))
    flat = arr.reshape(-1, *arr.shape[-2:])
    out = np.stack([_equalize_channel(c) for c in flat]).reshape(arr.shape)
    return _back(out, img)


# ---------------------------------------------------------------------- geometry
def _fill_list(fill, channels: int) -> np.ndarray | None:
    if fill is None:
        return None
    vals = [float(fill)] * channels if isinstance(fill, numbers.Number) else \
        [float(v) for v in fill]
    if len(vals) == 1:
        vals = vals * channels
    if len(vals) != channels:
        raise ValueError("The number of elements in 'fill' does not match the number of "
                         f"channels of the image ({len(vals)} != {channels})")
    return np.asarray(vals)


def _sample(arr: np.ndarray, xs: np.ndarray, ys: np.ndarray, mode, fill) -> np.ndarray:
    """Sample ``arr`` (.., C, H, W) at input pixel coordinates ``xs``/``ys`` (out H, W);
    outside pixels are 0, or ``fill`` blended in by the sampled coverage (torchvision's mask)."""
    if isinstance(mode, str):
        mode = InterpolationMode(mode)
    h, w = arr.shape[-2:]
    f = arr.astype(np.float64)

    def gather(src, yi, xi):
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        vals = src[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        return vals * inside, inside.astype(np.float64)

    if mode is InterpolationMode.NEAREST:
        # grid_sample's nearest rounds half to even.
        out, cover = gather(f, np.rint(ys).astype(np.int64), np.rint(xs).astype(np.int64))
    elif mode is InterpolationMode.BILINEAR:
        x0, y0 = np.floor(xs).astype(np.int64), np.floor(ys).astype(np.int64)
        ax, ay = xs - x0, ys - y0
        out, cover = 0.0, 0.0
        for dy, wy in ((0, 1 - ay), (1, ay)):
            for dx, wx in ((0, 1 - ax), (1, ax)):
                v, m = gather(f, y0 + dy, x0 + dx)
                out = out + v * (wy * wx)
                cover = cover + m * (wy * wx)
    else:
        raise ValueError(f"Interpolation mode {mode} is unsupported with Tensor input")
    fills = _fill_list(fill, arr.shape[-3])
    if fills is not None:
        fv = fills[:, None, None]
        if mode is InterpolationMode.NEAREST:
            out = np.where(cover < 0.5, fv, out)
        else:
            out = out * cover + (1.0 - cover) * fv
    if not _is_float(arr):
        out = np.round(out)
    return _cast(out, arr.dtype)


def _inverse_affine(center, angle, translate, scale, shear) -> List[float]:
    """Output->input affine map ``[a, b, c, d, e, f]`` of rotate-scale-shear about ``center``
    followed by ``translate`` (angles in degrees)."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    # Forward matrix is R(rot) * Shear(sx, sy) * scale; invert its 2x2 part analytically.
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
    m[2] = m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
    m[5] = m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    return m


def _apply_affine_tensor(img, matrix, out_hw, interpolation, fill):
    arr = _chw(img)
    h, w = arr.shape[-2:]
    oh, ow = out_hw
    # Centred output pixel coordinates -> centred input coordinates -> input pixel indices.
    ys, xs = np.meshgrid(np.arange(oh) - oh * 0.5 + 0.5, np.arange(ow) - ow * 0.5 + 0.5,
                         indexing="ij")
    xin = matrix[0] * xs + matrix[1] * ys + matrix[2] + w * 0.5 - 0.5
    yin = matrix[3] * xs + matrix[4] * ys + matrix[5] + h * 0.5 - 0.5
    return _back(_sample(arr, xin, yin, interpolation, fill), img)


_PIL_FILTERS = {"nearest": 0, "bilinear": 2, "bicubic": 3}


def _pil_resample(mode) -> int:
    mode = InterpolationMode(mode) if isinstance(mode, str) else mode
    return _PIL_FILTERS[mode.value]


def _pil_fill(img, fill):
    if fill is None:
        return None
    bands = len(img.getbands())
    if isinstance(fill, numbers.Number):
        fill = [fill] * bands
    fill = [int(v) if img.mode != "F" else float(v) for v in fill]
    if len(fill) == 1:
        fill = fill * bands
    return fill[0] if bands == 1 else tuple(fill)


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False,
           center: Sequence[int] | None = None, fill: Sequence[float] | None = None):
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` (default: the middle)."""
    if isinstance(interpolation, str):
        interpolation = InterpolationMode(interpolation)
    if _is_pil(img):
        return img.rotate(angle, _pil_resample(interpolation), expand, center,
                          fillcolor=_pil_fill(img, fill))
    _, h, w = get_dimensions(img)
    cen = [0.0, 0.0] if center is None else [c - s * 0.5 for c, s in zip(center, (w, h))]
    m = _inverse_affine(cen, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    oh, ow = h, w
    if expand:
        # Bounding box of the rotated corners (forward map = inverse of m's 2x2 part).
        fwd = np.linalg.inv(np.array([[m[0], m[1]], [m[3], m[4]]]))
        corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]], np.float64) * 0.5
        pts = corners @ fwd.T
        span = np.ceil(pts.max(0) - 1e-4) - np.floor(pts.min(0) + 1e-4)
        ow, oh = int(span[0]), int(span[1])
    return _apply_affine_tensor(img, m, (oh, ow), interpolation, fill)


def affine(img, angle: float, translate: Sequence[int], scale: float, shear,
           interpolation=InterpolationMode.NEAREST, fill: Sequence[float] | None = None,
           center: Sequence[int] | None = None):
    """Rotate (clockwise, degrees), scale, shear (degrees) about the centre, then translate."""
    if isinstance(interpolation, str):
        interpolation = InterpolationMode(interpolation)
    if not isinstance(translate, (list, tuple)) or len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    _, h, w = get_dimensions(img)
    if _is_pil(img):
        cen = [w * 0.5, h * 0.5] if center is None else list(center)
        m = _inverse_affine(cen, angle, translate, scale, shear)
        return img.transform((w, h), _PILImage.AFFINE, m, _pil_resample(interpolation),
                             fillcolor=_pil_fill(img, fill))
    cen = [0.0, 0.0] if center is None else [c - s * 0.5 for c, s in zip(center, (w, h))]
    m = _inverse_affine(cen, angle, [float(t) for t in translate], scale, shear)
    return _apply_affine_tensor(img, m, (h, w), interpolation, fill)


def _perspective_coeffs(startpoints, endpoints) -> List[float]:
    """The 8 coefficients mapping output (end) points to input (start) points."""
    a = np.zeros((8, 8))
    for i, ((sx, sy), (ex, ey)) in enumerate(zip(startpoints, endpoints)):
        a[2 * i] = [ex, ey, 1, 0, 0, 0, -sx * ex, -sx * ey]
        a[2 * i + 1] = [0, 0, 0, ex, ey, 1, -sy * ex, -sy * ey]
    b = np.asarray(startpoints, np.float64).reshape(8)
    return np.linalg.lstsq(a, b, rcond=None)[0].tolist()


def perspective(img, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR,
                fill: Sequence[float] | None = None):
    """Warp so the four ``startpoints`` land on ``endpoints`` (corner lists [x, y])."""
    if isinstance(interpolation, str):
        interpolation = InterpolationMode(interpolation)
    co = _perspective_coeffs(startpoints, endpoints)
    if _is_pil(img):
        return img.transform(img.size, _PILImage.PERSPECTIVE, co, _pil_resample(interpolation),
                             fillcolor=_pil_fill(img, fill))
    arr = _chw(img)
    h, w = arr.shape[-2:]
    ys, xs = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    den = co[6] * xs + co[7] * ys + 1.0
    xin = (co[0] * xs + co[1] * ys + co[2]) / den - 0.5
    yin = (co[3] * xs + co[4] * ys + co[5]) / den - 0.5
    return _back(_sample(arr, xin, yin, interpolation, fill), img)


def _gauss_kernel(size: int, sigma: float) -> np.ndarray:
    x = np.linspace(-(size - 1) * 0.5, (size - 1) * 0.5, size)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(img, kernel_size, sigma=None):
    """Separable Gaussian blur with reflect padding; ``sigma`` defaults from the kernel size."""
    if isinstance(kernel_size, numbers.Number):
        kernel_size = [int(kernel_size), int(kernel_size)]
    kernel_size = list(kernel_size)
    if len(kernel_size) == 1:
        kernel_size = kernel_size * 2
    if len(kernel_size) != 2:
        raise ValueError(f"If kernel_size is a sequence its length should be 2. Got "
                         f"{len(kernel_size)}")
    for k in kernel_size:
        if k % 2 == 0 or k < 0:
            raise ValueError(f"kernel_size should have odd and positive integers. Got "
                             f"{kernel_size}")
    if sigma is None:
        sigma = [k * 0.15 + 0.35 for k in kernel_size]
    elif isinstance(sigma, numbers.Number):
        sigma = [float(sigma), float(sigma)]
    sigma = list(sigma)
    if len(sigma) == 1:
        sigma = sigma * 2
    for s in sigma:
        if s <= 0:
            raise ValueError(f"sigma should have positive values. Got {sigma}")
    if _is_pil(img):
        # torchvision blurs PIL images through the tensor path as well.
        from .functional import pil_to_tensor, to_pil_image
        return to_pil_image(gaussian_blur(pil_to_tensor(img), kernel_size, sigma),
                            mode=img.mode)
    arr = _chw(img)
    kx, ky = _gauss_kernel(kernel_size[0], sigma[0]), _gauss_kernel(kernel_size[1], sigma[1])
    px, py = kernel_size[0] // 2, kernel_size[1] // 2
    width = [(0, 0)] * (arr.ndim - 2) + [(py, py), (px, px)]
    f = np.pad(arr.astype(np.float64), width, mode="reflect")
    h, w = arr.shape[-2:]
    f = sum(ky[i] * f[..., i:i + h, :] for i in range(len(ky)))
    f = sum(kx[i] * f[..., :, i:i + w] for i in range(len(kx)))
    if not _is_float(arr):
        f = np.round(f)
    return _back(_cast(f, arr.dtype), img)


def erase(img: Tensor, i: int, j: int, h: int, w: int, v, inplace: bool = False) -> Tensor:
    """Set the ``h x w`` window at (i, j) to ``v`` (a scalar or a broadcastable tensor)."""
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    if not inplace:
        img = img.clone()
    img[..., i:i + h, j:j + w] = v
    return img


def five_crop(img, size) -> tuple:
    """The four corner crops and the centre crop: ``(tl, tr, bl, br, center)``."""
    if isinstance(size, numbers.Number):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    _, h, w = get_dimensions(img)
    ch, cw = size
    if cw > w or ch > h:
        raise ValueError(f"Requested crop size {size} is bigger than input size {(h, w)}")
    return (crop(img, 0, 0, ch, cw), crop(img, 0, w - cw, ch, cw), crop(img, h - ch, 0, ch, cw),
            crop(img, h - ch, w - cw, ch, cw), center_crop(img, [ch, cw]))


def ten_crop(img, size, vertical_flip: bool = False) -> tuple:
    """``five_crop`` of the image and of its flip (horizontal unless ``vertical_flip``)."""
    if isinstance(size, numbers.Number):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    first = five_crop(img, size)
    return first + five_crop(vflip(img) if vertical_flip else hflip(img), size)


def resized_crop(img, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
    """``crop`` then ``resize`` to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation,
                  antialias=antialias)


def convert_image_dtype(image: Tensor, dtype=None) -> Tensor:
    """Change dtype and rescale: integers span [0, max], floats [0, 1]."""
    from ...backend import dtypes as _dt
    if not isinstance(image, Tensor):
        raise TypeError("Input img should be Tensor Image")
    if dtype is None:
        dtype = _dt.float32
    if image.dtype == dtype:
        return image
    src_float, dst_float = image.is_floating_point(), dtype.is_floating_point
    if src_float and dst_float:
        return image.to(dtype)
    arr = _np(image)
    if src_float:
        dst_np = np.dtype(str(dtype).replace("torch.", ""))
        if (arr.dtype == np.float32 and dst_np in (np.int32, np.int64)) or \
                (arr.dtype == np.float64 and dst_np == np.int64):
            raise RuntimeError(f"The cast from {image.dtype} to {dtype} cannot be performed "
                               "safely.")
        top = float(np.iinfo(dst_np).max)
        # The 1e-3 margin keeps 1.0 on max instead of overflowing to max + 1.
        out = np.trunc(arr.astype(np.float64) * (top + 1.0 - 1e-3)).astype(dst_np)
        from ...creation import as_tensor
        return as_tensor(out, dtype=dtype, device=image.device)
    top_in = int(np.iinfo(arr.dtype).max)
    if dst_float:
        return image.to(dtype) / float(top_in)
    dst_np = np.dtype(str(dtype).replace("torch.", ""))
    top_out = int(np.iinfo(dst_np).max)
    if top_in > top_out:
        out = (arr.astype(np.int64) // ((top_in + 1) // (top_out + 1))).astype(dst_np)
    else:
        out = arr.astype(dst_np) * dst_np.type((top_out + 1) // (top_in + 1))
    from ...creation import as_tensor
    return as_tensor(out, dtype=dtype, device=image.device)


def elastic_transform(img, displacement: Tensor, interpolation=InterpolationMode.BILINEAR,
                      fill: Any = None):
    """Move each pixel by ``displacement`` ``(1, H, W, 2)`` given in [-1, 1] grid units."""
    if isinstance(interpolation, str):
        interpolation = InterpolationMode(interpolation)
    if _is_pil(img):
        from .functional import pil_to_tensor, to_pil_image
        out = elastic_transform(pil_to_tensor(img), displacement, interpolation, fill)
        return to_pil_image(out, mode=img.mode)
    arr = _chw(img)
    h, w = arr.shape[-2:]
    disp = _np(displacement) if isinstance(displacement, Tensor) else np.asarray(displacement)
    if disp.shape != (1, h, w, 2):
        raise ValueError(f"Argument displacement shape should be (1, {h}, {w}, 2), but given "
                         f"{tuple(disp.shape)}")
    # Identity grid (align_corners=False) plus displacement, unnormalised to pixel indices.
    gx = (np.arange(w) + 0.5) * 2.0 / w - 1.0 + disp[0, :, :, 0]
    gy = (np.arange(h)[:, None] + 0.5) * 2.0 / h - 1.0 + disp[0, :, :, 1]
    xin = ((gx + 1.0) * w - 1.0) * 0.5
    yin = ((gy + 1.0) * h - 1.0) * 0.5
    return _back(_sample(arr, xin, yin, interpolation, fill), img)
