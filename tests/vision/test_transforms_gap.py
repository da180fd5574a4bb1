"""torchvision transforms beyond the basics: expected values from torch (CPU), PIL or math.
Tensor inputs are made on the device under test (EMBER_TEST_DEVICE); PIL paths are host-only."""
import colorsys
import math
import os
import sys

import numpy as np
import pytest
import torch

import ember
import ember.vision.transforms as T
import ember.vision.transforms.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from oracle import DEVICE, dev_tensor, to_numpy  # noqa: E402

Image = pytest.importorskip("PIL.Image")
from PIL import ImageEnhance, ImageOps  # noqa: E402


def _img(seed=0, c=3, h=10, w=12, dtype=np.float32):
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        return rng.integers(0, 256, (c, h, w)).astype(np.uint8)
    return rng.random((c, h, w)).astype(dtype)


def _e(a):
    return dev_tensor(a)


def _n(t):
    if isinstance(t, ember.Tensor):
        # Tensor transforms keep their input's device.
        assert t.device.type == DEVICE, t.device
        return to_numpy(t)
    return np.asarray(t)


# ----------------------------------------------------------------- colour (math formulas)
def test_grayscale_formula_and_channels():
    a = _img()
    want = 0.2989 * a[0] + 0.587 * a[1] + 0.114 * a[2]
    np.testing.assert_allclose(_n(F.rgb_to_grayscale(_e(a)))[0], want, rtol=1e-6)
    assert tuple(F.rgb_to_grayscale(_e(a), 3).shape) == (3, 10, 12)
    u = _img(dtype=np.uint8)
    want_u = np.trunc(0.2989 * u[0] + 0.587 * u[1] + 0.114 * u[2].astype(np.float64))
    np.testing.assert_array_equal(_n(F.rgb_to_grayscale(_e(u)))[0], want_u.astype(np.uint8))
    with pytest.raises(ValueError):
        F.rgb_to_grayscale(_e(a), 2)


def test_brightness_contrast_saturation_blends():
    a = _img(1).astype(np.float64)
    np.testing.assert_allclose(_n(F.adjust_brightness(_e(a), 1.5)), np.clip(1.5 * a, 0, 1))
    gray = 0.2989 * a[0] + 0.587 * a[1] + 0.114 * a[2]
    want = np.clip(0.3 * a + 0.7 * gray.mean(), 0, 1)
    np.testing.assert_allclose(_n(F.adjust_contrast(_e(a), 0.3)), want, rtol=1e-12)
    want = np.clip(1.7 * a + (-0.7) * gray[None], 0, 1)
    np.testing.assert_allclose(_n(F.adjust_saturation(_e(a), 1.7)), want, rtol=1e-12)
    with pytest.raises(ValueError):
        F.adjust_brightness(_e(a), -1)


def test_hue_matches_colorsys():
    a = _img(2).astype(np.float64)
    out = _n(F.adjust_hue(_e(a), 0.3))
    for y in range(3):
        for x in range(4):
            h, s, v = colorsys.rgb_to_hsv(*a[:, y, x])
            want = colorsys.hsv_to_rgb((h + 0.3) % 1.0, s, v)
            np.testing.assert_allclose(out[:, y, x], want, atol=1e-12)
    with pytest.raises(ValueError):
        F.adjust_hue(_e(a), 0.6)


def test_gamma_invert_solarize_posterize_tensor():
    a = _img(3).astype(np.float64)
    np.testing.assert_allclose(_n(F.adjust_gamma(_e(a), 2.2, 0.9)), np.clip(0.9 * a ** 2.2, 0, 1))
    np.testing.assert_allclose(_n(F.invert(_e(a))), 1 - a)
    np.testing.assert_allclose(_n(F.solarize(_e(a), 0.5)), np.where(a >= 0.5, 1 - a, a))
    u = _img(3, dtype=np.uint8)
    np.testing.assert_array_equal(_n(F.posterize(_e(u), 3)), u & 0b11100000)
    with pytest.raises(TypeError):
        F.posterize(_e(a), 3)


def test_autocontrast_per_channel():
    a = _img(4).astype(np.float64) * 0.5 + 0.2
    a[1] = 0.4  # a flat channel stays as it is
    out = _n(F.autocontrast(_e(a)))
    lo, hi = a[0].min(), a[0].max()
    np.testing.assert_allclose(out[0], (a[0] - lo) / (hi - lo), atol=1e-12)
    np.testing.assert_allclose(out[1], a[1])


