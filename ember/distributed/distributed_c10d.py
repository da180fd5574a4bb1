"""Process groups and collectives with the names and semantics of ``torch.distributed``.

The front end here turns ember tensors into contiguous arrays in a dtype the backend can reduce
(bool as uint8, float16 through float32; bfloat16 is already float32 storage), hands them to the
backend (``_mpi.MPIBackend`` on CPUs, ``_nccl.NCCLBackend`` on GPUs) and writes the results back
into the tensors when the operation completes. Every operation returns a ``Work``; with
``async_op=False`` it is waited on before returning, as in torch.
"""
from __future__ import annotations

import enum
import io
import os
import pickle
import time
from datetime import timedelta
from typing import Any, Callable, List, Optional, Sequence
from urllib.parse import parse_qs, urlparse

import numpy as np

from ..backend import dtypes as _dt
from ..tensor import Tensor
from . import _mpi
from ._store import HashStore, Store, TCPStore
from .errors import DistBackendError

__all__ = [
    "Backend", "ReduceOp", "reduce_op", "Work", "ProcessGroup", "GroupMember", "group",
    "P2POp", "default_pg_timeout", "init_process_group", "destroy_process_group",
    "is_initialized", "is_available", "is_mpi_available", "is_gloo_available",
    "is_nccl_available", "is_torchelastic_launched", "get_rank", "get_world_size",
    "get_backend", "get_global_rank", "get_group_rank", "get_process_group_ranks",
    "get_node_local_rank", "new_group", "all_reduce", "broadcast", "all_gather",
    "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "reduce", "gather",
    "scatter", "barrier", "monitored_barrier", "send", "recv", "isend", "irecv",
    "batch_isend_irecv", "all_to_all", "all_to_all_single", "all_gather_object",
    "broadcast_object_list", "gather_object", "scatter_object_list",
]

default_pg_timeout = timedelta(minutes=30)


class Backend(str):
    """A backend name: ``Backend("gloo") == "gloo"``; unknown names raise ValueError.

    ember's CPU backend is MPI (through mpi4py); torch's CPU name ``"gloo"`` is accepted and runs
    on it. ``"nccl"`` runs NCCL through CuPy on GPUs.
    """

    UNDEFINED = "undefined"
    GLOO = "gloo"
    MPI = "mpi"
    NCCL = "nccl"
    backend_list = [GLOO, MPI, NCCL]

    def __new__(cls, name: str) -> "Backend":
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        value = name.lower()
        if value not in cls.backend_list and ":" not in value:
            raise ValueError(f"Invalid backend: '{name}' (ember supports gloo, mpi and nccl)")
        return str.__new__(cls, value)


class ReduceOp:
    """Reduction operations: ``ReduceOp.SUM``, ``AVG``, ``PRODUCT``, ``MIN``, ``MAX``, ``BAND``,
    ``BOR``, ``BXOR`` (``ReduceOp.RedOpType`` is the enum, as in torch)."""

    class RedOpType(enum.Enum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8
        UNUSED = 9

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM

    def __init__(self, op: "ReduceOp.RedOpType" = RedOpType.SUM) -> None:
        self.op = op


reduce_op = ReduceOp  # torch's deprecated alias


def _op_name(op) -> str:
    if isinstance(op, ReduceOp):
        op = op.op
    if isinstance(op, ReduceOp.RedOpType):
        if op in (ReduceOp.PREMUL_SUM, ReduceOp.RedOpType.UNUSED):
            raise ValueError(f"ember.distributed does not support {op}")
        return op.name
    if isinstance(op, str) and op.upper() in ReduceOp.RedOpType.__members__:
        return op.upper()
    raise TypeError(f"op must be a torch.distributed.ReduceOp, got {op!r}")


def _seconds(timeout) -> float:
    if timeout is None:
        return default_pg_timeout.total_seconds()
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    return float(timeout)


class ProcessGroup:
    """A set of ranks that run collectives together (the default group or one from
    ``new_group``). ``rank()`` and ``size()`` are this process's rank in it and its size."""

    def __init__(self, impl, ranks: Sequence[int], backend: str, timeout: float,
                 name: str) -> None:
        self._impl = impl
        self._ranks = list(ranks)
        self._backend_name = backend
        self._timeout = timeout
        self._name = name
        self._seq = 0
        self._broken: Optional[str] = None

    def rank(self) -> int:
        return self._impl.rank()

    def size(self) -> int:
        return self._impl.size()

    def name(self) -> str:
        return self._name

    @property
    def group_name(self) -> str:
        return self._name

    def _get_backend_name(self) -> str:
        return self._backend_name

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self._backend_name!r}, ranks={self._ranks})"


class _NonMember:
    """Returned by ``new_group`` to ranks outside the new group; collectives on it are no-ops."""

    def __repr__(self) -> str:
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    WORLD: Optional[ProcessGroup] = None
    NON_GROUP_MEMBER = _NonMember()


class group:  # noqa: N801  (torch's lower-case name)
    WORLD: Optional[ProcessGroup] = None


class _State:
    default_pg: Optional[ProcessGroup] = None
    store: Optional[Store] = None
    backend_name: str = ""
    groups: list = []
    generation = 0
    n_groups = 0


