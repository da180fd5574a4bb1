"""KMNIST/EMNIST/QMNIST/CIFAR/SVHN/STL10/FakeData read tiny files written here in each
dataset's on-disk format; expected values come from the arrays written."""
from __future__ import annotations

import gzip
import os
import pickle
import string

import numpy as np
import pytest

from ember.vision import datasets

PIL = pytest.importorskip("PIL.Image")
NOT_FOUND = "Dataset not found or corrupted. You can use download=True to download it"


def _write_idx(path: str, arr: np.ndarray, gz: bool = False) -> None:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}
    header = bytes([0, 0, codes[arr.dtype], arr.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    body = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    if gz:
        with gzip.open(path + ".gz", "wb") as f:
            f.write(body)
    else:
        with open(path, "wb") as f:
            f.write(body)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- MNIST family
def test_kmnist_loads_gz_files(tmp_path):
    raw = tmp_path / "KMNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = _rng().integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    for split in ("train", "t10k"):
        _write_idx(str(raw / f"{split}-images-idx3-ubyte"), imgs, gz=True)
        _write_idx(str(raw / f"{split}-labels-idx1-ubyte"), labels, gz=True)
    ds = datasets.KMNIST(str(tmp_path), train=False, target_transform=lambda t: t * 10)
    assert len(ds) == 5
    img, target = ds[2]
    assert isinstance(img, PIL.Image) and img.mode == "L"
    np.testing.assert_array_equal(np.asarray(img), imgs[2])
    assert target == 40
    assert ds.classes[4] == "na" and ds.class_to_idx["wo"] == 9
    assert tuple(ds.data.shape) == (5, 28, 28)
    np.testing.assert_array_equal(ds.targets.numpy(), labels.astype(np.int64))


def test_kmnist_missing(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.KMNIST(str(tmp_path))


@pytest.mark.parametrize("split,n_classes", [("byclass", 62), ("bymerge", 47),
                                             ("balanced", 47), ("letters", 27),
                                             ("digits", 10), ("mnist", 10)])
def test_emnist_splits(tmp_path, split, n_classes):
    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = _rng(1).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    labels = np.array([0, 2, 1, 3], dtype=np.uint8)
    _write_idx(str(raw / f"emnist-{split}-train-images-idx3-ubyte"), imgs)
    _write_idx(str(raw / f"emnist-{split}-train-labels-idx1-ubyte"), labels)
    ds = datasets.EMNIST(str(tmp_path), split=split, train=True)
    assert len(ds.classes) == n_classes and len(ds) == 4
    img, target = ds[1]
    np.testing.assert_array_equal(np.asarray(img), imgs[1])
    assert target == 2
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.EMNIST(str(tmp_path), split=split, train=False)


def test_emnist_classes_and_bad_split(tmp_path):
    merged = set("cijklmopsuvwxyz")
    expect = sorted(set(string.digits + string.ascii_letters) - merged)
    assert datasets.EMNIST.classes_split_dict["balanced"] == expect
    assert datasets.EMNIST.classes_split_dict["letters"][:3] == ["N/A", "a", "b"]
    with pytest.raises(ValueError):
        datasets.EMNIST(str(tmp_path), split="bogus")


def _qmnist_files(tmp_path, n: int = 12):
    raw = tmp_path / "QMNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = _rng(2).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = _rng(3).integers(0, 10, (n, 8)).astype(np.int32)
    _write_idx(str(raw / "qmnist-test-images-idx3-ubyte"), imgs, gz=True)
    _write_idx(str(raw / "qmnist-test-labels-idx2-int"), labels)
    return imgs, labels


def test_qmnist_compat_and_full_targets(tmp_path):
    imgs, labels = _qmnist_files(tmp_path)
    ds = datasets.QMNIST(str(tmp_path), train=False)
    assert ds.what == "test" and len(ds) == 12
    img, target = ds[5]
    np.testing.assert_array_equal(np.asarray(img), imgs[5])
    assert target == int(labels[5, 0]) and isinstance(target, int)
    full = datasets.QMNIST(str(tmp_path), what="test", compat=False)
    assert tuple(full.targets.shape) == (12, 8)
    assert str(full.targets.dtype).endswith("int64")
    np.testing.assert_array_equal(full[5][1].numpy(), labels[5].astype(np.int64))


def test_qmnist_test10k_test50k_slices(tmp_path):
    # With 12 rows, test10k keeps all of them and test50k none: the 10,000 cut is absolute.
    _qmnist_files(tmp_path)
    assert len(datasets.QMNIST(str(tmp_path), what="test10k")) == 12
    assert len(datasets.QMNIST(str(tmp_path), what="test50k")) == 0
    with pytest.raises(ValueError):
        datasets.QMNIST(str(tmp_path), what="valid")
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.QMNIST(str(tmp_path), what="nist")


# ---------------------------------------------------------------- CIFAR
def _cifar_batch(path, n, seed, key="labels", extra=None):
    data = _rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in _rng(seed + 100).integers(0, 10, n)]
    entry = {"data": data, key: labels}
    entry.update(extra or {})
    with open(path, "wb") as f:
        pickle.dump(entry, f, protocol=2)
    return data, labels


def test_cifar10(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    parts = [_cifar_batch(folder / f"data_batch_{i}", 3, i) for i in range(1, 6)]
    test_data, test_labels = _cifar_batch(folder / "test_batch", 2, 9)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names}, f)
    ds = datasets.CIFAR10(str(tmp_path), train=True)
    assert len(ds) == 15 and ds.data.shape == (15, 32, 32, 3) and ds.data.dtype == np.uint8
    assert ds.targets == sum((p[1] for p in parts), [])
    assert isinstance(ds.targets, list) and ds.classes == names
    assert ds.class_to_idx["cat"] == 3
    img, target = ds[4]   # second row of data_batch_2
    expect = parts[1][0][1].reshape(3, 32, 32).transpose(1, 2, 0)
    assert isinstance(img, PIL.Image) and img.mode == "RGB" and img.size == (32, 32)
    np.testing.assert_array_equal(np.asarray(img), expect)
    assert target == parts[1][1][1]
    test = datasets.CIFAR10(str(tmp_path), train=False, transform=lambda im: np.asarray(im))
    assert len(test) == 2 and test.targets == test_labels
    np.testing.assert_array_equal(test[1][0], test_data[1].reshape(3, 32, 32).transpose(1, 2, 0))


def test_cifar100_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    data, fine = _cifar_batch(folder / "train", 4, 5, key="fine_labels",
                              extra={"coarse_labels": [0, 1, 2, 3]})
    _cifar_batch(folder / "test", 2, 6, key="fine_labels", extra={"coarse_labels": [0, 0]})
    fine_names = [f"c{i}" for i in range(100)]
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": fine_names, "coarse_label_names": ["x"] * 20}, f)
    ds = datasets.CIFAR100(str(tmp_path))
    assert ds.targets == fine and len(ds.classes) == 100
    np.testing.assert_array_equal(ds.data[3], data[3].reshape(3, 32, 32).transpose(1, 2, 0))


def test_cifar_missing(tmp_path):
    for cls in (datasets.CIFAR10, datasets.CIFAR100):
        with pytest.raises(RuntimeError) as e:
            cls(str(tmp_path))
        assert str(e.value) == NOT_FOUND


# ---------------------------------------------------------------- SVHN
def test_svhn(tmp_path):
    sio = pytest.importorskip("scipy.io")
    n = 5
    x = _rng(7).integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = np.array([[10], [1], [2], [10], [9]], dtype=np.uint8)
    sio.savemat(str(tmp_path / "test_32x32.mat"), {"X": x, "y": y})
    ds = datasets.SVHN(str(tmp_path), split="test")
    assert len(ds) == n and ds.data.shape == (n, 3, 32, 32)
    np.testing.assert_array_equal(ds.labels, [0, 1, 2, 0, 9])
    img, target = ds[3]
    assert target == 0 and img.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(img), x[:, :, :, 3])
    with pytest.raises(RuntimeError) as e:
        datasets.SVHN(str(tmp_path), split="train")
    assert str(e.value) == NOT_FOUND
    with pytest.raises(ValueError):
        datasets.SVHN(str(tmp_path), split="train_and_extra")


