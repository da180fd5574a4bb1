"""Hostile checkpoints: every crafted pickle is refused by ember.load (weights_only=True,
the default) and a sentinel file proves that no code from the file ran."""
import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import ember

P2 = b"\x80\x02"


def G(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def S(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def I(n):
    if -(1 << 31) <= n < (1 << 31):
        return b"J" + struct.pack("<i", n)
    b = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(b)]) + b


def T(*items):
    return b"(" + b"".join(items) + b"t"


def call(fn, *args):
    return fn + T(*args) + b"R"


def pid(key="0", numel=4, storage="FloatStorage", location="cpu"):
    return T(S("storage"), G("torch", storage), S(key), S(location), I(numel)) + b"Q"


def tensor(p, offset=0, size=(4,), stride=(1,)):
    return call(G("torch._utils", "_rebuild_tensor_v2"), p, I(offset), T(*map(I, size)),
                T(*map(I, stride)), b"\x89", call(G("collections", "OrderedDict")))


def archive(pkl, records=None, prefix="archive"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{prefix}/data.pkl", pkl)
        for name, data in (records or {}).items():
            zf.writestr(name, data)
        zf.writestr(f"{prefix}/version", b"3\n")
    return buf.getvalue()


FLOATS4 = {"archive/data/0": np.arange(4, dtype=np.float32).tobytes()}


class _Reduce:
    """An object whose pickle calls ``fn(*args)`` on load (what real exploits do)."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


class EvilDict(OrderedDict):
    """A subclass of an allowlisted type: its pickle names this module's class."""

    def __setitem__(self, k, v):  # pragma: no cover - must never run
        open(os.environ["EMBER_SENTINEL"], "w").close()
        super().__setitem__(k, v)


def _evil_dict():
    d = EvilDict()
    OrderedDict.__setitem__(d, "a", 1)  # bypass the hostile __setitem__ while building it
    return d


def _cases(sentinel):
    touch = f"touch {sentinel}"
    pyopen = f"open({sentinel!r}, 'w').close()"
    cases = {
        "posix_system": P2 + call(G("posix", "system"), S(touch)) + b".",
        "os_system_via_pickle_dumps": pickle.dumps(_Reduce(os.system, touch), protocol=2),
        "builtins_eval": P2 + call(G("builtins", "eval"), S(pyopen)) + b".",
        "builtin_exec_py2_name": P2 + call(G("__builtin__", "exec"), S(pyopen)) + b".",
        "getattr_import_chain": P2 + call(call(G("builtins", "getattr"),
                                               call(G("builtins", "__import__"), S("os")),
                                               S("system")), S(touch)) + b".",
        "nested_global_attribute": P2 + G("torch._utils", "_rebuild_tensor_v2.__globals__")
        + b".",
        "nested_global_dotted_class": P2 + G("collections", "OrderedDict.__init__") + b".",
        "stack_global_protocol4": b"\x80\x04" + b"\x8c\x08builtins\x8c\x04eval\x93" +
        T(S(pyopen)) + b"R.",
        "subclassed_allowlisted_type": pickle.dumps(_evil_dict(), protocol=2),
        "copyreg_reconstructor": pickle.dumps(_Plain(), protocol=0),
        "inst_opcode": b"(S'" + touch.encode() + b"'\nios\nsystem\n.",
        "obj_opcode": b"(" + G("os", "system") + b"S'" + touch.encode() + b"'\no.",
        "ext_opcode": P2 + b"\x82\x01.",
        "build_on_allowlisted_class": P2 + G("collections", "OrderedDict") + b"}" +
        S("fromkeys") + I(1) + b"sb.",
        "setitem_on_allowlisted_class": P2 + G("collections", "OrderedDict") + S("k") + I(1) +
        b"s.",
        "build_dunder_on_instance": P2 + call(G("collections", "OrderedDict")) + b"}" +
        S("__class__") + call(G("collections", "OrderedDict")) + b"sb.",
        "append_on_tuple": P2 + b")" + I(1) + b"a.",
        "rebuild_from_type_calls_other": P2 + call(
            G("torch._tensor", "_rebuild_from_type_v2"), G("builtins", "set"),
            G("torch", "Tensor"), T(), b"}") + b".",
        "codecs_other_codec": P2 + call(G("_codecs", "encode"), S("x"), S("rot13")) + b".",
        "persid_text_opcode": P2 + b"Pstorage\n.",
        "persistent_id_not_storage": P2 + T(S("module"), S("os")) + b"Q.",
        "persistent_id_path_key": P2 + tensor(pid(key="../../etc/passwd")) + b".",
        "persistent_id_os_type": P2 + T(S("storage"), G("os", "system"), S("0"), S("cpu"),
                                        I(4)) + b"Q.",
        "oversized_storage": P2 + tensor(pid(numel=10 ** 15)) + b".",
        "negative_storage_size": P2 + tensor(pid(numel=-4)) + b".",
        "tensor_size_beyond_storage": P2 + tensor(pid(), size=(100,)) + b".",
        "tensor_offset_beyond_storage": P2 + tensor(pid(), offset=3, size=(2,)) + b".",
        "tensor_huge_stride": P2 + tensor(pid(), size=(2,), stride=(1 << 40,)) + b".",
        "tensor_negative_stride": P2 + tensor(pid(), offset=3, size=(4,), stride=(-1,)) + b".",
        "tensor_negative_size": P2 + tensor(pid(), size=(-4,)) + b".",
        "truncated_binunicode": P2 + b"X\xff\xff\xff\x7fabc",
        "huge_long4": P2 + b"\x8b\xff\xff\xff\x7f" + b"\x00" * 16 + b".",
        "memo_get_unset": P2 + b"h\x05.",
        "deep_marks": P2 + b"(" * 100000 + b".",
    }
    return cases


class _Plain:
    pass


@pytest.fixture
def sentinel(tmp_path, monkeypatch):
    path = tmp_path / "sentinel"
    monkeypatch.setenv("EMBER_SENTINEL", str(path))
    yield path
    assert not path.exists(), "code from a hostile checkpoint ran"


CASE_NAMES = list(_cases("/x"))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_pickle_in_zip_is_refused(name, sentinel):
    data = archive(_cases(str(sentinel))[name], FLOATS4)
    with pytest.raises(pickle.UnpicklingError):
        ember.load(io.BytesIO(data))
    assert OrderedDict.fromkeys is not None and callable(OrderedDict.fromkeys)
    assert OrderedDict.__setitem__ is dict.__setitem__ or callable(OrderedDict.__setitem__)


def test_refusal_names_the_global(sentinel):
    data = archive(_cases(str(sentinel))["posix_system"])
    with pytest.raises(pickle.UnpicklingError, match=r"posix\.system"):
        ember.load(io.BytesIO(data))
    with pytest.raises(pickle.UnpicklingError, match=r"builtins\.eval"):
        ember.load(io.BytesIO(archive(_cases(str(sentinel))["builtins_eval"])))


def test_build_on_class_did_not_mutate_it(sentinel):
    before = OrderedDict.fromkeys
    with pytest.raises(pickle.UnpicklingError, match="BUILD"):
        ember.load(io.BytesIO(archive(_cases(str(sentinel))["build_on_allowlisted_class"])))
    assert OrderedDict.fromkeys == before


def test_out_of_bounds_message_names_sizes(sentinel):
    data = archive(_cases(str(sentinel))["tensor_size_beyond_storage"], FLOATS4)
    with pytest.raises(pickle.UnpicklingError, match=r"size \[100\].*holds only 4 elements"):
        ember.load(io.BytesIO(data))


@pytest.mark.parametrize("prefix", ["..", "a/..", ""])
def test_zip_entries_with_dotdot_paths_are_refused(prefix, sentinel):
    pkl = P2 + I(1) + b"."
    data = archive(pkl, prefix=prefix)
    with pytest.raises(RuntimeError):
        ember.load(io.BytesIO(data))


def test_storage_record_outside_archive_folder_not_read(sentinel):
    pkl = P2 + tensor(pid(key="0")) + b"."
    data = archive(pkl, {"../data/0": np.zeros(4, np.float32).tobytes()})
    with pytest.raises(RuntimeError, match="missing storage record"):
        ember.load(io.BytesIO(data))


def test_hostile_legacy_stream_is_refused(sentinel):
    head = b"".join(pickle.dumps(x, protocol=2) for x in (
        0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}))
    body = pickle.dumps(_Reduce(os.system, f"touch {sentinel}"), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="system"):
        ember.load(io.BytesIO(head + body))


def test_weights_only_false_is_the_explicit_opt_in(tmp_path):
    marker = tmp_path / "ran"
    data = archive(P2 + call(G("builtins", "eval"), S(f"open({str(marker)!r}, 'w').close()"))
                   + b".")
    ember.load(io.BytesIO(data), weights_only=False)  # a trusted file may run code
    assert marker.exists()
