"""ember.special against torch.special: values and gradients on random inputs."""
import numpy as np
import pytest
import torch

import ember
from oracle import dev_tensor, to_numpy

RNG = np.random.default_rng(0)
UNIT = RNG.uniform(0.02, 0.98, 40)          # probabilities
POS = RNG.uniform(0.3, 6.0, 40)             # gamma-function arguments
REAL = np.concatenate([RNG.standard_normal(38) * 2, [0.0, -0.0]])

CASES = [
    ("erf", REAL), ("erfc", REAL), ("erfinv", UNIT * 2 - 1), ("expit", REAL),
    ("logit", UNIT), ("exp2", REAL), ("expm1", REAL), ("log1p", POS),
    ("gammaln", POS), ("digamma", POS), ("psi", POS), ("sinc", REAL), ("entr", UNIT),
    ("ndtr", REAL), ("ndtri", UNIT), ("log_ndtr", REAL),
]


@pytest.mark.parametrize("name,x", CASES, ids=[c[0] for c in CASES])
def test_unary_values_and_grads_match_torch(name, x):
    te = dev_tensor(x, requires_grad=True)
    tt = torch.tensor(x, requires_grad=True)
    oe = getattr(ember.special, name)(te)
    ot = getattr(torch.special, name)(tt)
    np.testing.assert_allclose(to_numpy(oe), ot.detach().numpy(), rtol=1e-9, atol=1e-12)
    oe.sum().backward()
    ot.sum().backward()
    np.testing.assert_allclose(to_numpy(te.grad), tt.grad.numpy(), rtol=1e-7, atol=1e-10)


def test_binary_and_parametrised_functions_match_torch():
    x = np.array([0.0, 0.0, 1.5, 2.0, -1.0])
    y = np.array([0.5, np.nan, 0.3, -0.5, 2.0])
    np.testing.assert_allclose(to_numpy(ember.special.xlog1py(dev_tensor(x), dev_tensor(y))),
                               torch.special.xlog1py(torch.tensor(x), torch.tensor(y)).numpy())
    ay = np.abs(y)
    np.testing.assert_allclose(to_numpy(ember.special.xlogy(dev_tensor(x), dev_tensor(ay))),
                               torch.special.xlogy(torch.tensor(x), torch.tensor(ay)).numpy())
    np.testing.assert_allclose(to_numpy(ember.special.polygamma(2, dev_tensor(POS))),
                               torch.special.polygamma(2, torch.tensor(POS)).numpy(), rtol=1e-8)
    np.testing.assert_allclose(to_numpy(ember.special.multigammaln(dev_tensor(POS + 2), 3)),
                               torch.special.multigammaln(torch.tensor(POS + 2), 3).numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(to_numpy(ember.special.logit(dev_tensor(UNIT), eps=0.1)),
                               torch.special.logit(torch.tensor(UNIT), eps=0.1).numpy(),
                               rtol=1e-12)
    a = RNG.standard_normal((3, 5))
    for fn in ("softmax", "log_softmax"):
        np.testing.assert_allclose(to_numpy(getattr(ember.special, fn)(dev_tensor(a), 1)),
                                   getattr(torch.special, fn)(torch.tensor(a), 1).numpy(),
                                   rtol=1e-12)
    np.testing.assert_allclose(to_numpy(ember.special.logsumexp(dev_tensor(a), 1)),
                               torch.special.logsumexp(torch.tensor(a), 1).numpy(), rtol=1e-12)
    # At the pole: torch 2.13 checks nothing and returns inf.
    assert ember.special.multigammaln(dev_tensor([0.5]), 3).tolist() == \
        torch.special.multigammaln(torch.tensor([0.5]), 3).tolist()


def test_integer_inputs_promote_like_torch():
    for name in ("erfc", "expit", "sinc", "ndtr", "gammaln"):
        e = getattr(ember.special, name)(dev_tensor([1, 2, 3]))
        t = getattr(torch.special, name)(torch.tensor([1, 2, 3]))
        assert str(e.dtype) == str(t.dtype), name
        np.testing.assert_allclose(to_numpy(e), t.numpy(), rtol=1e-6)
