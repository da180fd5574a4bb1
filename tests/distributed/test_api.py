"""ember.distributed API pieces that need no peers: stores, sampler, argument errors."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import torch.utils.data.distributed as torch_dist_data

import ember.distributed as dist
from dist_helpers import ROOT
from ember.utils.data.distributed import DistributedSampler


def test_tcp_store_across_clients():
    server = dist.TCPStore("127.0.0.1", 0, 2, is_master=True, timeout=timedelta(seconds=5))
    client = dist.TCPStore("127.0.0.1", server.port, 2, timeout=timedelta(seconds=5))
    server.set("key", "value")
    assert client.get("key") == b"value"
    assert client.add("n", 2) == 2 and server.add("n", 3) == 5
    assert client.check(["key", "n"]) and not client.check(["missing"])
    assert server.num_keys() == 2
    threading.Timer(0.2, lambda: server.set("late", b"\x00\x01")).start()
    assert client.get("late") == b"\x00\x01"  # get waits for the key
    assert client.compare_set("late", b"\x00\x01", "new") == b"new"
    assert client.delete_key("late") and not client.delete_key("late")
    t0 = time.monotonic()
    with pytest.raises(dist.DistStoreError, match="Timeout waiting for keys"):
        client.wait(["never"], timedelta(seconds=0.3))
    assert time.monotonic() - t0 < 3
    client.close()
    server.close()


def test_tcp_store_unreachable_names_the_address():
    with pytest.raises(dist.DistNetworkError, match="could not reach the store at 127.0.0.1"):
        dist.TCPStore("127.0.0.1", 1, 2, timeout=timedelta(seconds=0.3))


def test_hash_store():
    s = dist.HashStore()
    s.set("a", "1")
    assert s.get("a") == b"1" and s.add("a", 4) == 5 and s.check(["a"])
    s.set_timeout(timedelta(seconds=0.1))
    with pytest.raises(dist.DistStoreError):
        s.get("b")


@pytest.mark.parametrize("n", [1, 7, 10, 11])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_partitions_like_torch(n, world, drop_last):
    for rank in range(world):
        ours = DistributedSampler(range(n), world, rank, shuffle=False, drop_last=drop_last)
        theirs = torch_dist_data.DistributedSampler(range(n), world, rank, shuffle=False,
                                                    drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_sampler_shuffle_seed_and_epoch():
    def epoch_indices(epoch, seed=0):
        out = []
        for rank in range(3):
            s = DistributedSampler(range(12), 3, rank, seed=seed)
            s.set_epoch(epoch)
            out.append(list(s))
        return out
    e0 = epoch_indices(0)
    assert sorted(sum(e0, [])) == list(range(12))  # disjoint shares covering the dataset
    assert e0 == epoch_indices(0)                  # same seed and epoch: same order
    assert e0 != epoch_indices(1) and e0 != epoch_indices(0, seed=5)
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval"):
        DistributedSampler(range(4), 3, 3)


def test_errors_without_a_process_group():
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(__import__("ember").ones(2))
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("carrier-pigeon")
    assert dist.Backend("GLOO") == "gloo" and dist.Backend.NCCL == "nccl"
    assert dist.ReduceOp.SUM == dist.ReduceOp.RedOpType.SUM
    env = {k: v for k, v in os.environ.items() if k not in ("MASTER_ADDR", "RANK")}
    code = ("import ember.distributed as d\n"
            "try:\n d.init_process_group('gloo', world_size=2, rank=0)\n"
            "except ValueError as e: print(e)")
    out = subprocess.run([sys.executable, "-c", code], env=dict(env, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, timeout=30).stdout
    assert "environment variable MASTER_ADDR expected, but not set" in out


def test_world_size_one_ddp_and_errors():
    # In a subprocess: MPI is initialised there, not in the test process.
    code = r"""
import ember, ember.nn as nn, ember.distributed as dist
from ember.nn.parallel import DistributedDataParallel as DDP
dist.init_process_group("gloo", init_method="tcp://127.0.0.1:0?rank=0&world_size=1")
try:
    dist.init_process_group("gloo", world_size=1, rank=0)
except ValueError as e:
    assert "twice" in str(e)
t = ember.tensor([1.0, 2.0]); dist.all_reduce(t, op=dist.ReduceOp.AVG); assert t.tolist() == [1, 2]
ember.manual_seed(0); m = nn.Linear(3, 2); ddp = DDP(m)
ember.manual_seed(0); ref = nn.Linear(3, 2)
x = ember.randn(4, 3)
ddp(x).sum().backward(); ref(x).sum().backward()
assert (m.weight.grad - ref.weight.grad).abs().max().item() == 0
try:
    DDP(nn.ReLU())
except RuntimeError as e:
    assert "doesn't have any parameter" in str(e)
dist.destroy_process_group()
print("ok")
"""
    res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "ok", res.stderr[-3000:]


def test_import_is_lazy():
    code = ("import sys, ember; assert 'ember.distributed' not in sys.modules; "
            "import ember.distributed; assert 'mpi4py.MPI' not in sys.modules; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, timeout=30)
    assert res.stdout.strip() == "ok", res.stderr
