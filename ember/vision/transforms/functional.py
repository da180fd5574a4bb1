"""Functional image transforms (torchvision.transforms.functional).

An image is a Tensor ``(..., C, H, W)``, a PIL image (when Pillow is installed) or, as ember's
stand-in for PIL, a NumPy array ``(H, W)`` / ``(H, W, C)`` such as ``datasets.MNIST`` returns
when Pillow is absent. Geometric functions return the kind they were given.
"""
from __future__ import annotations

import enum
import numbers
from typing import Any, Sequence

import numpy as np

from ...tensor import Tensor

try:  # Pillow is optional; everything but PIL input/output works without it.
    from PIL import Image as _PILImage
except ImportError:
    _PILImage = None


class InterpolationMode(enum.Enum):
    """Interpolation modes, with torchvision's names and values."""
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _is_pil(img: Any) -> bool:
    return _PILImage is not None and isinstance(img, _PILImage.Image)


def _require_pil(what: str):
    if _PILImage is None:
        raise RuntimeError(f"{what} needs Pillow, which is not installed (pip install pillow)")
    return _PILImage


def get_dimensions(img) -> list:
    """``[channels, height, width]`` of an image."""
    if isinstance(img, Tensor):
        c = 1 if img.ndim == 2 else img.shape[-3]
        return [c, img.shape[-2], img.shape[-1]]
    if _is_pil(img):
        return [len(img.getbands()), img.height, img.width]
    arr = np.asarray(img)
    return [1 if arr.ndim == 2 else arr.shape[2], arr.shape[0], arr.shape[1]]


def get_image_size(img) -> list:
    """``[width, height]`` of an image, as torchvision's ``get_image_size``."""
    _, h, w = get_dimensions(img)
    return [w, h]


def _hw_axes(arr: np.ndarray, is_tensor: bool) -> tuple:
    if is_tensor:
        return arr.ndim - 2, arr.ndim - 1
    return 0, 1


def _rewrap(arr: np.ndarray, like):
    """Return ``arr`` as the same kind (Tensor or ndarray), dtype and device as ``like``."""
    if isinstance(like, Tensor):
        from ...creation import as_tensor
        # The work is done on host arrays; the result goes back to the input's device.
        return as_tensor(np.ascontiguousarray(arr), dtype=like.dtype, device=like.device)
    return arr


def _np(img) -> np.ndarray:
    return img.detach().cpu().numpy() if isinstance(img, Tensor) else np.asarray(img)


# ---------------------------------------------------------------------- conversion
def to_tensor(pic) -> Tensor:
    """A PIL image or ``(H, W[, C])`` array -> float ``(C, H, W)`` tensor; uint8 is scaled by
    1/255, other dtypes keep their values (torchvision's ``ToTensor``)."""
    from ...backend.dtypes import get_default_dtype
    from ...creation import from_numpy
    if isinstance(pic, Tensor):
        raise TypeError("pic should be PIL Image or ndarray. Got <class 'ember.Tensor'>")
    if _is_pil(pic):
        arr = np.array(pic, copy=True)
        if pic.mode == "1":
            arr = arr.astype(np.uint8) * 255
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        np_float = np.float64 if get_default_dtype().itemsize == 8 else np.float32
        return from_numpy(chw.astype(np_float) / np_float(255))
    return from_numpy(chw)


def pil_to_tensor(pic) -> Tensor:
    """A PIL image (or ``(H, W[, C])`` array) -> ``(C, H, W)`` tensor of the same dtype."""
    from ...creation import from_numpy
    if not (_is_pil(pic) or isinstance(pic, np.ndarray)):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    arr = np.array(pic, copy=True)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def to_pil_image(pic, mode: str | None = None):
    """A ``(C, H, W)`` tensor or ``(H, W[, C])`` array -> PIL image (needs Pillow)."""
    image = _require_pil("to_pil_image")
    if isinstance(pic, Tensor):
        arr = pic.detach().cpu().numpy()
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise ValueError(f"pic should be 2/3 dimensional. Got {arr.ndim} dimensions.")
        if np.issubdtype(arr.dtype, np.floating) and mode != "F":
            arr = (arr * 255).astype(np.uint8)  # torchvision truncates (mul(255).byte())
        arr = arr.transpose(1, 2, 0)
    else:
        arr = np.asarray(pic)
        if arr.ndim == 2:
            arr = arr[:, :, None]
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return image.fromarray(np.ascontiguousarray(arr), mode=mode) if mode else \
        image.fromarray(np.ascontiguousarray(arr))


