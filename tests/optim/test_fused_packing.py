"""CPU checks of the CUDA multi-tensor path's host side: the byte layout of the kernel argument
structs (which must match the C structs of ember/cuda/kernels/optim.py), and torch's routing
flags. The kernels themselves are tested on a GPU (tests/test_cuda_optim.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.cuda.kernels import optim as K
from ember.optim import _fused


def _unpack(arg: np.ndarray, depth: int, m: int):
    """Read an ``EmberList<depth, m>`` back: u64 ptr[depth][m]; i64 n[m]; i32 block_start[m+1];
    i32 flag[m]; i32 count (C layout, no padding)."""
    raw = arg.tobytes()
    assert len(raw) == 8 * depth * m + 8 * m + 4 * (m + 1) + 4 * m + 4
    ptr = np.frombuffer(raw, np.uint64, depth * m).reshape(depth, m)
    n = np.frombuffer(raw, np.int64, m, offset=8 * depth * m)
    ints = np.frombuffer(raw, np.int32, 2 * m + 2, offset=8 * depth * m + 8 * m)
    return ptr, n, ints[:m + 1], ints[m + 1:2 * m + 1], int(ints[2 * m + 1])


def test_pack_lists_layout_and_launch_split():
    depth, m = 3, 4
    sizes = [1, K.CHUNK, K.CHUNK + 1, 5, 3 * K.CHUNK, 7]
    rows = [[(r + 1) * 1000 + i for i in range(len(sizes))] for r in range(depth)]
    rows[2][1] = 2 ** 63 + 8  # a pointer above 2**63 survives the int64 storage
    flags = [1, 0, 1, 0, 1, 1]
    packed = K.pack_lists(rows, sizes, flags, depth, m)
    assert len(packed) == 2  # 6 tensors, 4 per launch
    for j, (arg, nblocks) in enumerate(packed):
        assert arg.shape == (1,) and arg.size == 1  # passed by value as one struct
        ptr, n, starts, flg, count = _unpack(arg, depth, m)
        lo, hi = 4 * j, min(4 * j + 4, len(sizes))
        assert count == hi - lo
        for r in range(depth):
            assert ptr[r, :count].tolist() == rows[r][lo:hi]
        assert n[:count].tolist() == sizes[lo:hi]
        blocks = [-(-s // K.CHUNK) for s in sizes[lo:hi]]
        assert starts[:count + 1].tolist() == np.concatenate([[0], np.cumsum(blocks)]).tolist()
        assert nblocks == sum(blocks)
        assert flg[:count].tolist() == flags[lo:hi]
    assert packed[0][1] == 1 + 1 + 2 + 1


def test_pack_steps_layout():
    ptrs = list(range(8, 8 * (K.STEP_M + 3), 8))
    packed = K.pack_steps(ptrs)
    assert len(packed) == 2
    for j, arg in enumerate(packed):
        raw = arg.tobytes()
        assert len(raw) == 8 * K.STEP_M + 8
        chunk = ptrs[j * K.STEP_M:(j + 1) * K.STEP_M]
        assert np.frombuffer(raw, np.uint64, len(chunk)).tolist() == chunk
        assert np.frombuffer(raw, np.int32, 1, offset=8 * K.STEP_M)[0] == len(chunk)


def test_kernel_dtype_tags():
    assert K.dtype_tag(np.dtype(np.float32)) == "f32"
    assert K.dtype_tag(np.dtype(np.float64)) == "f64"
    assert K.dtype_tag(np.dtype(np.float16)) == "f16"
    ml_dtypes = pytest.importorskip("ml_dtypes")
    assert K.dtype_tag(np.dtype(ml_dtypes.bfloat16)) == "bf16"
    assert K.dtype_tag(np.dtype(np.complex64)) is None
    assert K.dtype_tag(np.dtype(np.int32)) is None


@pytest.mark.parametrize("foreach,fused,expected", [(None, None, True), (True, None, True),
                                                    (False, None, False), (None, True, True),
                                                    (False, True, True), (None, False, True)])
def test_routing_follows_torch_flags(foreach, fused, expected):
    assert _fused.wants_fused({"foreach": foreach, "fused": fused}) is expected


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_fused_and_foreach_together_raise_like_torch(name):
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], lr=0.1, fused=True,
                                   foreach=True)
    with pytest.raises(RuntimeError) as ours:
        getattr(ember.optim, name)([ember.zeros(2, requires_grad=True)], lr=0.1, fused=True,
                                   foreach=True)
    assert str(ours.value) == str(theirs.value)


def test_cpu_parameters_take_the_per_parameter_path():
    w = ember.ones(3, requires_grad=True)
    w.grad = ember.ones(3)
    opt = ember.optim.Adam([w], lr=0.1)
    assert _fused.split(opt, opt.param_groups[0], [w]) == ([], [w])
    opt.step()
    assert not opt.state[w]["step"].is_cuda
