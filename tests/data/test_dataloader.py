"""DataLoader, collate and dataset semantics against torch.utils.data on the same data."""
from __future__ import annotations

import collections
import os
import signal
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import ember
import ember.utils.data as eud

Point = collections.namedtuple("Point", ["x", "y"])


def _structure(obj, lib):
    """(kind, dtype/str, shape, values) tree of a batch, comparable across the two libs."""
    if isinstance(obj, lib.Tensor):
        return ("tensor", str(obj.dtype), tuple(obj.shape), obj.detach().numpy().tolist())
    if isinstance(obj, dict):
        return ("dict", {k: _structure(v, lib) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return ("namedtuple", type(obj).__name__, [_structure(v, lib) for v in obj])
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [_structure(v, lib) for v in obj])
    return ("py", repr(obj))


class _Samples:
    """A map-style dataset of heterogeneous samples, usable by both libraries."""

    def __init__(self, lib, n=7):
        self.lib = lib
        rng = np.random.default_rng(0)
        self.arrays = rng.standard_normal((n, 2, 3)).astype(np.float32)
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"arr": self.arrays[i], "f": float(i) / 3, "i": i, "b": i % 2 == 0,
                "s": f"s{i}", "np_scalar": np.int32(i), "t": self.lib.tensor([i, 2 * i]),
                "tup": (i, float(i)), "lst": [np.float64(i), self.lib.tensor(1.5)],
                "nt": Point(i, self.lib.tensor(float(i)))}


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (3, False), (3, True), (7, True),
                                                  (10, False), (10, True)])
def test_collate_structure_len_and_drop_last(batch_size, drop_last):
    t_batches = list(tud.DataLoader(_Samples(torch), batch_size=batch_size, drop_last=drop_last))
    e_loader = eud.DataLoader(_Samples(ember), batch_size=batch_size, drop_last=drop_last)
    e_batches = list(e_loader)
    assert len(e_loader) == len(t_batches) == len(e_batches)
    for tb, eb in zip(t_batches, e_batches):
        assert _structure(eb, ember) == _structure(tb, torch)


def test_batch_size_none_converts_without_batching():
    t = list(tud.DataLoader(_Samples(torch, 3), batch_size=None))
    e = list(eud.DataLoader(_Samples(ember, 3), batch_size=None))
    assert [_structure(b, ember) for b in e] == [_structure(b, torch) for b in t]


def test_collate_errors_match_torch():
    for bad in ([object(), object()], [[1, 2], [1]]):
        with pytest.raises(Exception) as te:
            tud.default_collate(bad)
        with pytest.raises(type(te.value)):
            eud.default_collate(bad)


def test_tensor_dataset_sequential_and_custom_collate():
    x = np.random.default_rng(1).standard_normal((10, 3)).astype(np.float32)
    y = np.arange(10)
    tds = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    eds = eud.TensorDataset(ember.from_numpy(x), ember.from_numpy(y))
    assert len(eds) == len(tds)
    for kw in ({"batch_size": 4}, {"batch_size": 4, "drop_last": True},
               {"batch_size": 3, "collate_fn": lambda b: len(b)}):
        tb = list(tud.DataLoader(tds, **kw))
        eb = list(eud.DataLoader(eds, **kw))
        assert [_structure(b, ember) for b in eb] == [_structure(b, torch) for b in tb]
    with pytest.raises(AssertionError):
        eud.TensorDataset(ember.zeros(3), ember.zeros(4))


@pytest.mark.parametrize("kwargs", [dict(batch_size=2, batch_sampler=[[0, 1]]),
                                    dict(sampler=[0, 1], shuffle=True),
                                    dict(batch_size=None, drop_last=True),
                                    dict(num_workers=-1), dict(timeout=-1),
                                    dict(prefetch_factor=2),
                                    dict(persistent_workers=True)])
def test_option_errors_match_torch(kwargs):
    with pytest.raises(ValueError):
        tud.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError):
        eud.DataLoader(list(range(4)), **kwargs)


def test_iterable_dataset_rejects_shuffle_and_len():
    class Stream(eud.IterableDataset):
        def __iter__(self):
            return iter(range(5))

        def __len__(self):
            return 5

    with pytest.raises(ValueError):
        eud.DataLoader(Stream(), shuffle=True)
    assert len(eud.DataLoader(Stream(), batch_size=2)) == 3
    assert len(eud.DataLoader(Stream(), batch_size=2, drop_last=True)) == 2
    assert [b.tolist() for b in eud.DataLoader(Stream(), batch_size=2, drop_last=True)] == \
        [[0, 1], [2, 3]]


