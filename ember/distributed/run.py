"""The launcher: ``python -m ember.distributed.run --nproc-per-node N script.py [args]``.

Like ``torchrun`` it starts N copies of the script with RANK, LOCAL_RANK, WORLD_SIZE,
LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_* set, forwards SIGINT,
SIGTERM, SIGHUP and SIGQUIT to every rank, and when one rank fails it stops the others and
prints which rank failed and why (the exception each rank records in its error file).

The ranks are plain processes; ``init_process_group`` joins them into one MPI communicator
through MPI's connect/accept (see ``ember.distributed._mpi``), so no ``mpiexec`` is needed and
everything comes from PyPI (``mpi4py`` and ``mpich``). Jobs that prefer MPI's own launcher can
run ``mpiexec -n N python script.py`` instead: the ranks then come from MPI.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import List, Optional, Sequence

PREFIX = "[ember.distributed.run]"
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def _log(msg: str) -> None:
    print(f"{PREFIX} {msg}", file=sys.stderr, flush=True)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _nproc(value: str) -> int:
    if value in ("cpu", "auto"):
        return os.cpu_count() or 1
    if value == "gpu":
        try:
            import cupy
            return max(1, cupy.cuda.runtime.getDeviceCount())
        except Exception:
            raise SystemExit(f"{PREFIX} --nproc-per-node gpu: no CUDA devices") from None
    try:
        n = int(value)
    except ValueError:
        raise SystemExit(f"{PREFIX} --nproc-per-node must be an integer, cpu, gpu or auto, "
                         f"got {value!r}") from None
    if n < 1:
        raise SystemExit(f"{PREFIX} --nproc-per-node must be at least 1, got {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ember.distributed.run",
        description="Start N ranks of a training script (torchrun's options).")
    p.add_argument("--nproc-per-node", "--nproc_per_node", dest="nproc_per_node", default="1",
                   help="ranks on this node: an integer, cpu, gpu or auto")
    p.add_argument("--nnodes", default="1", help="number of nodes (N or N:N; no elasticity)")
    p.add_argument("--node-rank", "--node_rank", dest="node_rank", type=int, default=0)
    p.add_argument("--master-addr", "--master_addr", dest="master_addr", default="127.0.0.1")
    p.add_argument("--master-port", "--master_port", dest="master_port", type=int,
                   default=None, help="default: a free port on one node, 29500 on several")
    p.add_argument("--rdzv-endpoint", "--rdzv_endpoint", dest="rdzv_endpoint", default="",
                   help="host:port, an alternative to --master-addr/--master-port")
    p.add_argument("--rdzv-backend", "--rdzv_backend", dest="rdzv_backend", default="static")
    p.add_argument("--rdzv-id", "--rdzv_id", dest="rdzv_id", default="none")
    p.add_argument("--standalone", action="store_true", help="single node, free port")
    p.add_argument("--max-restarts", "--max_restarts", dest="max_restarts", type=int, default=0)
    p.add_argument("--monitor-interval", "--monitor_interval", dest="monitor_interval",
                   type=float, default=0.05)
    p.add_argument("--stop-timeout", dest="stop_timeout", type=float, default=5.0,
                   help="seconds a rank gets to exit after SIGTERM before SIGKILL")
    p.add_argument("-m", "--module", action="store_true",
                   help="run the target as a module (python -m)")
    p.add_argument("--no-python", "--no_python", dest="no_python", action="store_true",
                   help="run the target as an executable, not a Python script")
    p.add_argument("--alias-torch", dest="alias_torch", action="store_true",
                   help="make `import torch` import ember in the ranks (ember torchrun)")
    p.add_argument("training_script", help="the script (or module with -m)")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


class _Rank:
    def __init__(self, rank: int, local_rank: int, proc: subprocess.Popen, error_file: str):
        self.rank = rank
        self.local_rank = local_rank
        self.proc = proc
        self.error_file = error_file


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _report_failure(r: _Rank, code: int) -> None:
    _log(f"rank {r.rank} (local_rank {r.local_rank}, pid {r.proc.pid}) failed: "
         f"{_describe_exit(code)}")
    reason = None
    stack = None
    try:
        with open(r.error_file) as f:
            record = json.load(f)
        reason = record["message"]["message"]
        stack = record["message"]["extraInfo"].get("py_callstack")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if reason:
        _log(f"rank {r.rank} error: {reason}")
        if stack:
            for line in stack.rstrip().splitlines():
                print(f"{PREFIX}   [rank {r.rank}] {line}", file=sys.stderr)
    else:
        _log(f"rank {r.rank} left no error record (crashed outside Python, or was killed); "
             "see its output above")


def _signal_all(ranks: Sequence[_Rank], sig: int) -> None:
    for r in ranks:
        if r.proc.poll() is None:
            try:
                os.killpg(r.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                try:
                    r.proc.send_signal(sig)
                except ProcessLookupError:
                    pass


def _stop_all(ranks: Sequence[_Rank], grace: float, sig: int = signal.SIGTERM) -> None:
    _signal_all(ranks, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(r.proc.poll() is None for r in ranks):
        time.sleep(0.02)
    _signal_all(ranks, signal.SIGKILL)
    for r in ranks:
        try:
            r.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class _Signalled(Exception):
    def __init__(self, signum: int) -> None:
        self.signum = signum


def launch(ns: argparse.Namespace) -> int:
    """Start the ranks of this node, watch them, return the launcher's exit code."""
    nproc = _nproc(ns.nproc_per_node)
    nnodes = int(str(ns.nnodes).split(":")[-1])
    if ns.max_restarts:
        _log("--max-restarts is not supported (no elastic restarts); running once")
    addr, port = ns.master_addr, ns.master_port
    if ns.rdzv_endpoint:
        host, _, p = ns.rdzv_endpoint.rpartition(":")
        addr, port = (host or addr), (int(p) if p else port)
    if ns.standalone or port is None:
        if nnodes > 1 and not ns.standalone:
            port = 29500  # every node must agree on it
        else:
            addr, port = "127.0.0.1", _free_port("127.0.0.1")
    world = nproc * nnodes
    run_id = ns.rdzv_id if ns.rdzv_id != "none" else uuid.uuid4().hex[:12]
    log_dir = tempfile.mkdtemp(prefix="ember_run_")
    ranks: List[_Rank] = []

    def on_signal(signum, frame):
        raise _Signalled(signum)

    previous = {s: signal.signal(s, on_signal) for s in _FORWARDED}
    try:
        for local in range(nproc):
            rank = ns.node_rank * nproc + local
            err = os.path.join(log_dir, f"rank_{rank}_error.json")
            env = dict(os.environ)
            env.update({
                "RANK": str(rank), "LOCAL_RANK": str(local), "WORLD_SIZE": str(world),
                "LOCAL_WORLD_SIZE": str(nproc), "GROUP_RANK": str(ns.node_rank),
                "GROUP_WORLD_SIZE": str(nnodes), "ROLE_RANK": str(rank),
                "ROLE_WORLD_SIZE": str(world), "ROLE_NAME": "default",
                "MASTER_ADDR": addr, "MASTER_PORT": str(port),
                "TORCHELASTIC_RUN_ID": run_id, "TORCHELASTIC_RESTART_COUNT": "0",
                "TORCHELASTIC_MAX_RESTARTS": str(ns.max_restarts),
                "TORCHELASTIC_USE_AGENT_STORE": "False", "TORCHELASTIC_ERROR_FILE": err,
                "EMBER_LAUNCHER_PID": str(os.getpid()),
            })
            if nproc > 1 and "OMP_NUM_THREADS" not in os.environ:
                # torchrun's default: N ranks each using every core would oversubscribe.
                env["OMP_NUM_THREADS"] = "1"
            if ns.no_python:
                cmd = [ns.training_script]
            else:
                cmd = [sys.executable, "-u", "-m", "ember.distributed._worker"]
                if ns.alias_torch:
                    cmd.append("--alias-torch")
                if ns.module:
                    cmd.append("-m")
                cmd.append(ns.training_script)
            cmd += list(ns.training_script_args)
            # Each rank in its own session: a Ctrl-C reaches only the launcher, which
            # forwards it exactly once; the launcher can also kill a rank's whole tree.
            proc = subprocess.Popen(cmd, env=env, start_new_session=True)
            ranks.append(_Rank(rank, local, proc, err))
        while True:
            alive = False
            for r in ranks:
                code = r.proc.poll()
                if code is None:
                    alive = True
                elif code != 0:
                    _report_failure(r, code)
                    others = [o for o in ranks if o.proc.poll() is None]
                    if others:
                        _log("stopping the other ranks: "
                             + ", ".join(str(o.rank) for o in others))
                    _stop_all(others, ns.stop_timeout)
                    return 1
            if not alive:
                return 0
            time.sleep(ns.monitor_interval)
    except _Signalled as s:
        name = signal.Signals(s.signum).name
        _log(f"received {name}; forwarding it to every rank")
        _stop_all(ranks, ns.stop_timeout, s.signum)
        return 128 + s.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(log_dir, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ns = build_parser().parse_args(argv)
    return launch(ns)


if __name__ == "__main__":
    sys.exit(main())
