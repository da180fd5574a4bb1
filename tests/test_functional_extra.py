"""Top-level functions of ember.functional_extra against torch: values, indices, gradients."""
import numpy as np
import pytest
import torch

import ember
from oracle import DEVICE, device_default, to_numpy

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _on_device():
    """Every ember tensor these tests make is made on the device under test."""
    with device_default():
        yield


def _pair(a, grad=False):
    return (ember.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad))


def _close(e, t, rtol=1e-10, atol=1e-12):
    assert e.device.type == DEVICE  # results stay on the device of their inputs
    np.testing.assert_allclose(to_numpy(e), t.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("fn", ["cummax", "cummin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_running_extrema_values_indices_and_grads(fn, dim):
    a = RNG.integers(0, 4, (5, 6)).astype(np.float64)   # many ties
    a[2, 3] = np.nan
    e, t = _pair(a, True)
    re, rt = getattr(ember, fn)(e, dim), getattr(torch, fn)(t, dim)
    _close(re.values, rt.values)
    np.testing.assert_array_equal(to_numpy(re.indices), rt.indices.numpy())
    w = RNG.standard_normal(a.shape)
    (re.values.nan_to_num() * ember.tensor(w)).sum().backward()
    (rt.values.nan_to_num() * torch.tensor(w)).sum().backward()
    _close(e.grad, t.grad)
    ie = getattr(ember.tensor([3, 1, 2]), fn)(0).indices
    it = getattr(torch.tensor([3, 1, 2]), fn)(0).indices
    assert ie.tolist() == it.tolist()


def test_nanmedian_and_nanquantile():
    a = RNG.standard_normal((4, 7))
    a[0, :3] = np.nan
    a[3, :] = np.nan
    e, t = _pair(a)
    _close(ember.nanmedian(e), torch.nanmedian(t))
    re, rt = ember.nanmedian(e, 1, keepdim=True), torch.nanmedian(t, 1, keepdim=True)
    _close(re.values, rt.values)
    np.testing.assert_array_equal(to_numpy(re.indices)[:3], rt.indices.numpy()[:3])
    for interp in ("linear", "lower", "higher", "nearest", "midpoint"):
        for q in (0.3, [0.1, 0.5, 0.9]):
            _close(ember.nanquantile(e, q, dim=1, interpolation=interp),
                   torch.nanquantile(t, torch.tensor(q, dtype=torch.float64), dim=1,
                                     interpolation=interp))
        _close(ember.nanquantile(e, 0.25, dim=0, keepdim=True),
               torch.nanquantile(t, 0.25, dim=0, keepdim=True))
    b = np.array([1.0, np.nan, 3.0, 2.0])
    _close(ember.nanquantile(ember.tensor(b), 0.5), torch.nanquantile(torch.tensor(b), 0.5))


def test_trapezoid_cumulative_and_gradient():
    y = RNG.standard_normal((3, 8))
    x = np.sort(RNG.uniform(0, 5, 8))
    (ye, yt), (xe, xt) = _pair(y, True), _pair(x)
    _close(ember.trapezoid(ye), torch.trapezoid(yt))
    _close(ember.trapezoid(ye, dx=0.5, dim=0), torch.trapezoid(yt, dx=0.5, dim=0))
    _close(ember.trapezoid(ye, xe), torch.trapezoid(yt, xt))
    _close(ember.cumulative_trapezoid(ye, xe), torch.cumulative_trapezoid(yt, xt))
    _close(ember.cumulative_trapezoid(ye, dx=2.0), torch.cumulative_trapezoid(yt, dx=2.0))
    ember.trapezoid(ye, xe).sum().backward()
    torch.trapezoid(yt, xt).sum().backward()
    _close(ye.grad, yt.grad)
    for kw in ({}, {"spacing": 0.5}, {"dim": 1}, {"edge_order": 2}, {"spacing": [2.0, 0.5]}):
        for ge, gt in zip(ember.gradient(ember.tensor(y), **kw),
                          torch.gradient(torch.tensor(y), **kw)):
            _close(ge, gt)
    ge = ember.gradient(ember.tensor(y), spacing=(xe,), dim=1)
    gt = torch.gradient(torch.tensor(y), spacing=(xt,), dim=1)
    _close(ge[0], gt[0])


def test_elementwise_helpers():
    a = np.array([-2.5, -0.0, 0.0, 1.5, 3.0, np.inf, -np.inf])
    b = np.array([1.0, 2.0, -0.0, -3.0, 0.0, -1.0, 2.0])
    (ae, at), (be, bt) = _pair(a), _pair(b)
    for fn in ("deg2rad", "rad2deg", "signbit", "lgamma", "sinc"):
        _close(getattr(ember, fn)(ae), getattr(torch, fn)(at))
    for fn in ("copysign", "logaddexp2", "heaviside"):
        _close(getattr(ember, fn)(ae, be), getattr(torch, fn)(at, bt))
    _close(ember.copysign(ae, -1.0), torch.copysign(at, -1.0))
    p = np.array([0.1, 0.5, 0.9])
    _close(ember.logit(ember.tensor(p)), torch.logit(torch.tensor(p)))
    _close(ember.digamma(ember.tensor(p)), torch.digamma(torch.tensor(p)), rtol=1e-9)
    _close(ember.polygamma(1, ember.tensor(p)), torch.polygamma(1, torch.tensor(p)), rtol=1e-8)
    m, e = ember.frexp(ember.tensor(b[np.isfinite(b)]))
    mt, et = torch.frexp(torch.tensor(b[np.isfinite(b)]))
    _close(m, mt)
    assert e.tolist() == et.tolist() and str(e.dtype) == str(et.dtype)
    _close(ember.ldexp(ember.tensor([1.5, 2.0]), ember.tensor([2, -1])),
           torch.ldexp(torch.tensor([1.5, 2.0]), torch.tensor([2, -1])))
    assert ember.isin(ember.tensor([1, 2, 3, 4]), ember.tensor([2, 4])).tolist() == \
        torch.isin(torch.tensor([1, 2, 3, 4]), torch.tensor([2, 4])).tolist()
    assert ember.isin(ember.tensor([1, 2]), ember.tensor([2]), invert=True).tolist() == \
        [True, False]
    x = ember.tensor([1.0, -2.0]).requires_grad_()
    ember.copysign(x, ember.tensor([-1.0, -1.0])).sum().backward()
    xt = torch.tensor([1.0, -2.0], requires_grad=True)
    torch.copysign(xt, torch.tensor([-1.0, -1.0])).sum().backward()
    _close(x.grad, xt.grad)


def test_cov_corrcoef_combinations_renorm_vander():
    a = RNG.standard_normal((3, 10))
    fw = RNG.integers(1, 4, 10)
    aw = RNG.uniform(0.5, 2.0, 10)
    e, t = _pair(a)
    _close(ember.cov(e), torch.cov(t))
    _close(ember.cov(e, correction=0), torch.cov(t, correction=0))
    _close(ember.cov(e, fweights=ember.tensor(fw), aweights=ember.tensor(aw)),
           torch.cov(t, fweights=torch.tensor(fw), aweights=torch.tensor(aw)))
    _close(ember.corrcoef(e), torch.corrcoef(t))
    _close(ember.cov(ember.tensor(a[0])), torch.cov(torch.tensor(a[0])))
    v = ember.tensor([1.0, 2.0, 3.0, 4.0])
    vt = torch.tensor([1.0, 2.0, 3.0, 4.0])
    for r, rep in ((2, False), (3, False), (2, True), (0, False), (5, False)):
        _close(ember.combinations(v, r, rep), torch.combinations(vt, r, rep))
    _close(ember.renorm(e, 2, 0, 1.5), torch.renorm(t, 2, 0, 1.5), rtol=1e-6)
    _close(ember.renorm(e, 1, 1, 0.8), torch.renorm(t, 1, 1, 0.8), rtol=1e-6)
    _close(ember.vander(v), torch.vander(vt))
    _close(ember.vander(v, 3, increasing=True), torch.vander(vt, 3, increasing=True))


def test_tensor_methods_exist():
    t = ember.tensor([[1.0, 3.0], [2.0, 0.5]])
    assert t.cummax(1).indices.tolist() == torch.tensor([[1.0, 3.0], [2.0, 0.5]]).cummax(
        1).indices.tolist()
    assert t.lgamma().shape == t.shape and t.polygamma(1).shape == t.shape


def test_renorm_gradient_flows_through_the_norm():
    a = RNG.standard_normal((3, 5))
    w = RNG.standard_normal((3, 5))
    for p, dim, mx in ((2, 0, 1.5), (1, 1, 0.8)):
        e, t = _pair(a, True)
        (ember.renorm(e, p, dim, mx) * ember.tensor(w)).sum().backward()
        (torch.renorm(t, p, dim, mx) * torch.tensor(w)).sum().backward()
        _close(e.grad, t.grad, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_top_level_scatter_reduce_every_reduction(reduce, include_self):
    x = RNG.standard_normal((3, 4))
    src = RNG.standard_normal((3, 6))
    idx = RNG.integers(0, 4, (3, 6))
    (e, t), (es, ts) = _pair(x, True), _pair(src, True)
    oe = ember.scatter_reduce(e, 1, ember.tensor(idx), es, reduce, include_self=include_self)
    ot = torch.scatter_reduce(t, 1, torch.tensor(idx), ts, reduce, include_self=include_self)
    _close(oe, ot)
    oe.sum().backward()
    ot.sum().backward()
    _close(e.grad, t.grad)
    _close(es.grad, ts.grad)


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_and_bucketize_on_the_input_device(right):
    s = np.array([1.0, 3.0, 5.0, 7.0])
    v = np.array([[0.0, 3.0, 6.0], [7.0, 8.0, 1.0]])
    _close(ember.searchsorted(ember.tensor(s), ember.tensor(v), right=right),
           torch.searchsorted(torch.tensor(s), torch.tensor(v), right=right))
    _close(ember.bucketize(ember.tensor(v), ember.tensor(s), right=right),
           torch.bucketize(torch.tensor(v), torch.tensor(s), right=right))
    rows, vals = np.array([[1.0, 3.0], [2.0, 4.0]]), np.array([[2.0, 3.0], [5.0, 0.0]])
    _close(ember.searchsorted(ember.tensor(rows), ember.tensor(vals), right=right),
           torch.searchsorted(torch.tensor(rows), torch.tensor(vals), right=right))
