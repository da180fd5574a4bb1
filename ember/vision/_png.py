"""A minimal PNG encoder (8-bit grey, RGB or RGBA, no interlace) for when Pillow is absent."""
from __future__ import annotations

import struct
import zlib

import numpy as np


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def encode_png(image: np.ndarray) -> bytes:
    """Encode a uint8 array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) as PNG bytes."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"encode_png expects uint8 pixels, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        color_type = 0
    elif arr.ndim == 3 and arr.shape[2] in (3, 4):
        color_type = 2 if arr.shape[2] == 3 else 6
    else:
        raise ValueError(f"encode_png expects (H, W[, 1|3|4]) pixels, got shape {arr.shape}")
    h, w = arr.shape[:2]
    rows = np.ascontiguousarray(arr).reshape(h, -1)
    # Filter type 0 (None) on every scanline: simple, and zlib still compresses plots well.
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))


def write_png(fp, image: np.ndarray) -> None:
    """Write ``image`` (see ``encode_png``) to a path or a binary file object."""
    data = encode_png(image)
    if hasattr(fp, "write"):
        fp.write(data)
    else:
        with open(fp, "wb") as f:
            f.write(data)


def decode_png(data: bytes) -> np.ndarray:
    """Decode a PNG written by ``encode_png`` (filter 0 only); used by the tests."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, w, h, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        payload = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            w, h, _, ctype = struct.unpack(">IIBB", payload[:10])
        elif kind == b"IDAT":
            idat += payload
    channels = {0: 1, 2: 3, 6: 4}[ctype]
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * channels)
    if (rows[:, 0] != 0).any():
        raise ValueError("decode_png only reads filter type 0")
    out = rows[:, 1:].reshape(h, w, channels)
    return out[:, :, 0] if channels == 1 else out
