"""The NCCL backend with world size 1 on one GPU (skips without CuPy and a CUDA device)."""
from __future__ import annotations

import socket

import numpy as np
import pytest

import ember
import ember.distributed as dist

pytestmark = pytest.mark.skipif(not ember.cuda.is_available(), reason="needs a CUDA device")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nccl_world_size_one_collectives_and_ddp(monkeypatch):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("NCCL_NVLS_ENABLE", "0")
    dist.init_process_group("nccl")
    try:
        assert dist.get_backend() == "nccl" and dist.get_world_size() == 1
        t = ember.arange(6, dtype=ember.float32, device="cuda")
        dist.all_reduce(t)
        np.testing.assert_array_equal(t.cpu().numpy(), np.arange(6, dtype=np.float32))
        dist.broadcast(t, 0)
        nn = ember.nn

        def build():
            ember.manual_seed(0)
            return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).to("cuda")
        plain = build()
        ddp = nn.parallel.DistributedDataParallel(build())
        opt_p = ember.optim.SGD(plain.parameters(), lr=0.1)
        opt_d = ember.optim.SGD(ddp.parameters(), lr=0.1)
        x = ember.randn(5, 8, device="cuda")
        y = ember.randint(0, 3, (5,), device="cuda")
        for _ in range(3):
            for model, opt in ((plain, opt_p), (ddp, opt_d)):
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        for a, b in zip(plain.parameters(), ddp.module.parameters()):
            np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(),
                                       rtol=1e-6, atol=1e-7)
    finally:
        dist.destroy_process_group()
