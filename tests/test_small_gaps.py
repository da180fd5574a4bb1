"""Small torch gaps: random.fork_rng, DistributedSampler export, invert_permutation, and the
torch.cuda additions (no-CuPy behaviour here; GPU behaviour where a GPU is present)."""
from __future__ import annotations

import types

import numpy as np
import pytest
import torch

import ember
import ember.cuda
import ember.nn as enn


def _gpu():
    pytest.importorskip("cupy")
    if not ember.cuda.is_available():
        pytest.skip("no CUDA device")


# -- random --------------------------------------------------------------------------------------

def test_fork_rng_restores_cpu_stream():
    ember.manual_seed(11)
    ref = ember.rand(6).numpy()
    ember.manual_seed(11)
    with ember.random.fork_rng():
        inside = ember.rand(6).numpy()
        ember.manual_seed(99)
        ember.randn(4)
    np.testing.assert_array_equal(inside, ref)  # the block starts from the same state
    np.testing.assert_array_equal(ember.rand(6).numpy(), ref)  # and leaves it untouched
    assert ember.initial_seed() == 11
    ember.manual_seed(11)
    with ember.random.fork_rng(enabled=False):
        ember.rand(6)
    assert not np.array_equal(ember.rand(6).numpy(), ref)


def test_torch_random_names():
    for name in ("fork_rng", "get_rng_state", "set_rng_state", "manual_seed", "seed",
                 "initial_seed", "default_generator", "thread_safe_generator"):
        assert hasattr(torch.random, name) and hasattr(ember.random, name), name
    assert ember.random.thread_safe_generator() is torch.random.thread_safe_generator()


def test_fork_rng_with_dropout_module():
    drop = enn.Dropout(0.5)
    x = ember.ones(100)
    ember.manual_seed(3)
    with ember.random.fork_rng():
        a = drop(x).numpy()
    b = drop(x).numpy()
    np.testing.assert_array_equal(a, b)


# -- data / rnn ----------------------------------------------------------------------------------

def test_distributed_sampler_exported():
    from ember.utils.data import DistributedSampler
    from ember.utils.data.distributed import DistributedSampler as D
    assert DistributedSampler is D
    s = DistributedSampler(list(range(10)), num_replicas=3, rank=1, shuffle=False)
    ts = torch.utils.data.DistributedSampler(list(range(10)), num_replicas=3, rank=1,
                                             shuffle=False)
    assert list(s) == list(ts)


@pytest.mark.parametrize("perm", [[2, 0, 1], [0], [4, 3, 0, 1, 2], []])
def test_invert_permutation(perm):
    from ember.nn.utils.rnn import invert_permutation
    t = torch.nn.utils.rnn.invert_permutation(torch.tensor(perm, dtype=torch.int64))
    e = invert_permutation(ember.tensor(perm, dtype=ember.int64))
    assert e.dtype == ember.int64
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    assert invert_permutation(None) is None


# -- cuda: defined without a GPU -----------------------------------------------------------------

def test_cuda_names_exist_like_torch():
    names = ["OutOfMemoryError", "StreamContext", "stream", "ExternalStream", "mem_get_info",
             "memory_stats", "memory_summary", "max_memory_reserved",
             "reset_max_memory_allocated", "is_bf16_supported", "get_arch_list", "ipc_collect",
             "get_rng_state", "set_rng_state", "seed", "initial_seed", "FloatTensor",
             "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor", "IntTensor",
             "ByteTensor", "BoolTensor", "CharTensor", "ShortTensor"]
    for n in names:
        assert hasattr(torch.cuda, n) and hasattr(ember.cuda, n), n
    assert issubclass(ember.cuda.OutOfMemoryError, RuntimeError)


def test_cuda_queries_without_gpu():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    assert ember.cuda.is_bf16_supported() is torch.cuda.is_bf16_supported() is False
    assert ember.cuda.get_arch_list() == [] == torch.cuda.get_arch_list()
    ember.cuda.ipc_collect()  # no-op, as torch's without CUDA
    with ember.cuda.stream(None) as s:  # None: no stream change, no GPU needed
        assert s is None
    for f in (ember.cuda.mem_get_info, ember.cuda.memory_stats, ember.cuda.memory_summary,
              ember.cuda.max_memory_reserved, ember.cuda.get_rng_state, ember.cuda.seed,
              ember.cuda.initial_seed, lambda: ember.cuda.FloatTensor(2, 3),
              lambda: ember.cuda.ExternalStream(0),
              lambda: ember.cuda.set_rng_state(ember.zeros(16, dtype=ember.uint8))):
        with pytest.raises(RuntimeError):
            f()


