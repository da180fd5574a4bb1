"""In-place ops and version counters compared with real torch: values, the "modified by an
inplace operation" error, leaf rules, views writing through to their base, differentiable
__setitem__."""
import numpy as np
import pytest
import torch

import ember
from oracle import DEVICE, Case, _np, assert_close, check

LIBS = [torch, ember]
# In-place semantics are the same on every device: ember's tensors are made on
# EMBER_TEST_DEVICE (torch stays on the CPU).
pytestmark = pytest.mark.usefixtures("on_test_device")


def _case(fn, inputs, **kw):
    return Case(fn=fn, inputs=inputs, gradcheck=False, **kw)


def _both(case, dtypes=("float32", "float64")):
    for dt in dtypes:
        check(case, dt)


# --------------------------------------------------------------------------- values + grads
# Each fn clones its input (a non-leaf), applies the in-place op, and returns the result, so the
# oracle compares values and the gradient that flows back through the in-place history.
INPLACE_CASES = [
    _case(lambda lib, x, y: (x * 1).add_(y), [(3, 4), (3, 4)]),
    _case(lambda lib, x, y: (x * 1).add_(y, alpha=2.5), [(3, 4), (4,)]),
    _case(lambda lib, x, y: (x * 1).mul_(y), [(3, 4), (3, 1)]),
    _case(lambda lib, x: (x * 1).mul_(3.0), [(5,)]),
    _case(lambda lib, x, y: (x * 1).sub_(y).div_(2.0), [(2, 3), (3,)]),
    _case(lambda lib, x: (x * 1).zero_(), [(2, 3)]),
    _case(lambda lib, x: (x * 1).fill_(2.5) * x, [(2, 3)]),
    _case(lambda lib, x, v: (x * 1).fill_(v.sum()), [(2, 3), (2,)]),
    _case(lambda lib, x, y: (x * 1).copy_(y) * x, [(2, 3), (3,)]),
    _case(lambda lib, x: (x * 1).clamp_(-0.5, 0.5), [(4, 5)]),
    _case(lambda lib, x: (x * 1).clamp_(min=0.0), [(4, 5)]),
    _case(lambda lib, x: (x * 1).masked_fill_(x > 0, 0.25), [(4, 5)]),
    _case(lambda lib, x: (x * 1).add_(1).exp_(), [(6,)]),
    _case(lambda lib, x: (x * 1).mul_(2).sigmoid_(), [(6,)]),
    _case(lambda lib, x, y: _iadd(x * 1, y), [(3, 4), (4,)]),
    _case(lambda lib, x, y: _imul(x * 1, y), [(3, 4), (3, 4)]),
    _case(lambda lib, x, y: _isub_idiv(x * 1, y), [(3, 4), (3, 4)]),
]


def _iadd(a, b):
    a += b
    return a


def _imul(a, b):
    a *= b
    return a


def _isub_idiv(a, b):
    a -= b
    a /= 3.0
    return a


@pytest.mark.parametrize("idx", range(len(INPLACE_CASES)))
def test_inplace_values_and_grads(idx):
    _both(INPLACE_CASES[idx])


def test_inplace_on_plain_tensors_values():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    res = []
    for lib in LIBS:
        t = lib.tensor(a)
        t.add_(1).mul_(2).clamp_(-1, 3)
        t[0, 1] = 7
        t[t < 0] = -5
        t.masked_fill_(t > 2.9, 9)
        i = lib.arange(6).reshape(2, 3)
        i += 2
        i *= 3
        i //= 2
        res.append((t, i))
    for e, t in zip(res[1], res[0]):
        assert str(e.dtype)[-7:] == str(t.dtype)[-7:]
        assert_close(_np(e), _np(t), 0, 0, "values")


def test_inplace_result_type_cannot_downcast():
    for lib in LIBS:
        i = lib.arange(3)
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                               "output type Long"):
            i += 1.5
        with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
            lib.zeros(3).add_(lib.ones(2, 3))


