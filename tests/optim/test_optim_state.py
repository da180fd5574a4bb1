"""Optimizer state_dict layout against torch's, loading torch's state into ember (and ember's
into torch) and continuing identically, and the Optimizer API (groups, zero_grad, errors)."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from optim_helpers import assert_same_structure, initial_arrays, run, to_ember, to_torch

import ember
from oracle import to_numpy
import torch

STATE_CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("Adadelta", {"lr": 0.5}),
    ("Adamax", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01}),
    ("RAdam", {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.1}),
]


def _continue(lib, name, kwargs, arrays, state, steps=10):
    return run(lib, name, kwargs, "float64", steps=steps, groups=True, arrays=arrays,
               opt_state=state)[0]


@pytest.mark.parametrize("name,kwargs", STATE_CONFIGS)
def test_state_dict_layout_matches_torch(name, kwargs):
    _, ours, _ = run(ember, name, kwargs, "float64", steps=5, groups=True)
    _, theirs, _ = run(torch, name, kwargs, "float64", steps=5, groups=True)
    assert_same_structure(ours.state_dict(), theirs.state_dict(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", STATE_CONFIGS)
def test_load_torch_state_then_continue(name, kwargs):
    # torch runs 5 steps; its parameters and converted optimizer state seed an ember run and a
    # fresh torch run (loading its own dict), which must then agree step by step.
    _, t_opt, t_params = run(torch, name, kwargs, "float64", steps=5, groups=True)
    arrays = {k: p.detach().numpy().copy() for k, p in zip(initial_arrays(), t_params)}
    saved = copy.deepcopy(t_opt.state_dict())
    ours = _continue(ember, name, kwargs, arrays, to_ember(saved))
    theirs = _continue(torch, name, kwargs, arrays, saved)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", STATE_CONFIGS)
def test_ember_state_loads_into_torch(name, kwargs):
    _, e_opt, e_params = run(ember, name, kwargs, "float64", steps=5, groups=True)
    arrays = {k: to_numpy(p).copy() for k, p in zip(initial_arrays(), e_params)}
    saved = e_opt.state_dict()
    theirs = _continue(torch, name, kwargs, arrays, to_torch(saved))
    ours = _continue(ember, name, kwargs, arrays, copy.deepcopy(saved))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_load_casts_state_to_param_dtype_but_not_step():
    _, t_opt, _ = run(torch, "Adam", {"lr": 0.01}, "float64", steps=3)
    state = to_ember(t_opt.state_dict())
    params = [ember.zeros(s, dtype=ember.float32, requires_grad=True)
              for s in [(4, 5), (5,), (5, 3)]]
    opt = ember.optim.Adam(params, lr=0.01)
    opt.load_state_dict(state)
    assert opt.state[params[0]]["exp_avg"].dtype == ember.float32
    assert opt.state[params[0]]["step"].dtype == ember.float32
    assert float(opt.state[params[0]]["step"]) == 3.0
    # The loaded optimizer owns its buffers: stepping it leaves the source dict unchanged.
    before = state["state"][0]["exp_avg"].numpy().copy()
    for p in params:
        p.grad = ember.ones_like(p)
    opt.step()
    np.testing.assert_array_equal(state["state"][0]["exp_avg"].numpy(), before)


def test_load_errors():
    p = ember.zeros(3, requires_grad=True)
    q = ember.zeros(3, requires_grad=True)
    opt = ember.optim.SGD([p, q], lr=0.1)
    other = ember.optim.SGD([{"params": [p]}, {"params": [q]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(other.state_dict())
    single = ember.optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(single.state_dict())


def test_step_state_is_float_tensor_like_torch():
    for lib in (ember, torch):
        w = lib.ones(3, requires_grad=True)
        opt = lib.optim.Adam([w])
        w.sum().backward()
        opt.step()
        step = opt.state[w]["step"]
        assert isinstance(step, lib.Tensor)
        assert str(step.dtype) == "torch.float32" and step.dim() == 0


def test_sgd_without_momentum_keeps_no_state():
    w = ember.ones(3, requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.1)
    w.sum().backward()
    opt.step()
    assert opt.state_dict()["state"] == {}


def test_adagrad_state_exists_before_first_step():
    ours = ember.optim.Adagrad([ember.ones(2, requires_grad=True)], initial_accumulator_value=.5)
    theirs = torch.optim.Adagrad([torch.ones(2, requires_grad=True)], initial_accumulator_value=.5)
    assert_same_structure(ours.state_dict(), theirs.state_dict(), 0, 0)


def test_update_is_in_place_and_bumps_version_once():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    data = w._data
    opt = ember.optim.Adam([w], lr=0.1, weight_decay=0.1, amsgrad=True)
    (w * w).sum().backward()
    v0 = w._version[0]
    opt.step()
    assert w._data is data
    assert w._version[0] == v0 + 1
    assert w.grad_fn is None and w.requires_grad


def test_params_without_grad_are_skipped():
    a = ember.ones(2, requires_grad=True)
    b = ember.ones(2, requires_grad=True)
    opt = ember.optim.Adam([a, b], lr=0.1)
    a.sum().backward()
    opt.step()
    np.testing.assert_array_equal(b.detach().numpy(), [1.0, 1.0])
    assert b not in opt.state and a in opt.state


def test_zero_grad():
    w = ember.ones(2, requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.1)
    w.sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None


def test_closure_runs_with_grad_enabled():
    w = ember.tensor([3.0], requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with ember.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 9.0
    np.testing.assert_allclose(w.detach().numpy(), [3.0 - 0.1 * 6.0])


def test_add_param_group_and_defaults():
    a = ember.ones(2, requires_grad=True)
    b = ember.ones(3, requires_grad=True)
    opt = ember.optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["params"][0] is b
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_named_parameters_are_kept_in_state_dict():
    for lib in (ember, torch):
        w = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([("weight", w)], lr=0.1)
        assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight"]


@pytest.mark.parametrize("make,exc,msg", [
    (lambda lib: lib.optim.SGD(lib.ones(2, requires_grad=True), lr=0.1), TypeError,
     "should be an iterable of Tensors or dicts"),
    (lambda lib: lib.optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True) * 2], lr=0.1), ValueError,
     "non-leaf"),
    (lambda lib: lib.optim.SGD([1.0], lr=0.1), TypeError, "can only optimize Tensors"),
    (lambda lib: lib.optim.SGD([{"params": {lib.ones(2, requires_grad=True)}}], lr=0.1),
     TypeError,
     "ordered collections"),
    (lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=-1.0), ValueError,
     "Invalid learning rate"),
    (lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=0.1, nesterov=True),
     ValueError, "Nesterov momentum requires"),
    (lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], betas=(1.0, 0.9)),
     ValueError, "Invalid beta parameter at index 0"),
    (lambda lib: lib.optim.RMSprop([lib.ones(2, requires_grad=True)], alpha=-1), ValueError,
     "Invalid alpha value"),
    (lambda lib: lib.optim.Adadelta([lib.ones(2, requires_grad=True)], rho=2), ValueError,
     "Invalid rho value"),
    (lambda lib: lib.optim.LBFGS([{"params": [lib.ones(2, requires_grad=True)]},
                                  {"params": [lib.ones(2, requires_grad=True)]}]),
     ValueError, "doesn't support per-parameter options"),
])
def test_errors_match_torch(make, exc, msg):
    for lib in (torch, ember):
        with pytest.raises(exc, match=msg):
            make(lib)


def test_step_hooks():
    w = ember.ones(2, requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    w.sum().backward()
    opt.step()
    h1.remove()
    opt.step()
    assert calls == ["pre", "post", "post"]


def test_repr_matches_torch():
    ours = ember.optim.SGD([ember.ones(2, requires_grad=True)], lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD([torch.ones(2, requires_grad=True)], lr=0.1, momentum=0.9)
    assert repr(ours) == repr(theirs)


def test_pickle_and_deepcopy_round_trip():
    _, opt, params = run(ember, "Adam", {"lr": 0.01}, "float64", steps=3)
    clone = copy.deepcopy(opt)
    assert_same_structure(clone.state_dict(), to_torch(opt.state_dict()), 0, 0)
    blob = pickle.loads(pickle.dumps(opt.state_dict()))
    assert_same_structure(blob, to_torch(opt.state_dict()), 0, 0)


def test_tensor_lr_and_complex_params():
    # lr given as a 1-element tensor (float64: torch then computes the step size in float64,
    # as from a Python float); a complex parameter is updated on its (re, im) pairs.
    values = np.array([1 + 2j, -0.5 + 0.25j])
    results = []
    for lib in (ember, torch):
        z = lib.tensor(values, dtype=lib.complex128).requires_grad_(True)
        opt = lib.optim.Adam([z], lr=lib.tensor([0.1], dtype=lib.float64))
        for _ in range(3):
            opt.zero_grad()
            z.grad = z.detach() * 2
            opt.step()
        results.append(z.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_user_defined_optimizer_in_torch_style():
    # A custom optimizer written against torch's API runs unchanged on ember.
    def make(lib):
        class SignSGD(lib.optim.Optimizer):
            def __init__(self, params, lr=0.01):
                super().__init__(params, {"lr": lr})

            @lib.no_grad()
            def step(self, closure=None):
                for group in self.param_groups:
                    for p in group["params"]:
                        if p.grad is None:
                            continue
                        state = self.state[p]
                        if "count" not in state:
                            state["count"] = lib.zeros_like(p)
                        state["count"].add_(1)
                        p.add_(p.grad.sign(), alpha=-group["lr"])
        return SignSGD

    results = []
    for lib in (ember, torch):
        w = lib.tensor([0.5, -0.25, 2.0], dtype=lib.float64, requires_grad=True)
        opt = make(lib)([w], lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            (w * w * w).sum().backward()
            opt.step()
        results.append((w.detach().numpy(), opt.state_dict()))
    np.testing.assert_allclose(results[0][0], results[1][0])
    assert_same_structure(results[0][1], results[1][1], 0, 0)
