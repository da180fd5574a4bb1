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
