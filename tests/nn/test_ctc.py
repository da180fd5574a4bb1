"""CTC loss: nn.CTCLoss and edge cases against torch (the primitive's oracle cases in
specs_ctc.py run from test_nn_oracle.py)."""
from __future__ import annotations

import itertools
import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

import ember  # noqa: E402
import ember.nn as enn  # noqa: E402
from oracle import DEVICE, dev_tensor, to_numpy  # noqa: E402

# ------------------------------------------------------------------------ module vs torch
def _pair(x: np.ndarray, dtype: str = "float64"):
    t = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    e = dev_tensor(x, dtype=getattr(ember, dtype), requires_grad=True)
    return t, e


def _run_module(kw, x, targets, il, tl, dtype="float64", as_tensors=False, seed=0):
    t_x, e_x = _pair(x, dtype)
    t_mod, e_mod = torch.nn.CTCLoss(**kw), enn.CTCLoss(**kw)
    t_tg, e_tg = torch.tensor(targets), dev_tensor(targets)
    if as_tensors:
        t_il, t_tl = torch.tensor(il), torch.tensor(tl)
        e_il, e_tl = dev_tensor(il), dev_tensor(tl)
    else:
        t_il = e_il = il
        t_tl = e_tl = tl
    t_loss = t_mod(t_x.log_softmax(-1), t_tg, t_il, t_tl)
    e_loss = e_mod(e_x.log_softmax(-1), e_tg, e_il, e_tl)
    w = np.random.default_rng(seed).standard_normal(tuple(t_loss.shape))
    (t_loss * torch.tensor(w, dtype=t_loss.dtype)).sum().backward()
    (e_loss * dev_tensor(w, dtype=e_loss.dtype)).sum().backward()
    return t_loss, e_loss, t_x.grad, e_x.grad


def _assert_pair(t, e, tol):
    assert e.device.type == DEVICE  # losses and gradients stay on the inputs' device
    a, b = to_numpy(e), t.detach().numpy()
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("concat", [False, True])
@pytest.mark.parametrize("as_tensors", [False, True])
def test_module_random_batch(reduction, concat, as_tensors):
    rng = np.random.default_rng(7)
    n_t, n_b, n_c, s = 40, 5, 6, 12
    x = rng.standard_normal((n_t, n_b, n_c)) * 2
    tl = [12, 0, 7, 3, 10]
    il = [40, 31, 17, 5, 40]
    padded = rng.integers(1, 3, (n_b, s))  # two classes only: many repeated labels
    targets = (np.concatenate([padded[i, :n] for i, n in enumerate(tl)]) if concat
               else padded)
    res = _run_module({"reduction": reduction}, x, targets, il, tl, as_tensors=as_tensors)
    t_loss, e_loss, t_g, e_g = res
    assert np.isfinite(t_loss.detach().numpy()).all()
    _assert_pair(t_loss, e_loss, 1e-6)
    _assert_pair(t_g, e_g, 1e-6)


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_module_infeasible(zero_infinity):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 3, 5))
    # "4 4 4" needs 5 frames, "1 2" gets 1 frame: both infeasible; sample 1 is fine.
    targets = np.array([[4, 4, 4], [1, 3, 2], [1, 2, 0]])
    res = _run_module({"reduction": "none", "zero_infinity": zero_infinity}, x, targets,
                      [4, 6, 1], [3, 3, 2])
    t_loss, e_loss, t_g, e_g = res
    assert np.isinf(t_loss.detach().numpy()).any() != zero_infinity
    _assert_pair(t_loss, e_loss, 1e-6)
    _assert_pair(t_g, e_g, 1e-6)


def test_module_float32_and_blank():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((30, 4, 7))
    targets = rng.integers(0, 6, (4, 9))  # blank is class 6
    res = _run_module({"blank": 6}, x, targets, [30, 29, 20, 11], [9, 5, 8, 1],
                      dtype="float32")
    for t, e in zip(res[::2], res[1::2]):
        assert to_numpy(e).dtype == np.float32
        _assert_pair(t, e, 1e-5)


def test_unbatched_module():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 5))
    t_x, e_x = _pair(x)
    for red in ("none", "mean"):
        # 0-d length tensors (torch refuses plain ints here).
        t_loss = torch.nn.CTCLoss(reduction=red)(t_x.log_softmax(-1), torch.tensor([1, 1, 3]),
                                                 torch.tensor(8), torch.tensor(3))
        e_loss = enn.CTCLoss(reduction=red)(e_x.log_softmax(-1), dev_tensor([1, 1, 3]),
                                            dev_tensor(8), dev_tensor(3))
        assert tuple(e_loss.shape) == () == tuple(t_loss.shape)
        _assert_pair(t_loss, e_loss, 1e-10)


