"""Conv3d/ConvTranspose3d modules, bicubic interpolation, adaptive_max_pool2d indices and the
in-place activations, against torch (CPU)."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

import ember  # noqa: E402
from oracle import (Case, check, device_default, gradcheck_case, on_device, to_numpy,  # noqa: E402
                    dev_tensor)


def _ver(t) -> int:
    v = t._version
    return v[0] if isinstance(v, list) else v


def _pair_modules(t_mod, e_mod):
    """Give the ember module the torch module's parameters (same init on both sides)."""
    e_mod.load_state_dict({k: ember.tensor(v.detach().numpy())
                           for k, v in t_mod.state_dict().items()})
    return on_device(e_mod)


# ------------------------------------------------------------------------------- Conv3d
@pytest.mark.parametrize("kw", [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(2, 3, 1), stride=(2, 1, 1), dilation=(1, 2, 1), bias=False),
    dict(kernel_size=3, padding="same", padding_mode="reflect"),
    dict(kernel_size=2, padding=1, padding_mode="circular", groups=2),
    dict(kernel_size=3, padding=(0, 1, 2), padding_mode="replicate"),
    dict(kernel_size=2, padding="valid"),
])
def test_conv3d_module_matches_torch(kw):
    torch.manual_seed(0)
    t_mod = torch.nn.Conv3d(4, 6, **kw).double()
    e_mod = _pair_modules(t_mod, ember.nn.Conv3d(4, 6, **kw).double())
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    assert repr(e_mod) == repr(t_mod)
    x = np.random.default_rng(1).standard_normal((2, 4, 5, 6, 5))
    tx = torch.tensor(x, requires_grad=True)
    ex = dev_tensor(x, requires_grad=True)
    to, eo = t_mod(tx), e_mod(ex)
    np.testing.assert_allclose(to_numpy(eo), to.detach().numpy(), rtol=1e-10, atol=1e-10)
    to.square().sum().backward()
    eo.square().sum().backward()
    np.testing.assert_allclose(to_numpy(ex.grad), tx.grad.numpy(), rtol=1e-9, atol=1e-9)
    for (name, tp), ep in zip(t_mod.named_parameters(), e_mod.parameters()):
        np.testing.assert_allclose(to_numpy(ep.grad), tp.grad.numpy(), rtol=1e-9, atol=1e-9,
                                   err_msg=name)


