"""Key-value stores for rendezvous: ``TCPStore`` (torch's name and methods) and ``HashStore``.

The store only carries a few small values while the ranks meet (MPI's port name, NCCL's unique
id, arrival counters); the collectives themselves run on MPI or NCCL. The wire format is a tiny
length-prefixed binary protocol (no pickle, so a stray client cannot make the server run code).
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from datetime import timedelta
from typing import Optional, Sequence

from .errors import DistNetworkError, DistStoreError

__all__ = ["Store", "TCPStore", "HashStore"]

_SET, _GET, _ADD, _CHECK, _WAIT, _DELETE, _NUM_KEYS, _CAS = range(8)
_OK, _TIMEOUT, _ERR = range(3)


def _seconds(timeout) -> float:
    if timeout is None:
        return 300.0
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    return float(timeout)


def _as_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return str(value).encode()


class Store:
    """The interface of torch's ``c10d::Store``: set/get/add/wait/check/delete_key/num_keys."""

    def __init__(self) -> None:
        self._timeout = 300.0

    @property
    def timeout(self) -> timedelta:
        return timedelta(seconds=self._timeout)

    def set_timeout(self, timeout) -> None:
        self._timeout = _seconds(timeout)


class _Table:
    """The shared state: a dict and a condition that wakes waiters when a key appears."""

    def __init__(self) -> None:
        self.data: dict = {}
        self.cond = threading.Condition()

    def set(self, key: str, value: bytes) -> None:
        with self.cond:
            self.data[key] = value
            self.cond.notify_all()

    def wait(self, keys: Sequence[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(k in self.data for k in keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def add(self, key: str, amount: int) -> int:
        with self.cond:
            value = int(self.data.get(key, b"0")) + amount
            self.data[key] = str(value).encode()
            self.cond.notify_all()
        return value

    def compare_set(self, key: str, expected: bytes, desired: bytes) -> bytes:
        with self.cond:
            cur = self.data.get(key)
            if (cur is None and expected == b"") or cur == expected:
                self.data[key] = desired
                self.cond.notify_all()
                return desired
            return cur if cur is not None else expected


class HashStore(Store):
    """An in-process store (torch's ``HashStore``), useful for world size 1 and for tests."""

    def __init__(self) -> None:
        super().__init__()
        self._table = _Table()

    def set(self, key: str, value) -> None:
        self._table.set(key, _as_bytes(value))

    def get(self, key: str) -> bytes:
        if not self._table.wait([key], self._timeout):
            raise DistStoreError(f"Timeout waiting for key {key!r} in the store after "
                                 f"{self._timeout:g} s")
        return self._table.data[key]

    def add(self, key: str, amount: int) -> int:
        return self._table.add(key, int(amount))

    def compare_set(self, key: str, expected_value, desired_value) -> bytes:
        return self._table.compare_set(key, _as_bytes(expected_value), _as_bytes(desired_value))

    def check(self, keys: Sequence[str]) -> bool:
        return all(k in self._table.data for k in keys)

    def wait(self, keys: Sequence[str], timeout=None) -> None:
        t = self._timeout if timeout is None else _seconds(timeout)
        if not self._table.wait(list(keys), t):
            raise DistStoreError(f"Timeout waiting for keys {list(keys)} in the store after "
                                 f"{t:g} s")

    def delete_key(self, key: str) -> bool:
        with self._table.cond:
            return self._table.data.pop(key, None) is not None

    def num_keys(self) -> int:
        return len(self._table.data)


# ------------------------------------------------------------------------------ wire format
def _send_msg(sock: socket.socket, code: int, fields: Sequence[bytes]) -> None:
    parts = [struct.pack("!BI", code, len(fields))]
    for f in fields:
        parts.append(struct.pack("!I", len(f)))
        parts.append(f)
    sock.sendall(b"".join(parts))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("store connection closed")
        buf += chunk
    return bytes(buf)


def _recv_msg(sock: socket.socket) -> tuple:
    code, n = struct.unpack("!BI", _recv_exact(sock, 5))
    fields = []
    for _ in range(n):
        (ln,) = struct.unpack("!I", _recv_exact(sock, 4))
        fields.append(_recv_exact(sock, ln))
    return code, fields


class _Server:
    """The store server that the master rank runs in daemon threads (one per client)."""

    def __init__(self, host: str, port: int) -> None:
        self.table = _Table()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as e:
            self.sock.close()
            raise DistNetworkError(f"The server socket has failed to bind to {host}:{port} "
                                   f"({e.strerror}); is MASTER_PORT taken?") from None
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept_loop, daemon=True,
                         name="ember-store-server").start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        t = self.table
        try:
            while True:
                code, f = _recv_msg(conn)
                if code == _SET:
                    t.set(f[0].decode(), f[1])
                    _send_msg(conn, _OK, [])
                elif code in (_GET, _WAIT):
                    keys = [k.decode() for k in f[1:]]
                    if t.wait(keys, float(f[0])):
                        vals = [t.data[keys[0]]] if code == _GET else []
                        _send_msg(conn, _OK, vals)
                    else:
                        _send_msg(conn, _TIMEOUT, [])
                elif code == _ADD:
                    _send_msg(conn, _OK, [str(t.add(f[0].decode(), int(f[1]))).encode()])
                elif code == _CHECK:
                    ok = all(k.decode() in t.data for k in f)
                    _send_msg(conn, _OK, [b"1" if ok else b"0"])
                elif code == _DELETE:
                    with t.cond:
                        gone = t.data.pop(f[0].decode(), None) is not None
                    _send_msg(conn, _OK, [b"1" if gone else b"0"])
                elif code == _NUM_KEYS:
                    _send_msg(conn, _OK, [str(len(t.data)).encode()])
                elif code == _CAS:
                    _send_msg(conn, _OK, [t.compare_set(f[0].decode(), f[1], f[2])])
                else:
                    _send_msg(conn, _ERR, [b"unknown command"])
        except (ConnectionError, OSError, struct.error):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class TCPStore(Store):
    """A key-value store served over TCP by one process (``is_master``) for all ranks.

    Args:
        host_name: address of the server (MASTER_ADDR).
        port: its port (MASTER_PORT); 0 with ``is_master`` picks a free one (see ``.port``).
        world_size: number of ranks that will use the store (informational, as in torch).
        is_master: run the server in this process.
        timeout: how long ``get``/``wait`` and the initial connection may take.
        wait_for_workers: accepted for torch compatibility.

    Example::

        >>> store = dist.TCPStore("127.0.0.1", 0, 1, True)
        >>> store.set("k", "v"); store.get("k")
        b'v'
    """

    def __init__(self, host_name: str, port: int, world_size: Optional[int] = None,
                 is_master: bool = False, timeout=timedelta(seconds=300),
                 wait_for_workers: bool = True, multi_tenant: bool = False,
                 master_listen_fd: Optional[int] = None, use_libuv: bool = True) -> None:
        super().__init__()
        self._timeout = _seconds(timeout)
        self.host = host_name
        self.world_size = world_size
        self._server = _Server(host_name, port) if is_master else None
        self.port = self._server.port if self._server is not None else port
        self._lock = threading.Lock()
        self._sock = self._connect()

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + self._timeout
        delay = 0.01
        while True:
            try:
                s = socket.create_connection((self.host, self.port), timeout=5)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(None)
                return s
            except OSError as e:
                if time.monotonic() + delay > deadline:
                    raise DistNetworkError(
                        f"ember.distributed: could not reach the store at {self.host}:"
                        f"{self.port} within {self._timeout:g} s ({e}); is rank 0 running "
                        "and are MASTER_ADDR/MASTER_PORT the same on every rank?") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    def _call(self, code: int, fields: Sequence[bytes], wait_s: float = 0.0) -> tuple:
        with self._lock:
            # A blocking get/wait may legitimately take wait_s; anything beyond means the server
            # (rank 0) is gone.
            self._sock.settimeout(wait_s + 30.0)
            try:
                _send_msg(self._sock, code, fields)
                return _recv_msg(self._sock)
            except (OSError, ConnectionError) as e:
                raise DistNetworkError(f"ember.distributed: lost the store at {self.host}:"
                                       f"{self.port} ({e}); did rank 0 exit?") from None

    def set(self, key: str, value) -> None:
        self._call(_SET, [key.encode(), _as_bytes(value)])

    def get(self, key: str) -> bytes:
        code, f = self._call(_GET, [str(self._timeout).encode(), key.encode()], self._timeout)
        if code == _TIMEOUT:
            raise DistStoreError(f"Timeout waiting for key {key!r} in the store at {self.host}:"
                                 f"{self.port} after {self._timeout:g} s")
        return f[0]

    def add(self, key: str, amount: int) -> int:
        return int(self._call(_ADD, [key.encode(), str(int(amount)).encode()])[1][0])

    def compare_set(self, key: str, expected_value, desired_value) -> bytes:
        return self._call(_CAS, [key.encode(), _as_bytes(expected_value),
                                 _as_bytes(desired_value)])[1][0]

    def check(self, keys: Sequence[str]) -> bool:
        return self._call(_CHECK, [k.encode() for k in keys])[1][0] == b"1"

    def wait(self, keys: Sequence[str], timeout=None) -> None:
        t = self._timeout if timeout is None else _seconds(timeout)
        code, _ = self._call(_WAIT, [str(t).encode()] + [k.encode() for k in keys], t)
        if code == _TIMEOUT:
            raise DistStoreError(f"Timeout waiting for keys {list(keys)} in the store at "
                                 f"{self.host}:{self.port} after {t:g} s")

    def delete_key(self, key: str) -> bool:
        return self._call(_DELETE, [key.encode()])[1][0] == b"1"

    def num_keys(self) -> int:
        return int(self._call(_NUM_KEYS, [])[1][0])

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
        if self._server is not None:
            self._server.close()
