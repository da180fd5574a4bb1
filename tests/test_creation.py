"""Tensor creation compared with real torch: dtype inference, memory sharing, filled and range
constructors, random constructors (shapes, dtypes, ranges, rough statistics), seeding and
Generator objects, set_default_dtype."""
import numpy as np
import pytest
import torch

import ember
from oracle import _np, assert_close

LIBS = [torch, ember]
# Factories behave the same on every device: these tests make ember's tensors on
# EMBER_TEST_DEVICE (torch stays on the CPU). NumPy memory sharing, from_numpy and the CPU
# generator's state stay CPU tests.
DEVICE_AGNOSTIC = pytest.mark.usefixtures("on_test_device")


def _dn(t) -> str:
    return str(t.dtype).replace("torch.", "")


def _same(e, t, tol=0.0):
    assert _dn(e) == _dn(t), (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    assert_close(_np(e), _np(t), tol, tol, "values")


@pytest.fixture
def restore_default_dtype():
    yield
    torch.set_default_dtype(torch.float32)
    ember.set_default_dtype(ember.float32)


# --------------------------------------------------------------------------- tensor()
TENSOR_DATA = [
    1, 2.5, True, [1, 2, 3], [1.0, 2], [True, False], [[1, 2], [3, 4]], [],
    [[1.5, 2.0]], np.arange(6, dtype=np.int32).reshape(2, 3), np.ones(3, dtype=np.float64),
    np.array([1, 0], dtype=np.bool_), np.float32(3.5), [np.float64(1.0), 2],
    np.array(7, dtype=np.int16), [[True, 2]], [np.float32(1), 2.5], [np.int32(1), 2],
    [np.int16(1), np.int8(2)], [np.int64(1), 2.5], 1 + 2j, [1.5, np.float64(2)],
    np.zeros((0, 3), dtype=np.float32),
]


@DEVICE_AGNOSTIC
@pytest.mark.parametrize("idx", range(len(TENSOR_DATA)))
def test_tensor_dtype_inference(idx):
    data = TENSOR_DATA[idx]
    _same(ember.tensor(data), torch.tensor(data))


@DEVICE_AGNOSTIC
def test_tensor_from_tensors_and_explicit_dtype():
    for dt in ("float16", "float64", "int32", "int8", "uint8", "bool", "bfloat16"):
        _same(ember.tensor([1.7, 0.2, 3], dtype=getattr(ember, dt)),
              torch.tensor([1.7, 0.2, 3], dtype=getattr(torch, dt)), 0)
    _same(ember.tensor([ember.tensor(1.5), ember.tensor(2)]),
          torch.tensor([torch.tensor(1.5), torch.tensor(2)]))
    e = ember.tensor([1.0, 2.0], requires_grad=True)
    assert e.requires_grad and e.is_leaf
    with pytest.raises(ValueError):
        ember.tensor([[1, 2], [3]])


def test_tensor_copies_and_from_numpy_shares():
    for lib in LIBS:
        a = np.zeros(3, dtype=np.float32)
        t = lib.tensor(a)
        f = lib.from_numpy(a)
        s = lib.as_tensor(a)
        a[0] = 5
        assert t[0].item() == 0 and f[0].item() == 5 and s[0].item() == 5
        f[1] = 7
        assert a[1] == 7
        assert f.dtype == lib.float32
        assert lib.from_numpy(np.arange(3)).dtype == lib.int64
        c = lib.as_tensor(a, dtype=lib.float64)  # a dtype change copies
        a[2] = 9
        assert c[2].item() == 0
        x = lib.ones(2)
        assert lib.as_tensor(x) is x
        with pytest.raises(TypeError):
            lib.from_numpy([1, 2])


# --------------------------------------------------------------------------- filled
@DEVICE_AGNOSTIC
def test_filled_constructors():
    for args, kw in [((2, 3), {}), (((2, 3),), {}), (([4],), {"dtype": "int32"}),
                     ((0,), {}), (((),), {}), ((2,), {"dtype": "float64"})]:
        kw_t = {k: getattr(torch, v) for k, v in kw.items()}
        kw_e = {k: getattr(ember, v) for k, v in kw.items()}
        for name in ("zeros", "ones", "empty"):
            e = getattr(ember, name)(*args, **kw_e)
            t = getattr(torch, name)(*args, **kw_t)
            assert _dn(e) == _dn(t) and tuple(e.shape) == tuple(t.shape)
            if name != "empty":
                _same(e, t)


@DEVICE_AGNOSTIC
def test_full_and_like():
    for val in (2, 2.5, True, -1):
        _same(ember.full((2, 3), val), torch.full((2, 3), val))
    _same(ember.full((2,), 3, dtype=ember.float64), torch.full((2,), 3, dtype=torch.float64))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3)).astype(np.float32)
    te, tt = ember.tensor(a), torch.tensor(a)
    for name in ("zeros_like", "ones_like"):
        _same(getattr(ember, name)(te), getattr(torch, name)(tt))
        _same(getattr(ember, name)(te, dtype=ember.int64),
              getattr(torch, name)(tt, dtype=torch.int64))
    _same(ember.full_like(te, 7), torch.full_like(tt, 7))
    _same(ember.full_like(te.long(), 2.9), torch.full_like(tt.long(), 2.9))
    e = ember.empty_like(te)
    assert e.shape == (2, 3) and e.dtype == ember.float32
    assert ember.zeros_like(te, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="negative dimension"):
        ember.zeros(2, -1)