# ----------------------------------------------------------------- uint8 tensor == PIL
def _pil(u):
    return Image.fromarray(np.ascontiguousarray(u.transpose(1, 2, 0)))


def _from_pil(p):
    return np.asarray(p).transpose(2, 0, 1)


@pytest.mark.parametrize("name", ["equalize", "invert", "posterize", "solarize",
                                  "autocontrast"])
def test_uint8_tensor_agrees_with_pil(name):
    u = _img(5, h=16, w=16, dtype=np.uint8)
    u[:, :2] = 7  # a skewed histogram so equalize does something
    fn, pil_fn, args = {
        "equalize": (F.equalize, ImageOps.equalize, ()),
        "invert": (F.invert, ImageOps.invert, ()),
        "posterize": (F.posterize, ImageOps.posterize, (2,)),
        "solarize": (F.solarize, ImageOps.solarize, (100,)),
        "autocontrast": (F.autocontrast, ImageOps.autocontrast, ()),
    }[name]
    got = _n(fn(_e(u), *args))
    want = _from_pil(pil_fn(_pil(u), *args))
    if name == "autocontrast":  # PIL rounds the stretched values, torchvision truncates
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    else:
        np.testing.assert_array_equal(got, want)
    # PIL input goes through PIL itself.
    np.testing.assert_array_equal(_from_pil(fn(_pil(u), *args)), want)


def test_pil_enhance_paths_are_pils():
    p = _pil(_img(6, dtype=np.uint8))
    for fn, enh in ((F.adjust_brightness, ImageEnhance.Brightness),
                    (F.adjust_contrast, ImageEnhance.Contrast),
                    (F.adjust_saturation, ImageEnhance.Color),
                    (F.adjust_sharpness, ImageEnhance.Sharpness)):
        np.testing.assert_array_equal(np.asarray(fn(p, 1.6)), np.asarray(enh(p).enhance(1.6)))
    assert F.rgb_to_grayscale(p).mode == "L"
    table = [int(255.999 * 1.0 * (v / 255.0) ** 0.5) for v in range(256)]
    np.testing.assert_array_equal(np.asarray(F.adjust_gamma(p, 0.5)),
                                  np.asarray(p.point(table * 3)))


def test_sharpness_tensor_matches_conv():
    a = _img(7).astype(np.float64)
    k = torch.tensor([[1., 1., 1.], [1., 5., 1.], [1., 1., 1.]], dtype=torch.float64) / 13
    blur = torch.nn.functional.conv2d(torch.from_numpy(a)[:, None], k[None, None])[:, 0]
    degenerate = a.copy()
    degenerate[:, 1:-1, 1:-1] = blur.numpy()
    want = np.clip(2.5 * a - 1.5 * degenerate, 0, 1)
    np.testing.assert_allclose(_n(F.adjust_sharpness(_e(a), 2.5)), want, atol=1e-12)


def test_gaussian_blur_matches_torch_conv():
    a = _img(8).astype(np.float64)
    ks, sigma = (5, 3), (1.3, 0.7)
    x = torch.from_numpy(a)[None]
    x = torch.nn.functional.pad(x, (2, 2, 1, 1), mode="reflect")

    def k1(n, s):
        t = torch.linspace(-(n - 1) / 2, (n - 1) / 2, n, dtype=torch.float64)
        g = torch.exp(-0.5 * (t / s) ** 2)
        return g / g.sum()
    kern = k1(3, 0.7)[:, None] * k1(5, 1.3)[None, :]
    want = torch.nn.functional.conv2d(x, kern.expand(3, 1, 3, 5), groups=3)[0]
    np.testing.assert_allclose(_n(F.gaussian_blur(_e(a), list(ks), list(sigma))), want.numpy(),
                               atol=1e-12)
    with pytest.raises(ValueError):
        F.gaussian_blur(_e(a), 4)


