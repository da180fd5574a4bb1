"""autocast as a context manager and decorator: state functions, nesting, warnings, errors,
the weight cache, custom_fwd/custom_bwd and the deprecated aliases, each against torch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember
from ember.amp import autocast_mode as am
from ember.ops import registry


def _state(lib):
    return (lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled(), str(
        lib.get_autocast_dtype("cpu")), str(lib.get_autocast_dtype("cuda")),
        lib.is_autocast_cpu_enabled())


def _nesting_trace(lib):
    x = lib.ones(2, 2)
    out = [_state(lib)]
    with lib.autocast("cpu"):
        out += [_state(lib), str((x @ x).dtype)]
        with lib.autocast("cpu", enabled=False):
            out += [_state(lib), str((x @ x).dtype)]
            with lib.autocast("cpu", dtype=lib.float16):
                out += [_state(lib), str((x @ x).dtype)]
            out += [_state(lib), str((x @ x).dtype)]
        out += [_state(lib), str((x @ x).dtype)]
    out += [_state(lib), str((x @ x).dtype)]

    @lib.autocast("cpu", dtype=lib.float16)
    def f(a):
        return str((a @ a).dtype), lib.is_autocast_enabled("cpu")
    out += [f(x), _state(lib), f.__name__]
    return out


def test_nesting_and_decorator_match_torch():
    assert _nesting_trace(ember) == _nesting_trace(torch)
    assert registry.AUTOCAST is None  # no hook left behind


def test_exception_inside_region_restores_state():
    for lib in (torch, ember):
        with pytest.raises(KeyError):
            with lib.autocast("cpu"):
                raise KeyError("x")
        assert not lib.is_autocast_enabled("cpu")
    assert registry.AUTOCAST is None


def _warnings_and_errors(lib):
    res = []
    for args, kw in [(("cuda",), {}), (("cpu",), {"dtype": lib.float32}),
                     (("cpu",), {"dtype": lib.float64})]:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            a = lib.autocast(*args, **kw)
        res.append((a._enabled, [str(x.message) for x in w]))
    for bad in [lib.device("cpu"), "xyz"]:
        try:
            lib.autocast(bad)
        except (ValueError, RuntimeError) as e:
            res.append((type(e).__name__, str(e).replace("torch.", "")))
    try:
        lib.autocast("cpu")(3)
    except TypeError as e:
        res.append(str(e))
    return res


def test_warnings_and_errors_match_torch():
    e = _warnings_and_errors(ember)
    t = _warnings_and_errors(torch)
    assert e[:3] == t[:3]
    assert e[3][0] == t[3][0] == "ValueError"
    assert e[4:] == t[4:]


def test_deprecated_aliases_warn_like_torch():
    for lib in (torch, ember):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with lib.cpu.amp.autocast():
                x = lib.ones(2, 2)
                assert (x @ x).dtype == lib.bfloat16
        assert [x.category for x in w] == [FutureWarning]
        assert "torch.amp.autocast('cpu', args...)" in str(w[0].message)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            a = lib.cuda.amp.autocast()
        # Without CUDA the region is disabled (torch warns about that too); with it, enabled.
        assert FutureWarning in [x.category for x in w]
        assert a._enabled == lib.cuda.is_available()
    assert ember.amp.autocast is ember.autocast
    assert ember.amp.is_autocast_available("cpu") and not ember.amp.is_autocast_available("mps")


def test_set_autocast_functions_match_torch():
    for lib in (torch, ember):
        lib.set_autocast_enabled("cpu", True)
        lib.set_autocast_dtype("cpu", lib.float16)
        x = lib.ones(2, 2)
        try:
            assert (x @ x).dtype == lib.float16
            assert lib.is_autocast_cpu_enabled() and lib.get_autocast_cpu_dtype() == lib.float16
        finally:
            lib.set_autocast_enabled("cpu", False)
            lib.set_autocast_dtype("cpu", lib.bfloat16)
        assert (x @ x).dtype == lib.float32
        assert lib.is_autocast_cache_enabled()
    assert registry.AUTOCAST is None


def test_weight_cache_casts_a_parameter_once_per_region():
    lin = ember.nn.Linear(3, 3)
    x = ember.ones(2, 3)
    with ember.autocast("cpu"):
        a = lin(x)
        b = lin(x)
        assert len(am._CACHE) == 2  # weight and bias
        cast = am._CACHE[id(lin.weight)][1]
        assert cast.dtype is ember.bfloat16 and cast.grad_fn is not None
        with ember.autocast("cpu"):  # nested regions share the cache
            lin(x)
            assert len(am._CACHE) == 2  # weight and bias
        assert len(am._CACHE) == 2  # weight and bias
    assert len(am._CACHE) == 0  # dropped with the outermost region
    (a.float().sum() + b.float().sum()).backward()
    assert lin.weight.grad.dtype is ember.float32
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.full((3, 3), 4.0))
    with ember.autocast("cpu", cache_enabled=False):
        lin(x)
        assert len(am._CACHE) == 0


def test_no_grad_cast_is_not_reused_with_grad():
    lin = ember.nn.Linear(3, 3)
    x = ember.ones(2, 3)
    with ember.autocast("cpu"):
        with ember.no_grad():
            lin(x)
        y = lin(x)
    y.float().sum().backward()
    assert lin.weight.grad is not None


def test_backward_inside_region_keeps_forward_dtypes():
    for lib in (torch, ember):
        lin = lib.nn.Linear(3, 2)
        x = lib.randn(4, 3, requires_grad=True)
        with lib.autocast("cpu"):
            y = lin(x)
            gx, = lib.autograd.grad(y.float().pow(2).sum(), x)
        assert gx.dtype == lib.float32 and lin.weight.grad is None


def _custom_fn(lib, cast_inputs):
    class MyMM(lib.autograd.Function):
        @staticmethod
        @lib.amp.custom_fwd(device_type="cpu", cast_inputs=cast_inputs)
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a.mm(b), lib.is_autocast_enabled("cpu")

        @staticmethod
        @lib.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g, _):
            a, b = ctx.saved_tensors
            return g.mm(b.t()), a.t().mm(g)
    return MyMM


@pytest.mark.parametrize("cast_inputs", [None, "float32"])
def test_custom_fwd_bwd_match_torch(cast_inputs):
    res = []
    for lib in (torch, ember):
        fn = _custom_fn(lib, None if cast_inputs is None else getattr(lib, cast_inputs))
        a = lib.ones(2, 3, requires_grad=True)
        b = lib.ones(3, 2, requires_grad=True)
        with lib.autocast("cpu"):
            out, inside = fn.apply(a, b)
        out.float().sum().backward()
        res.append((str(out.dtype), inside, str(a.grad.dtype), str(b.grad.dtype),
                    a.grad.float().numpy().tolist()))
    assert res[0] == res[1]
    with pytest.raises(ValueError):
        ember.amp.custom_fwd(lambda: None, device_type=ember.device("cpu"))


def test_cuda_policy_table_mirrors_torch_lists():
    """The CUDA lists cannot run against torch here (no GPU): check the table's spot values
    from torch's documented lists, and that the CPU table keeps softmax/exp out of float32."""
    from ember.amp import _policy
    cuda, cpu = _policy.CUDA, _policy.CPU
    for n in ("matmul", "linear", "conv2d", "mv", "addmm", "baddbmm", "prelu"):
        assert cuda[n] == "lower"
    for n in ("softmax", "log_softmax", "layer_norm", "exp", "log", "pow", "sum", "cumsum",
              "mse_loss", "cross_entropy", "norm"):
        assert cuda[n] == "fp32"
    for n in ("cat", "stack", "atan2", "dot", "tensordot", "index_put", "scatter_add"):
        assert cuda[n] == "promote"
    assert cuda["binary_cross_entropy"] == "banned" and cpu["binary_cross_entropy"] == "fp32"
    for n in ("softmax", "exp", "sum", "layer_norm"):
        assert n not in cpu
    assert cuda["div"]((1.0, ember.ones(1)), {}) == "fp32"
    assert cuda["div"]((ember.ones(1), ember.ones(1)), {}) is None


def test_autocast_hook_costs_nothing_outside_regions():
    assert registry.AUTOCAST is None
    with ember.autocast("cpu"):
        assert registry.AUTOCAST is not None
        with ember.autocast("cpu", enabled=False):
            assert registry.AUTOCAST is None
    assert registry.AUTOCAST is None
