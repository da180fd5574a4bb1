"""GradScaler against torch's on the CPU: scale sequence, skipped steps, unscaling, errors,
state_dict layout, and the disabled passthrough. The scale sequence and unscaling also run with
ember's model and scaler on EMBER_TEST_DEVICE (the algorithm is the same on every device)."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch

import ember
from oracle import DEVICE, assert_close, dev_tensor, on_device, to_numpy


def _pair(seed=0, **kw):
    """The same Linear + SGD + GradScaler in torch (CPU) and in ember (the device under
    test)."""
    torch.manual_seed(seed)
    tm = torch.nn.Linear(4, 3)
    em = on_device(ember.nn.Linear(4, 3))
    em.load_state_dict({k: dev_tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    out = []
    for lib, m in ((torch, tm), (ember, em)):
        opt = lib.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        dev = "cpu" if lib is torch else ember.device(DEVICE).type
        out.append((lib, m, opt, lib.amp.GradScaler(dev, **kw)))
    return out


def _backward(lib, m, scaler, x, bad):
    """Scaled backward; ``bad`` ("inf"/"nan") poisons one gradient entry afterwards. The
    forward stays float32 so that torch and ember agree to float32 rounding."""
    loss = m(x).pow(2).mean()
    scaler.scale(loss).backward()
    if bad:
        m.weight.grad[1, 2] = float(bad)
    return loss


SCRIPT = ["", "", "inf", "", "", "", "nan", "", "inf", "inf", "", "", "", "", ""]


@pytest.mark.parametrize("kw", [dict(init_scale=2.0 ** 10, growth_interval=3),
                                dict(init_scale=3.0, growth_factor=3.0, backoff_factor=0.25,
                                     growth_interval=2),
                                dict(init_scale=1e38, growth_interval=1)])  # growth overflows
def test_scale_sequence_and_skipped_steps_match_torch(kw):
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((5, 4)).astype(np.float32)
    runs = _pair(**kw)
    hist = []
    for lib, m, opt, scaler in runs:
        x = torch.tensor(xa) if lib is torch else dev_tensor(xa)
        h = []
        for bad in SCRIPT:
            opt.zero_grad()
            _backward(lib, m, scaler, x, bad)
            before = m.weight.detach().clone()
            ret = scaler.step(opt)
            skipped = bool((m.weight.detach() == before).all())
            scaler.update()
            h.append((scaler.get_scale(), scaler._get_growth_tracker(), skipped, ret,
                      to_numpy(m.weight).copy(), scaler.state_dict()))
        hist.append(h)
    for i, (t, e) in enumerate(zip(*hist)):
        assert e[0] == t[0] and type(e[0]) is type(t[0]), f"step {i}: scale {e[0]} != {t[0]}"
        assert e[1:4] == t[1:4], f"step {i}: (tracker, skipped, ret) {e[1:4]} != {t[1:4]}"
        assert_close(e[4], t[4], 1e-4, 1e-5, f"step {i}: weights")
        assert e[5] == t[5]
        assert [type(v) for v in e[5].values()] == [type(v) for v in t[5].values()]


def test_unscale_then_clip_and_grads_match_torch():
    rng = np.random.default_rng(1)
    xa = rng.standard_normal((5, 4)).astype(np.float32)
    grads = []
    for lib, m, opt, scaler in _pair(init_scale=512.0):
        x = torch.tensor(xa) if lib is torch else dev_tensor(xa)
        _backward(lib, m, scaler, x, "")
        scaled = m.weight.grad.clone()
        scaler.unscale_(opt)
        unscaled = m.weight.grad.clone()
        lib.nn.utils.clip_grad_norm_(m.parameters(), 0.05)
        scaler.step(opt)
        scaler.update()
        grads.append([to_numpy(scaled), to_numpy(unscaled), to_numpy(m.weight.grad),
                      to_numpy(m.weight)])
        assert unscaled.dtype == lib.float32
    for name, t, e in zip(["scaled", "unscaled", "clipped", "weight"], *grads):
        assert_close(e, t, 1e-5, 1e-6, name)


def _errors(lib):
    """Messages of the misuse errors, in one lib."""
    m = lib.nn.Linear(2, 2)
    opt = lib.optim.SGD(m.parameters(), lr=0.1)
    scaler = lib.amp.GradScaler("cpu")
    msgs = []

    def grab(fn):
        try:
            fn()
        except (RuntimeError, AssertionError, ValueError) as e:
            msgs.append((type(e).__name__, str(e)))
        else:
            msgs.append(None)
    grab(lambda: scaler.step(opt))                       # step before scale
    grab(lambda: scaler.update())                        # update before scale
    scaler.scale(m(lib.ones(1, 2)).sum()).backward()
    grab(lambda: scaler.update())                        # no inf checks recorded yet
    scaler.unscale_(opt)
    grab(lambda: scaler.unscale_(opt))                   # twice
    grab(lambda: scaler.step(opt, closure=lambda: 0.0))  # closure
    scaler.step(opt)
    grab(lambda: scaler.step(opt))                       # twice
    grab(lambda: scaler.unscale_(opt))                   # after step
    scaler.update()
    half = lib.zeros(2, dtype=lib.float16, requires_grad=True)
    half.grad = lib.zeros(2, dtype=lib.float16)
    grab(lambda: scaler.unscale_(lib.optim.SGD([half], lr=0.1)))  # fp16 grads
    grab(lambda: lib.amp.GradScaler("cpu").load_state_dict({}))
    grab(lambda: lib.amp.GradScaler("cpu", growth_factor=1.0))
    grab(lambda: lib.amp.GradScaler("cpu", backoff_factor=1.0))
    grab(lambda: scaler.update(lib.ones(2)))             # new_scale of 2 elements
    return msgs


def test_misuse_raises_like_torch():
    t = _errors(torch)
    e = _errors(ember)
    assert all(x is not None for x in t)
    assert e == t


def test_disabled_scaler_is_a_passthrough():
    for lib in (torch, ember):
        m = lib.nn.Linear(2, 2)
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        scaler = lib.amp.GradScaler("cpu", enabled=False)
        loss = m(lib.ones(1, 2)).sum()
        assert scaler.scale(loss) is loss
        loss.backward()
        before = m.weight.detach().clone()
        scaler.unscale_(opt)
        assert scaler.step(opt) is None
        scaler.update()
        assert not bool((m.weight.detach() == before).all())  # the step ran
        assert scaler.get_scale() == 1.0 and scaler.state_dict() == {}
        assert not scaler.is_enabled() and scaler._get_growth_tracker() == 0
        scaler.load_state_dict({})  # no-op, no error


def test_cuda_scaler_without_cuda_warns_and_disables_like_torch():
    if torch.cuda.is_available() or ember.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    res = []
    for lib in (torch, ember):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            s = lib.amp.GradScaler("cuda")
            old = lib.cuda.amp.GradScaler()
        res.append((s.is_enabled(), old.is_enabled(), [str(x.message) for x in w],
                    [x.category for x in w]))
    assert res[0] == res[1]


def test_scale_of_containers_and_dtypes_match_torch():
    for lib in (torch, ember):
        s = lib.amp.GradScaler("cpu", init_scale=4.0)
        a = lib.ones(2, dtype=lib.bfloat16)
        b = lib.ones(3)
        out = s.scale([a, (b, [a])])
        assert isinstance(out, list) and isinstance(out[1], tuple) and isinstance(out[1][1], list)
        assert out[0].dtype == lib.bfloat16 and out[1][0].dtype == lib.float32
        assert float(out[1][1][0][0]) == 4.0
        gen = s.scale(iter([b]))
        assert not isinstance(gen, (list, tuple)) and float(next(gen)[0]) == 4.0
        with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable"):
            s.scale([1.0])


def test_state_dict_round_trip_between_torch_and_ember():
    t = torch.amp.GradScaler("cpu", init_scale=8.0, growth_interval=7, backoff_factor=0.25)
    t.scale(torch.ones(()))
    t._growth_tracker.fill_(3)
    sd = t.state_dict()
    e = ember.amp.GradScaler("cpu")
    e.load_state_dict(sd)
    assert e.state_dict() == sd and list(e.state_dict()) == list(sd)
    e.scale(ember.ones(()))          # lazily made tensors take the loaded values
    assert e.get_scale() == 8.0 and e._get_growth_tracker() == 3
    e.update(2.0)
    back = torch.amp.GradScaler("cpu")
    back.load_state_dict(e.state_dict())
    assert back.state_dict() == e.state_dict()
    e2 = pickle.loads(pickle.dumps(e))
    assert e2.state_dict() == e.state_dict()


def test_update_with_new_scale_tensor():
    for lib in (torch, ember):
        s = lib.amp.GradScaler("cpu")
        s.scale(lib.ones(()))
        s.update(lib.tensor(5.0))
        assert s.get_scale() == 5.0
    assert ember.GradScaler is ember.amp.GradScaler
