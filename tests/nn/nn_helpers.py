"""Copy weights torch -> ember and compare module outputs/gradients (uses oracle.assert_close)."""
from __future__ import annotations

import numpy as np
import torch

import ember
from oracle import assert_close


def copy_weights(tmod, emod) -> None:
    """Load torch's state_dict into the ember module (through numpy), strict."""
    sd = {k: ember.from_numpy(v.detach().numpy().copy()) for k, v in tmod.state_dict().items()}
    emod.load_state_dict(sd)


def run_both(tmod, emod, shapes, seed=0, int_inputs=None, rtol=1e-5, atol=1e-5):
    """Forward both modules on the same inputs, backward a random projection, compare the
    outputs, the input gradients and the parameter gradients."""
    rng = np.random.default_rng(seed)
    arrs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    tin = [torch.tensor(a, requires_grad=True) for a in arrs]
    ein = [ember.tensor(a, requires_grad=True) for a in arrs]
    if int_inputs is not None:
        tin, ein = [torch.tensor(int_inputs)], [ember.tensor(int_inputs)]
    tout = tmod(*tin)
    eout = emod(*ein)
    assert_close(eout.detach().numpy(), tout.detach().numpy(), rtol, atol, "output")
    w = rng.standard_normal(tuple(tout.shape))
    (tout.double() * torch.tensor(w)).sum().backward()
    (eout.double() * ember.tensor(w)).sum().backward()
    for i, (t, e) in enumerate(zip(tin, ein)):
        if t.grad is not None:
            assert_close(e.grad.numpy(), t.grad.numpy(), rtol * 10, atol * 10, f"input grad {i}")
    tp = dict(tmod.named_parameters())
    for name, p in emod.named_parameters():
        if tp[name].grad is None:
            assert p.grad is None, name
            continue
        assert_close(p.grad.numpy(), tp[name].grad.numpy(), rtol * 10, atol * 10,
                     f"grad of {name}")
    return tout, eout