# ----------------------------------------------------------------- geometry vs torch grids
def _torch_affine_sample(a, theta_pix, mode, fill=None):
    """torchvision's tensor pipeline: centred pixel grid -> theta -> grid_sample."""
    c, h, w = a.shape
    xs = torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, w, dtype=torch.float64)
    ys = torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, h, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    base = torch.stack([gx, gy, torch.ones_like(gx)], -1)
    th = torch.tensor(theta_pix, dtype=torch.float64).view(2, 3)
    grid = (base @ th.T) / torch.tensor([0.5 * w, 0.5 * h], dtype=torch.float64)
    x = torch.from_numpy(a)[None]
    if fill is not None:
        x = torch.cat([x, torch.ones(1, 1, h, w, dtype=torch.float64)], 1)
    out = torch.nn.functional.grid_sample(x, grid[None], mode=mode, padding_mode="zeros",
                                          align_corners=False)[0]
    if fill is not None:
        mask, out = out[-1:], out[:-1]
        f = torch.tensor(fill, dtype=torch.float64)[:, None, None]
        out = out * mask + (1 - mask) * f
    return out.numpy()


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_rotate_tensor_matches_grid_sample(mode):
    a = _img(9).astype(np.float64)
    ang = 33.0
    r = math.radians(-ang)
    theta = [math.cos(r), math.sin(r), 0.0, -math.sin(r), math.cos(r), 0.0]
    fill = [0.2, 0.5, 0.9]
    want = _torch_affine_sample(a, theta, mode, fill if mode == "bilinear" else None)
    got = _n(F.rotate(_e(a), ang, F.InterpolationMode(mode),
                      fill=fill if mode == "bilinear" else None))
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_affine_translate_scale_tensor():
    a = _img(10).astype(np.float64)
    got = _n(F.affine(_e(a), 0.0, [2, -1], 2.0, 0.0, F.InterpolationMode.BILINEAR))
    theta = [0.5, 0.0, -1.0, 0.0, 0.5, 0.5]  # inverse of scale 2 then shift (2, -1)
    np.testing.assert_allclose(got, _torch_affine_sample(a, theta, "bilinear"), atol=1e-9)
    with pytest.raises(ValueError):
        F.affine(_e(a), 0.0, [0, 0], 0.0, 0.0)


def test_rotate_90_tensor_equals_pil_and_rot90():
    u = _img(11, h=8, w=8, dtype=np.uint8)
    got = _n(F.rotate(_e(u), 90.0))
    np.testing.assert_array_equal(got, np.rot90(u, 1, axes=(1, 2)))
    np.testing.assert_array_equal(_from_pil(F.rotate(_pil(u), 90.0)), got)
    assert tuple(F.rotate(_e(_img(h=6, w=10)), 90.0, expand=True).shape) == (3, 10, 6)


def test_affine_pil_matches_tensor_for_translation():
    u = _img(12, h=9, w=9, dtype=np.uint8)
    t = _n(F.affine(_e(u), 0.0, [2, 3], 1.0, 0.0))
    p = _from_pil(F.affine(_pil(u), 0.0, [2, 3], 1.0, 0.0))
    np.testing.assert_array_equal(t, p)
    np.testing.assert_array_equal(t[:, 3:, 2:], u[:, :-3, :-2])


def test_perspective_identity_and_pil_shift():
    a = _img(13).astype(np.float64)
    pts = [[0, 0], [11, 0], [11, 9], [0, 9]]
    np.testing.assert_allclose(_n(F.perspective(_e(a), pts, pts)), a, atol=1e-9)
    u = _img(13, h=8, w=8, dtype=np.uint8)
    end = [[p[0] + 1, p[1]] for p in [[0, 0], [7, 0], [7, 7], [0, 7]]]
    start = [[0, 0], [7, 0], [7, 7], [0, 7]]
    got = _n(F.perspective(_e(u), start, end, F.InterpolationMode.NEAREST))
    np.testing.assert_array_equal(got[:, :, 1:], u[:, :, :-1])
    np.testing.assert_array_equal(
        _from_pil(F.perspective(_pil(u), start, end, F.InterpolationMode.NEAREST)), got)


def test_elastic_zero_displacement_is_identity():
    a = _img(14).astype(np.float64)
    out = F.elastic_transform(_e(a), ember.zeros(1, 10, 12, 2, dtype=ember.float64,
                                                 device=DEVICE))
    np.testing.assert_allclose(_n(out), a, atol=1e-12)
    with pytest.raises(ValueError):
        F.elastic_transform(_e(a), ember.zeros(1, 3, 3, 2, device=DEVICE))


