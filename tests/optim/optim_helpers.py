"""Shared pieces of the optimizer tests: one objective written once against the torch API and
run with ``lib=torch`` and ``lib=ember``, and converters of state dicts between the two."""
from __future__ import annotations

import contextlib

import numpy as np
import torch

import ember
from oracle import device_default, to_numpy

SHAPES = {"w1": (4, 5), "b1": (5,), "w2": (5, 3)}


def initial_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) * 0.5 for k, s in SHAPES.items()}


def data(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 4)), rng.standard_normal((8, 3))


def make_params(lib, arrays: dict[str, np.ndarray], dtype: str) -> list:
    return [lib.tensor(arrays[k], dtype=getattr(lib, dtype)).requires_grad_(True)
            for k in SHAPES]


def objective(lib, params: list, x, y):
    """A tiny tanh MLP regression loss plus a quartic penalty (smooth, non-quadratic)."""
    w1, b1, w2 = params
    h = lib.tanh(x @ w1 + b1)
    err = h @ w2 - y
    return (err * err).mean() + 0.01 * (w1 ** 4).sum()


def numpy_grads(values: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """The analytic float64 gradient of ``objective`` (same for both libraries)."""
    w1, b1, w2 = values
    h = np.tanh(x @ w1 + b1)
    err = h @ w2 - y
    d_err = 2 * err / err.size
    dz = (d_err @ w2.T) * (1 - h * h)
    return [x.T @ dz + 0.04 * w1 ** 3, dz.sum(0), h.T @ d_err]


def run(lib, opt_cls_name: str, kwargs: dict, dtype: str, steps: int = 20,
        groups: bool = False, arrays=None, opt_state=None, grad_source: str = "autograd"):
    """Run ``steps`` optimizer steps; returns (trajectory of flat param arrays, opt, params).

    ``grad_source="autograd"`` differentiates ``objective`` with the library's autograd;
    ``"numpy"`` sets ``.grad`` to the float64 analytic gradient (rounded to ``dtype``), so that
    float32 runs compare the optimizers' arithmetic alone, not two autograd engines.
    """
    arrays = initial_arrays() if arrays is None else arrays
    # ember's parameters, data and gradients on the device under test.
    with device_default() if lib is ember else contextlib.nullcontext():
        return _run(lib, opt_cls_name, kwargs, dtype, steps, groups, arrays, opt_state,
                    grad_source)


def _run(lib, opt_cls_name, kwargs, dtype, steps, groups, arrays, opt_state, grad_source):
    params = make_params(lib, arrays, dtype)
    xa, ya = data()
    x = lib.tensor(xa, dtype=getattr(lib, dtype))
    y = lib.tensor(ya, dtype=getattr(lib, dtype))
    cls = getattr(lib.optim, opt_cls_name)
    if groups:
        lr = kwargs.get("lr", 1e-2)
        opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": lr * 0.5}], **kwargs)
    else:
        opt = cls(params, **kwargs)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        if grad_source == "autograd":
            loss = objective(lib, params, x, y)
            loss.backward()
        else:
            values = [to_numpy(p).astype(np.float64) for p in params]
            for p, g in zip(params, numpy_grads(values, xa, ya)):
                p.grad = lib.tensor(g, dtype=getattr(lib, dtype))
        opt.step()
        traj.append(np.concatenate([to_numpy(p).astype(np.float64).ravel()
                                    for p in params]))
    return np.stack(traj), opt, params


def to_ember(value):
    """Convert a (nested) torch state dict into ember tensors, keeping dtypes."""
    if isinstance(value, torch.Tensor):
        return ember.tensor(value.detach().numpy(), dtype=getattr(ember, str(value.dtype)[6:]))
    if isinstance(value, dict):
        return {k: to_ember(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_ember(v) for v in value)
    return value


def to_torch(value):
    """Convert a (nested) ember state dict into torch tensors, keeping dtypes."""
    if isinstance(value, ember.Tensor):
        return torch.tensor(to_numpy(value), dtype=getattr(torch, str(value.dtype)[6:]))
    if isinstance(value, dict):
        return {k: to_torch(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_torch(v) for v in value)
    return value


def assert_same_structure(ours, theirs, rtol: float, atol: float, path: str = "") -> None:
    """Same nested keys/types as torch's state dict; tensors equal in dtype, shape and value."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, ember.Tensor), f"{path}: {type(ours)} is not a Tensor"
        assert str(ours.dtype) == str(theirs.dtype), f"{path}: {ours.dtype} vs {theirs.dtype}"
        assert tuple(ours.shape) == tuple(theirs.shape), path
        np.testing.assert_allclose(to_numpy(ours), theirs.numpy(), rtol=rtol, atol=atol,
                                   err_msg=path)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict), path
        assert list(ours.keys()) == list(theirs.keys()), f"{path}: {list(ours)} vs {list(theirs)}"
        for k in theirs:
            assert_same_structure(ours[k], theirs[k], rtol, atol, f"{path}/{k}")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same_structure(a, b, rtol, atol, f"{path}[{i}]")
    elif isinstance(theirs, float):
        assert ours == theirs or abs(ours - theirs) <= atol + rtol * abs(theirs), path
    else:
        assert ours == theirs, f"{path}: {ours!r} vs {theirs!r}"


TOL = {"float64": (1e-10, 1e-12), "float32": (1e-5, 1e-6)}


def assert_trajectories_close(ours: np.ndarray, theirs: np.ndarray, dtype: str) -> None:
    """float64: elementwise rtol 1e-10. float32: error relative to each step's parameter scale
    below 1e-5. torch's CPU kernels fuse ``a + alpha * b`` into one FMA (one rounding) where
    NumPy rounds twice, so float32 runs differ by an ulp at the first step and the dynamics
    (RMSprop's early ``g / sqrt(v)`` steps especially) can grow that near parameters that cross
    zero; the scale-relative bound keeps 1e-5 while ignoring where a parameter passes 0."""
    if dtype == "float64":
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
        return
    scale = np.abs(theirs).max(axis=1)
    err = np.abs(ours - theirs).max(axis=1) / scale
    assert err.max() < 1e-5, f"relative error per step: {err}"