# ------------------------------------------------------------------------------------ Work
class Work:
    """The handle of an operation (``async_op=True``): ``wait()``, ``is_completed()``,
    ``get_future()``. Results are in the tensors once ``wait()`` returns."""

    def __init__(self, pg: ProcessGroup, poll: Callable[[], bool],
                 finish: Optional[Callable[[], Any]], desc: str, result=None) -> None:
        self._pg = pg
        self._poll = poll
        self._finish = finish
        self._desc = desc
        self._done = False
        self._result = result
        self._exc: Optional[BaseException] = None
        pg._seq += 1
        self._seq = pg._seq

    def _complete(self) -> None:
        if not self._done:
            self._done = True
            if self._finish is not None:
                out = self._finish()
                if out is not None:
                    self._result = out

    def is_completed(self) -> bool:
        if not self._done and self._exc is None and self._poll():
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed() and self._exc is None

    def exception(self) -> Optional[BaseException]:
        return self._exc

    def wait(self, timeout: Optional[timedelta] = None) -> bool:
        if self._done:
            return True
        if self._exc is not None:
            raise self._exc
        limit = self._pg._timeout if timeout is None else _seconds(timeout)
        poll = self._poll
        deadline = time.monotonic() + limit
        spin_until = time.monotonic() + 0.002
        delay = 2e-5
        while not poll():
            # MPI advances a non-blocking collective only while it is being tested, so poll in
            # a tight loop for the first 2 ms (most collectives finish in that time);
            # then sleep in short, capped naps, so that a rank waiting on a slow peer leaves the
            # CPU to it without stalling the transfer for long.
            now = time.monotonic()
            if now > spin_until:
                if now > deadline:
                    self._timed_out(limit)
                time.sleep(delay)
                delay = min(delay * 2, 1e-4)
        self._complete()
        return True

    def _timed_out(self, limit: float) -> None:
        pg = self._pg
        msg = (f"ember.distributed: {self._desc} timed out after {limit:g} s on rank "
               f"{pg.rank()} of {pg.size()} (backend {pg._backend_name}, operation "
               f"#{self._seq} of its process group): a peer rank never joined it; it is hung, "
               "dead, or ran a different sequence of collectives. This process group cannot "
               "be used any more.")
        pg._broken = msg
        pg._impl.abort()
        self._exc = DistBackendError(msg)
        raise self._exc

    def result(self) -> list:
        self.wait()
        return list(self._result) if self._result is not None else []

    def get_future(self) -> "Future":
        return Future(self)

    def synchronize(self) -> None:
        self.wait()


class Future:
    """A minimal ``torch.futures.Future`` over a ``Work``: ``wait()``, ``value()``, ``done()``,
    ``then(callback)``."""

    def __init__(self, work: Optional[Work] = None, value: Any = None,
                 parent: Optional["Future"] = None, fn: Optional[Callable] = None) -> None:
        self._work = work
        self._parent = parent
        self._fn = fn
        self._value = value
        self._has_value = work is None and parent is None

    def done(self) -> bool:
        if self._has_value:
            return True
        if self._work is not None:
            return self._work.is_completed()
        return self._parent.done()

    def wait(self) -> Any:
        if not self._has_value:
            if self._work is not None:
                self._work.wait()
                self._value = self._work._result
            else:
                self._parent.wait()
                self._value = self._fn(self._parent)
            self._has_value = True
        return self._value

    def value(self) -> Any:
        return self.wait()

    def set_result(self, value: Any) -> None:
        self._value = value
        self._has_value = True

    def then(self, callback: Callable[["Future"], Any]) -> "Future":
        return Future(parent=self, fn=callback)


# --------------------------------------------------------------------------- init / teardown
def is_available() -> bool:
    return True


def is_mpi_available() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


is_gloo_available = is_mpi_available


def is_nccl_available() -> bool:
    try:
        from cupy.cuda import nccl  # noqa: F401
    except Exception:
        return False
    return True


def is_initialized() -> bool:
    return _State.default_pg is not None


def is_torchelastic_launched() -> bool:
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def _env_int(name: str) -> int:
    v = os.environ.get(name)
    if v is None:
        raise ValueError("Error initializing torch.distributed using env:// rendezvous: "
                         f"environment variable {name} expected, but not set")
    return int(v)


def _pick_backend(backend: Optional[str]) -> str:
    if backend is None:
        return "gloo"
    name = str(Backend(backend))
    if ":" in name:
        # "cpu:gloo,cuda:nccl": ember runs one backend per group; take the GPU one only where
        # CUDA is usable.
        table = dict(part.split(":", 1) for part in name.split(","))
        gpu = table.get("cuda")
        if gpu is not None and is_nccl_available() and _cuda_usable():
            return str(Backend(gpu))
        return str(Backend(table.get("cpu", "gloo")))
    return name


def _cuda_usable() -> bool:
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _rendezvous(init_method: str, rank: int, world_size: int, timeout: float) -> tuple:
    url = urlparse(init_method)
    if url.scheme == "env":
        rank = rank if rank >= 0 else _env_int("RANK")
        world_size = world_size if world_size >= 0 else _env_int("WORLD_SIZE")
        if world_size == 1:
            return HashStore(), rank, world_size
        addr = os.environ.get("MASTER_ADDR")
        if addr is None:
            _env_int("MASTER_ADDR")
        port = _env_int("MASTER_PORT")
    elif url.scheme == "tcp":
        q = parse_qs(url.query)
        if rank < 0 and "rank" in q:
            rank = int(q["rank"][0])
        if world_size < 0 and "world_size" in q:
            world_size = int(q["world_size"][0])
        if rank < 0 or world_size < 0:
            raise ValueError("tcp:// rendezvous needs rank and world_size (arguments or query)")
        addr, port = url.hostname, url.port
        if world_size == 1:
            return HashStore(), rank, world_size
    else:
        raise ValueError(f"ember.distributed: unsupported init_method {init_method!r}; use "
                         "env:// (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE) or "
                         "tcp://host:port")
    if not 0 <= rank < world_size:
        raise ValueError(f"Invalid rank {rank} for world size {world_size}")
    store = TCPStore(addr, port, world_size, is_master=(rank == 0), timeout=timeout)
    return store, rank, world_size


