"""The CPU backend: MPI through mpi4py (``"mpi"``, and torch's CPU name ``"gloo"``).

How ranks meet:

* Started by MPI's own launcher (``mpiexec -n 2 python train.py``): MPI_COMM_WORLD already holds
  every rank, so ranks and world size come from MPI.
* Started any other way (``python -m ember.distributed.run``, a test spawning processes, a user
  setting RANK/WORLD_SIZE by hand): every process is an MPI singleton. Rank 0 opens an MPI port
  (``MPI_Open_port``) and publishes its name in the rendezvous store at MASTER_ADDR:MASTER_PORT;
  the others ``MPI_Comm_connect`` to it and the group grows one ``MPI_Comm_accept`` +
  ``MPI_Intercomm_merge`` at a time; a final ``MPI_Comm_split`` keyed by RANK orders the ranks.
  This needs an MPI whose singletons support connect/accept: MPICH 4.x from PyPI does (MPICH
  5.0.x has a regression there, pmodels/mpich#7805, hence the ``mpich<5`` pin in the extras).

Every collective is posted non-blocking (``MPI_Iallreduce`` ...) and polled with ``MPI_Testall``
so that a peer that never arrives raises a clear timeout error instead of hanging forever (MPI's
blocking calls cannot time out), and so the polling does not spin a core that a peer rank needs.
"""
from __future__ import annotations

import atexit
import os
import time
from typing import Optional

import numpy as np

from .errors import DistStoreError

_MPI = None
_STATE = {"healthy": True, "world_launched": False, "finalize_registered": False}

INSTALL_HINT = ("pip install mpi4py 'mpich>=4.1,<5' (or pip install -e '.[test]'), or install "
                "an MPI from your OS and pip install mpi4py")


def mpi_module():
    """Import mpi4py's MPI lazily; ember never finalizes MPI behind a hung peer (see below)."""
    global _MPI
    if _MPI is not None:
        return _MPI
    try:
        import mpi4py
    except ImportError:
        raise RuntimeError("ember.distributed: the 'mpi' (and 'gloo') backend needs mpi4py and "
                           f"an MPI library: {INSTALL_HINT}") from None
    # MPI_Finalize is collective over connected processes: after a peer hung or died it would
    # block this process's exit forever, so ember decides at exit whether to finalize.
    mpi4py.rc.finalize = False
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(f"ember.distributed: mpi4py could not load an MPI library ({e}): "
                           f"{INSTALL_HINT}") from None
    _MPI = MPI
    if not _STATE["finalize_registered"]:
        _STATE["finalize_registered"] = True
        atexit.register(_finalize_at_exit)
    return MPI


def _finalize_at_exit() -> None:
    # Only an mpiexec-launched job expects MPI_Finalize (its launcher may flag a rank that
    # skipped it); singleton ranks joined by connect/accept just exit.
    MPI = _MPI
    if MPI is None or not _STATE["world_launched"] or not _STATE["healthy"]:
        return
    try:
        if MPI.Is_initialized() and not MPI.Is_finalized():
            MPI.Finalize()
    except Exception:
        pass


def mark_unhealthy() -> None:
    _STATE["healthy"] = False


def launched_by_mpi() -> bool:
    """True when an MPI launcher (mpiexec/mpirun) started this process with other ranks."""
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        v = os.environ.get(var)
        if v is not None and v.isdigit() and int(v) > 1:
            return True
    return False


def world_rank_size() -> tuple:
    MPI = mpi_module()
    return MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()


def connect(store, rank: int, world_size: int, timeout: float, prefix: str):
    """Build the intracommunicator of all ranks (ordered by ``rank``); see the module doc."""
    MPI = mpi_module()
    if MPI.COMM_WORLD.Get_size() > 1:
        _STATE["world_launched"] = True
        return MPI.COMM_WORLD.Dup()
    if world_size == 1:
        return MPI.COMM_SELF.Dup()
    key_arrived = prefix + "mpi/arrived"
    key_port = prefix + "mpi/port"
    store.add(key_arrived, 1)
    if rank == 0:
        # Accept blocks without a timeout, so first make sure every rank has shown up.
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            n = store.add(key_arrived, 0)
            if n >= world_size:
                break
            if time.monotonic() > deadline:
                raise DistStoreError(
                    f"ember.distributed: timed out after {timeout:g} s waiting for all ranks to "
                    f"join the process group: {n} of {world_size} arrived")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        port = MPI.Open_port()
        store.set(key_port, port)
        comm = MPI.COMM_SELF
    else:
        port = store.get(key_port).decode()
        inter = MPI.COMM_SELF.Connect(port)
        comm = inter.Merge(high=True)
        inter.Free()
    while comm.Get_size() < world_size:
        # Everyone already in the group takes part in accepting the next rank.
        inter = comm.Accept(port, root=0)  # the port matters at the root only
        merged = inter.Merge(high=False)
        inter.Free()
        if comm is not MPI.COMM_SELF:
            comm.Free()
        comm = merged
    if rank == 0:
        MPI.Close_port(port)
    ordered = comm.Split(0, rank)
    comm.Free()
    return ordered


