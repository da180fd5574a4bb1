"""Crash-safe saving, damaged files, map_location, mmap, and resuming training from a checkpoint
in a fresh process."""
import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import ember
from ember.serialization import _writer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _vals(t):
    return np.asarray(t.detach()._data)


# ------------------------------------------------------------------------- crash safety
def test_error_mid_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    old = {"w": ember.arange(6.0)}
    ember.save(old, path)
    real = _writer._write_record

    def dying(zf, name, data):
        if "/data/" in name:
            real(zf, name, data[: len(data) // 2])  # half a storage is on disk ...
            raise OSError("disk full")  # ... when the save dies
        real(zf, name, data)

    monkeypatch.setattr(_writer, "_write_record", dying)
    with pytest.raises(OSError, match="disk full"):
        ember.save({"w": ember.zeros(1000)}, path)
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # the temp file is gone too
    np.testing.assert_array_equal(_vals(ember.load(path)["w"]), np.arange(6.0))


def test_kill_during_save_keeps_previous_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    ember.save({"w": ember.arange(4.0)}, path)
    marker = tmp_path / "writing"
    script = textwrap.dedent(f"""
        import time, ember
        from ember.serialization import _writer
        real = _writer._write_record
        def slow(zf, name, data):
            real(zf, name, data)
            if "/data/" in name:
                open({str(marker)!r}, "w").close()
                time.sleep(60)
        _writer._write_record = slow
        ember.save({{"w": ember.zeros(100000)}}, {str(path)!r})
    """)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.time() + 60
        while not marker.exists():
            assert proc.poll() is None, "saver exited early"
            assert time.time() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    np.testing.assert_array_equal(_vals(ember.load(path)["w"]), np.arange(4.0))
    assert torch.load(path, weights_only=True)["w"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_overwrite_replaces_atomically(tmp_path):
    path = tmp_path / "c.pt"
    ember.save({"a": ember.ones(2)}, path)
    ember.save({"b": ember.zeros(3)}, path)
    assert list(ember.load(path)) == ["b"] and os.listdir(tmp_path) == ["c.pt"]


# ------------------------------------------------------------------------- damaged files
def _good_bytes():
    buf = io.BytesIO()
    ember.save({"w": ember.arange(64.0), "n": 3}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("damage", ["truncated_half", "truncated_tail", "garbage", "text",
                                    "flipped_storage_byte", "missing_record", "not_pickle_zip"])
def test_damaged_file_gives_clear_error(damage):
    data = _good_bytes()
    if damage == "truncated_half":
        data = data[: len(data) // 2]
    elif damage == "truncated_tail":
        data = data[:-10]
    elif damage == "garbage":
        data = bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8))
    elif damage == "text":
        data = b"hello, this is not a checkpoint\n"
    elif damage == "flipped_storage_byte":
        i = data.index(np.arange(64, dtype=np.float32).tobytes()) + 100
        data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
    elif damage == "missing_record":
        data = data.replace(b"archive/data/0", b"archive/data/9")
    elif damage == "not_pickle_zip":
        buf = io.BytesIO()
        import zipfile
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("readme.txt", "hi")
        data = buf.getvalue()
    with pytest.raises(RuntimeError) as info:
        ember.load(io.BytesIO(data))
    msg = str(info.value)
    assert any(w in msg for w in ("corrupt", "truncated", "not", "missing", "Invalid")), msg


def test_empty_file(tmp_path):
    (tmp_path / "e.pt").write_bytes(b"")
    with pytest.raises(EOFError):
        ember.load(tmp_path / "e.pt")


# ------------------------------------------------------------------------- map_location
@pytest.fixture
def cuda_file(tmp_path, monkeypatch):
    """A checkpoint whose storage says it lived on cuda:0 (as one saved on a GPU does)."""
    real = _writer.StorageEntry.__init__

    def on_cuda(self, key, dtype, array, location):
        real(self, key, dtype, array, "cuda:0")

    monkeypatch.setattr(_writer.StorageEntry, "__init__", on_cuda)
    path = tmp_path / "gpu.pt"
    ember.save({"w": ember.arange(3.0)}, path)
    monkeypatch.setattr(_writer.StorageEntry, "__init__", real)
    return path


def test_cuda_location_without_cuda_raises(cuda_file):
    with pytest.raises(RuntimeError, match="CUDA device"):
        ember.load(cuda_file)
    # torch agrees that the file is well formed once mapped to the CPU
    assert torch.load(cuda_file, map_location="cpu", weights_only=True)["w"].tolist() == \
        [0.0, 1.0, 2.0]


@pytest.mark.parametrize("ml", ["cpu", ember.device("cpu"), {"cuda:0": "cpu"},
                                {"cuda:0": ember.device("cpu")}, "callable"])
def test_map_location_variants(cuda_file, ml):
    seen = []
    if isinstance(ml, str) and ml == "callable":
        def ml(storage, location):
            seen.append((storage.numel(), location))
            return storage
    out = ember.load(cuda_file, map_location=ml)
    assert out["w"].device.type == "cpu" and out["w"].tolist() == [0.0, 1.0, 2.0]
    if seen:
        assert seen == [(3, "cuda:0")]


def test_map_location_callable_none_means_default(tmp_path):
    ember.save({"w": ember.ones(2)}, tmp_path / "c.pt")
    out = ember.load(tmp_path / "c.pt", map_location=lambda s, loc: None)
    assert out["w"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError):
        ember.load(tmp_path / "c.pt", map_location=3.5)


def test_map_location_dict_leaves_other_locations(tmp_path):
    ember.save({"w": ember.ones(2)}, tmp_path / "c.pt")
    out = ember.load(tmp_path / "c.pt", map_location={"cuda:1": "cuda:0"})
    assert out["w"].device.type == "cpu"


# ------------------------------------------------------------------------- mmap
def test_mmap_load_is_copy_on_write(tmp_path):
    path = tmp_path / "m.pt"
    base = torch.arange(10.0)
    torch.save({"w": base, "v": base[3:7],
                "b": torch.ones(2, dtype=torch.bfloat16)}, path)
    before = path.read_bytes()
    out = ember.load(path, mmap=True)
    assert out["v"].tolist() == [3.0, 4.0, 5.0, 6.0] and out["b"].tolist() == [1.0, 1.0]
    assert np.shares_memory(out["w"]._data, out["v"]._data)
    out["w"][4] = 100.0
    assert out["v"][1].item() == 100.0
    assert path.read_bytes() == before  # private pages: the file is unchanged
    legacy = tmp_path / "old.pt"
    torch.save({"w": torch.ones(1)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="mmap"):
        ember.load(legacy, mmap=True)


# ------------------------------------------------------------------------- resume
_TRAIN = """
import sys, ember
def run(steps, start_path=None, save_path=None, save_at=None):
    ember.manual_seed(0)
    w = ember.randn(4, 1, requires_grad=True)
    b = ember.zeros(1, requires_grad=True)
    opt = ember.optim.Adam([w, b], lr=0.05)
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.7)
    first = 0
    if start_path:
        ck = ember.load(start_path)
        with ember.no_grad():
            w.copy_(ck["model"]["w"]); b.copy_(ck["model"]["b"])
        opt.load_state_dict(ck["optim"]); sched.load_state_dict(ck["sched"])
        ember.set_rng_state(ck["rng"]); first = ck["step"]
    losses = []
    for step in range(first, steps):
        x = ember.randn(16, 4)
        y = x.sum(1, keepdim=True) * 0.5 + 1.0
        loss = ((x @ w + b - y) ** 2).mean()
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        losses.append(loss.item())
        if save_at == step + 1:
            ember.save({"model": {"w": w, "b": b}, "optim": opt.state_dict(),
                        "sched": sched.state_dict(), "rng": ember.get_rng_state(),
                        "step": step + 1}, save_path)
    return losses
mode, path = sys.argv[1], sys.argv[2]
if mode == "full":
    print(repr(run(8, save_path=path, save_at=5)))
else:
    print(repr(run(8, start_path=path)))
"""


def test_resume_in_fresh_process_matches_uninterrupted_run(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    path = str(tmp_path / "resume.pt")
    full = subprocess.run([sys.executable, "-c", _TRAIN, "full", path], env=env,
                          capture_output=True, text=True, check=True).stdout
    resumed = subprocess.run([sys.executable, "-c", _TRAIN, "resume", path], env=env,
                             capture_output=True, text=True, check=True).stdout
    full_losses = eval(full)
    resumed_losses = eval(resumed)
    assert len(full_losses) == 8 and len(resumed_losses) == 3
    assert resumed_losses == full_losses[5:]  # bit for bit