def test_inplace_returns_self_and_bumps_version():
    for lib in LIBS:
        # ember keeps the counter in a shared one-element list; torch exposes an int.
        def ver(t):
            return t._version if lib is torch else t._version_value
        t = lib.zeros(3)
        v0 = ver(t)
        assert t.add_(1) is t
        t.mul_(2)
        t[0] = 5
        t.zero_()
        assert ver(t) == v0 + 4
        d = t.detach()
        d.fill_(1)
        assert ver(t) == v0 + 5  # detach shares the version counter
        assert _np(t).tolist() == [1, 1, 1]


# --------------------------------------------------------------------------- version checks
@pytest.mark.parametrize("mutate", ["add_", "mul_", "setitem", "zero_", "iadd", "copy_"])
def test_modified_saved_tensor_raises_at_backward(mutate):
    for lib in LIBS:
        x = lib.randn(4, requires_grad=True)
        h = x * 2
        y = h.sin()  # sin saves its input h
        ops = {"add_": lambda: h.add_(1), "mul_": lambda: h.mul_(2),
               "setitem": lambda: h.__setitem__(0, 3.0), "zero_": lambda: h.zero_(),
               "iadd": lambda: h.__iadd__(1), "copy_": lambda: h.copy_(lib.ones(4))}
        ops[mutate]()
        with pytest.raises(RuntimeError, match="one of the variables needed for gradient "
                                               "computation has been modified by an inplace "
                                               "operation"):
            y.sum().backward()


def test_inplace_chain_on_saved_output_raises():
    for lib in LIBS:
        x = lib.randn(4, requires_grad=True)
        y = (x * 1).exp_().sqrt_()  # sqrt_ overwrites exp's saved output
        with pytest.raises(RuntimeError, match="which is output 0 of"):
            y.sum().backward()


def test_modified_saved_tensor_through_view_raises():
    for lib in LIBS:
        x = lib.randn(2, 3, requires_grad=True)
        h = x.exp()  # exp saves its output
        h[0].mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            h.sum().backward()


def test_modifying_unsaved_tensor_is_fine():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(4)
    res = []
    for lib in LIBS:
        x = lib.tensor(a, requires_grad=True)
        h = x * 2
        y = h + 1  # add saves nothing
        h.mul_(3)
        (y * h).sum().backward()
        res.append(x.grad)
    assert_close(_np(res[1]), _np(res[0]), 1e-6, 1e-6, "grad")


def test_inplace_on_leaf_requiring_grad_raises():
    for lib in LIBS:
        w = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used "
                                               "in an in-place operation"):
            w.add_(1)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            w[0] = 2.0
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is "
                                               "being used in an in-place operation"):
            w[1:].mul_(2)
        with lib.no_grad():
            w.mul_(2)  # allowed: this is how optimizers update parameters
            w[0] = 5
        assert _np(w).tolist() == [5, 2, 2]
        assert w.is_leaf and w.requires_grad


def test_inplace_with_grad_input_on_plain_tensor_makes_it_non_leaf():
    rng = np.random.default_rng(2)
    a = rng.standard_normal(3)
    res = []
    for lib in LIBS:
        w = lib.tensor(a, requires_grad=True)
        buf = lib.zeros(3, dtype=lib.float64)
        buf.add_(w * w)
        assert buf.requires_grad and not buf.is_leaf
        assert buf.grad_fn.name() == "AddBackward0"
        buf.sum().backward()
        res.append(w.grad)
    assert_close(_np(res[1]), _np(res[0]), 1e-12, 1e-12, "grad")


# --------------------------------------------------------------------------- views
VIEW_CASES = [
    _case(lambda lib, a: _view_mul(a), [(3, 4)]),
    _case(lambda lib, a, w: _write_slice(lib, a, w), [(2,), (2,)]),
    _case(lambda lib, a: _nested_view(a), [(3, 4)]),
    _case(lambda lib, a: _transpose_view(a), [(3, 4)]),
    _case(lambda lib, a, w: _view_add_then_use_view(a, w), [(4, 3), (3,)]),
]


