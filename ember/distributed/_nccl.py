"""The GPU backend: NCCL through CuPy's bindings (``cupy.cuda.nccl``).

Importable without CuPy; CuPy is imported when a ``"nccl"`` group is created. Rank 0 creates the
NCCL unique id and publishes it in the rendezvous store. Operations run on a side stream that
first waits for the current stream (where the tensors were produced); completion is polled with
a CUDA event, so ``Work.wait`` applies the group's timeout here too.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from .errors import DistBackendError


def _cupy():
    try:
        import cupy
        from cupy.cuda import nccl
    except ImportError:
        raise RuntimeError("ember.distributed: the 'nccl' backend needs CuPy built with NCCL "
                           "(pip install -e '.[gpu]')") from None
    return cupy, nccl


class NCCLBackend:
    """Posts NCCL operations on contiguous CuPy arrays; each method returns a poll function."""

    name = "nccl"

    def __init__(self, store, rank: int, world_size: int, prefix: str, timeout: float,
                 device_id=None, members: Optional[list] = None) -> None:
        cp, nccl = _cupy()
        self.cp = cp
        self.nccl = nccl
        self.store = store
        self.prefix = prefix
        self.timeout = timeout
        self._rank = rank
        self._size = world_size
        self._members = members if members is not None else list(range(world_size))
        self._n_splits = 0
        if device_id is None:
            local = int(os.environ.get("LOCAL_RANK", rank))
            device_id = local % max(1, cp.cuda.runtime.getDeviceCount())
        elif not isinstance(device_id, int):
            device_id = getattr(device_id, "index", None) or 0
        self.device = cp.cuda.Device(device_id)
        self.device.use()
        key = prefix + "nccl/uid"
        if rank == 0:
            uid = nccl.get_unique_id()
            store.set(key, ",".join(str(int(v)) for v in uid))
        else:
            uid = tuple(int(v) for v in store.get(key).decode().split(","))
        self.comm = nccl.NcclCommunicator(world_size, uid, rank)
        self.stream = cp.cuda.Stream(non_blocking=True)
        self.host = _HostAdapter(self)

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    # ------------------------------------------------------------------ helpers
    def _dtype(self, arr):
        n = self.nccl
        table = {np.dtype(np.int8): n.NCCL_INT8, np.dtype(np.uint8): n.NCCL_UINT8,
                 np.dtype(np.int32): n.NCCL_INT32, np.dtype(np.int64): n.NCCL_INT64,
                 np.dtype(np.float16): n.NCCL_FLOAT16, np.dtype(np.float32): n.NCCL_FLOAT32,
                 np.dtype(np.float64): n.NCCL_FLOAT64}
        try:
            return table[np.dtype(arr.dtype)]
        except KeyError:
            raise DistBackendError(f"NCCL cannot reduce dtype {arr.dtype}") from None

    def _op(self, name: str):
        n = self.nccl
        table = {"SUM": n.NCCL_SUM, "AVG": n.NCCL_SUM, "PRODUCT": n.NCCL_PROD,
                 "MIN": n.NCCL_MIN, "MAX": n.NCCL_MAX}
        if name not in table:
            raise DistBackendError(f"NCCL has no ReduceOp.{name}")
        return table[name]

    def _begin(self) -> int:
        # The side stream must see the producer's writes: wait for the current stream.
        self.stream.wait_event(self.cp.cuda.get_current_stream().record())
        return self.stream.ptr

    def _done(self):
        ev = self.cp.cuda.Event(disable_timing=True)
        ev.record(self.stream)
        return lambda: ev.done

    # ------------------------------------------------------------------ operations
    def allreduce(self, buf, op: str):
        s = self._begin()
        self.comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, self._dtype(buf),
                            self._op(op), s)
        return self._done()

    def broadcast(self, buf, root: int):
        s = self._begin()
        self.comm.broadcast(buf.data.ptr, buf.data.ptr, buf.size, self._dtype(buf), root, s)
        return self._done()

    def reduce(self, buf, op: str, root: int):
        s = self._begin()
        self.comm.reduce(buf.data.ptr, buf.data.ptr, buf.size, self._dtype(buf), self._op(op),
                         root, s)
        return self._done()

    def allgather(self, send, recv, counts):
        s = self._begin()
        if counts is None:
            self.comm.allGather(send.data.ptr, recv.data.ptr, send.size, self._dtype(send), s)
            return self._done()
        # Uneven sizes: one broadcast per rank inside a group call.
        self.nccl.groupStart()
        off = 0
        for i, c in enumerate(counts):
            src = send.data.ptr if i == self._rank else recv.data.ptr + off
            self.comm.broadcast(src, recv.data.ptr + off, c, self.nccl.NCCL_UINT8, i, s)
            off += c
        self.nccl.groupEnd()
        return self._done()

    def gather(self, send, recv, root: int):
        s = self._begin()
        n = send.size
        self.nccl.groupStart()
        if self._rank == root:
            for i in range(self._size):
                self.comm.recv(recv.data.ptr + i * n, n, self.nccl.NCCL_UINT8, i, s)
        self.comm.send(send.data.ptr, n, self.nccl.NCCL_UINT8, root, s)
        self.nccl.groupEnd()
        return self._done()

    def scatter(self, send, recv, root: int):
        s = self._begin()
        n = recv.size
        self.nccl.groupStart()
        if self._rank == root:
            for i in range(self._size):
                self.comm.send(send.data.ptr + i * n, n, self.nccl.NCCL_UINT8, i, s)
        self.comm.recv(recv.data.ptr, n, self.nccl.NCCL_UINT8, root, s)
        self.nccl.groupEnd()
        return self._done()

    def reduce_scatter(self, send, recv, counts, op: str):
        if any(c != counts[0] for c in counts):
            raise DistBackendError("NCCL reduce_scatter needs equal chunks")
        s = self._begin()
        self.comm.reduceScatter(send.data.ptr, recv.data.ptr, counts[0], self._dtype(send),
                                self._op(op), s)
        return self._done()

    def alltoall(self, send, recv, scounts, rcounts):
        n = self._size
        if scounts is None:
            scounts = rcounts = [send.size // n] * n
        s = self._begin()
        self.nccl.groupStart()
        so = ro = 0
        for i in range(n):
            self.comm.send(send.data.ptr + so, scounts[i], self.nccl.NCCL_UINT8, i, s)
            self.comm.recv(recv.data.ptr + ro, rcounts[i], self.nccl.NCCL_UINT8, i, s)
            so += scounts[i]
            ro += rcounts[i]
        self.nccl.groupEnd()
        return self._done()

    def barrier(self):
        one = self.cp.zeros(1, dtype=self.cp.float32)
        return self.allreduce(one, "SUM")

    def send(self, buf, dst: int, tag: int):
        s = self._begin()
        self.comm.send(buf.data.ptr, buf.size, self.nccl.NCCL_UINT8, dst, s)
        return self._done()

    def recv(self, buf, src: Optional[int], tag: int):
        if src is None:
            raise DistBackendError("NCCL recv needs an explicit src rank")
        s = self._begin()
        self.comm.recv(buf.data.ptr, buf.size, self.nccl.NCCL_UINT8, src, s)
        return self._done()

    def split(self, color: Optional[int], key: int):
        # A new communicator for the members, meeting through the store under a fresh prefix.
        self._n_splits += 1
        prefix = f"{self.prefix}split{self._n_splits}/"
        members = [int(v) for v in self.host_allgather_member(color is not None)]
        if color is None:
            return None
        sub_rank = members.index(self._rank)
        return NCCLBackend(self.store, sub_rank, len(members), prefix, self.timeout,
                           self.device.id, members)

    def host_allgather_member(self, member: bool) -> list:
        flags = np.zeros(self._size, dtype=np.int64)
        mine = np.array([1 if member else 0], dtype=np.int64)
        poll = self.host.allgather(mine.view(np.uint8), flags.view(np.uint8), None)
        while not poll():
            pass
        return [i for i in range(self._size) if flags[i]]

    def abort(self) -> None:
        try:
            self.comm.abort()
        except Exception:
            pass

    def close(self) -> None:
        try:
            self.comm.destroy()
        except Exception:
            pass


class _HostAdapter:
    """Runs an operation on NumPy arrays by staging them through device memory (for the
    object collectives, whose pickled bytes live on the host)."""

    def __init__(self, backend: NCCLBackend) -> None:
        self.b = backend

    def _wrap(self, method: str, outputs: list, *args):
        cp = self.b.cp
        dev = [cp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        poll = getattr(self.b, method)(*dev)

        def check() -> bool:
            if not poll():
                return False
            for i in outputs:
                if isinstance(args[i], np.ndarray):
                    args[i][...] = cp.asnumpy(dev[i])
            return True
        return check

    def allgather(self, send, recv, counts):
        return self._wrap("allgather", [1], send, recv, counts)

    def broadcast(self, buf, root: int):
        return self._wrap("broadcast", [0], buf, root)