# ---------------------------------------------------------------- STL10
def _stl_images(n, seed):
    # Stored per image as 3 planes, each column-major: the HWC image is planes.T.
    hwc = _rng(seed).integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
    stored = np.ascontiguousarray(hwc.transpose(0, 3, 2, 1))
    return hwc, stored


def _stl_files(tmp_path):
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    train_hwc, train_raw = _stl_images(4, 1)
    train_raw.tofile(folder / "train_X.bin")
    np.array([1, 10, 3, 4], dtype=np.uint8).tofile(folder / "train_y.bin")
    unl_hwc, unl_raw = _stl_images(2, 2)
    unl_raw.tofile(folder / "unlabeled_X.bin")
    test_hwc, test_raw = _stl_images(3, 3)
    test_raw.tofile(folder / "test_X.bin")
    np.array([2, 2, 7], dtype=np.uint8).tofile(folder / "test_y.bin")
    (folder / "class_names.txt").write_text("\n".join(f"k{i}" for i in range(10)) + "\n")
    (folder / "fold_indices.txt").write_text("".join("3 1 \n" for _ in range(10)))
    return train_hwc, unl_hwc, test_hwc


def test_stl10_splits(tmp_path):
    train_hwc, unl_hwc, test_hwc = _stl_files(tmp_path)
    ds = datasets.STL10(str(tmp_path))
    assert len(ds) == 4 and ds.data.shape == (4, 3, 96, 96)
    np.testing.assert_array_equal(ds.labels, [0, 9, 2, 3])
    assert ds.classes == [f"k{i}" for i in range(10)]
    img, target = ds[1]
    assert target == 9 and img.size == (96, 96)
    np.testing.assert_array_equal(np.asarray(img), train_hwc[1])
    both = datasets.STL10(str(tmp_path), split="train+unlabeled")
    assert len(both) == 6
    np.testing.assert_array_equal(both.labels, [0, 9, 2, 3, -1, -1])
    np.testing.assert_array_equal(np.asarray(both[5][0]), unl_hwc[1])
    unl = datasets.STL10(str(tmp_path), split="unlabeled")
    assert len(unl) == 2 and unl[0][1] == -1
    test = datasets.STL10(str(tmp_path), split="test", transform=np.asarray)
    np.testing.assert_array_equal(test.labels, [1, 1, 6])
    np.testing.assert_array_equal(test[2][0], test_hwc[2])


