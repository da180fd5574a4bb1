"""DistributedSampler: each rank reads its own share of a dataset (torch's partitioning)."""
from __future__ import annotations

import math
from typing import Iterator, Optional

from .sampler import Sampler


class DistributedSampler(Sampler):
    """Restricts data loading to this rank's subset of the dataset.

    The index list (shuffled with seed ``seed + epoch`` when ``shuffle``) is padded by
    repeating its head to a multiple of ``num_replicas`` (or, with ``drop_last``, cut to one),
    and rank ``r`` takes every ``num_replicas``-th index starting at ``r``, as in torch. The
    shuffled order comes from ember's generator, so it differs from torch's for the same seed.

    Args:
        dataset: a dataset with ``len``.
        num_replicas: number of ranks (default: the world size).
        rank: this rank (default: the current rank).
        shuffle: shuffle the indices. Default True.
        seed: the shuffle seed, which must be the same on every rank. Default 0.
        drop_last: drop the tail instead of padding. Default False.

    Example::

        >>> sampler = DistributedSampler(dataset)
        >>> loader = DataLoader(dataset, batch_size=32, sampler=sampler)
        >>> for epoch in range(3):
        ...     sampler.set_epoch(epoch)
    """

    def __init__(self, dataset, num_replicas: Optional[int] = None, rank: Optional[int] = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_available() or not dist.is_initialized():
                raise RuntimeError("Requires distributed package to be available")
            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            # Every rank gets the same number of samples, without repeating any.
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        import ember
        n = len(self.dataset)
        if self.shuffle:
            g = ember.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = ember.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        assert len(indices) == self.total_size
        indices = indices[self.rank:self.total_size:self.num_replicas]
        assert len(indices) == self.num_samples
        return iter(indices)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use a different shuffle for each epoch (call before each epoch's iterator)."""
        self.epoch = epoch