# Reduction ops by ember.distributed.ReduceOp name (AVG is SUM then a division, done above).
def mpi_op(name: str):
    MPI = mpi_module()
    return {"SUM": MPI.SUM, "AVG": MPI.SUM, "PRODUCT": MPI.PROD, "MIN": MPI.MIN,
            "MAX": MPI.MAX, "BAND": MPI.BAND, "BOR": MPI.BOR, "BXOR": MPI.BXOR}[name]


class MPIBackend:
    """Posts MPI non-blocking collectives on contiguous NumPy arrays; returns request lists."""

    name = "mpi"

    def __init__(self, comm) -> None:
        self.comm = comm
        self.MPI = mpi_module()

    def rank(self) -> int:
        return self.comm.Get_rank()

    def size(self) -> int:
        return self.comm.Get_size()

    # Each method returns (poll, extra): poll() -> bool is True once the operation completed.
    def _poll(self, reqs):
        MPI = self.MPI
        return lambda: MPI.Request.Testall(reqs)

    def allreduce(self, buf: np.ndarray, op: str):
        return self._poll([self.comm.Iallreduce(self.MPI.IN_PLACE, buf, op=mpi_op(op))])

    def broadcast(self, buf: np.ndarray, root: int):
        return self._poll([self.comm.Ibcast(buf, root=root)])

    def reduce(self, buf: np.ndarray, op: str, root: int):
        if self.rank() == root:
            req = self.comm.Ireduce(self.MPI.IN_PLACE, buf, op=mpi_op(op), root=root)
        else:
            req = self.comm.Ireduce(buf, None, op=mpi_op(op), root=root)
        return self._poll([req])

    def allgather(self, send: np.ndarray, recv: np.ndarray, counts):
        if counts is None:
            return self._poll([self.comm.Iallgather(send, recv)])
        return self._poll([self.comm.Iallgatherv(send, [recv, counts])])

    def gather(self, send: np.ndarray, recv: Optional[np.ndarray], root: int):
        return self._poll([self.comm.Igather(send, recv, root=root)])

    def scatter(self, send: Optional[np.ndarray], recv: np.ndarray, root: int):
        return self._poll([self.comm.Iscatter(send, recv, root=root)])

    def reduce_scatter(self, send: np.ndarray, recv: np.ndarray, counts, op: str):
        return self._poll([self.comm.Ireduce_scatter(send, recv, counts, op=mpi_op(op))])

    def alltoall(self, send: np.ndarray, recv: np.ndarray, scounts, rcounts):
        if scounts is None:
            return self._poll([self.comm.Ialltoall(send, recv)])
        sd = np.concatenate([[0], np.cumsum(scounts)[:-1]]).astype(int).tolist()
        rd = np.concatenate([[0], np.cumsum(rcounts)[:-1]]).astype(int).tolist()
        return self._poll([self.comm.Ialltoallv([send, (list(scounts), sd)],
                                                [recv, (list(rcounts), rd)])])

    def barrier(self):
        return self._poll([self.comm.Ibarrier()])

    def send(self, buf: np.ndarray, dst: int, tag: int):
        return self._poll([self.comm.Isend(buf, dest=dst, tag=tag)])

    def recv(self, buf: np.ndarray, src: Optional[int], tag: int):
        MPI = self.MPI
        status = MPI.Status()
        mtag = MPI.ANY_TAG if tag is None else tag
        if src is not None:
            req = self.comm.Irecv(buf, source=src, tag=mtag)

            def poll():
                return req.Test(status)
            poll.status = status
            return poll
        # "From any rank": probe each peer in turn and receive from the first that has a
        # message, instead of posting an MPI_ANY_SOURCE receive. Ranks that met through
        # connect/accept sit in different MPICH process groups, and an ANY_SOURCE receive
        # across them was seen to miss its message now and then (about one run in eight).
        peers = [r for r in range(self.comm.Get_size()) if r != self.comm.Get_rank()]
        state = {"req": None}

        def poll_any():
            if state["req"] is None:
                for r in peers:
                    if self.comm.Iprobe(source=r, tag=mtag, status=status):
                        state["req"] = self.comm.Irecv(buf, source=r, tag=status.Get_tag())
                        break
                else:
                    return False
            return state["req"].Test(status)
        poll_any.status = status
        return poll_any

    def split(self, color: Optional[int], key: int):
        MPI = self.MPI
        new = self.comm.Split(MPI.UNDEFINED if color is None else color, key)
        return None if new == MPI.COMM_NULL else MPIBackend(new)

    def abort(self) -> None:
        mark_unhealthy()

    def close(self) -> None:
        # Freeing is local in MPICH; Disconnect would be collective and could hang on a dead peer.
        try:
            if self.comm != self.MPI.COMM_WORLD:
                self.comm.Free()
        except Exception:
            pass
