"""The one helper that checks ember against real torch (the oracle).

A case is a function ``fn(lib, *tensors, **kw)`` written once against the torch API and called
with ``lib=torch`` and ``lib=ember`` on the same random inputs. ``check`` compares forward values,
dtypes and shapes, and the gradients of a random projection of the output(s); ``gradcheck_case``
runs ember's float64 numerical gradcheck on the same function.

Primitive coverage: every test module named ``specs_*.py`` under ``tests/`` exposes
``SPECS: dict[str, list[Case]]`` keyed by registered primitive name; ``tests/test_registry.py``
fails when a registered primitive has no case there.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Any, Callable, Sequence

import numpy as np
import torch

import ember

# The backend under test: EMBER_TEST_DEVICE=cuda runs every oracle case with ember's inputs on
# the GPU (CuPy); torch stays on the CPU as the reference.
DEVICE = os.environ.get("EMBER_TEST_DEVICE", "cpu")
if DEVICE == "cuda":
    # Float32 convolutions on CUDA default to TF32 (as in torch); the oracle's float32
    # tolerances assume full float32, as torch's own tests switch TF32 off.
    ember.backends.cudnn.allow_tf32 = False

FLOAT_TOL = {"float64": (1e-10, 1e-10), "float32": (1e-5, 1e-5), "float16": (2e-2, 2e-2),
             "bfloat16": (5e-2, 5e-2)}


@dataclasses.dataclass
class Case:
    """One oracle case.

    fn: ``fn(lib, *tensors)`` using only the torch API (``lib`` is torch or ember).
    inputs: one entry per tensor argument: a shape tuple (random normal values), or a callable
        ``rng -> np.ndarray`` for special values (indices, masks, positive numbers...).
    dtypes: float dtypes to run the float inputs in (integer/bool inputs keep their dtype).
    grad: check gradients (float inputs get requires_grad).
    gradcheck: run float64 numerical gradcheck with ember.
    tol: (rtol, atol) override for float32.
    non_contiguous: also run with float inputs made non-contiguous (transposed twice).
    """

    fn: Callable
    inputs: Sequence[Any]
    dtypes: Sequence[str] = ("float32", "float64")
    grad: bool = True
    gradcheck: bool = True
    tol: tuple | None = None
    non_contiguous: bool = True
    name: str = ""


def make_arrays(case: Case, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for spec in case.inputs:
        if callable(spec):
            out.append(np.asarray(spec(rng)))
        else:
            out.append(rng.standard_normal(spec))
    return out


def _to_lib(lib, arr: np.ndarray, dtype: str, requires_grad: bool, non_contiguous: bool):
    is_float = arr.dtype.kind == "f"
    if is_float:
        arr64 = arr.astype(np.float64)
        t = lib.tensor(arr64, dtype=getattr(lib, "float64"))
        t = t.to(getattr(lib, dtype))
    else:
        t = lib.tensor(arr)
    if lib is ember and DEVICE != "cpu":
        t = t.to(DEVICE)
    if non_contiguous and t.dim() >= 2:
        t = t.transpose(0, 1).contiguous().transpose(0, 1)
    if is_float and requires_grad:
        t = t.detach().requires_grad_(True)
    return t


def _outs(x):
    if isinstance(x, (tuple, list)):
        res = []
        for v in x:
            res.extend(_outs(v))
        return res
    return [x]


def _np(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.numpy()
    t = t.detach().cpu()
    return np.asarray(t.float().numpy() if t.dtype is ember.bfloat16 else t.numpy())


def _dtype_name(t) -> str:
    return str(t.dtype).replace("torch.", "")


def assert_close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float, what: str) -> None:
    assert a.shape == b.shape, f"{what}: shape {a.shape} (ember) != {b.shape} (torch)"
    if a.dtype.kind in "biu" or b.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b, err_msg=what)
        return
    np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol,
                               equal_nan=True, err_msg=what)


def check(case: Case, dtype: str = "float32", seed: int = 0, non_contiguous: bool = False):
    """Run ``case`` under torch and ember and compare outputs and gradients."""
    arrays = make_arrays(case, seed)
    rtol, atol = case.tol if (case.tol and dtype == "float32") else FLOAT_TOL[dtype]
    if case.tol and dtype in ("float16", "bfloat16"):
        rtol, atol = max(rtol, case.tol[0]), max(atol, case.tol[1])
    tin = [_to_lib(torch, a, dtype, case.grad, non_contiguous) for a in arrays]
    ein = [_to_lib(ember, a, dtype, case.grad, non_contiguous) for a in arrays]
    tout = _outs(case.fn(torch, *tin))
    eout = _outs(_call_on_device(case.fn, ein))
    assert len(tout) == len(eout), f"{len(eout)} outputs (ember) != {len(tout)} (torch)"
    for i, (t, e) in enumerate(zip(tout, eout)):
        if not isinstance(t, torch.Tensor):
            assert t == e or (isinstance(t, float) and abs(t - e) <= atol + rtol * abs(t)), \
                f"output {i}: {e} (ember) != {t} (torch)"
            continue
        assert _dtype_name(e) == _dtype_name(t), \
            f"output {i}: dtype {e.dtype} (ember) != {t.dtype} (torch)"
        assert tuple(e.shape) == tuple(t.shape), \
            f"output {i}: shape {tuple(e.shape)} (ember) != {tuple(t.shape)} (torch)"
        assert_close(_np(e), _np(t), rtol, atol, f"output {i}")
    if not case.grad:
        return
    diff = [(t, e) for t, e in zip(tout, eout)
            if isinstance(t, torch.Tensor) and t.requires_grad]
    if not diff:
        return
    rng = np.random.default_rng(seed + 1)
    t_loss = 0
    e_loss = 0
    for t, e in diff:
        w = rng.standard_normal(tuple(t.shape))
        t_loss = t_loss + (t.double() * torch.tensor(w)).sum()
        e_loss = e_loss + (e.double() * ember.tensor(w, device=e.device)).sum()
    t_leaves = [x for x in tin if x.requires_grad]
    e_leaves = [x for x in ein if x.requires_grad]
    tg = torch.autograd.grad(t_loss, t_leaves, allow_unused=True)
    eg = ember.autograd.grad(e_loss, e_leaves, allow_unused=True)
    for i, (a, b) in enumerate(zip(eg, tg)):
        if b is None:
            assert a is None or not np.any(_np(a)), f"grad {i}: ember has one, torch has none"
            continue
        assert a is not None, f"grad {i}: ember returned None, torch did not"
        assert _dtype_name(a) == _dtype_name(b), f"grad {i}: dtype {a.dtype} != {b.dtype}"
        assert_close(_np(a), _np(b), rtol * 10, atol * 10, f"grad {i}")


def _call_on_device(fn, ein):
    """Call a spec's function with ember, making tensors it creates itself (weights, running
    stats, masks) on the device under test too."""
    if DEVICE == "cpu":
        return fn(ember, *ein)
    ember.set_default_device(DEVICE)
    try:
        return fn(ember, *ein)
    finally:
        ember.set_default_device(None)


# Device-aware tests: ember-side tensors and modules go through these, so that the same test
# runs on the CPU and, with EMBER_TEST_DEVICE=cuda, on the GPU; values come back to the host
# (``to_numpy``) before they are compared with torch's.

def on_device(x):
    """``x`` (an ember tensor or module) on the device under test; unchanged on the CPU."""
    return x if DEVICE == "cpu" else x.to(DEVICE)


def dev_tensor(data, **kw) -> ember.Tensor:
    """``ember.tensor(data, **kw)`` made on the device under test."""
    return ember.tensor(data, device=DEVICE, **kw)


def to_numpy(t) -> np.ndarray:
    """Host NumPy values of an ember or torch tensor: detached, copied off the GPU, bfloat16
    widened to float32 (NumPy has no bfloat16)."""
    return _np(t)


@contextlib.contextmanager
def device_default():
    """Inside, ember's factories (tensor, zeros, randn, ...) and module constructors put what
    they make on the device under test, as ``torch.set_default_device`` does."""
    if DEVICE == "cpu":
        yield DEVICE
        return
    prev = ember.get_default_device()
    ember.set_default_device(DEVICE)
    try:
        yield DEVICE
    finally:
        # get_default_device() reports the CPU when none was set: restore "none set" then.
        ember.set_default_device(None if prev.type == "cpu" else prev)


def gradcheck_case(case: Case, seed: int = 0) -> None:
    """float64 numerical gradcheck of ember on the case's function."""
    arrays = make_arrays(case, seed)
    ins = [_to_lib(ember, a, "float64", True, False) for a in arrays]
    if not any(getattr(x, "requires_grad", False) for x in ins):
        return

    def f(*xs):
        out = _outs(_call_on_device(case.fn, xs))
        return tuple(o for o in out if isinstance(o, ember.Tensor) and o.dtype.is_floating_point)
    assert ember.autograd.gradcheck(f, tuple(ins), eps=1e-6, atol=1e-5, rtol=1e-3)


def collect_specs() -> dict[str, list[Case]]:
    """Merge SPECS from every tests/**/specs_*.py module."""
    import importlib.util
    import pathlib
    merged: dict[str, list[Case]] = {}
    root = pathlib.Path(__file__).parent
    for path in sorted(root.rglob("specs_*.py")):
        spec = importlib.util.spec_from_file_location(f"_specs_{path.stem}_{abs(hash(path))}",
                                                      path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for k, v in mod.SPECS.items():
            merged.setdefault(k, []).extend(v)
    return merged
