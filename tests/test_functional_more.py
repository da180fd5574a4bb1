"""ember.functional_more against torch: oracle cases of its primitives (tests/specs_more.py)
plus values, gradients, dtypes and errors of the composite functions and methods."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember
from oracle import DEVICE, check, device_default, gradcheck_case
from specs_more import SPECS

_FWD, _GC = [], []
for _p, _cs in SPECS.items():
    for _i, _c in enumerate(_cs):
        for _d in _c.dtypes:
            _FWD.append(pytest.param(_c, _d, _c.non_contiguous, id=f"{_p}-{_i}-{_d}"))
        if _c.gradcheck:
            _GC.append(pytest.param(_c, id=f"{_p}-{_i}"))


@pytest.mark.parametrize("case,dtype,nc", _FWD)
def test_oracle(case, dtype, nc):
    check(case, dtype)
    if nc and dtype == "float32":
        check(case, "float32", non_contiguous=True)


@pytest.mark.parametrize("case", _GC)
def test_gradcheck(case):
    gradcheck_case(case)


# ----------------------------------------------------------------------------- composites
@pytest.fixture(autouse=True)
def _on_device(request):
    """The hand-written tests make their ember tensors on the device under test (the spec
    tests place theirs through ``check``; gradcheck runs on the host in float64)."""
    # test_typename checks the CPU names (torch.FloatTensor) on purpose.
    if request.node.name.startswith(("test_oracle", "test_gradcheck", "test_typename")):
        yield
        return
    with device_default():
        yield


def _pair(arr, grad=False, dtype="float64"):
    t = torch.tensor(np.asarray(arr), dtype=getattr(torch, dtype) if arr.dtype.kind == "f"
                     else None, requires_grad=grad)
    e = ember.tensor(np.asarray(arr), dtype=getattr(ember, dtype) if arr.dtype.kind == "f"
                     else None, requires_grad=grad)
    return t, e


def _close(e, t, tol=1e-10):
    if isinstance(t, (tuple, list)):
        assert len(e) == len(t)
        for a, b in zip(e, t):
            _close(a, b, tol)
        return
    assert tuple(e.shape) == tuple(t.shape)
    assert str(e.dtype) == str(t.dtype), (e.dtype, t.dtype)
    assert e.device.type == DEVICE, e.device  # results stay on their inputs' device
    np.testing.assert_allclose(e.detach().cpu().numpy(), t.detach().numpy(), rtol=tol,
                               atol=tol)


def _run_both(fn, *arrays, grad=True):
    """fn(lib, *tensors) on torch and ember; compare outputs and gradients of a projection."""
    ts, es = zip(*[_pair(a, grad=grad and a.dtype.kind == "f") for a in arrays])
    ot, oe = fn(torch, *ts), fn(ember, *es)
    _close(oe, ot)
    if grad:
        w = np.random.default_rng(1).standard_normal(tuple(ot.shape))
        (ot * torch.tensor(w)).sum().backward()
        (oe * ember.tensor(w)).sum().backward()
        for a, b in zip(es, ts):
            if b.requires_grad:
                _close(a.grad, b.grad)


RNG = np.random.default_rng(0)


def _r(*shape):
    return RNG.standard_normal(shape)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64", "complex64",
                                  "complex128"])
def test_finfo(name):
    t, e = torch.finfo(getattr(torch, name)), ember.finfo(getattr(ember, name))
    for f in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(e, f) == getattr(t, f), f


def test_finfo_default_and_iinfo():
    assert ember.finfo().dtype == torch.finfo().dtype == "float32"
    for name in ("uint8", "int8", "int16", "int32", "int64"):
        t, e = torch.iinfo(getattr(torch, name)), ember.iinfo(getattr(ember, name))
        assert (e.bits, e.min, e.max, e.dtype) == (t.bits, t.min, t.max, t.dtype)
    with pytest.raises(TypeError):
        ember.iinfo(ember.bool)
    with pytest.raises(TypeError):
        ember.finfo(ember.int32)
    with pytest.raises(TypeError):
        ember.iinfo(ember.float32)


def test_typename():
    assert ember.typename(ember.ones(2)) == torch.typename(torch.ones(2))
    assert ember.typename(ember.ones(2, dtype=ember.float64)) == "torch.DoubleTensor"
    assert ember.typename(3) == torch.typename(3) == "int"


def test_mvlgamma_and_errors():
    x = RNG.uniform(1.6, 4.0, (3, 2))
    _run_both(lambda lib, a: lib.mvlgamma(a, 3), x)
    _run_both(lambda lib, a: a.mvlgamma(2), x)
    with pytest.raises(RuntimeError):
        ember.mvlgamma(ember.tensor([0.5]), 3)


def test_int_ops_reject_floats_and_isreal_positive_rsub():
    with pytest.raises(RuntimeError):
        ember.gcd(ember.ones(2), ember.ones(2))
    _close(ember.isreal(ember.tensor([1, 2])), torch.isreal(torch.tensor([1, 2])))
    c = ember.tensor([1 + 0j, 1 + 1j])
    _close(ember.isreal(c), torch.isreal(torch.tensor([1 + 0j, 1 + 1j])))
    x = ember.ones(2)
    assert ember.positive(x) is x and x.positive() is x
    with pytest.raises(RuntimeError):
        ember.positive(ember.tensor([True]))
    _run_both(lambda lib, a, b: lib.rsub(a, b, alpha=2), _r(3), _r(3))
    _run_both(lambda lib, a: lib.rsub(a, 3.0), _r(3))


def test_fused_products():
    _run_both(lambda lib, a, b, c: lib.addcmul(a, b, c, value=0.5), _r(3, 4), _r(4), _r(3, 1))
    _run_both(lambda lib, a, b, c: a.addcdiv(b, c, value=-2), _r(3, 4), _r(3, 4),
              RNG.uniform(1, 2, (3, 4)))
    _run_both(lambda lib, a, m, v: lib.addmv(a, m, v, beta=0.5, alpha=2), _r(3), _r(3, 4),
              _r(4))
    _run_both(lambda lib, a, u, v: a.addr(u, v, alpha=3), _r(3, 4), _r(3), _r(4))
    _run_both(lambda lib, a, b, c: lib.addbmm(a, b, c, beta=2), _r(3, 5), _r(2, 3, 4),
              _r(2, 4, 5))
    nan = np.full(3, np.nan)
    _run_both(lambda lib, a, m, v: lib.addmv(a, m, v, beta=0), nan, _r(3, 4), _r(4))
    with pytest.raises(RuntimeError):
        ember.addcdiv(ember.ones(2), ember.tensor([1, 2]), ember.tensor([1, 2]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _run_both(lambda lib, a, b, c: lib.chain_matmul(a, b, c), _r(2, 3), _r(3, 4), _r(4, 2))
    _run_both(lambda lib, a: lib.diagflat(a, 1), _r(2, 2))
    _run_both(lambda lib, a, b: a.vdot(b), _r(4), _r(4))


def test_histogram():
    x = RNG.standard_normal(50)
    w = RNG.uniform(0, 1, 50)
    for kw in ({"bins": 5}, {"bins": 4, "range": (-1.0, 1.0)}, {"bins": 6, "density": True}):
        t = torch.histogram(torch.tensor(x), **kw)
        e = ember.histogram(ember.tensor(x), **kw)
        _close(e.hist, t.hist)
        _close(e.bin_edges, t.bin_edges)
    edges = np.array([-2.0, -0.5, 0.0, 2.0])
    t = torch.histogram(torch.tensor(x), torch.tensor(edges), weight=torch.tensor(w))
    e = ember.tensor(x).histogram(ember.tensor(edges), weight=ember.tensor(w))
    _close(e.hist, t.hist)
    pts = RNG.standard_normal((30, 2))
    t = torch.histogramdd(torch.tensor(pts), bins=[3, 4])
    e = ember.histogramdd(ember.tensor(pts), bins=[3, 4])
    _close(e.hist, t.hist)
    _close(e.bin_edges, t.bin_edges)


def test_mode():
    a = RNG.integers(0, 4, (3, 9))
    for dim, keep in ((-1, False), (0, True)):
        t = torch.mode(torch.tensor(a), dim, keep)
        e = ember.mode(ember.tensor(a), dim, keep)
        _close(e.values, t.values)
        _close(e.indices, t.indices)
    f = np.array([1.0, 5, 5, 1, 3, 1, 5])
    _run_both(lambda lib, x: lib.mode(x).values * 3, f)
    assert int(ember.tensor(f).mode().indices) == int(torch.tensor(f).mode().indices)


def test_unravel_index_and_range():
    for shape in ((2, 4), (3, 1, 5)):
        idx = RNG.integers(0, int(np.prod(shape)), 6)
        _close(ember.unravel_index(ember.tensor(idx), shape),
               torch.unravel_index(torch.tensor(idx), shape))
    with pytest.raises(TypeError):
        ember.unravel_index(ember.tensor([1.0]), (2,))
    with pytest.warns(UserWarning):
        r = ember.range(0, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _close(r, torch.range(0, 4))
        _close(ember.range(1, 2, 0.25), torch.range(1, 2, 0.25))
        _close(ember.range(5, 1, -2, dtype=ember.int64),
               torch.range(5, 1, -2, dtype=torch.int64))


def test_shape_helpers():
    for fn in ("atleast_1d", "atleast_2d", "atleast_3d"):
        for shape in ((), (3,), (2, 3), (2, 3, 4)):
            x = _r(*shape) if shape else np.array(1.5)
            _close(getattr(ember, fn)(ember.tensor(x)), getattr(torch, fn)(torch.tensor(x)))
        _close(getattr(ember, fn)(ember.ones(2), ember.ones(())),
               getattr(torch, fn)(torch.ones(2), torch.ones(())))
    x = _r(4, 6, 2)
    for fn, arg in (("hsplit", 3), ("hsplit", [1, 4]), ("vsplit", 2), ("dsplit", [1])):
        _close(getattr(ember.tensor(x), fn)(arg), getattr(torch.tensor(x), fn)(arg))
    with pytest.raises(RuntimeError):
        ember.hsplit(ember.tensor(x), 4)
    with pytest.raises(RuntimeError):
        ember.dsplit(ember.ones(2, 2), 1)
    _close(ember.row_stack([ember.ones(3), ember.zeros(3)]),
           torch.row_stack([torch.ones(3), torch.zeros(3)]))
    _run_both(lambda lib, a: lib.cat([p * i for i, p in enumerate(
        lib.split_with_sizes(a, [1, 3, 2], 1))], 1), _r(2, 6))
    with pytest.raises(RuntimeError):
        ember.split_with_sizes(ember.ones(5), [1, 2])
    _close(ember.unsafe_split(ember.tensor(x), 3), torch.unsafe_split(torch.tensor(x), 3))
    _close(ember.tensor(x).unsafe_chunk(2, 1), torch.tensor(x).unsafe_chunk(2, 1))


def test_scatter_views():
    _run_both(lambda lib, a, s: lib.select_scatter(a, s, 1, 2), _r(3, 4), _r(3))
    _run_both(lambda lib, a, s: lib.slice_scatter(a, s, 1, 0, 4, 2), _r(3, 5), _r(3, 2))
    _run_both(lambda lib, a, s: a.slice_scatter(s, start=1), _r(3, 2), _r(2, 2))
    _run_both(lambda lib, a, s: lib.diagonal_scatter(a, s, 1), _r(3, 4), _r(3))
    with pytest.raises(RuntimeError):
        ember.select_scatter(ember.ones(3, 4), ember.ones(4), 1, 0)


def test_as_strided_unfold_views():
    base = ember.arange(12.0)
    v = ember.as_strided(base, (3, 2), (3, 1), 2)
    tv = torch.as_strided(torch.arange(12.0), (3, 2), (3, 1), 2)
    _close(v, tv)
    assert v.stride() == tv.stride() and v._base is base
    base[2] = 100.0  # a view: writes to the base show through
    assert float(v[0, 0]) == 100.0
    with pytest.raises(RuntimeError):
        ember.as_strided(ember.ones(4), (3,), (2,))
    t = torch.arange(10.0).reshape(2, 5)
    e = ember.arange(10.0).reshape(2, 5)
    _close(e.unfold(1, 2, 2), t.unfold(1, 2, 2))
    _close(e.t().unfold(0, 3, 1), t.t().unfold(0, 3, 1))
    _close(ember.tensor(3.0).unfold(0, 1, 1), torch.tensor(3.0).unfold(0, 1, 1))
    with pytest.raises(RuntimeError):
        e.unfold(1, 6, 1)
    s = ember.empty_strided((2, 3), (1, 2))
    assert s.stride() == torch.empty_strided((2, 3), (1, 2)).stride() and s.shape == (2, 3)


def test_copy_variants_and_misc():
    x = _r(2, 3, 4)
    cases = [("view_copy", ((6, 4),)), ("permute_copy", ((2, 0, 1),)), ("transpose_copy",
             (0, 2)), ("squeeze_copy", ()), ("unsqueeze_copy", (1,)), ("diagonal_copy", (0, 1, 2)),
             ("select_copy", (1, 2)), ("slice_copy", (2, 1, 3)), ("split_copy", (2, 2)),
             ("unbind_copy", (1,)), ("narrow_copy", (2, 1, 2)), ("detach_copy", ()),
             ("alias_copy", ()), ("detach", ())]
    for name, args in cases:
        e = getattr(ember, name)(ember.tensor(x), *args)
        t = getattr(torch, name)(torch.tensor(x), *args)
        _close(e, t)
    _close(ember.t_copy(ember.tensor(x[0])), torch.t_copy(torch.tensor(x[0])))
    _close(ember.expand_copy(ember.ones(3, 1), (3, 4)), torch.expand_copy(torch.ones(3, 1),
                                                                          (3, 4)))
    _run_both(lambda lib, a: lib.view_copy(a, (4, 3)) * 2, _r(3, 4))
    _run_both(lambda lib, a: lib.fill(a, 2.5) + a, _r(3))
    _run_both(lambda lib, a, i, s: lib.put(a, i, s) * 2, _r(3, 4),
              np.array([0, -1, 5]), _r(3))
    _run_both(lambda lib, a, i, s: a.put(i, s, accumulate=True), _r(3, 4),
              np.array([0, 0, 5]), _r(3))
    with pytest.raises(IndexError):
        ember.put(ember.ones(3), ember.tensor([3]), ember.ones(1))
    a, b = ember.zeros(3), torch.zeros(3)
    ember.index_put_(a, (ember.tensor([0, 2]),), ember.tensor([1.0, 2.0]))
    torch.index_put_(b, (torch.tensor([0, 2]),), torch.tensor([1.0, 2.0]))
    _close(a, b)
    with pytest.raises(RuntimeError):
        ember.index_reduce(ember.ones(3), 0, ember.tensor([0]), ember.ones(1), "sum")
    _close(ember.ones(2).cdouble(), torch.ones(2).cdouble())
    _close(ember.ones(2).cfloat(), torch.ones(2).cfloat())
    _close(ember.ones(2).new([[1, 2]]), torch.ones(2).new([[1, 2]]))
    assert ember.ones(2).new(3, 2).shape == torch.ones(2).new(3, 2).shape
    assert ember.ones(2).new().shape == (0,)


# ----------------------------------------------------------------------------- in-place
# torch has no derivative for these in-place forms (or a comparison result), so only values
# are compared. renorm_: ember.renorm (functional_extra) treats the scale as a constant, while
# torch differentiates through the norm.
_VALUES_ONLY = {"acosh_", "asinh_", "atanh_", "arcsinh_", "heaviside_", "greater_",
                "less_equal_", "not_equal_", "sgn_", "renorm_"}


def _inplace_both(method, x, *args, **kw):
    """``(x * 1).method(*args)`` in both libraries: values, gradients and the version bump."""
    args_t = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    args_e = [ember.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    rg = x.dtype.kind == "f" and method not in _VALUES_ONLY
    tx, ex = torch.tensor(x, requires_grad=rg), ember.tensor(x, requires_grad=rg)
    ty, ey = tx * 1, ex * 1
    v = ey._version[0]
    rt = getattr(ty, method)(*args_t, **kw)
    re_ = getattr(ey, method)(*args_e, **kw)
    assert re_ is ey and rt is ty
    assert ey._version[0] > v
    _close(ey, ty, tol=1e-8)  # digamma/polygamma: ember's series agree to ~1e-9
    if ty.dtype.is_floating_point and ty.requires_grad:
        w = np.random.default_rng(2).standard_normal(tuple(ty.shape))
        (ty * torch.tensor(w)).sum().backward()
        (ey * ember.tensor(w)).sum().backward()
        _close(ex.grad, tx.grad, tol=1e-8)


@pytest.mark.parametrize("method,x,args", [
    ("acosh_", RNG.uniform(1.2, 3, 4), ()), ("asinh_", _r(4), ()), ("atanh_",
                                                                     RNG.uniform(-.9, .9, 4), ()),
    ("arcsinh_", _r(4), ()), ("addcmul_", _r(3, 4), (_r(4), _r(3, 4))),
    ("addcdiv_", _r(3, 4), (_r(4), RNG.uniform(1, 2, (3, 4)))),
    ("addmm_", _r(3, 4), (_r(3, 2), _r(2, 4))), ("baddbmm_", _r(2, 3, 4), (_r(2, 3, 2),
                                                                          _r(2, 2, 4))),
    ("addmv_", _r(3), (_r(3, 4), _r(4))), ("addr_", _r(3, 4), (_r(3), _r(4))),
    ("addbmm_", _r(3, 4), (_r(2, 3, 2), _r(2, 2, 4))), ("cumsum_", _r(3, 4), (1,)),
    ("cumprod_", _r(3, 4), (0,)), ("squeeze_", _r(3, 1, 4), ()), ("unsqueeze_", _r(3, 4), (1,)),
    ("t_", _r(3, 4), ()), ("transpose_", _r(2, 3, 4), (0, 2)), ("swapaxes_", _r(3, 4), (0, 1)),
    ("swapdims_", _r(3, 4), (1, 0)), ("copysign_", _r(4), (_r(4),)),
    ("lgamma_", RNG.uniform(0.5, 3, 4), ()), ("digamma_", RNG.uniform(0.5, 3, 4), ()),
    ("polygamma_", RNG.uniform(0.5, 3, 4), (1,)), ("logit_", RNG.uniform(0.1, 0.9, 4), ()),
    ("ldexp_", _r(4), (np.array([1, 2, 0, 3]),)), ("i0_", _r(4), ()),
    ("sgn_", _r(4), ()), ("divide_", _r(4), (RNG.uniform(1, 2, 4),)),
    ("multiply_", _r(4), (_r(4),)), ("subtract_", _r(4), (_r(4),)),
    ("greater_", _r(4), (0.0,)), ("less_equal_", _r(4), (_r(4),)), ("not_equal_", _r(4), (0.0,)),
    ("float_power_", RNG.uniform(0.5, 2, 4), (2.5,)), ("renorm_", _r(3, 4), (2, 0, 1.0)),
    ("fill_diagonal_", _r(3, 4), (2.0,)), ("fill_diagonal_", _r(7, 3), (2.0, True)),
    ("heaviside_", _r(4), (np.array([0.5] * 4),)), ("arctan2_", _r(4), (_r(4),)),
    ("deg2rad_", _r(4), ()), ("negative_", _r(4), ()), ("fix_", _r(4) * 3, ()),
])
def test_inplace_methods(method, x, args):
    _inplace_both(method, x, *args)


def test_inplace_int_and_reduce_methods():
    a, b = RNG.integers(-9, 10, 5), RNG.integers(1, 9, 5)
    for m in ("gcd_", "lcm_"):
        _inplace_both(m, a, b)
    _inplace_both("bitwise_left_shift_", a, 2)
    _inplace_both("put_", _r(3, 4), np.array([1, 7]), _r(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _inplace_both("index_reduce_", _r(4, 2), 0, np.array([0, 3, 0]), _r(3, 2) + 0.05,
                      "amax")
        _inplace_both("scatter_reduce_", _r(3, 4), 1, RNG.integers(0, 4, (3, 4)),
                      RNG.uniform(1, 2, (3, 4)), "prod")
    with pytest.raises(RuntimeError):
        ember.ones(2).float_power_(2)
    leaf = ember.ones(3, 1, requires_grad=True)
    with pytest.raises(RuntimeError):
        leaf.squeeze_()


def test_top_level_inplace():
    names = [n for n in dir(torch) if n.endswith("_") and not n.startswith("_")]
    for n in ("abs_", "exp_", "sqrt_", "sigmoid_", "tanh_", "clamp_", "zero_", "fill_",
              "nan_to_num_", "round_", "acosh_", "i0_"):
        assert n in names and hasattr(ember, n)
    x = RNG.uniform(1.1, 2, 5)
    for n, args in (("exp_", ()), ("sqrt_", ()), ("acosh_", ()), ("clamp_", (1.2, 1.5)),
                    ("fill_", (3.0,)), ("zero_", ())):
        e, t = ember.tensor(x), torch.tensor(x)
        assert getattr(ember, n)(e, *args) is e
        getattr(torch, n)(t, *args)
        _close(e, t)


def test_random_fillers():
    ember.manual_seed(0)
    c = ember.empty(2000).cauchy_(1.0, 0.5)
    assert c.shape == (2000,) and c.dtype == ember.float32
    assert abs(float(c.median()) - 1.0) < 0.1
    g = ember.empty(2000, dtype=ember.float64).geometric_(0.25)
    assert float(g.min()) >= 1 and abs(float(g.mean()) - 4.0) < 0.4
    ln = ember.empty(4000).log_normal_(0.0, 0.5)
    assert float(ln.min()) > 0 and abs(float(ln.log().mean())) < 0.05


def test_conj_physical_and_resize_as_inplace():
    e, t = ember.tensor([1 + 2j, -3j]), torch.tensor([1 + 2j, -3j])
    assert ember.conj_physical_(e) is e
    torch.conj_physical_(t)
    _close(e, t)
    e, t = ember.ones(2, 3), torch.ones(2, 3)
    ember.resize_as_(e, ember.ones(3))
    torch.resize_as_(t, torch.ones(3))
    assert tuple(e.shape) == tuple(t.shape) == (3,)
