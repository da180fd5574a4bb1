"""Checkpoints both ways: torch 2.13 writes -> ember reads, ember writes -> torch reads
(weights_only=True), for state_dicts, optimizer/scheduler states, every dtype, shared views and
nested containers."""
import io
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ember


def _arr(t):
    """Host values of a torch or ember tensor (bfloat16 widened to float32)."""
    if isinstance(t, torch.Tensor):
        t = t.detach()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    return np.asarray(t.detach()._data)


def _same(e, t, path="obj"):
    """Assert that ember object ``e`` equals torch object ``t`` (types, values, layout)."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), path
        assert str(e.dtype) == str(t.dtype), path
        assert tuple(e.shape) == tuple(t.shape), path
        if t.numel():  # NumPy gives empty arrays zero strides; torch's are arbitrary there
            assert tuple(e.stride()) == tuple(t.stride()), path
            assert e.storage_offset() == t.storage_offset(), path
        assert e.requires_grad == t.requires_grad, path
        assert (type(e).__name__ == "Parameter") == isinstance(t, torch.nn.Parameter), path
        np.testing.assert_array_equal(_arr(e), _arr(t), err_msg=path)
    elif isinstance(t, (dict, OrderedDict)):
        assert type(e) is type(t), path
        assert list(e) == list(t), path
        for k in t:
            _same(e[k], t[k], f"{path}[{k!r}]")
        assert getattr(e, "_metadata", None) == getattr(t, "_metadata", None), path
    elif isinstance(t, (list, tuple)) and not isinstance(t, torch.Size):
        assert type(e) is type(t) and len(e) == len(t), path
        for i, (a, b) in enumerate(zip(e, t)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(t, torch.dtype):
        assert str(e) == str(t), path
    elif isinstance(t, torch.device):
        assert str(e) == str(t), path
    elif isinstance(t, torch.Size):
        assert tuple(e) == tuple(t), path
    else:
        assert type(e) is type(t) and e == t, path


def _same_torch(a, b, path="obj"):
    """Torch vs torch (after ember re-saved the file)."""
    if isinstance(b, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride(), path
        assert a.storage_offset() == b.storage_offset(), path
        assert a.requires_grad == b.requires_grad, path
        assert type(a) is type(b), path
        np.testing.assert_array_equal(_arr(a), _arr(b), err_msg=path)
    elif isinstance(b, dict):
        assert type(a) is type(b) and list(a) == list(b), path
        for k in b:
            _same_torch(a[k], b[k], f"{path}[{k!r}]")
        assert getattr(a, "_metadata", None) == getattr(b, "_metadata", None), path
    elif isinstance(b, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same_torch(x, y, f"{path}[{i}]")
    else:
        assert type(a) is type(b) and a == b, path


# ------------------------------------------------------------------------- objects (torch side)
def _model():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3),
                            torch.nn.Flatten(), torch.nn.Linear(12, 4))
    m(torch.randn(5, 2, 4, 4)).sum().backward()  # moves BN running stats
    return m


def obj_module_state():
    return _model().state_dict()


def obj_adam_state():
    m = _model()
    opt = torch.optim.Adam(m.parameters(), lr=1e-2, betas=(0.8, 0.9), amsgrad=True)
    for _ in range(2):
        opt.zero_grad()
        m(torch.randn(5, 2, 4, 4)).pow(2).mean().backward()
        opt.step()
    return opt.state_dict()


def obj_sgd_state():
    m = _model()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(2):
        opt.zero_grad()
        m(torch.randn(5, 2, 4, 4)).pow(2).mean().backward()
        opt.step()
    return opt.state_dict()


def obj_scheduler_state():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        opt.step()
        sched.step()
    return {"scheduler": sched.state_dict(), "optimizer": opt.state_dict()}


ALL_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8,
              torch.int8, torch.int16, torch.int32, torch.int64, torch.bool, torch.complex64,
              torch.complex128]


def obj_all_dtypes():
    g = torch.Generator().manual_seed(1)
    out = {}
    for d in ALL_DTYPES:
        x = torch.randn(3, 4, generator=g, dtype=torch.float64) * 50
        if d == torch.bool:
            out[str(d)] = x > 0
        elif d.is_complex:
            out[str(d)] = torch.complex(x, -x).to(d)
        else:
            out[str(d)] = x.to(d)
    out["scalar"] = torch.tensor(3.5)
    out["empty"] = torch.zeros(0, 3)
    out["special"] = torch.tensor([float("inf"), float("-inf"), float("nan"), -0.0, 1e-40])
    return out


def obj_shared_views():
    base = torch.arange(24.0)
    mat = base[4:16].view(3, 4)
    return {"base": base, "mat": mat, "t": mat.t(), "col": mat[:, 1], "off": base[7:9],
            "expanded": base[:3].expand(2, 3), "clone": base[:2].clone(),
            "again": base}


def obj_nested():
    p = torch.nn.Parameter(torch.randn(2, 2))
    return {"list": [1, 2.5, "three", None, True, (4, [5, {"six": torch.ones(2)}])],
            "od": OrderedDict([("b", 1), ("a", torch.zeros(1, dtype=torch.int64))]),
            "tuple": (torch.tensor([1, 2]), -7, 1e300), "bytes": b"\x00\xffab",
            "set": {1, 2, 3}, "complex": 1 - 2j, "big": 2 ** 100,
            "param": p, "frozen_param": torch.nn.Parameter(torch.ones(1), requires_grad=False),
            "grad_tensor": torch.ones(2).requires_grad_(), "dtype": torch.float16,
            "device": torch.device("cpu"), "size": torch.Size([2, 3]), "unicode": "héllo✓"}


OBJECTS = {"module_state": obj_module_state, "adam": obj_adam_state, "sgd": obj_sgd_state,
           "scheduler": obj_scheduler_state, "dtypes": obj_all_dtypes,
           "shared_views": obj_shared_views, "nested": obj_nested}


def _torch_bytes(obj, zip_format=True):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zip_format)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("name", list(OBJECTS))
def test_torch_writes_ember_reads(name, fmt):
    obj = OBJECTS[name]()
    data = _torch_bytes(obj, fmt == "zip")
    loaded = ember.load(io.BytesIO(data))
    _same(loaded, obj)


def test_frozenset_and_slice_read_from_torch_file():
    # torch's own weights_only loader refuses these, ember's allowlist reads them
    data = _torch_bytes({"f": frozenset({"x", 2}), "s": slice(1, None, 2)})
    assert ember.load(io.BytesIO(data)) == {"f": frozenset({"x", 2}), "s": slice(1, None, 2)}


@pytest.mark.parametrize("name", list(OBJECTS))
def test_ember_writes_torch_reads(name, tmp_path):
    obj = OBJECTS[name]()
    loaded = ember.load(io.BytesIO(_torch_bytes(obj)))
    path = tmp_path / "ember.pt"
    ember.save(loaded, path)
    back = torch.load(path, weights_only=True)
    _same_torch(back, obj)
    # and ember reads its own file the same way
    _same(ember.load(path), obj)


def test_sharing_is_restored_both_ways(tmp_path):
    obj = obj_shared_views()
    e = ember.load(io.BytesIO(_torch_bytes(obj)))
    assert e["base"] is e["again"]  # one object saved twice stays one object
    for k in ("mat", "t", "col", "off", "expanded"):
        assert np.shares_memory(e[k]._data, e["base"]._data), k
    assert not np.shares_memory(e["clone"]._data, e["base"]._data)
    e["base"][5] = -1.0  # a write through the base shows in its views, as in torch
    assert e["mat"][0, 1].item() == -1.0 and e["t"][1, 0].item() == -1.0
    ember.save(e, tmp_path / "x.pt")
    with zipfile.ZipFile(tmp_path / "x.pt") as zf:
        records = [n for n in zf.namelist() if "/data/" in n]
    assert len(records) == 2  # the base storage (once) and the clone
    t = torch.load(tmp_path / "x.pt", weights_only=True)
    ptr = t["base"].untyped_storage().data_ptr()
    for k in ("mat", "t", "col", "off", "expanded"):
        assert t[k].untyped_storage().data_ptr() == ptr, k
    assert t["mat"][0, 1].item() == -1.0


def test_ember_views_with_offsets(tmp_path):
    base = ember.arange(30, dtype=ember.float64)
    obj = {"base": base, "rows": base.view(5, 6)[1:4], "tcols": base.view(5, 6).t()[2:, 1:3],
           "slice": base[5:25:3], "exp": base[3:4].expand(2, 3), "det": base.detach(),
           "other": ember.ones(3, dtype=ember.bfloat16)}
    path = tmp_path / "v.pt"
    ember.save(obj, path)
    t = torch.load(path, weights_only=True)
    tb = torch.arange(30, dtype=torch.float64)
    want = {"base": tb, "rows": tb.view(5, 6)[1:4], "tcols": tb.view(5, 6).t()[2:, 1:3],
            "slice": tb[5:25:3], "exp": tb[3:4].expand(2, 3), "det": tb,
            "other": torch.ones(3, dtype=torch.bfloat16)}
    for k, w in want.items():
        assert t[k].dtype == w.dtype and t[k].shape == w.shape, k
        np.testing.assert_array_equal(_arr(t[k]), _arr(w), err_msg=k)
        if k != "other":
            assert t[k].untyped_storage().data_ptr() == t["base"].untyped_storage().data_ptr()
    assert t["rows"].storage_offset() == 6 and t["slice"].stride() == (3,)
    back = ember.load(path)
    assert back["slice"].storage_offset() == 5 and back["slice"].stride() == (3,)
    assert np.shares_memory(back["rows"]._data, back["det"]._data)


def test_bfloat16_and_float16_bits_exact(tmp_path):
    bits = np.arange(0, 1 << 16, 7, dtype=np.uint16)
    tb = torch.from_numpy(bits.view(np.int16).copy()).view(torch.bfloat16)
    th = torch.from_numpy(bits.view(np.int16).copy()).view(torch.float16)
    e = ember.load(io.BytesIO(_torch_bytes({"b": tb, "h": th})))
    ember.save(e, tmp_path / "b.pt")
    t = torch.load(tmp_path / "b.pt", weights_only=True)
    # every bit pattern (NaN payloads included) survives ember's float32 detour
    assert torch.equal(t["b"].view(torch.int16), tb.view(torch.int16))
    assert torch.equal(t["h"].view(torch.int16), th.view(torch.int16))


def test_file_object_path_and_pathlike(tmp_path):
    x = {"w": ember.randn(3, 2)}
    p = tmp_path / "a.pt"
    ember.save(x, str(p))
    np.testing.assert_array_equal(_arr(ember.load(str(p))["w"]), _arr(x["w"]))
    ember.save(x, p)  # PathLike
    with open(p, "rb") as f:
        np.testing.assert_array_equal(_arr(ember.load(f)["w"]), _arr(x["w"]))
    buf = io.BytesIO()
    ember.save(x, buf)
    buf.seek(0)
    np.testing.assert_array_equal(torch.load(buf, weights_only=True)["w"].numpy(), _arr(x["w"]))


def test_archive_layout_matches_torch(tmp_path):
    ember.save({"a": ember.ones(3), "b": ember.zeros(2, dtype=ember.int64)}, tmp_path / "c.pt")
    with zipfile.ZipFile(tmp_path / "c.pt") as zf:
        names = zf.namelist()
        assert names[0] == "archive/data.pkl"
        assert zf.read("archive/version") == b"3\n"
        assert zf.read("archive/byteorder") == b"little"
        assert "archive/.data/serialization_id" in names
        assert pickle.loads(zf.read("archive/data.pkl")[:2] + b"N.") is None  # protocol 2
        assert zf.read("archive/data.pkl")[:2] == b"\x80\x02"
        raw = (tmp_path / "c.pt").read_bytes()
        for info in zf.infolist():
            if "/data/" in info.filename:
                h = info.header_offset
                n, m = int.from_bytes(raw[h + 26:h + 28], "little"), \
                    int.from_bytes(raw[h + 28:h + 30], "little")
                assert (h + 30 + n + m) % 64 == 0, info.filename
    # torch can memory-map the file (it needs the aligned records)
    t = torch.load(tmp_path / "c.pt", weights_only=True, mmap=True)
    assert t["a"].tolist() == [1.0, 1.0, 1.0]


def test_state_dict_metadata_and_load_into_torch_module(tmp_path):
    m = _model()
    e = ember.load(io.BytesIO(_torch_bytes(m.state_dict())))
    assert e._metadata == m.state_dict()._metadata
    ember.save(e, tmp_path / "m.pt")
    fresh = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3),
                                torch.nn.Flatten(), torch.nn.Linear(12, 4))
    fresh.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    x = torch.randn(2, 2, 4, 4)
    m.eval()
    fresh.eval()
    assert torch.equal(m(x), fresh(x))


def test_ember_optimizer_and_scheduler_state_roundtrip(tmp_path):
    w = ember.randn(3, 2, requires_grad=True)
    opt = ember.optim.Adam([w], lr=0.1)
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(2):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        sched.step()
    state = {"opt": opt.state_dict(), "sched": sched.state_dict()}
    ember.save(state, tmp_path / "o.pt")
    t = torch.load(tmp_path / "o.pt", weights_only=True)
    tw = torch.nn.Parameter(torch.from_numpy(np.array(w.detach()._data)))
    topt = torch.optim.Adam([tw], lr=0.1)
    topt.load_state_dict(t["opt"])  # torch accepts ember's layout
    assert topt.state_dict()["param_groups"][0]["lr"] == opt.param_groups[0]["lr"]
    back = ember.load(tmp_path / "o.pt")
    opt2 = ember.optim.Adam([w], lr=0.1)
    opt2.load_state_dict(back["opt"])
    np.testing.assert_array_equal(_arr(opt2.state[w]["exp_avg"]), _arr(opt.state[w]["exp_avg"]))
    assert back["sched"] == state["sched"]


def test_load_weights_only_false_reads_trusted_pickles(tmp_path):
    class Box:
        pass
    data = _torch_bytes({"x": torch.ones(2), "np": np.arange(3)})
    with pytest.raises(pickle.UnpicklingError, match="numpy"):
        ember.load(io.BytesIO(data))
    out = ember.load(io.BytesIO(data), weights_only=False)
    assert out["np"].tolist() == [0, 1, 2] and out["x"].tolist() == [1.0, 1.0]
    del Box


def _pair():
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3),
                            torch.nn.Flatten(), torch.nn.Linear(12, 4))
    e = ember.nn.Sequential(ember.nn.Conv2d(2, 3, 3), ember.nn.BatchNorm2d(3),
                            ember.nn.Flatten(), ember.nn.Linear(12, 4))
    return t, e


def test_ember_module_state_dict_both_ways(tmp_path):
    t, e = _pair()
    t(torch.randn(5, 2, 4, 4))  # running stats move
    # torch -> ember module
    torch.save(t.state_dict(), tmp_path / "t.pt")
    e.load_state_dict(ember.load(tmp_path / "t.pt"))
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32)
    t.eval()
    e.eval()
    with torch.no_grad():
        want = t(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_arr(e(ember.from_numpy(x))), want, rtol=1e-5, atol=1e-6)
    # ember module -> torch
    ember.save(e.state_dict(), tmp_path / "e.pt")
    t2, _ = _pair()
    t2.load_state_dict(torch.load(tmp_path / "e.pt", weights_only=True))
    t2.eval()
    with torch.no_grad():
        np.testing.assert_array_equal(t2(torch.from_numpy(x)).numpy(), want)
    # a Parameter saved on its own comes back as torch.nn.Parameter
    ember.save({"p": e[0].weight}, tmp_path / "p.pt")
    p = torch.load(tmp_path / "p.pt", weights_only=True)["p"]
    assert isinstance(p, torch.nn.Parameter) and p.requires_grad
    assert type(ember.load(tmp_path / "p.pt")["p"]).__name__ == "Parameter"