def test_conv_transpose3d_module_output_size():
    torch.manual_seed(0)
    t_mod = torch.nn.ConvTranspose3d(3, 2, 3, stride=2, padding=1).double()
    e_mod = _pair_modules(t_mod, ember.nn.ConvTranspose3d(3, 2, 3, stride=2, padding=1).double())
    assert repr(e_mod) == repr(t_mod)
    x = np.random.default_rng(2).standard_normal((1, 3, 3, 2, 3))
    to = t_mod(torch.tensor(x), output_size=[6, 4, 5])
    eo = e_mod(dev_tensor(x), output_size=[6, 4, 5])
    assert tuple(eo.shape) == tuple(to.shape) == (1, 2, 6, 4, 5)
    np.testing.assert_allclose(to_numpy(eo), to.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_conv3d_errors_like_torch():
    with device_default():
        x = ember.randn(1, 4, 3, 3, 3)
        with pytest.raises(RuntimeError, match="to have 2 channels, but got 4 channels"):
            ember.nn.functional.conv3d(x, ember.randn(3, 2, 2, 2, 2))
        with pytest.raises(ValueError, match="padding='same' is not supported"):
            ember.nn.functional.conv3d(x, ember.randn(3, 4, 2, 2, 2), stride=2, padding="same")
        with pytest.raises(RuntimeError, match="Expected 4D .* or 5D"):
            ember.nn.functional.conv3d(ember.randn(4, 3, 3), ember.randn(3, 4, 2, 2, 2))


def test_conv3d_float32_float16_dtype():
    x = np.random.default_rng(3).standard_normal((1, 2, 4, 4, 4))
    w = np.random.default_rng(4).standard_normal((3, 2, 3, 3, 3))
    for dt in ("float32", "float16"):
        to = torch.nn.functional.conv3d(torch.tensor(x).to(getattr(torch, dt)),
                                        torch.tensor(w).to(getattr(torch, dt)))
        eo = ember.nn.functional.conv3d(dev_tensor(x).to(getattr(ember, dt)),
                                        dev_tensor(w).to(getattr(ember, dt)))
        assert str(eo.dtype) == str(to.dtype)
        tol = 1e-5 if dt == "float32" else 2e-2
        np.testing.assert_allclose(to_numpy(eo).astype(np.float64),
                                   to.float().numpy().astype(np.float64), rtol=tol, atol=tol)


# ------------------------------------------------------------------------------ bicubic
_BICUBIC = [
    dict(scale_factor=2, align_corners=False),
    dict(scale_factor=2, align_corners=True),
    dict(size=(7, 3), align_corners=True),
    dict(size=(3, 11), align_corners=False),
    dict(scale_factor=(1.7, 0.6), align_corners=False),
    dict(scale_factor=0.5, align_corners=True),
    dict(size=1, align_corners=True),
    dict(size=(4, 5), align_corners=False),  # same size: the cubic weights reduce to 0,1,0,0
]


@pytest.mark.parametrize("kw", _BICUBIC, ids=[str(k) for k in _BICUBIC])
def test_bicubic_matches_torch(kw):
    case = Case(lambda lib, x: lib.nn.functional.interpolate(x, mode="bicubic", **kw),
                [(2, 3, 4, 5)])
    for dt in ("float32", "float64"):
        check(case, dt)
    check(case, "float64", non_contiguous=True)


def test_bicubic_gradcheck():
    gradcheck_case(Case(lambda lib, x: lib.nn.functional.interpolate(
        x, scale_factor=1.5, mode="bicubic", align_corners=False), [(1, 2, 3, 4)]))


def test_upsample_bicubic_module():
    t_mod = torch.nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True)
    e_mod = ember.nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True)
    assert repr(e_mod) == repr(t_mod)
    x = np.random.default_rng(5).standard_normal((1, 2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(to_numpy(e_mod(dev_tensor(x))), t_mod(torch.tensor(x)).numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 2, 5), (1, 1, 2, 3, 3)])
def test_bicubic_needs_4d_input(shape):
    with pytest.raises(NotImplementedError) as t_err:
        torch.nn.functional.interpolate(torch.randn(*shape), scale_factor=2, mode="bicubic")
    with pytest.raises(NotImplementedError) as e_err:
        ember.nn.functional.interpolate(on_device(ember.randn(*shape)), scale_factor=2,
                                        mode="bicubic")
    assert str(e_err.value) == str(t_err.value)


# ------------------------------------------------------------------ adaptive max indices
def _with_ties(shape):
    def make(rng):
        a = rng.standard_normal(shape)
        a[..., 0, 1] = a[..., 0, 0]  # a tie inside the first window: torch keeps the first
        a[..., -1, :] = a.max() + 1  # a whole tied bottom row
        return a
    return make


@pytest.mark.parametrize("shape,out", [
    ((2, 3, 7, 9), (3, 4)), ((3, 8, 8), 2), ((1, 2, 5, 5), (None, 3)), ((2, 1, 4, 6), (4, 6)),
    ((1, 1, 3, 3), (5, 4)),
])
def test_adaptive_max_pool2d_indices(shape, out):
    case = Case(lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, out, return_indices=True),
                [_with_ties(shape)])
    for dt in ("float32", "float64"):
        check(case, dt)
    gradcheck_case(Case(case.fn, [shape]))


def test_adaptive_max_pool2d_module_return_indices():
    t_mod = torch.nn.AdaptiveMaxPool2d((2, 3), return_indices=True)
    e_mod = ember.nn.AdaptiveMaxPool2d((2, 3), return_indices=True)
    assert repr(e_mod) == repr(t_mod)
    x = np.random.default_rng(6).standard_normal((2, 3, 5, 7))
    tv, ti = t_mod(torch.tensor(x))
    ev, ei = e_mod(dev_tensor(x))
    assert ei.dtype is ember.int64
    np.testing.assert_array_equal(to_numpy(ei), ti.numpy())
    np.testing.assert_array_equal(to_numpy(ev), tv.numpy())
    # torch's own consumer of the indices: max_unpool2d needs equal windows; gather instead.
    np.testing.assert_array_equal(
        to_numpy(dev_tensor(x).flatten(2).gather(2, ei.flatten(2))), tv.flatten(2).numpy())


