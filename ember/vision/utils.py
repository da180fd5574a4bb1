"""Image utilities: ``make_grid`` and ``save_image`` (torchvision.utils)."""
from __future__ import annotations

import math
from typing import BinaryIO, Sequence

import numpy as np

from ..tensor import Tensor

__all__ = ["make_grid", "save_image"]


def _as_batch(tensor) -> np.ndarray:
    if isinstance(tensor, (list, tuple)):
        arr = np.stack([t.detach().cpu().numpy() if isinstance(t, Tensor) else np.asarray(t)
                        for t in tensor])
    elif isinstance(tensor, Tensor):
        arr = tensor.detach().cpu().numpy()
    else:
        raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        if arr.shape[0] == 1:
            arr = np.concatenate([arr, arr, arr], 0)
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"make_grid expects a 2-D, 3-D or 4-D tensor, got shape "
                         f"{tuple(arr.shape)}")
    if arr.shape[1] == 1:
        # Single-channel images become grey RGB, as torchvision does.
        arr = np.concatenate([arr, arr, arr], 1)
    return arr


def _normalize(arr: np.ndarray, value_range) -> np.ndarray:
    if value_range is not None:
        low, high = float(value_range[0]), float(value_range[1])
    else:
        low, high = float(arr.min()), float(arr.max())
    arr = np.clip(arr, low, high)
    return (arr - low) / max(high - low, 1e-5)


def make_grid(tensor: Tensor | Sequence[Tensor], nrow: int = 8, padding: int = 2,
              normalize: bool = False, value_range: tuple | None = None,
              scale_each: bool = False, pad_value: float = 0.0) -> Tensor:
    """Tile a batch of images into one image, ``nrow`` images per row.

    Args:
        tensor: a ``(B, C, H, W)`` tensor or a list of ``(C, H, W)`` tensors.
        nrow: images per row.
        padding: pixels between (and around) the tiles.
        normalize: shift/scale to [0, 1] using ``value_range`` (default: min and max).
        value_range: ``(low, high)`` used by ``normalize``.
        scale_each: normalize each image separately.
        pad_value: value of the padding pixels.

    Returns:
        a ``(C, H', W')`` tensor (3 channels for grey input).
    """
    from ..creation import from_numpy
    arr = _as_batch(tensor).copy()
    if normalize:
        arr = arr.astype(np.float64) if not np.issubdtype(arr.dtype, np.floating) else arr
        if scale_each:
            arr = np.stack([_normalize(a, value_range) for a in arr])
        else:
            arr = _normalize(arr, value_range)
    if arr.shape[0] == 1:
        return from_numpy(np.ascontiguousarray(arr[0]))
    b, c, h, w = arr.shape
    xmaps = min(nrow, b)
    ymaps = int(math.ceil(b / xmaps))
    cell_h, cell_w = h + padding, w + padding
    grid = np.full((c, cell_h * ymaps + padding, cell_w * xmaps + padding), pad_value,
                   dtype=arr.dtype)
    for k in range(b):
        y, x = divmod(k, xmaps)
        top, left = y * cell_h + padding, x * cell_w + padding
        grid[:, top:top + h, left:left + w] = arr[k]
    return from_numpy(grid)


def _to_uint8_hwc(grid: Tensor) -> np.ndarray:
    arr = grid.detach().cpu().numpy().astype(np.float64)
    # torchvision: mul(255).add_(0.5).clamp_(0, 255) then truncate to uint8.
    arr = np.clip(arr * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr.transpose(1, 2, 0))


def save_image(tensor: Tensor | Sequence[Tensor], fp: str | BinaryIO, format: str | None = None,
               **kwargs) -> None:
    """Save a tensor (or a batch, tiled with ``make_grid(**kwargs)``) as an image file.

    Uses Pillow when it is installed (any format it knows); otherwise writes PNG itself.

    Args:
        tensor: values in [0, 1]; ``(C, H, W)``, ``(B, C, H, W)`` or a list.
        fp: a file name or a binary file object.
        format: the image format when ``fp`` is a file object (Pillow only).
        **kwargs: passed to ``make_grid``.
    """
    grid = make_grid(tensor, **kwargs)
    pixels = _to_uint8_hwc(grid)
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        Image.fromarray(pixels).save(fp, format=format)
        return
    name = fp if isinstance(fp, str) else getattr(fp, "name", "")
    if format not in (None, "png", "PNG") or (isinstance(name, str) and name
                                              and not name.lower().endswith(".png")
                                              and format is None):
        raise RuntimeError("save_image without Pillow can only write PNG files; "
                           "install Pillow (pip install pillow) for other formats")
    from ._png import write_png
    write_png(fp, pixels)
