"""cuDNN (nvidia-cudnn-frontend) attention and convolution on CUDA against torch on the CPU.

Skips without CuPy, a CUDA device or the ``cudnn`` frontend module. Inputs are drawn in the
low-precision dtype first, so ember and the float32 torch reference see identical values; every
test also checks through ``ember.cuda.cudnn.calls`` that the cuDNN path (not the fallback) ran.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember

cp = pytest.importorskip("cupy")
if not ember.cuda.is_available():
    pytest.skip("needs a CUDA device", allow_module_level=True)
from ember.cuda import cudnn as dnn  # noqa: E402

if not dnn.available():
    pytest.skip(f"cuDNN frontend unavailable: {dnn._STATE['error']!r}", allow_module_level=True)

EF = ember.nn.functional
TF = torch.nn.functional
_TDT = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_EDT = {"float32": ember.float32, "float16": ember.float16, "bfloat16": ember.bfloat16}


@pytest.fixture(autouse=True)
def _restore_flags():
    flags = (ember.backends.cudnn.enabled, ember.backends.cudnn.allow_tf32)
    yield
    ember.backends.cudnn.enabled, ember.backends.cudnn.allow_tf32 = flags


def _pair(shape, dtype, gen, scale=1.0):
    """(torch float32 leaf on the CPU, ember leaf on CUDA in ``dtype``) with equal values."""
    t = (torch.randn(shape, generator=gen) * scale).to(_TDT[dtype]).float()
    e = ember.tensor(t.numpy(), device="cuda").to(_EDT[dtype])
    return t.requires_grad_(True), e.requires_grad_(True)


def _np(e) -> np.ndarray:
    return e.detach().float().cpu().numpy()


def _close(e, t, tol, what):
    """Largest error relative to the reference's largest magnitude (half types round each
    element, so an elementwise relative tolerance would fail near zeros)."""
    a, b = _np(e), t.detach().numpy()
    assert a.shape == b.shape, what
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-6)
    assert err <= tol, f"{what}: relative error {err:.3g} > {tol}"


def _backward_pair(eo, to, gen):
    w = torch.randn(tuple(to.shape), generator=gen)
    (to * w).sum().backward()
    (eo.float() * ember.tensor(w.numpy(), device="cuda")).sum().backward()


# ----------------------------------------------------------------------------- attention
_SDPA_TOL = {"bfloat16": 3e-2, "float16": 5e-3}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("b,h,lq,lk,d", [(2, 3, 100, 100, 64), (1, 2, 77, 77, 128),
                                         (2, 2, 130, 200, 64)])
def test_sdpa_matches_torch(dtype, causal, b, h, lq, lk, d):
    gen = torch.Generator().manual_seed(lq * 7 + d + causal)
    tq, eq = _pair((b, h, lq, d), dtype, gen)
    tk, ek = _pair((b, h, lk, d), dtype, gen)
    tv, ev = _pair((b, h, lk, d), dtype, gen)
    before = dict(dnn.calls)
    eo = EF.scaled_dot_product_attention(eq, ek, ev, is_causal=causal)
    to = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
    assert dnn.calls["sdpa_fwd"] == before["sdpa_fwd"] + 1, dnn.ERRORS
    assert eo.dtype == _EDT[dtype] and tuple(eo.shape) == tuple(to.shape)
    tol = _SDPA_TOL[dtype]
    _close(eo, to, tol, "output")
    _backward_pair(eo, to, gen)
    assert dnn.calls["sdpa_bwd"] == before["sdpa_bwd"] + 1, dnn.ERRORS
    for name, e, t in (("dq", eq, tq), ("dk", ek, tk), ("dv", ev, tv)):
        assert e.grad.dtype == _EDT[dtype]
        _close(e.grad, t.grad, tol, name)


def test_sdpa_scale_and_transposed_heads():
    """q/k/v as (B, T, H, D) buffers viewed as (B, H, T, D), and an explicit scale."""
    gen = torch.Generator().manual_seed(3)
    b, t_, h, d = 2, 96, 4, 64
    tx, ex = _pair((b, t_, 3, h, d), "bfloat16", gen)
    tq, tk, tv = (tx[:, :, i].transpose(1, 2) for i in range(3))
    eq, ek, ev = (ex[:, :, i].transpose(1, 2) for i in range(3))
    before = dict(dnn.calls)
    eo = EF.scaled_dot_product_attention(eq, ek, ev, is_causal=True, scale=0.2)
    to = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=True, scale=0.2)
    assert dnn.calls["sdpa_fwd"] == before["sdpa_fwd"] + 1, dnn.ERRORS
    _close(eo, to, 3e-2, "output")
    _backward_pair(eo, to, gen)
    assert dnn.calls["sdpa_bwd"] == before["sdpa_bwd"] + 1, dnn.ERRORS
    _close(ex.grad, tx.grad, 3e-2, "dqkv")


def test_sdpa_disabled_takes_the_composite_path():
    ember.backends.cudnn.enabled = False
    gen = torch.Generator().manual_seed(5)
    tq, eq = _pair((1, 2, 40, 64), "float16", gen)
    before = dict(dnn.calls)
    eo = EF.scaled_dot_product_attention(eq, eq, eq, is_causal=True)
    to = TF.scaled_dot_product_attention(tq, tq, tq, is_causal=True)
    assert dnn.calls == before
    assert eo.grad_fn.name() != "SdpaFlashOpBackward0"
    _close(eo, to, 5e-3, "output")


# --------------------------------------------------------------------------- convolution
_CONV = {
    "stride2-pad1": dict(x=(2, 8, 15, 15), w=(16, 8, 3, 3), stride=2, padding=1),
    "dilation2": dict(x=(2, 8, 12, 12), w=(8, 8, 3, 3), padding=2, dilation=2),
    "groups4": dict(x=(2, 16, 10, 10), w=(32, 4, 3, 3), padding=1, groups=4),
    "depthwise": dict(x=(2, 16, 9, 9), w=(16, 1, 3, 3), padding=1, groups=16),
    "1x1": dict(x=(4, 32, 7, 7), w=(64, 32, 1, 1)),
    "7x7-stem": dict(x=(2, 3, 32, 32), w=(16, 3, 7, 7), stride=2, padding=3),
    "asym": dict(x=(1, 8, 11, 14), w=(8, 8, 3, 5), stride=(2, 1), padding=(0, 2)),
}
# float32 without TF32 is exact to rounding; TF32 keeps 10 mantissa bits, bfloat16 8.
_CONV_TOL = {"float32": 1e-4, "tf32": 1e-2, "bfloat16": 3e-2}


@pytest.mark.parametrize("mode", ["float32", "tf32", "bfloat16"])
@pytest.mark.parametrize("geom", list(_CONV))
def test_conv2d_matches_torch(geom, mode):
    g = dict(_CONV[geom])
    dtype = "bfloat16" if mode == "bfloat16" else "float32"
    ember.backends.cudnn.allow_tf32 = mode == "tf32"
    gen = torch.Generator().manual_seed(len(geom))
    tx, ex = _pair(g.pop("x"), dtype, gen)
    tw, ew = _pair(g.pop("w"), dtype, gen, scale=0.3)
    tb, eb = _pair((tw.shape[0],), dtype, gen)
    before = dict(dnn.calls)
    eo = EF.conv2d(ex, ew, eb, **g)
    to = TF.conv2d(tx, tw, tb, **g)
    assert dnn.calls["conv_fprop"] == before["conv_fprop"] + 1, dnn.ERRORS
    tol = _CONV_TOL[mode]
    _close(eo, to, tol, "output")
    _backward_pair(eo, to, gen)
    assert dnn.calls["conv_dgrad"] == before["conv_dgrad"] + 1, dnn.ERRORS
    assert dnn.calls["conv_wgrad"] == before["conv_wgrad"] + 1, dnn.ERRORS
    _close(ex.grad, tx.grad, tol, "grad input")
    _close(ew.grad, tw.grad, tol, "grad weight")
    _close(eb.grad, tb.grad, tol, "grad bias")


def test_conv_transpose2d_uses_dgrad():
    ember.backends.cudnn.allow_tf32 = False
    gen = torch.Generator().manual_seed(11)
    tx, ex = _pair((2, 8, 7, 7), "float32", gen)
    tw, ew = _pair((8, 4, 3, 3), "float32", gen, scale=0.3)
    before = dict(dnn.calls)
    kw = dict(stride=2, padding=1, output_padding=1)
    eo = EF.conv_transpose2d(ex, ew, **kw)
    to = TF.conv_transpose2d(tx, tw, **kw)
    assert dnn.calls["conv_dgrad"] == before["conv_dgrad"] + 1, dnn.ERRORS
    _close(eo, to, 1e-4, "output")
    _backward_pair(eo, to, gen)
    _close(ex.grad, tx.grad, 1e-4, "grad input")
    _close(ew.grad, tw.grad, 1e-4, "grad weight")


def test_conv2d_disabled_uses_im2col():
    ember.backends.cudnn.enabled = False
    ember.backends.cudnn.allow_tf32 = False
    gen = torch.Generator().manual_seed(2)
    tx, ex = _pair((2, 4, 8, 8), "float32", gen)
    tw, ew = _pair((6, 4, 3, 3), "float32", gen)
    before = dict(dnn.calls)
    _close(EF.conv2d(ex, ew, padding=1), TF.conv2d(tx, tw, padding=1), 1e-4, "output")
    assert dnn.calls == before


# ------------------------------------------------------------------------------- capture
def test_conv_and_attention_inside_cuda_graph_capture():
    """A forward+backward step with cuDNN conv (float32) and flash attention (bfloat16),
    captured after one eager warm-up, replays with fresh inputs to the eager answer."""
    ember.backends.cudnn.allow_tf32 = False
    gen = torch.Generator().manual_seed(9)
    _, x = _pair((4, 8, 16, 16), "float32", gen)
    x = x.detach()
    _, w = _pair((16, 8, 3, 3), "float32", gen, scale=0.3)
    _, w2 = _pair((8, 16, 3, 3), "float32", gen, scale=0.3)
    _, q = _pair((2, 4, 64, 64), "bfloat16", gen)
    _, k = _pair((2, 4, 64, 64), "bfloat16", gen)
    _, v = _pair((2, 4, 64, 64), "bfloat16", gen)
    params = [w, w2, q, k, v]

    def step():
        # Two layers, so that the second one's input gradient (dgrad) is needed too.
        y = EF.conv2d(EF.conv2d(x, w, padding=1, stride=2).relu(), w2, padding=1)
        o = EF.scaled_dot_product_attention(q, k, v, is_causal=True)
        loss = (y * y).sum() + (o.float() * o.float()).sum() * x.mean()
        return [loss] + list(ember.autograd.grad(loss, params))

    step()  # eager warm-up: builds the cuDNN graphs and fills the memory pool
    before = dict(dnn.calls)
    graph = ember.cuda.CUDAGraph()
    with ember.cuda.graph(graph):
        static = step()
    for op in ("conv_fprop", "conv_dgrad", "conv_wgrad", "sdpa_fwd", "sdpa_bwd"):
        assert dnn.calls[op] > before[op], (op, dnn.ERRORS)
    for trial in range(2):
        x.copy_(ember.tensor(np.random.default_rng(trial).standard_normal((4, 8, 16, 16))
                             .astype(np.float32), device="cuda"))
        graph.replay()
        cp.cuda.Device().synchronize()
        want = step()
        # Not bitwise: cuDNN's attention backward and weight gradient may accumulate with
        # atomics. A stale replay (old x) would be off by O(1).
        for i, (a, b) in enumerate(zip(static, want)):
            _close(a, b.detach().float().cpu(), 1e-2, f"replay {trial}, output {i}")