# ---------------------------------------------------------------------- datasets
def test_concat_subset_stack_and_random_split():
    a, b = list(range(5)), list(range(10, 13))

    class Wrap:
        def __init__(self, base, data):
            self.ds = base(data)

    class L(eud.Dataset):
        def __init__(self, data):
            self.data = data

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            return self.data[i]

    class TL(tud.Dataset):
        def __init__(self, data):
            self.data = data

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            return self.data[i]

    ec = L(a) + L(b)
    tc = TL(a) + TL(b)
    assert isinstance(ec, eud.ConcatDataset)
    assert ec.cumulative_sizes == tc.cumulative_sizes
    assert [ec[i] for i in range(-len(ec), len(ec))] == [tc[i] for i in range(-len(tc), len(tc))]
    with pytest.raises(ValueError):
        ec[-9]
    sub = eud.Subset(ec, [7, 0, 3])
    assert [sub[i] for i in range(3)] == [tud.Subset(tc, [7, 0, 3])[i] for i in range(3)]
    st = eud.StackDataset(L(a), L([x * 2 for x in a]))
    assert st[3] == (3, 6) and len(st) == 5
    assert eud.StackDataset(p=L(a), q=L(a))[1] == {"p": 1, "q": 1}

    for lengths in ([3, 5], [0.3, 0.7], [0.5, 0.25, 0.25], [0.34, 0.33, 0.33]):
        t_parts = tud.random_split(tc, lengths, generator=torch.Generator().manual_seed(0))
        e_parts = eud.random_split(ec, lengths, generator=ember.Generator().manual_seed(0))
        assert [len(p) for p in e_parts] == [len(p) for p in t_parts]
        items = sorted(x for p in e_parts for x in (p[i] for i in range(len(p))))
        assert items == sorted(a + b)
    with pytest.raises(ValueError):
        tud.random_split(tc, [3, 3])
    with pytest.raises(ValueError):
        eud.random_split(ec, [3, 3])
    again = eud.random_split(ec, [4, 4], generator=ember.Generator().manual_seed(5))
    once = eud.random_split(ec, [4, 4], generator=ember.Generator().manual_seed(5))
    assert again[0].indices == once[0].indices


# ---------------------------------------------------------------------- samplers
def test_sequential_and_batch_sampler_match_torch():
    assert list(eud.SequentialSampler(range(6))) == list(tud.SequentialSampler(range(6)))
    for bs, dl in ((1, False), (4, False), (4, True), (6, True), (7, True)):
        t = tud.BatchSampler(tud.SequentialSampler(range(6)), bs, dl)
        e = eud.BatchSampler(eud.SequentialSampler(range(6)), bs, dl)
        assert list(e) == list(t) and len(e) == len(t)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError):
            tud.BatchSampler(range(3), bad, False)
        with pytest.raises(ValueError):
            eud.BatchSampler(range(3), bad, False)


def test_random_sampler_permutation_replacement_and_generator():
    s = eud.RandomSampler(range(50))
    assert sorted(s) == list(range(50)) and len(s) == 50
    s = eud.RandomSampler(range(10), num_samples=25)
    out = list(s)
    assert len(out) == 25 and sorted(out[:10]) == list(range(10))
    assert sorted(out[20:]) == sorted(set(out[20:]))
    rep = list(eud.RandomSampler(range(4), replacement=True, num_samples=8000))
    counts = np.bincount(rep, minlength=4)
    assert len(rep) == 8000 and np.all(np.abs(counts / 8000 - 0.25) < 0.03)
    g1, g2 = ember.Generator().manual_seed(3), ember.Generator().manual_seed(3)
    assert list(eud.RandomSampler(range(20), generator=g1)) == \
        list(eud.RandomSampler(range(20), generator=g2))
    ember.manual_seed(7)
    first = list(eud.RandomSampler(range(20)))
    ember.manual_seed(7)
    assert list(eud.RandomSampler(range(20))) == first
    with pytest.raises(ValueError):
        eud.RandomSampler(range(3), num_samples=0)


def test_subset_and_weighted_random_sampler_statistics():
    idx = [3, 9, 27, 81]
    assert sorted(eud.SubsetRandomSampler(idx)) == idx
    weights = [0.1, 0.0, 0.6, 0.3]
    draws = list(eud.WeightedRandomSampler(weights, 20000))
    freq = np.bincount(draws, minlength=4) / 20000
    assert np.all(np.abs(freq - np.array(weights)) < 0.02) and freq[1] == 0
    no_rep = list(eud.WeightedRandomSampler([1.0, 2.0, 3.0, 4.0], 4, replacement=False))
    assert sorted(no_rep) == [0, 1, 2, 3]
    with pytest.raises(RuntimeError):
        list(eud.WeightedRandomSampler([1.0, 0.0], 2, replacement=False))
    for bad in (dict(num_samples=0), dict(num_samples=2, replacement=1)):
        with pytest.raises(ValueError):
            tud.WeightedRandomSampler([1.0, 2.0], **bad)
        with pytest.raises(ValueError):
            eud.WeightedRandomSampler([1.0, 2.0], **bad)


