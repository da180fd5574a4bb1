"""ember.vision.io: read/write round trips through Pillow (the oracle for pixel values)."""
import io

import numpy as np
import pytest
from PIL import Image

import ember as E
from ember.vision import io as vio
from ember.vision.io import ImageReadMode


def _img(c=3, h=6, w=9, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (c, h, w)).astype(np.uint8)


def test_read_write_file_roundtrip(tmp_path):
    data = np.arange(256, dtype=np.uint8)
    p = tmp_path / "raw.bin"
    vio.write_file(str(p), E.tensor(data))
    assert p.read_bytes() == data.tobytes()
    back = vio.read_file(str(p))
    assert back.dtype == E.uint8 and back.shape == (256,)
    np.testing.assert_array_equal(back.numpy(), data)


@pytest.mark.parametrize("c", [1, 3, 4])
def test_png_lossless_roundtrip(tmp_path, c):
    x = _img(c)
    p = tmp_path / "a.png"
    vio.write_png(E.tensor(x), str(p), compression_level=9)
    # Pillow reads back the same pixels.
    pil = np.asarray(Image.open(p))
    np.testing.assert_array_equal(pil.reshape(6, 9, c).transpose(2, 0, 1), x)
    r = vio.read_image(str(p))
    assert r.dtype == E.uint8 and r.shape == (c, 6, 9)
    np.testing.assert_array_equal(r.numpy(), x)
    np.testing.assert_array_equal(vio.decode_png(vio.encode_png(E.tensor(x))).numpy(), x)


def test_read_modes_match_pil_convert(tmp_path):
    x = _img(3)
    p = tmp_path / "rgb.png"
    Image.fromarray(x.transpose(1, 2, 0)).save(p)
    for mode, pil_mode, c in [(ImageReadMode.GRAY, "L", 1), (ImageReadMode.RGB_ALPHA, "RGBA", 4),
                              (ImageReadMode.GRAY_ALPHA, "LA", 2), (ImageReadMode.RGB, "RGB", 3)]:
        out = vio.read_image(str(p), mode)
        ref = np.asarray(Image.open(p).convert(pil_mode)).reshape(6, 9, c).transpose(2, 0, 1)
        np.testing.assert_array_equal(out.numpy(), ref)
    assert ImageReadMode.RGBA is ImageReadMode.RGB_ALPHA


def test_jpeg_roundtrip_matches_pil(tmp_path):
    x = _img(3, 16, 16)
    enc = vio.encode_jpeg(E.tensor(x), quality=90)
    assert enc.dtype == E.uint8 and enc.dim() == 1
    buf = io.BytesIO()
    Image.fromarray(x.transpose(1, 2, 0)).save(buf, format="JPEG", quality=90)
    ref = np.asarray(Image.open(buf)).transpose(2, 0, 1)
    dec = vio.decode_jpeg(enc)
    np.testing.assert_array_equal(dec.numpy(), ref)
    p = tmp_path / "a.jpg"
    vio.write_jpeg(E.tensor(x), str(p), quality=90)
    np.testing.assert_array_equal(vio.read_image(str(p)).numpy(), ref)
    assert isinstance(vio.encode_jpeg([E.tensor(x)] * 2), list)
    assert len(vio.decode_jpeg([enc, enc])) == 2
    with pytest.raises(RuntimeError):
        vio.decode_png(enc)


def test_errors():
    x = E.tensor(_img(3))
    with pytest.raises(ValueError):
        vio.encode_jpeg(x, quality=0)
    with pytest.raises(ValueError):
        vio.encode_jpeg(x, quality=101)
    with pytest.raises(RuntimeError):
        vio.encode_png(x, compression_level=10)
    with pytest.raises(RuntimeError):
        vio.encode_png(E.zeros(3, 4, 4))
    with pytest.raises(RuntimeError):
        vio.encode_png(E.tensor(_img(2)))


def test_lazy_attribute():
    import ember.vision as V
    assert V.io.read_image is vio.read_image
