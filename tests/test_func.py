"""ember.func (torch.func transforms) against torch.func."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.func as tf

import ember
import ember.func as ef
from oracle import device_default, to_numpy

RNG = np.random.default_rng(1)


@pytest.fixture(autouse=True)
def _on_device():
    """Every ember tensor and module these tests make is made on the device under test."""
    with device_default():
        yield


def pair(*shape):
    a = np.asarray(RNG.standard_normal(shape), dtype=np.float64)
    return torch.tensor(a), ember.tensor(a)


def close(e, t, tol=1e-10):
    if isinstance(t, (tuple, list)):
        assert isinstance(e, (tuple, list)) and len(e) == len(t)
        for a, b in zip(e, t):
            close(a, b, tol)
        return
    if isinstance(t, dict):
        assert set(e) == set(t)
        for k in t:
            close(e[k], t[k], tol)
        return
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(to_numpy(e), t.detach().numpy(), rtol=tol, atol=tol)


def f1(L, x, y):
    return (L.sin(x) * y).sum() + (x * x * y).sum()


def test_grad_and_argnums():
    tx, ex = pair(3, 2)
    ty, ey = pair(3, 2)
    for argnums in (0, 1, (0, 1), (1, 0), -1):
        close(ef.grad(lambda x, y: f1(ember, x, y), argnums)(ex, ey),
              tf.grad(lambda x, y: f1(torch, x, y), argnums)(tx, ty))
    g = ef.grad(lambda x, y: f1(ember, x, y))(ex, ey)
    assert not g.requires_grad
    with pytest.raises(RuntimeError):
        ef.grad(lambda x: x * 2)(ex)
    with pytest.raises(RuntimeError):
        ef.grad(lambda x: x.sum(), argnums=3)(ex)


def test_grad_has_aux_and_value():
    tx, ex = pair(4)
    tg, (tv, ta) = tf.grad_and_value(lambda x: ((x ** 3).sum(), x.cos()), has_aux=True)(tx)
    eg, (ev, ea) = ef.grad_and_value(lambda x: ((x ** 3).sum(), x.cos()), has_aux=True)(ex)
    close([eg, ev, ea], [tg, tv, ta])
    tg, ta = tf.grad(lambda x: ((x ** 3).sum(), {"a": x}), has_aux=True)(tx)
    eg, ea = ef.grad(lambda x: ((x ** 3).sum(), {"a": x}), has_aux=True)(ex)
    close([eg, ea], [tg, ta])
    close(ef.grad_and_value(lambda x: x.exp().sum())(ex),
          tf.grad_and_value(lambda x: x.exp().sum())(tx))


def test_grad_pytree_argument():
    tx, ex = pair(3)
    ty, ey = pair(3)
    close(ef.grad(lambda d: (d["a"] * d["b"][0]).sum())({"a": ex, "b": (ey,)}),
          tf.grad(lambda d: (d["a"] * d["b"][0]).sum())({"a": tx, "b": (ty,)}))


def test_nested_grad():
    tx, ex = pair()
    d3 = lambda L, g: g(g(g(lambda x: L.sin(x) * x ** 2)))  # noqa: E731
    close(d3(ember, ef.grad)(ex), d3(torch, tf.grad)(tx))


def test_vjp():
    tx, ex = pair(3, 2)
    ty, ey = pair(2)
    to, tfn = tf.vjp(lambda x, y: (x @ y).tanh(), tx, ty)
    eo, efn = ef.vjp(lambda x, y: (x @ y).tanh(), ex, ey)
    tc, ec = pair(3)
    close(eo, to)
    close(efn(ec), tfn(tc))
    assert isinstance(efn(ec), tuple)
    to, tfn, ta = tf.vjp(lambda x: (x.exp(), x.sum()), tx, has_aux=True)
    eo, efn, ea = ef.vjp(lambda x: (x.exp(), x.sum()), ex, has_aux=True)
    tc, ec = pair(3, 2)
    close([eo, ea, efn(ec)], [to, ta, tfn(tc)])
    with pytest.raises(RuntimeError):
        efn(ember.ones(2))


def test_jvp():
    tx, ex = pair(4)
    tt, et = pair(4)
    fn = lambda L: (lambda x: L.sin(x) * x.sum())  # noqa: E731
    close(ef.jvp(fn(ember), (ex,), (et,)), tf.jvp(fn(torch), (tx,), (tt,)))
    ty, ey = pair(4)
    tu, eu = pair(4)
    g = lambda x, y: (x * y, (x ** 2).sum())  # noqa: E731
    close(ef.jvp(g, (ex, ey), (et, eu)), tf.jvp(g, (tx, ty), (tt, tu)))
    close(ef.jvp(lambda x: (x.exp(), x), (ex,), (et,), has_aux=True),
          tf.jvp(lambda x: (x.exp(), x), (tx,), (tt,), has_aux=True))
    with pytest.raises(RuntimeError):
        ef.jvp(lambda x: x, (ex,), (ember.ones(3),))


@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
def test_jacobians(name):
    tx, ex = pair(3)
    ty, ey = pair(2, 3)
    h = lambda L: (lambda x, y: (y @ L.sin(x)) * x[0])  # noqa: E731
    for argnums in (0, 1, (0, 1)):
        close(getattr(ef, name)(h(ember), argnums)(ex, ey),
              getattr(tf, name)(h(torch), argnums)(tx, ty))
    k = lambda x: ({"a": x.exp(), "b": x.sum()}, x * 2)  # noqa: E731
    close(getattr(ef, name)(k, has_aux=True)(ex), getattr(tf, name)(k, has_aux=True)(tx))


def test_hessian():
    tx, ex = pair(3)
    ty, ey = pair(3)
    f = lambda L: (lambda x, y: (L.sin(x) * y).sum() * (x * x).sum())  # noqa: E731
    close(ef.hessian(f(ember))(ex, ey), tf.hessian(f(torch))(tx, ty))
    close(ef.hessian(f(ember), (0, 1))(ex, ey), tf.hessian(f(torch), (0, 1))(tx, ty))


def test_vmap_basic():
    tx, ex = pair(5, 3)
    ty, ey = pair(3, 5)
    close(ef.vmap(lambda a: a.sum() * a)(ex), tf.vmap(lambda a: a.sum() * a)(tx))
    dot = lambda a, b: (a * b).sum()  # noqa: E731
    close(ef.vmap(dot, in_dims=(0, 1))(ex, ey), tf.vmap(dot, in_dims=(0, 1))(tx, ty))
    tw, ew = pair(3)
    close(ef.vmap(dot, in_dims=(0, None))(ex, ew), tf.vmap(dot, in_dims=(0, None))(tx, tw))
    close(ef.vmap(lambda a: a * 2, out_dims=1)(ex), tf.vmap(lambda a: a * 2, out_dims=1)(tx))
    close(ef.vmap(lambda a: (a, a.sum()), out_dims=(1, 0))(ex),
          tf.vmap(lambda a: (a, a.sum()), out_dims=(1, 0))(tx))
    close(ember.vmap(lambda a: a.exp(), -1)(ey), torch.vmap(lambda a: a.exp(), -1)(ty))
    close(ef.vmap(lambda d: d["x"] * d["y"])({"x": ex, "y": ex}),
          tf.vmap(lambda d: d["x"] * d["y"])({"x": tx, "y": tx}))


def test_vmap_nested_and_with_grad():
    tx, ex = pair(4, 3)
    ty, ey = pair(5, 3)
    dot = lambda a, b: (a * b).sum()  # noqa: E731
    close(ef.vmap(ef.vmap(dot, (None, 0)), (0, None))(ex, ey),
          tf.vmap(tf.vmap(dot, (None, 0)), (0, None))(tx, ty))
    # per-sample gradients
    tw, ew = pair(3)
    loss = lambda w, x: (w * x).sum().tanh()  # noqa: E731
    close(ef.vmap(ef.grad(loss), (None, 0))(ew, ex), tf.vmap(tf.grad(loss), (None, 0))(tw, tx))


def test_vmap_errors_and_randomness():
    ex = ember.randn(4, 3)
    with pytest.raises(ValueError):
        ef.vmap(lambda a, b: a + b)(ex, ember.randn(5, 3))
    with pytest.raises(ValueError):
        ef.vmap(lambda a: a, in_dims=2)(ex)
    with pytest.raises(ValueError):
        ef.vmap(lambda a: a, in_dims=(0, 0))(ex)
    with pytest.raises(RuntimeError):
        ef.vmap(lambda a: a, randomness="bogus")
    with pytest.raises(RuntimeError):
        ef.vmap(lambda a: a + ember.rand(3))(ex)
    same = ef.vmap(lambda a: ember.rand(3) + a * 0, randomness="same")(ex)
    same = to_numpy(same)
    assert np.allclose(same, same[:1])
    diff = ef.vmap(lambda a: ember.rand(3) + a * 0, randomness="different")(ex)
    diff = to_numpy(diff)
    assert not np.allclose(diff, diff[:1])


def test_functional_call():
    m = ember.nn.Linear(3, 2)
    w = ember.zeros(2, 3)
    b = ember.ones(2)
    out = ef.functional_call(m, {"weight": w, "bias": b}, (ember.randn(4, 3),))
    np.testing.assert_allclose(to_numpy(out), np.ones((4, 2)))
    # grads w.r.t. the substituted parameters, as in torch.func's usual pattern
    params = {k: v.detach() for k, v in m.named_parameters()}
    x = ember.randn(4, 3)
    g = ef.grad(lambda p: ef.functional_call(m, p, (x,)).pow(2).sum())(params)
    tm = torch.nn.Linear(3, 2)
    tp = {k: torch.tensor(to_numpy(v)) for k, v in params.items()}
    tg = tf.grad(lambda p: tf.functional_call(tm, p, (torch.tensor(to_numpy(x)),)).pow(2).sum())(tp)
    close(g, tg, 1e-5)