def _view_mul(a):
    b = a * 2
    b[0].mul_(3)
    return b


def _write_slice(lib, a, w):
    x = lib.zeros(3, dtype=a.dtype)
    x[1:] = w * 2
    return x * a.sum()


def _nested_view(a):
    b = a * 1.5
    b.view(12)[2:8].view(2, 3)[1].add_(1).mul_(2.0)
    return b


def _transpose_view(a):
    b = a * 1
    b.t()[1].zero_()
    return b * a


def _view_add_then_use_view(a, w):
    b = a.sin()
    v = b[1:3]
    v.add_(w)
    return b.sum(0), v


@pytest.mark.parametrize("idx", range(len(VIEW_CASES)))
def test_inplace_on_view_updates_base_and_grads(idx):
    _both(VIEW_CASES[idx])


def test_view_inplace_propagates_to_base_values_and_grad_fn():
    for lib in LIBS:
        a = lib.ones(2, 3, requires_grad=True)
        b = a * 2
        v = b[0]
        v.mul_(3)
        assert _np(b).tolist() == [[6, 6, 6], [2, 2, 2]]
        assert b.grad_fn.name() == "torch::autograd::CopySlices"
        assert repr(b).endswith("grad_fn=<CopySlices>)")
        assert v.grad_fn is not None and v.requires_grad
        b.sum().backward()
        assert _np(a.grad).tolist() == [[6, 6, 6], [2, 2, 2]]


def test_base_inplace_visible_through_view():
    for lib in LIBS:
        b = lib.zeros(2, 3)
        v = b[1]
        b.add_(1)
        b[1, 2] = 5
        assert _np(v).tolist() == [1, 1, 5]
        if lib is ember:
            assert v._version is b._version


# --------------------------------------------------------------------------- __setitem__
SETITEM_CASES = [
    _case(lambda lib, a, w: _set(lib, a, 1, w[0]), [(3, 4), (4, 4)]),
    _case(lambda lib, a, w: _set(lib, a, (slice(None), 2), w[0, :3]), [(3, 4), (4, 4)]),
    _case(lambda lib, a, w: _set(lib, a, lib.tensor([0, 2]), w[:2]), [(3, 4), (4, 4)]),
    _case(lambda lib, a, w: _set(lib, a, a > 0, w.sum()), [(3, 4), (4, 4)]),
    _case(lambda lib, a, w: _set(lib, a, (lib.tensor([0, 2, 1]), lib.tensor([3, 0, 1])),
                                 w[0, :3]), [(3, 4), (4, 4)]),
    _case(lambda lib, a, w: _set(lib, a, (Ellipsis, slice(1, 3)), w[:3, :1]), [(3, 4), (4, 4)]),
    _case(lambda lib, a, w: _set(lib, a, 0, 1.5), [(3, 4), (4, 4)]),
    _case(lambda lib, a, w: _set(lib, a, lib.tensor([True, False, True]), w[1]),
          [(3, 4), (4, 4)]),
]


def _set(lib, a, idx, value):
    b = a * 1
    b[idx] = value
    return b * a


@pytest.mark.parametrize("idx", range(len(SETITEM_CASES)))
def test_setitem_differentiable(idx):
    _both(SETITEM_CASES[idx])


def test_setitem_values_no_grad_various_indices():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 5)).astype(np.float32)
    res = []
    for lib in LIBS:
        t = lib.tensor(a)
        t[0] = 1
        t[:, 1] = lib.arange(4, dtype=lib.float32)
        t[lib.tensor([1, 3]), 2:4] = -2
        t[t > 1.5] = 0.5
        t[..., -1] = lib.tensor([9.0, 8.0, 7.0, 6.0])
        t[2, lib.tensor([True, False, True, False, True])] = 4
        res.append(t)
    assert_close(_np(res[1]), _np(res[0]), 0, 0, "setitem values")


def test_setitem_shape_mismatch_raises():
    for lib in LIBS:
        t = lib.zeros(3, 4)
        with pytest.raises(RuntimeError):
            t[0] = lib.ones(3)


