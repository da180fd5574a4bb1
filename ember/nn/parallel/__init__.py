"""``torch.nn.parallel``: DistributedDataParallel, DataParallel (and SyncBatchNorm's home)."""
from __future__ import annotations

from ._sync_batchnorm import SyncBatchNorm
from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "SyncBatchNorm", "data_parallel"]
