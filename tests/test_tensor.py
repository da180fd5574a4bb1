"""Tensor API compared with real torch: attributes, conversions, memory sharing, view/reshape,
strides, contiguity, iteration, truth values, devices."""
import numpy as np
import pytest
import torch

import ember
from oracle import Case, _np, assert_close, check

LIBS = [torch, ember]
# Tests of behaviour that is the same on every device: ember's factories make their tensors on
# EMBER_TEST_DEVICE (torch stays on the CPU). The others check CPU specifics (NumPy memory
# sharing, device attributes) and stay on the CPU.
DEVICE_AGNOSTIC = pytest.mark.usefixtures("on_test_device")


def _dn(t) -> str:
    return str(t.dtype).replace("torch.", "")


def _same(e, t, tol=0.0):
    assert _dn(e) == _dn(t), (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    assert_close(_np(e), _np(t), tol, tol, "values")


def _pair(arr):
    return torch.tensor(arr), ember.tensor(arr)


# --------------------------------------------------------------------------- attributes
@DEVICE_AGNOSTIC
def test_shape_size_dim_numel():
    a = np.zeros((2, 3, 4), dtype=np.float32)
    for lib in LIBS:
        t = lib.tensor(a)
        assert t.shape == (2, 3, 4) and t.size() == (2, 3, 4)
        assert repr(t.shape) == "torch.Size([2, 3, 4])"
        assert t.size(1) == 3 and t.size(-1) == 4 and t.shape[-2] == 3
        assert repr(t.shape[1:]) == "torch.Size([3, 4])"
        assert t.dim() == 3 and t.ndim == 3 and t.numel() == 24
        assert t.shape.numel() == 24
        assert t.element_size() == 4
        assert len(t) == 2
        with pytest.raises(IndexError, match="Dimension out of range"):
            t.size(3)
        s = lib.tensor(3.0)
        assert s.shape == () and s.dim() == 0 and s.numel() == 1
        with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
            len(s)


def test_dtype_device_and_flags():
    for lib in LIBS:
        t = lib.ones(2, 3)
        assert t.dtype == lib.float32 and str(t.dtype) == "torch.float32"
        assert t.device == lib.device("cpu") and str(t.device) == "cpu"
        assert t.device.type == "cpu" and t.device.index is None
        assert not t.is_cuda and t.is_floating_point()
        assert not lib.ones(2, dtype=lib.int64).is_floating_point()
        assert t.requires_grad is False and t.grad is None
        assert t.is_leaf and t.grad_fn is None
        assert lib.is_tensor(t) and not lib.is_tensor(np.ones(2))
        assert lib.device("cpu") == lib.device("cpu")
        assert repr(lib.device("cpu")) == "device(type='cpu')"
        assert lib.device("cuda", 1).index == 1 and str(lib.device("cuda:1")) == "cuda:1"


@DEVICE_AGNOSTIC
def test_T_mT_and_data():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    t, e = _pair(a)
    _same(e.mT, t.mT)
    _same(e[0].T, t[0].T)
    with pytest.raises(RuntimeError, match="tensor.mT is only supported on matrices"):
        ember.ones(3).mT
    for lib in LIBS:
        x = lib.ones(3, requires_grad=True)
        d = x.data
        assert not d.requires_grad and d.is_leaf
        d[0] = 5  # .data shares memory but is invisible to autograd
        assert x[0].item() == 5.0
        y = lib.zeros(3)
        y.data = lib.full((3,), 2.0)
        assert y.tolist() == [2.0, 2.0, 2.0]


# --------------------------------------------------------------------------- conversion
def test_numpy_shares_memory_and_requires_grad_error():
    for lib in LIBS:
        t = lib.zeros(3)
        n = t.numpy()
        n[1] = 4
        assert t[1].item() == 4.0
        t.add_(1)
        assert n.tolist() == [1.0, 5.0, 1.0]
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires "
                                               "grad"):
            x.numpy()
        assert x.detach().numpy().tolist() == [1.0, 1.0]