def test_five_ten_crop_geometry():
    a = _img(15)
    crops = F.five_crop(_e(a), (4, 5))
    np.testing.assert_array_equal(_n(crops[0]), a[:, :4, :5])
    np.testing.assert_array_equal(_n(crops[1]), a[:, :4, 7:])
    np.testing.assert_array_equal(_n(crops[2]), a[:, 6:, :5])
    np.testing.assert_array_equal(_n(crops[3]), a[:, 6:, 7:])
    np.testing.assert_array_equal(_n(crops[4]), a[:, 3:7, 4:9])  # round((10-4)/2), round(3.5)
    ten = T.TenCrop((4, 5))(_e(a))
    assert len(ten) == 10
    np.testing.assert_array_equal(_n(ten[5]), a[:, :4, ::-1][:, :, :5])
    ten_v = F.ten_crop(_e(a), (4, 5), vertical_flip=True)
    np.testing.assert_array_equal(_n(ten_v[5]), a[:, ::-1][:, :4, :5])
    with pytest.raises(ValueError):
        F.five_crop(_e(a), 11)


def test_convert_image_dtype():
    u = _img(16, dtype=np.uint8)
    np.testing.assert_allclose(_n(F.convert_image_dtype(_e(u), ember.float32)), u / 255.0,
                               rtol=1e-6)
    f = np.array([[[0.0, 0.5, 1.0]]], np.float32)
    got = _n(F.convert_image_dtype(_e(f), ember.uint8))
    np.testing.assert_array_equal(got, np.trunc(f * (256 - 1e-3)).astype(np.uint8))
    with pytest.raises(RuntimeError):
        F.convert_image_dtype(_e(f), ember.int64)
    i16 = F.convert_image_dtype(_e(u), ember.int16)
    np.testing.assert_array_equal(_n(i16), u.astype(np.int16) * 128)
    assert T.ConvertImageDtype(ember.float64)(_e(u)).dtype == ember.float64


def test_erase_and_resized_crop():
    a = _img(17)
    out = F.erase(_e(a), 1, 2, 3, 4, 0.5)
    want = a.copy()
    want[:, 1:4, 2:6] = 0.5
    np.testing.assert_array_equal(_n(out), want)
    rc = F.resized_crop(_e(a), 2, 3, 4, 4, [8, 8], F.InterpolationMode.NEAREST)
    np.testing.assert_array_equal(_n(rc), np.repeat(np.repeat(a[:, 2:6, 3:7], 2, 1), 2, 2))


# ----------------------------------------------------------------- random transforms
def test_reproducible_under_manual_seed():
    u = _e(_img(18, h=32, w=32, dtype=np.uint8))
    x = _e(_img(18, h=32, w=32))
    pipes = [(T.Compose([T.RandomResizedCrop(16), T.ColorJitter(0.4, 0.4, 0.4, 0.1),
                         T.RandomRotation(20), T.RandomErasing(1.0)]), x),
             (T.RandAugment(), u), (T.AutoAugment(), u), (T.TrivialAugmentWide(), u),
             (T.AugMix(), u), (T.RandomAffine(10, (0.1, 0.1), (0.9, 1.1), 5), x),
             (T.ElasticTransform(sigma=2.0), x), (T.RandomPerspective(p=1.0), x)]
    for pipe, img in pipes:
        ember.manual_seed(3)
        a = _n(pipe(img))
        ember.manual_seed(3)
        np.testing.assert_array_equal(_n(pipe(img)), a)
        assert a.dtype == _n(img).dtype


def test_probability_zero_and_one():
    u = _e(_img(19, dtype=np.uint8))
    for cls, args in ((T.RandomInvert, ()), (T.RandomPosterize, (2,)),
                      (T.RandomSolarize, (128,)), (T.RandomAdjustSharpness, (2.0,)),
                      (T.RandomAutocontrast, ()), (T.RandomEqualize, ()),
                      (T.RandomGrayscale, ())):
        assert np.array_equal(_n(cls(*args, p=0.0)(u)), _n(u))
    np.testing.assert_array_equal(_n(T.RandomInvert(p=1.0)(u)), 255 - _n(u))
    g = _n(T.RandomGrayscale(p=1.0)(u))
    assert g.shape == (3, 10, 12) and np.array_equal(g[0], g[1])
    assert T.RandomApply([T.RandomInvert(p=1.0)], p=0.0)(u) is u
    np.testing.assert_array_equal(_n(T.RandomApply([T.RandomInvert(p=1.0)], p=1.0)(u)),
                                  255 - _n(u))
    x = _e(_img(19))
    assert T.RandomErasing(p=0.0)(x) is x


