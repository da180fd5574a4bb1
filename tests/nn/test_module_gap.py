"""Newer nn.Module / attention APIs, compared against torch (CPU). Tensor computations run
ember's side on the device under test (EMBER_TEST_DEVICE); state-dict/hook bookkeeping is
device-independent and stays on the CPU."""
import os
import sys
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from oracle import DEVICE, dev_tensor, device_default, to_numpy  # noqa: E402


def _pair_of_models():
    """The same small model in both frameworks, built through the same API."""
    out = []
    for lib in (torch, ember):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.nn.Linear(3, 2)
                self.seq = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.ReLU())

            def forward(self, x):
                return self.seq(self.fc(x))
        out.append(Net())
    return out


def _extra_state_model(lib):
    class WithExtra(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lib.nn.Linear(2, 2)
            self.counter = 0

        def get_extra_state(self):
            return {"counter": self.counter}

        def set_extra_state(self, state):
            self.counter = state["counter"]

    class Outer(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = WithExtra()
    return Outer()


def test_extra_state_roundtrip_and_keys():
    tm, em = _extra_state_model(torch), _extra_state_model(ember)
    assert list(tm.state_dict()) == list(em.state_dict())
    assert "inner._extra_state" in em.state_dict()
    em.inner.counter = 7
    sd = em.state_dict()
    em2 = _extra_state_model(ember)
    assert em2.load_state_dict(sd).missing_keys == []
    assert em2.inner.counter == 7
    # Missing extra state is a missing key, as torch.
    tsd = {k: v for k, v in tm.state_dict().items() if "extra" not in k}
    esd = {k: v for k, v in em.state_dict().items() if "extra" not in k}
    tr = tm.load_state_dict(tsd, strict=False)
    er = em.load_state_dict(esd, strict=False)
    assert tr.missing_keys == er.missing_keys == ["inner._extra_state"]
    with pytest.raises(RuntimeError):
        em.load_state_dict(esd)
    # A module without get/set_extra_state reports the key as unexpected.
    plain_t, plain_e = torch.nn.Linear(2, 2), nn.Linear(2, 2)
    td = dict(plain_t.state_dict(), _extra_state=1)
    ed = dict(plain_e.state_dict(), _extra_state=1)
    assert plain_t.load_state_dict(td, strict=False).unexpected_keys == \
        plain_e.load_state_dict(ed, strict=False).unexpected_keys == ["_extra_state"]
    with pytest.raises(RuntimeError):
        nn.Module().get_extra_state()


def test_state_dict_pre_hook_order_and_args():
    logs = []
    for m in _pair_of_models():
        log = []
        for name, sub in m.named_modules():
            sub.register_state_dict_pre_hook(
                lambda mod, prefix, keep_vars, name=name: log.append((name, prefix, keep_vars)))
        m.state_dict(keep_vars=True)
        logs.append(log)
    assert logs[0] == logs[1]
    assert logs[0][0] == ("", "", True)


def test_load_state_dict_post_hook():
    tm, em = _pair_of_models()
    results = []
    for m in (tm, em):
        seen = []
        h = m.seq.register_load_state_dict_post_hook(
            lambda mod, keys: seen.append((type(mod).__name__, list(keys.missing_keys),
                                           list(keys.unexpected_keys))))
        sd = {k: v for k, v in m.state_dict().items() if k != "fc.bias"}
        sd["junk"] = sd["fc.weight"]
        r = m.load_state_dict(sd, strict=False)
        results.append((seen, list(r.missing_keys), list(r.unexpected_keys)))
        h.remove()
        m.load_state_dict(sd, strict=False)
        assert len(seen) == 1
    assert results[0] == results[1]
    # Clearing the lists in place makes a strict load succeed (both frameworks).
    for m in (tm, em):
        def clear(mod, keys):
            keys.missing_keys.clear()
            keys.unexpected_keys.clear()
        m.register_load_state_dict_post_hook(clear)
        sd = {k: v for k, v in m.state_dict().items() if k != "fc.bias"}
        m.load_state_dict(sd)
        m.register_load_state_dict_post_hook(lambda mod, keys: 1)
        with pytest.raises(AssertionError):
            m.load_state_dict(m.state_dict())


def test_load_state_dict_assign():
    with device_default():
        m = nn.Linear(2, 2)
        w = nn.Parameter(ember.ones(2, 2))
        b = ember.zeros(2)
    m.load_state_dict({"weight": w, "bias": b}, assign=True)
    assert m.weight is w
    assert isinstance(m.bias, nn.Parameter) and m.bias.requires_grad
    assert m.bias.device.type == DEVICE
    np.testing.assert_array_equal(to_numpy(m.bias), np.zeros(2))


def test_set_submodule_and_errors():
    tm, em = _pair_of_models()
    for lib, m in ((torch, tm), (ember, em)):
        m.set_submodule("seq.1", lib.nn.Tanh())
        assert type(m.seq[1]).__name__ == "Tanh"
        m.set_submodule("seq.new", lib.nn.Identity())
        assert type(m.seq.new).__name__ == "Identity"
        with pytest.raises(AttributeError):
            m.set_submodule("seq.missing", lib.nn.Identity(), strict=True)
        with pytest.raises(ValueError):
            m.set_submodule("", lib.nn.Identity())
        with pytest.raises(ValueError):
            m.set_submodule("fc", 3)
        with pytest.raises(AttributeError):
            m.set_submodule("fc.weight", lib.nn.Identity())


def test_to_empty_and_class_attrs():
    m = nn.Linear(3, 2)
    w = m.weight
    r = m.to_empty(device="cpu")
    assert r is m and m.weight is w and tuple(m.weight.shape) == (2, 3)
    seq = nn.Sequential(nn.Linear(2, 2))
    seq.to_empty(device="cpu", recurse=False)
    assert nn.Module.dump_patches is False
    from ember.nn.modules.module import T_destination
    assert nn.Module.T_destination is T_destination


def test_module_compile_in_place():
    torch.manual_seed(0)
    with device_default():
        m = nn.Linear(3, 2)
        x = ember.randn(4, 3)
    ref = to_numpy(m(x))
    assert m.compile() is None
    assert "_compiled_call_impl" in m.__dict__
    np.testing.assert_allclose(to_numpy(m(x)), ref)


def _run_hooks(lib, reg_mod):
    log = []
    lin = lib.nn.Linear(3, 2)
    hs = [reg_mod.register_module_forward_pre_hook(
              lambda m, a: log.append(("gpre", type(m).__name__, len(a)))),
          reg_mod.register_module_forward_hook(
              lambda m, a, o: log.append(("gfwd", tuple(o.shape)))),
          reg_mod.register_module_full_backward_pre_hook(
              lambda m, go: log.append(("gbpre", tuple(go[0].shape)))),
          reg_mod.register_module_full_backward_hook(
              lambda m, gi, go: log.append(("gbwd", tuple(gi[0].shape), tuple(go[0].shape))))]
    lin.register_full_backward_pre_hook(lambda m, go: log.append(("bpre",)))
    lin.register_full_backward_hook(lambda m, gi, go: log.append(("bwd",)))
    try:
        x = lib.ones(4, 3, requires_grad=True)
        lin(x).sum().backward()
    finally:
        for h in hs:
            h.remove()
    lin(lib.ones(4, 3))
    return log


def test_global_module_hooks_match_torch():
    import ember.nn.modules.module as em_mod
    import torch.nn.modules.module as t_mod
    with device_default():
        e_log = _run_hooks(ember, em_mod)
    assert _run_hooks(torch, t_mod) == e_log


def test_buffer_registration():
    for lib in (torch, ember):
        m = lib.nn.Module()
        m.a = lib.nn.Buffer(lib.ones(2))
        m.b = lib.nn.Buffer(lib.ones(2), persistent=False)
        assert [n for n, _ in m.named_buffers()] == ["a", "b"]
        assert list(m.state_dict()) == ["a"]
        assert tuple(lib.nn.Buffer().shape) == (0,)
        m.p = lib.nn.Parameter(lib.ones(1))
        with pytest.raises(TypeError):
            m.p = lib.nn.Buffer(lib.ones(1))


def test_small_utility_modules():
    from ember.nn.modules import utils as eu
    from torch.nn.modules import utils as tu
    for name in ("_single", "_pair", "_triple", "_quadruple"):
        for v in (3, [1, 2], (4, 5, 6)):
            assert getattr(eu, name)(v) == getattr(tu, name)(v)
    assert eu._ntuple(5)(1) == tu._ntuple(5)(1)
    assert eu._reverse_repeat_tuple((1, 2, 3), 2) == tu._reverse_repeat_tuple((1, 2, 3), 2)
    sd_t = {"module.a": 1, "module.b.c": 2, "x": 3}
    sd_e = dict(sd_t)
    tu.consume_prefix_in_state_dict_if_present(sd_t, "module.")
    eu.consume_prefix_in_state_dict_if_present(sd_e, "module.")
    assert sd_t == sd_e
    from ember.utils.hooks import RemovableHandle
    assert isinstance(nn.Linear(1, 1).register_forward_hook(lambda *a: None), RemovableHandle)
    import ember.overrides as eo
    t = ember.ones(1)
    assert eo.has_torch_function((t,)) is False
    assert eo.has_torch_function_unary(t) is False
    assert eo.has_torch_function_variadic(t, t) is False
    assert eo.handle_torch_function(lambda a: a + 1, (t,), 1) == 2


def _qkv(seed, hq=4, hkv=2):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((2, hq, 5, 8))
    k = rng.standard_normal((2, hkv, 6, 8))
    v = rng.standard_normal((2, hkv, 6, 4))
    return q, k, v


@pytest.mark.parametrize("causal,scale", [(False, None), (True, 0.3)])
def test_sdpa_gqa_values_and_grads(causal, scale):
    q, k, v = _qkv(1)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    eq, ek, ev = (dev_tensor(a, requires_grad=True) for a in (q, k, v))
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=causal,
                                                          scale=scale, enable_gqa=True)
    eo = F.scaled_dot_product_attention(eq, ek, ev, is_causal=causal, scale=scale,
                                        enable_gqa=True)
    assert eo.device.type == DEVICE
    np.testing.assert_allclose(to_numpy(eo), to.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(2).standard_normal(to.shape)
    to.backward(torch.tensor(g))
    eo.backward(dev_tensor(g))
    for t, e in ((tq, eq), (tk, ek), (tv, ev)):
        np.testing.assert_allclose(to_numpy(e.grad), t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_sdpa_kernel_flags_and_math_path():
    from ember.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention import SDPBackend as TB, sdpa_kernel as tk_
    import ember.backends as eb
    assert [(b.name, int(b.value)) for b in SDPBackend] == \
        [(n, int(b.value)) for n, b in TB.__members__.items()]
    tb = torch.backends.cuda
    for eb_list, tb_list in (([SDPBackend.MATH], [TB.MATH]),
                             ([SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION],
                              [TB.FLASH_ATTENTION, TB.CUDNN_ATTENTION]),
                             (SDPBackend.EFFICIENT_ATTENTION, TB.EFFICIENT_ATTENTION)):
        with sdpa_kernel(eb_list), tk_(tb_list):
            for f in ("flash_sdp_enabled", "math_sdp_enabled", "mem_efficient_sdp_enabled",
                      "cudnn_sdp_enabled"):
                assert getattr(eb.cuda, f)() == getattr(tb, f)(), f
    assert eb.cuda.flash_sdp_enabled() and eb.cuda.math_sdp_enabled()
    with pytest.raises(AssertionError):
        with sdpa_kernel("math"):
            pass
    q, k, v = (dev_tensor(a) for a in _qkv(3, 2, 2))
    ref = F.scaled_dot_product_attention(q, k, v)
    with sdpa_kernel(SDPBackend.MATH):
        from ember.backends import _sdp
        assert not _sdp.fused_allowed()
        out = F.scaled_dot_product_attention(q, k, v)
    scores = (to_numpy(q) / np.sqrt(8)) @ np.swapaxes(to_numpy(k), -1, -2)
    w = np.exp(scores - scores.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    assert out.device.type == DEVICE
    np.testing.assert_allclose(to_numpy(out), w @ to_numpy(v), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(out), to_numpy(ref), rtol=1e-10)


def test_backend_flag_functions():
    import ember.backends as eb
    c = eb.cuda
    c.enable_math_sdp(False)
    try:
        assert c.math_sdp_enabled() is False
    finally:
        c.enable_math_sdp(True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with c.sdp_kernel(enable_flash=False, enable_cudnn=False, enable_mem_efficient=False):
            assert not c.flash_sdp_enabled() and c.math_sdp_enabled()
    assert any(issubclass(x.category, FutureWarning) for x in w)
    assert c.flash_sdp_enabled()
    assert c.preferred_blas_library().name == torch.backends.cuda.preferred_blas_library().name
    assert c.preferred_blas_library("cublas").name == "Cublas"
    with pytest.raises(RuntimeError):
        c.preferred_blas_library("nope")
