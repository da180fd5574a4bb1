"""torchvision.io image reading/writing through Pillow: uint8 ``(C, H, W)`` tensors and raw
encoded bytes as 1-D uint8 tensors, with torchvision's names and arguments."""
from __future__ import annotations

import enum
import io as _io
import os

import numpy as np

from ..creation import from_numpy
from ..tensor import Tensor

__all__ = ["ImageReadMode", "read_file", "write_file", "decode_image", "decode_png",
           "decode_jpeg", "read_image", "encode_png", "encode_jpeg", "write_png", "write_jpeg"]


class ImageReadMode(enum.Enum):
    """Colour mode to convert decoded images to (``UNCHANGED`` keeps the file's)."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = RGB_ALPHA


def _pil():
    try:
        from PIL import Image, ImageOps
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("ember.vision.io needs Pillow (pip install pillow)") from exc
    return Image, ImageOps


def read_file(path: str) -> Tensor:
    """The bytes of a file as a 1-D uint8 tensor."""
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    return from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def write_file(filename: str, data: Tensor) -> None:
    """Write a 1-D uint8 tensor's bytes to ``filename``."""
    arr = np.ascontiguousarray(data.detach().cpu().numpy()).astype(np.uint8, copy=False)
    with open(os.fspath(filename), "wb") as f:
        f.write(arr.tobytes())


def _bytes_of(input) -> bytes:
    if isinstance(input, (str, os.PathLike)):
        with open(os.fspath(input), "rb") as f:
            return f.read()
    if not isinstance(input, Tensor):
        raise TypeError(f"Expected a Tensor or a path, got {type(input)}")
    arr = input.detach().cpu().numpy()
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise RuntimeError("Expected a 1 dimensional uint8 tensor of encoded bytes, got "
                           f"{arr.ndim} dims of {arr.dtype}")
    return arr.tobytes()


_MODES = {ImageReadMode.GRAY: "L", ImageReadMode.GRAY_ALPHA: "LA",
          ImageReadMode.RGB: "RGB", ImageReadMode.RGB_ALPHA: "RGBA"}


def _decode(data: bytes, mode, apply_exif_orientation: bool, expect: str | None) -> Tensor:
    Image, ImageOps = _pil()
    if isinstance(mode, str):
        mode = ImageReadMode[mode.upper()]
    elif isinstance(mode, int):
        mode = ImageReadMode(mode)
    img = Image.open(_io.BytesIO(data))
    if expect is not None and img.format != expect:
        raise RuntimeError(f"Expected a {expect} image, got {img.format}")
    if apply_exif_orientation:
        img = ImageOps.exif_transpose(img)
    if mode == ImageReadMode.UNCHANGED:
        # Palette and bilevel images decode to their colours, as libpng/libjpeg do.
        if img.mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif img.mode not in ("L", "LA", "RGB", "RGBA", "I;16", "I"):
            img = img.convert("RGB")
    else:
        img = img.convert(_MODES[mode])
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        # 16-bit greyscale: torchvision keeps 16 bits only for PNG as uint16; keep 8.
        arr = (arr.astype(np.uint32) >> 8).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def decode_image(input, mode: ImageReadMode = ImageReadMode.UNCHANGED,
                 apply_exif_orientation: bool = False) -> Tensor:
    """Decode PNG/JPEG/GIF/WebP... bytes (or a path) into a uint8 ``(C, H, W)`` tensor."""
    return _decode(_bytes_of(input), mode, apply_exif_orientation, None)


def decode_png(input: Tensor, mode: ImageReadMode = ImageReadMode.UNCHANGED,
               apply_exif_orientation: bool = False) -> Tensor:
    """Decode PNG bytes into a uint8 ``(C, H, W)`` tensor."""
    return _decode(_bytes_of(input), mode, apply_exif_orientation, "PNG")


def decode_jpeg(input, mode: ImageReadMode = ImageReadMode.UNCHANGED, device="cpu",
                apply_exif_orientation: bool = False):
    """Decode JPEG bytes (or a list of them) into uint8 ``(C, H, W)`` tensors."""
    if isinstance(input, (list, tuple)):
        return [decode_jpeg(x, mode, device, apply_exif_orientation) for x in input]
    out = _decode(_bytes_of(input), mode, apply_exif_orientation, "JPEG")
    return out if str(device) == "cpu" else out.to(device)


def read_image(path: str, mode: ImageReadMode = ImageReadMode.UNCHANGED,
               apply_exif_orientation: bool = False) -> Tensor:
    """Read an image file into a uint8 ``(C, H, W)`` tensor."""
    return decode_image(read_file(path), mode, apply_exif_orientation)


def _to_pil(input: Tensor):
    Image, _ = _pil()
    arr = input.detach().cpu().numpy()
    if arr.dtype != np.uint8:
        raise RuntimeError(f"Input tensor dtype should be uint8, got {arr.dtype}")
    if arr.ndim != 3:
        raise RuntimeError(f"Input data should be a 3-dimensional tensor, got {arr.ndim} dims")
    c = arr.shape[0]
    if c not in (1, 3, 4):
        raise RuntimeError(f"The number of channels should be 1, 3 or 4, got: {c}")
    hwc = np.ascontiguousarray(arr.transpose(1, 2, 0))
    return Image.fromarray(hwc[:, :, 0] if c == 1 else hwc)


def _encoded(img, **save_kwargs) -> Tensor:
    buf = _io.BytesIO()
    img.save(buf, **save_kwargs)
    return from_numpy(np.frombuffer(buf.getvalue(), dtype=np.uint8).copy())


def encode_png(input: Tensor, compression_level: int = 6) -> Tensor:
    """Encode a uint8 ``(C, H, W)`` image as PNG bytes (1-D uint8 tensor)."""
    if not 0 <= compression_level <= 9:
        raise RuntimeError("Compression level should be between 0 and 9")
    return _encoded(_to_pil(input), format="PNG", compress_level=int(compression_level))


def write_png(input: Tensor, filename: str, compression_level: int = 6) -> None:
    """Encode as PNG and write to ``filename``."""
    write_file(filename, encode_png(input, compression_level))


def encode_jpeg(input, quality: int = 75):
    """Encode a uint8 ``(C, H, W)`` image (or a list) as JPEG bytes (1-D uint8 tensors)."""
    if quality < 1 or quality > 100:
        raise ValueError("Image quality should be a positive number between 1 and 100")
    if isinstance(input, (list, tuple)):
        if not input:
            raise ValueError("encode_jpeg requires at least one input tensor when a list is "
                             "passed")
        return [encode_jpeg(x, quality) for x in input]
    img = _to_pil(input)
    if img.mode == "RGBA":
        raise RuntimeError("The number of channels should be 1 or 3, got: 4")
    return _encoded(img, format="JPEG", quality=int(quality))


def write_jpeg(input: Tensor, filename: str, quality: int = 75) -> None:
    """Encode as JPEG and write to ``filename``."""
    write_file(filename, encode_jpeg(input, quality))
