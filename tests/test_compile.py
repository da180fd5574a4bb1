"""ember.compile: eager on the CPU; CUDA-graph capture and replay on a GPU (skips without one)."""
from __future__ import annotations

import numpy as np
import pytest

import ember

cuda = pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a CUDA device")


def _mlp_step(device):
    nn = ember.nn
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    opt = ember.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, step


def _batches(device, n=8):
    rng = np.random.default_rng(0)
    return [(ember.tensor(rng.standard_normal((64, 784)).astype(np.float32), device=device),
             ember.tensor(rng.integers(0, 10, 64), device=device)) for _ in range(n)]


def test_compile_on_cpu_is_eager_and_equal():
    m1, s1 = _mlp_step("cpu")
    m2, s2 = _mlp_step("cpu")
    c2 = ember.compile(s2)
    for x, y in _batches("cpu", 5):
        assert s1(x, y).item() == c2(x, y).item()
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@cuda
def test_compiled_training_step_replays_the_eager_trajectory():
    m1, s1 = _mlp_step("cuda")
    m2, s2 = _mlp_step("cuda")
    c2 = ember.compile(s2, warmup=2)
    for x, y in _batches("cuda"):
        l1 = s1(x, y).item()
        l2 = c2(x, y).item()
        np.testing.assert_allclose(l2, l1, rtol=1e-5)
    entry = next(iter(c2.entries.values()))
    assert entry.graph is not None  # the later calls were replays
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_allclose(b.detach().cpu().numpy(), a.detach().cpu().numpy(),
                                   rtol=1e-5, atol=1e-6)


@cuda
def test_manual_cuda_graph_capture_and_replay():
    x = ember.zeros(1000, device="cuda")
    w = ember.randn(1000, device="cuda")
    g = ember.cuda.CUDAGraph()
    y = (x * 0 + 1)  # warm the memory pool outside the capture
    with ember.cuda.graph(g):
        y = (x * w).tanh() + 1
    for k in range(3):
        x.copy_(ember.full((1000,), float(k), device="cuda"))
        g.replay()
        np.testing.assert_allclose(y.cpu().numpy(), np.tanh(k * w.cpu().numpy()) + 1,
                                   rtol=1e-5, atol=1e-6)


@cuda
def test_new_shape_gets_its_own_capture_and_grad_outputs_stay_eager():
    f = ember.compile(lambda a: (a * 2).sum(), warmup=1)
    for n in (4, 4, 4, 7, 7, 7):
        a = ember.arange(n, dtype=ember.float32, device="cuda")
        assert f(a).item() == pytest.approx(n * (n - 1))
    assert len(f.entries) == 2
    w = ember.ones(3, device="cuda", requires_grad=True)
    h = ember.compile(lambda a: (a * w).sum(), warmup=1)
    for _ in range(3):
        out = h(ember.ones(3, device="cuda"))
        out.backward()
    assert w.grad.cpu().tolist() == [3.0, 3.0, 3.0]


@cuda
def test_matmuls_inside_a_capture_are_right():
    rng = np.random.default_rng(1)
    a = ember.tensor(rng.standard_normal((5, 7)).astype(np.float32), device="cuda")
    b = ember.tensor(rng.standard_normal((3, 7)).astype(np.float32), device="cuda")
    c = ember.tensor(rng.standard_normal((2, 7, 4)).astype(np.float64), device="cuda")
    (a @ b.T).sum()  # warm up kernels and pool outside the capture
    g = ember.cuda.CUDAGraph()
    with ember.cuda.graph(g):
        y1 = a @ b.T
        y2 = a.T.contiguous().T @ b.T.contiguous()
        y3 = c.transpose(1, 2) @ c
    g.replay()
    an, bn, cn = a.cpu().numpy(), b.cpu().numpy(), c.cpu().numpy()
    np.testing.assert_allclose(y1.cpu().numpy(), an @ bn.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y2.cpu().numpy(), an @ bn.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y3.cpu().numpy(), cn.transpose(0, 2, 1) @ cn, rtol=1e-10)