def test_shuffle_uses_generator_and_covers_all():
    ds = list(range(23))
    g = ember.Generator().manual_seed(11)
    a = [x for b in eud.DataLoader(ds, batch_size=5, shuffle=True, generator=g) for x in b.tolist()]
    g = ember.Generator().manual_seed(11)
    b = [x for b in eud.DataLoader(ds, batch_size=5, shuffle=True, generator=g) for x in b.tolist()]
    assert a == b and sorted(a) == ds and a != ds


# ---------------------------------------------------------------------- workers
class _PidDataset(eud.Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = eud.get_worker_info()
        return {"i": i, "pid": os.getpid(), "wid": -1 if info is None else info.id,
                "init": _INIT_MARK.get("v", -1), "x": np.full((2,), i, np.float32)}


_INIT_MARK: dict = {}


def _init_fn(worker_id):
    _INIT_MARK["v"] = 100 + worker_id


def test_workers_give_the_same_batches_as_main_process():
    x = np.random.default_rng(2).standard_normal((37, 4)).astype(np.float32)
    ds = eud.TensorDataset(ember.from_numpy(x), ember.arange(37))
    g = ember.Generator()
    main = [(a.tolist(), b.tolist()) for a, b in
            eud.DataLoader(ds, batch_size=8, shuffle=True, generator=g.manual_seed(4))]
    work = [(a.tolist(), b.tolist()) for a, b in
            eud.DataLoader(ds, batch_size=8, shuffle=True, generator=g.manual_seed(4),
                           num_workers=2, prefetch_factor=3)]
    assert main == work
    unordered = [(a.tolist(), b.tolist()) for a, b in
                 eud.DataLoader(ds, batch_size=8, num_workers=2, in_order=False)]
    assert sorted(unordered) == sorted((a.tolist(), b.tolist()) for a, b in
                                       eud.DataLoader(ds, batch_size=8))


def test_worker_info_init_fn_and_seeds():
    assert eud.get_worker_info() is None
    batches = list(eud.DataLoader(_PidDataset(), batch_size=3, num_workers=2,
                                  worker_init_fn=_init_fn))
    assert [b["i"].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert [set(b["wid"].tolist()) for b in batches] == [{0}, {1}, {0}, {1}]
    assert all(set(b["init"].tolist()) == {100 + b["wid"][0].item()} for b in batches)
    assert {b["pid"][0].item() for b in batches} .isdisjoint({os.getpid()})


def test_persistent_workers_survive_epochs():
    loader = eud.DataLoader(_PidDataset(), batch_size=4, num_workers=2,
                            persistent_workers=True)
    pids = []
    for _ in range(3):
        seen = [b["i"].tolist() for b in loader]
        assert seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
        pids.append(loader._iterator._workers[0].pid)
    # Breaking out of an epoch early must not leak its batches into the next one.
    for b in loader:
        break
    assert [b["i"].tolist() for b in loader][0] == [0, 1, 2, 3]
    assert len(set(pids)) == 1
    loader._iterator._shutdown_workers()


class _Shard(eud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = eud.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


class _TShard(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tud.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def test_iterable_dataset_sharding_matches_torch():
    for nw in (0, 2):
        t = [b.tolist() for b in tud.DataLoader(_TShard(11), batch_size=2, num_workers=nw)]
        e = [b.tolist() for b in eud.DataLoader(_Shard(11), batch_size=2, num_workers=nw)]
        assert e == t
    persistent = eud.DataLoader(_Shard(7), batch_size=3, num_workers=2, persistent_workers=True)
    first = [b.tolist() for b in persistent]
    assert [b.tolist() for b in persistent] == first
    persistent._iterator._shutdown_workers()


class _Faulty(eud.Dataset):
    def __init__(self, mode):
        self.mode = mode

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            if self.mode == "raise":
                raise KeyError("bad sample 5") if i % 2 == 0 else ValueError("bad sample 5")
            if self.mode == "exit":
                os._exit(7)
            if self.mode == "sleep":
                time.sleep(5)
        return i


def test_worker_exception_reraises_with_traceback():
    start = time.monotonic()
    loader = eud.DataLoader(_Faulty("raise"), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as err:
        list(loader)
    text = str(err.value)
    assert "Caught ValueError in DataLoader worker process" in text
    assert "Traceback" in text and "__getitem__" in text and "bad sample 5" in text
    assert time.monotonic() - start < 10


def test_worker_death_raises_instead_of_hanging():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(eud.DataLoader(_Faulty("exit"), batch_size=2, num_workers=2))
    assert time.monotonic() - start < 10


def test_killed_worker_raises():
    loader = eud.DataLoader(_Faulty("none"), batch_size=1, num_workers=2, prefetch_factor=1)
    it = iter(loader)
    next(it)
    os.kill(it._workers[1].pid, signal.SIGKILL)
    it._workers[1].join(5)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        for _ in it:
            pass
    assert time.monotonic() - start < 10


def test_timeout_raises():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out"):
        list(eud.DataLoader(_Faulty("sleep"), batch_size=2, num_workers=1, timeout=0.5))
    assert time.monotonic() - start < 4.5