def test_random_resized_crop_param_bounds():
    img = ember.zeros(3, 40, 60, device=DEVICE)
    ember.manual_seed(0)
    areas, ratios = [], []
    for _ in range(300):
        i, j, h, w = T.RandomResizedCrop.get_params(img, (0.2, 0.6), (0.5, 2.0))
        assert 0 <= i <= 40 - h and 0 <= j <= 60 - w
        areas.append(h * w / 2400)
        ratios.append(w / h)
    # Rounding to whole pixels blurs the bounds by a little.
    assert 0.17 < min(areas) and max(areas) < 0.65
    assert 0.45 < min(ratios) and max(ratios) < 2.2
    assert 0.3 < np.mean(areas) < 0.5


def test_random_erasing_values():
    x = ember.ones(3, 20, 20, device=DEVICE)
    ember.manual_seed(1)
    out = _n(T.RandomErasing(p=1.0, value=(0.1, 0.2, 0.3))(x))
    erased = out[0] != 1.0
    assert erased.any()
    for c, v in enumerate((0.1, 0.2, 0.3)):
        np.testing.assert_allclose(out[c][erased], v, rtol=1e-6)
    out = _n(T.RandomErasing(p=1.0, value="random")(x))
    assert (out != 1.0).any()
    with pytest.raises(ValueError):
        T.RandomErasing(value="foo")


def test_color_jitter_params_and_choice_order():
    ember.manual_seed(2)
    cj = T.ColorJitter(brightness=0.5, hue=0.2)
    assert cj.brightness == (0.5, 1.5) and cj.contrast is None and cj.hue == (-0.2, 0.2)
    for _ in range(50):
        order, b, c, s, h = T.ColorJitter.get_params(cj.brightness, cj.contrast,
                                                     cj.saturation, cj.hue)
        assert sorted(order) == [0, 1, 2, 3] and 0.5 <= b <= 1.5 and c is None
        assert -0.2 <= h <= 0.2
    with pytest.raises(ValueError):
        T.ColorJitter(hue=0.7)
    seen = {T.RandomChoice([lambda v: 1, lambda v: 2])(0) for _ in range(40)}
    assert seen == {1, 2}
    assert T.RandomChoice([lambda v: 1, lambda v: 2], p=[0.0, 1.0])(0) == 2
    out = T.RandomOrder([lambda v: v + [1], lambda v: v + [2]])([])
    assert sorted(out) == [1, 2]


def test_rotation_affine_angle_bounds():
    ember.manual_seed(4)
    angs = [T.RandomRotation.get_params([-10.0, 30.0]) for _ in range(200)]
    assert min(angs) >= -10 and max(angs) <= 30 and np.std(angs) > 5
    for _ in range(50):
        a, tr, sc, sh = T.RandomAffine.get_params([-5, 5], (0.1, 0.2), (0.8, 1.2),
                                                  [-3, 3, -1, 1], [50, 40])
        assert -5 <= a <= 5 and abs(tr[0]) <= 5 and abs(tr[1]) <= 8 and 0.8 <= sc <= 1.2
        assert -3 <= sh[0] <= 3 and -1 <= sh[1] <= 1


def test_linear_transformation():
    a = _img(20, c=1, h=2, w=2).astype(np.float64)
    m = np.random.default_rng(0).random((4, 4))
    mean = np.array([0.1, 0.2, 0.3, 0.4])
    lt = T.LinearTransformation(_e(m), _e(mean))
    want = ((a.reshape(1, 4) - mean) @ m).reshape(1, 2, 2)
    np.testing.assert_allclose(_n(lt(_e(a))), want, rtol=1e-12)
    with pytest.raises(ValueError):
        T.LinearTransformation(_e(np.zeros((4, 3))), _e(mean))


def test_pil_pipelines_return_pil():
    p = _pil(_img(21, h=32, w=32, dtype=np.uint8))
    for t in (T.RandomRotation(15), T.RandomAffine(10, shear=5), T.ColorJitter(0.3, 0.3, 0.3,
              0.1), T.GaussianBlur(3), T.AutoAugment(), T.RandAugment(),
              T.TrivialAugmentWide(), T.AugMix(), T.RandomPerspective(p=1.0),
              T.RandomResizedCrop(16), T.ElasticTransform(sigma=2.0)):
        out = t(p)
        assert isinstance(out, Image.Image) and out.mode == "RGB"
