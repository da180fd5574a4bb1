"""The CUDA device model on CuPy. Skips cleanly where CuPy or a GPU is absent (CI)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember

cuda = pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a CUDA device")


def test_is_available_without_cupy_is_a_bool():
    assert isinstance(ember.cuda.is_available(), bool)
    assert isinstance(ember.cuda.device_count(), int)


@cuda
def test_to_cuda_and_back_keeps_values_and_dtype():
    for dt in (ember.float32, ember.float64, ember.float16, ember.bfloat16, ember.int64,
               ember.bool):
        x = ember.arange(12).reshape(3, 4).to(dt)
        y = x.to("cuda")
        assert y.device == ember.device("cuda:0") and y.is_cuda and y.dtype is dt
        assert "device='cuda:0'" in repr(y)
        np.testing.assert_array_equal(y.cpu().float().numpy(), x.float().numpy())


@cuda
def test_mixing_devices_raises_torch_error():
    a = ember.ones(3, device="cuda")
    b = ember.ones(3)
    with pytest.raises(RuntimeError, match="same device"):
        a + b
    with pytest.raises(TypeError):
        a.numpy()


@cuda
def test_gradients_flow_across_device_copies():
    x = ember.randn(4, 3, requires_grad=True)
    w = ember.randn(3, 2, device="cuda", requires_grad=True)
    y = (x.cuda() @ w).tanh().sum()
    y.backward()
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    wt = torch.tensor(w.detach().cpu().numpy(), requires_grad=True)
    (xt @ wt).tanh().sum().backward()
    assert x.grad.device == ember.device("cpu") and w.grad.is_cuda
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.grad.cpu().numpy(), wt.grad.numpy(), rtol=1e-5, atol=1e-6)


@cuda
def test_mlp_training_on_cuda_matches_cpu():
    nn = ember.nn

    def run(device):
        ember.manual_seed(0)
        model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5)).to(device)
        opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        rng = np.random.default_rng(0)
        x = ember.tensor(rng.standard_normal((16, 20)).astype(np.float32), device=device)
        y = ember.tensor(rng.integers(0, 5, 16), device=device)
        losses = []
        for _ in range(10):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p.detach().cpu().numpy() for p in model.parameters()]
    lc, pc = run("cpu")
    lg, pg = run("cuda")
    np.testing.assert_allclose(lg, lc, rtol=1e-4)
    for a, b in zip(pg, pc):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@cuda
def test_cnn_forward_backward_on_cuda_matches_cpu():
    nn = ember.nn
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    x = ember.randn(4, 3, 8, 8)
    out_c = model(x)
    out_c.sum().backward()
    grads_c = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    model.to("cuda")
    out_g = model(x.cuda())
    out_g.sum().backward()
    np.testing.assert_allclose(out_g.detach().cpu().numpy(), out_c.detach().numpy(), rtol=1e-4,
                               atol=1e-5)
    for p, g in zip(model.parameters(), grads_c):
        np.testing.assert_allclose(p.grad.cpu().numpy(), g, rtol=1e-3, atol=1e-4)


@cuda
def test_cuda_memory_and_sync_api():
    ember.cuda.synchronize()
    before = ember.cuda.memory_allocated()
    x = ember.empty(1024, 1024, device="cuda")
    assert ember.cuda.memory_allocated() >= before + x.numel() * 4 - 1
    assert ember.cuda.max_memory_allocated() >= ember.cuda.memory_allocated()
    del x
    ember.cuda.empty_cache()
    start = ember.cuda.Event(enable_timing=True)
    end = ember.cuda.Event(enable_timing=True)
    start.record()
    ember.randn(256, 256, device="cuda") @ ember.randn(256, 256, device="cuda")
    end.record()
    end.synchronize()
    assert start.elapsed_time(end) >= 0
    assert ember.cuda.get_device_name(0)


@cuda
def test_batched_float16_matmul_accumulates_in_float32():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 2, 5, 64)).astype(np.float16)
    b = rng.standard_normal((2, 64, 7)).astype(np.float16)
    ea = ember.tensor(a, device="cuda", requires_grad=True)
    eb = ember.tensor(b, device="cuda", requires_grad=True)
    out = ea @ eb
    assert out.dtype is ember.float16 and tuple(out.shape) == (3, 2, 5, 7)
    want = a.astype(np.float32) @ b.astype(np.float32)
    np.testing.assert_allclose(out.detach().float().cpu().numpy(), want, rtol=2e-2, atol=5e-2)
    out.float().sum().backward()
    np.testing.assert_allclose(eb.grad.float().cpu().numpy(),
                               np.broadcast_to(a.astype(np.float32).sum(2).sum(0)[..., None],
                                               b.shape), rtol=2e-2, atol=1e-1)
