"""ember.jit: traced, scripted and saved/loaded programs give the eager results."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import ember  # noqa: E402
from jit_models import NAMES, build  # noqa: E402


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("name", NAMES)
def test_traced_equals_eager_other_batch(name):
    model, make = build(name)
    traced = ember.jit.trace(model, make(4))
    for b in (4, 3, 9):
        x = make(b)
        np.testing.assert_allclose(_np(traced(x)), _np(model(x)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_saved_and_loaded_equals_eager(name, tmp_path):
    model, make = build(name)
    traced = ember.jit.trace(model, make(2))
    path = tmp_path / "prog.pt"
    ember.jit.save(traced, str(path))
    loaded = ember.jit.load(str(path))
    for b in (2, 5):
        x = make(b)
        np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), rtol=1e-6, atol=1e-6)
    # The file is a zip of JSON and .npy entries only: nothing pickled.
    import zipfile
    names = zipfile.ZipFile(path).namelist()
    assert "graph.json" in names and all(n == "graph.json" or n.endswith(".npy") for n in names)


def test_loaded_program_runs_without_model_code(tmp_path):
    model, make = build("cnn")
    x = make(3)
    buf = tmp_path / "cnn.pt"
    ember.jit.trace(model, x).save(str(buf))
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "y.npy", _np(model(x)))
    code = ("import numpy as np, ember, sys\n"
            "assert 'jit_models' not in sys.modules\n"
            f"m = ember.jit.load({str(buf)!r})\n"
            f"x = ember.tensor(np.load({str(tmp_path / 'x.npy')!r}))\n"
            f"y = np.load({str(tmp_path / 'y.npy')!r})\n"
            "assert np.allclose(m(x).detach().numpy(), y, atol=1e-6)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root)
    r = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_traced_module_is_differentiable():
    model, make = build("mlp")
    model.train()
    x = make(5)
    traced = ember.jit.trace(model, x)
    traced(x).pow(2).sum().backward()
    got = {k: _np(p.grad).copy() for k, p in model.named_parameters()}
    model.zero_grad()
    model(x).pow(2).sum().backward()
    for k, p in model.named_parameters():
        np.testing.assert_allclose(got[k], _np(p.grad), rtol=1e-5, atol=1e-6)


def test_loaded_program_is_differentiable(tmp_path):
    model, make = build("mlp")
    x = make(3)
    buf = io.BytesIO()
    ember.jit.save(ember.jit.trace(model, x), buf)
    buf.seek(0)
    loaded = ember.jit.load(buf)
    loaded(x).sum().backward()
    model(x).sum().backward()
    lp = dict(loaded.named_parameters())
    for k, p in model.named_parameters():
        np.testing.assert_allclose(_np(lp[k].grad), _np(p.grad), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_passes_preserve_results(name):
    model, make = build(name)
    traced = ember.jit.trace(model, make(4))
    x = make(6)
    before = _np(traced(x)).copy()
    n_before = len(traced.graph.nodes)
    ember.jit.freeze(traced)
    assert len(traced.graph.nodes) <= n_before
    np.testing.assert_allclose(_np(traced(x)), before, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_np(traced(x)), _np(model(x)), rtol=1e-6, atol=1e-6)


def test_each_pass():
    w = ember.randn(3, 3)

    def f(x):
        unused = x.sin()  # noqa: F841  (dead code)
        mask = ember.triu(ember.ones(3, 3), diagonal=1)  # only constants: folded
        a = x.exp() * w
        b = x.exp() * w   # the same computation again: merged
        return a + b + mask

    x = ember.randn(3, 3)
    traced = ember.jit.trace(f, x)
    g = traced.graph
    ops = [n.op for n in g.nodes]
    assert "sin" not in ops          # record() already drops dead code
    assert ops.count("exp") == 2 and "triu" in ops
    want = _np(f(x))
    ember.jit.passes.constant_fold(g)
    assert "triu" not in [n.op for n in g.nodes]
    np.testing.assert_allclose(_np(traced(x)), want, rtol=1e-6)
    ember.jit.passes.cse(g)
    assert [n.op for n in g.nodes].count("exp") == 1
    assert [n.op for n in g.nodes].count("mul") == 1
    ember.jit.passes.dce(g)
    np.testing.assert_allclose(_np(traced(x)), want, rtol=1e-6)


def test_graph_printing():
    model, make = build("mlp")
    traced = ember.jit.trace(model, make(2))
    text = str(traced.graph)
    assert text.startswith("graph(") and "ember::linear" in text and "%fc1.weight" in text
    assert "ember::reshape(%0, (batch, 784))" in text
    assert "def forward(self, x0):" in traced.code


def _branchy(x):
    if x.sum() > 0:
        return x * 2
    return x - 1


def test_trace_warns_on_python_control_flow():
    with pytest.warns(ember.jit.TracerWarning):
        traced = ember.jit.trace(_branchy, ember.ones(3))
    # Like torch.jit.trace, the branch taken while tracing is frozen.
    np.testing.assert_allclose(_np(traced(-ember.ones(3))), -2 * np.ones(3))


def test_script_guards_rerecord():
    scripted = ember.jit.script(_branchy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ember.jit.TracerWarning)
        with pytest.raises(RuntimeError, match="first call"):
            scripted.graph
        for x in (ember.ones(3), -ember.ones(3), ember.ones(3), -ember.ones(3) * 2):
            np.testing.assert_allclose(_np(scripted(x)), _np(_branchy(x)))
        assert scripted.n_records == 2        # one graph per branch, then reused
        scripted(ember.ones(4))               # a new shape is a new guard set
        assert scripted.n_records == 3
        assert len(scripted.graphs) == 3
        assert "_guard" in str(scripted.graph)


def test_script_module_and_training_flag_guard(tmp_path):
    model, make = build("resblock")
    scripted = ember.jit.script(model)
    x = make(2)
    np.testing.assert_allclose(_np(scripted(x)), _np(model(x)), rtol=1e-6, atol=1e-6)
    x3 = make(3)
    np.testing.assert_allclose(_np(scripted(x3)), _np(model(x3)), rtol=1e-6, atol=1e-6)
    n = scripted.n_records
    model.train()
    scripted(x)
    assert scripted.n_records == n + 1
    model.eval()
    scripted(x)
    assert scripted.n_records == n + 1
    scripted.save(str(tmp_path / "s.pt"))
    loaded = ember.jit.load(str(tmp_path / "s.pt"))
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), rtol=1e-6, atol=1e-6)


def test_loaded_script_guard_failure_raises(tmp_path):
    scripted = ember.jit.script(_branchy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ember.jit.TracerWarning)
        scripted(ember.ones(3))
    scripted.save(str(tmp_path / "b.pt"))
    loaded = ember.jit.load(str(tmp_path / "b.pt"))
    np.testing.assert_allclose(_np(loaded(ember.ones(3))), 2 * np.ones(3))
    with pytest.raises(RuntimeError, match="data-dependent branch"):
        loaded(-ember.ones(3))


def test_inplace_ops_are_traced():
    def f(x):
        y = x * 2
        y.relu_()
        y += 1
        y[:, 0] = 0.5
        return y

    x = ember.randn(4, 3)
    traced = ember.jit.trace(f, x)
    x2 = ember.randn(4, 3)
    np.testing.assert_allclose(_np(traced(x2)), _np(f(x2)))


def test_inplace_on_view_of_traced_tensor_raises():
    def f(x):
        y = x * 2
        y[0].add_(1)
        return y

    with pytest.raises(RuntimeError, match="view of a traced tensor"):
        ember.jit.trace(f, ember.randn(3, 3))


def test_untraceable_mutation_raises():
    def f(x):
        y = x * 2
        y.detach().fill_(0)  # a write the tracer cannot see
        return y + 1

    with pytest.raises(RuntimeError, match="modified in place"):
        ember.jit.trace(f, ember.randn(3))


class _StraightThrough(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.round()

    @staticmethod
    def backward(ctx, g):
        return g * 3


def test_custom_function_traced_with_its_backward(tmp_path):
    def f(x):
        return _StraightThrough.apply(x * 2).sum()

    traced = ember.jit.trace(f, ember.randn(4))
    x = ember.randn(4, requires_grad=True)
    traced(x).backward()
    np.testing.assert_allclose(_np(x.grad), 6 * np.ones(4))
    with pytest.raises(RuntimeError, match="_StraightThrough"):
        ember.jit.save(traced, str(tmp_path / "f.pt"))


def test_nested_inputs_and_outputs(tmp_path):
    def f(pair, scale):
        a, b = pair
        return {"sum": a + b, "prod": (a * b * scale,)}

    a, b = ember.randn(2, 3), ember.randn(2, 3)
    traced = ember.jit.trace(f, ((a, b), ember.tensor(2.0)))
    a2, b2 = ember.randn(5, 3), ember.randn(5, 3)
    out = traced((a2, b2), ember.tensor(3.0))
    np.testing.assert_allclose(_np(out["sum"]), _np(a2 + b2))
    np.testing.assert_allclose(_np(out["prod"][0]), _np(a2 * b2 * 3.0), rtol=1e-6)
    traced.save(str(tmp_path / "n.pt"))
    out = ember.jit.load(str(tmp_path / "n.pt"))((a2, b2), ember.tensor(3.0))
    np.testing.assert_allclose(_np(out["prod"][0]), _np(a2 * b2 * 3.0), rtol=1e-6)


def test_small_operator_fast_path_is_traced():
    # Small no-grad operands take a fast path that skips Primitive.apply in eager mode.
    traced = ember.jit.trace(lambda x, y: x + y * x, (ember.randn(3), ember.randn(3)))
    assert [n.op for n in traced.graph.nodes] == ["mul", "add"]


def test_device_move_is_recorded(tmp_path, monkeypatch):
    """``Tensor.to(device)`` is not a registry primitive; the trace records it as a
    ``_to_device`` node that replays through ``Tensor.to``. This machine may have no GPU, so
    the move is simulated: every ``Tensor.to`` goes to the device copy, whose forward doubles
    the values (making it visible whether the graph really replays the move)."""
    et = sys.modules["ember.tensor"]
    calls = []

    def fake_forward(self, a, dev):
        calls.append(str(dev))
        return a * 2

    monkeypatch.setattr(et._ToDevice, "forward", fake_forward)
    monkeypatch.setattr(et.Tensor, "to",
                        lambda self, dev: et._ToDevice.apply(self, ember.device(dev)))

    def f(x):
        return (x + 1).to("cpu").relu()

    x = ember.randn(3, 4)
    traced = ember.jit.trace(f, x)
    assert [n.op for n in traced.graph.nodes].count("_to_device") == 1
    assert "_to_device" in str(traced.graph)
    calls.clear()
    y = ember.randn(5, 4)
    want = _np(((y + 1) * 2).relu())
    calls.clear()
    np.testing.assert_allclose(_np(traced(y)), want, rtol=1e-6)
    assert calls == ["cpu"]
    path = tmp_path / "moved.pt"
    ember.jit.save(traced, str(path))
    np.testing.assert_allclose(_np(ember.jit.load(str(path))(y)), want, rtol=1e-6)
    buf = io.BytesIO()
    ember.onnx.export(f, (x,), buf)   # ONNX has no devices: the move is an Identity
    import onnx
    assert "Identity" in {n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node}


@pytest.mark.parametrize("name", NAMES)
def test_no_grad_raw_executor_equals_eager(name, monkeypatch):
    """Under no_grad the graph runs on raw arrays (each primitive's forward, no Tensor per
    intermediate); it must give exactly the eager outputs, dtypes and shapes."""
    model, make = build(name)
    traced = ember.jit.trace(model, make(3))
    loaded = ember.jit.load(io.BytesIO(_saved_bytes(traced)))
    calls = []
    real = ember.jit.Graph._run_raw
    monkeypatch.setattr(ember.jit.Graph, "_run_raw",
                        lambda self, *a: calls.append(1) or real(self, *a))
    for b in (3, 5):
        x = make(b)
        with ember.no_grad():
            want = model(x)
            for prog in (traced, loaded):
                got = prog(x)
                assert got.dtype == want.dtype and got.shape == want.shape
                assert got.grad_fn is None and not got.requires_grad
                np.testing.assert_allclose(_np(got), _np(want), rtol=1e-6, atol=1e-6)
    assert len(calls) == 4
    # With grad enabled and trainable weights the graph goes through Primitive.apply.
    assert traced(make(2)).requires_grad and len(calls) == 4


def _saved_bytes(prog) -> bytes:
    buf = io.BytesIO()
    ember.jit.save(prog, buf)
    return buf.getvalue()


def test_raw_executor_guards_and_errors():
    scripted = ember.jit.script(_branchy)
    with warnings.catch_warnings(), ember.no_grad():
        warnings.simplefilter("ignore", ember.jit.TracerWarning)
        for x in (ember.ones(3), -ember.ones(3), ember.ones(3), -ember.ones(3) * 2):
            np.testing.assert_allclose(_np(scripted(x)), _np(_branchy(x)))
        assert scripted.n_records == 2
    traced = ember.jit.trace(lambda a, b: a + b, (ember.randn(3, 4), ember.randn(3, 4)))
    with ember.no_grad(), pytest.raises(RuntimeError, match=r"\[3, 4\].*\[3, 5\]"):
        traced(ember.randn(3, 4), ember.randn(3, 5))
    # Outputs that are inputs come back as the same Tensor, as from the eager function.
    ident = ember.jit.trace(lambda a, b: (a, a * b), (ember.randn(2), ember.randn(2)))
    x = ember.randn(2)
    with ember.no_grad():
        assert ident(x, x)[0] is x


def test_executor_drops_dead_intermediates():
    def f(x):
        a = x + 1
        b = a * 2
        return b.relu(), b - a

    g = ember.jit.trace(f, ember.randn(4)).graph
    g._compile()
    ops = [n.op for n in g.nodes]
    assert ops == ["add", "mul", "relu", "sub"]
    add, mul, relu, sub = g.nodes
    # a lives until sub, b until sub; outputs are never dropped.
    assert [sorted(f) for f in g._frees] == [[], [], [],
                                             sorted((add.outputs[0].id, mul.outputs[0].id))]
    del relu, sub
