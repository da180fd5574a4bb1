"""Every example trains on a GPU (issue 7): each one runs a few steps with ``--device cuda``
and every backward pass it makes runs on the GPU. Skipped without CuPy and a CUDA device."""
from __future__ import annotations

import gzip
import math
import struct

import numpy as np
import pytest

import ember

pytestmark = pytest.mark.skipif(not ember.cuda.is_available(),
                                reason="needs CuPy and a CUDA device")

PNG = b"\x89PNG\r\n\x1a\n"


def _fake_mnist(root, n=48):
    """A tiny MNIST in the raw idx format, so the examples find it instead of downloading."""
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, count in (("train", n), ("t10k", 16)):
        arrays = {"images-idx3": rng.integers(0, 256, (count, 28, 28)).astype(np.uint8),
                  "labels-idx1": rng.integers(0, 10, count).astype(np.uint8)}
        for stem, arr in arrays.items():
            header = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", s)
                                                          for s in arr.shape)
            with gzip.open(raw / f"{split}-{stem}-ubyte.gz", "wb") as f:
                f.write(header + arr.tobytes())
    return str(root)


@pytest.fixture
def backward_devices(monkeypatch):
    """The device type of every loss the example calls ``.backward()`` on."""
    seen = []
    original = ember.Tensor.backward

    def spy(self, *args, **kwargs):
        seen.append(self.device.type)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ember.Tensor, "backward", spy)
    return seen


def _all_cuda(seen) -> bool:
    return len(seen) > 0 and set(seen) == {"cuda"}


def _finite(values) -> bool:
    return all(math.isfinite(v) for v in np.asarray(values, dtype=np.float64).ravel())


def test_char_gpt_on_cuda(backward_devices):
    from ember.examples import char_gpt
    res = char_gpt.main(["--device", "cuda", "--steps", "3", "--batch-size", "4",
                         "--block-size", "8", "--d-model", "16", "--layers", "1",
                         "--sample-len", "6"])
    assert backward_devices == ["cuda"] * 3
    assert _finite(res["losses"]) and len(res["losses"]) == 3
    # Sampling ran on the GPU too; the sample came back as host characters.
    assert res["sample"].startswith("the cat ") and len(res["sample"]) == 14


def test_lstm_lm_on_cuda(backward_devices):
    from ember.examples import lstm_lm
    res = lstm_lm.main(["--device", "cuda", "--epochs", "1", "--sentences", "30",
                        "--batch-size", "4"])
    assert _all_cuda(backward_devices)
    assert _finite(res["history"]) and res["sample"].startswith("the")


def test_reinforce_on_cuda(backward_devices):
    from ember.examples import reinforce
    res = reinforce.main(["--device", "cuda", "--episodes", "3"])
    assert backward_devices == ["cuda"] * 3
    assert len(res["returns"]) == 3 and _finite(res["returns"])


def test_reinforce_defaults_to_cuda(backward_devices):
    from ember.examples import reinforce
    reinforce.main(["--episodes", "2"])
    assert backward_devices == ["cuda"] * 2


def test_vae_on_cuda(tmp_path, backward_devices):
    from ember.examples import vae
    data = _fake_mnist(tmp_path / "data")
    res = vae.main(["--device", "cuda", "--epochs", "1", "--batch-size", "16", "--data", data,
                    "--out", str(tmp_path)])
    assert backward_devices == ["cuda"] * 3
    assert _finite(res["history"])
    for name in ("vae_recon.png", "vae_samples.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_dcgan_on_cuda(tmp_path, backward_devices):
    from ember.examples import dcgan
    data = _fake_mnist(tmp_path / "data")
    res = dcgan.main(["--device", "cuda", "--batch-size", "16", "--data", data,
                      "--out", str(tmp_path)])
    assert backward_devices == ["cuda"] * 6  # a D and a G step per batch, three batches
    assert len(res["history"]) == 3 and _finite(res["history"])
    assert (tmp_path / "dcgan_samples.png").read_bytes()[:8] == PNG


def test_mnist_on_cuda(tmp_path, backward_devices):
    from ember.examples import mnist
    data = _fake_mnist(tmp_path / "data")
    for model in ("mlp", "cnn"):
        backward_devices.clear()
        hist = mnist.main(["--device", "cuda", "--model", model, "--epochs", "1",
                           "--batch-size", "16", "--data", data,
                           "--plot", str(tmp_path / f"{model}.png")])
        assert backward_devices == ["cuda"] * 3
        assert _finite(hist["train_loss"] + hist["test_loss"])
        assert 0.0 <= hist["test_acc"][0] <= 100.0
        assert (tmp_path / f"{model}.png").read_bytes()[:8] == PNG


def test_transfer_learning_on_cuda(tmp_path, backward_devices):
    from ember.examples import transfer_learning
    res = transfer_learning.main(["--device", "cuda", "--root", str(tmp_path / "imgs"),
                                  "--epochs", "1", "--size", "32", "--per-class", "6",
                                  "--quiet"])
    assert backward_devices == ["cuda"] * 2  # 18 training images, batches of 16
    assert res["trainable"] == res["head_params"]
    assert _finite([res["first_loss"]]) and 0.0 <= res["accuracy"] <= 1.0
