"""Run a script on several ranks through ember's launcher, with a hard timeout (no hangs)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def launch(script: str, nproc: int, *args: str, timeout: float = 90,
           extra_env: dict | None = None, launcher_args: tuple = ()):
    """``python -m ember.distributed.run --nproc-per-node nproc script args``; returns the
    CompletedProcess (stdout and stderr as text)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra_env or {})
    cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", str(nproc),
           *launcher_args, str(HERE / "scripts" / script), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=str(ROOT))