def init_process_group(backend: Optional[str] = None, init_method: Optional[str] = None,
                       timeout: Optional[timedelta] = None, world_size: int = -1,
                       rank: int = -1, store: Optional[Store] = None, group_name: str = "",
                       pg_options: Any = None, device_id: Any = None) -> None:
    """Join the default process group.

    Args:
        backend: ``"gloo"`` or ``"mpi"`` (CPU, MPI through mpi4py) or ``"nccl"`` (GPU, CuPy);
            default ``"gloo"``.
        init_method: ``"env://"`` (default: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE) or
            ``"tcp://host:port"``. Under ``mpiexec`` the ranks come from MPI instead.
        timeout: how long any collective (and the rendezvous) may wait for the other ranks
            before raising; default 30 minutes as in torch.
        world_size, rank: override the environment.
        store: a Store to meet through instead of ``init_method``.

    Example::

        >>> dist.init_process_group("gloo")   # under ember.distributed.run / torchrun
        >>> dist.get_rank(), dist.get_world_size()
    """
    if _State.default_pg is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if store is not None and init_method is not None:
        raise ValueError("Cannot specify both init_method and store.")
    name = _pick_backend(backend)
    limit = _seconds(timeout)
    impl_name = "nccl" if name == "nccl" else "mpi"
    _State.generation += 1
    prefix = f"ember/{_State.generation}/"
    if impl_name == "mpi" and store is None and _mpi.launched_by_mpi():
        mrank, msize = _mpi.world_rank_size()
        if (rank >= 0 and rank != mrank) or (world_size >= 0 and world_size != msize):
            raise ValueError(f"rank {rank}/world_size {world_size} disagree with the MPI "
                             f"launcher's rank {mrank} of {msize}")
        rank, world_size = mrank, msize
        store = HashStore()  # unused: MPI_COMM_WORLD already connects the ranks
    elif store is None:
        store, rank, world_size = _rendezvous(init_method or "env://", rank, world_size, limit)
    elif rank < 0 or world_size < 0:
        raise ValueError("rank and world_size must be given with a store")
    if impl_name == "nccl":
        from . import _nccl
        impl = _nccl.NCCLBackend(store, rank, world_size, prefix, limit, device_id)
    else:
        comm = _mpi.connect(store, rank, world_size, limit, prefix)
        impl = _mpi.MPIBackend(comm)
        if impl.rank() != rank or impl.size() != world_size:
            raise DistBackendError(f"MPI put this process at rank {impl.rank()} of "
                                   f"{impl.size()}, expected {rank} of {world_size}")
    pg = ProcessGroup(impl, list(range(world_size)), name, limit, group_name or "default_pg")
    _State.default_pg = pg
    _State.store = store
    _State.backend_name = name
    _State.groups = [pg]
    GroupMember.WORLD = pg
    group.WORLD = pg


def destroy_process_group(group: Optional[ProcessGroup] = None) -> None:
    """Tear down one group, or (``None``) every group and the default one."""
    if group is None or group is _State.default_pg:
        for pg in _State.groups:
            pg._impl.close()
        if isinstance(_State.store, TCPStore):
            _State.store.close()
        _State.default_pg = None
        _State.store = None
        _State.groups = []
        GroupMember.WORLD = None
        globals()["group"].WORLD = None
        return
    if isinstance(group, ProcessGroup):
        group._impl.close()
        if group in _State.groups:
            _State.groups.remove(group)


def _default() -> ProcessGroup:
    pg = _State.default_pg
    if pg is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return pg


def _resolve(grp) -> Optional[ProcessGroup]:
    if grp is None:
        pg = _default()
    elif grp is GroupMember.NON_GROUP_MEMBER:
        return None
    elif isinstance(grp, ProcessGroup):
        _default()
        pg = grp
    else:
        raise TypeError(f"group must be a ProcessGroup, got {type(grp).__name__}")
    if pg._broken is not None:
        raise DistBackendError("ember.distributed: the process group is unusable after an "
                               f"earlier failure: {pg._broken}")
    return pg