# ------------------------------------------------------------------ gradient convention
def _brute_force_nll(lp, target, blank):
    """-log sum over every path of length T that collapses to ``target`` (torch autograd)."""
    n_t, n_c = lp.shape
    scores = []
    for path in itertools.product(range(n_c), repeat=n_t):
        out, prev = [], None
        for p in path:
            if p != prev and p != blank:
                out.append(p)
            prev = p
        if out == list(target):
            scores.append(sum(lp[t, path[t]] for t in range(n_t)))
    return -torch.logsumexp(torch.stack(scores), 0)


@pytest.mark.parametrize("target,blank", [([1, 1], 0), ([2, 1], 0), ([0], 2), ([], 0)])
def test_loss_and_torch_gradient_against_brute_force(target, blank):
    """The loss is the brute-force path sum; the gradient is exp(lp) + d(loss)/d(lp), torch's
    convention (the posterior term is the true derivative)."""
    n_t, n_c = 5, 3
    lp = np.random.default_rng(len(target) + blank).standard_normal((n_t, n_c))
    t_lp = torch.tensor(lp, requires_grad=True)
    nll = _brute_force_nll(t_lp, target, blank)
    (true_grad,) = torch.autograd.grad(nll, t_lp)
    e_lp = dev_tensor(lp[:, None, :], requires_grad=True)
    loss = ember.nn.functional.ctc_loss(e_lp, dev_tensor([target], dtype=ember.int64), [n_t],
                                        [len(target)], blank=blank, reduction="sum")
    loss.backward()
    np.testing.assert_allclose(float(to_numpy(loss)), nll.item(), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(e_lp.grad)[:, 0], np.exp(lp) + true_grad.numpy(),
                               rtol=1e-9, atol=1e-12)


def test_create_graph_first_order_and_no_second_derivative():
    """create_graph=True gives torch's first-order gradient; differentiating it again raises in
    both (torch implements no derivative of the CTC backward)."""
    x = np.random.default_rng(2).standard_normal((6, 2, 4))
    targets, il, tl = [[1, 2, 2], [3, 3, 0]], [6, 5], [3, 2]
    grads = []
    for lib, mk in ((torch, torch.tensor), (ember, dev_tensor)):
        xx = mk(x, requires_grad=True)
        loss = lib.nn.functional.ctc_loss(xx, mk(targets), il, tl)
        (g,) = lib.autograd.grad(loss, (xx,), create_graph=True)
        grads.append(g)
        with pytest.raises(RuntimeError, match="derivative for .*ctc_loss_backward is not "
                                               "implemented"):
            lib.autograd.grad((g * g).sum(), (xx,))
    _assert_pair(grads[0], grads[1], 1e-10)


# ------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("il,tl,targets,match", [
    ([5, 6, 5], [2, 2, 1], [[1, 2], [1, 1], [3, 0]], "input_lengths to have value at most 5"),
    ([5, 5, 5], [2, 3, 1], [[1, 2], [1, 1], [3, 0]], "at least 3 at dimension 1"),
    ([5, 5], [2, 2, 1], [[1, 2], [1, 1], [3, 0]], "input_lengths must be of size batch_size"),
    ([5, 5, 5], [2, 2], [[1, 2], [1, 1], [3, 0]], "target_lengths must be of size batch_size"),
    ([5, -1, 5], [2, 2, 1], [[1, 2], [1, 1], [3, 0]], "input_lengths to have value at least 0"),
    ([5, 5, 5], [2, 2, 1], [1, 2, 1, 1], "size 5 at dimension 0, but got size 4"),
])
def test_errors_like_torch(il, tl, targets, match):
    x = np.random.default_rng(0).standard_normal((5, 3, 4))
    with pytest.raises(RuntimeError, match=match):
        torch.nn.functional.ctc_loss(torch.tensor(x), torch.tensor(targets), il, tl)
    with pytest.raises(RuntimeError, match=match):
        ember.nn.functional.ctc_loss(dev_tensor(x), dev_tensor(targets), il, tl)


def test_bad_blank_reduction_and_float_lengths():
    x = dev_tensor(np.zeros((4, 1, 3)))
    tg = dev_tensor([[1]])
    with pytest.raises(RuntimeError, match="blank must be in label range"):
        ember.nn.functional.ctc_loss(x, tg, [4], [1], blank=3)
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        ember.nn.functional.ctc_loss(x, tg, [4], [1], reduction="bogus")
    with pytest.raises(RuntimeError, match="input_lengths must be integral"):
        ember.nn.functional.ctc_loss(x, tg, dev_tensor([4.0]), [1])
