"""What runs inside a DataLoader worker process, and the messages it exchanges with the parent.

Protocol: the parent puts ``(task_id, indices)`` on a worker's own index queue (``indices`` is a
list for a batch, one index without auto-batching, or ``None`` for "next batch" of an
IterableDataset), ``_RESET`` to restart an iterable dataset (persistent workers), or ``None``
to stop. The worker answers ``(worker_id, task_id, payload)`` on the shared result queue, where
the payload is the batch, an ``ExceptionWrapper`` or ``_Exhausted``; the tuple travels
pickled (bytes).
"""
from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any

_RESET = "__ember_dataloader_reset__"
# How often an idle worker checks that its parent is still alive.
_POLL_S = 1.0


@dataclass
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker process."""
    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker: its ``id``, ``num_workers``, ``seed`` and ``dataset`` copy.

    In the main process it returns ``None``. Use it in ``IterableDataset.__iter__`` to give
    each worker its own share of the stream, and in ``worker_init_fn``.
    """
    return _worker_info


class _Exhausted:
    """The worker's IterableDataset has no more samples."""


class ExceptionWrapper:
    """An exception raised in a worker, carried to the parent with its traceback text."""

    def __init__(self, exc: BaseException, where: str) -> None:
        self.exc_type = type(exc)
        self.msg = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.where = where

    def reraise(self):
        msg = (f"Caught {self.exc_type.__name__} {self.where}.\nOriginal "
               f"{self.msg}")
        if self.exc_type is KeyError:
            # KeyError's str() would quote the whole text; torch wraps it the same way.
            msg = _KeyErrorMessage(msg)
        try:
            err = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise err


class _KeyErrorMessage(str):
    def __repr__(self) -> str:
        return self


class _Fetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool,
                 is_iterable: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.is_iterable = is_iterable
        self.ended = False
        self.it = iter(dataset) if is_iterable else None

    def fetch(self, index):
        """Return one collated batch; raise StopIteration when an iterable dataset ends."""
        if self.is_iterable:
            if self.ended:
                raise StopIteration
            if not self.auto_collation:
                try:
                    return self.collate_fn(next(self.it))
                except StopIteration:
                    self.ended = True
                    raise
            data = []
            for _ in range(index):  # for iterable datasets `index` is the batch size
                try:
                    data.append(next(self.it))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < index):
                raise StopIteration
            return self.collate_fn(data)
        if self.auto_collation:
            getitems = getattr(self.dataset, "__getitems__", None)
            if callable(getitems):
                data = getitems(index)
            else:
                data = [self.dataset[i] for i in index]
            return self.collate_fn(data)
        return self.collate_fn(self.dataset[index])


def _parent_alive(parent_pid: int) -> bool:
    return os.getppid() == parent_pid


def worker_loop(dataset, index_queue, result_queue, auto_collation: bool, collate_fn,
                drop_last: bool, is_iterable: bool, seed: int, init_fn, worker_id: int,
                num_workers: int, parent_pid: int) -> None:
    """The body of a worker process (module-level so that it pickles under spawn too)."""
    global _worker_info
    try:
        # Each worker gets its own stream: ember's generator, Python's and NumPy's global one
        # (torch leaves NumPy alone, which makes forked workers repeat the same numbers).
        import numpy as np
        from ...random import manual_seed
        manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % (2 ** 32))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = _Fetcher(dataset, auto_collation, collate_fn, drop_last, is_iterable)
        except Exception as e:  # reported with the first task so the parent sees it
            init_error = ExceptionWrapper(e, f"in DataLoader worker process {worker_id}")
            fetcher = None
        while True:
            try:
                msg = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                if not _parent_alive(parent_pid):
                    return
                continue
            if msg is None:
                return
            if msg == _RESET:
                if fetcher is not None and is_iterable:
                    fetcher = _Fetcher(dataset, auto_collation, collate_fn, drop_last,
                                       is_iterable)
                continue
            task_id, index = msg
            if init_error is not None:
                payload: Any = init_error
            else:
                try:
                    payload = fetcher.fetch(index)
                except StopIteration:
                    payload = _Exhausted()
                except Exception as e:
                    payload = ExceptionWrapper(e, f"in DataLoader worker process {worker_id}")
            # Pickle here rather than in the queue's feeder thread, so a batch that does not
            # pickle becomes an error the parent sees instead of a silent hang.
            try:
                blob = ForkingPickler.dumps((worker_id, task_id, payload))
            except Exception as e:
                blob = ForkingPickler.dumps((worker_id, task_id, ExceptionWrapper(
                    e, f"in DataLoader worker process {worker_id}")))
            result_queue.put(bytes(blob))
    except KeyboardInterrupt:
        pass
    finally:
        sys.stdout.flush()
