"""ASGD keeps step, eta and mu as 0-d scalar-dtype tensors on the parameter's device, as
torch.optim.ASGD does (values checked against torch)."""
from __future__ import annotations

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import ember  # noqa: E402
from oracle import DEVICE, dev_tensor, to_numpy  # noqa: E402


def test_asgd_scalar_state_on_param_device():
    w0 = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    tw = torch.tensor(w0, requires_grad=True)
    ew = dev_tensor(w0, requires_grad=True)
    t_opt = torch.optim.ASGD([tw], lr=0.1, t0=1, lambd=0.01)
    e_opt = ember.optim.ASGD([ew], lr=0.1, t0=1, lambd=0.01)
    for _ in range(3):
        for w, opt in ((tw, t_opt), (ew, e_opt)):
            opt.zero_grad()
            (w * w * w).sum().backward()
            opt.step()
    t_state, e_state = t_opt.state[tw], e_opt.state[ew]
    for key in ("step", "eta", "mu"):
        e_val = e_state[key]
        assert e_val.device.type == DEVICE, key
        assert tuple(e_val.shape) == () and str(e_val.dtype) == str(t_state[key].dtype), key
        np.testing.assert_allclose(to_numpy(e_val), t_state[key].numpy(), rtol=1e-6,
                                   err_msg=key)
    assert e_state["ax"].device.type == DEVICE
    np.testing.assert_allclose(to_numpy(e_state["ax"]), t_state["ax"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(to_numpy(ew), tw.detach().numpy(), rtol=1e-6)
    # The state_dict keeps torch's layout: the same keys per parameter.
    assert sorted(e_opt.state_dict()["state"][0]) == sorted(t_opt.state_dict()["state"][0])
