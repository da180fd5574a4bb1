"""ember.serialization's safe-globals API (add_safe_globals, get_safe_globals,
clear_safe_globals, safe_globals) against torch.serialization's: user classes and functions in
checkpoints written by ember.save and by real torch.save (zip and legacy formats)."""
from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
import torch

import ember
from ember import serialization as es


class Point:
    """A plain user class: pickled as NEWOBJ (copyreg.__newobj__) plus BUILD of its __dict__."""

    def __init__(self, x, y, w=None):
        self.x, self.y, self.w = x, y, w


class Slotted:
    """A slotted user class: BUILD gets (None, {slot: value})."""

    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a, self.b = a, b


class WithState:
    """A user class with __setstate__: BUILD must call it."""

    def __init__(self, v):
        self.v = v

    def __getstate__(self):
        return {"packed": [self.v, self.v * 2]}

    def __setstate__(self, state):
        self.v = state["packed"][0]
        self.restored = True


def make_rgb(r, g, b):
    return Rgb(r, g, b)


class Rgb:
    """Pickled as a call of the module-level factory ``make_rgb`` (REDUCE)."""

    def __init__(self, r, g, b):
        self.rgb = (r, g, b)

    def __reduce__(self):
        return make_rgb, self.rgb


class OtherPoint:
    """Stands in for ``Point`` through the (obj, "module.qualname") form."""


POINT = f"{__name__}.Point"


@pytest.fixture(autouse=True)
def _clean():
    es.clear_safe_globals()
    torch.serialization.clear_safe_globals()
    yield
    es.clear_safe_globals()
    torch.serialization.clear_safe_globals()


def _ember_ckpt(obj, **kw) -> bytes:
    buf = io.BytesIO()
    ember.save(obj, buf)
    return buf.getvalue()


def _torch_ckpt(obj, **kw) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


def _e_load(data: bytes):
    return ember.load(io.BytesIO(data), weights_only=True)


def _t_load(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True)


def _refusal(load, data, path):
    with pytest.raises(pickle.UnpicklingError) as info:
        load(data)
    msg = str(info.value)
    assert f"Unsupported global: GLOBAL {path} was not an allowed global by default" in msg
    assert "add_safe_globals" in msg and "safe_globals" in msg
    return msg


# --------------------------------------------------------------------------------- the API
def test_api_add_get_clear_and_context_manager():
    assert es.get_safe_globals() == []
    es.add_safe_globals([Point, (OtherPoint, "elsewhere.Point")])
    es.add_safe_globals([Point])  # a set: no duplicate
    assert sorted(map(repr, es.get_safe_globals())) == sorted(
        map(repr, [Point, (OtherPoint, "elsewhere.Point")]))
    with es.safe_globals([make_rgb]) as entered:
        assert entered is None
        assert make_rgb in es.get_safe_globals() and Point in es.get_safe_globals()
    assert make_rgb not in es.get_safe_globals() and Point in es.get_safe_globals()
    es.clear_safe_globals()
    assert es.get_safe_globals() == []
    assert "add_safe_globals" in es.__all__ and "safe_globals" in es.__all__


def test_api_matches_torch_bookkeeping():
    for mod in (es, torch.serialization):
        mod.add_safe_globals([Point])
        with mod.safe_globals([Point, Slotted]):
            pass
    # torch's context manager removes what it added, even entries that were there before.
    assert es.get_safe_globals() == torch.serialization.get_safe_globals() == []


# ------------------------------------------------------------------- ember-written files
def test_user_class_refused_then_loaded():
    obj = {"p": Point(1, 2.5, ember.arange(3.0)), "step": 7}
    data = _ember_ckpt(obj)
    _refusal(_e_load, data, POINT)
    es.add_safe_globals([Point])
    out = _e_load(data)
    assert type(out["p"]) is Point and out["step"] == 7
    assert (out["p"].x, out["p"].y) == (1, 2.5)
    np.testing.assert_array_equal(out["p"].w.numpy(), [0.0, 1.0, 2.0])
    es.clear_safe_globals()
    _refusal(_e_load, data, POINT)


def test_context_manager_scopes_the_allowance():
    data = _ember_ckpt([Point(0, 1)])
    with es.safe_globals([Point]):
        assert type(_e_load(data)[0]) is Point
    _refusal(_e_load, data, POINT)


