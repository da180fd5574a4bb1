"""Image utilities: ``make_grid`` and ``save_image`` (torchvision.utils)."""
from __future__ import annotations

import math
from typing import BinaryIO, Sequence

import numpy as np

from ..tensor import Tensor

__all__ = ["make_grid", "save_image", "draw_bounding_boxes", "draw_segmentation_masks",
           "draw_keypoints"]


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


# --- drawing (torchvision.utils.draw_*): Pillow's ImageDraw on uint8 (C, H, W) images ---

def _palette(num: int) -> list[tuple[int, int, int]]:
    # torchvision's deterministic palette: multiples of three large odd constants mod 255.
    base = np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1], dtype=np.int64)
    return [tuple(int(v) for v in (i * base) % 255) for i in range(num)]


def _rgb(color) -> tuple[int, ...]:
    from PIL import ImageColor
    if isinstance(color, str):
        return tuple(ImageColor.getrgb(color))
    return tuple(int(v) for v in color)


def _parse_colors(colors, num: int) -> list[tuple[int, ...]]:
    if colors is None:
        return _palette(num)
    if isinstance(colors, list):
        if len(colors) < num:
            raise ValueError(f"Number of colors must be equal or larger than the number of "
                             f"objects, but got {len(colors)} < {num}.")
        return [_rgb(c) for c in colors[:num]]
    return [_rgb(colors)] * num


def _check_image(image) -> np.ndarray:
    if not isinstance(image, Tensor):
        raise TypeError(f"Tensor expected, got {type(image)}")
    if image.dtype != _uint8():
        raise ValueError(f"Tensor uint8 expected, got {image.dtype}")
    if image.dim() != 3:
        raise ValueError("Pass individual images, not batches")
    if image.shape[0] not in (1, 3):
        raise ValueError("Only grayscale and RGB images are supported")
    arr = image.detach().cpu().numpy()
    if arr.shape[0] == 1:
        arr = np.concatenate([arr, arr, arr], 0)
    return np.ascontiguousarray(arr.transpose(1, 2, 0))


def _uint8():
    from .. import uint8
    return uint8


def _from_hwc(arr: np.ndarray, device) -> Tensor:
    from ..creation import from_numpy
    out = from_numpy(np.ascontiguousarray(np.asarray(arr, dtype=np.uint8).transpose(2, 0, 1)))
    return out if str(device) == "cpu" else out.to(device)


def draw_bounding_boxes(image: Tensor, boxes: Tensor, labels: list[str] | None = None,
                        colors=None, fill: bool = False, width: int = 1,
                        font: str | None = None, font_size: int | None = None) -> Tensor:
    """Draw xyxy ``boxes`` (and optional ``labels``) on a uint8 ``(C, H, W)`` image.

    Returns a new uint8 ``(3, H, W)`` tensor; grey input is drawn on as RGB.
    """
    import warnings
    from PIL import Image, ImageDraw, ImageFont
    pixels = _check_image(image)
    b = boxes.detach().cpu().numpy()
    if b.ndim != 2 or (len(b) and b.shape[1] != 4):
        raise ValueError("boxes should be a (N, 4) tensor")
    if ((b[:, 0] > b[:, 2]) | (b[:, 1] > b[:, 3])).any():
        raise ValueError("Boxes need to be in (xmin, ymin, xmax, ymax) format. Use "
                         "torchvision.ops.box_convert to convert them")
    num = len(b)
    if num == 0:
        warnings.warn("boxes doesn't contain any box. No box was drawn")
        return image
    if labels is None:
        labels = [None] * num
    elif len(labels) != num:
        raise ValueError(f"Number of boxes ({num}) and labels ({len(labels)}) mismatch. "
                         f"Please specify labels for each box.")
    cols = _parse_colors(colors, num)
    if font is None:
        txt_font = ImageFont.load_default()
    else:
        txt_font = ImageFont.truetype(font=font, size=font_size or 10)
    canvas = Image.fromarray(pixels)
    draw = ImageDraw.Draw(canvas, "RGBA" if fill else None)
    for box, color, label in zip(b.astype(np.int64).tolist(), cols, labels):
        if fill:
            draw.rectangle(box, width=width, outline=color, fill=color[:3] + (100,))
        else:
            draw.rectangle(box, width=width, outline=color)
        if label is not None:
            margin = width + 1
            draw.text((box[0] + margin, box[1] + margin), label, fill=color, font=txt_font)
    return _from_hwc(np.asarray(canvas), image.device)


def draw_segmentation_masks(image: Tensor, masks: Tensor, alpha: float = 0.8,
                            colors=None) -> Tensor:
    """Blend boolean ``(N, H, W)`` (or ``(H, W)``) masks onto a uint8 ``(3, H, W)`` image."""
    if not isinstance(image, Tensor):
        raise TypeError(f"The image must be a tensor, got {type(image)}")
    if image.dtype != _uint8():
        raise ValueError(f"The image dtype must be uint8, got {image.dtype}")
    if image.dim() != 3:
        raise ValueError("Pass individual images, not batches")
    if image.shape[0] != 3:
        raise ValueError("Pass an RGB image. Other Image formats are not supported")
    m = masks.detach().cpu().numpy()
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3:
        raise ValueError("masks must be of shape (H, W) or (batch_size, H, W)")
    if m.dtype != np.bool_:
        raise ValueError(f"The masks must be of dtype bool. Got {masks.dtype}")
    if m.shape[-2:] != tuple(image.shape[-2:]):
        raise ValueError("The image and the masks must have the same height and width")
    if m.shape[0] == 0:
        import warnings
        warnings.warn("masks doesn't contain any mask. No mask was drawn")
        return image
    cols = _parse_colors(colors, m.shape[0])
    img = image.detach().cpu().numpy()
    painted = img.copy()
    for mask, color in zip(m, cols):
        painted[:, mask] = np.asarray(color[:3], dtype=np.uint8)[:, None]
    # torchvision blends in float32 and truncates back to uint8.
    a = np.float32(alpha)
    out = img.astype(np.float32) * (np.float32(1) - a) + painted.astype(np.float32) * a
    return _from_hwc(out.astype(np.uint8).transpose(1, 2, 0), image.device)


def draw_keypoints(image: Tensor, keypoints: Tensor, connectivity=None, colors=None,
                   radius: int = 2, width: int = 3) -> Tensor:
    """Draw ``(num_instances, K, 2)`` keypoints as discs, joined by ``connectivity`` lines."""
    from PIL import Image, ImageDraw
    pixels = _check_image(image)
    if image.shape[0] != 3:
        raise ValueError("Pass an RGB image. Other Image formats are not supported")
    k = keypoints.detach().cpu().numpy()
    if k.ndim != 3:
        raise ValueError("keypoints must be of shape (num_instances, K, 2)")
    fill = _rgb(colors) if colors is not None else None
    canvas = Image.fromarray(pixels)
    draw = ImageDraw.Draw(canvas)
    for kpts in k.astype(np.int64).tolist():
        for x, y in kpts:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=fill,
                         outline=None, width=0)
        for start, end in connectivity or []:
            draw.line((tuple(kpts[start]), tuple(kpts[end])), width=width)
    return _from_hwc(np.asarray(canvas), image.device)
