"""ember.distributed: torch.distributed's API on MPI (CPU, through mpi4py) and NCCL (GPU, CuPy).

``"gloo"``, torch's CPU backend name, runs on MPI. Launch ranks with
``python -m ember.distributed.run --nproc-per-node N script.py`` (or ``ember torchrun``), with
MPI's own ``mpiexec -n N python script.py``, or start the processes yourself with RANK,
WORLD_SIZE, MASTER_ADDR and MASTER_PORT set.
"""
from __future__ import annotations

from ._store import HashStore, Store, TCPStore
from .distributed_c10d import *  # noqa: F401,F403
from .distributed_c10d import (Backend, Future, GroupMember, P2POp, ProcessGroup, ReduceOp,
                               Work, group)
from .errors import DistBackendError, DistError, DistNetworkError, DistStoreError

__all__ = ["HashStore", "Store", "TCPStore", "Backend", "Future", "GroupMember", "P2POp",
           "ProcessGroup", "ReduceOp", "Work", "group", "DistBackendError", "DistError",
           "DistNetworkError", "DistStoreError"]
__all__ += [n for n in __import__(__name__ + ".distributed_c10d",
                                  fromlist=["__all__"]).__all__ if n not in __all__]