def test_slots_setstate_and_factory_function():
    obj = [Slotted(3, "s"), WithState(5), Rgb(1, 2, 3)]
    data = _ember_ckpt(obj)
    with es.safe_globals([Slotted, WithState]):
        _refusal(_e_load, data, f"{__name__}.make_rgb")
    with es.safe_globals([Slotted, WithState, make_rgb]):
        s, w, c = _e_load(data)
    assert (s.a, s.b) == (3, "s")
    assert w.v == 5 and w.restored
    assert type(c) is Rgb and c.rgb == (1, 2, 3)


def test_tuple_form_maps_a_checkpoint_name_to_another_object():
    data = _ember_ckpt(Point(4, 5))
    es.add_safe_globals([(OtherPoint, POINT)])
    out = _e_load(data)
    assert type(out) is OtherPoint and (out.x, out.y) == (4, 5)


def test_malformed_entries_fail_like_torch():
    data = _ember_ckpt({"p": Point(1, 2)})
    plain = _ember_ckpt({"t": ember.ones(2)})
    for bad, err in (((Point, POINT, "x"), ValueError), ((Point, 3), TypeError)):
        es.clear_safe_globals()
        torch.serialization.clear_safe_globals()
        es.add_safe_globals([bad])
        torch.serialization.add_safe_globals([bad])
        with pytest.raises(err, match="Expected"):
            _t_load(data)
        with pytest.raises(err, match="Expected"):
            _e_load(data)
        # A checkpoint with only default globals does not look at the user's list.
        _t_load(plain)
        assert _e_load(plain)["t"].shape == (2,)


def test_blocked_modules_stay_blocked(tmp_path):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    data = _ember_ckpt({"x": Exploit()})
    es.add_safe_globals([os.system])
    with pytest.raises(pickle.UnpicklingError, match="is blocked"):
        _e_load(data)
    assert not marker.exists()


def test_unlisted_class_still_refused_when_another_is_listed():
    data = _ember_ckpt([Point(1, 2), Slotted(1, 2)])
    es.add_safe_globals([Point])
    _refusal(_e_load, data, f"{__name__}.Slotted")


# -------------------------------------------------------------------- torch-written files
@pytest.mark.parametrize("zipfile", [True, False])
def test_torch_written_checkpoint_loads_the_same_way(zipfile):
    obj = {"p": Point(1, (2, 3), torch.arange(4, dtype=torch.float32)), "c": Rgb(7, 8, 9),
           "s": Slotted(torch.ones(2, dtype=torch.float64), None)}
    data = _torch_ckpt(obj, _use_new_zipfile_serialization=zipfile)
    torch_msg = _refusal(_t_load, data, POINT)
    ember_msg = _refusal(_e_load, data, POINT)
    assert type(torch_msg) is type(ember_msg)
    allow = [Point, Slotted, make_rgb]
    with torch.serialization.safe_globals(allow):
        t_out = _t_load(data)
    with es.safe_globals(allow):
        e_out = _e_load(data)
    assert type(e_out["p"]) is type(t_out["p"]) is Point
    assert e_out["p"].x == t_out["p"].x and e_out["p"].y == t_out["p"].y
    assert isinstance(e_out["p"].w, ember.Tensor) and e_out["p"].w.dtype is ember.float32
    np.testing.assert_array_equal(e_out["p"].w.numpy(), t_out["p"].w.numpy())
    assert e_out["c"].rgb == t_out["c"].rgb == (7, 8, 9)
    assert e_out["s"].b is None and e_out["s"].a.dtype is ember.float64
    np.testing.assert_array_equal(e_out["s"].a.numpy(), t_out["s"].a.numpy())
    # Outside the context manager both refuse again.
    _refusal(_t_load, data, POINT)
    _refusal(_e_load, data, POINT)


def test_ember_written_checkpoint_loads_in_torch_with_the_same_list():
    data = _ember_ckpt({"p": Point(1, 2, ember.ones(3))})
    _refusal(_t_load, data, POINT)
    with torch.serialization.safe_globals([Point]):
        out = _t_load(data)
    assert type(out["p"]) is Point and isinstance(out["p"].w, torch.Tensor)
    np.testing.assert_array_equal(out["p"].w.numpy(), np.ones(3, np.float32))