def get_rank(group: Optional[ProcessGroup] = None) -> int:
    """This process's rank in ``group`` (the default group when None); -1 outside it."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    pg = _default() if group is None else group
    return pg.rank()


def get_world_size(group: Optional[ProcessGroup] = None) -> int:
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    pg = _default() if group is None else group
    return pg.size()


def get_backend(group: Optional[ProcessGroup] = None) -> str:
    pg = _default() if group is None else group
    return Backend(pg._backend_name)


def get_process_group_ranks(group: ProcessGroup) -> List[int]:
    pg = _default() if group is None else group
    return list(pg._ranks)


def get_global_rank(group: ProcessGroup, group_rank: int) -> int:
    pg = _default() if group is None else group
    if not 0 <= group_rank < len(pg._ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {pg._ranks}")
    return pg._ranks[group_rank]


def get_group_rank(group: ProcessGroup, global_rank: int) -> int:
    pg = _default() if group is None else group
    if global_rank not in pg._ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {pg._ranks}")
    return pg._ranks.index(global_rank)


def get_node_local_rank(fallback_rank: Optional[int] = None) -> int:
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment; pass fallback_rank")


def new_group(ranks: Optional[Sequence[int]] = None, timeout: Optional[timedelta] = None,
              backend: Optional[str] = None, pg_options: Any = None,
              use_local_synchronization: bool = False, group_desc: Optional[str] = None):
    """A group of some ranks of the default group. Every rank of the default group must call
    it (as in torch); ranks outside ``ranks`` get ``GroupMember.NON_GROUP_MEMBER``."""
    world = _resolve(None)
    members = sorted(set(ranks)) if ranks is not None else list(range(world.size()))
    for r in members:
        if not 0 <= r < world.size():
            raise ValueError(f"new_group: rank {r} is out of range for world size "
                             f"{world.size()}")
    me = world.rank()
    impl = world._impl.split(0 if me in members else None, me)
    _State.n_groups += 1
    if impl is None:
        return GroupMember.NON_GROUP_MEMBER
    name = world._backend_name if backend is None else _pick_backend(backend)
    limit = world._timeout if timeout is None else _seconds(timeout)
    pg = ProcessGroup(impl, members, name, limit, group_desc or f"group_{_State.n_groups}")
    _State.groups.append(pg)
    return pg


# -------------------------------------------------------------------------- array plumbing
def _check_tensor(t, what: str = "tensor") -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{what}` of type "
                        f"torch.Tensor but got {type(t).__name__} instead.")


def _xp(arr):
    return _dt._xp_of(arr)


def _flat_bytes(arr):
    """A contiguous 1-D byte view of ``arr`` (copied when ``arr`` is not contiguous)."""
    xp = _xp(arr)
    c = xp.ascontiguousarray(arr).reshape(-1)
    return c.view(xp.uint8)


def _store_into(t: Tensor, values) -> None:
    """Write an array's values into ``t`` in place (cast; rounded for bfloat16) and bump its
    version like an in-place op."""
    data = t._data
    if values is not data:
        data[...] = values.reshape(data.shape)
    if t._dtype is _dt.bfloat16:
        # A sum of bfloat16 values computed in float32 storage must land on a bfloat16 value.
        data[...] = _dt.round_bf16(data)
    t._version[0] += 1


def _bytes_into(t: Tensor, flat_bytes) -> None:
    data = t._data
    vals = flat_bytes.view(data.dtype).reshape(data.shape)
    if vals is not data:
        data[...] = vals
    t._version[0] += 1


def _reduce_dtype(np_dtype):
    if np_dtype == np.bool_:
        return np.dtype(np.uint8)
    if np_dtype == np.float16:
        return np.dtype(np.float32)  # MPI has no half-precision reduction
    return np_dtype


def _reduce_array(t: Tensor):
    """The array a reduction works on: ``t``'s own storage when it is contiguous and of a
    reducible dtype, else a contiguous copy that is written back afterwards."""
    arr = t._data
    xp = _xp(arr)
    rd = _reduce_dtype(arr.dtype)
    if rd == arr.dtype and arr.flags.c_contiguous:
        return arr
    return xp.ascontiguousarray(arr, dtype=rd)


def _bool_op(name: str) -> str:
    # Logical meaning of the ops on bools: SUM/MAX/BOR -> any, PRODUCT/MIN/BAND -> all.
    return {"SUM": "MAX", "AVG": "MAX", "MAX": "MAX", "BOR": "MAX", "PRODUCT": "MIN",
            "MIN": "MIN", "BAND": "MIN", "BXOR": "BXOR"}[name]


def _backend_op(dtype: _dt.dtype, name: str) -> str:
    if dtype is _dt.bool_:
        return _bool_op(name)
    if name in ("BAND", "BOR", "BXOR") and dtype.category != 1:
        raise RuntimeError(f"ReduceOp.{name} needs an integer or bool tensor, got {dtype}")
    return name


def _average(buf, n: int) -> None:
    xp = _xp(buf)
    if buf.dtype.kind in "fc":
        buf /= n
    else:
        # Integer AVG truncates toward zero, like integer division in C (NCCL's ncclAvg).
        buf[...] = xp.trunc(buf / n).astype(buf.dtype)


def _finish(pg: ProcessGroup, work_poll, finish, desc: str, async_op: bool, result=None):
    w = Work(pg, work_poll, finish, desc, result)
    if async_op:
        return w
    w.wait()
    return None


def _peer(pg: ProcessGroup, global_rank: int, what: str) -> int:
    if global_rank not in pg._ranks:
        raise ValueError(f"{what} rank {global_rank} is not part of the group {pg._ranks}")
    return pg._ranks.index(global_rank)


# ---------------------------------------------------------------------------- collectives
def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group: Optional[ProcessGroup] = None,
               async_op: bool = False):
    """Reduce ``tensor`` across all ranks in place; every rank gets the result."""
    _check_tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    name = _op_name(op)
    buf = _reduce_array(tensor)
    poll = pg._impl.allreduce(buf, _backend_op(tensor._dtype, name))

    def finish():
        if name == "AVG" and tensor._dtype is not _dt.bool_:
            _average(buf, pg.size())
        _store_into(tensor, buf)
        return [tensor]
    return _finish(pg, poll, finish, f"all_reduce({name}, shape {list(tensor.shape)})",
                   async_op, [tensor])


def broadcast(tensor: Tensor, src: Optional[int] = None, group: Optional[ProcessGroup] = None,
              async_op: bool = False, group_src: Optional[int] = None):
    """Copy ``tensor`` of global rank ``src`` into ``tensor`` on every rank."""
    _check_tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    root = group_src if group_src is not None else _peer(pg, 0 if src is None else src, "src")
    arr = tensor._data
    buf = _flat_bytes(arr)

    def finish():
        if pg.rank() != root:
            _bytes_into(tensor, buf)
        return [tensor]
    poll = pg._impl.broadcast(buf, root)
    return _finish(pg, poll, finish, f"broadcast(src={src}, shape {list(tensor.shape)})",
                   async_op, [tensor])


def reduce(tensor: Tensor, dst: Optional[int] = None, op=ReduceOp.SUM,
           group: Optional[ProcessGroup] = None, async_op: bool = False,
           group_dst: Optional[int] = None):
    """Reduce ``tensor`` from all ranks into ``tensor`` of global rank ``dst`` only."""
    _check_tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    root = group_dst if group_dst is not None else _peer(pg, 0 if dst is None else dst, "dst")
    name = _op_name(op)
    buf = _reduce_array(tensor)
    is_root = pg.rank() == root
    if not is_root and buf is tensor._data:
        buf = buf.copy()  # only the destination's tensor may change
    poll = pg._impl.reduce(buf, _backend_op(tensor._dtype, name), root)

    def finish():
        if is_root:
            if name == "AVG" and tensor._dtype is not _dt.bool_:
                _average(buf, pg.size())
            _store_into(tensor, buf)
        return [tensor]
    return _finish(pg, poll, finish, f"reduce({name}, dst={dst})", async_op, [tensor])


def _same_dtype(ts: Sequence[Tensor], ref: Tensor, what: str) -> None:
    for t in ts:
        _check_tensor(t, what)
        if t._dtype is not ref._dtype:
            raise RuntimeError(f"{what}: tensors must all have dtype {ref._dtype}, got "
                               f"{t._dtype}")


def all_gather(tensor_list: List[Tensor], tensor: Tensor, group: Optional[ProcessGroup] = None,
               async_op: bool = False):
    """Gather ``tensor`` from every rank into ``tensor_list`` (one entry per rank)."""
    _check_tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    n = pg.size()
    if len(tensor_list) != n:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors, expected the "
                         f"group size {n}")
    _same_dtype(tensor_list, tensor, "tensor_list")
    send = _flat_bytes(tensor._data)
    counts = [t._data.nbytes for t in tensor_list]
    if counts[pg.rank()] != send.size:
        raise RuntimeError(f"all_gather: tensor_list[{pg.rank()}] has shape "
                           f"{list(tensor_list[pg.rank()].shape)} but the input tensor has "
                           f"shape {list(tensor.shape)}")
    xp = _xp(send)
    recv = xp.empty(sum(counts), dtype=xp.uint8)
    uniform = all(c == counts[0] for c in counts)
    poll = pg._impl.allgather(send, recv, None if uniform else counts)

    def finish():
        off = 0
        for t, c in zip(tensor_list, counts):
            _bytes_into(t, recv[off:off + c])
            off += c
        return list(tensor_list)
    return _finish(pg, poll, finish, f"all_gather(shape {list(tensor.shape)})", async_op,
                   tensor_list)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor,
                           group: Optional[ProcessGroup] = None, async_op: bool = False):
    """Gather every rank's ``input_tensor`` into ``output_tensor``, concatenated along dim 0
    (output shape ``(world*n, ...)``) or stacked (``(world, n, ...)``)."""
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    n = pg.size()
    if output_tensor._dtype is not input_tensor._dtype:
        raise RuntimeError("all_gather_into_tensor: output and input must have the same dtype")
    if output_tensor.numel() != n * input_tensor.numel():
        raise ValueError(f"all_gather_into_tensor: output of shape {list(output_tensor.shape)} "
                         f"must hold {n} x input of shape {list(input_tensor.shape)}")
    send = _flat_bytes(input_tensor._data)
    out = output_tensor._data
    direct = out.flags.c_contiguous
    xp = _xp(send)
    recv = out.reshape(-1).view(xp.uint8) if direct else xp.empty(out.nbytes, xp.uint8)
    poll = pg._impl.allgather(send, recv, None)

    def finish():
        if direct:
            output_tensor._version[0] += 1
        else:
            _bytes_into(output_tensor, recv)
        return [output_tensor]
    return _finish(pg, poll, finish, "all_gather_into_tensor", async_op, [output_tensor])


def reduce_scatter(output: Tensor, input_list: List[Tensor], op=ReduceOp.SUM,
                   group: Optional[ProcessGroup] = None, async_op: bool = False):
    """Reduce ``input_list[i]`` across ranks and leave the result on rank ``i`` in ``output``."""
    _check_tensor(output, "output")
    pg = _resolve(group)
    if pg is None:
        return None
    n = pg.size()
    if len(input_list) != n:
        raise ValueError(f"reduce_scatter: input_list has {len(input_list)} tensors, expected "
                         f"the group size {n}")
    _same_dtype(input_list, output, "input_list")
    name = _op_name(op)
    counts = [t.numel() for t in input_list]
    if counts[pg.rank()] != output.numel():
        raise RuntimeError(f"reduce_scatter: output has shape {list(output.shape)} but "
                           f"input_list[{pg.rank()}] has shape "
                           f"{list(input_list[pg.rank()].shape)}")
    xp = _xp(output._data)
    rd = _reduce_dtype(output._data.dtype)
    send = xp.concatenate([xp.asarray(t._data, dtype=rd).reshape(-1) for t in input_list])
    recv = xp.empty(output.numel(), dtype=rd)
    poll = pg._impl.reduce_scatter(send, recv, counts, _backend_op(output._dtype, name))
    return _finish(pg, poll, _reduce_scatter_done(pg, output, recv, name),
                   f"reduce_scatter({name})", async_op, [output])


def _reduce_scatter_done(pg, output, recv, name):
    def finish():
        if name == "AVG" and output._dtype is not _dt.bool_:
            _average(recv, pg.size())
        _store_into(output, recv)
        return [output]
    return finish


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM,
                          group: Optional[ProcessGroup] = None, async_op: bool = False):
    """``reduce_scatter`` with the inputs as one tensor: dim 0 split into ``world`` chunks."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    pg = _resolve(group)
    if pg is None:
        return None
    n = pg.size()
    if input.numel() != n * output.numel():
        raise ValueError(f"reduce_scatter_tensor: input of shape {list(input.shape)} must hold "
                         f"{n} x output of shape {list(output.shape)}")
    if output._dtype is not input._dtype:
        raise RuntimeError("reduce_scatter_tensor: output and input must have the same dtype")
    name = _op_name(op)
    xp = _xp(output._data)
    rd = _reduce_dtype(output._data.dtype)
    send = xp.ascontiguousarray(input._data, dtype=rd).reshape(-1)
    recv = xp.empty(output.numel(), dtype=rd)
    poll = pg._impl.reduce_scatter(send, recv, [output.numel()] * n,
                                   _backend_op(output._dtype, name))
    return _finish(pg, poll, _reduce_scatter_done(pg, output, recv, name),
                   f"reduce_scatter_tensor({name})", async_op, [output])


