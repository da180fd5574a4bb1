"""DataLoader: batches from a dataset, in the main process or in worker processes."""
from __future__ import annotations

import multiprocessing
import pickle
import queue
import time
from typing import Any, Callable, Iterable

from ...random import Generator, default_generator
from . import _worker
from ._collate import default_collate, default_convert
from ._worker import _RESET, ExceptionWrapper, _Exhausted, _Fetcher, get_worker_info
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info"]

# How often the parent, while waiting for a batch, checks that its workers are still alive.
_STATUS_CHECK_S = 0.1


class _InfiniteConstantSampler(Sampler):
    """The sampler an IterableDataset gets: it only counts, the dataset picks the samples."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Iterates over a dataset in batches, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a map-style ``Dataset`` (``__getitem__``/``__len__``) or an ``IterableDataset``.
        batch_size: samples per batch; ``None`` turns automatic batching off.
        shuffle: reshuffle the indices every epoch (map-style only).
        sampler: an iterable of indices (excludes ``shuffle``).
        batch_sampler: an iterable of index lists (excludes batch_size/shuffle/sampler/
            drop_last).
        num_workers: worker processes that load batches; 0 loads in the main process.
        collate_fn: merges a list of samples into a batch (default ``default_collate``).
        pin_memory: accepted for compatibility; host memory is not pinned on the CPU backend.
        drop_last: drop the last incomplete batch.
        timeout: seconds to wait for a batch from the workers before raising (0: forever).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: a ``multiprocessing`` context or its name ("fork", "spawn").
        generator: random generator for shuffling and the workers' base seed.
        prefetch_factor: batches loaded ahead per worker (default 2 when ``num_workers > 0``).
        persistent_workers: keep the worker processes alive between epochs.
        pin_memory_device: accepted for compatibility.
        in_order: yield batches in sampler order (``False`` yields them as they arrive).

    Shape:
        Each batch is ``collate_fn`` of ``batch_size`` samples; tensors gain a leading batch
        dimension. ``len(loader)`` is the number of batches.

    Example:
        >>> ds = TensorDataset(ember.randn(100, 3), ember.arange(100))
        >>> for x, y in DataLoader(ds, batch_size=32, shuffle=True):
        ...     pass
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context=None,
                 generator: Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 "
                             "to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.generator = generator

        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            if shuffle not in (None, False):
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator = None

    # ------------------------------------------------------------------ iteration
    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _make_fetcher(self) -> _Fetcher:
        return _Fetcher(self.dataset, self._auto_collation, self.collate_fn, self.drop_last,
                        self._is_iterable)

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if self.persistent_workers:
            if self._iterator is None or self._iterator._dead:
                self._iterator = _MultiProcessIter(self)
            else:
                self._iterator._reset(self)
            return self._iterator
        return _MultiProcessIter(self)

    def __len__(self) -> int:
        if self._is_iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    return n // self.batch_size
                return -(-n // self.batch_size)
            return n
        return len(self._index_sampler)


def _draw_base_seed(loader: DataLoader) -> int:
    gen = loader.generator or default_generator
    return int(gen.rng.integers(0, 2 ** 62))


class _SingleProcessIter:
    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._fetcher = loader._make_fetcher()
        self._sampler_iter = None if loader._is_iterable else iter(loader._index_sampler)
        # Drawn as in the worker iterator so that shuffling sees the same generator stream
        # with and without workers (torch draws it in both modes too).
        self._base_seed = _draw_base_seed(loader)
        self._num_yielded = 0

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self):
        if self._sampler_iter is None:
            data = self._fetcher.fetch(self._loader.batch_size)
        else:
            data = self._fetcher.fetch(next(self._sampler_iter))
        self._num_yielded += 1
        return data


class _MultiProcessIter:
    """Feeds index lists to worker processes and hands back their batches in order."""

    def __init__(self, loader: DataLoader) -> None:
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = multiprocessing.get_context()
        elif isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        self._loader = loader
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._dead = False
        self._shutdown = False
        self._epoch = 0
        base_seed = _draw_base_seed(loader)
        self._result_queue = ctx.Queue()
        self._index_queues = []
        self._workers = []
        import os
        for wid in range(self._num_workers):
            iq = ctx.Queue()
            # daemon: a worker never outlives the program that started it.
            proc = ctx.Process(
                target=_worker.worker_loop,
                args=(loader.dataset, iq, self._result_queue, loader._auto_collation,
                      loader.collate_fn, loader.drop_last, loader._is_iterable,
                      base_seed + wid, loader.worker_init_fn, wid, self._num_workers,
                      os.getpid()),
                daemon=True)
            proc.start()
            self._index_queues.append(iq)
            self._workers.append(proc)
        self._reset(loader, first=True)

    def _reset(self, loader: DataLoader, first: bool = False) -> None:
        self._epoch += 1
        self._is_iterable = loader._is_iterable
        self._batch_size = loader.batch_size
        self._in_order = loader.in_order
        self._sampler_iter = None if self._is_iterable else iter(loader._index_sampler)
        self._sampler_done = False
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_worker: dict = {}
        self._buffer: dict = {}
        self._outstanding = 0
        self._active = [True] * self._num_workers
        self._next_worker = 0
        if not first and self._is_iterable:
            for q in self._index_queues:
                q.put(_RESET)
        for _ in range(loader.prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        if self._sampler_done:
            return
        if self._is_iterable:
            index: Any = self._batch_size
        else:
            try:
                index = next(self._sampler_iter)
            except StopIteration:
                self._sampler_done = True
                return
        for _ in range(self._num_workers):
            wid = self._next_worker
            self._next_worker = (self._next_worker + 1) % self._num_workers
            if self._active[wid]:
                break
        else:
            self._sampler_done = True
            return
        self._index_queues[wid].put(((self._epoch, self._send_idx), index))
        self._task_worker[self._send_idx] = wid
        self._send_idx += 1
        self._outstanding += 1

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def _check_workers(self) -> None:
        dead = [w for w in self._workers if not w.is_alive()]
        if dead:
            pids = ", ".join(str(w.pid) for w in dead)
            codes = ", ".join(str(w.exitcode) for w in dead)
            self._dead = True
            self._shutdown_workers()
            raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                               f"(exit code(s) {codes})")

    def _get_one(self):
        """Wait for one message from any worker, watching for death and the timeout."""
        start = time.monotonic()
        while True:
            wait = _STATUS_CHECK_S
            if self._timeout > 0:
                left = self._timeout - (time.monotonic() - start)
                if left <= 0:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
                wait = min(wait, left)
            try:
                blob = self._result_queue.get(timeout=wait)
            except queue.Empty:
                self._check_workers()
                continue
            return pickle.loads(blob)

    def _receive(self) -> None:
        wid, (epoch, task), payload = self._get_one()
        if epoch != self._epoch:
            return  # left over from an epoch the user broke out of (persistent workers)
        self._outstanding -= 1
        if isinstance(payload, _Exhausted):
            self._active[wid] = False
        self._buffer[task] = payload

    def __next__(self):
        while True:
            if self._in_order:
                while self._rcvd_idx not in self._buffer and self._rcvd_idx < self._send_idx:
                    self._receive()
                if self._rcvd_idx >= self._send_idx:
                    self._finish()
                    raise StopIteration
                data = self._buffer.pop(self._rcvd_idx)
                self._rcvd_idx += 1
            else:
                if not self._buffer and self._outstanding == 0:
                    self._finish()
                    raise StopIteration
                while not self._buffer:
                    self._receive()
                key = next(iter(self._buffer))
                data = self._buffer.pop(key)
            if isinstance(data, _Exhausted):
                continue
            self._try_put_index()
            if isinstance(data, ExceptionWrapper):
                data.reraise()
            return data

    def _finish(self) -> None:
        if not self._persistent:
            self._shutdown_workers()

    def _shutdown_workers(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        self._dead = True
        for q in self._index_queues:
            try:
                q.put(None)
            except Exception:
                pass
        deadline = time.monotonic() + 2.0
        for w in self._workers:
            w.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.is_alive():
                w.terminate()
                w.join(timeout=1.0)
        for q in self._index_queues + [self._result_queue]:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:
            pass
