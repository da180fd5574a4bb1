"""ember.fft, the complex helpers, windows and stft/istft against torch (CPU) as the oracle.

Values and gradients are compared in float64 (and float32 where noted); gradients flow through
real losses built from both parts of complex results (``.real``, ``.imag``, ``.abs()``).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember
from oracle import DEVICE, Case, check, device_default, gradcheck_case, to_numpy
from specs_fft import SPECS

_CASES = [pytest.param(c, id=f"{k}-{i}") for k, cs in SPECS.items() for i, c in enumerate(cs)]
_NONCONTIG = [p for p in _CASES if p.values[0].non_contiguous]


@pytest.mark.parametrize("case", _CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spec_forward_and_grad(case: Case, dtype: str):
    check(case, dtype)


@pytest.mark.parametrize("case", _NONCONTIG)
def test_spec_non_contiguous(case: Case):
    check(case, "float32", non_contiguous=True)


@pytest.mark.parametrize("case", _CASES)
def test_spec_gradcheck(case: Case):
    gradcheck_case(case)


def _np(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().resolve_conj().numpy()
    return to_numpy(t)


def _run(fe, ft, arr, tol, seed=0):
    """Compare values, dtype and the gradient of a real loss on both parts and the modulus."""
    rng = np.random.default_rng(seed)
    ea = ember.tensor(arr, device=DEVICE, requires_grad=True)
    ta = torch.tensor(arr, requires_grad=True)
    eo, to = fe(ea), ft(ta)
    assert str(eo.dtype) == str(to.dtype)
    assert tuple(eo.shape) == tuple(to.shape)
    assert eo.device.type == DEVICE
    np.testing.assert_allclose(_np(eo), _np(to), rtol=tol, atol=tol)
    w1, w2 = rng.standard_normal(tuple(to.shape)), rng.standard_normal(tuple(to.shape))
    ew1, ew2 = ember.tensor(w1, device=DEVICE), ember.tensor(w2, device=DEVICE)
    if to.is_complex():
        tl = (to.real * torch.tensor(w1)).sum() + (to.imag * torch.tensor(w2)).sum() \
            + to.abs().sum()
        el = (eo.real * ew1).sum() + (eo.imag * ew2).sum() + eo.abs().sum()
    else:
        tl, el = (to * torch.tensor(w1)).sum(), (eo * ew1).sum()
    tl.backward()
    el.backward()
    assert str(ea.grad.dtype) == str(ta.grad.dtype)
    np.testing.assert_allclose(_np(ea.grad), _np(ta.grad), rtol=tol * 10, atol=tol * 10)


def _data(shape, cplx, dtype, seed=1):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if cplx:
        a = a + 1j * rng.standard_normal(shape)
    return a.astype({(False, "float32"): np.float32, (True, "float32"): np.complex64}.get(
        (cplx, dtype), a.dtype))


_ONE_D = [("fft", False), ("ifft", False), ("rfft", False), ("ihfft", False),
          ("fft", True), ("ifft", True), ("irfft", True), ("hfft", True)]


@pytest.mark.parametrize("name,cplx", _ONE_D)
@pytest.mark.parametrize("n", [None, 1, 4, 5, 9, 12])
@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
@pytest.mark.parametrize("shape,dim", [((7,), -1), ((3, 8), -1), ((6, 2), 0)])
def test_one_dim_transforms(name, cplx, n, norm, shape, dim):
    a = _data(shape, cplx, "float64")
    _run(lambda x: getattr(ember.fft, name)(x, n=n, dim=dim, norm=norm),
         lambda x: getattr(torch.fft, name)(x, n=n, dim=dim, norm=norm), a, 1e-9)


_N_D = [("fftn", False), ("ifftn", False), ("rfftn", False), ("ihfftn", False),
        ("fftn", True), ("ifftn", True), ("irfftn", True), ("hfftn", True)]


@pytest.mark.parametrize("name,cplx", _N_D)
@pytest.mark.parametrize("s,dim", [(None, None), ((4, 6), None), ((5, 3), (0, 2)), ((3,), (1,)),
                                   (None, (0, -1)), ((-1, 5), (-1, 0)), ((2, 3, 7), None)])
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_n_dim_transforms(name, cplx, s, dim, norm):
    a = _data((3, 4, 5), cplx, "float64")
    _run(lambda x: getattr(ember.fft, name)(x, s=s, dim=dim, norm=norm),
         lambda x: getattr(torch.fft, name)(x, s=s, dim=dim, norm=norm), a, 1e-9)


@pytest.mark.parametrize("name", ["fft2", "ifft2", "rfft2", "irfft2", "hfft2", "ihfft2"])
@pytest.mark.parametrize("s", [None, (4, 7)])
def test_two_dim_transforms(name, s):
    a = _data((2, 5, 6), name in ("irfft2", "hfft2", "fft2"), "float64")
    _run(lambda x: getattr(ember.fft, name)(x, s=s), lambda x: getattr(torch.fft, name)(x, s=s),
         a, 1e-9)


@pytest.mark.parametrize("name,cplx", _ONE_D + [("fftn", False), ("irfftn", True)])
@pytest.mark.parametrize("n", [None, 7])
def test_float32_gives_complex64(name, cplx, n):
    a = _data((3, 6), cplx, "float32")
    kw = {"s": None if n is None else (4, n)} if name.endswith("n") else {"n": n}
    _run(lambda x: getattr(ember.fft, name)(x, **kw), lambda x: getattr(torch.fft, name)(x, **kw),
         a, 1e-5)


def test_integer_input_promotes():
    for name in ("fft", "rfft", "fftn", "ifft", "hfft", "irfft"):
        e = getattr(ember.fft, name)(ember.arange(6, device=DEVICE))
        t = getattr(torch.fft, name)(torch.arange(6))
        assert str(e.dtype) == str(t.dtype)
        np.testing.assert_allclose(_np(e), _np(t), atol=1e-5)


def test_second_order_gradient_through_irfft():
    a = _data((5,), True, "float64")
    ea = ember.tensor(a, device=DEVICE, requires_grad=True)
    ta = torch.tensor(a, requires_grad=True)
    outs = []
    for lib, x in ((ember, ea), (torch, ta)):
        y = lib.fft.irfft(x, n=8)
        (g,) = lib.autograd.grad((y ** 3).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g.real ** 2).sum() + g.imag.sum(), x)
        outs.append(gg)
    np.testing.assert_allclose(_np(outs[0]), _np(outs[1]), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("call", [
    lambda L: L.fft.fft(L.ones(5), norm="bad"),
    lambda L: L.fft.fft(L.ones(5), n=0),
    lambda L: L.fft.fft(L.ones(5), dim=3),
    lambda L: L.fft.fftn(L.ones(5), dim=(0, 0)),
    lambda L: L.fft.fftn(L.ones(5), s=(3, 4)),
    lambda L: L.fft.fftn(L.ones(5, 5), s=(3, 4), dim=(0,)),
    lambda L: L.fft.irfft(L.ones(1, dtype=L.complex64)),
    lambda L: L.fft.fft(L.ones(4, dtype=L.float16)),
    lambda L: L.fft.rfft(L.ones(3, dtype=L.complex64)),
    lambda L: L.imag(L.ones(3)),
    lambda L: L.view_as_complex(L.ones(3, 3)),
    lambda L: L.view_as_complex(L.ones(2, 4).t()),
    lambda L: L.view_as_real(L.ones(3)),
    lambda L: L.complex(L.ones(2), L.ones(2, dtype=L.float64)),
    lambda L: L.complex(L.ones(2, dtype=L.int64), L.ones(2, dtype=L.int64)),
    lambda L: L.hann_window(4, dtype=L.int64),
    lambda L: L.fft.fftshift(L.ones(3), ()),
    lambda L: L.hann_window(-1),
    lambda L: L.stft(L.ones(20), 8),
    lambda L: L.stft(L.ones(2, 2, 20), 8, return_complex=True),
    lambda L: L.stft(L.ones(20), 8, win_length=9, return_complex=True),
    lambda L: L.istft(L.ones(5, 4), 8),
    lambda L: L.istft(L.ones(6, 4, dtype=L.complex64), 8),
], ids=lambda c: "")
def test_errors_match_torch(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as te:
            call(torch)
        with pytest.raises(Exception) as ee, device_default():
            call(ember)
    assert type(ee.value) is type(te.value), (ee.value, te.value)


@pytest.mark.parametrize("n", [1, 2, 5, 6])
@pytest.mark.parametrize("d", [1.0, 0.3])
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_fftfreq_and_rfftfreq(n, d, dtype):
    for name in ("fftfreq", "rfftfreq"):
        kw = {} if dtype is None else {"dtype": getattr(ember, dtype)}
        tkw = {} if dtype is None else {"dtype": getattr(torch, dtype)}
        e = getattr(ember.fft, name)(n, d, device=DEVICE, **kw)
        t = getattr(torch.fft, name)(n, d, **tkw)
        assert str(e.dtype) == str(t.dtype)
        np.testing.assert_allclose(_np(e), _np(t), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dim", [None, 0, (1, 2), -1])
def test_fftshift_ifftshift(dim):
    a = _data((3, 4, 5), False, "float64")
    for name in ("fftshift", "ifftshift"):
        _run(lambda x: getattr(ember.fft, name)(x, dim), lambda x: getattr(torch.fft, name)(x, dim),
             a, 0)


# ---- complex helpers ------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda L, x, y: L.complex(x, y).abs(),
    lambda L, x, y: L.complex(x, y).real,
    lambda L, x, y: L.real(L.complex(x, y[0])),
    lambda L, x, y: L.view_as_real(L.complex(x, y).conj().resolve_conj()),
    lambda L, x, y: L.complex(x, y).angle(),
    lambda L, x, y: L.angle(x - y),
    lambda L, x, y: L.view_as_real(L.polar(x.abs(), y)),
    lambda L, x, y: L.view_as_complex(L.stack([x, y], -1)).imag,
    lambda L, x, y: L.view_as_real(L.view_as_complex(x.reshape(3, 2, 2))),
    lambda L, x, y: L.complex(x, y).abs() * L.complex(y, x).angle(),
])
def test_complex_helpers(fn):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    ei = [ember.tensor(v, device=DEVICE, requires_grad=True) for v in (a, b)]
    ti = [torch.tensor(v, requires_grad=True) for v in (a, b)]
    eo, to = fn(ember, *ei), fn(torch, *ti)
    assert str(eo.dtype) == str(to.dtype) and tuple(eo.shape) == tuple(to.shape)
    np.testing.assert_allclose(_np(eo), _np(to), rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(tuple(to.shape))
    (eo * ember.tensor(w, device=DEVICE)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for e, t in zip(ei, ti):
        if t.grad is None:
            assert e.grad is None or not np.any(_np(e.grad))
        else:
            np.testing.assert_allclose(_np(e.grad), _np(t.grad), rtol=1e-10, atol=1e-12)


def test_complex_leaf_gradient_and_views():
    rng = np.random.default_rng(3)
    c = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    ec = ember.tensor(c, device=DEVICE, requires_grad=True)
    tc = torch.tensor(c, requires_grad=True)
    for lib, x in ((ember, ec), (torch, tc)):
        (lib.fft.fft(x).abs().sum() + x.angle().sum() + x.imag.sum()).backward()
    assert str(ec.grad.dtype) == str(tc.grad.dtype)
    np.testing.assert_allclose(_np(ec.grad), _np(tc.grad), rtol=1e-10, atol=1e-12)
    x = ember.tensor(rng.standard_normal(3), device=DEVICE)
    assert ember.real(x) is x and ember.conj(x) is x and not ember.is_conj(x)
    z = ember.complex(x, x)
    assert ember.is_complex(z) and not ember.is_complex(x)
    z.real.zero_()  # .real shares memory with z, as torch's view does
    np.testing.assert_array_equal(_np(z.real), np.zeros(3))
    z.imag = ember.ones(3, dtype=ember.float64, device=DEVICE)
    np.testing.assert_array_equal(_np(z), np.ones(3) * 1j)


# ---- windows, stft, istft -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window",
                                  "bartlett_window", "kaiser_window"])
@pytest.mark.parametrize("length", [0, 1, 2, 5, 8])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_windows(name, length, periodic, dtype):
    e = getattr(ember, name)(length, periodic, dtype=getattr(ember, dtype), device=DEVICE)
    t = getattr(torch, name)(length, periodic, dtype=getattr(torch, dtype))
    assert str(e.dtype) == str(t.dtype)
    np.testing.assert_allclose(_np(e), _np(t), rtol=1e-6, atol=1e-6)


def test_window_parameters():
    with device_default():
        es = (ember.kaiser_window(9, False, 5.0), ember.hamming_window(7, True, 0.6, 0.3))
    for e, t in zip(es, (torch.kaiser_window(9, False, 5.0),
                         torch.hamming_window(7, True, 0.6, 0.3))):
        assert e.device.type == DEVICE
        np.testing.assert_allclose(_np(e), _np(t), rtol=1e-6, atol=1e-6)


_STFT = [
    dict(n_fft=8),
    dict(n_fft=8, hop_length=3, win_length=6, window=True),
    dict(n_fft=9, center=False, window=True, normalized=True),
    dict(n_fft=8, onesided=False, window=True, pad_mode="constant"),
    dict(n_fft=16, hop_length=4, window=True),
    dict(n_fft=7, hop_length=2, window=True, pad_mode="replicate"),
    dict(n_fft=6, hop_length=5, window=True, pad_mode="circular"),
    dict(n_fft=1, hop_length=1),
]


def _kw(lib, kw, dev=None):
    k = dict(kw)
    if k.get("window"):
        k["window"] = lib.hann_window(k.get("win_length", k["n_fft"]), dtype=lib.float64,
                                      **({} if dev is None else {"device": dev}))
    else:
        k.pop("window", None)
    return k


@pytest.mark.parametrize("kw", _STFT)
@pytest.mark.parametrize("shape", [(40,), (2, 37)])
def test_stft(kw, shape):
    a = _data(shape, False, "float64", seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _run(lambda x: ember.stft(x, return_complex=True, **_kw(ember, kw, DEVICE)),
             lambda x: torch.stft(x, return_complex=True, **_kw(torch, kw)), a, 1e-9)


def test_stft_return_complex_false_and_complex_input():
    a = _data((30,), False, "float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = ember.stft(ember.tensor(a, device=DEVICE), 8, return_complex=False)
        t = torch.stft(torch.tensor(a), 8, return_complex=False)
    assert e.device.type == DEVICE
    np.testing.assert_allclose(_np(e), _np(t), atol=1e-9)
    c = _data((30,), True, "float64")
    _run(lambda x: ember.stft(x, 8, window=ember.hann_window(8, dtype=ember.float64,
                                                              device=DEVICE)),
         lambda x: torch.stft(x, 8, window=torch.hann_window(8, dtype=torch.float64)), c, 1e-9)


# n_fft=1 is left out: torch 2.13's istft crashes on it (an internal min() of an empty tensor).
@pytest.mark.parametrize("kw", [k for k in _STFT if k.get("center", True) and k["n_fft"] > 1])
@pytest.mark.parametrize("shape", [(40,), (2, 37)])
@pytest.mark.parametrize("extra", [0, None, 3])
def test_istft(kw, shape, extra):
    k = {n: v for n, v in kw.items() if n != "pad_mode"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = torch.stft(torch.tensor(_data(shape, False, "float64", seed=5)),
                          return_complex=True, **_kw(torch, k))
    length = None if extra is None else shape[-1] + extra
    try:
        torch.istft(spec, length=length, **_kw(torch, k))
    except RuntimeError:
        # torch rejects this window/length combination (its window overlap check): so must we.
        with pytest.raises(RuntimeError):
            ember.istft(ember.tensor(_np(spec), device=DEVICE), length=length,
                        **_kw(ember, k, DEVICE))
        return
    _run(lambda x: ember.istft(x, length=length, **_kw(ember, k, DEVICE)),
         lambda x: torch.istft(x, length=length, **_kw(torch, k)), _np(spec), 1e-9)


def test_istft_two_sided_complex_output():
    rng = np.random.default_rng(6)
    a = rng.standard_normal(32) + 1j * rng.standard_normal(32)
    win = dict(n_fft=8, hop_length=2)
    spec = torch.stft(torch.tensor(a), window=torch.hann_window(8, dtype=torch.float64), **win)
    _run(lambda x: ember.istft(x, window=ember.hann_window(8, dtype=ember.float64,
                                                             device=DEVICE),
                               return_complex=True, **win),
         lambda x: torch.istft(x, window=torch.hann_window(8, dtype=torch.float64),
                               return_complex=True, **win), _np(spec), 1e-9)