def gather(tensor: Tensor, gather_list: Optional[List[Tensor]] = None, dst: Optional[int] = None,
           group: Optional[ProcessGroup] = None, async_op: bool = False,
           group_dst: Optional[int] = None):
    """Gather ``tensor`` from every rank into ``gather_list`` on global rank ``dst``."""
    _check_tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    root = group_dst if group_dst is not None else _peer(pg, 0 if dst is None else dst, "dst")
    n = pg.size()
    is_root = pg.rank() == root
    send = _flat_bytes(tensor._data)
    xp = _xp(send)
    recv = None
    if is_root:
        if gather_list is None or len(gather_list) != n:
            raise ValueError(f"gather: the destination rank needs a gather_list of {n} "
                             "tensors")
        _same_dtype(gather_list, tensor, "gather_list")
        for t in gather_list:
            if t.numel() != tensor.numel():
                raise RuntimeError(f"gather: gather_list tensors must have shape "
                                   f"{list(tensor.shape)}, got {list(t.shape)}")
        recv = xp.empty(n * send.size, dtype=xp.uint8)
    elif gather_list:
        raise ValueError("gather: gather_list must be empty on non-destination ranks")
    poll = pg._impl.gather(send, recv, root)

    def finish():
        if is_root:
            for i, t in enumerate(gather_list):
                _bytes_into(t, recv[i * send.size:(i + 1) * send.size])
        return list(gather_list or [])
    return _finish(pg, poll, finish, f"gather(dst={dst})", async_op, gather_list)


