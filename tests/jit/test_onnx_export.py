"""ember.onnx.export: onnxruntime reproduces ember's outputs, with the batch size changed."""
from __future__ import annotations

import io
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import ember  # noqa: E402
from jit_models import NAMES, build  # noqa: E402



def _export(model, x, **kw) -> bytes:
    buf = io.BytesIO()
    ember.onnx.export(model, (x,), buf, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("name", NAMES)
def test_onnxruntime_matches_ember_with_other_batch(name):
    model, make = build(name)
    data = _export(model, make(4))
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version >= 17
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for b in (1, 4, 9):
        x = make(b)
        (got,) = sess.run(None, {"x": x.numpy()})
        want = model(x).detach().numpy()
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _initializer(proto, name):
    from onnx import numpy_helper
    for t in proto.graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    return None


def test_reshape_of_batch_is_not_a_constant_batch():
    model, make = build("cnn")   # x.view(-1, 64 * 6 * 6)
    proto = onnx.load_from_string(_export(model, make(5)))
    shapes = [_initializer(proto, n.input[1]) for n in proto.graph.node if n.op_type == "Reshape"]
    assert shapes and all(s is not None and -1 in s.tolist() and 5 not in s.tolist()
                          for s in shapes)
    model, make = build("resblock")   # x.reshape(x.size(0), -1): the batch follows the input
    proto = onnx.load_from_string(_export(model, make(5)))
    for n in proto.graph.node:
        if n.op_type == "Reshape":
            s = _initializer(proto, n.input[1])
            assert s is not None and 5 not in s.tolist()


def test_gpt_view_of_batch_uses_shape_ops_or_minus_one():
    model, make = build("gpt")
    data = _export(model, make(3))
    proto = onnx.load_from_string(data)
    for n in proto.graph.node:
        if n.op_type == "Reshape":
            s = _initializer(proto, n.input[1])
            assert s is None or 3 not in s.tolist()


def test_export_to_path_and_default_opset(tmp_path):
    model, make = build("mlp")
    path = tmp_path / "mlp.onnx"
    ember.onnx.export(model, make(2), str(path))
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == ember.onnx.DEFAULT_OPSET >= 17
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = make(2)
    (got,) = sess.run(None, {"input_0": x.numpy()})
    np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_export_keeps_training_mode_and_uses_eval():
    model, make = build("resblock")
    model.train()
    data = _export(model, make(2))   # exported in eval mode, as torch's default
    assert model.training
    model.eval()
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = make(3)
    (got,) = sess.run(None, {"x": x.numpy()})
    np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_opset_18_reductions():
    def f(x):
        return x.mean(1, keepdim=True) + x.amax(1, keepdim=True) - x.sum(1, keepdim=True)

    x = ember.randn(3, 5)
    buf = io.BytesIO()
    ember.onnx.export(f, (x,), buf, opset_version=18, input_names=["x"])
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"x": x.numpy()})
    np.testing.assert_allclose(got, f(x).numpy(), rtol=1e-5, atol=1e-5)


def test_unmapped_op_raises_naming_it():
    def f(x):
        return x.cumprod(1)

    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'cumprod'"):
        ember.onnx.export(f, (ember.randn(2, 3),), io.BytesIO())


def test_dynamic_axis_that_cannot_stay_dynamic_raises():
    def f(x):
        # An index array built from the batch size cannot follow it.
        return x[ember.arange(x.shape[0]).flip(0)]

    with pytest.raises(RuntimeError, match="dynamic"):
        ember.onnx.export(f, (ember.randn(4, 2),), io.BytesIO(), input_names=["x"],
                          dynamic_axes={"x": [0]})


def _ort_vs_ember(f, *xs, dynamic: bool = False, other=None):
    """Export ``f(*xs)``, run it in onnxruntime (on ``other`` inputs when given) and compare
    every output with ember's, values and dtypes."""
    names = [f"x{i}" for i in range(len(xs))]
    buf = io.BytesIO()
    axes = {n: {0: "batch"} for n in names} if dynamic else None
    ember.onnx.export(f, tuple(xs), buf, input_names=names, dynamic_axes=axes)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    run_on = other if other is not None else xs
    got = sess.run(None, {n: x.numpy() for n, x in zip(names, run_on)})
    want = f(*run_on)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = w.detach().numpy()
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
    return proto


def _ops(proto) -> set:
    return {n.op_type for n in proto.graph.node}


