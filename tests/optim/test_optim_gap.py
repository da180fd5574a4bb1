"""ASGD, Rprop, Adafactor and SparseAdam against torch: trajectories, state_dict layouts,
argument errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from oracle import DEVICE, to_numpy
from optim_helpers import (assert_same_structure, assert_trajectories_close, run, to_ember,
                           to_torch)

CONFIGS = [
    ("ASGD", {"lr": 0.05}),
    ("ASGD", {"lr": 0.05, "t0": 5, "lambd": 0.01, "alpha": 0.6}),
    ("ASGD", {"lr": 0.05, "t0": 3, "weight_decay": 0.1, "maximize": True}),
    ("Rprop", {"lr": 0.01}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    ("Rprop", {"lr": 0.01, "maximize": True}),
    ("Adafactor", {"lr": 0.05}),
    ("Adafactor", {"lr": 0.05, "weight_decay": 0.1, "d": 1.5}),
    ("Adafactor", {"lr": 0.05, "eps": (1e-20, 1e-2), "beta2_decay": -0.5, "maximize": True}),
]


def _ids(cfg):
    return cfg[0] + "-" + "-".join(f"{k}={v}" for k, v in cfg[1].items())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=[_ids(c) for c in CONFIGS])
def test_trajectory_matches_torch(cfg, dtype):
    name, kwargs = cfg
    source = "autograd" if dtype == "float64" else "numpy"
    ours, opt, _ = run(ember, name, kwargs, dtype, steps=15, grad_source=source)
    theirs, topt, _ = run(torch, name, kwargs, dtype, steps=15, grad_source=source)
    assert_trajectories_close(ours, theirs, dtype)
    assert np.abs(theirs[-1] - theirs[0]).max() > 1e-3
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (1e-4, 1e-5)
    assert_same_structure(opt.state_dict(), topt.state_dict(), rtol, atol)


@pytest.mark.parametrize("name,kwargs", [("ASGD", {"lr": 0.05, "t0": 2}),
                                         ("Rprop", {"lr": 0.01}),
                                         ("Adafactor", {"lr": 0.05})])
def test_param_groups_and_resume(name, kwargs):
    ours, _, _ = run(ember, name, kwargs, "float64", steps=6, groups=True)
    theirs, _, _ = run(torch, name, kwargs, "float64", steps=6, groups=True)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    # Resume ember from torch's state after 4 steps and vice versa: same continuation.
    t_traj, topt, tparams = run(torch, name, kwargs, "float64", steps=4)
    arrays = dict(zip(["w1", "b1", "w2"], [p.detach().numpy() for p in tparams]))
    e_cont, _, _ = run(ember, name, kwargs, "float64", steps=3, arrays=arrays,
                       opt_state=to_ember(topt.state_dict()))
    t_cont, _, _ = run(torch, name, kwargs, "float64", steps=3, arrays=arrays,
                       opt_state=topt.state_dict())
    np.testing.assert_allclose(e_cont, t_cont, rtol=1e-10, atol=1e-12)
    _, eopt, eparams = run(ember, name, kwargs, "float64", steps=4)
    t_cont2, _, _ = run(torch, name, kwargs, "float64", steps=3, arrays=arrays,
                        opt_state=to_torch(eopt.state_dict()))
    np.testing.assert_allclose(t_cont2, t_cont, rtol=1e-10, atol=1e-12)


def test_adafactor_3d_parameter():
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((2, 3, 4))
    res = []
    for lib in (ember, torch):
        dev = {} if lib is torch else {"device": DEVICE}  # ember on the device under test
        w = lib.tensor(w0, dtype=lib.float64, requires_grad=True, **dev)
        opt = lib.optim.Adafactor([w], lr=0.1)
        for _ in range(4):
            opt.zero_grad()
            (w ** 3).sum().backward()
            opt.step()
        res.append((to_numpy(w), opt.state_dict()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-10, atol=1e-12)
    assert_same_structure(res[0][1], res[1][1], 1e-10, 1e-12)


class _CooGrad:
    """A COO gradient with torch's accessors (ember has no sparse tensor type)."""
    is_sparse = True

    def __init__(self, tgrad: torch.Tensor) -> None:
        self._i = ember.tensor(tgrad._indices().numpy(), device=DEVICE)
        self._v = ember.tensor(tgrad._values().numpy(), device=DEVICE)

    def _indices(self):
        return self._i

    def _values(self):
        return self._v


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")
@pytest.mark.parametrize("maximize", [False, True])
def test_sparse_adam_with_coo_gradients(maximize):
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal((6, 3))
    tw = torch.tensor(w0, requires_grad=True)
    ew = ember.tensor(w0, requires_grad=True, device=DEVICE)
    topt = torch.optim.SparseAdam([tw], lr=0.1, maximize=maximize)
    eopt = ember.optim.SparseAdam([ew], lr=0.1, maximize=maximize)
    for k in range(5):
        # Duplicate indices (coalesced by the optimizer) and rows left untouched.
        idx = torch.tensor([[k % 6, 2, (k + 3) % 6, 2]])
        vals = torch.tensor(rng.standard_normal((4, 3)))
        tg = torch.sparse_coo_tensor(idx, vals, (6, 3))
        tw.grad = tg
        # ember tensors accept any object as .grad; the optimizer reads the COO accessors.
        ew.grad = _CooGrad(tg)
        topt.step()
        eopt.step()
        np.testing.assert_allclose(to_numpy(ew), tw.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    assert_same_structure(eopt.state_dict(), topt.state_dict(), 1e-10, 1e-12)


def test_sparse_adam_dense_gradient_errors():
    for lib in (torch, ember):
        w = lib.zeros(3, requires_grad=True)
        opt = lib.optim.SparseAdam([w])
        (w * 2).sum().backward()
        with pytest.raises(RuntimeError, match="does not support dense gradients"):
            opt.step()
        with pytest.raises(ValueError, match="Complex params"):
            lib.optim.SparseAdam([lib.zeros(2, dtype=lib.complex64, requires_grad=True)])


@pytest.mark.parametrize("name,kwargs", [
    ("ASGD", {"lr": -1.0}), ("ASGD", {"weight_decay": -1.0}),
    ("Rprop", {"lr": -1.0}), ("Rprop", {"etas": (1.1, 1.2)}), ("Rprop", {"etas": (0.5, 0.9)}),
    ("SparseAdam", {"lr": 0.0}), ("SparseAdam", {"eps": 0.0}),
    ("SparseAdam", {"betas": (1.0, 0.9)}), ("SparseAdam", {"betas": (0.9, 1.0)}),
    ("Adafactor", {"lr": -1.0}), ("Adafactor", {"beta2_decay": 0.5}),
    ("Adafactor", {"eps": (-1.0, 1e-3)}), ("Adafactor", {"eps": (None, -1.0)}),
    ("Adafactor", {"d": 0.5}), ("Adafactor", {"weight_decay": -0.1}),
])
def test_argument_errors_match_torch(name, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(ember.optim, name)([ember.zeros(2, requires_grad=True)], **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_defaults_match_torch():
    for name in ("ASGD", "Rprop", "SparseAdam", "Adafactor"):
        t = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
        e = getattr(ember.optim, name)([ember.zeros(2, requires_grad=True)]).defaults
        assert e == t, name
