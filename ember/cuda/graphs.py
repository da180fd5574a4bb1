"""CUDA graphs on CuPy: ``CUDAGraph``, ``graph`` (capture by hand) and the capture state.

A captured graph replays fixed kernels on fixed addresses, so every buffer the capture touches
must stay reserved for it. As torch does, capture allocates from a private memory pool that no
other code draws from; the pool (and the Python objects of the captured tensors, held by the
caller) keep those addresses alive for as long as the graph exists.
"""
from __future__ import annotations

from ..backend.device import CAPTURING as _CAPTURING
from . import _cupy


def is_current_stream_capturing() -> bool:
    """True while a ``graph`` capture is running (host reads of device data are not allowed)."""
    return _CAPTURING[0] > 0


def graph_pool_handle():
    """A memory pool that several graphs can share (``pool=`` of ``graph``/``capture_begin``)."""
    return _cupy().cuda.MemoryPool()


class CUDAGraph:
    """A captured sequence of GPU work that ``replay()`` launches again with one call.

    Example:
        >>> g = ember.cuda.CUDAGraph()
        >>> with ember.cuda.graph(g):
        ...     y = model(static_x)
        >>> static_x.copy_(new_x); g.replay()   # y now holds the result for new_x
    """

    def __init__(self):
        self._graph = None
        self._pool = None
        self._stream = None
        self._prev_allocator = None

    def capture_begin(self, pool=None, capture_error_mode: str = "relaxed") -> None:
        cp = _cupy()
        if self._graph is not None:
            raise RuntimeError("This CUDAGraph instance already owns a captured graph. To "
                               "capture a new graph, create a new instance.")
        self._pool = pool if pool is not None else cp.cuda.MemoryPool()
        cp.cuda.runtime.deviceSynchronize()
        self._prev_allocator = cp.cuda.get_allocator()
        cp.cuda.set_allocator(self._pool.malloc)
        self._stream = cp.cuda.Stream(non_blocking=True)
        from .blas import bind_capture_stream
        bind_capture_stream(self._stream)
        self._stream.__enter__()
        mode = {"global": cp.cuda.runtime.streamCaptureModeGlobal,
                "thread_local": cp.cuda.runtime.streamCaptureModeThreadLocal,
                "relaxed": cp.cuda.runtime.streamCaptureModeRelaxed}[capture_error_mode]
        _CAPTURING[0] += 1
        try:
            self._stream.begin_capture(mode)
        except Exception:
            self._restore()
            raise

    def capture_end(self) -> None:
        try:
            self._graph = self._stream.end_capture()
        finally:
            self._restore()

    def _restore(self) -> None:
        cp = _cupy()
        _CAPTURING[0] -= 1
        self._stream.__exit__(None, None, None)
        cp.cuda.set_allocator(self._prev_allocator)

    def replay(self) -> None:
        if self._graph is None:
            raise RuntimeError("CUDAGraph.replay: nothing has been captured")
        self._graph.launch(_cupy().cuda.get_current_stream())

    def reset(self) -> None:
        self._graph = None
        self._pool = None

    def pool(self):
        return self._pool


class graph:
    """Context manager that captures the GPU work of its block into ``cuda_graph``.

    Args:
        cuda_graph: the ``CUDAGraph`` to fill.
        pool: a memory pool shared with other graphs (``graph_pool_handle()``).
        stream: accepted for torch compatibility; capture always uses a fresh side stream.
        capture_error_mode: ``"global"``, ``"thread_local"`` or ``"relaxed"``.
    """

    def __init__(self, cuda_graph: CUDAGraph, pool=None, stream=None,
                 capture_error_mode: str = "relaxed"):
        self.g = cuda_graph
        self.pool = pool
        self.mode = capture_error_mode

    def __enter__(self):
        self.g.capture_begin(self.pool, self.mode)
        return self.g

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            try:
                self.g.capture_end()
            except Exception:
                pass
            return False
        self.g.capture_end()
        return False