def _distinct(*shape):
    # A permutation of distinct values: sort/topk orders are unambiguous.
    n = int(np.prod(shape))
    return ember.tensor(np.random.default_rng(0).permutation(n).reshape(shape) / n,
                        dtype=ember.float32)


@pytest.mark.parametrize("descending", [False, True])
def test_sort(descending):
    x = _distinct(4, 6)
    proto = _ort_vs_ember(lambda x: x.sort(1, descending=descending), x)
    assert "TopK" in _ops(proto)
    _ort_vs_ember(lambda x: x.sort(0, descending=descending), x, dynamic=True,
                  other=(_distinct(7, 6),))


def test_topk():
    x = _distinct(5, 8)
    _ort_vs_ember(lambda x: x.topk(3), x, dynamic=True, other=(_distinct(2, 8),))
    _ort_vs_ember(lambda x: x.topk(2, dim=0, largest=False), x)


@pytest.mark.parametrize("p", [2, 1, 3, float("inf"), 0])
def test_norm(p):
    x = ember.randn(4, 5)
    x = x.masked_fill(x.abs() < 0.3, 0.0)
    _ort_vs_ember(lambda x: x.norm(p=p), x)
    _ort_vs_ember(lambda x: x.norm(p=p, dim=1, keepdim=True), x, dynamic=True,
                  other=(ember.randn(6, 5),))


def test_one_hot():
    x = ember.randn(5, 4)
    _ort_vs_ember(lambda x: ember.nn.functional.one_hot(x.argmax(1), 4), x)
    _ort_vs_ember(lambda x: ember.nn.functional.one_hot(x.argmax(1)), x)


def test_roll():
    x = ember.randn(4, 6)
    _ort_vs_ember(lambda x: x.roll(2, 1), x, dynamic=True, other=(ember.randn(3, 6),))
    _ort_vs_ember(lambda x: x.roll((1, -2), (0, 1)), x, dynamic=True,
                  other=(ember.randn(7, 6),))
    _ort_vs_ember(lambda x: x.roll(-9), x)


def test_nonzero():
    x = ember.randn(4, 6)
    proto = _ort_vs_ember(lambda x: (x > 0).nonzero(), x, dynamic=True,
                          other=(ember.randn(9, 6),))
    assert "NonZero" in _ops(proto)


def test_scatter_and_scatter_add():
    x = _distinct(4, 6)
    idx = lambda x: x.argsort(1)[:, :2]  # noqa: E731 - distinct indices per row
    _ort_vs_ember(lambda x: x.scatter(1, idx(x), 1.5), x, dynamic=True,
                  other=(_distinct(5, 6),))
    _ort_vs_ember(lambda x: x.scatter(1, idx(x), x * 2), x)
    _ort_vs_ember(lambda x: x.scatter(1, idx(x), x, reduce="multiply"), x)
    _ort_vs_ember(lambda x: x.scatter_add(1, idx(x), x), x)


def test_index_put():
    x = ember.randn(4, 6)

    def mask_write(x):
        y = x.clone()
        y[x > 0] = 0.5
        return y

    def index_write(x):
        y = x.clone()
        y[ember.tensor([1, 3]), ember.tensor([0, 5])] = x[0, :2]
        return y

    def accumulate(x):
        return x.index_put((ember.tensor([0, 2, 0]),), x[1] * 2, accumulate=True)

    def traced_rows(x):
        return x.index_put((x[:, 0].argsort()[:2],), ember.ones(6))

    proto = _ort_vs_ember(mask_write, x, dynamic=True, other=(ember.randn(7, 6),))
    assert "ScatterND" in _ops(proto)
    for f in (index_write, accumulate, traced_rows):
        _ort_vs_ember(f, x)


def test_still_unmapped_ops_name_themselves():
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'index_put'"):
        def sliced_write(x):
            y = x.clone()
            y[:, ember.tensor([0, 1])] = 1.0
            return y
        ember.onnx.export(sliced_write, (ember.randn(3, 4),), io.BytesIO())


def test_lstm_lowers_to_onnx_lstm_and_encoder_to_primitives():
    model, make = build("lstm")
    proto = onnx.load_from_string(_export(model, make(3)))
    # One ONNX LSTM per layer and direction; the default zero state follows the batch.
    assert [n.op_type for n in proto.graph.node].count("LSTM") == 4
    assert "ConstantOfShape" in _ops(proto)
    model, make = build("encoder")
    ops = _ops(onnx.load_from_string(_export(model, make(3))))
    assert {"Softmax", "LayerNormalization", "MatMul"} <= ops and "LSTM" not in ops