# ---------------------------------------------------------------------- in-place activations
def _modules(lib):
    nn = lib.nn
    return [nn.ReLU(inplace=True), nn.LeakyReLU(0.2, inplace=True), nn.ELU(0.7, inplace=True),
            nn.CELU(1.3, inplace=True), nn.SELU(inplace=True), nn.Hardtanh(-0.5, 0.8, True),
            nn.ReLU6(inplace=True), nn.SiLU(inplace=True), nn.Hardswish(inplace=True),
            nn.Hardsigmoid(inplace=True), nn.Mish(inplace=True), nn.Threshold(0.1, -2.0, True)]


def _functionals(lib):
    F = lib.nn.functional
    return [lambda t: F.relu(t, inplace=True), F.relu_, lambda t: F.leaky_relu_(t, 0.3),
            lambda t: F.elu_(t, 0.5), F.selu_, lambda t: F.celu_(t, 2.0),
            lambda t: F.hardtanh_(t, -0.2, 0.4), lambda t: F.threshold_(t, 0.0, 3.0),
            lambda t: F.relu6(t, inplace=True), lambda t: F.silu(t, inplace=True),
            lambda t: F.mish(t, inplace=True), lambda t: F.hardswish(t, inplace=True),
            lambda t: F.hardsigmoid(t, inplace=True), lambda t: t.relu_(),
            lambda t: F.elu(t, inplace=True), lambda t: F.leaky_relu(t, inplace=True)]


_N_MOD, _N_FN = len(_modules(torch)), len(_functionals(torch))


def _get(lib, kind, i):
    return _modules(lib)[i] if kind == "module" else _functionals(lib)[i]


@pytest.mark.parametrize("kind,i", [("module", i) for i in range(_N_MOD)]
                         + [("fn", i) for i in range(_N_FN)])
def test_inplace_activation_semantics(kind, i):
    x = np.random.default_rng(i).standard_normal((3, 4)) * 3
    results = {}
    for lib, mk in ((torch, torch.tensor), (ember, dev_tensor)):
        f = _get(lib, kind, i)
        # No autograd: the input is overwritten and returned.
        a = mk(x)
        v0 = _ver(a)
        r = f(a)
        assert r is a
        assert _ver(a) == v0 + 1
        # Through autograd on a non-leaf: the gradient reaches the leaf as torch's does.
        leaf = mk(x, requires_grad=True)
        b = leaf * 1.5
        rb = f(b)
        assert rb is b and b.requires_grad
        w = np.random.default_rng(100 + i).standard_normal((3, 4))
        (b * mk(w)).sum().backward()
        results[lib.__name__] = (to_numpy(a), to_numpy(b), to_numpy(leaf.grad))
    for e, t, what in zip(results["ember"], results["torch"], ("no-grad", "value", "grad")):
        # torch's CELU backward is ~1e-8 off the exact derivative, even in float64.
        tol = 1e-7 if what == "grad" else 1e-10
        np.testing.assert_allclose(e, t, rtol=tol, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("i", range(_N_FN))
def test_inplace_activation_errors_match_torch(i):
    x = np.random.default_rng(i).standard_normal((2, 3))
    msgs = {}
    for lib, mk in ((torch, torch.tensor), (ember, dev_tensor)):
        f = _functionals(lib)[i]
        leaf = mk(x, requires_grad=True)
        with pytest.raises(RuntimeError) as leaf_err:
            f(leaf)
        # The input was saved by ``mul`` for its backward: modifying it must fail backward.
        a = leaf * 2.0
        c = a * a
        f(a)
        with pytest.raises(RuntimeError) as saved_err:
            c.sum().backward()
        msgs[lib.__name__] = (str(leaf_err.value), str(saved_err.value))
    assert msgs["ember"][0] == msgs["torch"][0]
    assert "modified by an inplace operation" in msgs["ember"][1]
    assert "modified by an inplace operation" in msgs["torch"][1]


def test_inplace_on_leaf_under_no_grad():
    for lib, mk in ((torch, torch.tensor), (ember, dev_tensor)):
        p = mk([-1.0, 2.0], requires_grad=True)
        with lib.no_grad():
            r = lib.nn.functional.relu(p, inplace=True)
        assert r is p and p.requires_grad
        np.testing.assert_array_equal(to_numpy(p), [0.0, 2.0])


def test_inplace_relu_in_sequential_backward():
    torch.manual_seed(0)
    t_net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(inplace=True),
                                torch.nn.Linear(4, 3), torch.nn.LeakyReLU(0.1, inplace=True))
    e_net = _pair_modules(t_net, ember.nn.Sequential(
        ember.nn.Linear(5, 4), ember.nn.ReLU(inplace=True), ember.nn.Linear(4, 3),
        ember.nn.LeakyReLU(0.1, inplace=True)))
    assert repr(e_net) == repr(t_net)
    x = np.random.default_rng(7).standard_normal((6, 5)).astype(np.float32)
    to, eo = t_net(torch.tensor(x)), e_net(dev_tensor(x))
    np.testing.assert_allclose(to_numpy(eo), to.detach().numpy(), rtol=1e-5, atol=1e-6)
    to.sum().backward()
    eo.sum().backward()
    for tp, ep in zip(t_net.parameters(), e_net.parameters()):
        np.testing.assert_allclose(to_numpy(ep.grad), tp.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", ["ReLU", "ReLU6", "SELU", "SiLU", "Mish", "Hardswish",
                                 "Hardsigmoid", "ELU", "CELU", "LeakyReLU", "Hardtanh"])
