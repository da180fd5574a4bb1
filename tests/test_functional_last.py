"""ember/functional_last.py against torch (CPU) as the oracle: values, gradients, warnings,
errors of the last top-level / Tensor gaps."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember
from oracle import Case, check, device_default, gradcheck_case, to_numpy
from specs_last import SPECS

# Host-only by design: thread pools, global switches, default dtype, buffers and files, and
# get_device() compared with torch's CPU answer.
_HOST_ONLY = ("test_spec_", "test_threads", "test_deterministic", "test_warn_always",
              "test_frombuffer", "test_predicates")


@pytest.fixture(autouse=True)
def _on_device(request):
    """The hand-written tests make their ember tensors on the device under test (the spec
    tests place theirs through ``check``; gradcheck runs on the host in float64)."""
    if request.node.name.startswith(_HOST_ONLY):
        yield
        return
    with device_default():
        yield


_CASES = [pytest.param(c, id=f"{k}-{i}") for k, cs in SPECS.items() for i, c in enumerate(cs)]


@pytest.mark.parametrize("case", _CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spec_forward_and_grad(case: Case, dtype: str):
    check(case, dtype)


@pytest.mark.parametrize("case", _CASES)
def test_spec_gradcheck(case: Case):
    gradcheck_case(case)


def _both(arr, dtype="float64"):
    return torch.tensor(arr, dtype=getattr(torch, dtype)), \
        ember.tensor(arr, dtype=getattr(ember, dtype))


# ----------------------------------------------------------------------------- igamma
def test_igamma_values_wide_range():
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.uniform(1e-3, 1, 50), rng.uniform(1, 20, 100)])
    x = a * rng.uniform(0.01, 3.0, a.size)
    ta, ea = _both(a)
    tx, ex = _both(x)
    for name in ("igamma", "igammac"):
        want = getattr(torch, name)(ta, tx).numpy()
        got = to_numpy(getattr(ember, name)(ea, ex))
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_igamma_large_a_against_mpmath():
    # For a > 20 near x = a torch switches to a truncated asymptotic series that is off by up to
    # ~2e-9 relative; ember's series / continued fraction is checked against mpmath there, and
    # against torch only to torch's own accuracy.
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    rng = np.random.default_rng(2)
    a = rng.uniform(20, 500, 40)
    x = a * rng.uniform(0.7, 1.3, a.size)
    got = to_numpy(ember.igamma(ember.tensor(a, dtype=ember.float64),
                                ember.tensor(x, dtype=ember.float64)))
    want = np.array([float(mpmath.gammainc(ai, 0, xi, regularized=True))
                     for ai, xi in zip(a, x)])
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(got, torch.igamma(torch.tensor(a), torch.tensor(x)).numpy(),
                               rtol=5e-9, atol=1e-15)


def test_igamma_edges_and_methods():
    a = [0.0, 1.0, -1.0, 2.0, float("inf"), 1.0, float("nan")]
    x = [1.0, 0.0, 1.0, float("inf"), 1.0, -1.0, 1.0]
    ta, ea = _both(a)
    tx, ex = _both(x)
    np.testing.assert_array_equal(to_numpy(ember.igamma(ea, ex)), torch.igamma(ta, tx).numpy())
    np.testing.assert_array_equal(to_numpy(ember.igammac(ea, ex)), torch.igammac(ta, tx).numpy())
    e = ember.tensor([1.5, 2.5], dtype=ember.float64)
    t = torch.tensor([1.5, 2.5], dtype=torch.float64)
    e.igamma_(ember.tensor([2.0, 1.0], dtype=ember.float64))
    t.igamma_(torch.tensor([2.0, 1.0], dtype=torch.float64))
    np.testing.assert_allclose(to_numpy(e), t.numpy(), rtol=1e-12)
    e2 = ember.tensor([1.5, 2.5]).igammac(ember.tensor([2.0, 1.0]))
    assert e2.dtype == ember.float32
    for lib in (torch, ember):
        a_req = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(NotImplementedError, match="igamma: input"):
            lib.igamma(a_req, lib.tensor([1.0, 2.0])).sum().backward()
        with pytest.raises(NotImplementedError, match="Long"):
            lib.igammac(lib.tensor([1, 2]), lib.tensor([1, 2]))


# ----------------------------------------------------------------------------- flags/threads
def test_threads_change_pool():
    from ember.backend import parallel as par
    old = ember.get_num_threads()
    try:
        ember.set_num_threads(3)
        assert ember.get_num_threads() == 3 == par._THREADS
        assert par._get_pool()._max_workers == 2
        big = np.arange(1 << 18, dtype=np.float64)
        out = par.elementwise(lambda o, a: np.add(a, 1.0, out=o), big)
        np.testing.assert_array_equal(out, big + 1.0)
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
    finally:
        ember.set_num_threads(old)
    with pytest.raises(RuntimeError):
        ember.set_num_threads(0)
    assert ember.get_num_interop_threads() >= 1


def test_deterministic_switches():
    try:
        ember.use_deterministic_algorithms(True, warn_only=True)
        torch.use_deterministic_algorithms(True, warn_only=True)
        assert ember.are_deterministic_algorithms_enabled() is True
        assert ember.is_deterministic_algorithms_warn_only_enabled() is True
        assert ember.get_deterministic_debug_mode() == torch.get_deterministic_debug_mode() == 1
        for mode in ("error", 0, "warn", 2):
            ember.set_deterministic_debug_mode(mode)
            torch.set_deterministic_debug_mode(mode)
            assert ember.get_deterministic_debug_mode() == torch.get_deterministic_debug_mode()
            assert ember.are_deterministic_algorithms_enabled() == \
                torch.are_deterministic_algorithms_enabled()
        with pytest.raises(RuntimeError):
            torch.set_deterministic_debug_mode("bogus")
        with pytest.raises(RuntimeError):
            ember.set_deterministic_debug_mode("bogus")
    finally:
        ember.use_deterministic_algorithms(False)
        torch.use_deterministic_algorithms(False)
    assert ember.get_deterministic_debug_mode() == 0


def test_warn_always_flush_denormal_default_type():
    ember.set_warn_always(True)
    assert ember.is_warn_always_enabled()
    ember.set_warn_always(False)
    assert not ember.is_warn_always_enabled()
    assert ember.set_flush_denormal(True) is False
    try:
        with pytest.warns(UserWarning, match="deprecated"):
            ember.set_default_tensor_type("torch.DoubleTensor")
        assert ember.get_default_dtype() == ember.float64
        with pytest.warns(UserWarning):
            ember.set_default_tensor_type("torch.FloatTensor")
        assert ember.get_default_dtype() == ember.float32
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for lib in (torch, ember):
                with pytest.raises(TypeError):
                    lib.set_default_tensor_type("torch.LongTensor")
                with pytest.raises(AttributeError):
                    lib.set_default_tensor_type("torch.Bogus")
            assert ember.get_default_dtype() == ember.float32
    finally:
        ember.set_default_dtype(ember.float32)


def test_predicates():
    x = ember.randn(3, 4)
    assert not ember.is_storage(x) and not torch.is_storage(torch.randn(2))
    assert ember.is_inference(x) is False and x.is_inference() is False
    assert ember.get_device(x) == torch.get_device(torch.randn(2)) == -1
    assert ember.is_same_size(x, ember.zeros(3, 4)) and not x.is_same_size(ember.zeros(4, 3))
    for dt in ("float32", "int64", "uint8", "bool", "int8"):
        assert ember.zeros(2, dtype=getattr(ember, dt)).is_signed() == \
            torch.zeros(2, dtype=getattr(torch, dt)).is_signed()
    assert ember.is_neg(x) is False and x.is_neg() is False


# ----------------------------------------------------------------------------- sampling / io
def test_binomial():
    count = ember.full((2000,), 10.0)
    prob = ember.full((2000,), 0.3)
    s = ember.binomial(count, prob, generator=ember.Generator().manual_seed(0))
    assert s.dtype == ember.float32 and s.shape == (2000,)
    v = to_numpy(s)
    assert v.min() >= 0 and v.max() <= 10 and np.all(v == np.round(v))
    assert abs(v.mean() - 3.0) < 0.2
    z = ember.binomial(ember.tensor([5.0, 7.0]), ember.tensor([0.0, 1.0]))
    np.testing.assert_array_equal(to_numpy(z), torch.binomial(torch.tensor([5.0, 7.0]),
                                                            torch.tensor([0.0, 1.0])).numpy())


def test_frombuffer_and_from_file(tmp_path):
    buf = bytearray(np.arange(6, dtype=np.int32).tobytes())
    e = ember.frombuffer(buf, dtype=ember.int32, count=3, offset=4)
    t = torch.frombuffer(bytearray(buf), dtype=torch.int32, count=3, offset=4)
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    buf[4] = 42  # shares memory, as torch
    assert e[0].item() == 42
    with pytest.raises(ValueError):
        ember.frombuffer(bytearray(7), dtype=ember.int32)
    with pytest.raises(ValueError):
        torch.frombuffer(bytearray(7), dtype=torch.int32)
    path = str(tmp_path / "f.bin")
    np.arange(5, dtype=np.float64).tofile(path)
    e = ember.from_file(path, shared=False, size=4, dtype=ember.float64)
    t = torch.from_file(path, shared=False, size=4, dtype=torch.float64)
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    with pytest.raises(RuntimeError):
        ember.from_file(path, size=100, dtype=ember.float64)


# ----------------------------------------------------------------------------- norms / lowrank
def test_deprecated_norms():
    a = np.random.default_rng(2).standard_normal((2, 3, 4))
    ta = torch.tensor(a, requires_grad=True)
    ea = ember.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tn = torch.nuclear_norm(ta, (1, 2)) + torch.frobenius_norm(ta, (0, 2), keepdim=True).sum()
    with pytest.warns(UserWarning):
        en = ember.nuclear_norm(ea, (1, 2)) + ember.frobenius_norm(ea, (0, 2), keepdim=True).sum()
    np.testing.assert_allclose(to_numpy(en), tn.detach().numpy(), rtol=1e-10)
    tn.sum().backward()
    en.sum().backward()
    np.testing.assert_allclose(to_numpy(ea.grad), ta.grad.numpy(), rtol=1e-8, atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(ember.nuclear_norm(ember.tensor(a[0])).item(),
                                   torch.nuclear_norm(torch.tensor(a[0])).item(), rtol=1e-10)
        with pytest.raises(RuntimeError):
            ember.nuclear_norm(ember.tensor(a))
        r = ember.matrix_rank(ember.tensor(a[0] @ a[0].T[:, :2] @ a[0].T[:, :2].T))
    assert r.item() == 2


def test_svd_pca_lowrank():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((30, 4)) @ rng.standard_normal((4, 20))
    s_true = np.linalg.svd(a, compute_uv=False)[:4]
    for A in (a, a.T):
        U, S, V = ember.svd_lowrank(ember.tensor(A), q=4, niter=2)
        assert U.shape == (A.shape[0], 4) and V.shape == (A.shape[1], 4) and S.shape == (4,)
        np.testing.assert_allclose(to_numpy(S), s_true, rtol=1e-8)
        rec = to_numpy(U) @ np.diag(to_numpy(S)) @ to_numpy(V).T
        np.testing.assert_allclose(rec, A, atol=1e-8)
    b = a + 5.0
    c = b - b.mean(0, keepdims=True)
    U, S, V = ember.pca_lowrank(ember.tensor(b), q=4)
    tU, tS, tV = torch.pca_lowrank(torch.tensor(b), q=4)
    np.testing.assert_allclose(to_numpy(S), tS.numpy(), rtol=1e-8)
    np.testing.assert_allclose(to_numpy(S), np.linalg.svd(c, compute_uv=False)[:4], rtol=1e-8)
    # Same right subspace: projectors agree.
    ev = to_numpy(V)
    np.testing.assert_allclose(ev @ ev.T, tV.numpy() @ tV.numpy().T, atol=1e-8)
    with pytest.raises(ValueError):
        ember.pca_lowrank(ember.tensor(b), q=100)


# ----------------------------------------------------------------------------- recurrent
def _rand(shape, rng):
    return rng.standard_normal(shape) * 0.5


@pytest.mark.parametrize("name,gates", [("lstm_cell", 4), ("gru_cell", 3),
                                        ("rnn_tanh_cell", 1), ("rnn_relu_cell", 1)])
@pytest.mark.parametrize("bias", [True, False])
def test_cells(name, gates, bias):
    rng = np.random.default_rng(4)
    arrs = [_rand((3, 5), rng), _rand((3, 6), rng), _rand((gates * 6, 5), rng),
            _rand((gates * 6, 6), rng), _rand((gates * 6,), rng), _rand((gates * 6,), rng)]
    if name == "lstm_cell":
        arrs.insert(2, _rand((3, 6), rng))
    ts = [torch.tensor(a, requires_grad=True) for a in arrs]
    es = [ember.tensor(a, requires_grad=True) for a in arrs]

    def call(lib, xs):
        if name == "lstm_cell":
            x, h, c, *w = xs
            w = w if bias else w[:2]
            h2, c2 = getattr(lib, name)(x, (h, c), *w)
            return (h2 * 1.5 + c2).sum()
        x, h, *w = xs
        w = w if bias else w[:2]
        return (getattr(lib, name)(x, h, *w) ** 2).sum()
    lt, le = call(torch, ts), call(ember, es)
    np.testing.assert_allclose(le.item(), lt.item(), rtol=1e-10)
    lt.backward()
    le.backward()
    for t, e in zip(ts, es):
        if t.grad is None:
            assert e.grad is None
        else:
            np.testing.assert_allclose(to_numpy(e.grad), t.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ["rnn_tanh", "rnn_relu"])
def test_rnn_full(name):
    rng = np.random.default_rng(5)
    params = []
    for layer in range(2):
        for _ in range(2):
            inp = 4 if layer == 0 else 2 * 3
            params += [_rand((3, inp), rng), _rand((3, 3), rng), _rand((3,), rng),
                       _rand((3,), rng)]
    x = _rand((2, 5, 4), rng)
    h0 = _rand((4, 2, 3), rng)
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    ep = [ember.tensor(p, requires_grad=True) for p in params]
    to, th = getattr(torch, name)(torch.tensor(x), torch.tensor(h0), tp, True, 2, 0.0, False,
                                  True, True)
    eo, eh = getattr(ember, name)(ember.tensor(x), ember.tensor(h0), ep, True, 2, 0.0, False,
                                  True, True)
    np.testing.assert_allclose(to_numpy(eo), to.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(eh), th.detach().numpy(), rtol=1e-10)
    (to.sum() + th.pow(2).sum()).backward()
    (eo.sum() + eh.pow(2).sum()).backward()
    for t, e in zip(tp, ep):
        np.testing.assert_allclose(to_numpy(e.grad), t.grad.numpy(), rtol=1e-8, atol=1e-10)


# ----------------------------------------------------------------------------- Tensor methods
def test_as_strided_scatter():
    rng = np.random.default_rng(6)
    a, s = rng.standard_normal((4, 5)), rng.standard_normal((3, 2))
    ta, ts = torch.tensor(a, requires_grad=True), torch.tensor(s, requires_grad=True)
    ea, es = ember.tensor(a, requires_grad=True), ember.tensor(s, requires_grad=True)
    tr = torch.as_strided_scatter(ta, ts, (3, 2), (5, 2), 1)
    er = ember.as_strided_scatter(ea, es, (3, 2), (5, 2), 1)
    np.testing.assert_allclose(to_numpy(er), tr.detach().numpy())
    tr2 = ta.as_strided_scatter(ts[:2, :2], (2, 2), (1, 5))
    er2 = ea.as_strided_scatter(es[:2, :2], (2, 2), (1, 5))
    np.testing.assert_allclose(to_numpy(er2), tr2.detach().numpy())
    w = torch.tensor(rng.standard_normal((4, 5)))
    (tr * w).sum().backward()
    (er * ember.tensor(w.numpy())).sum().backward()
    # torch 2.13's eager backward for ``input`` returns the complement of the right mask (the
    # overwritten positions get the gradient); the math: upstream gradient, zero where src
    # was written.
    mask = np.ones(20)
    mask[[1, 3, 6, 8, 11, 13]] = 0.0
    np.testing.assert_allclose(to_numpy(ea.grad), w.numpy() * mask.reshape(4, 5))
    np.testing.assert_allclose(to_numpy(es.grad), ts.grad.numpy())
    assert ember.autograd.gradcheck(
        lambda x, y: ember.as_strided_scatter(x, y, (3, 2), (5, 2), 1),
        (ember.tensor(a, requires_grad=True), ember.tensor(s, requires_grad=True)))
    with pytest.raises(RuntimeError):
        ember.as_strided_scatter(ea, es, (2, 2), (5, 1))


def test_small_methods():
    e = ember.randn(2, 3, 4)
    t = torch.randn(2, 3, 4)
    assert e.dim_order() == t.dim_order()
    assert e.permute(2, 0, 1).dim_order() == t.permute(2, 0, 1).dim_order()
    assert e.to_dense() is e
    assert e.record_stream(None) is None
    n = e.new_empty_strided((2, 3), (1, 2))
    tn = t.new_empty_strided((2, 3), (1, 2))
    assert n.shape == tuple(tn.shape) and n.stride() == tn.stride() and n.dtype == e.dtype
    for bad in ([1.0, 2.0], []):
        with pytest.raises(RuntimeError):
            torch.tensor(bad).is_nonzero()
        with pytest.raises(RuntimeError):
            ember.tensor(bad).is_nonzero()
    assert ember.tensor([0.0]).is_nonzero() is False and ember.tensor(3).is_nonzero() is True
    with pytest.raises(RuntimeError):
        e.chalf()
    r = ember.arange(6.0)
    r.resize_as_(ember.zeros(2, 2))
    np.testing.assert_array_equal(to_numpy(r), [[0.0, 1.0], [2.0, 3.0]])


def test_activation_and_spectral_methods():
    a = np.random.default_rng(7).standard_normal((2, 3, 4))
    ta, ea = torch.tensor(a, requires_grad=True), ember.tensor(a, requires_grad=True)
    tw = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    ew = ember.tensor([0.1, 0.2, 0.3], dtype=ember.float64)
    tout = ta.prelu(tw).sum() + ta.hardshrink(0.3).pow(2).sum()
    eout = ea.prelu(ew).sum() + ea.hardshrink(0.3).pow(2).sum()
    np.testing.assert_allclose(eout.item(), tout.item(), rtol=1e-10)
    tout.backward()
    eout.backward()
    np.testing.assert_allclose(to_numpy(ea.grad), ta.grad.numpy(), rtol=1e-10)
    sig = np.random.default_rng(8).standard_normal(64)
    win = torch.hann_window(16, dtype=torch.float64)
    ts = torch.tensor(sig).stft(16, hop_length=4, window=win, return_complex=True)
    es = ember.tensor(sig).stft(16, hop_length=4, window=ember.tensor(win.numpy()),
                                return_complex=True)
    np.testing.assert_allclose(to_numpy(ember.view_as_real(es)), torch.view_as_real(ts).numpy(),
                               atol=1e-10)
    back = es.istft(16, hop_length=4, window=ember.tensor(win.numpy()), length=64)
    np.testing.assert_allclose(to_numpy(back), sig, atol=1e-10)
