"""``torch.distributed.nn``: collectives that autograd can differentiate through."""
from __future__ import annotations

from .functional import all_gather, all_reduce, broadcast  # noqa: F401
