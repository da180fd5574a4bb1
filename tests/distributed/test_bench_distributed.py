"""Smoke test of bench/distributed.py: 2 CPU ranks through the launcher, tiny settings."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--device", "cpu", "--model", "gpt", "--layers", "1", "--d-model", "32", "--seq", "16",
        "--batch", "2", "--steps", "2", "--warmup", "1", "--repeat", "1", "--check-steps", "2",
        "--size", "256KiB", "--iters", "2"]


def _torch_distributed() -> bool:
    try:
        import torch.distributed as tdist
    except ImportError:
        return False
    return tdist.is_available()


def test_bench_distributed_two_ranks(tmp_path):
    out = tmp_path / "results.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("NCCL_NVLS_ENABLE", None)  # the script must set it itself
    cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2",
           str(ROOT / "bench" / "distributed.py"), *TINY, "--json", str(out)]
    t0 = time.monotonic()
    res = subprocess.run(cmd, env=env, cwd=str(ROOT), capture_output=True, text=True,
                         timeout=90)
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    text = res.stdout
    for heading in ("host", "(a) correctness", "(b) scaling", "(c) all-reduce", "busbw GB/s",
                    "NCCL_NVLS_ENABLE=0", "2 ranks on cpu"):
        assert heading in text, f"{heading!r} missing from:\n{text}"
    # One report (rank 0's), not one per rank.
    assert text.count("(a) correctness") == 1
    results = json.loads(out.read_text())
    assert results["world_size"] == 2 and results["device"] == "cpu"

    # (a) DDP on 2 ranks equals one process on the global batch to float32 rounding, while
    # the parameters really moved.
    models = [r["model"] for r in results["correctness"]]
    assert models[0].startswith("MNIST CNN") and models[1].startswith("GPT 1L d32")
    for r in results["correctness"]:
        assert r["max_abs_diff"] < 1e-5, r
        assert r["max_abs_update"] > 1e-3, r

    # (b) throughputs are positive and the efficiency is their ratio.
    frameworks = ["ember"] + (["torch"] if _torch_distributed() else [])
    scaling = results["scaling"]
    assert scaling["unit"] == "tokens/s" and scaling["per_rank_batch"] == 2
    for fw in frameworks:
        s = scaling[fw]
        assert s["one"] > 0 and s["all"] > 0
        assert abs(s["efficiency"] - s["all"] / (2 * s["one"])) < 1e-9

    # (c) nccl-tests' bus bandwidth: busbw = algbw * 2(n-1)/n, algbw = bytes / time.
    ar = results["allreduce"]
    assert ar["bytes"] == 256 * 1024
    for fw in frameworks:
        a = ar[fw]
        assert a["seconds"] > 0
        assert abs(a["algbw_GBps"] - ar["bytes"] / a["seconds"] / 1e9) < 1e-9
        assert abs(a["busbw_GBps"] - a["algbw_GBps"] * 2 * (2 - 1) / 2) < 1e-9
    assert elapsed < 60, f"the smoke run took {elapsed:.1f} s"