def test_stl10_folds_and_errors(tmp_path):
    train_hwc, _, _ = _stl_files(tmp_path)
    ds = datasets.STL10(str(tmp_path), folds=4)
    np.testing.assert_array_equal(ds.labels, [3, 9])
    np.testing.assert_array_equal(np.asarray(ds[0][0]), train_hwc[3])
    with pytest.raises(ValueError):
        datasets.STL10(str(tmp_path), folds=10)
    with pytest.raises(ValueError):
        datasets.STL10(str(tmp_path), folds="1")
    with pytest.raises(ValueError):
        datasets.STL10(str(tmp_path), split="val")
    os.remove(tmp_path / "stl10_binary" / "test_y.bin")
    with pytest.raises(RuntimeError) as e:
        datasets.STL10(str(tmp_path))
    assert str(e.value) == NOT_FOUND


# ---------------------------------------------------------------- FakeData
def test_fakedata():
    ds = datasets.FakeData(size=7, image_size=(3, 10, 12), num_classes=4)
    assert len(ds) == 7
    img, target = ds[3]
    assert img.mode == "RGB" and img.size == (12, 10) and 0 <= target < 4
    img2, target2 = ds[3]
    np.testing.assert_array_equal(np.asarray(img), np.asarray(img2))
    assert target == target2
    other = datasets.FakeData(size=7, image_size=(3, 10, 12), random_offset=100)
    assert not np.array_equal(np.asarray(other[3][0]), np.asarray(img))
    grey = datasets.FakeData(size=2, image_size=(1, 5, 5), transform=np.asarray)
    assert grey[1][0].shape == (5, 5)
    with pytest.raises(IndexError):
        ds[7]
    targets = {datasets.FakeData(size=200, num_classes=3, image_size=(1, 2, 2))[i][1]
               for i in range(200)}
    assert targets == {0, 1, 2}


# ---------------------------------------------------------------- download path (file:// URLs)
def test_cifar_download_extracts_tarball(tmp_path):
    import hashlib
    import tarfile
    src = tmp_path / "src" / "cifar-10-batches-py"
    src.mkdir(parents=True)
    for i in range(1, 6):
        _cifar_batch(src / f"data_batch_{i}", 1, i)
    _, test_labels = _cifar_batch(src / "test_batch", 2, 9)
    with open(src / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)
    tgz = tmp_path / "src" / "c.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
    digest = hashlib.md5(tgz.read_bytes()).hexdigest()

    class Local(datasets.CIFAR10):
        url = tgz.as_uri()
        tgz_md5 = digest

    root = tmp_path / "data"
    ds = Local(str(root), train=False, download=True)
    assert ds.targets == test_labels
    assert (root / "cifar-10-python.tar.gz").is_file()

    class Corrupt(datasets.CIFAR10):
        url = tgz.as_uri()
        tgz_md5 = "0" * 32

    with pytest.raises(RuntimeError, match="md5"):
        Corrupt(str(tmp_path / "other"), download=True)


def test_qmnist_download_decompresses_xz(tmp_path):
    import hashlib
    import lzma
    imgs = _rng(4).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labels = _rng(5).integers(0, 10, (3, 8)).astype(np.int32)
    src = tmp_path / "src"
    src.mkdir()
    _write_idx(str(src / "xnist-images-idx3-ubyte"), imgs)
    _write_idx(str(src / "xnist-labels-idx2-int"), labels)
    res = []
    for name in ("xnist-images-idx3-ubyte", "xnist-labels-idx2-int"):
        packed = src / (name + ".xz")
        packed.write_bytes(lzma.compress((src / name).read_bytes()))
        res.append((packed.as_uri(), hashlib.md5(packed.read_bytes()).hexdigest()))

    class Local(datasets.QMNIST):
        resources = {**datasets.QMNIST.resources, "nist": res}

    ds = Local(str(tmp_path / "data"), what="nist", download=True)
    assert len(ds) == 3 and ds[2][1] == int(labels[2, 0])
    np.testing.assert_array_equal(ds.data.numpy(), imgs)
