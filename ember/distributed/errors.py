"""The exception types of ``torch.distributed`` (all RuntimeErrors, as in torch)."""
from __future__ import annotations

__all__ = ["DistError", "DistBackendError", "DistNetworkError", "DistStoreError"]


class DistError(RuntimeError):
    """Base class of the errors raised by ember.distributed."""


class DistBackendError(DistError):
    """A collective failed or timed out in the communication backend (MPI, NCCL)."""


class DistNetworkError(DistError):
    """The rendezvous network could not be reached or was lost."""


class DistStoreError(DistError):
    """A key-value store operation failed or timed out."""
