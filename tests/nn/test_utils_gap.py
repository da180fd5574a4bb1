"""nn.utils gaps against torch: weight/spectral norm (hook and parametrization styles),
parametrize, orthogonal, BN fusion, pruning, functional_call, norms and init aliases."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn as enn
import ember.nn.utils as eu
import torch.nn.utils as tu
import torch.nn.utils.prune  # noqa: F401  (torch does not import it with nn.utils)
from oracle import device_default, to_numpy


def _e(t):
    return ember.tensor(t.detach().numpy())


def _np(t):
    return to_numpy(t)


@pytest.fixture(autouse=True)
def _on_device():
    """Every ember tensor and module these tests make is made on the device under test."""
    with device_default():
        yield


def _pair(seed=0, cls="Linear", args=(4, 3)):
    torch.manual_seed(seed)
    tm = getattr(torch.nn, cls)(*args).double()
    em = getattr(enn, cls)(*args).double()
    em.load_state_dict({k: _e(v) for k, v in tm.state_dict().items()})
    return tm, em


def _close(a, b, tol=1e-10):
    np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol)


# ------------------------------------------------------------------ hook-style weight_norm
@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated")
@pytest.mark.parametrize("dim", [0, 1, None, -2])
def test_weight_norm_hook_style(dim):
    tm, em = _pair()
    with pytest.warns(FutureWarning):
        tu.weight_norm(tm, dim=dim)
    with pytest.warns(FutureWarning):
        eu.weight_norm(em, dim=dim)
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    _close(em.weight_g, tm.weight_g)
    x = np.random.default_rng(0).standard_normal((5, 4))
    tout, eout = tm(torch.tensor(x)), em(ember.tensor(x))
    _close(eout, tout)
    tout.square().sum().backward()
    eout.square().sum().backward()
    _close(em.weight_g.grad, tm.weight_g.grad)
    _close(em.weight_v.grad, tm.weight_v.grad)
    with pytest.raises(RuntimeError, match="two weight_norm hooks"):
        eu.weight_norm(em, dim=dim)
    tu.remove_weight_norm(tm)
    eu.remove_weight_norm(em)
    assert sorted(em.state_dict()) == sorted(tm.state_dict())
    _close(em.weight, tm.weight)
    with pytest.raises(ValueError):
        eu.remove_weight_norm(em)


# ----------------------------------------------------------------- hook-style spectral_norm
@pytest.mark.parametrize("cls,args", [("Linear", (5, 3)), ("Conv2d", (2, 3, 3)),
                                      ("ConvTranspose2d", (2, 3, 3))])
def test_spectral_norm_hook_style(cls, args):
    tm, em = _pair(1, cls, args)
    tu.spectral_norm(tm, n_power_iterations=2)
    eu.spectral_norm(em, n_power_iterations=2)
    assert list(em.state_dict()) == list(tm.state_dict())
    # The random start vectors differ; copy torch's so that the iterations can be compared.
    with ember.no_grad():
        em.weight_u.copy_(_e(tm.weight_u))
        em.weight_v.copy_(_e(tm.weight_v))
    spatial = (6, 6) if cls != "Linear" else ()
    x = np.random.default_rng(1).standard_normal((2, args[0]) + spatial)
    for _ in range(2):
        tout, eout = tm(torch.tensor(x)), em(ember.tensor(x))
        _close(eout, tout)
    _close(em.weight_u, tm.weight_u)
    tout.sum().backward()
    eout.sum().backward()
    _close(em.weight_orig.grad, tm.weight_orig.grad)
    # eval: no power iteration, u stays.
    tm.eval()
    em.eval()
    u = _np(em.weight_u).copy()
    _close(em(ember.tensor(x)), tm(torch.tensor(x)))
    np.testing.assert_array_equal(_np(em.weight_u), u)
    tu.remove_spectral_norm(tm)
    eu.remove_spectral_norm(em)
    _close(em.weight, tm.weight)
    assert list(em.state_dict()) == list(tm.state_dict())


# --------------------------------------------------------------------------- parametrize
class _Sym:
    """Y = X + X^T (same module written for both libraries)."""

    @staticmethod
    def make(lib):
        class Sym(lib.nn.Module):
            def forward(self, x):
                return x.triu() + x.triu(1).transpose(-1, -2)

            def right_inverse(self, a):
                return a.triu()
        return Sym()


def _scale(lib, c):
    class Scale(lib.nn.Module):
        def forward(self, x):
            return x * c

        def right_inverse(self, y):
            return y / c
    return Scale()


def test_register_parametrization_and_stack():
    tm, em = _pair(2, "Linear", (4, 4))
    P = torch.nn.utils.parametrize
    EP = eu.parametrize
    P.register_parametrization(tm, "weight", _Sym.make(torch))
    EP.register_parametrization(em, "weight", _Sym.make(ember))
    assert EP.is_parametrized(em) and EP.is_parametrized(em, "weight")
    assert not EP.is_parametrized(em, "bias")
    assert type(em).__name__ == type(tm).__name__ == "ParametrizedLinear"
    assert EP.type_before_parametrizations(em) is enn.Linear
    assert list(em.state_dict()) == list(tm.state_dict())
    _close(em.parametrizations.weight.original, tm.parametrizations.weight.original)
    _close(em.weight, tm.weight)
    P.register_parametrization(tm, "weight", _scale(torch, 2.0))
    EP.register_parametrization(em, "weight", _scale(ember, 2.0))
    _close(em.weight, tm.weight)
    x = np.random.default_rng(2).standard_normal((3, 4))
    tm(torch.tensor(x)).sum().backward()
    em(ember.tensor(x)).sum().backward()
    _close(em.parametrizations.weight.original.grad, tm.parametrizations.weight.original.grad)
    with P.cached(), EP.cached():
        assert em.weight is em.weight
        _close(em.weight, tm.weight)
    assert em.weight is not em.weight
    # Assigning runs the right inverses.
    target = np.random.default_rng(3).standard_normal((4, 4))
    target = target + target.T
    with torch.no_grad():
        tm.weight = torch.tensor(target)
    em.weight = ember.tensor(target)
    _close(em.parametrizations.weight.original, tm.parametrizations.weight.original)
    P.remove_parametrizations(tm, "weight", leave_parametrized=False)
    EP.remove_parametrizations(em, "weight", leave_parametrized=False)
    assert type(em) is enn.Linear
    assert list(em.state_dict()) == list(tm.state_dict())
    _close(em.weight, tm.weight)
    with pytest.raises(ValueError):
        EP.remove_parametrizations(em, "weight")


def test_parametrization_shape_check_and_errors():
    em = enn.Linear(3, 2)

    class Bad(enn.Module):
        def forward(self, x):
            return x[0]
    with pytest.raises(ValueError, match="may not change the shape"):
        eu.parametrize.register_parametrization(em, "weight", Bad())
    with pytest.raises(ValueError):
        eu.parametrize.register_parametrization(em, "nope", Bad())
    eu.parametrize.register_parametrization(em, "weight", Bad(), unsafe=True)
    assert tuple(em.weight.shape) == (3,)


# --------------------------------------------------------------------- parametrizations
@pytest.mark.parametrize("dim", [0, 1, None])
def test_parametrizations_weight_norm(dim):
    tm, em = _pair(3)
    tu.parametrizations.weight_norm(tm, dim=dim)
    eu.parametrizations.weight_norm(em, dim=dim)
    assert list(em.state_dict()) == list(tm.state_dict())
    for k in ("original0", "original1"):
        _close(getattr(em.parametrizations.weight, k), getattr(tm.parametrizations.weight, k))
    x = np.random.default_rng(4).standard_normal((2, 4))
    tout, eout = tm(torch.tensor(x)), em(ember.tensor(x))
    _close(eout, tout)
    (tout ** 2).sum().backward()
    (eout ** 2).sum().backward()
    _close(em.parametrizations.weight.original0.grad, tm.parametrizations.weight.original0.grad)
    # An old-style (weight_g / weight_v) state dict loads into the new layout.
    _, old = _pair(5)
    with pytest.warns(FutureWarning):
        eu.weight_norm(old, dim=dim)
    em.load_state_dict(old.state_dict())
    _close(em.weight, old.weight)


def test_parametrizations_spectral_norm():
    tm, em = _pair(4, "Linear", (5, 4))
    tu.parametrizations.spectral_norm(tm)
    eu.parametrizations.spectral_norm(em)
    assert list(em.state_dict()) == list(tm.state_dict())
    pt, pe = tm.parametrizations.weight[0], em.parametrizations.weight[0]
    with ember.no_grad():
        pe._u.copy_(_e(pt._u))
        pe._v.copy_(_e(pt._v))
    x = np.random.default_rng(5).standard_normal((2, 5))
    for _ in range(3):
        _close(em(ember.tensor(x)), tm(torch.tensor(x)))
    _close(pe._v, pt._v)
    tm.eval()
    em.eval()
    _close(em(ember.tensor(x)), tm(torch.tensor(x)))
    # The spectral norm of the result is ~1 (15 warm-up iterations at registration).
    fresh = eu.parametrizations.spectral_norm(enn.Linear(6, 5).double())
    s = np.linalg.svd(_np(fresh.weight), compute_uv=False)[0]
    assert abs(s - 1) < 2e-2


def test_parametrizations_spectral_norm_vector_and_errors():
    m = enn.Module()
    m.register_parameter("w", enn.Parameter(ember.tensor([3.0, 4.0])))
    eu.parametrizations.spectral_norm(m, "w")
    _close(m.w, torch.tensor([0.6, 0.8]), 1e-6)
    with pytest.raises(ValueError):
        eu.parametrizations.spectral_norm(enn.Linear(2, 2), "nope")
    with pytest.raises(IndexError):
        eu.parametrizations.spectral_norm(enn.Linear(2, 2), dim=2)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 4)])
def test_orthogonal(shape):
    torch.manual_seed(0)
    w0 = torch.randn(*shape, dtype=torch.float64)
    tm, em = torch.nn.Module(), enn.Module()
    tm.weight = torch.nn.Parameter(w0.clone())
    em.weight = enn.Parameter(_e(w0))
    tu.parametrizations.orthogonal(tm)
    eu.parametrizations.orthogonal(em)
    pt, pe = tm.parametrizations.weight[0], em.parametrizations.weight[0]
    assert pe.orthogonal_map.name == pt.orthogonal_map.name
    assert list(em.state_dict()) == list(tm.state_dict())
    _close(em.parametrizations.weight.original, tm.parametrizations.weight.original)
    w = _np(em.weight)
    m = w if shape[-2] >= shape[-1] else np.swapaxes(w, -1, -2)
    np.testing.assert_allclose(np.swapaxes(m, -1, -2) @ m, np.broadcast_to(
        np.eye(m.shape[-1]), m.shape[:-2] + (m.shape[-1],) * 2), atol=1e-12)
    if shape[-2] == shape[-1]:
        _close(pe.base, pt.base)  # the QR of w0 (no random completion)
        _close(em.weight, tm.weight)
    with ember.no_grad():
        pe.base.copy_(_e(pt.base))
    # Move off the identity point and compare values and gradients.
    r = torch.randn(*shape, dtype=torch.float64) * 0.3
    with torch.no_grad(), ember.no_grad():
        tm.parametrizations.weight.original.add_(r)
        em.parametrizations.weight.original.add_(_e(r))
    _close(em.weight, tm.weight, 1e-9)
    c = torch.randn(*shape, dtype=torch.float64)
    (tm.weight * c).sum().backward()
    (em.weight * _e(c)).sum().backward()
    _close(em.parametrizations.weight.original.grad, tm.parametrizations.weight.original.grad,
           1e-8)


def test_orthogonal_errors():
    with pytest.raises(ValueError, match="Expected a matrix"):
        eu.parametrizations.orthogonal(enn.Linear(3, 3), "bias")
    with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
        eu.parametrizations.orthogonal(enn.Linear(3, 3), orthogonal_map="qr")


# -------------------------------------------------------------------------------- fusion
@pytest.mark.parametrize("transpose", [False, True])
def test_fuse_conv_bn(transpose):
    torch.manual_seed(6)
    cls = "ConvTranspose2d" if transpose else "Conv2d"
    tc, ec = _pair(6, cls, (3, 4, 3))
    tb, eb = _pair(7, "BatchNorm2d", (4,))
    with torch.no_grad():
        tb.running_mean.uniform_(-1, 1)
        tb.running_var.uniform_(0.5, 2)
        tb.weight.uniform_(0.5, 2)
    eb.load_state_dict({k: _e(v) for k, v in tb.state_dict().items()})
    for m in (tc, ec, tb, eb):
        m.eval()
    tf = torch.nn.utils.fuse_conv_bn_eval(tc, tb, transpose=transpose)
    ef = eu.fuse_conv_bn_eval(ec, eb, transpose=transpose)
    _close(ef.weight, tf.weight)
    _close(ef.bias, tf.bias)
    assert isinstance(ef.weight, enn.Parameter) and ef is not ec
    x = np.random.default_rng(6).standard_normal((2, 3, 5, 5))
    _close(ef(ember.tensor(x)), eb(ec(ember.tensor(x))))
    ec.train()
    with pytest.raises(AssertionError):
        eu.fuse_conv_bn_eval(ec, eb)
    # conv without bias; BatchNorm without affine
    w, b = eu.fuse_conv_bn_weights(_e(tc.weight), None, _e(tb.running_mean),
                                   _e(tb.running_var), 1e-5, None, None, transpose)
    tw, tb2 = tu.fuse_conv_bn_weights(tc.weight, None, tb.running_mean, tb.running_var, 1e-5,
                                      None, None, transpose)
    _close(w, tw)
    _close(b, tb2)


def test_fuse_linear_bn():
    tl, el = _pair(8, "Linear", (3, 4))
    tb, eb = _pair(9, "BatchNorm1d", (4,))
    with torch.no_grad():
        tb.running_mean.uniform_(-1, 1)
        tb.running_var.uniform_(0.5, 2)
    eb.load_state_dict({k: _e(v) for k, v in tb.state_dict().items()})
    for m in (tl, el, tb, eb):
        m.eval()
    tf, ef = tu.fuse_linear_bn_eval(tl, tb), eu.fuse_linear_bn_eval(el, eb)
    _close(ef.weight, tf.weight)
    _close(ef.bias, tf.bias)
    w, b = eu.fuse_linear_bn_weights(_e(tl.weight), None, _e(tb.running_mean),
                                     _e(tb.running_var), 1e-3, _e(tb.weight), _e(tb.bias))
    tw, tb2 = tu.fuse_linear_bn_weights(tl.weight, None, tb.running_mean, tb.running_var,
                                        1e-3, tb.weight, tb.bias)
    _close(w, tw)
    _close(b, tb2)
    with pytest.raises(AssertionError):
        eu.fuse_linear_bn_eval(el, enn.BatchNorm1d(3).eval())


# ------------------------------------------------------------------------- small helpers
def test_skip_init_and_memory_format():
    m = eu.skip_init(enn.Linear, 3, 2)
    assert isinstance(m, enn.Linear) and tuple(m.weight.shape) == (2, 3)
    with pytest.raises(RuntimeError, match="Expected a Module"):
        eu.skip_init(int)

    class NoDevice(enn.Module):
        def __init__(self):
            super().__init__()
    with pytest.raises(RuntimeError, match="device"):
        eu.skip_init(NoDevice)
    c = enn.Conv2d(1, 2, 3)
    assert eu.convert_conv2d_weight_memory_format(c, None) is c
    assert eu.convert_conv3d_weight_memory_format(c, None) is c


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf"), 0.0])
def test_get_total_norm_and_clip_with_norm(p):
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in [(3, 2), (4,)]]
    tp = [torch.tensor(a, requires_grad=True) for a in arrays]
    ep = [ember.tensor(a, requires_grad=True) for a in arrays]
    for t, e, a in zip(tp, ep, arrays):
        t.grad = torch.tensor(a * 3)
        e.grad = ember.tensor(a * 3)
    tn = tu.get_total_norm([t.grad for t in tp], p)
    en = eu.get_total_norm([e.grad for e in ep], p)
    _close(en, tn)
    tu.clip_grads_with_norm_(tp, 1.0, tn)
    eu.clip_grads_with_norm_(ep, 1.0, en)
    for t, e in zip(tp, ep):
        _close(e.grad, t.grad)
    assert float(eu.get_total_norm([])) == 0.0
    if p != 0:  # an order-0 norm counts a NaN as one nonzero entry: finite
        with pytest.raises(RuntimeError, match="non-finite"):
            eu.get_total_norm([ember.tensor([float("nan")])], p, error_if_nonfinite=True)


def test_clip_grad_norm_deprecated_alias():
    w = ember.tensor([3.0, 4.0], requires_grad=True)
    w.grad = ember.tensor([3.0, 4.0])
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        total = eu.clip_grad_norm(w, 1.0)
    assert abs(float(total) - 5.0) < 1e-6


# ---------------------------------------------------------------------------------- prune
def test_l1_unstructured_and_remove():
    tm, em = _pair(10, "Linear", (5, 4))
    tu.prune.l1_unstructured(tm, "weight", amount=0.3)
    eu.prune.l1_unstructured(em, "weight", amount=0.3)
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in em.named_buffers()] == [n for n, _ in tm.named_buffers()]
    _close(em.weight_mask, tm.weight_mask)
    _close(em.weight, tm.weight)
    assert eu.prune.is_pruned(em)
    # A second round acts on what is left (PruningContainer), by count.
    tu.prune.l1_unstructured(tm, "weight", amount=3)
    eu.prune.l1_unstructured(em, "weight", amount=3)
    _close(em.weight_mask, tm.weight_mask)
    with torch.no_grad():
        tm.weight_orig.add_(1.0)
    with ember.no_grad():
        em.weight_orig.add_(1.0)
    x = np.random.default_rng(8).standard_normal((2, 5))
    _close(em(ember.tensor(x)), tm(torch.tensor(x)))
    tu.prune.remove(tm, "weight")
    eu.prune.remove(em, "weight")
    assert not eu.prune.is_pruned(em)
    assert list(em.state_dict()) == list(tm.state_dict())
    _close(em.weight, tm.weight)
    with pytest.raises(ValueError):
        eu.prune.remove(em, "weight")


@pytest.mark.parametrize("n,dim", [(1, 0), (2, 1), (float("inf"), -1)])
def test_ln_structured(n, dim):
    tm, em = _pair(11, "Conv2d", (3, 6, 3))
    tu.prune.ln_structured(tm, "weight", amount=0.5, n=n, dim=dim)
    eu.prune.ln_structured(em, "weight", amount=0.5, n=n, dim=dim)
    _close(em.weight_mask, tm.weight_mask)
    tu.prune.ln_structured(tm, "weight", amount=1, n=n, dim=dim)
    eu.prune.ln_structured(em, "weight", amount=1, n=n, dim=dim)
    _close(em.weight_mask, tm.weight_mask)
    with pytest.raises(ValueError, match="multidimensional"):
        eu.prune.ln_structured(em, "bias", amount=1, n=2, dim=0)


def test_random_methods_counts():
    em = enn.Linear(10, 10)
    eu.prune.random_unstructured(em, "weight", amount=0.25)
    assert int((em.weight_mask == 0).sum()) == 25
    eu.prune.random_structured(em, "weight", amount=3, dim=0)
    rows_zero = int((em.weight_mask.sum(1) == 0).sum())
    assert rows_zero == 3
    with pytest.raises(ValueError):
        eu.prune.random_unstructured(enn.Linear(2, 2), "weight", amount=1.5)
    with pytest.raises(TypeError):
        eu.prune.random_unstructured(enn.Linear(2, 2), "weight", amount="a")
    with pytest.raises(ValueError, match="smaller than"):
        eu.prune.l1_unstructured(enn.Linear(2, 2), "weight", amount=10)


def test_global_unstructured_and_custom_mask():
    t1, e1 = _pair(12, "Linear", (4, 3))
    t2, e2 = _pair(13, "Linear", (3, 2))
    tu.prune.global_unstructured([(t1, "weight"), (t2, "weight")],
                                 pruning_method=tu.prune.L1Unstructured, amount=7)
    eu.prune.global_unstructured([(e1, "weight"), (e2, "weight")],
                                 pruning_method=eu.prune.L1Unstructured, amount=7)
    _close(e1.weight_mask, t1.weight_mask)
    _close(e2.weight_mask, t2.weight_mask)
    mask = (np.arange(3)[:, None] + np.arange(4)) % 2
    tu.prune.custom_from_mask(t1, "bias", torch.tensor(mask[:, 0]))
    eu.prune.custom_from_mask(e1, "bias", ember.tensor(mask[:, 0]))
    _close(e1.bias, t1.bias)
    with pytest.raises(TypeError, match="unstructured"):
        eu.prune.global_unstructured([(e2, "bias")], pruning_method=eu.prune.LnStructured,
                                     amount=1, n=2, dim=0)


# ------------------------------------------------------------------------ functional_call
def test_functional_call():
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).double()
    em = enn.Sequential(enn.Linear(3, 4), enn.BatchNorm1d(4)).double()
    em.load_state_dict({k: _e(v) for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(9)
    new = {"0.weight": rng.standard_normal((4, 3)), "1.running_mean": rng.standard_normal(4)}
    x = rng.standard_normal((5, 3))
    tm.eval()
    em.eval()
    tw = torch.tensor(new["0.weight"], requires_grad=True)
    ew = ember.tensor(new["0.weight"], requires_grad=True)
    tout = torch.func.functional_call(tm, {"0.weight": tw,
                                           "1.running_mean": torch.tensor(new["1.running_mean"])},
                                      (torch.tensor(x),))
    eout = eu.stateless.functional_call(em, {"0.weight": ew, "1.running_mean":
                                             ember.tensor(new["1.running_mean"])},
                                        ember.tensor(x))
    _close(eout, tout)
    tout.sum().backward()
    eout.sum().backward()
    _close(ew.grad, tw.grad)
    _close(em[0].weight, tm[0].weight)  # the module itself is unchanged
    assert isinstance(em[0].weight, enn.Parameter)
    with pytest.raises(RuntimeError, match="Missing key"):
        eu.stateless.functional_call(em, {"0.weight": ew}, (ember.tensor(x),), strict=True)


def test_functional_call_tied_weights():
    class Tied(enn.Module):
        def __init__(self):
            super().__init__()
            self.a = enn.Linear(2, 2, bias=False)
            self.b = enn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))
    m = Tied()
    w = ember.eye(2) * 2
    out = eu.stateless.functional_call(m, {"a.weight": w}, (ember.ones(1, 2),))
    np.testing.assert_allclose(_np(out), [[4.0, 4.0]])
    out = eu.stateless.functional_call(m, {"a.weight": w}, (ember.ones(1, 2),),
                                       tie_weights=False)
    expected = _np(ember.ones(1, 2) @ (w.T) @ m.b.weight.T)
    np.testing.assert_allclose(_np(out), expected, rtol=1e-6)


# -------------------------------------------------------------------------------- init
def test_init_deprecated_aliases():
    for name in ("uniform", "normal", "constant", "eye", "dirac", "xavier_uniform",
                 "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"):
        assert hasattr(torch.nn.init, name)
        assert callable(getattr(enn.init, name)), name
    w = ember.empty(3, 4)
    with pytest.warns(FutureWarning, match="nn.init.eye_"):
        enn.init.eye(w)
    np.testing.assert_array_equal(_np(w), np.eye(3, 4))
    w = ember.empty(4, 2, 3, 3)
    with pytest.warns(FutureWarning):
        enn.init.dirac(w, groups=2)
    tw = torch.empty(4, 2, 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nn.init.dirac(tw, groups=2)
    np.testing.assert_array_equal(_np(w), tw.numpy())
    w = ember.empty(10, 6)
    with pytest.warns(FutureWarning):
        enn.init.sparse(w, 0.3)
    assert ((_np(w) == 0).sum(0) == 3).all()
    with pytest.raises(ValueError):
        enn.init.sparse_(ember.empty(2, 2, 2), 0.1)
