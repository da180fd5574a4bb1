"""Op-level benchmark: ember's time over torch's, measured in one run.

    python bench/ops.py

Targets (issue "ember core"): tiny-op overhead <= 2x torch, 1024^3 matmul within 10 % of NumPy,
a 20-op elementwise chain forward+backward on 1M elements <= 1.5x torch, `import ember` <= 0.3 s.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import ember  # noqa: E402
from common import compare, compare_processes, report, serve, timeit  # noqa: E402


def import_time(mod: str) -> float:
    code = f"import time; t=time.perf_counter(); import {mod}; print(time.perf_counter()-t)"
    runs = [float(subprocess.check_output([sys.executable, "-c", code]).decode())
            for _ in range(3)]
    return min(runs)


def chain(lib, x):
    y = x
    for i in range(5):
        y = (y * 1.01 + 0.1).tanh() * y.sigmoid() - y * 0.5
    return y


def _chain_step(lib):
    big = np.random.default_rng(0).random(1_000_000).astype(np.float32)
    x = lib.tensor(big, requires_grad=True)

    def step():
        x.grad = None
        chain(lib, x).sum().backward()
    return step


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        torch.set_num_threads(os.cpu_count() or 1)
        serve(_chain_step(ember if sys.argv[2] == "ember" else torch))
        return
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"torch {torch.__version__} threads={torch.get_num_threads()}  numpy {np.__version__}")
    a_np = np.random.rand(10).astype(np.float32)
    ea, eb = ember.tensor(a_np), ember.tensor(a_np)
    ta, tb = torch.tensor(a_np), torch.tensor(a_np)
    report("add 10 elements, no grad", *compare(lambda: ea + eb, lambda: ta + tb, 20000),
           "target <= 2x")
    eg = ember.tensor(a_np, requires_grad=True)
    tg = torch.tensor(a_np, requires_grad=True)
    report("add 10 elements, with grad", *compare(lambda: eg + eb, lambda: tg + tb, 20000),
           "target <= 2x")

    m = np.random.rand(1024, 1024).astype(np.float32)
    em, tm = ember.tensor(m), torch.tensor(m)
    t_np = timeit(lambda: m @ m, 5, 5, 1)
    t_em = timeit(lambda: em @ em, 5, 5, 1)
    t_tm = timeit(lambda: tm @ tm, 5, 5, 1)
    report("matmul 1024^3 float32 (vs torch)", t_em, t_tm)
    print(f"{'matmul 1024^3 float32 (vs numpy)':<44} ember {t_em * 1e6:10.1f} us  "
          f"numpy {t_np * 1e6:10.1f} us  ratio {t_em / t_np:5.2f}x  target <= 1.10x")

    big = np.random.rand(1_000_000).astype(np.float32)
    ex = ember.tensor(big, requires_grad=True)
    tx = torch.tensor(big, requires_grad=True)

    def e_step():
        ex.grad = None
        chain(ember, ex).sum().backward()

    def t_step():
        tx.grad = None
        chain(torch, tx).sum().backward()
    report("20-op chain fwd+bwd, 1M elements (same process)", *compare(e_step, t_step, 3, 7, 1),
           "target <= 1.5x")
    report("20-op chain fwd+bwd, 1M elements (own process)",
           *compare_processes(__file__, "chain", 3, 7), "target <= 1.5x")

    ti_e = import_time("ember")
    ti_t = import_time("torch")
    print(f"{'import time':<44} ember {ti_e:8.3f} s    torch {ti_t:8.3f} s    "
          "target ember <= 0.3 s")


if __name__ == "__main__":
    main()
