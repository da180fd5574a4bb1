"""The sequence/generative examples run end to end with tiny settings (in-process), and one runs
through ``ember run -m`` as a user would start it."""
from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PNG = b"\x89PNG\r\n\x1a\n"


def _fake_mnist(root, n=64):
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, count in (("train", n), ("t10k", 16)):
        labels = rng.integers(0, 10, size=count).astype(np.uint8)
        images = rng.integers(0, 256, size=(count, 28, 28)).astype(np.uint8)
        for stem, arr in (("images-idx3", images), ("labels-idx1", labels)):
            header = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", s)
                                                          for s in arr.shape)
            with gzip.open(raw / f"{split}-{stem}-ubyte.gz", "wb") as f:
                f.write(header + arr.tobytes())
    return str(root)


def test_char_gpt_trains_and_samples():
    from ember.examples import char_gpt
    res = char_gpt.main(["--steps", "6", "--batch-size", "4", "--block-size", "8",
                         "--d-model", "16", "--layers", "1", "--sample-len", "10"])
    assert res["losses"][-1] < res["losses"][0]
    assert res["sample"].startswith("the cat ") and len(res["sample"]) == 18


def test_lstm_lm_runs():
    from ember.examples import lstm_lm
    res = lstm_lm.main(["--epochs", "2", "--sentences", "80", "--batch-size", "4"])
    assert res["history"][-1][0] < res["history"][0][0]
    assert res["sample"].startswith("the")


def test_reinforce_improves():
    from ember.examples import reinforce
    res = reinforce.main(["--episodes", "150", "--lr", "3e-2"])
    lengths = res["lengths"]
    assert np.mean(lengths[-30:]) < np.mean(lengths[:30])


def test_vae_writes_grids(tmp_path):
    from ember.examples import vae
    data = _fake_mnist(tmp_path / "data")
    res = vae.main(["--epochs", "1", "--batch-size", "16", "--data", data,
                    "--out", str(tmp_path)])
    assert np.isfinite(res["history"]).all()
    for name in ("vae_recon.png", "vae_samples.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_dcgan_writes_grid(tmp_path):
    from ember.examples import dcgan
    data = _fake_mnist(tmp_path / "data")
    res = dcgan.main(["--batch-size", "16", "--data", data, "--out", str(tmp_path)])
    assert len(res["history"]) == 4
    assert (tmp_path / "dcgan_samples.png").read_bytes()[:8] == PNG


def test_example_through_ember_run(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "ember", "run", "-m", "ember.examples.reinforce",
                           "--episodes", "20"], capture_output=True, text=True, timeout=120,
                          env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "episode 20/20" in proc.stdout
