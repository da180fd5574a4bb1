"""ember.erfinv / Tensor.erfinv / Tensor.erfinv_ against torch (the primitive has oracle specs)."""
import numpy as np
import torch

import ember


def test_erfinv_function_method_and_inplace_match_torch():
    x = np.concatenate([np.random.default_rng(0).uniform(-1, 1, 50), [-1.0, 0.0, 1.0]])
    ref = torch.erfinv(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ember.erfinv(ember.tensor(x)).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(ember.tensor(x).erfinv().numpy(), ref, rtol=1e-12)
    t = ember.tensor(x)
    assert t.erfinv_() is t
    np.testing.assert_allclose(t.numpy(), ref, rtol=1e-12)
    # Integer input computes in the default float dtype, as torch does.
    e, r = ember.erfinv(ember.tensor([0, 1])), torch.erfinv(torch.tensor([0, 1]))
    assert str(e.dtype) == str(r.dtype)
    np.testing.assert_array_equal(e.numpy(), r.numpy())


def test_erfinv_gradient_matches_torch():
    x = np.random.default_rng(1).uniform(-0.95, 0.95, 20)
    te = ember.tensor(x, requires_grad=True)
    tt = torch.tensor(x, requires_grad=True)
    ember.erfinv(te).sum().backward()
    torch.erfinv(tt).sum().backward()
    np.testing.assert_allclose(te.grad.numpy(), tt.grad.numpy(), rtol=1e-10)
