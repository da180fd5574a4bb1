"""Inference latency of the seeds' MLP and CNN: eager ember vs traced ember vs onnxruntime.

    python bench/jit.py

Batch 1 and 64, one run; each line prints the three best-of-N latencies (interleaved timing
from bench/common.py) and the traced and onnxruntime times relative to eager. All timing runs
under ``no_grad`` (inference), where a traced graph runs on raw arrays: it calls each
primitive's ``forward`` directly instead of ``Primitive.apply``, which wraps every intermediate
in a Tensor. That wrapping was the graph executor's per-node overhead (about 3 us a node, more
than eager code's small-op fast path), measured by the last line: a chain of 75 tiny ops, where
the cost is all per-op overhead.

On a shared machine wall-clock latency is noisy; the ``cpu`` columns (process CPU time, best of
N) are the steadier comparison of eager and traced ember.
"""
from __future__ import annotations

import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "jit"))

import ember  # noqa: E402
from common import compare  # noqa: E402
from jit_models import build  # noqa: E402


def _cpu_compare(fa, fb, number: int, repeat: int = 5) -> tuple[float, float]:
    """Best process-CPU seconds per call of each, interleaved (robust to other processes)."""
    a, b = [], []
    for _ in range(repeat):
        for f, acc in ((fa, a), (fb, b)):
            t0 = time.process_time()
            for _ in range(number):
                f()
            acc.append((time.process_time() - t0) / number)
    return min(a), min(b)


def _chain(x):
    for _ in range(25):
        x = (x * 1.01 + 0.5).relu()
    return x


def main() -> None:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = os.cpu_count() or 1
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'model':<6} {'batch':>5} {'eager us':>11} {'traced us':>11} {'onnxrt us':>11} "
          f"{'traced/eager':>13} {'ort/eager':>10} {'cpu traced/eager':>17}", flush=True)
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
                ce, ct = _cpu_compare(lambda: model(x), lambda: traced(x), number)
            print(f"{name:<6} {batch:>5} {eager * 1e6:>11.1f} {tr * 1e6:>11.1f} "
                  f"{onx * 1e6:>11.1f} {tr / eager:>12.2f}x {onx / eager:>9.2f}x "
                  f"{ct / ce:>16.2f}x", flush=True)
    x = ember.randn(10)
    traced = ember.jit.trace(_chain, x)
    with ember.no_grad():
        eager, tr = compare(lambda: _chain(x), lambda: traced(x), number=300, repeat=5)
        ce, ct = _cpu_compare(lambda: _chain(x), lambda: traced(x), 300)
    print(f"{'chain of 75 tiny ops':<18} {eager * 1e6:>11.1f} {tr * 1e6:>11.1f} {'':>11} "
          f"{tr / eager:>12.2f}x {'':>10} {ct / ce:>16.2f}x", flush=True)


if __name__ == "__main__":
    main()
