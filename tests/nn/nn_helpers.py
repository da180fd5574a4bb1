"""Copy weights torch -> ember and compare module outputs/gradients (uses oracle.assert_close).

The ember module and inputs live on the device under test (EMBER_TEST_DEVICE): callers move the
module there with ``oracle.on_device`` before ``copy_weights``."""
from __future__ import annotations

import numpy as np
import torch

from oracle import assert_close, dev_tensor, to_numpy


def copy_weights(tmod, emod) -> None:
    """Load torch's state_dict into the ember module (through numpy, onto the device under
    test), strict."""
    sd = {k: dev_tensor(v.detach().numpy()) for k, v in tmod.state_dict().items()}
    emod.load_state_dict(sd)


def run_both(tmod, emod, shapes, seed=0, int_inputs=None, rtol=1e-5, atol=1e-5):
    """Forward both modules on the same inputs, backward a random projection, compare the
    outputs, the input gradients and the parameter gradients."""
    rng = np.random.default_rng(seed)
    arrs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    tin = [torch.tensor(a, requires_grad=True) for a in arrs]
    ein = [dev_tensor(a, requires_grad=True) for a in arrs]
    if int_inputs is not None:
        tin, ein = [torch.tensor(int_inputs)], [dev_tensor(int_inputs)]
    tout = tmod(*tin)
    eout = emod(*ein)
    assert_close(to_numpy(eout), tout.detach().numpy(), rtol, atol, "output")
    w = rng.standard_normal(tuple(tout.shape))
    (tout.double() * torch.tensor(w)).sum().backward()
    (eout.double() * dev_tensor(w)).sum().backward()
    for i, (t, e) in enumerate(zip(tin, ein)):
        if t.grad is not None:
            assert_close(to_numpy(e.grad), t.grad.numpy(), rtol * 10, atol * 10,
                         f"input grad {i}")
    tp = dict(tmod.named_parameters())
    for name, p in emod.named_parameters():
        if tp[name].grad is None:
            assert p.grad is None, name
            continue
        assert_close(to_numpy(p.grad), tp[name].grad.numpy(), rtol * 10, atol * 10,
                     f"grad of {name}")
    return tout, eout