_MEAN_STD_CACHE: dict = {}


def _mean_std(mean, std, dtype, device) -> tuple:
    """(C, 1, 1) mean and std tensors, cached: Normalize runs once per sample."""
    mean = tuple(mean) if not isinstance(mean, numbers.Number) else (mean,)
    std = tuple(std) if not isinstance(std, numbers.Number) else (std,)
    key = (mean, std, dtype, str(device))
    hit = _MEAN_STD_CACHE.get(key)
    if hit is not None:
        return hit
    from ...creation import tensor as make
    mean_t = make(list(mean), dtype=dtype, device=device).view(-1, 1, 1)
    std_t = make(list(std), dtype=dtype, device=device).view(-1, 1, 1)
    if bool((std_t == 0).any()):
        raise ValueError(f"std evaluated to zero after conversion to {dtype}, leading "
                         "to division by zero.")
    if len(_MEAN_STD_CACHE) > 64:
        _MEAN_STD_CACHE.clear()
    _MEAN_STD_CACHE[key] = (mean_t, std_t)
    return mean_t, std_t


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float],
              inplace: bool = False) -> Tensor:
    """``(tensor - mean[c]) / std[c]`` per channel of a float ``(..., C, H, W)`` tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tuple(tensor.shape)}")
    mean_t, std_t = _mean_std(mean, std, tensor.dtype, tensor.device)
    if inplace:
        return tensor.sub_(mean_t).div_(std_t)
    return (tensor - mean_t) / std_t


# ---------------------------------------------------------------------- geometry
def _parse_padding(padding) -> tuple:
    """-> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Number):
        p = int(padding)
        return p, p, p, p
    padding = [int(p) for p in padding]
    if len(padding) == 1:
        return padding[0], padding[0], padding[0], padding[0]
    if len(padding) == 2:
        return padding[0], padding[1], padding[0], padding[1]
    if len(padding) == 4:
        return tuple(padding)
    raise ValueError("Padding must be an int or a 1, 2, or 4 element tuple, not a "
                     f"{len(padding)} element tuple")


def pad(img, padding, fill: float = 0, padding_mode: str = "constant"):
    """Pad the borders: ``padding`` is int, (left/right, top/bottom) or (l, t, r, b)."""
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _parse_padding(padding)
    if _is_pil(img):
        arr = np.asarray(img)
        out = pad(arr, (left, top, right, bottom), fill, padding_mode)
        return _PILImage.fromarray(out, mode=img.mode)
    arr = _np(img)
    ha, wa = _hw_axes(arr, isinstance(img, Tensor))
    width = [(0, 0)] * arr.ndim
    width[ha] = (top, bottom)
    width[wa] = (left, right)
    if padding_mode == "constant":
        out = np.pad(arr, width, mode="constant", constant_values=fill)
    else:
        out = np.pad(arr, width, mode=padding_mode)
    return _rewrap(out, img)


def crop(img, top: int, left: int, height: int, width: int):
    """The ``height x width`` window at (``top``, ``left``); outside pixels are zero."""
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    _, h, w = get_dimensions(img)
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        # torchvision pads with zeros where the window leaves the image.
        pads = (max(-left, 0), max(-top, 0), max(right - w, 0), max(bottom - h, 0))
        img = pad(img, pads, 0)
        top, left = max(top, 0), max(left, 0)
    arr = _np(img)
    ha, wa = _hw_axes(arr, isinstance(img, Tensor))
    index = [slice(None)] * arr.ndim
    index[ha] = slice(top, top + height)
    index[wa] = slice(left, left + width)
    return _rewrap(arr[tuple(index)], img)