def scatter(tensor: Tensor, scatter_list: Optional[List[Tensor]] = None,
            src: Optional[int] = None, group: Optional[ProcessGroup] = None,
            async_op: bool = False, group_src: Optional[int] = None):
    """Send ``scatter_list[i]`` of global rank ``src`` to rank ``i``'s ``tensor``."""
    _check_tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    root = group_src if group_src is not None else _peer(pg, 0 if src is None else src, "src")
    n = pg.size()
    xp = _xp(tensor._data)
    send = None
    if pg.rank() == root:
        if scatter_list is None or len(scatter_list) != n:
            raise ValueError(f"scatter: the source rank needs a scatter_list of {n} tensors")
        _same_dtype(scatter_list, tensor, "scatter_list")
        for t in scatter_list:
            if t.numel() != tensor.numel():
                raise RuntimeError(f"scatter: scatter_list tensors must have shape "
                                   f"{list(tensor.shape)}, got {list(t.shape)}")
        send = xp.concatenate([_flat_bytes(t._data) for t in scatter_list])
    elif scatter_list:
        raise ValueError("scatter: scatter_list must be empty on non-source ranks")
    recv = xp.empty(tensor._data.nbytes, dtype=xp.uint8)
    poll = pg._impl.scatter(send, recv, root)

    def finish():
        _bytes_into(tensor, recv)
        return [tensor]
    return _finish(pg, poll, finish, f"scatter(src={src})", async_op, [tensor])


def barrier(group: Optional[ProcessGroup] = None, async_op: bool = False,
            device_ids: Optional[List[int]] = None):
    """Wait until every rank of the group has reached the barrier."""
    pg = _resolve(group)
    if pg is None:
        return None
    return _finish(pg, pg._impl.barrier(), None, "barrier", async_op)