@DEVICE_AGNOSTIC
def test_item_tolist():
    for lib in LIBS:
        assert lib.tensor(2.5).item() == 2.5 and isinstance(lib.tensor(2.5).item(), float)
        assert isinstance(lib.tensor([3]).item(), int)
        assert lib.tensor(True).item() is True
        with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to "
                                               "Scalar"):
            lib.ones(2).item()
        assert lib.arange(6).reshape(2, 3).tolist() == [[0, 1, 2], [3, 4, 5]]
        assert lib.tensor(1.5).tolist() == 1.5
        assert lib.tensor([True, False]).tolist() == [True, False]
        assert float(lib.tensor([1.25])) == 1.25 and int(lib.tensor(7.9)) == 7


def test_to_dtype_device_other_and_shortcuts():
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((3, 4)) * 5).astype(np.float32)
    t, e = _pair(a)
    for name in ("float", "double", "half", "long", "int", "bool", "short", "byte"):
        _same(getattr(e, name)(), getattr(t, name)())
    _same(e.to(ember.float64), t.to(torch.float64))
    _same(e.to("cpu", ember.int32), t.to("cpu", torch.int32))
    _same(e.to(dtype=ember.float16), t.to(dtype=torch.float16))
    _same(e.to(ember.ones(1, dtype=ember.int64)), t.to(torch.ones(1, dtype=torch.int64)))
    assert e.to(ember.float32) is e and t.to(torch.float32) is t
    assert e.to("cpu") is e and e.cpu() is e
    assert e.to(ember.float32, copy=True) is not e
    assert e.type() == t.type() == "torch.FloatTensor"
    assert e.long().type() == "torch.LongTensor"
    _same(e.type(ember.float64), t.type(torch.float64))
    _same(e.type_as(ember.ones(1, dtype=ember.int16)), t.type_as(torch.ones(1,
                                                                       dtype=torch.int16)))


def test_to_dtype_is_differentiable():
    case = Case(fn=lambda lib, x: x.to(lib.float64) * x.double(), inputs=[(3, 2)],
                gradcheck=False)
    check(case, "float32")


@DEVICE_AGNOSTIC
def test_clone_and_detach_memory():
    for lib in LIBS:
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        c = y.clone()
        assert c.grad_fn.name() == "CloneBackward0" and c.requires_grad
        with lib.no_grad():
            c[0] = 7
        assert y[0].item() == 2.0  # clone copies
        d = y.detach()
        assert not d.requires_grad and d.grad_fn is None and d.is_leaf
        d[1] = 9
        assert y[1].item() == 9.0  # detach shares memory
        c.sum().backward()
        assert x.grad.tolist() == [2.0, 2.0, 2.0]


@DEVICE_AGNOSTIC
def test_contiguous_view_reshape():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    for lib in LIBS:
        t = lib.tensor(a)
        assert t.is_contiguous() and t.stride() == (4, 1) and t.stride(0) == 4
        tt = t.t()
        assert not tt.is_contiguous() and tt.stride() == (1, 4)
        with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's "
                                               "size and stride"):
            tt.view(12)
        r = tt.reshape(12)
        assert r.shape == (12,) and r.is_contiguous()
        c = tt.contiguous()
        assert c.is_contiguous() and c.stride() == (3, 1)
        assert t.contiguous() is t
        v = t.view(2, 6)
        v[0, 0] = 100.0  # a view shares memory
        assert t[0, 0].item() == 100.0
        r2 = t.reshape(6, 2)
        r2[0, 1] = -1.0  # reshape of a contiguous tensor is a view
        assert t[0, 1].item() == -1.0
        assert t.view(-1, 3).shape == (4, 3) and t.view(lib.Size([12])).shape == (12,)
        with pytest.raises(RuntimeError, match="shape '\\[5, -1\\]' is invalid for input of "
                                               "size 12"):
            t.view(5, -1)
        assert t[:, 1].stride() == (4,) and t[::2].stride() == (8, 1)
        assert lib.zeros(2, 3, 4).permute(2, 0, 1).stride() == (1, 12, 4)


