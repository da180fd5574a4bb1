"""``import ember`` stays light: no torch, no cupy, and fast."""
from __future__ import annotations

import json
import os
import subprocess
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import ember
dt = time.perf_counter() - t0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "cupy", "cupyx"))
print(json.dumps({"seconds": dt, "heavy": heavy}))
"""


def _probe() -> dict:
    env = dict(os.environ, PYTHONPATH=_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         env=env, cwd=_ROOT, timeout=60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_does_not_pull_torch_or_cupy():
    r = _probe()
    assert not r["heavy"], f"import ember imported {r['heavy']}"


def test_import_time():
    # Best of three, so that a cold disk cache does not count; the target is < 0.3 s, the
    # assertion is generous so a loaded CI machine does not flake.
    best = min(_probe()["seconds"] for _ in range(3))
    print(f"import ember: {best * 1000:.0f} ms")
    assert best < 2.0, f"import ember took {best:.2f} s"
