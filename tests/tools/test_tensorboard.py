"""SummaryWriter: event files read back with TensorBoard's own EventAccumulator, compared with
what torch.utils.tensorboard.SummaryWriter writes for the same data."""
from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.utils.tensorboard import SummaryWriter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_GUIDANCE = {"scalars": 0, "images": 0, "histograms": 0, "tensors": 0, "compressedHistograms": 0}


def _acc(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(path), size_guidance=_GUIDANCE)
    acc.Reload()
    return acc


def _png(encoded: bytes) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(encoded)))


def _log_both(tmp_path, fn):
    """Run ``fn(writer, lib)`` with ember's writer and with torch's; return both accumulators."""
    import torch
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    w = SummaryWriter(str(tmp_path / "ember"))
    fn(w, ember)
    w.close()
    tw = TorchWriter(str(tmp_path / "torch"))
    fn(tw, torch)
    tw.close()
    return _acc(tmp_path / "ember"), _acc(tmp_path / "torch")


def test_scalars_match_torch_writer(tmp_path):
    values = np.random.default_rng(0).standard_normal(7).astype(np.float32)

    def log(w, lib):
        for i, v in enumerate(values):
            w.add_scalar("loss/train", lib.tensor(float(v)), i)   # a 0-d tensor
            w.add_scalar("lr", 0.1 * (i + 1), i)                  # a Python float
    acc, ref = _log_both(tmp_path, log)
    for tag in ("loss/train", "lr"):
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        want = [(e.step, e.value) for e in ref.Scalars(tag)]
        assert got == want
    assert [e.value for e in acc.Scalars("loss/train")] == pytest.approx(values.tolist())


def test_add_scalars_writes_one_run_per_tag(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        for step in range(3):
            w.add_scalars("curves", {"train": step * 1.0, "test": step * 2.0}, step)
    runs = {}
    for dirpath, _, files in os.walk(tmp_path):
        if any(f.startswith("events.out.tfevents") for f in files) and dirpath != str(tmp_path):
            acc = _acc(dirpath)
            runs[os.path.basename(dirpath)] = [e.value for e in acc.Scalars("curves")]
    assert runs == {"train": [0.0, 1.0, 2.0], "test": [0.0, 2.0, 4.0]}


def test_histograms_match_torch_writer(tmp_path):
    data = np.random.default_rng(1).standard_normal(2000).astype(np.float32) * 3

    def log(w, lib):
        w.add_histogram("weights", lib.tensor(data), 0)
        w.add_histogram("weights", lib.tensor(data * 2), 1)
    acc, ref = _log_both(tmp_path, log)
    got, want = acc.Histograms("weights"), ref.Histograms("weights")
    assert [e.step for e in got] == [e.step for e in want] == [0, 1]
    for g, t in zip(got, want):
        gv, tv = g.histogram_value, t.histogram_value
        assert (gv.min, gv.max, gv.num) == pytest.approx((tv.min, tv.max, tv.num))
        assert gv.sum == pytest.approx(tv.sum, rel=1e-5, abs=1e-3)
        assert gv.sum_squares == pytest.approx(tv.sum_squares, rel=1e-5)
        assert list(gv.bucket) == list(tv.bucket)
        assert list(gv.bucket_limit) == pytest.approx(list(tv.bucket_limit))


@pytest.mark.parametrize("fmt,shape", [("CHW", (3, 10, 12)), ("HWC", (10, 12, 3)),
                                       ("HW", (10, 12)), ("CHW", (1, 10, 12))])
def test_add_image_matches_torch_writer(tmp_path, fmt, shape):
    img = np.random.default_rng(2).random(shape).astype(np.float32)

    def log(w, lib):
        w.add_image("img", lib.tensor(img), 3, dataformats=fmt)
    acc, ref = _log_both(tmp_path, log)
    (g,), (t,) = acc.Images("img"), ref.Images("img")
    assert g.step == 3 and (g.width, g.height) == (t.width, t.height) == (12, 10)
    np.testing.assert_array_equal(_png(g.encoded_image_string), _png(t.encoded_image_string))
    # And the pixels are the image itself, scaled to 0..255.
    hwc = img if fmt == "HWC" else (img if fmt == "HW" else img.transpose(1, 2, 0))
    pixels = _png(g.encoded_image_string).astype(np.int64)
    if pixels.ndim == 3 and hwc.ndim == 3 and hwc.shape[2] == 3:
        assert np.abs(pixels - hwc * 255).max() <= 1


def test_add_images_uint8_batch_matches_torch_writer(tmp_path):
    imgs = np.random.default_rng(3).integers(0, 256, (5, 3, 6, 6)).astype(np.uint8)

    def log(w, lib):
        w.add_images("batch", lib.tensor(imgs), 0)
    acc, ref = _log_both(tmp_path, log)
    (g,), (t,) = acc.Images("batch"), ref.Images("batch")
    np.testing.assert_array_equal(_png(g.encoded_image_string), _png(t.encoded_image_string))


def test_text_figure_hparams_embedding(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    mat = ember.randn(16, 4)
    with SummaryWriter(str(tmp_path)) as w:
        w.add_text("notes", "**ember** run", 0)
        fig = plt.figure(figsize=(2, 2))
        plt.plot([0, 1, 2], [2, 0, 1])
        w.add_figure("curve", fig, 5)
        w.add_hparams({"lr": ember.tensor(0.5), "opt": "sgd", "nesterov": True},
                      {"hparam/acc": 0.75}, run_name="hp")
        w.add_embedding(mat, metadata=[f"p{i}" for i in range(16)],
                        label_img=ember.rand(16, 3, 8, 8), tag="points")
    acc = _acc(tmp_path)
    (text,) = acc.Tensors("notes/text_summary")
    assert text.tensor_proto.string_val == [b"**ember** run"]
    (fig_ev,) = acc.Images("curve")
    assert fig_ev.step == 5 and _png(fig_ev.encoded_image_string).shape[:2] == (200, 200)
    hp = _acc(tmp_path / "hp")
    tags = hp.PluginTagToContent("hparams")
    assert "_hparams_/experiment" in tags and "_hparams_/session_start_info" in tags
    assert [e.value for e in hp.Scalars("hparam/acc")] == [0.75]
    tsv = [line.split("\t") for line in
           (tmp_path / "00000" / "points" / "tensors.tsv").read_text().splitlines()]
    np.testing.assert_allclose(np.array(tsv, dtype=np.float64), mat.numpy(), rtol=1e-5)
    meta = (tmp_path / "00000" / "points" / "metadata.tsv").read_text().split()
    assert meta == [f"p{i}" for i in range(16)]
    assert (tmp_path / "00000" / "points" / "sprite.png").exists()
    assert "points" in (tmp_path / "projector_config.pbtxt").read_text()
    with pytest.raises(ValueError, match=r"\[12\]"):
        SummaryWriter(str(tmp_path / "bad")).add_embedding(ember.randn(12))


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 8), nn.ReLU())
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.body(x))