def test_inplace_on_reshape_copy_does_not_touch_source():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2, 3))
    res = []
    for lib in LIBS:
        w = lib.tensor(a, requires_grad=True)
        x = w * 1
        y = x.t().reshape(6)  # non-contiguous input: reshape copies, y is not a view of x
        y.add_(lib.arange(6.0, dtype=lib.float64))
        (y * y).sum().backward()
        res.append((x.detach(), y.detach(), w.grad))
        assert y.grad_fn.name() == "AddBackward0"
    for e, t in zip(res[1], res[0]):
        assert_close(_np(e), _np(t), 1e-12, 1e-12, "reshape copy")


def test_view_taken_before_base_inplace_sees_it_in_grad():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4))
    res = []
    for lib in LIBS:
        w = lib.tensor(a, requires_grad=True)
        b = w * 1
        c = b[0]
        d = b[:, 1:3]
        b.mul_(2)  # c and d must now differentiate through the mul_
        (c * 1).sum().backward(retain_graph=True)
        g1 = w.grad.clone()
        w.grad = None
        (d * d).sum().backward()
        res.append((c.detach(), g1, w.grad))
    for e, t in zip(res[1], res[0]):
        assert_close(_np(e), _np(t), 1e-12, 1e-12, "stale view")


@pytest.mark.parametrize("which", ["saved_output", "saved_input", "leaf"])
def test_modified_error_names_the_op_like_torch(which):
    msgs = []
    for lib in LIBS:
        x = lib.ones(3, requires_grad=True)
        if which == "saved_output":
            y = x.exp()
            y.add_(1)
            out = y
        elif which == "saved_input":
            h = x * 2
            out = h.sin()
            h.mul_(3)
        else:
            out = x.sin()
            with lib.no_grad():
                x.add_(1)
        with pytest.raises(RuntimeError) as info:
            out.sum().backward()
        msgs.append(str(info.value))
    # The message names the tensor type, which says the device: torch.cuda.FloatTensor on CUDA.
    expect = msgs[0]
    if ember.device(DEVICE).type == "cuda":
        expect = expect.replace("[torch.", "[torch.cuda.")
    assert msgs[1] == expect


def test_integer_index_is_a_writable_view():
    for lib in LIBS:
        x = lib.zeros(3)
        x[1].fill_(5)
        y = lib.zeros(2, 3)
        y[1, 2].add_(1)
        y[0][1].copy_(lib.tensor(7.0))
        assert x.tolist() == [0, 5, 0] and y.tolist() == [[0, 7, 0], [0, 0, 1]]
        w = lib.ones(2, 3, requires_grad=True)
        names = [t.grad_fn.name() for t in (w[0], w[:, 1], w[1:], w[0, 1:], w[None],
                                            w[..., 1], w[lib.tensor([0])], w[w > 0])]
        assert names == ["SelectBackward0", "SelectBackward0", "SliceBackward0",
                         "SliceBackward0", "UnsqueezeBackward0", "SelectBackward0",
                         "IndexBackward0", "IndexBackward0"]


def test_copy_and_basic_setitem_graph_nodes_like_torch():
    rng = np.random.default_rng(6)
    a = rng.standard_normal(4)
    res = []
    for lib in LIBS:
        s = lib.tensor(a, requires_grad=True)
        buf = lib.zeros(3, 4, dtype=lib.float64)
        buf.copy_(s * 2)
        assert buf.grad_fn.name() == "torch::autograd::CopyBackwards"
        y = lib.zeros(3, 4, dtype=lib.float64)
        y[1] = s
        y[0, :2] = s[:2] * 3
        assert y.grad_fn.name() == "torch::autograd::CopySlices"
        half = lib.zeros(4, dtype=lib.float16)
        half.copy_(s)  # the gradient comes back in the source's dtype
        ((buf * buf).sum() + (y * y).sum() + half.float().sum()).backward()
        res.append(s.grad)
    assert_close(_np(res[1]), _np(res[0]), 1e-12, 1e-12, "grad")
