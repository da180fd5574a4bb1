"""ember.utils.checkpoint against torch.utils.checkpoint: gradients, RNG replay, API errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as tcp

import ember
import ember.nn as enn
from ember.utils import checkpoint as ecp
from tests.oracle import DEVICE, on_device, to_numpy


def _pair(seed: int = 0):
    """The same small MLP in torch and ember (weights copied across), float64."""
    torch.manual_seed(seed)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 5),
                             torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    em = enn.Sequential(enn.Linear(4, 6), enn.Tanh(), enn.Linear(6, 5), enn.ReLU(),
                        enn.Linear(5, 3)).double()
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in
                        tm.state_dict().items()})
    return tm, on_device(em)


def _x(seed: int = 1, rg: bool = True):
    a = np.random.default_rng(seed).standard_normal((3, 4))
    return (torch.tensor(a, requires_grad=rg),
            on_device(ember.tensor(a, dtype=ember.float64)).requires_grad_(rg))


def _close(e, t, tol=1e-10):
    np.testing.assert_allclose(to_numpy(e), t.detach().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("reentrant", [True, False])
def test_grads_match_torch_and_plain(reentrant):
    tm, em = _pair()
    tx, ex = _x()
    tcp.checkpoint(tm, tx, use_reentrant=reentrant).pow(2).sum().backward()
    out = ecp.checkpoint(em, ex, use_reentrant=reentrant)
    assert out.requires_grad
    out.pow(2).sum().backward()
    _close(ex.grad, tx.grad)
    for (n, tp), ep in zip(tm.named_parameters(), em.parameters()):
        _close(ep.grad, tp.grad)
    # and equal to the un-checkpointed ember model
    g_ck = [p.grad.clone() for p in em.parameters()]
    em.zero_grad()
    ex2 = ex.detach().requires_grad_(True)
    em(ex2).pow(2).sum().backward()
    for a, p in zip(g_ck, em.parameters()):
        np.testing.assert_allclose(to_numpy(a), to_numpy(p.grad), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_numpy(ex2.grad), to_numpy(ex.grad), rtol=1e-12, atol=1e-12)


def test_forward_keeps_no_graph_inside():
    tm, em = _pair()
    _, ex = _x()
    out = ecp.checkpoint(em, ex, use_reentrant=True)
    # the only node is the checkpoint's: the modules' ops were not recorded
    assert type(out.grad_fn).__name__ == "CheckpointFunctionBackward"
    assert all(e is None or type(e[0]).__name__ != "AddmmBackward0"
               for e in out.grad_fn.next_edges)


def test_dropout_mask_replayed():
    drop_t = torch.nn.Dropout(0.5)
    tx = torch.ones(64, 32, dtype=torch.float64, requires_grad=True)
    tcp.checkpoint(lambda v: drop_t(v) * 3, tx, use_reentrant=True).sum().backward()
    ex = on_device(ember.ones(64, 32, dtype=ember.float64)).requires_grad_(True)
    drop = enn.Dropout(0.5)
    for reentrant in (True, False):
        ex.grad = None
        ember.manual_seed(5)
        out = ecp.checkpoint(lambda v: drop(v) * 3, ex, use_reentrant=reentrant)
        after = ember.rand(4)  # the stream after the checkpointed forward
        out.sum().backward()
        kept = to_numpy(out) != 0
        assert 0.3 < kept.mean() < 0.7
        # gradient is 3 * mask * 2 exactly where the forward kept (same mask recomputed)
        np.testing.assert_array_equal(to_numpy(ex.grad) != 0, kept)
        np.testing.assert_allclose(to_numpy(ex.grad)[kept], 6.0)
        # the recompute did not move the caller's stream
        ember.manual_seed(5)
        ecp.checkpoint(lambda v: drop(v) * 3, ex.detach().requires_grad_(),
                       use_reentrant=reentrant)
        np.testing.assert_array_equal(to_numpy(ember.rand(4)), to_numpy(after))
    # torch's gradient is also 6 exactly on a replayed mask (about half kept)
    assert set(np.unique(tx.grad.numpy())) <= {0.0, 6.0}


def test_kwargs_non_tensor_args_tuple_outputs():
    def f(a, b, scale, *, shift=0.0):
        return a * b * scale + shift, (a - b).sin(), "tag"

    na, nb = np.random.default_rng(3).standard_normal((2, 5))
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (na, nb))
    ea, eb = (on_device(ember.tensor(v, dtype=ember.float64)).requires_grad_(True)
              for v in (na, nb))
    to = tcp.checkpoint(f, ta, tb, 2.5, shift=1.0, use_reentrant=False)
    eo = ecp.checkpoint(f, ea, eb, 2.5, shift=1.0, use_reentrant=False)
    assert eo[2] == "tag" and isinstance(eo, tuple) and len(eo) == 3
    _close(eo[0], to[0])
    _close(eo[1], to[1])
    (to[0].sum() + to[1].pow(2).sum()).backward()
    (eo[0].sum() + eo[1].pow(2).sum()).backward()
    _close(ea.grad, ta.grad)
    _close(eb.grad, tb.grad)
    # only one output used: the other gets no gradient
    ea.grad = eb.grad = None
    ta.grad = tb.grad = None
    tcp.checkpoint(f, ta, tb, 2.5, use_reentrant=True)[1].sum().backward()
    ecp.checkpoint(f, ea, eb, 2.5, use_reentrant=True)[1].sum().backward()
    _close(ea.grad, ta.grad)
    _close(eb.grad, tb.grad)


def test_params_flow_when_input_needs_no_grad():
    tm, em = _pair()
    tx, ex = _x(rg=False)
    tcp.checkpoint(tm, tx, use_reentrant=False).sum().backward()
    ecp.checkpoint(em, ex, use_reentrant=False).sum().backward()
    for tp, ep in zip(tm.parameters(), em.parameters()):
        _close(ep.grad, tp.grad)
    # reentrant: torch warns and the output leaves the graph
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        out = ecp.checkpoint(em, ex, use_reentrant=True)
    assert not out.requires_grad


def test_warnings_and_errors():
    _, em = _pair()
    _, ex = _x()
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed"):
        ecp.checkpoint(em, ex)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ecp.checkpoint(em, ex, use_reentrant=False)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        ecp.checkpoint(em, ex, use_reentrant=True, foo=1)
    with pytest.raises(ValueError, match="context_fn"):
        ecp.checkpoint(em, ex, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match="Unexpected keyword arguments"):
        ecp.checkpoint_sequential(em, 2, ex, use_reentrant=True, foo=1)
    with pytest.raises(ValueError, match="determinism_check"):
        ecp.checkpoint(em, ex, use_reentrant=False, determinism_check="bad")


def test_context_fn_and_determinism_check():
    calls = []

    class Mark:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            calls.append(self.name)

        def __exit__(self, *a):
            return False

    _, ex = _x()
    out = ecp.checkpoint(lambda v: v.exp(), ex, use_reentrant=False,
                         context_fn=lambda: (Mark("fwd"), Mark("re")))
    out.sum().backward()
    assert calls == ["fwd", "re"]
    np.testing.assert_allclose(to_numpy(ex.grad), np.exp(to_numpy(ex)), rtol=1e-12)
    state = {"n": 0}

    def shape_changes(v):
        state["n"] += 1
        return v[: 3 - state["n"] + 1].exp()
    out = ecp.checkpoint(shape_changes, ex, use_reentrant=False)
    with pytest.raises(ecp.CheckpointError):
        out.sum().backward()


@pytest.mark.parametrize("segments", [1, 2, 3])
def test_checkpoint_sequential(segments):
    tm, em = _pair(2)
    tx, ex = _x(4)
    tcp.checkpoint_sequential(tm, segments, tx, use_reentrant=True).sum().backward()
    out = ecp.checkpoint_sequential(em, segments, ex, use_reentrant=True)
    _close(out, tm(tx))
    out.sum().backward()
    _close(ex.grad, tx.grad)
    for tp, ep in zip(tm.parameters(), em.parameters()):
        _close(ep.grad, tp.grad)


def test_importable_as_attribute_and_device_default():
    import ember.utils
    assert ember.utils.checkpoint.checkpoint is ecp.checkpoint
    assert DEVICE in ("cpu", "cuda")
