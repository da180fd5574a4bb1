"""DLPack interchange between ember and torch (CPU) and, where present, CuPy on CUDA."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.utils import dlpack as edl


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool",
                                   "complex64"])
def test_ember_to_torch_shares_memory(dtype):
    e = ember.tensor(np.arange(6).reshape(2, 3).astype(dtype))
    t = torch.from_dlpack(e)
    assert str(t.dtype).split(".")[-1] == dtype
    assert tuple(t.shape) == (2, 3)
    np.testing.assert_array_equal(t.numpy(), e.numpy())
    if dtype != "bool":
        t[0, 1] = 5
        assert e.numpy()[0, 1] == 5


def test_torch_to_ember_shares_memory():
    t = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    e = ember.from_dlpack(t)
    assert e.dtype == ember.float64 and tuple(e.shape) == (3, 4)
    e[1, 2] = -1.0
    assert t[1, 2].item() == -1.0
    # a non-contiguous view keeps its strides
    tv = t.t()
    ev = ember.from_dlpack(tv)
    np.testing.assert_array_equal(ev.numpy(), tv.numpy())
    tv[0, 0] = 9.0
    assert ev.numpy()[0, 0] == 9.0


def test_legacy_capsules():
    e = ember.arange(5.0)
    t = torch.utils.dlpack.from_dlpack(edl.to_dlpack(e))
    t[0] = 3.0
    assert e.numpy()[0] == 3.0
    t2 = torch.arange(3, dtype=torch.int64)
    e2 = edl.from_dlpack(torch.utils.dlpack.to_dlpack(t2))
    assert e2.dtype == ember.int64
    # NumPy imports legacy (unversioned) capsules read-only; the memory is still shared
    t2[2] = 10
    assert e2.numpy()[2] == 10
    assert edl.from_dlpack is ember.from_dlpack


def test_protocol_and_errors():
    e = ember.ones(2)
    assert e.__dlpack_device__() == (1, 0)
    assert e.__dlpack_device__() == tuple(torch.ones(2).__dlpack_device__())
    r = ember.ones(2, requires_grad=True)
    with pytest.raises(BufferError):
        torch.from_dlpack(r)
    with pytest.raises(BufferError):
        torch.ones(2, requires_grad=True).__dlpack__()
    with pytest.raises(TypeError):
        ember.from_dlpack([1, 2])
    # round trip through numpy as another consumer
    a = np.from_dlpack(ember.arange(4))
    assert a.dtype == np.int64 and a.tolist() == [0, 1, 2, 3]


def test_cuda_roundtrip():
    cupy = pytest.importorskip("cupy")
    if not ember.cuda.is_available():
        pytest.skip("CUDA not available")
    e = ember.arange(6.0, device="cuda")
    c = cupy.from_dlpack(e)
    c[0] = 4.0
    assert e.cpu().numpy()[0] == 4.0
    assert e.__dlpack_device__()[0] == 2
    back = ember.from_dlpack(c)
    assert back.device.type == "cuda"
    back[1] = 8.0
    assert float(c[1]) == 8.0
