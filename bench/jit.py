"""Inference latency of the seeds' MLP and CNN: eager ember vs traced ember vs onnxruntime.

    python bench/jit.py

Batch 1 and 64, one run; each line prints the three best-of-N latencies (interleaved timing
from bench/common.py) and the traced and onnxruntime times relative to eager.
"""
from __future__ import annotations

import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "jit"))

import ember  # noqa: E402
from common import compare  # noqa: E402
from jit_models import build  # noqa: E402


def main() -> None:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = os.cpu_count() or 1
    print(f"{'model':<6} {'batch':>5} {'eager us':>11} {'traced us':>11} {'onnxrt us':>11} "
          f"{'traced/eager':>13} {'ort/eager':>10}", flush=True)
    for name in ("mlp", "cnn"):
        model, make = build(name)
        traced = ember.jit.freeze(ember.jit.trace(model, make(2)))
        buf = io.BytesIO()
        ember.onnx.export(model, (make(2),), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
        sess = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
        for batch in (1, 64):
            x = make(batch)
            xn = x.numpy()
            number = 200 if (name == "mlp" or batch == 1) else 10
            with ember.no_grad():
                eager, tr = compare(lambda: model(x), lambda: traced(x), number=number,
                                    repeat=5)
                _, onx = compare(lambda: model(x), lambda: sess.run(None, {"x": xn}),
                                 number=number, repeat=5)
            print(f"{name:<6} {batch:>5} {eager * 1e6:>11.1f} {tr * 1e6:>11.1f} "
                  f"{onx * 1e6:>11.1f} {tr / eager:>12.2f}x {onx / eager:>9.2f}x", flush=True)


if __name__ == "__main__":
    main()