def test_inplace_module_reprs(cls):
    assert repr(getattr(ember.nn, cls)(inplace=True)) == repr(getattr(torch.nn, cls)(inplace=True))
    assert repr(getattr(ember.nn, cls)()) == repr(getattr(torch.nn, cls)())


# ------------------------------------------------------------------------------- 3-D pools
_MAXPOOL3D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1, return_indices=True),
    dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), dilation=(2, 1, 1), ceil_mode=True,
         return_indices=True),
    dict(kernel_size=3, stride=2, ceil_mode=True, padding=1),
]
_AVGPOOL3D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), ceil_mode=True, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True, padding=1, count_include_pad=False),
    dict(kernel_size=2, divisor_override=3, padding=1),
]


@pytest.mark.parametrize("name,kw", [("max_pool3d", k) for k in _MAXPOOL3D]
                         + [("avg_pool3d", k) for k in _AVGPOOL3D],
                         ids=[f"max-{i}" for i in range(len(_MAXPOOL3D))]
                         + [f"avg-{i}" for i in range(len(_AVGPOOL3D))])
def test_pool3d_matches_torch(name, kw):
    case = Case(lambda lib, x: getattr(lib.nn.functional, name)(x, **kw), [(2, 3, 5, 6, 7)])
    for dt in ("float32", "float64"):
        check(case, dt)
    check(case, "float64", non_contiguous=True)
    gradcheck_case(Case(case.fn, [(1, 2, 4, 5, 4)]))
    unbatched = Case(case.fn, [(3, 4, 4, 5)])
    check(unbatched, "float64")


def test_pool3d_modules():
    x = np.random.default_rng(8).standard_normal((2, 3, 4, 6, 5))
    for cls, kw in (("MaxPool3d", dict(kernel_size=2, stride=1, return_indices=True)),
                    ("AvgPool3d", dict(kernel_size=(2, 3, 2), padding=1, ceil_mode=True))):
        t_mod, e_mod = getattr(torch.nn, cls)(**kw), getattr(ember.nn, cls)(**kw)
        assert repr(e_mod) == repr(t_mod)
        to, eo = t_mod(torch.tensor(x)), e_mod(dev_tensor(x))
        for t, e in zip(to if isinstance(to, tuple) else (to,),
                        eo if isinstance(eo, tuple) else (eo,)):
            assert str(e.dtype) == str(t.dtype)
            np.testing.assert_allclose(to_numpy(e), t.numpy(), rtol=1e-12, atol=1e-12)
