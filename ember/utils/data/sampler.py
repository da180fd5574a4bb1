"""Samplers: the index streams a DataLoader draws from."""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

from ...random import Generator, default_generator


def _fresh_generator(generator: Generator | None) -> Generator:
    # torch seeds a private generator from the global one for each pass when none is given, so
    # manual_seed() makes shuffling repeatable while each epoch still differs.
    if generator is not None:
        return generator
    seed = int(default_generator.rng.integers(0, 2 ** 63 - 1))
    return Generator().manual_seed(seed)


class Sampler:
    """Base class of samplers: ``__iter__`` yields indices (or lists of them).

    Args:
        data_source: accepted for compatibility with torch and ignored.

    Shape:
        ``__len__`` (when defined) is the number of items yielded per pass.

    Example:
        >>> class Evens(Sampler):
        ...     def __iter__(self): return iter(range(0, 10, 2))
    """

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self) -> Iterator:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Yields ``0 .. len(data_source) - 1`` in order.

    Args:
        data_source: a sized dataset.

    Shape:
        ``len(sampler) == len(data_source)``.

    Example:
        >>> list(SequentialSampler(range(3)))
        [0, 1, 2]
    """

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Yields indices in random order, optionally with replacement.

    Args:
        data_source: a sized dataset.
        replacement: draw with replacement (then ``num_samples`` may exceed the length).
        num_samples: how many indices per pass (default ``len(data_source)``).
        generator: the random generator (default: a fresh one seeded from the global one).

    Shape:
        ``len(sampler) == num_samples``.

    Example:
        >>> sorted(RandomSampler(range(4))) == [0, 1, 2, 3]
        True
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError("replacement should be a boolean value, but got replacement="
                            f"{self.replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        rng = _fresh_generator(self.generator).rng
        if self.replacement:
            # Chunks of 32 like torch, so a consumer that stops early costs little.
            left = self.num_samples
            while left > 0:
                chunk = min(32, left)
                yield from rng.integers(0, n, size=chunk).tolist()
                left -= chunk
            return
        for _ in range(self.num_samples // n):
            yield from rng.permutation(n).tolist()
        rest = self.num_samples % n
        if rest:
            yield from rng.permutation(n)[:rest].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """Yields the given indices in a random order, without replacement.

    Args:
        indices: the indices to permute.
        generator: the random generator.

    Shape:
        ``len(sampler) == len(indices)``.

    Example:
        >>> sorted(SubsetRandomSampler([5, 7, 9]))
        [5, 7, 9]
    """

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rng = (self.generator or default_generator).rng
        for i in rng.permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Yields indices ``0 .. len(weights) - 1`` drawn with the given (unnormalised) weights.

    Args:
        weights: a 1-D sequence of non-negative weights.
        num_samples: how many indices per pass.
        replacement: draw with replacement (without it, ``num_samples <= len(weights)``).
        generator: the random generator.

    Shape:
        ``len(sampler) == num_samples``.

    Example:
        >>> list(WeightedRandomSampler([0.0, 1.0], 3))
        [1, 1, 1]
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Generator | None = None) -> None:
        if (not isinstance(num_samples, int) or isinstance(num_samples, bool)
                or num_samples <= 0):
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got replacement="
                             f"{replacement}")
        w = np.asarray(weights.tolist() if hasattr(weights, "tolist") else weights,
                       dtype=np.float64)
        if w.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        from ...creation import tensor
        self.weights = tensor(w)
        self._w = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        w = self._w
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not self.replacement and self.num_samples > int((w > 0).sum()):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        rng = (self.generator or default_generator).rng
        p = w / w.sum()
        idx = rng.choice(len(w), size=self.num_samples, replace=self.replacement, p=p)
        yield from idx.tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of another sampler into lists of ``batch_size``.

    Args:
        sampler: any iterable of indices.
        batch_size: the size of each batch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.

    Shape:
        ``len`` is ``n // batch_size`` with ``drop_last``, else ``ceil(n / batch_size)``.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                or batch_size <= 0):
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError("drop_last should be a boolean value, but got drop_last="
                             f"{drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list]:
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size
