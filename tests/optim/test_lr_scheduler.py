"""Every scheduler's lr sequence (and momentum, where cycled) over 30 steps equals torch's,
state_dict keys/values equal torch's, and a reloaded scheduler continues identically."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from optim_helpers import assert_same_structure

import ember
import torch


def make_opt(lib, kind="SGD"):
    a = lib.ones(3, requires_grad=True)
    b = lib.ones(2, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.02}]
    if kind == "Adam":
        return lib.optim.Adam(groups, lr=0.1)
    return lib.optim.SGD(groups, lr=0.1, momentum=0.9)


def S(lib):
    return lib.optim.lr_scheduler


PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.7, 0.7, 0.71,
                   0.72, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.5, 0.5, 0.55, 0.5, 0.5, 0.5, 0.5,
                   0.49, 0.49, 0.49]

SCHEDULERS = {
    "StepLR": lambda lib, o: S(lib).StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda lib, o: S(lib).MultiStepLR(o, milestones=[3, 10, 10, 20], gamma=0.3),
    "ExponentialLR": lambda lib, o: S(lib).ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda lib, o: S(lib).CosineAnnealingLR(o, T_max=10, eta_min=0.01),
    "CosineAnnealingWarmRestarts": lambda lib, o: S(lib).CosineAnnealingWarmRestarts(
        o, T_0=5, T_mult=2, eta_min=0.001),
    "CosineAnnealingWarmRestarts-T_mult1": lambda lib, o: S(lib).CosineAnnealingWarmRestarts(
        o, T_0=4),
    "LambdaLR": lambda lib, o: S(lib).LambdaLR(o, lr_lambda=lambda e: 0.95 ** e),
    "LambdaLR-list": lambda lib, o: S(lib).LambdaLR(
        o, lr_lambda=[lambda e: 1 / (e + 1), lambda e: 0.5 + 0.1 * (e % 3)]),
    "MultiplicativeLR": lambda lib, o: S(lib).MultiplicativeLR(o, lr_lambda=lambda e: 0.9),
    "LinearLR": lambda lib, o: S(lib).LinearLR(o, start_factor=0.2, end_factor=0.9,
                                               total_iters=12),
    "ConstantLR": lambda lib, o: S(lib).ConstantLR(o, factor=0.25, total_iters=6),
    "PolynomialLR": lambda lib, o: S(lib).PolynomialLR(o, total_iters=20, power=2.0),
    "OneCycleLR": lambda lib, o: S(lib).OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=30),
    "OneCycleLR-linear-3phase": lambda lib, o: S(lib).OneCycleLR(
        o, max_lr=0.8, epochs=3, steps_per_epoch=10, anneal_strategy="linear",
        three_phase=True, pct_start=0.25),
    "CyclicLR-triangular2": lambda lib, o: S(lib).CyclicLR(
        o, base_lr=0.01, max_lr=[0.1, 0.05], step_size_up=4, step_size_down=3,
        mode="triangular2"),
    "CyclicLR-exp_range": lambda lib, o: S(lib).CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.97),
    "SequentialLR": lambda lib, o: S(lib).SequentialLR(
        o, schedulers=[S(lib).LinearLR(o, start_factor=0.1, total_iters=5),
                       S(lib).ExponentialLR(o, gamma=0.9)], milestones=[5]),
    "SequentialLR-3": lambda lib, o: S(lib).SequentialLR(
        o, schedulers=[S(lib).ConstantLR(o, factor=0.5, total_iters=3),
                       S(lib).CosineAnnealingLR(o, T_max=8),
                       S(lib).StepLR(o, step_size=4, gamma=0.5)], milestones=[4, 14]),
    "ChainedScheduler": lambda lib, o: S(lib).ChainedScheduler(
        [S(lib).ConstantLR(o, factor=0.5, total_iters=4), S(lib).ExponentialLR(o, gamma=0.95)]),
    "ReduceLROnPlateau": lambda lib, o: S(lib).ReduceLROnPlateau(o, patience=2, factor=0.5),
    "ReduceLROnPlateau-max-abs": lambda lib, o: S(lib).ReduceLROnPlateau(
        o, mode="max", threshold_mode="abs", threshold=0.01, patience=1, cooldown=2,
        min_lr=[0.02, 0.001], factor=0.3),
}


def run_schedule(lib, name, steps=30, kind="SGD", sched_state=None):
    opt = make_opt(lib, kind)
    sched = SCHEDULERS[name](lib, opt)
    if sched_state is not None:
        sched.load_state_dict(sched_state)
    record = []
    for i in range(steps):
        opt.step()
        if name.startswith("ReduceLROnPlateau"):
            metric = PLATEAU_METRICS[i]
            sched.step(-metric if "max" in name else metric)
        else:
            sched.step()
        groups = opt.param_groups
        record.append((list(sched.get_last_lr()), [g["lr"] for g in groups],
                       [g.get("momentum", g.get("betas")) for g in groups]))
    return record, sched, opt


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_lr_sequence_matches_torch(name):
    ours, e_sched, _ = run_schedule(ember, name)
    theirs, t_sched, _ = run_schedule(torch, name)
    # Same recurrences, same Python float arithmetic: the sequences are equal bit for bit.
    assert ours == theirs
    # The schedule must actually change the lr, or the comparison proves nothing.
    assert len({tuple(r[0]) for r in theirs}) >= 2
    assert_same_structure(e_sched.state_dict(), t_sched.state_dict(), 0, 0)


@pytest.mark.parametrize("name", ["OneCycleLR", "CyclicLR-triangular2"])
def test_momentum_cycling_with_adam_betas(name):
    ours, _, _ = run_schedule(ember, name, kind="Adam")
    theirs, _, _ = run_schedule(torch, name, kind="Adam")
    assert ours == theirs


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingWarmRestarts", "SequentialLR-3",
                                  "ChainedScheduler", "ReduceLROnPlateau", "OneCycleLR",
                                  "LinearLR", "CyclicLR-exp_range"])
def test_state_dict_resume(name):
    # 12 steps, save, rebuild from the saved dicts (ember's own and torch's), 18 more steps.
    full, _, _ = run_schedule(ember, name, steps=30)
    first, sched, opt = run_schedule(ember, name, steps=12)
    assert first == full[:12]
    for saved in (sched.state_dict(), torch_state(name)):
        opt2 = make_opt(ember)
        sched2 = SCHEDULERS[name](ember, opt2)
        sched2.load_state_dict(saved)
        for g2, g in zip(opt2.param_groups, opt.param_groups):
            g2.update({k: v for k, v in g.items() if k != "params"})
        rest = []
        for i in range(12, 30):
            opt2.step()
            if name.startswith("ReduceLROnPlateau"):
                sched2.step(PLATEAU_METRICS[i])
            else:
                sched2.step()
            rest.append(list(sched2.get_last_lr()))
        assert rest == [r[0] for r in full[12:]]


def torch_state(name):
    _, sched, _ = run_schedule(torch, name, steps=12)
    return sched.state_dict()


def test_initial_lr_and_base_lrs():
    for lib in (ember, torch):
        opt = make_opt(lib)
        sched = S(lib).StepLR(opt, step_size=2)
        assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
        assert sched.base_lrs == [0.1, 0.02]
        assert sched.last_epoch == 0 and sched.get_last_lr() == [0.1, 0.02]


def test_resume_without_initial_lr_raises():
    for lib in (ember, torch):
        with pytest.raises(KeyError, match="initial_lr"):
            S(lib).StepLR(make_opt(lib), step_size=2, last_epoch=3)


def test_explicit_epoch_uses_closed_form():
    epochs = [0, 3, 7, 8, 20, 5]
    results = []
    for lib in (ember, torch):
        opt = make_opt(lib)
        sched = S(lib).StepLR(opt, step_size=4, gamma=0.5)
        seq = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in epochs:
                sched.step(e)
                seq.append(sched.get_last_lr())
        results.append(seq)
    assert results[0] == results[1]


def test_warns_when_scheduler_steps_before_optimizer():
    opt = make_opt(ember)
    sched = S(ember).StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()


def test_no_warning_in_the_right_order():
    opt = make_opt(ember)
    sched = S(ember).ExponentialLR(opt, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()
    assert sched.get_last_lr() == [0.05, 0.01]


@pytest.mark.parametrize("make,exc", [
    (lambda lib: S(lib).ReduceLROnPlateau(make_opt(lib), factor=1.5), ValueError),
    (lambda lib: S(lib).ReduceLROnPlateau(make_opt(lib), mode="mid"), ValueError),
    (lambda lib: S(lib).LinearLR(make_opt(lib), start_factor=0), ValueError),
    (lambda lib: S(lib).OneCycleLR(make_opt(lib), max_lr=0.1), ValueError),
    (lambda lib: S(lib).CosineAnnealingWarmRestarts(make_opt(lib), T_0=0), ValueError),
    (lambda lib: S(lib).StepLR(object(), step_size=1), TypeError),
    (lambda lib: S(lib).LambdaLR(make_opt(lib), lr_lambda=[lambda e: 1.0]), ValueError),
])
def test_errors_match_torch(make, exc):
    for lib in (ember, torch):
        with pytest.raises(exc):
            make(lib)


def test_onecycle_too_many_steps():
    for lib in (ember, torch):
        opt = make_opt(lib)
        sched = S(lib).OneCycleLR(opt, max_lr=0.1, total_steps=3)
        for _ in range(3):
            opt.step()
            sched.step()
        with pytest.raises(ValueError, match="Tried to step 4 times"):
            sched.step()


def test_lr_as_tensor_is_updated_in_place():
    for lib in (ember, torch):
        w = lib.ones(2, requires_grad=True)
        lr = lib.tensor(0.1, dtype=lib.float64)
        opt = lib.optim.SGD([w], lr=lr)
        sched = S(lib).ExponentialLR(opt, gamma=0.5)
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] is lr
        assert np.isclose(float(lr), 0.05)
