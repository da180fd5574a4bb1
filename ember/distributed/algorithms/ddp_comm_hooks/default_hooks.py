"""The built-in DDP communication hooks: plain all-reduce (average) and fp16 compression."""
from __future__ import annotations

from typing import Any

import numpy as np

from ....tensor import Tensor
from ... import distributed_c10d as c10d


def allreduce_hook(process_group: Any, bucket) -> c10d.Future:
    """Average the bucket over the group (what DDP does without a hook)."""
    group = process_group if process_group is not None else c10d.group.WORLD
    buf = bucket.buffer()
    buf._data /= c10d.get_world_size(group)
    return c10d.all_reduce(buf, group=group, async_op=True).get_future().then(
        lambda fut: fut.value()[0])


def fp16_compress_hook(process_group: Any, bucket) -> c10d.Future:
    """Average the bucket in float16 (half the bytes on the wire), then cast back."""
    group = process_group if process_group is not None else c10d.group.WORLD
    buf = bucket.buffer()
    half = Tensor._from_array((buf._data / c10d.get_world_size(group)).astype(np.float16))
    work = c10d.all_reduce(half, group=group, async_op=True)

    def back(fut):
        buf._data[...] = half._data.astype(buf._data.dtype)
        return buf
    return work.get_future().then(back)