def test_add_graph_from_tracer(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_graph(_Net(), ember.randn(2, 6))
    g = _acc(tmp_path).Graph()
    by_name = {n.name: n for n in g.node}
    ops = [n.op for n in g.node]
    assert ops.count("ember::linear") == 2 and ops.count("ember::relu") == 1
    assert ops.count("IO Node") == 2 and ops.count("Parameter") == 4
    assert "_Net/Sequential[body]/Linear[0]/body.0.weight" in by_name
    assert "_Net/Linear[head]/head.bias" in by_name
    relu = next(n for n in g.node if n.op == "ember::relu")
    assert relu.name.startswith("_Net/Sequential[body]/ReLU[1]/")
    head = next(n for n in g.node if n.op == "ember::linear" and "head" in n.name)
    assert relu.name in head.input and "_Net/Linear[head]/head.weight" in head.input
    out = by_name["output/output.0"]
    assert list(out.input) == [head.name]
    dims = [d.size for d in head.attr["_output_shapes"].list.shape[0].dim]
    assert dims == [2, 3]


def test_writer_keeps_pytorch_out():
    code = ("import sys, ember\nfrom ember.utils.tensorboard import SummaryWriter\n"
            "import tempfile\nw = SummaryWriter(tempfile.mkdtemp()); w.add_scalar('a', 1.0, 0)\n"
            "w.close()\nimport ember.cli\nassert 'tensorboardX' in ember.cli.info()\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_torch_utils_tensorboard_under_ember_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import torch\nfrom torch.utils.tensorboard import SummaryWriter\n"
        "import sys\nw = SummaryWriter(sys.argv[1])\n"
        "for i in range(4):\n    w.add_scalar('loss', torch.tensor(1.0 / (i + 1)), i)\n"
        "w.add_histogram('x', torch.randn(100), 0)\nw.close()\n"
        "print(type(w).__module__)\n")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-m", "ember", "run", str(script),
                          str(tmp_path / "logs")], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ember.utils.tensorboard.writer"
    acc = _acc(tmp_path / "logs")
    assert [e.value for e in acc.Scalars("loss")] == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4])
    assert acc.Histograms("x")[0].histogram_value.num == 100


def test_mnist_example_logs_to_tensorboard(tmp_path):
    import gzip
    import struct
    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 64), ("t10k", 16)):
        arrays = {"images-idx3": rng.integers(0, 256, (n, 28, 28)).astype(np.uint8),
                  "labels-idx1": rng.integers(0, 10, n).astype(np.uint8)}
        for stem, arr in arrays.items():
            header = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", s)
                                                          for s in arr.shape)
            with gzip.open(raw / f"{split}-{stem}-ubyte.gz", "wb") as f:
                f.write(header + arr.tobytes())
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    logs = tmp_path / "tb"
    out = subprocess.run([sys.executable, "-m", "ember.examples.mnist", "--epochs", "2",
                          "--batch-size", "16", "--data", str(tmp_path / "data"),
                          "--plot", str(tmp_path / "p.png"), "--tensorboard", str(logs)],
                         capture_output=True, text=True, env=env, cwd=str(tmp_path),
                         timeout=120)
    assert out.returncode == 0, out.stderr
    acc = _acc(logs)
    test_acc = [e.value for e in acc.Scalars("accuracy/test")]
    assert len(test_acc) == 2 and [e.step for e in acc.Scalars("loss/train")] == [1, 2]
    # The epoch lines the example prints carry the same numbers.
    printed = [float(line.split("test accuracy ")[1].split("%")[0])
               for line in out.stdout.splitlines() if "test accuracy" in line
               and line.startswith("epoch")]
    assert printed == pytest.approx(test_acc, abs=0.006)
    assert "weights/fc1.weight" in acc.Tags()["histograms"]
    assert acc.Images("test/samples")[0].width > 28
    assert any(n.op == "ember::linear" for n in acc.Graph().node)
