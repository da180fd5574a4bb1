"""Rank script: DDP training (mlp, or cnn with SyncBatchNorm); saves the final state."""
import os
import sys

import numpy as np

import ember
import ember.distributed as dist
import ember.nn as nn
from ember.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import models  # noqa: E402

kind, out_dir = sys.argv[1], sys.argv[2]
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
model = models.build(kind)
if rank == 1:
    # A different local init: DDP must broadcast rank 0's parameters and buffers.
    with ember.no_grad():
        for p in model.parameters():
            p.add_(1.0)
if kind == "cnn":
    model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
# Tiny buckets so that the gradients travel in several asynchronous all-reduces.
ddp = DDP(model, bucket_cap_mb=0.0005)
assert len(ddp._buckets) > 1
opt = models.optimizer(ddp.parameters())
for step in range(models.STEPS):
    x, y = models.batch(kind, step)
    loss = models.loss_fn(ddp(models.shard(x, rank, world)), models.shard(y, rank, world))
    opt.zero_grad()
    loss.backward()
    opt.step()
np.savez(os.path.join(out_dir, f"rank{rank}.npz"), **models.state_arrays(model))
dist.destroy_process_group()
