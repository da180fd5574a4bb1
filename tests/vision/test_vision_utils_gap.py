"""ember.vision.utils draw_* (oracle: the same drawing done directly with Pillow / NumPy) and
make_grid arguments (oracle: the definitions in torchvision's documentation)."""
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

import ember as E
from ember.vision import utils as U


def _img(seed=0, c=3, h=24, w=30):
    return np.random.default_rng(seed).integers(0, 256, (c, h, w)).astype(np.uint8)


def test_draw_bounding_boxes_matches_pil():
    x = _img()
    boxes = np.array([[1.7, 2.0, 10.0, 12.9], [5.0, 5.0, 25.0, 20.0]])
    out = U.draw_bounding_boxes(E.tensor(x), E.tensor(boxes), labels=["a", "bc"],
                                colors=["red", (0, 255, 0)], width=2)
    canvas = Image.fromarray(np.ascontiguousarray(x.transpose(1, 2, 0)))
    d = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for b, c, t in zip([[1, 2, 10, 12], [5, 5, 25, 20]], [(255, 0, 0), (0, 255, 0)],
                       ["a", "bc"]):
        d.rectangle(b, width=2, outline=c)
        d.text((b[0] + 3, b[1] + 3), t, fill=c, font=font)
    assert out.dtype == E.uint8 and out.shape == (3, 24, 30)
    np.testing.assert_array_equal(out.numpy(), np.asarray(canvas).transpose(2, 0, 1))


def test_draw_bounding_boxes_fill_grey_and_palette():
    g = _img(1, c=1)
    out = U.draw_bounding_boxes(E.tensor(g), E.tensor([[2.0, 3.0, 9.0, 8.0]]), fill=True)
    canvas = Image.fromarray(np.ascontiguousarray(np.repeat(g, 3, 0).transpose(1, 2, 0)))
    # first palette colour is (0, 0, 0): i * constants mod 255 with i = 0
    ImageDraw.Draw(canvas, "RGBA").rectangle([2, 3, 9, 8], width=1, outline=(0, 0, 0),
                                             fill=(0, 0, 0, 100))
    np.testing.assert_array_equal(out.numpy(), np.asarray(canvas).transpose(2, 0, 1))
    assert U._palette(3)[1] == ((2 ** 25 - 1) % 255, (2 ** 15 - 1) % 255, (2 ** 21 - 1) % 255)


def test_draw_bounding_boxes_errors():
    x = E.tensor(_img())
    with pytest.raises(TypeError):
        U.draw_bounding_boxes(_img(), E.zeros((1, 4)))
    with pytest.raises(ValueError):
        U.draw_bounding_boxes(x.float(), E.zeros((1, 4)))
    with pytest.raises(ValueError):
        U.draw_bounding_boxes(x[None], E.zeros((1, 4)))
    with pytest.raises(ValueError):
        U.draw_bounding_boxes(x, E.tensor([[5.0, 0.0, 1.0, 3.0]]))
    with pytest.raises(ValueError):
        U.draw_bounding_boxes(x, E.zeros((2, 4)), labels=["a"])
    with pytest.raises(ValueError):
        U.draw_bounding_boxes(x, E.zeros((2, 4)), colors=["red"])
    with pytest.warns(UserWarning):
        assert U.draw_bounding_boxes(x, E.zeros((0, 4))) is x


def test_draw_segmentation_masks_blend():
    x = _img(2)
    m = np.zeros((2, 24, 30), dtype=bool)
    m[0, :10] = True
    m[1, 5:15, 3:9] = True
    out = U.draw_segmentation_masks(E.tensor(x), E.tensor(m), alpha=0.3,
                                    colors=["blue", (10, 20, 30)])
    painted = x.copy()
    painted[:, m[0]] = np.array([0, 0, 255], np.uint8)[:, None]
    painted[:, m[1]] = np.array([10, 20, 30], np.uint8)[:, None]
    ref = (x.astype(np.float32) * np.float32(0.7) + painted.astype(np.float32)
           * np.float32(0.3)).astype(np.uint8)
    np.testing.assert_array_equal(out.numpy(), ref)
    with pytest.raises(ValueError):
        U.draw_segmentation_masks(E.tensor(x), E.tensor(m.astype(np.uint8)))
    with pytest.raises(ValueError):
        U.draw_segmentation_masks(E.tensor(x), E.tensor(m[:, :5]))
    with pytest.raises(ValueError):
        U.draw_segmentation_masks(E.tensor(x[:1]), E.tensor(m))


def test_draw_keypoints_matches_pil():
    x = _img(3)
    k = np.array([[[3.2, 4.0], [20.0, 15.0], [8.0, 20.0]]])
    out = U.draw_keypoints(E.tensor(x), E.tensor(k), connectivity=[(0, 1), (1, 2)],
                           colors="yellow", radius=3, width=2)
    canvas = Image.fromarray(np.ascontiguousarray(x.transpose(1, 2, 0)))
    d = ImageDraw.Draw(canvas)
    pts = [(3, 4), (20, 15), (8, 20)]
    for px, py in pts:
        d.ellipse([px - 3, py - 3, px + 3, py + 3], fill=(255, 255, 0), outline=None, width=0)
    d.line((pts[0], pts[1]), width=2)
    d.line((pts[1], pts[2]), width=2)
    np.testing.assert_array_equal(out.numpy(), np.asarray(canvas).transpose(2, 0, 1))
    with pytest.raises(ValueError):
        U.draw_keypoints(E.tensor(x), E.tensor(k[0]))


def test_make_grid_arguments():
    rng = np.random.default_rng(4)
    b = rng.uniform(-2, 3, (5, 3, 4, 6)).astype(np.float32)
    g = U.make_grid(E.tensor(b), nrow=2, padding=1, pad_value=0.5).numpy()
    # 2 columns, 3 rows: H = 3 * (4 + 1) + 1, W = 2 * (6 + 1) + 1
    assert g.shape == (3, 16, 15)
    np.testing.assert_array_equal(g[:, 6:10, 8:14], b[3])
    assert (g[:, 0] == 0.5).all() and (g[:, 11:, 8:] == 0.5).all()  # padding and empty cell
    n = U.make_grid(E.tensor(b), normalize=True, value_range=(-1, 1), padding=0).numpy()
    np.testing.assert_allclose(n[:, :4, :6], (np.clip(b[0], -1, 1) + 1) / 2, rtol=1e-6)
    s = U.make_grid(E.tensor(b), normalize=True, scale_each=True, padding=0).numpy()
    one = b[1]
    np.testing.assert_allclose(s[:, :4, 6:12], (one - one.min()) / (one.max() - one.min()),
                               rtol=1e-5)
    grey = U.make_grid(E.tensor(b[:1, :1])).numpy()
    assert grey.shape == (3, 4, 6)