@DEVICE_AGNOSTIC
def test_arange():
    cases = [((5,), {}), ((2, 9, 3), {}), ((0.0, 1.0, 0.1), {}), ((1, 2.5, 0.5), {}),
             ((10, 0, -3), {}), ((5,), {"dtype": "float64"}), ((0, 5, 2), {"dtype": "int32"}),
             ((-1.5, 2.2),), ((0, 1, 0.3), {})]
    for c in cases:
        args, kw = c if len(c) == 2 else (c[0], {})
        kw_t = {k: getattr(torch, v) for k, v in kw.items()}
        kw_e = {k: getattr(ember, v) for k, v in kw.items()}
        _same(ember.arange(*args, **kw_e), torch.arange(*args, **kw_t), 1e-6)
    with pytest.raises(RuntimeError):
        ember.arange(0, 5, 0)
    with pytest.raises(RuntimeError):
        ember.arange(5, 0, 1)


@DEVICE_AGNOSTIC
def test_linspace_logspace_eye():
    for args in [(0, 1, 5), (-2.0, 3.0, 7), (0, 10, 1), (1, 0, 4), (0, 1, 0), (3, 3, 3),
                 (-1, 1, 25), (0.1, 7.3, 100)]:
        _same(ember.linspace(*args), torch.linspace(*args))
    _same(ember.linspace(0, 10, 4, dtype=ember.int64),
          torch.linspace(0, 10, 4, dtype=torch.int64))
    _same(ember.linspace(0, 1, 6, dtype=ember.float64),
          torch.linspace(0, 1, 6, dtype=torch.float64))
    _same(ember.logspace(0, 2, 3), torch.logspace(0, 2, 3), 1e-5)
    _same(ember.logspace(0, 3, 4, base=2), torch.logspace(0, 3, 4, base=2), 1e-5)
    for args in [(3,), (2, 4), (4, 2), (0,)]:
        _same(ember.eye(*args), torch.eye(*args))
    _same(ember.eye(3, dtype=ember.int64), torch.eye(3, dtype=torch.int64))


# --------------------------------------------------------------------------- random
@DEVICE_AGNOSTIC
def test_rand_randn_shapes_dtypes_stats():
    ember.manual_seed(0)
    for lib in LIBS:
        assert lib.rand(2, 3).shape == (2, 3) and lib.rand(2, 3).dtype == lib.float32
        assert lib.randn((4,), dtype=lib.float64).dtype == lib.float64
        assert lib.rand(0).shape == (0,)
    u = ember.rand(100_000)
    assert 0 <= u.min().item() and u.max().item() < 1
    assert abs(u.mean().item() - 0.5) < 0.01 and abs(u.var().item() - 1 / 12) < 0.005
    n = ember.randn(100_000, dtype=ember.float64)
    assert abs(n.mean().item()) < 0.02 and abs(n.std().item() - 1) < 0.02
    assert ember.randn(3, requires_grad=True).requires_grad
    assert ember.rand_like(n[:5]).dtype == ember.float64
    assert ember.randn_like(ember.zeros(2, 2)).shape == (2, 2)


@DEVICE_AGNOSTIC
def test_randint_randperm():
    ember.manual_seed(1)
    for lib in LIBS:
        r = lib.randint(3, 7, (1000,))
        assert r.dtype == lib.int64 and r.shape == (1000,)
        assert r.min().item() >= 3 and r.max().item() <= 6
        assert set(r.tolist()) == {3, 4, 5, 6}
        r2 = lib.randint(5, (2, 3))
        assert r2.shape == (2, 3) and r2.max().item() < 5
        assert lib.randint(0, 3, (4,), dtype=lib.int32).dtype == lib.int32
        p = lib.randperm(10)
        assert p.dtype == lib.int64 and sorted(p.tolist()) == list(range(10))
        assert lib.randint_like(lib.zeros(3), 0, 2).dtype == lib.float32


@DEVICE_AGNOSTIC
def test_normal_variants():
    ember.manual_seed(2)
    for lib in LIBS:
        x = lib.normal(2.0, 3.0, size=(50_000,))
        assert x.dtype == lib.float32 and x.shape == (50_000,)
        assert abs(x.mean().item() - 2) < 0.1 and abs(x.std().item() - 3) < 0.1
        m = lib.normal(lib.arange(4.0), 0.001)
        assert m.shape == (4,) and np.allclose(_np(m), [0, 1, 2, 3], atol=0.01)
        s = lib.normal(lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64))
        assert s.dtype == lib.float64
        t = lib.empty(20_000).normal_(5.0, 0.5)
        assert abs(t.mean().item() - 5) < 0.05
        u = lib.empty(20_000).uniform_(-2, 2)
        assert u.min().item() >= -2 and u.max().item() <= 2 and abs(u.mean().item()) < 0.1


