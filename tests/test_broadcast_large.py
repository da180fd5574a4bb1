"""Large broadcasting element-wise ops (past the parallel slab threshold) against torch."""
import numpy as np
import pytest
import torch

import ember


@pytest.mark.parametrize("op", ["add", "mul", "sub", "div"])
def test_large_broadcast_binary_ops(op):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(4).astype(np.float32)
    b = rng.standard_normal((40000, 4)).astype(np.float32) + 3.0
    for x, y in ((a, b), (b, a)):
        e = getattr(ember, op)(ember.tensor(x), ember.tensor(y))
        t = getattr(torch, op)(torch.tensor(x), torch.tensor(y))
        assert tuple(e.shape) == tuple(t.shape)
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)
