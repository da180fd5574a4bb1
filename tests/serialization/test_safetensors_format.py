"""ember.serialization.safetensors against the reference `safetensors` package (numpy API)."""
import json
import struct

import numpy as np
import pytest
import torch
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save
from safetensors.torch import load_file as st_torch_load_file
from safetensors.torch import save_file as st_torch_save_file

import ember
from ember.serialization import safetensors as est

NP_DTYPES = [np.float16, np.float32, np.float64, np.uint8, np.int8, np.int16, np.int32,
             np.int64, np.bool_, np.complex64]


def _arrays():
    rng = np.random.default_rng(0)
    out = {}
    for d in NP_DTYPES:
        x = rng.standard_normal((3, 2)) * 20
        out[np.dtype(d).name] = (x > 0 if d is np.bool_ else x.astype(d))
    out["empty"] = np.zeros((0, 4), np.float32)
    out["scalar"] = np.array(2.5, np.float64)
    return out


def test_reference_writes_ember_reads():
    arrays = _arrays()
    data = st_save(arrays, metadata={"format": "pt", "note": "ünï"})
    got = est.load(data)
    assert sorted(got) == sorted(arrays)
    for k, a in arrays.items():
        assert got[k].dtype.name == np.dtype(a.dtype).name or k == "bool"
        np.testing.assert_array_equal(np.asarray(got[k]._data), a, err_msg=k)


def test_ember_writes_reference_reads(tmp_path):
    arrays = _arrays()
    tensors = {k: ember.from_numpy(a) if a.ndim else ember.tensor(a) for k, a in arrays.items()}
    tensors["view"] = ember.arange(12.0).view(3, 4).t()[1:]  # non-contiguous view
    data = est.save(tensors, metadata={"k": "v"})
    back = st_load(data)
    for k, a in arrays.items():
        np.testing.assert_array_equal(back[k], a, err_msg=k)
    np.testing.assert_array_equal(back["view"], np.arange(12.0, dtype=np.float32)
                                  .reshape(3, 4).T[1:])
    header = json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]])
    assert header["__metadata__"] == {"k": "v"}


def test_bfloat16_file_roundtrip_with_torch(tmp_path):
    t = {"w": torch.randn(4, 3).to(torch.bfloat16), "b": torch.randn(3)}
    st_torch_save_file(t, str(tmp_path / "ref.safetensors"), metadata={"format": "pt"})
    e = est.load_file(tmp_path / "ref.safetensors")
    assert e["w"].dtype is ember.bfloat16
    np.testing.assert_array_equal(np.asarray(e["w"]._data), t["w"].float().numpy())
    est.save_file(e, tmp_path / "ember.safetensors", metadata={"format": "pt"})
    back = st_torch_load_file(str(tmp_path / "ember.safetensors"))
    assert torch.equal(back["w"], t["w"]) and torch.equal(back["b"], t["b"])
    with est.safe_open(tmp_path / "ember.safetensors", framework="pt") as f:
        assert f.keys() == ["b", "w"] and f.metadata() == {"format": "pt"}
        assert f.get_tensor("b").tolist() == t["b"].tolist()


def _raw(header, payload=b""):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + payload


@pytest.mark.parametrize("bad", [
    b"",
    b"\xff" * 8,
    struct.pack("<Q", 50) + b"{}",
    struct.pack("<Q", 4) + b"[1] ",
    struct.pack("<Q", 2) + b"{]",
    _raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4),
    _raw({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
    _raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12),
    _raw({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8),
    _raw({"a": {"dtype": "XX", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
    _raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 12),
    _raw({"__metadata__": {"k": 1}}),
])
def test_malformed_files_raise(bad):
    with pytest.raises(est.SafetensorError):
        est.load(bad)


def test_save_file_is_crash_safe(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    est.save_file({"a": ember.ones(2)}, path)

    def boom(*a, **k):
        raise RuntimeError("boom")
    monkeypatch.setattr(est, "save", boom)
    with pytest.raises(RuntimeError):
        est.save_file({"a": ember.zeros(2)}, path)
    assert est.load_file(path)["a"].tolist() == [1.0, 1.0]
