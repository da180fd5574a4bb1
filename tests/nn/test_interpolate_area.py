"""F.interpolate(mode="area") (adaptive average pooling) against torch, 1-D to 3-D."""
import numpy as np
import pytest
import torch

import ember
from oracle import dev_tensor, to_numpy


@pytest.mark.parametrize("shape,kw", [((1, 2, 4, 5, 6), {"size": (2, 3, 4)}),
                                      ((2, 3, 7, 5), {"size": (3, 4)}),
                                      ((2, 3, 8), {"size": 5}),
                                      ((1, 2, 6, 8), {"scale_factor": 0.5})])
def test_area_values_and_grads(shape, kw):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    e = dev_tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    oe = ember.nn.functional.interpolate(e, mode="area", **kw)
    ot = torch.nn.functional.interpolate(t, mode="area", **kw)
    np.testing.assert_allclose(to_numpy(oe), ot.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(tuple(ot.shape))
    (oe * dev_tensor(w)).sum().backward()
    (ot * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(to_numpy(e.grad), t.grad.numpy(), rtol=1e-12, atol=1e-12)
