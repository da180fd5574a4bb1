"""`ember run` (torch -> ember import aliases) and `ember info`, in subprocesses."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from ember import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, cwd=None, timeout=120):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "ember", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


SCRIPT = textwrap.dedent("""
    import sys
    import torch, torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.optim import lr_scheduler
    from torch.utils.data import DataLoader, TensorDataset
    import torch.autograd
    import torchvision
    from torchvision import datasets, transforms
    import ember

    assert torch is ember and nn is ember.nn and torchvision is ember.vision
    assert DataLoader is ember.utils.data.DataLoader
    assert ember.__spec__.name == "ember"
    torch.manual_seed(0)
    x = torch.randn(32, 4)
    y = (x.sum(1) > 0).long()
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for epoch in range(3):
        for xb, yb in DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True):
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    print("ARGV", sys.argv[1:])
    print("NAME", __name__, type(model).__module__)
    print("LOSS", losses[0] > losses[-1])
    try:
        torch.definitely_not_here
    except AttributeError as e:
        print("MISSING", type(e).__name__, e)
    try:
        import torch.not_a_module
    except ImportError as e:
        print("NOMOD", e)
""")


def test_ember_run_script(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    proc = _run(["run", str(script), "--epochs", "3", "x"], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "ARGV ['--epochs', '3', 'x']" in out
    assert "NAME __main__ ember.nn" in out
    assert "LOSS True" in out
    assert "MISSING EmberAttributeError ember does not implement torch.definitely_not_here yet" \
        in out
    assert "NOMOD ember does not implement torch.not_a_module yet" in out


def test_ember_run_reports_script_errors_and_missing_file(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nraise SystemExit(3)\n")
    assert _run(["run", str(bad)]).returncode == 3
    proc = _run(["run", str(tmp_path / "nope.py")])
    assert proc.returncode != 0 and "nope.py" in proc.stderr


def test_ember_run_module(tmp_path):
    (tmp_path / "mymod.py").write_text("import torch\nprint('MOD', torch.__name__)\n")
    proc = _run(["run", "-m", "mymod"], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "MOD ember" in proc.stdout


def test_ember_info():
    proc = _run(["info"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ember ") and "numpy" in proc.stdout
    assert "cupy" in proc.stdout and "optional extras" in proc.stdout


@pytest.mark.parametrize("name,expect", [("torch", "ember"), ("torch.nn", "ember.nn"),
                                         ("torch.utils.data", "ember.utils.data"),
                                         ("torchvision", "ember.vision"),
                                         ("torchvision.transforms", "ember.vision.transforms"),
                                         ("torchaudio", None), ("torchx", None)])
def test_alias_names(name, expect):
    assert cli.torch_to_ember(name) == expect


def test_mnist_example_runs_on_generated_idx(tmp_path):
    import gzip
    import struct

    import numpy as np
    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 96), ("t10k", 32)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
        for stem, arr in (("images-idx3", images), ("labels-idx1", labels)):
            header = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", s)
                                                          for s in arr.shape)
            with gzip.open(raw / f"{split}-{stem}-ubyte.gz", "wb") as f:
                f.write(header + arr.tobytes())
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for model in ("mlp", "cnn"):
        plot = tmp_path / f"{model}.png"
        proc = subprocess.run([sys.executable, "-m", "ember.examples.mnist", "--model", model,
                               "--epochs", "2", "--data", str(tmp_path / "data"),
                               "--plot", str(plot)], capture_output=True, text=True,
                              timeout=120, env=env, cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("test loss") == 2 and "epoch 2/2" in proc.stdout
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
