"""Rank script for mpiexec: ranks and world size come from MPI (no RANK/MASTER_* set)."""
import sys

import ember
import ember.distributed as dist

dist.init_process_group("mpi")
t = ember.tensor([float(dist.get_rank())])
dist.all_reduce(t)
with open(f"{sys.argv[1]}/rank{dist.get_rank()}.txt", "w") as f:
    f.write(f"{dist.get_world_size()} {t.item()}")
