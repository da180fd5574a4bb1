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
    """Decode an 8-bit, non-interlaced PNG (any filter); used by the tests."""
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
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    stride = w * channels
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + stride)
    out = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if kind in (0, 2):
            cur = line + (prev if kind == 2 else 0)
        elif kind in (1, 3, 4):
            # Sub / Average / Paeth depend on the reconstructed byte to the left: go by pixel.
            cur = np.zeros(stride, np.int32)
            for x in range(stride):
                a = cur[x - channels] if x >= channels else 0
                b = prev[x]
                c = prev[x - channels] if x >= channels else 0
                if kind == 1:
                    pred = a
                elif kind == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + pred) & 0xFF
        else:
            raise ValueError(f"bad PNG filter type {kind}")
        cur &= 0xFF
        out[y] = cur
        prev = cur
    pixels = out.astype(np.uint8).reshape(h, w, channels)
    return pixels[:, :, 0] if channels == 1 else pixels