def test_legacy_cuda_types_isinstance_on_cpu():
    x = ember.ones(2)
    assert not isinstance(x, ember.cuda.FloatTensor)
    assert not isinstance(torch.ones(2), torch.cuda.FloatTensor)
    assert not isinstance(3.0, ember.cuda.DoubleTensor)
    assert "FloatTensor" in repr(ember.cuda.FloatTensor)


def test_oom_surfaces_as_torch_error():
    """The tracking allocator turns CuPy's OutOfMemoryError into ember.cuda.OutOfMemoryError
    (checked with a stand-in for CuPy, so it runs without a GPU)."""
    class CupyOOM(MemoryError):
        pass
    captured = {}

    class Pool:
        def malloc(self, size):
            if size > 100:
                raise CupyOOM(f"Out of memory allocating {size} bytes")
            return ("mem", size)

        def used_bytes(self):
            return 50

    pool = Pool()
    fake = types.SimpleNamespace(
        get_default_memory_pool=lambda: pool,
        cuda=types.SimpleNamespace(memory=types.SimpleNamespace(OutOfMemoryError=CupyOOM),
                                   runtime=types.SimpleNamespace(getDevice=lambda: 7),
                                   set_allocator=lambda f: captured.setdefault("f", f)))
    ember.cuda._track_peak(fake)
    malloc = captured["f"]
    try:
        assert malloc(10) == ("mem", 10)
        with pytest.raises(ember.cuda.OutOfMemoryError, match="CUDA out of memory") as ei:
            malloc(1000)
        assert isinstance(ei.value, RuntimeError) and isinstance(ei.value.__cause__, CupyOOM)
        assert ember.cuda._STATE["num_ooms"][7] == 1
    finally:
        ember.cuda._STATE["peak"].pop(7, None)
        ember.cuda._STATE.get("num_ooms", {}).pop(7, None)


# -- cuda: with a GPU ----------------------------------------------------------------------------

def test_cuda_memory_and_queries_gpu():
    _gpu()
    free, total = ember.cuda.mem_get_info()
    assert 0 < free <= total
    x = ember.ones(1 << 20, device="cuda")
    st = ember.cuda.memory_stats()
    assert st["allocated_bytes.all.current"] >= 4 << 20
    assert st["allocated_bytes.all.peak"] >= st["allocated_bytes.all.current"]
    assert st["reserved_bytes.all.current"] >= st["allocated_bytes.all.current"]
    assert ember.cuda.max_memory_reserved() >= st["reserved_bytes.all.current"]
    assert "Allocated memory" in ember.cuda.memory_summary()
    with pytest.warns(FutureWarning):
        ember.cuda.reset_max_memory_allocated()
    assert ember.cuda.is_bf16_supported() is True
    major, minor = ember.cuda.get_device_capability()
    assert ember.cuda.get_arch_list() == [f"sm_{major}{minor}"]
    assert isinstance(x, ember.cuda.FloatTensor) and not isinstance(x, ember.cuda.LongTensor)
    y = ember.cuda.LongTensor([1, 2])
    assert y.device.type == "cuda" and y.dtype == ember.int64
    assert ember.cuda.FloatTensor(2, 3).shape == (2, 3)
    s = ember.cuda.Stream()
    with ember.cuda.StreamContext(s):
        z = x * 2
    s.synchronize()
    ext = ember.cuda.ExternalStream(s._s.ptr)
    with ember.cuda.stream(ext):
        z = z + 1
    ember.cuda.synchronize()
    assert float(z[0].item()) == 3.0
    del x, y, z
    with pytest.raises(ember.cuda.OutOfMemoryError):
        ember.empty(1 << 50, dtype=ember.uint8, device="cuda")


def test_cuda_rng_state_gpu():
    _gpu()
    ember.manual_seed(4)
    assert ember.cuda.initial_seed() == 4
    x = ember.ones(4096, device="cuda")
    drop = enn.Dropout(0.5)
    st = ember.cuda.get_rng_state()
    assert st.dtype == ember.uint8 and st.device.type == "cpu"
    a = drop(x).cpu().numpy()
    ember.cuda.set_rng_state(st)
    b = drop(x).cpu().numpy()
    np.testing.assert_array_equal(a, b)
    with ember.random.fork_rng():
        drop(x)
    c = drop(x).cpu().numpy()
    ember.cuda.set_rng_state(st)
    drop(x)
    np.testing.assert_array_equal(drop(x).cpu().numpy(), c)
    ember.cuda.seed()
    assert ember.cuda.initial_seed() != 4