@DEVICE_AGNOSTIC
def test_bernoulli_multinomial():
    ember.manual_seed(3)
    for lib in LIBS:
        p = lib.full((20_000,), 0.3)
        b = lib.bernoulli(p)
        assert b.dtype == lib.float32 and set(b.unique().tolist()) <= {0.0, 1.0}
        assert abs(b.mean().item() - 0.3) < 0.02
        assert lib.bernoulli(lib.zeros(3, dtype=lib.float64), 0.5).dtype == lib.float64
        b2 = lib.zeros(10_000).bernoulli_(0.8)
        assert abs(b2.mean().item() - 0.8) < 0.03
        probs = lib.tensor([0.1, 0.0, 0.6, 0.3])
        m = lib.multinomial(probs, 4000, replacement=True)
        assert m.dtype == lib.int64 and m.shape == (4000,)
        counts = np.bincount(_np(m), minlength=4) / 4000
        assert counts[1] == 0 and np.allclose(counts, [0.1, 0, 0.6, 0.3], atol=0.04)
        m2 = lib.multinomial(lib.tensor([[1.0, 1, 1, 0], [0, 2.0, 1, 1]]), 3)
        assert m2.shape == (2, 3)
        for row, zero in zip(_np(m2), (3, 0)):
            assert len(set(row.tolist())) == 3 and zero not in row.tolist()
        assert sorted(lib.multinomial(lib.tensor([1.0, 0, 0]), 2).tolist())[0] == 0
        with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size"):
            lib.multinomial(lib.tensor([1.0, 0, 0]), 4)


def test_manual_seed_repeatable_and_generators():
    ember.manual_seed(123)
    a = (ember.rand(5), ember.randn(3), ember.randint(0, 100, (4,)), ember.randperm(6))
    ember.manual_seed(123)
    b = (ember.rand(5), ember.randn(3), ember.randint(0, 100, (4,)), ember.randperm(6))
    for x, y in zip(a, b):
        assert np.array_equal(x.numpy(), y.numpy())
    assert not np.array_equal(ember.rand(5).numpy(), a[0].numpy())
    assert ember.initial_seed() == 123

    g1 = ember.Generator().manual_seed(7)
    g2 = ember.Generator()
    g2.manual_seed(7)
    assert g1.initial_seed() == 7
    x1 = ember.randn(4, generator=g1)
    ember.manual_seed(999)  # the default generator does not touch g1/g2
    x2 = ember.randn(4, generator=g2)
    assert np.array_equal(x1.numpy(), x2.numpy())

    state = ember.get_rng_state()
    r1 = ember.rand(3)
    ember.set_rng_state(state)
    assert np.array_equal(ember.rand(3).numpy(), r1.numpy())
    gs = g1.get_state()
    y1 = ember.rand(3, generator=g1)
    g1.set_state(gs)
    assert np.array_equal(ember.rand(3, generator=g1).numpy(), y1.numpy())
    assert isinstance(ember.manual_seed(0), ember.Generator)
    assert isinstance(torch.manual_seed(0), torch.Generator)


@DEVICE_AGNOSTIC
def test_set_default_dtype(restore_default_dtype):
    for lib in LIBS:
        lib.set_default_dtype(lib.float64)
        assert lib.get_default_dtype() == lib.float64
        assert lib.zeros(2).dtype == lib.float64
        assert lib.tensor([1.5]).dtype == lib.float64
        assert lib.tensor([1]).dtype == lib.int64
        assert lib.arange(0.0, 1.0, 0.5).dtype == lib.float64
        assert lib.rand(2).dtype == lib.float64
        assert lib.linspace(0, 1, 3).dtype == lib.float64
        assert lib.full((1,), 2.0).dtype == lib.float64
        assert (lib.ones(2, dtype=lib.int64) / 2).dtype == lib.float64
        lib.set_default_dtype(lib.float32)
        assert lib.tensor([1.5]).dtype == lib.float32


@DEVICE_AGNOSTIC
def test_size_keyword_and_randint_keywords():
    for lib in LIBS:
        for name in ("zeros", "ones", "empty", "rand", "randn"):
            assert getattr(lib, name)(size=(2, 3)).shape == (2, 3)
            assert getattr(lib, name)(size=[4]).shape == (4,)
        r = lib.randint(high=5, size=(3,))
        assert r.shape == (3,) and r.max().item() < 5


def test_from_numpy_negative_strides_raise():
    for lib in LIBS:
        with pytest.raises(ValueError, match="At least one stride in the given numpy array is "
                                              "negative"):
            lib.from_numpy(np.arange(4)[::-1])
        with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype "
                                               "can require gradients"):
            lib.tensor([1, 2], requires_grad=True)
