"""Rank script: no_sync accumulation and find_unused_parameters; saves the gradients."""
import os
import sys

import numpy as np

import ember.distributed as dist
from ember.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import models  # noqa: E402

out_dir = sys.argv[1]
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
saved = {}

# no_sync: the first micro-batch accumulates locally, the second backward averages the sum.
model = models.build("mlp")
ddp = DDP(model)
x, y = models.batch("mlp", 0)
x2, y2 = models.batch("mlp", 1)
with ddp.no_sync():
    models.loss_fn(ddp(models.shard(x, rank, world)), models.shard(y, rank, world)).backward()
local = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
models.loss_fn(ddp(models.shard(x2, rank, world)), models.shard(y2, rank, world)).backward()
for n, p in model.named_parameters():
    saved["nosync_local." + n] = local[n]
    saved["nosync." + n] = p.grad.numpy().copy()

# find_unused_parameters: branch b is used on rank 1 only, branch c nowhere.
model = models.build("branches")
ddp = DDP(model, find_unused_parameters=True)
for it in range(2):  # twice: the second forward must not complain about the first
    model.zero_grad()
    out = ddp(models.shard(x, rank, world), use_b=(rank == 1))
    models.loss_fn(out, models.shard(y, rank, world)).backward()
for n, p in model.named_parameters():
    saved["unused." + n] = p.grad.numpy().copy() if p.grad is not None else np.array([])

# Without find_unused_parameters an unused parameter is reported at the next forward.
model = models.build("branches")
ddp = DDP(model)
models.loss_fn(ddp(models.shard(x, rank, world), use_b=False),
               models.shard(y, rank, world)).backward()
try:
    ddp(models.shard(x, rank, world), use_b=False)
    saved["unused_error"] = np.array("no error")
except RuntimeError as e:
    saved["unused_error"] = np.array(str(e))
np.savez(os.path.join(out_dir, f"rank{rank}.npz"), **saved)
