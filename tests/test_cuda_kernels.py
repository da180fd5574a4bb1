"""ember.cuda.kernels (fused CUDA kernels of the nn hot ops) against torch on the CPU.

Inputs are rounded to the dtype under test first and torch computes on those values in float64,
so the differences left are the kernels' own arithmetic and output rounding. Each test also
checks that the kernel path ran (``spy``). Skips where CuPy or a GPU is absent.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

import ember

cp = pytest.importorskip("cupy")
if not ember.cuda.is_available():
    pytest.skip("needs a CUDA device", allow_module_level=True)

from ember.cuda import kernels as K  # noqa: E402

F = ember.nn.functional
TF = torch.nn.functional
DTYPES = ["float32", "float16", "bfloat16"]
# (rtol, atol as a fraction of the largest reference magnitude)
TOL = {"float32": (2e-5, 2e-6), "float16": (3e-3, 1.5e-3), "bfloat16": (2e-2, 1e-2)}


@contextlib.contextmanager
def spy(module, name):
    """Count the calls of ``module.name`` (to check that the kernel path ran)."""
    calls = []
    orig = getattr(module, name)

    def wrapper(*a, **kw):
        calls.append(1)
        return orig(*a, **kw)
    setattr(module, name, wrapper)
    try:
        yield calls
    finally:
        setattr(module, name, orig)


def make(shape, dtype, rng, scale=1.0, grad=True):
    """An ember CUDA tensor of ``dtype`` and a float64 torch tensor of the same rounded values."""
    a = np.asarray(rng.standard_normal(shape) * scale, dtype=np.float32)
    e = ember.tensor(a).to("cuda").to(getattr(ember, dtype))
    t = torch.tensor(e.cpu().float().numpy().astype(np.float64))
    if grad:
        e.requires_grad_(True)
        t.requires_grad_(True)
    return e, t


def host(t) -> np.ndarray:
    if isinstance(t, np.ndarray):
        return t.astype(np.float64)
    if isinstance(t, torch.Tensor):
        return t.detach().double().numpy()
    return t.detach().cpu().float().numpy().astype(np.float64)


def close(e, ref, dtype, what, tol=None, floor=1e-30):
    """``e`` matches ``ref`` within ``rtol`` plus ``afrac`` times the largest reference
    magnitude (at least ``floor``: for results that are zero up to rounding)."""
    a, b = host(e), host(ref)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    rtol, afrac = tol or TOL[dtype]
    fin = b[np.isfinite(b)]
    big = float(np.abs(fin).max()) if fin.size else 1.0
    np.testing.assert_allclose(a, b, rtol=rtol, atol=afrac * max(big, floor), equal_nan=True,
                               err_msg=what)


def test_available_accepts_only_cuda_float_arrays():
    assert K.available(cp.zeros(3, dtype=cp.float32))
    assert K.available(cp.zeros(3, dtype=cp.float16))
    assert K.available(ember.zeros(3, dtype=ember.bfloat16, device="cuda")._data)
    assert not K.available(cp.zeros(3, dtype=cp.float64))
    assert not K.available(cp.zeros(0, dtype=cp.float32))
    assert not K.available(np.zeros(3, dtype=np.float32))


# ------------------------------------------------------------------------------ softmax
SOFTMAX_SHAPES = [(1, 1), (3, 1), (5, 7), (2, 3, 129), (33, 1000), (4, 1025), (7, 4097),
                  (3, 50257)]


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SOFTMAX_SHAPES, ids=str)
def test_softmax_forward_and_backward(shape, dtype, log):
    rng = np.random.default_rng(0)
    x, xt = make(shape, dtype, rng, scale=3.0)
    g, gt = make(shape, dtype, rng, grad=False)
    fn = "log_softmax" if log else "softmax"
    with spy(K.softmax, "forward") as fw, spy(K.softmax, "backward") as bw:
        y = getattr(F, fn)(x, -1)
        y.backward(g)
    assert fw and bw
    assert y.dtype is x.dtype and x.grad.dtype is x.dtype
    yt = getattr(TF, fn)(xt, -1)
    yt.backward(gt)
    close(y, yt, dtype, "forward")
    if dtype == "float32":
        close(x.grad, xt.grad, dtype, "grad vs torch")
    # The backward from the output ember saved (rounded to the dtype), by the formula in float64.
    yv, gv = host(y), host(g)
    if log:
        ref = gv - np.exp(yv) * gv.sum(-1, keepdims=True)
    else:
        ref = yv * (gv - (gv * yv).sum(-1, keepdims=True))
    close(x.grad, ref, dtype, "grad vs formula")


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_special_values(log):
    rows = np.array([[1000.0, 999.0, -1000.0, 0.0, 3.0],
                     [-np.inf, 0.0, 1.0, -np.inf, 2.0],
                     [-np.inf] * 5,
                     [0.0, np.nan, 1.0, 2.0, 3.0]], dtype=np.float32)
    for cols in (5, 2000):  # warp-per-row and block-per-row layouts
        a = np.full((4, cols), -np.inf, dtype=np.float32)
        a[:, :5] = rows
        x = ember.tensor(a, device="cuda")
        fn = "log_softmax" if log else "softmax"
        with spy(K.softmax, "forward") as fw:
            y = getattr(F, fn)(x, -1)
        assert fw
        ref = getattr(TF, fn)(torch.tensor(a, dtype=torch.float64), -1)
        np.testing.assert_allclose(host(y), host(ref), rtol=1e-6, atol=1e-7, equal_nan=True)


def test_softmax_over_another_dim_keeps_the_generic_path():
    rng = np.random.default_rng(1)
    x, xt = make((4, 6, 5), "float32", rng)
    with spy(K.softmax, "forward") as fw:
        y = F.softmax(x, 1)
    assert not fw
    close(y, TF.softmax(xt, 1), "float32", "dim=1")


# ------------------------------------------------------------------------- cross_entropy
CE_SHAPES = [(1, 1), (6, 5), (37, 1000), (16, 50257), (7,)]
CE_VARIANTS = [(0.0, False, -100), (0.1, False, -100), (0.0, True, 2), (0.2, True, -100)]


def _targets(rng, shape, ignore_index):
    c = shape[-1]
    if len(shape) == 1:
        return np.array(rng.integers(0, c))
    t = rng.integers(0, c, shape[0])
    if shape[0] > 2:
        t[1] = ignore_index if ignore_index < 0 else t[1]
        if 0 <= ignore_index < c:
            t[0] = ignore_index
    return t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", CE_VARIANTS, ids=lambda v: f"ls{v[0]}-w{int(v[1])}-ig{v[2]}")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
def test_cross_entropy_forward_and_backward(shape, reduction, variant, dtype):
    ls, weighted, ignore = variant
    rng = np.random.default_rng(2)
    x, xt = make(shape, dtype, rng, scale=2.0)
    t = _targets(rng, shape, ignore)
    kw = dict(reduction=reduction, label_smoothing=ls, ignore_index=ignore)
    w = wt = None
    if weighted:
        wa = rng.uniform(0.5, 2.0, shape[-1]).astype(np.float32)
        w = ember.tensor(wa).to(getattr(ember, dtype)).to("cuda")
        wt = torch.tensor(w.cpu().float().numpy().astype(np.float64))
    with spy(K.loss, "forward") as fw, spy(K.loss, "backward") as bw:
        loss = F.cross_entropy(x, ember.tensor(t, device="cuda"), weight=w, **kw)
        if reduction == "none":
            g, gt = make(tuple(loss.shape), dtype, rng, grad=False)
            loss.backward(g)
        else:
            loss.backward()
    assert fw and bw
    assert loss.dtype is x.dtype
    lt = TF.cross_entropy(xt, torch.tensor(t), weight=wt, **kw)
    if reduction == "none":
        lt.backward(gt)
    else:
        lt.backward()
    # One class: loss and gradient are 0 up to the rounding of terms of order 1.
    floor = 1.0 if shape[-1] == 1 else 1e-30
    close(loss, lt, dtype, "loss", floor=floor)
    close(x.grad, xt.grad, dtype, "grad", floor=floor)


def test_cross_entropy_all_ignored_mean_is_nan_and_bad_targets_raise():
    x = ember.zeros(3, 4, device="cuda", requires_grad=True)
    loss = F.cross_entropy(x, ember.tensor([-100, -100, -100], device="cuda"))
    assert np.isnan(loss.item())
    assert np.isnan(TF.cross_entropy(torch.zeros(3, 4), torch.tensor([-100] * 3)).item())
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.cross_entropy(x, ember.tensor([0, 7, 1], device="cuda"))


def test_cross_entropy_double_backward_uses_the_generic_terms():
    rng = np.random.default_rng(3)
    x, xt = make((5, 7), "float32", rng)
    t = rng.integers(0, 7, 5)
    kw = dict(label_smoothing=0.1)
    (gx,) = ember.autograd.grad(F.cross_entropy(x, ember.tensor(t, device="cuda"), **kw), [x],
                                create_graph=True)
    (gx * gx).sum().backward()
    (gxt,) = torch.autograd.grad(TF.cross_entropy(xt, torch.tensor(t), **kw), [xt],
                                 create_graph=True)
    (gxt * gxt).sum().backward()
    close(gx, gxt, "float32", "grad")
    close(x.grad, xt.grad, "float32", "grad of grad", tol=(1e-4, 1e-5))


# ---------------------------------------------------------------------------- layer_norm
LN_CASES = [((3, 1), (1,)), ((4, 5), (5,)), ((3, 768), (768,)), ((2, 3, 1000), (1000,)),
            ((5, 4099), (4099,)), ((3000, 64), (64,)), ((7, 3, 40), (3, 40))]


@pytest.mark.parametrize("affine", ["wb", "none", "w"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", LN_CASES, ids=lambda c: str(c[0]))
def test_layer_norm_forward_and_backward(case, dtype, affine):
    shape, ns = case
    rng = np.random.default_rng(4)
    x, xt = make(shape, dtype, rng, scale=2.0)
    x0 = (x.detach() + 3.0).requires_grad_(True)  # a mean far from 0
    xt0 = torch.tensor(host(x0), requires_grad=True)
    w = wt = b = bt = None
    if "w" in affine:
        w, wt = make(ns, dtype, rng)
    if "b" in affine:
        b, bt = make(ns, dtype, rng)
    g, gt = make(shape, dtype, rng, grad=False)
    with spy(K.norm, "forward") as fw, spy(K.norm, "backward_dx") as bw:
        y = F.layer_norm(x0, ns, w, b, eps=1e-5)
        y.backward(g)
    assert fw and bw
    assert y.dtype is x.dtype
    yt = TF.layer_norm(xt0, ns, wt, bt, eps=1e-5)
    yt.backward(gt)
    close(y, yt, dtype, "forward")
    # D = 1: dx and dweight are 0 up to rounding of terms of order rstd = 1 / sqrt(eps).
    close(x0.grad, xt0.grad, dtype, "dx", floor=400.0 if ns == (1,) else 1.0)
    if w is not None:
        close(w.grad, wt.grad, dtype, "dweight", floor=1.0)
    if b is not None:
        close(b.grad, bt.grad, dtype, "dbias")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_layer_norm_low_precision_input_with_float32_affine(dtype):
    rng = np.random.default_rng(5)
    x, xt = make((9, 300), dtype, rng)
    w, wt = make((300,), "float32", rng)
    b, bt = make((300,), "float32", rng)
    with spy(K.norm, "forward") as fw:
        y = F.layer_norm(x, (300,), w, b)
    assert fw and y.dtype is x.dtype
    y.sum().backward()
    yt = TF.layer_norm(xt, (300,), wt, bt)
    yt.sum().backward()
    close(y, yt, dtype, "forward")
    close(x.grad, xt.grad, dtype, "dx")
    assert w.grad.dtype is ember.float32
    close(w.grad, wt.grad, "float32", "dweight", tol=(1e-4, 1e-5))
    close(b.grad, bt.grad, "float32", "dbias", tol=(1e-5, 1e-6))


def test_group_norm_runs_through_the_layer_norm_kernel():
    rng = np.random.default_rng(6)
    x, xt = make((3, 6, 5, 7), "float32", rng)
    g, gt = make((3, 6, 5, 7), "float32", rng, grad=False)
    with spy(K.norm, "forward") as fw:
        y = F.group_norm(x, 3)
    assert fw
    y.backward(g)
    yt = TF.group_norm(xt, 3)
    yt.backward(gt)
    close(y, yt, "float32", "forward")
    close(x.grad, xt.grad, "float32", "dx", tol=(1e-4, 1e-5))


# ---------------------------------------------------------------------------------- gelu
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (1000, 37), (3, 5, 7)], ids=str)
def test_gelu_forward_and_backward(shape, dtype, approximate):
    rng = np.random.default_rng(7)
    x, xt = make(shape, dtype, rng, scale=3.0)
    g, gt = make(shape, dtype, rng, grad=False)
    with spy(K.activation, "forward") as fw, spy(K.activation, "backward") as bw:
        y = F.gelu(x, approximate=approximate)
        y.backward(g)
    assert fw and bw and y.dtype is x.dtype
    yt = TF.gelu(xt, approximate=approximate)
    yt.backward(gt)
    close(y, yt, dtype, "forward")
    close(x.grad, xt.grad, dtype, "grad")


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_double_backward(approximate):
    rng = np.random.default_rng(8)
    x, xt = make((40,), "float32", rng, scale=2.0)
    (gx,) = ember.autograd.grad((F.gelu(x, approximate=approximate) ** 2).sum(), [x],
                                create_graph=True)
    gx.sum().backward()
    (gxt,) = torch.autograd.grad((TF.gelu(xt, approximate=approximate) ** 2).sum(), [xt],
                                 create_graph=True)
    gxt.sum().backward()
    close(gx, gxt, "float32", "grad")
    close(x.grad, xt.grad, "float32", "grad of grad", tol=(1e-4, 1e-5))


# ------------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_masks_scales_and_routes_the_gradient(dtype):
    rng = np.random.default_rng(9)
    p = 0.3
    x, _ = make((1000, 1001), dtype, rng)
    with spy(K.dropout, "forward") as fw, spy(K.dropout, "backward") as bw:
        y = F.dropout(x, p=p)
        y.backward(ember.ones_like(y))
    assert fw and bw and y.dtype is x.dtype
    xv, yv, gv = host(x), host(y), host(x.grad)
    assert (xv != 0).all()  # so that the zeros of y are exactly the dropped elements
    kept = yv != 0
    assert abs(kept.mean() - (1 - p)) < 5e-3
    scale = np.float32(1.0 / (1.0 - p))
    # Kept values are the float32 product x * scale rounded once to the dtype.
    expect = host(ember.tensor(xv.astype(np.float32) * scale).to(getattr(ember, dtype)))
    np.testing.assert_array_equal(yv[kept], expect[kept])
    # The gradient goes through the same mask: scale where kept, 0 where dropped.
    g_expect = host(ember.tensor(np.array([scale])).to(getattr(ember, dtype)))[0]
    np.testing.assert_array_equal(gv, np.where(kept, g_expect, 0.0))


def test_dropout_is_reproducible_after_manual_seed_and_fresh_per_call():
    x = ember.ones(500, 300, device="cuda")
    ember.manual_seed(123)
    a = host(F.dropout(x, 0.5))
    b = host(F.dropout(x, 0.5))
    ember.manual_seed(123)
    a2 = host(F.dropout(x, 0.5))
    np.testing.assert_array_equal(a, a2)
    agree = ((a != 0) == (b != 0)).mean()
    assert abs(agree - 0.5) < 0.01  # independent masks agree half of the time at p = 0.5
    ember.manual_seed(124)
    assert ((host(F.dropout(x, 0.5)) != 0) != (a != 0)).any()


def test_dropout_double_backward_materialises_the_mask():
    x = ember.ones(64, 33, device="cuda", requires_grad=True)
    y = F.dropout(x, 0.25)
    (gx,) = ember.autograd.grad((y * y).sum(), [x], create_graph=True)
    kept = host(y) != 0
    s = 1 / 0.75
    np.testing.assert_allclose(host(gx), np.where(kept, 2 * s * s, 0.0), rtol=1e-6)


# ----------------------------------------------------------------------------- embedding
EMB_CASES = [(50, 33, (7, 9), None), (50, 33, (7, 9), 3), (10, 1, (20,), 0),
             (300, 1000, (4, 64), 299), (5, 16, (4096,), None)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", EMB_CASES, ids=lambda c: f"{c[0]}x{c[1]}-pad{c[3]}")
def test_embedding_backward(case, dtype):
    n, d, ishape, pad = case
    rng = np.random.default_rng(10)
    idx = rng.integers(0, n, ishape)
    if pad is not None:
        idx.flat[0] = pad
    w, wt = make((n, d), dtype, rng)
    g, gt = make(ishape + (d,), dtype, rng, grad=False)
    with spy(K.embedding, "backward") as bw:
        out = F.embedding(ember.tensor(idx, device="cuda"), w, padding_idx=pad)
        out.backward(g)
    assert bw
    ot = TF.embedding(torch.tensor(idx), wt, padding_idx=pad)
    ot.backward(gt)
    close(out, ot, dtype, "forward", tol=(0, 0))
    assert w.grad.dtype is w.dtype
    close(w.grad, wt.grad, dtype, "dweight")
    if pad is not None:
        assert (host(w.grad)[pad] == 0).all()


# ------------------------------------------------------------------------ CUDA-graph capture
def _torch_softmax_grads(xv, gv):
    xt = torch.tensor(xv.astype(np.float64), requires_grad=True)
    yt = TF.softmax(xt, -1)
    yt.backward(torch.tensor(gv.astype(np.float64)))
    return yt, xt.grad


def test_softmax_forward_backward_captured_in_a_cuda_graph():
    rng = np.random.default_rng(11)
    shape = (37, 1500)
    x = ember.tensor(rng.standard_normal(shape).astype(np.float32), device="cuda",
                     requires_grad=True)
    g = ember.tensor(rng.standard_normal(shape).astype(np.float32), device="cuda")
    y = F.softmax(x, -1)  # compile the kernels and warm the pool outside the capture
    ember.autograd.grad([y], [x], [g])
    graph = ember.cuda.CUDAGraph()
    with spy(K.softmax, "forward") as fw, spy(K.softmax, "backward") as bw:
        with ember.cuda.graph(graph):
            y = F.softmax(x, -1)
            (gx,) = ember.autograd.grad([y], [x], [g])
    assert fw and bw
    for k in range(3):
        xv = rng.standard_normal(shape).astype(np.float32) * (k + 1)
        gv = rng.standard_normal(shape).astype(np.float32)
        with ember.no_grad():
            x.copy_(ember.tensor(xv, device="cuda"))
            g.copy_(ember.tensor(gv, device="cuda"))
        graph.replay()
        ember.cuda.synchronize()
        yt, gxt = _torch_softmax_grads(xv, gv)
        close(y, yt, "float32", f"replay {k} forward")
        close(gx, gxt, "float32", f"replay {k} grad")


def test_small_lm_step_captured_in_a_cuda_graph():
    """embedding -> layer_norm -> gelu -> linear -> cross_entropy (ignore_index, smoothing),
    forward and backward captured once and replayed on new data."""
    rng = np.random.default_rng(12)
    V, D, B, L = 97, 64, 6, 13
    params = [rng.standard_normal((V, D)).astype(np.float32),
              1 + 0.1 * rng.standard_normal(D).astype(np.float32),
              0.1 * rng.standard_normal(D).astype(np.float32),
              0.2 * rng.standard_normal((V, D)).astype(np.float32)]
    ep = [ember.tensor(p, device="cuda", requires_grad=True) for p in params]
    idx = ember.tensor(rng.integers(0, V, (B, L)), device="cuda")
    tgt = ember.tensor(rng.integers(0, V, B * L), device="cuda")

    def step(lib, ps, i, t):
        f = lib.nn.functional
        h = f.embedding(i, ps[0], padding_idx=1)
        h = f.gelu(f.layer_norm(h, (D,), ps[1], ps[2]), approximate="tanh")
        logits = f.linear(h.reshape(-1, D), ps[3])
        loss = f.cross_entropy(logits, t, ignore_index=0, label_smoothing=0.1)
        return loss

    loss = step(ember, ep, idx, tgt)  # warm-up
    ember.autograd.grad([loss], ep)
    graph = ember.cuda.CUDAGraph()
    with ember.cuda.graph(graph):
        loss = step(ember, ep, idx, tgt)
        grads = ember.autograd.grad([loss], ep)
    for k in range(2):
        iv = rng.integers(0, V, (B, L))
        tv = rng.integers(0, V, B * L)
        tv[:5] = 0  # ignored
        idx.copy_(ember.tensor(iv, device="cuda"))
        tgt.copy_(ember.tensor(tv, device="cuda"))
        graph.replay()
        ember.cuda.synchronize()
        tp = [torch.tensor(p.astype(np.float64), requires_grad=True) for p in params]
        lt = step(torch, tp, torch.tensor(iv), torch.tensor(tv))
        gts = torch.autograd.grad(lt, tp)
        close(loss, lt, "float32", f"replay {k} loss", tol=(1e-5, 1e-6))
        for j, (a, b) in enumerate(zip(grads, gts)):
            close(a, b, "float32", f"replay {k} grad {j}", tol=(1e-4, 1e-5))


def test_dropout_draws_a_new_mask_on_every_graph_replay():
    x = ember.ones(400, 250, device="cuda", requires_grad=True)
    y = F.dropout(x, 0.5)  # warm-up: compiles and creates the generator state
    ember.autograd.grad([y.sum()], [x])
    graph = ember.cuda.CUDAGraph()
    with ember.cuda.graph(graph):
        y = F.dropout(x, 0.5)
        (gx,) = ember.autograd.grad([y.sum()], [x])
    masks = []
    for _ in range(3):
        graph.replay()
        ember.cuda.synchronize()
        yv, gv = host(y), host(gx)
        np.testing.assert_array_equal(yv, gv)  # x = 1: output and gradient are both the mask
        assert abs((yv != 0).mean() - 0.5) < 0.01
        masks.append(yv != 0)
    assert (masks[0] != masks[1]).any() and (masks[1] != masks[2]).any()
