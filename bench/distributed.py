"""Distributed benchmark (issue 11): DDP correctness, scaling and all-reduce bandwidth in one run.

    python -m ember.distributed.run --nproc-per-node N bench/distributed.py [options]
    python bench/distributed.py --ranks N [options]        # starts the launcher itself

Every rank runs this file; rank 0 prints one report:

(a) correctness: DDP training of the MNIST CNN (conv32/conv64/fc) and of a small GPT, the global
    batch split across the ranks, against one process training on the whole global batch from
    the same initial weights (float32, SGD with momentum). Reported: the largest absolute
    parameter difference on any rank, next to how far the parameters moved.
(b) scaling: training throughput of ``--model`` (tokens/s; images/s for the CNN) with a fixed
    per-rank batch: on one rank (a plain model, rank 0 alone while the others wait) and on N ranks
    under DDP; efficiency = N-rank throughput / (N x one-rank throughput). torch DDP (gloo on the
    CPU, nccl on GPUs) is measured in the same run, with the same model code, as the baseline.
(c) all-reduce bus bandwidth of a ``--size`` float32 buffer through ember's backend and through
    torch.distributed, with nccl-tests' definitions: algbw = size / time,
    busbw = algbw * 2 (n - 1) / n.

Each timing is the best of ``--repeat`` windows, and a window's time is the slowest rank's.
Each rank uses one CPU thread (OMP_NUM_THREADS=1 unless set) so that on CPUs the one-rank
baseline and each of the N ranks get the same share of the machine.
NCCL_NVLS_ENABLE=0 is always set (NVLink multicast stays off). Options: ``--help``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import socket
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

# Before any NCCL (CuPy's or torch's) is loaded in this process or in the ranks it starts.
os.environ["NCCL_NVLS_ENABLE"] = "0"
# One CPU thread per rank unless told otherwise: the launcher sets OMP_NUM_THREADS=1 for several
# ranks (as torchrun does) but not for one, and the one-rank baseline must get the same share
# as each of the N ranks. It also keeps torch's OpenMP and OpenBLAS workers in this one process
# from spin-waiting against each other (a 2-thread run was several times slower here).
# ember's thread pool reads EMBER_NUM_THREADS. Set before NumPy and torch load.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("EMBER_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import ember  # noqa: E402
import ember.distributed as dist  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import gpt  # noqa: E402

# ------------------------------------------------------------------------------- options
GPT_CONFIGS = {
    # name: (layers, d_model, heads, vocab, seq)
    "gpt": (2, 128, 4, 512, 64),
    "gpt2": (12, 768, 12, 50257, 1024),  # GPT-2 small, 124M parameters (tied embeddings)
}


def parse_size(text: str) -> int:
    """``"64MiB"``, ``"1GiB"``, ``"512KiB"``, ``"1e6"`` or ``"4096"`` -> bytes."""
    m = re.fullmatch(r"\s*([0-9.eE+]+)\s*([KMGT]?i?B?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"cannot read size {text!r} (e.g. 64MiB, 1GiB)")
    unit = m.group(2).upper().replace("I", "").replace("B", "")
    scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[unit]
    value = int(float(m.group(1)) * scale)
    if value < 4:
        raise argparse.ArgumentTypeError(f"size {text!r} is below one float32")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="default: cuda when ember sees a GPU, else cpu")
    p.add_argument("--backend", choices=["gloo", "mpi", "nccl"], default=None,
                   help="ember's backend (default: gloo, i.e. MPI, on cpu; nccl on cuda)")
    p.add_argument("--model", choices=["cnn", "gpt", "gpt2"], default="gpt",
                   help="the model of the scaling run (gpt2 = GPT-2 small, for GPUs)")
    p.add_argument("--size", type=parse_size, default=None,
                   help="all-reduce buffer size (default 1GiB on cuda, 64MiB on cpu)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed training steps per window (default 10 cpu, 20 cuda)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps/iterations first")
    p.add_argument("--repeat", type=int, default=3, help="timed windows; the best one counts")
    p.add_argument("--iters", type=int, default=None,
                   help="all-reduce iterations per window (default 5 cpu, 20 cuda)")
    p.add_argument("--check-steps", type=int, default=3, help="training steps of (a)")
    p.add_argument("--batch", type=int, default=None,
                   help="per-rank batch of (b) (default cnn 32, gpt 8, gpt2 8)")
    p.add_argument("--seq", type=int, default=None, help="override the GPT sequence length")
    p.add_argument("--layers", type=int, default=None, help="override the GPT depth")
    p.add_argument("--d-model", dest="d_model", type=int, default=None,
                   help="override the GPT width (heads: d_model / 32, at least 1)")
    p.add_argument("--bf16", action="store_true",
                   help="autocast to bfloat16 in (b) (CUDA only; both frameworks)")
    p.add_argument("--compile", action="store_true",
                   help="ember.compile the ember training step of (b) (CUDA graphs)")
    p.add_argument("--only", default="correctness,scaling,allreduce",
                   help="comma-separated parts to run")
    p.add_argument("--no-torch", dest="no_torch", action="store_true",
                   help="skip the torch.distributed baseline")
    p.add_argument("--json", default=None, help="rank 0 also writes the results here")
    # Not --nproc: the launcher would read that as an abbreviation of its --nproc-per-node.
    p.add_argument("--ranks", type=int, default=None,
                   help="ranks to start when run without the launcher (default: GPUs or 2)")
    return p


# -------------------------------------------------------------------------------- models
def mnist_cnn(lib):
    """The MNIST CNN of the examples: conv32 -> pool -> conv64 -> pool -> fc128 -> fc10."""
    nn = lib.nn
    F = nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
            self.fc1 = nn.Linear(64 * 7 * 7, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = lib.flatten(x, 1)
            return self.fc2(F.relu(self.fc1(x)))
    return Net()


class Workload:
    """A model and its synthetic data: ``build(lib)`` makes the model on the CPU,
    ``batch(rng, n)`` draws ``n`` samples as NumPy arrays, ``loss(lib, out, y)``."""

    def __init__(self, kind: str, cfg: Optional[tuple] = None) -> None:
        self.kind = kind
        self.cfg = cfg

    @property
    def name(self) -> str:
        if self.kind == "cnn":
            return "MNIST CNN conv32/conv64/fc"
        layers, d, heads, vocab, seq = self.cfg
        return f"GPT {layers}L d{d} h{heads} V{vocab} T{seq}"

    @property
    def unit(self) -> str:
        return "images/s" if self.kind == "cnn" else "tokens/s"

    def items_per_sample(self) -> int:
        return 1 if self.kind == "cnn" else self.cfg[4]

    def build(self, lib):
        if self.kind == "cnn":
            return mnist_cnn(lib)
        return gpt(lib, *self.cfg)

    def batch(self, rng: np.random.Generator, n: int) -> tuple:
        if self.kind == "cnn":
            x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
            return x, rng.integers(0, 10, n).astype(np.int64)
        vocab, seq = self.cfg[3], self.cfg[4]
        tokens = rng.integers(0, vocab, (n, seq + 1)).astype(np.int64)
        return tokens[:, :-1].copy(), tokens[:, 1:].copy()

    def loss(self, lib, out, y):
        F = lib.nn.functional
        if self.kind == "cnn":
            return F.cross_entropy(out, y)
        return F.cross_entropy(out.reshape(-1, out.shape[-1]).float(), y.reshape(-1))


def gpt_config(args, kind: str) -> tuple:
    layers, d, heads, vocab, seq = GPT_CONFIGS[kind]
    if args.layers is not None:
        layers = args.layers
    if args.d_model is not None:
        d = args.d_model
        heads = max(1, d // 32)
    if args.seq is not None:
        seq = args.seq
    if d % heads:
        raise SystemExit(f"--d-model {d} is not divisible by {heads} heads")
    return layers, d, heads, vocab, seq


# ------------------------------------------------------------------------ run context
class Context:
    """This rank's view of the run: ember's process group, device, helpers to time across
    ranks, and (when torch is importable) torch's process group on a second port."""

    def __init__(self, args) -> None:
        self.args = args
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()
        self.local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = args.device
        self.dev = f"cuda:{self.local}" if args.device == "cuda" else "cpu"
        self.torch = None
        self.tdist = None
        self.torch_backend = "nccl" if args.device == "cuda" else "gloo"
        self.torch_note = ""

    def sync(self, lib) -> None:
        if self.device == "cuda":
            lib.cuda.synchronize()

    def barrier(self) -> None:
        dist.barrier()

    def max_over_ranks(self, value: float) -> float:
        t = ember.tensor([value], dtype=ember.float64 if self.device == "cpu"
                         else ember.float32, device=self.dev)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    def init_torch(self) -> None:
        if self.args.no_torch:
            self.torch_note = "skipped (--no-torch)"
            return
        try:
            import torch
            import torch.distributed as tdist
        except ImportError:
            self.torch_note = "torch is not importable"
            return
        if not tdist.is_available():
            self.torch_note = "torch.distributed is not available"
            return
        if self.device == "cuda":
            torch.cuda.set_device(self.local)
        # ember's rendezvous store already listens on MASTER_PORT: torch gets a free port of
        # rank 0's choosing.
        port = [_free_port() if self.rank == 0 else None]
        dist.broadcast_object_list(port, src=0)
        addr = os.environ.get("MASTER_ADDR", "127.0.0.1")
        kw = {"device_id": torch.device("cuda", self.local)} if self.device == "cuda" else {}
        tdist.init_process_group(self.torch_backend, init_method=f"tcp://{addr}:{port[0]}",
                                 rank=self.rank, world_size=self.world, **kw)
        self.torch = torch
        self.tdist = tdist

    def say(self, *parts: Any) -> None:
        if self.rank == 0:
            print(*parts, flush=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _to(lib, arr: np.ndarray, dev: str):
    return lib.tensor(arr).to(dev)


# ---------------------------------------------------------------------- (a) correctness
def check_correctness(ctx: Context, work: Workload, per_rank: int) -> Dict[str, Any]:
    """Train ``work`` under DDP and in one process on the same global batches; compare."""
    from ember.nn.parallel import DistributedDataParallel as DDP
    steps = ctx.args.check_steps
    global_batch = per_rank * ctx.world

    def fresh():
        ember.manual_seed(1234)  # the same initial weights on every rank and for the reference
        model = work.build(ember).to(ctx.dev)
        return model, ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def batches():
        rng = np.random.default_rng(99)
        for _ in range(steps):
            yield work.batch(rng, global_batch)

    model, opt = fresh()
    initial = {n: p.detach().cpu().numpy().copy() for n, p in model.named_parameters()}
    ddp = DDP(model)
    lo, hi = ctx.rank * per_rank, (ctx.rank + 1) * per_rank
    for x, y in batches():
        opt.zero_grad()
        loss = work.loss(ember, ddp(_to(ember, x[lo:hi], ctx.dev)), _to(ember, y[lo:hi], ctx.dev))
        loss.backward()
        opt.step()
    # Every rank also trains the single-process reference (the ranks run it side by side).
    ref, ref_opt = fresh()
    for x, y in batches():
        ref_opt.zero_grad()
        work.loss(ember, ref(_to(ember, x, ctx.dev)), _to(ember, y, ctx.dev)).backward()
        ref_opt.step()
    diff = 0.0
    moved = 0.0
    ref_params = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        a = p.detach().cpu().numpy()
        b = ref_params[name].detach().cpu().numpy()
        diff = max(diff, float(np.max(np.abs(a - b))))
        moved = max(moved, float(np.max(np.abs(b - initial[name]))))
    n_params = sum(int(np.prod(p.shape)) for p in model.parameters())
    return {"model": work.name, "params": n_params, "global_batch": global_batch,
            "steps": steps, "max_abs_diff": ctx.max_over_ranks(diff),
            "max_abs_update": ctx.max_over_ranks(moved)}


# -------------------------------------------------------------------------- (b) scaling
def _amp(lib, ctx: Context):
    if ctx.args.bf16:
        return lib.autocast("cuda", dtype=lib.bfloat16)
    return _Null()


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _make_step(lib, ctx: Context, work: Workload, model, x, y) -> Callable[[], None]:
    opt = lib.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        with _amp(lib, ctx):
            loss = work.loss(lib, model(x), y)
        loss.backward()
        opt.step()
    return step


def _time_windows(ctx: Context, lib, step: Callable[[], None], active: bool) -> float:
    """Seconds per step: best over windows of the slowest rank's window time. Ranks that are
    not ``active`` only join the barriers and the maximum (with 0 s)."""
    args = ctx.args
    if active:
        for _ in range(args.warmup):
            step()
        ctx.sync(lib)
    best = math.inf
    for _ in range(args.repeat):
        ctx.barrier()
        elapsed = 0.0
        if active:
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            ctx.sync(lib)
            elapsed = time.perf_counter() - t0
        best = min(best, ctx.max_over_ranks(elapsed) / args.steps)
    return best


def _throughput(ctx: Context, lib, work: Workload, batch: int, wrap) -> Dict[str, float]:
    """Items/s of one rank (plain model, rank 0 alone) and of all ranks under ``wrap``
    (the framework's DDP)."""
    rng = np.random.default_rng(7 + ctx.rank)
    x_np, y_np = work.batch(rng, batch)
    x, y = _to(lib, x_np, ctx.dev), _to(lib, y_np, ctx.dev)
    per_step = batch * work.items_per_sample()
    out = {}
    for label, ranks in (("one", 1), ("all", ctx.world)):
        lib.manual_seed(0)
        model = work.build(lib).to(ctx.dev)
        if label == "all":  # under DDP even on a world of one: its overhead counts
            model = wrap(model)
        step = _make_step(lib, ctx, work, model, x, y)
        if lib is ember and ctx.args.compile:
            step = ember.compile(step)
        active = ranks > 1 or ctx.rank == 0
        seconds = _time_windows(ctx, lib, step, active)
        out[label] = per_step * ranks / seconds
        del model, step
        _release_memory(ctx, lib)
    out["efficiency"] = out["all"] / (ctx.world * out["one"])
    return out


def _release_memory(ctx: Context, lib) -> None:
    if ctx.device != "cuda":
        return
    if lib is ember:
        import cupy
        cupy.get_default_memory_pool().free_all_blocks()
    else:
        lib.cuda.empty_cache()


def run_scaling(ctx: Context, work: Workload, batch: int) -> Dict[str, Any]:
    from ember.nn.parallel import DistributedDataParallel as DDP
    result: Dict[str, Any] = {"model": work.name, "unit": work.unit, "per_rank_batch": batch,
                              "steps": ctx.args.steps, "bf16": ctx.args.bf16,
                              "compile": ctx.args.compile}
    result["ember"] = _throughput(ctx, ember, work, batch, DDP)
    if ctx.torch is not None:
        torch = ctx.torch
        ids = [ctx.local] if ctx.device == "cuda" else None

        def wrap(model):
            return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        result["torch"] = _throughput(ctx, torch, work, batch, wrap)
    return result


# ------------------------------------------------------------------------ (c) all-reduce
def _allreduce_seconds(ctx: Context, lib, all_reduce: Callable, nbytes: int) -> float:
    buf = lib.zeros(nbytes // 4, dtype=lib.float32, device=ctx.dev)
    args = ctx.args

    def op():
        all_reduce(buf)
    for _ in range(args.warmup):
        op()
    ctx.sync(lib)
    best = math.inf
    for _ in range(args.repeat):
        ctx.barrier()
        t0 = time.perf_counter()
        for _ in range(args.iters):
            op()
        ctx.sync(lib)
        best = min(best, ctx.max_over_ranks(time.perf_counter() - t0) / args.iters)
    del buf
    _release_memory(ctx, lib)
    return best


def run_allreduce(ctx: Context, nbytes: int) -> Dict[str, Any]:
    nbytes -= nbytes % 4
    factor = 2 * (ctx.world - 1) / ctx.world

    def row(seconds: float) -> Dict[str, float]:
        algbw = nbytes / seconds / 1e9
        return {"seconds": seconds, "algbw_GBps": algbw, "busbw_GBps": algbw * factor}
    result: Dict[str, Any] = {"bytes": nbytes, "iters": ctx.args.iters}
    result["ember"] = row(_allreduce_seconds(ctx, ember, dist.all_reduce, nbytes))
    if ctx.torch is not None:
        result["torch"] = row(_allreduce_seconds(ctx, ctx.torch, ctx.tdist.all_reduce, nbytes))
    return result


# --------------------------------------------------------------------------------- report
def _first_line(path: str, key: str) -> str:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def describe_machine(ctx: Context) -> Dict[str, str]:
    """What the numbers ran on: host, CPU, memory, GPUs, library versions, run settings."""
    mem_kb = _first_line("/proc/meminfo", "MemTotal").split()
    mem = f"{int(mem_kb[0]) / 2**20:.1f} GiB RAM" if mem_kb else "RAM unknown"
    cpu = _first_line("/proc/cpuinfo", "model name") or platform.processor() or "unknown CPU"
    info = {"host": f"{socket.gethostname()}: {cpu}, {os.cpu_count()} cores, {mem}"}
    if ctx.device == "cuda":
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
        props = cupy.cuda.runtime.getDeviceProperties(ctx.local)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        info["gpus"] = (f"{n} x {name} ({props['totalGlobalMem'] / 2**30:.0f} GiB), "
                        f"{ctx.world} used")
        try:
            from cupy.cuda import nccl
            v = nccl.get_version()
            info["nccl"] = f"{v // 10000}.{v // 100 % 100}.{v % 100} (CuPy {cupy.__version__})"
        except Exception as e:  # the report still says why NCCL is missing
            info["nccl"] = f"unavailable ({e})"
    else:
        info["gpus"] = "none used"
    soft = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    if ctx.torch is not None:
        soft.append(f"torch {ctx.torch.__version__}")
    try:
        from mpi4py import MPI
        import mpi4py
        soft.append(f"mpi4py {mpi4py.__version__} on "
                    + " ".join(MPI.Get_library_version().splitlines()[0].split()))
    except Exception:
        pass
    info["software"] = ", ".join(soft)
    backend = dist.get_backend()
    if backend in ("gloo", "mpi"):
        backend += " (MPI)"
    torch_side = (f"torch {ctx.torch_backend}" if ctx.torch is not None
                  else f"torch baseline: {ctx.torch_note}")
    ranks = f"{ctx.world} rank" + ("s" if ctx.world > 1 else "")
    info["run"] = (f"{ranks} on {ctx.device}, ember backend {backend}, {torch_side}; "
                   f"NCCL_NVLS_ENABLE={os.environ.get('NCCL_NVLS_ENABLE')}, OMP_NUM_THREADS="
                   f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, EMBER_NUM_THREADS="
                   f"{os.environ.get('EMBER_NUM_THREADS', 'unset')}")
    return info


def _fmt_rate(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.2f}"


def print_report(ctx: Context, results: Dict[str, Any]) -> None:
    say = ctx.say
    bar = "=" * 100
    say(bar)
    say("ember.distributed benchmark (bench/distributed.py)")
    for key, value in results["machine"].items():
        say(f"  {key:<9} {value}")
    if "correctness" in results:
        rows = results["correctness"]
        say(bar)
        say(f"(a) correctness: DDP on {ctx.world} ranks vs one process on the same global batch "
            f"(float32, SGD momentum, {rows[0]['steps']} steps)")
        say(f"  {'model':<34}{'params':>11}{'global batch':>14}{'max |DDP - one|':>18}"
            f"{'max |update|':>15}")
        for r in rows:
            say(f"  {r['model']:<34}{r['params']:>11,}{r['global_batch']:>14}"
                f"{r['max_abs_diff']:>18.3e}{r['max_abs_update']:>15.3e}")
    if "scaling" in results:
        s = results["scaling"]
        say(bar)
        extras = ", bf16 autocast" if s["bf16"] else ""
        extras += ", ember.compile" if s["compile"] else ""
        say(f"(b) scaling: {s['model']}, per-rank batch {s['per_rank_batch']}, "
            f"best of {ctx.args.repeat} x {s['steps']} steps{extras}")
        say(f"  {'framework':<14}{'1 rank ' + s['unit']:>20}{f'{ctx.world} ranks ' + s['unit']:>22}"
            f"{'efficiency':>12}   (N-rank / (N x 1-rank))")
        for fw in ("ember", "torch"):
            if fw in s:
                r = s[fw]
                label = "ember DDP" if fw == "ember" else "torch DDP"
                say(f"  {label:<14}{_fmt_rate(r['one']):>20}{_fmt_rate(r['all']):>22}"
                    f"{r['efficiency'] * 100:>11.1f}%")
        if "torch" in s:
            say(f"  ember / torch throughput on {ctx.world} ranks: "
                f"{s['ember']['all'] / s['torch']['all']:.2f}x")
    if "allreduce" in results:
        a = results["allreduce"]
        say(bar)
        size = a["bytes"]
        human = (f"{size / 2**30:g} GiB" if size >= 2**30 else f"{size / 2**20:g} MiB"
                 if size >= 2**20 else f"{size / 2**10:g} KiB")
        say(f"(c) all-reduce of {human} float32 on {ctx.world} ranks, best of "
            f"{ctx.args.repeat} x {a['iters']} iterations; busbw = algbw * 2(n-1)/n")
        say(f"  {'framework':<28}{'time/iter':>14}{'algbw GB/s':>14}{'busbw GB/s':>14}")
        for fw in ("ember", "torch"):
            if fw in a:
                r = a[fw]
                backend = (dist.get_backend() if fw == "ember" else ctx.torch_backend)
                label = f"{fw} {backend}" + (" (MPI)" if fw == "ember" and
                                             backend in ("gloo", "mpi") else "")
                say(f"  {label:<28}{r['seconds'] * 1e3:>11.3f} ms{r['algbw_GBps']:>14.3f}"
                    f"{r['busbw_GBps']:>14.3f}")
    say(bar)


# ----------------------------------------------------------------------------------- main
def _relaunch(args, argv: List[str]) -> int:
    """Started without the launcher: start ``--ranks`` ranks of this file through it."""
    n = args.ranks
    if n is None:
        n = 2
        if args.device == "cuda":
            n = max(1, ember.cuda.device_count())
    env = dict(os.environ)
    env["NCCL_NVLS_ENABLE"] = "0"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", str(n),
           os.path.abspath(__file__), *argv]
    return subprocess.call(cmd, env=env, cwd=ROOT)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.device is None:
        args.device = "cuda" if ember.cuda.is_available() else "cpu"
    if args.bf16 and args.device != "cuda":
        raise SystemExit("--bf16 is for --device cuda")
    if args.backend is None:
        args.backend = "nccl" if args.device == "cuda" else "gloo"
    if (args.backend == "nccl") != (args.device == "cuda"):
        raise SystemExit(f"--backend {args.backend} does not drive --device {args.device} "
                         "(nccl is for cuda; gloo/mpi for cpu)")
    on_gpu = args.device == "cuda"
    if args.size is None:
        args.size = (1 << 30) if on_gpu else (64 << 20)
    if args.steps is None:
        args.steps = 20 if on_gpu else 10
    if args.iters is None:
        args.iters = 20 if on_gpu else 5
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - {"correctness", "scaling", "allreduce"}
    if unknown:
        raise SystemExit(f"--only: unknown parts {sorted(unknown)}")
    if "RANK" not in os.environ:
        return _relaunch(args, argv)
    if on_gpu:
        ember.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))

    dist.init_process_group(args.backend)
    ctx = Context(args)
    ctx.init_torch()
    results: Dict[str, Any] = {"world_size": ctx.world, "device": args.device,
                               "backend": dist.get_backend(),
                               "torch_backend": ctx.torch_backend if ctx.torch else None,
                               "machine": describe_machine(ctx)}
    small_gpt = gpt_config(args, "gpt") if args.model == "gpt" else GPT_CONFIGS["gpt"]
    if "correctness" in parts:
        results["correctness"] = [
            check_correctness(ctx, Workload("cnn"), per_rank=4),
            check_correctness(ctx, Workload("gpt", small_gpt), per_rank=2),
        ]
    if "scaling" in parts:
        work = (Workload("cnn") if args.model == "cnn"
                else Workload("gpt", gpt_config(args, args.model)))
        batch = args.batch or (32 if args.model == "cnn" else 8)
        results["scaling"] = run_scaling(ctx, work, batch)
    if "allreduce" in parts:
        results["allreduce"] = run_allreduce(ctx, args.size)
    print_report(ctx, results)
    if args.json and ctx.rank == 0:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if ctx.tdist is not None:
        ctx.tdist.destroy_process_group()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