def monitored_barrier(group: Optional[ProcessGroup] = None,
                      timeout: Optional[timedelta] = None, wait_all_ranks: bool = False):
    """A barrier that raises after ``timeout`` (default: the group's) when a rank is missing."""
    pg = _resolve(group)
    if pg is None:
        return None
    w = Work(pg, pg._impl.barrier(), None, "monitored_barrier")
    w.wait(timeout)
    return None


def all_to_all_single(output: Tensor, input: Tensor,
                      output_split_sizes: Optional[List[int]] = None,
                      input_split_sizes: Optional[List[int]] = None,
                      group: Optional[ProcessGroup] = None, async_op: bool = False):
    """Split ``input`` along dim 0 into ``world`` parts, send part ``i`` to rank ``i``, and
    concatenate what arrives into ``output``."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    pg = _resolve(group)
    if pg is None:
        return None
    n = pg.size()
    send = _flat_bytes(input._data)
    xp = _xp(send)
    row_in = input._data.nbytes // max(input.shape[0], 1) if input.dim() else input._data.nbytes
    row_out = (output._data.nbytes // max(output.shape[0], 1) if output.dim()
               else output._data.nbytes)
    if input_split_sizes is None and output_split_sizes is None:
        if input.numel() != output.numel() or (input.dim() and input.shape[0] % n):
            raise ValueError(f"all_to_all_single: dim 0 of input {list(input.shape)} must "
                             f"split evenly into {n} parts matching output "
                             f"{list(output.shape)}")
        scounts = rcounts = None
    else:
        ins = input_split_sizes or [input.shape[0] // n] * n
        outs = output_split_sizes or [output.shape[0] // n] * n
        scounts = [s * row_in for s in ins]
        rcounts = [s * row_out for s in outs]
    recv = xp.empty(output._data.nbytes, dtype=xp.uint8)
    poll = pg._impl.alltoall(send, recv, scounts, rcounts)

    def finish():
        _bytes_into(output, recv)
        return [output]
    return _finish(pg, poll, finish, "all_to_all_single", async_op, [output])


def all_to_all(output_tensor_list: List[Tensor], input_tensor_list: List[Tensor],
               group: Optional[ProcessGroup] = None, async_op: bool = False):
    """Send ``input_tensor_list[i]`` to rank ``i``; receive rank ``i``'s into
    ``output_tensor_list[i]``."""
    pg = _resolve(group)
    if pg is None:
        return None
    n = pg.size()
    if len(output_tensor_list) != n or len(input_tensor_list) != n:
        raise ValueError(f"all_to_all: both lists need {n} tensors")
    xp = _xp(input_tensor_list[0]._data)
    send = xp.concatenate([_flat_bytes(t._data) for t in input_tensor_list])
    scounts = [t._data.nbytes for t in input_tensor_list]
    rcounts = [t._data.nbytes for t in output_tensor_list]
    recv = xp.empty(sum(rcounts), dtype=xp.uint8)
    poll = pg._impl.alltoall(send, recv, scounts, rcounts)

    def finish():
        off = 0
        for t, c in zip(output_tensor_list, rcounts):
            _bytes_into(t, recv[off:off + c])
            off += c
        return list(output_tensor_list)
    return _finish(pg, poll, finish, "all_to_all", async_op, output_tensor_list)


# ------------------------------------------------------------------------ point to point
def isend(tensor: Tensor, dst: Optional[int] = None, group: Optional[ProcessGroup] = None,
          tag: int = 0, group_dst: Optional[int] = None) -> Optional[Work]:
    """Send ``tensor`` to global rank ``dst`` without waiting; returns a Work."""
    _check_tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    peer = group_dst if group_dst is not None else _peer(pg, dst, "dst")
    buf = _flat_bytes(tensor._data)  # the tensor's own memory, or a copy if strided
    return Work(pg, pg._impl.send(buf, peer, tag), None, f"send(dst={dst}, tag={tag})")


def irecv(tensor: Tensor, src: Optional[int] = None, group: Optional[ProcessGroup] = None,
          tag: int = 0, group_src: Optional[int] = None) -> Optional[Work]:
    """Receive into ``tensor`` from global rank ``src`` (any rank when None); returns a Work
    whose ``wait()`` fills the tensor."""
    _check_tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    peer = group_src if group_src is not None else (None if src is None
                                                    else _peer(pg, src, "src"))
    xp = _xp(tensor._data)
    buf = xp.empty(tensor._data.nbytes, dtype=xp.uint8)
    poll = pg._impl.recv(buf, peer, tag)

    def finish():
        _bytes_into(tensor, buf)
        status = getattr(poll, "status", None)
        source = status.Get_source() if status is not None else peer
        w._source = pg._ranks[source] if source is not None else src
        return [tensor]
    w = Work(pg, poll, finish, f"recv(src={src}, tag={tag})", [tensor])
    w._source = src
    return w


def send(tensor: Tensor, dst: Optional[int] = None, group: Optional[ProcessGroup] = None,
         tag: int = 0, group_dst: Optional[int] = None) -> None:
    """Send ``tensor`` to global rank ``dst`` and wait until the send buffer is free."""
    w = isend(tensor, dst, group, tag, group_dst)
    if w is not None:
        w.wait()


def recv(tensor: Tensor, src: Optional[int] = None, group: Optional[ProcessGroup] = None,
         tag: int = 0, group_src: Optional[int] = None) -> int:
    """Receive into ``tensor``; returns the global rank it came from (-1 outside the group)."""
    w = irecv(tensor, src, group, tag, group_src)
    if w is None:
        return -1
    w.wait()
    return w._source


class P2POp:
    """One point-to-point operation for ``batch_isend_irecv``: ``P2POp(dist.isend, t, peer)``."""

    def __init__(self, op: Callable, tensor: Tensor, peer: Optional[int] = None,
                 group: Optional[ProcessGroup] = None, tag: int = 0,
                 group_peer: Optional[int] = None) -> None:
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed."
                             "isend`` or ``torch.distributed.irecv``.")
        self.op = op
        self.tensor = tensor
        self.peer = peer
        self.group = group
        self.tag = tag
        self.group_peer = group_peer


def batch_isend_irecv(p2p_op_list: List[P2POp]) -> List[Work]:
    """Post every send/recv of the list at once and return their Works."""
    return [p.op(p.tensor, p.peer, p.group, p.tag, p.group_peer) for p in p2p_op_list]


# ------------------------------------------------------------------------ object collectives
def _pickle(obj) -> np.ndarray:
    f = io.BytesIO()
    pickle.Pickler(f).dump(obj)
    return np.frombuffer(f.getvalue(), dtype=np.uint8).copy()


def _unpickle(buf: np.ndarray):
    return pickle.loads(buf.tobytes())


def _wait(pg: ProcessGroup, poll, desc: str) -> None:
    Work(pg, poll, None, desc).wait()


def _cpu_impl(pg: ProcessGroup):
    # Objects travel through host memory; the NCCL backend exposes a CPU helper for that.
    return getattr(pg._impl, "host", pg._impl)


def all_gather_object(object_list: List[Any], obj: Any,
                      group: Optional[ProcessGroup] = None) -> None:
    """Gather a picklable object from every rank into ``object_list``."""
    pg = _resolve(group)
    if pg is None:
        return None
    impl = _cpu_impl(pg)
    n = pg.size()
    if len(object_list) != n:
        raise ValueError(f"all_gather_object: object_list must have {n} entries")
    data = _pickle(obj)
    sizes = np.zeros(n, dtype=np.int64)
    mine = np.array([data.size], dtype=np.int64)
    _wait(pg, impl.allgather(mine.view(np.uint8), sizes.view(np.uint8), None),
          "all_gather_object (sizes)")
    counts = [int(s) for s in sizes]
    recv = np.empty(sum(counts), dtype=np.uint8)
    _wait(pg, impl.allgather(data, recv, counts), "all_gather_object")
    off = 0
    for i, c in enumerate(counts):
        object_list[i] = _unpickle(recv[off:off + c])
        off += c


def broadcast_object_list(object_list: List[Any], src: Optional[int] = None,
                          group: Optional[ProcessGroup] = None, device: Any = None,
                          group_src: Optional[int] = None) -> None:
    """Broadcast the picklable objects of ``object_list`` on ``src`` into every rank's list."""
    pg = _resolve(group)
    if pg is None:
        return None
    impl = _cpu_impl(pg)
    root = group_src if group_src is not None else _peer(pg, 0 if src is None else src, "src")
    is_root = pg.rank() == root
    data = _pickle(list(object_list)) if is_root else None
    size = np.array([data.size if is_root else 0], dtype=np.int64)
    _wait(pg, impl.broadcast(size.view(np.uint8), root), "broadcast_object_list (size)")
    buf = data if is_root else np.empty(int(size[0]), dtype=np.uint8)
    _wait(pg, impl.broadcast(buf, root), "broadcast_object_list")
    if not is_root:
        objs = _unpickle(buf)
        for i in range(min(len(object_list), len(objs))):
            object_list[i] = objs[i]