@DEVICE_AGNOSTIC
def test_expand_and_view_strides():
    for lib in LIBS:
        e = lib.ones(3, 1).expand(3, 4)
        assert e.stride() == (1, 0) and not e.is_contiguous()
        assert lib.ones(3)[None].stride() == (3, 1)


@DEVICE_AGNOSTIC
def test_iteration_len_bool():
    for lib in LIBS:
        t = lib.arange(6).reshape(3, 2)
        rows = [r.tolist() for r in t]
        assert rows == [[0, 1], [2, 3], [4, 5]]
        assert len(t) == 3
        with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
            iter(lib.tensor(1.0))
        assert bool(lib.tensor([1.0])) and not bool(lib.tensor(0))
        with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one "
                                               "value is ambiguous"):
            bool(lib.ones(2))
        x = lib.ones(2, requires_grad=True)
        parts = list(x * 2)
        assert parts[0].grad_fn is not None and parts[0].shape == ()


@DEVICE_AGNOSTIC
def test_index_and_format_protocols():
    for lib in LIBS:
        assert [10, 20, 30][lib.tensor(1)] == 20
        with pytest.raises(TypeError, match="only integer tensors of a single element can be "
                                            "converted to an index"):
            [1, 2][lib.tensor(1.0)]
        assert f"{lib.tensor(3.14159):.2f}" == "3.14"
        assert np.asarray(lib.arange(3)).tolist() == [0, 1, 2]


@DEVICE_AGNOSTIC
def test_deepcopy_and_pickle_roundtrip():
    import copy
    import pickle
    x = ember.randn(3, requires_grad=True)
    y = copy.deepcopy(x)
    assert y is not x and y.requires_grad and y.tolist() == x.tolist()
    z = pickle.loads(pickle.dumps(x.detach()))
    assert z.tolist() == x.tolist() and z.dtype == x.dtype
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(x * 2)


@DEVICE_AGNOSTIC
def test_tensor_constructor_legacy():
    for lib in LIBS:
        t = lib.Tensor([1, 2])
        assert t.dtype == lib.float32 and t.tolist() == [1.0, 2.0]
        assert lib.Tensor(2, 3).shape == (2, 3)
        assert lib.Tensor().shape == (0,)


@DEVICE_AGNOSTIC
def test_new_factories():
    for lib in LIBS:
        base = lib.ones(2, dtype=lib.float64)
        assert base.new_zeros(3).dtype == lib.float64
        assert base.new_ones((2, 2)).shape == (2, 2)
        nf = base.new_full((2,), 4)
        assert nf.dtype == lib.float64 and nf.tolist() == [4.0, 4.0]
        nt = base.new_tensor([1, 2])
        assert nt.dtype == lib.float64
        assert base.new_empty(0, 3).shape == (0, 3)
        assert nf.device == nt.device == base.new_zeros(1).device == base.device


def test_misc_methods_match_torch():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3)).astype(np.float32)
    t, e = _pair(a)
    assert e.nelement() == t.nelement() and e.ndimension() == t.ndimension()
    assert e.storage_offset() == t.storage_offset() == 0
    assert e[1].storage_offset() == t[1].storage_offset() == 3
    assert e.get_device() == t.get_device() == -1
    assert e.nbytes == t.nbytes and e.itemsize == t.itemsize
    assert e.is_complex() == t.is_complex()


@DEVICE_AGNOSTIC
def test_size_concat_scalar_conversion_errors_and_detach_view():
    for lib in LIBS:
        s = lib.ones(2, 3).shape
        assert repr(s + (4,)) == "torch.Size([2, 3, 4])"
        assert repr((1,) + s) == "torch.Size([1, 2, 3])"
        with pytest.raises(ValueError, match="only one element tensors can be converted to "
                                             "Python scalars"):
            float(lib.ones(2))
        with pytest.raises(ValueError):
            int(lib.ones(2))
        with pytest.raises(RuntimeError, match="Can't detach views in-place"):
            lib.ones(2, requires_grad=True)[0:1].detach_()
