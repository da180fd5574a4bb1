"""The launcher: environment, failing ranks, hung peers, signals; `ember torchrun`; mpiexec."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from dist_helpers import HERE, ROOT, launch


def test_sets_torchrun_environment(tmp_path):
    res = launch("sleeper.py", 2, str(tmp_path), "exit")
    assert res.returncode == 0, res.stderr
    envs = [json.loads((tmp_path / f"env{r}.json").read_text()) for r in range(2)]
    for r, env in enumerate(envs):
        assert env["RANK"] == env["LOCAL_RANK"] == str(r)
        assert env["WORLD_SIZE"] == env["LOCAL_WORLD_SIZE"] == "2"
        assert env["GROUP_RANK"] == "0" and env["TORCHELASTIC_RESTART_COUNT"] == "0"
        assert env["MASTER_ADDR"] == "127.0.0.1" and int(env["MASTER_PORT"]) > 0
        assert env["argv"][1:] == [str(tmp_path), "exit"]
    assert envs[0]["MASTER_PORT"] == envs[1]["MASTER_PORT"]
    assert envs[0]["TORCHELASTIC_RUN_ID"] == envs[1]["TORCHELASTIC_RUN_ID"]


def test_failing_rank_stops_everyone_and_is_named():
    t0 = time.monotonic()
    res = launch("fail_rank.py", 2, timeout=60)
    elapsed = time.monotonic() - t0
    assert res.returncode != 0
    assert elapsed < 20, elapsed  # rank 0 was stopped, not left waiting for its peer
    assert "rank 1 (local_rank 1" in res.stderr and "failed: exit code 1" in res.stderr
    assert "rank 1 error: ValueError: rank one gave up on purpose" in res.stderr
    assert "stopping the other ranks: 0" in res.stderr


def test_hung_peer_hits_the_timeout():
    t0 = time.monotonic()
    res = launch("hung_peer.py", 2, "2", timeout=60)
    elapsed = time.monotonic() - t0
    assert res.returncode != 0
    assert elapsed < 25, elapsed
    assert "rank 0 error: DistBackendError: ember.distributed: all_reduce" in res.stderr
    assert "timed out after 2 s on rank 0 of 2" in res.stderr
    assert "a peer rank never joined it" in res.stderr


def test_signals_are_forwarded(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2",
           str(HERE / "scripts" / "sleeper.py"), str(tmp_path)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
    try:
        deadline = time.monotonic() + 30
        while not all((tmp_path / f"env{r}.json").exists() for r in range(2)):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert "received SIGTERM; forwarding it to every rank" in err
    for r in range(2):
        assert (tmp_path / f"term{r}").read_text() == "SIGTERM"


def test_bad_arguments():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node",
                          "zero", "x.py"], env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode != 0 and "--nproc-per-node must be an integer" in res.stderr


def test_ember_torchrun_aliases_torch(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-m", "ember", "torchrun", "--nproc-per-node", "2",
                          str(HERE / "scripts" / "alias_check.py"), str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    assert res.returncode == 0, res.stderr[-3000:]
    for r in range(2):
        assert (tmp_path / f"rank{r}.txt").read_text() == "ember [3.0, 3.0]"


def _mpiexec():
    found = shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    return found or shutil.which("mpiexec")


def test_ranks_from_mpiexec(tmp_path):
    assert _mpiexec() is not None, "the mpich package (test extra) provides mpiexec"
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK")}
    env["PYTHONPATH"] = str(ROOT)
    res = subprocess.run([_mpiexec(), "-n", "2", sys.executable,
                          str(HERE / "scripts" / "mpiexec_ranks.py"), str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    assert res.returncode == 0, res.stderr[-3000:]
    for r in range(2):
        assert (tmp_path / f"rank{r}.txt").read_text() == "2 1.0"