def gather_object(obj: Any, object_gather_list: Optional[List[Any]] = None,
                  dst: Optional[int] = None, group: Optional[ProcessGroup] = None,
                  group_dst: Optional[int] = None) -> None:
    """Gather a picklable object from every rank into ``object_gather_list`` on ``dst``."""
    pg = _resolve(group)
    if pg is None:
        return None
    root = group_dst if group_dst is not None else _peer(pg, 0 if dst is None else dst, "dst")
    gathered: list = [None] * pg.size()
    all_gather_object(gathered, obj, group)
    if pg.rank() == root:
        if object_gather_list is None or len(object_gather_list) != pg.size():
            raise ValueError(f"gather_object: the destination needs a list of {pg.size()}")
        object_gather_list[:] = gathered


def scatter_object_list(scatter_object_output_list: List[Any],
                        scatter_object_input_list: Optional[List[Any]] = None,
                        src: Optional[int] = None, group: Optional[ProcessGroup] = None,
                        group_src: Optional[int] = None) -> None:
    """Send ``scatter_object_input_list[i]`` of ``src`` to rank ``i``'s
    ``scatter_object_output_list[0]``."""
    pg = _resolve(group)
    if pg is None:
        return None
    root = group_src if group_src is not None else _peer(pg, 0 if src is None else src, "src")
    holder = [scatter_object_input_list if pg.rank() == root else None]
    broadcast_object_list(holder, group=group, group_src=root)
    if not scatter_object_output_list:
        raise ValueError("scatter_object_list: the output list must have at least one entry")
    scatter_object_output_list[0] = holder[0][pg.rank()]