def _pair(size) -> tuple:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    size = tuple(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    return int(size[0]), int(size[1])


def center_crop(img, output_size):
    """Crop the centre ``output_size`` (int or (h, w)); pads with zeros when it is larger."""
    crop_h, crop_w = _pair(output_size)
    _, h, w = get_dimensions(img)
    if crop_w > w or crop_h > h:
        pads = ((crop_w - w) // 2 if crop_w > w else 0, (crop_h - h) // 2 if crop_h > h else 0,
                (crop_w - w + 1) // 2 if crop_w > w else 0,
                (crop_h - h + 1) // 2 if crop_h > h else 0)
        img = pad(img, pads, fill=0)
        _, h, w = get_dimensions(img)
        if crop_w == w and crop_h == h:
            return img
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return crop(img, top, left, crop_h, crop_w)


def hflip(img):
    """Mirror left-right."""
    if _is_pil(img):
        return img.transpose(_PILImage.FLIP_LEFT_RIGHT)
    if isinstance(img, Tensor):
        return img.flip(-1)
    return np.ascontiguousarray(np.asarray(img)[:, ::-1])


def vflip(img):
    """Mirror top-bottom."""
    if _is_pil(img):
        return img.transpose(_PILImage.FLIP_TOP_BOTTOM)
    if isinstance(img, Tensor):
        return img.flip(-2)
    return np.ascontiguousarray(np.asarray(img)[::-1])


def _resized_size(h: int, w: int, size, max_size: int | None) -> tuple:
    if isinstance(size, numbers.Number) or len(size) == 1:
        requested = int(size if isinstance(size, numbers.Number) else size[0])
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = requested, int(requested * long / short)
        if max_size is not None:
            if max_size <= requested:
                raise ValueError(f"max_size = {max_size} must be strictly greater than the "
                                 f"requested size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    if max_size is not None:
        raise ValueError("max_size should only be passed if size specifies the length of the "
                         "smaller edge, i.e. size should be an int or a sequence of length 1 "
                         "in torchscript mode.")
    return int(size[0]), int(size[1])


def _axis_weights(n_in: int, n_out: int, antialias: bool) -> np.ndarray:
    """(n_out, n_in) weights of the triangle (bilinear) filter, widened by the scale when
    shrinking with antialiasing: the same filter PIL and torchvision's antialias use."""
    scale = n_in / n_out
    support = max(scale, 1.0) if antialias else 1.0
    centers = (np.arange(n_out) + 0.5) * scale
    dist = (np.arange(n_in)[None, :] + 0.5 - centers[:, None]) / support
    weights = np.clip(1.0 - np.abs(dist), 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None,
           antialias: bool | None = True):
    """Resize to ``size``: an int matches the smaller edge (keeping the aspect ratio),
    ``(h, w)`` is exact. Supports NEAREST and BILINEAR (antialiased when shrinking)."""
    if isinstance(interpolation, str):
        interpolation = InterpolationMode(interpolation)
    _, h, w = get_dimensions(img)
    new_h, new_w = _resized_size(h, w, size, max_size)
    if (new_h, new_w) == (h, w):
        return img
    if _is_pil(img):
        pil_filter = {InterpolationMode.NEAREST: _PILImage.NEAREST,
                      InterpolationMode.BILINEAR: _PILImage.BILINEAR,
                      InterpolationMode.BICUBIC: _PILImage.BICUBIC}[interpolation]
        return img.resize((new_w, new_h), pil_filter)
    arr = _np(img)
    ha, wa = _hw_axes(arr, isinstance(img, Tensor))
    if interpolation in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        if interpolation is InterpolationMode.NEAREST:
            rows = np.floor(np.arange(new_h) * (h / new_h)).astype(np.int64)
            cols = np.floor(np.arange(new_w) * (w / new_w)).astype(np.int64)
        else:
            rows = np.floor((np.arange(new_h) + 0.5) * (h / new_h)).astype(np.int64)
            cols = np.floor((np.arange(new_w) + 0.5) * (w / new_w)).astype(np.int64)
        out = np.take(np.take(arr, np.minimum(rows, h - 1), axis=ha),
                      np.minimum(cols, w - 1), axis=wa)
        return _rewrap(out, img)
    if interpolation is not InterpolationMode.BILINEAR:
        raise NotImplementedError(f"ember's resize supports NEAREST and BILINEAR on tensors, "
                                  f"not {interpolation}")
    work = arr.astype(np.float64)
    wy = _axis_weights(h, new_h, bool(antialias))
    wx = _axis_weights(w, new_w, bool(antialias))
    work = np.moveaxis(np.tensordot(wy, work, axes=([1], [ha])), 0, ha)
    work = np.moveaxis(np.tensordot(wx, work, axes=([1], [wa])), 0, wa)
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        work = np.clip(np.round(work), info.min, info.max)
    return _rewrap(work.astype(arr.dtype), img)


from ._functional_gap import (adjust_brightness, adjust_contrast, adjust_gamma,  # noqa: E402
                              adjust_hue, adjust_saturation, adjust_sharpness, affine,
                              autocontrast, convert_image_dtype, elastic_transform, equalize,
                              erase, five_crop, gaussian_blur, invert, perspective, posterize,
                              resized_crop, rgb_to_grayscale, rotate, solarize, ten_crop,
                              to_grayscale)
