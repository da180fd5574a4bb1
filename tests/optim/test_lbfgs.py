"""LBFGS with a closure on Rosenbrock functions, with and without the strong-Wolfe line
search, against torch: parameters and returned losses after every ``step``, and the state."""
from __future__ import annotations

import numpy as np
import pytest

from optim_helpers import assert_same_structure, to_ember

import ember
import torch


def rosenbrock(lib, params):
    """The n-dimensional Rosenbrock function over the concatenation of ``params``."""
    x = lib.cat([p.reshape(-1) for p in params])
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


START = [np.array([-1.5, 2.0]), np.array([[0.5, -0.7], [1.2, 0.3]])]


def run_lbfgs(lib, kwargs, dtype="float64", steps=4, state=None, start=START):
    params = [lib.tensor(a, dtype=getattr(lib, dtype)).requires_grad_(True) for a in start]
    opt = lib.optim.LBFGS(params, **kwargs)
    if state is not None:
        opt.load_state_dict(state)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(lib, params)
        loss.backward()
        return loss

    losses, traj = [], []
    for _ in range(steps):
        losses.append(opt.step(closure).item())
        traj.append(np.concatenate([p.detach().numpy().astype(np.float64).ravel()
                                    for p in params]))
    return np.array(losses), np.stack(traj), opt


CONFIGS = [
    {"lr": 1, "line_search_fn": "strong_wolfe"},
    {"lr": 1, "line_search_fn": "strong_wolfe", "history_size": 3, "max_iter": 10},
    {"lr": 0.5, "line_search_fn": "strong_wolfe", "max_eval": 8},
    {"lr": 2e-4, "history_size": 5},
    {"lr": 1e-3, "max_iter": 7, "history_size": 2},
]


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_lbfgs_matches_torch_float64(kwargs):
    ours_loss, ours, e_opt = run_lbfgs(ember, kwargs)
    theirs_loss, theirs, t_opt = run_lbfgs(torch, kwargs)
    np.testing.assert_allclose(ours_loss, theirs_loss, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert np.abs(theirs[-1] - theirs[0]).max() > 1e-3
    e_state = e_opt.state_dict()["state"][0]
    t_state = t_opt.state_dict()["state"][0]
    assert e_state["func_evals"] == t_state["func_evals"]
    assert e_state["n_iter"] == t_state["n_iter"]
    assert sorted(e_state) == sorted(t_state)


def test_lbfgs_strong_wolfe_converges_like_torch():
    # From this start the 6-d Rosenbrock function settles in its local minimum (about 3.97).
    ours_loss, ours, _ = run_lbfgs(ember, {"line_search_fn": "strong_wolfe"}, steps=10)
    theirs_loss, theirs, _ = run_lbfgs(torch, {"line_search_fn": "strong_wolfe"}, steps=10)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours_loss, theirs_loss, rtol=1e-8)
    assert ours_loss[-1] < 4.0 < ours_loss[0]


def test_lbfgs_2d_rosenbrock_reaches_minimum():
    start = [np.array([-1.2, 1.0])]
    ours_loss, ours, _ = run_lbfgs(ember, {"line_search_fn": "strong_wolfe"}, steps=5,
                                   start=start)
    _, theirs, _ = run_lbfgs(torch, {"line_search_fn": "strong_wolfe"}, steps=5, start=start)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours[-1], [1.0, 1.0], atol=1e-4)


def test_lbfgs_float32_matches_torch():
    kwargs = {"line_search_fn": "strong_wolfe", "max_iter": 5}
    _, ours, _ = run_lbfgs(ember, kwargs, dtype="float32", steps=2)
    _, theirs, _ = run_lbfgs(torch, kwargs, dtype="float32", steps=2)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_lbfgs_resumes_from_torch_state():
    kwargs = {"lr": 1, "line_search_fn": "strong_wolfe", "max_iter": 4}
    _, traj, t_opt = run_lbfgs(torch, kwargs, steps=1)
    x = traj[-1]
    start = [x[:2].copy(), x[2:].reshape(2, 2).copy()]
    saved = t_opt.state_dict()
    _, ours, e_opt = run_lbfgs(ember, kwargs, steps=3, state=to_ember(saved), start=start)
    _, theirs, t2 = run_lbfgs(torch, kwargs, steps=3, state=saved, start=start)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert_same_structure(e_opt.state_dict(), t2.state_dict(), rtol=1e-8, atol=1e-10)


def test_lbfgs_needs_closure_and_stops_at_optimum():
    x = ember.tensor([1.0, 1.0], dtype=ember.float64, requires_grad=True)
    opt = ember.optim.LBFGS([x])
    with pytest.raises(RuntimeError):
        opt.step(None)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(ember, [x])
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 0.0
    assert opt.state[x]["func_evals"] == 1
