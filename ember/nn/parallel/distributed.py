"""DistributedDataParallel: data parallelism across processes with bucketed gradient all-reduce.

How it works (torch's reducer, in Python):

* At construction rank 0's parameters and buffers are broadcast to every rank (one coalesced
  broadcast per dtype), after checking that every rank has the same parameter shapes.
* Parameters are grouped into buckets in reverse registration order (gradients arrive roughly
  in that order during backward); the first bucket is capped at 1 MiB, the others at
  ``bucket_cap_mb``.
* A post-accumulate-grad hook on every parameter marks it ready; when all parameters of the
  next bucket are ready, its gradients are copied into the bucket's flat buffer, divided by the
  world size and an asynchronous all-reduce is started, so communication overlaps the rest of
  the backward pass. Buckets are launched strictly in order so every rank posts the same
  sequence of collectives.
* When the last bucket has been launched the reducer waits for all of them and writes the
  averaged gradients back into ``param.grad``.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, List, Optional

import numpy as np

import ember as E
from ...backend.dtypes import _xp_of
from ...tensor import Tensor
from ..modules.module import Module

_DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024


def _tensors_in(obj, out: list) -> list:
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensors_in(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors_in(o, out)
    elif hasattr(obj, "__dataclass_fields__"):
        for name in obj.__dataclass_fields__:
            _tensors_in(getattr(obj, name), out)
    return out


def _reduce_np_dtype(np_dtype) -> np.dtype:
    # MPI reduces neither float16 nor bool; bfloat16 is float32 storage already.
    return np.dtype(np.float32) if np_dtype == np.float16 else np.dtype(np_dtype)


class GradBucket:
    """One bucket handed to a communication hook: ``buffer()`` is the flat gradient tensor."""

    def __init__(self, index: int, buffer: Tensor, params: list, is_last: bool) -> None:
        self._index = index
        self._buffer = buffer
        self._params = params
        self._is_last = is_last

    def index(self) -> int:
        return self._index

    def buffer(self) -> Tensor:
        return self._buffer

    def is_last(self) -> bool:
        return self._is_last

    def parameters(self) -> list:
        return list(self._params)

    def gradients(self) -> list:
        return [p.grad for p in self._params]

    def set_buffer(self, buffer: Tensor) -> None:
        self._buffer = buffer


class _Bucket:
    def __init__(self, index: int, params: list, np_dtype) -> None:
        self.index = index
        self.params = params  # indices into DDP._params
        self.np_dtype = np_dtype
        self.sizes: list = []
        self.offsets: list = []
        self.buffer = None
        self.pending = 0
        self.future = None


class DistributedDataParallel(Module):
    """Synchronous data parallelism over the ranks of a process group.

    Each rank runs the wrapped module on its share of the batch; during ``backward`` the
    gradients are averaged over the ranks, so after ``optimizer.step()`` every rank holds the
    same parameters, equal to a single process training on the global batch.

    Args:
        module: the model to replicate (already on this rank's device).
        device_ids, output_device, dim: accepted for torch compatibility (one device per rank).
        broadcast_buffers: broadcast rank 0's buffers before every forward. Default True.
        process_group: the group to average over (default: the whole world).
        bucket_cap_mb: bucket size in MiB. Default 25.
        find_unused_parameters: find the parameters the forward pass did not use (by walking
            the autograd graph from the outputs) so that the reduction does not wait for them.
        gradient_as_bucket_view, static_graph, check_reduction: accepted; no effect.
        init_sync: broadcast rank 0's parameters and buffers at construction. Default True.

    Shape:
        - Whatever the wrapped module takes and returns.

    Example::

        >>> dist.init_process_group("gloo")
        >>> model = DistributedDataParallel(nn.Linear(10, 1))
        >>> loss = model(x).pow(2).mean(); loss.backward()   # grads averaged over ranks
        >>> with model.no_sync():
        ...     model(x).sum().backward()                     # local accumulation only
    """

    def __init__(self, module: Module, device_ids: Optional[list] = None,
                 output_device: Any = None, dim: int = 0, broadcast_buffers: bool = True,
                 init_sync: bool = True, process_group: Any = None,
                 bucket_cap_mb: Optional[float] = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, delay_all_reduce_named_params: Any = None,
                 param_to_hook_all_reduce: Any = None, mixed_precision: Any = None,
                 device_mesh: Any = None) -> None:
        super().__init__()
        from ... import distributed as dist
        if process_group is None:
            process_group = dist.group.WORLD
            if process_group is None:
                raise ValueError("Default process group has not been initialized, please make "
                                 "sure to call init_process_group.")
        self.module = module
        self.process_group = process_group
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb)
                                    * 1024 * 1024)
        self._dist = dist
        self._world = dist.get_world_size(process_group)
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self._params = params
        self._verify_param_shapes()
        if init_sync:
            self._broadcast_coalesced([p for p in module.parameters()]
                                      + [b for b in module.buffers()])
        self._build_buckets()
        self._comm_hook: Optional[Callable] = None
        self._comm_state: Any = None
        self._expect_reduction = False
        self._backward_started = False
        self._finished = True
        self._ready = [False] * len(params)
        self._next_bucket = 0
        self._hooks = [p.register_post_accumulate_grad_hook(self._make_hook(i))
                       for i, p in enumerate(params)]

    # ------------------------------------------------------------------------ setup
    def _verify_param_shapes(self) -> None:
        sig = [(tuple(p.shape), str(p.dtype)) for p in self._params]
        every: list = [None] * self._world
        self._dist.all_gather_object(every, sig, group=self.process_group)
        me = self._dist.get_rank(self.process_group)
        for r, other in enumerate(every):
            if other == sig:
                continue
            if len(other) != len(sig):
                raise RuntimeError(f"DDP expects the same number of parameters on every rank: "
                                   f"rank {me} has {len(sig)}, rank {r} has {len(other)}")
            for i, (a, b) in enumerate(zip(sig, other)):
                if a != b:
                    raise RuntimeError(
                        f"DDP expects the same parameters on every rank: parameter {i} has "
                        f"shape {list(a[0])} ({a[1]}) on rank {me} but {list(b[0])} ({b[1]}) "
                        f"on rank {r}")

    def _src(self) -> int:
        return self._dist.get_global_rank(self.process_group, 0)

    def _broadcast_coalesced(self, tensors: List[Tensor]) -> None:
        """Broadcast rank 0's values of ``tensors`` with one collective per dtype."""
        if self._world <= 1:
            return
        by_dtype: dict = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype, []).append(t)
        for np_dtype, group in by_dtype.items():
            xp = _xp_of(group[0]._data)
            flat = xp.concatenate([xp.ascontiguousarray(t._data).reshape(-1) for t in group])
            ft = Tensor._from_array(flat)
            self._dist.broadcast(ft, self._src(), group=self.process_group)
            off = 0
            for t in group:
                n = t._data.size
                t._data[...] = flat[off:off + n].reshape(t._data.shape)
                t._version[0] += 1
                off += n

    def _build_buckets(self) -> None:
        buckets: List[_Bucket] = []
        open_by_dtype: dict = {}
        sizes: dict = {}
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            rd = _reduce_np_dtype(p._data.dtype)
            b = open_by_dtype.get(rd)
            nbytes = p._data.size * rd.itemsize
            cap = _DEFAULT_FIRST_BUCKET_BYTES if not buckets else self.bucket_bytes_cap
            if b is not None and sizes[id(b)] + nbytes > cap and b.params:
                b = None
            if b is None:
                b = _Bucket(len(buckets), [], rd)
                buckets.append(b)
                open_by_dtype[rd] = b
                sizes[id(b)] = 0
            b.params.append(i)
            sizes[id(b)] += nbytes
        self._bucket_of = [0] * len(self._params)
        for b in buckets:
            off = 0
            for i in b.params:
                self._bucket_of[i] = b.index
                n = self._params[i]._data.size
                b.sizes.append(n)
                b.offsets.append(off)
                off += n
            # The bucket lives where the parameters live (NumPy on CPU, CuPy on GPU).
            b.buffer = _xp_of(self._params[b.params[0]]._data).zeros(off, dtype=b.np_dtype)
        self._buckets = buckets

    # ------------------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        grad_on = E.is_grad_enabled()
        if grad_on and self._backward_started and not self._finished:
            missing = [i for i, r in enumerate(self._ready) if not r]
            names = self._param_names(missing)
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a "
                "new one. This error indicates that your module has parameters that were not "
                "used in producing loss. You can enable unused parameter detection by passing "
                "the keyword argument `find_unused_parameters=True` to "
                "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` "
                "function outputs participate in calculating loss. Parameter indices which did "
                f"not receive grad for rank {self._dist.get_rank(self.process_group)}: "
                f"{' '.join(map(str, missing))} ({', '.join(names)})")
        if self.require_forward_param_sync and self.broadcast_buffers and self._world > 1:
            buffers = [b for b in self.module.buffers()]
            if buffers:
                self._broadcast_coalesced(buffers)
        out = self.module(*inputs, **kwargs)
        if grad_on and self.require_backward_grad_sync:
            self._prepare_for_backward(out)
        else:
            self._expect_reduction = False
        return out

    def _param_names(self, idx: list) -> list:
        ids = {id(p): n for n, p in self.module.named_parameters()}
        return [ids.get(id(self._params[i]), f"#{i}") for i in idx]

    def _prepare_for_backward(self, out) -> None:
        self._expect_reduction = True
        self._backward_started = False
        self._finished = False
        self._ready = [False] * len(self._params)
        self._next_bucket = 0
        self._locally_used = np.zeros(len(self._params), dtype=np.int32)
        for b in self._buckets:
            b.pending = len(b.params)
            b.future = None
        if self.find_unused_parameters:
            used = self._reachable_params(out)
            unused = [i for i, p in enumerate(self._params) if id(p) not in used]
            for i in unused:
                self._mark_ready(i, used=False)

    def _reachable_params(self, out) -> set:
        """ids of the parameters the autograd graph of ``out`` leads to."""
        seen: set = set()
        found: set = set()
        stack = []
        for t in _tensors_in(out, []):
            if t.grad_fn is not None:
                stack.append(t.grad_fn)
            elif t.requires_grad:
                found.add(id(t))
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            var = getattr(node, "variable", None)
            if var is not None:
                found.add(id(var))
            for child, _ in node.next_functions:
                if child is not None and id(child) not in seen:
                    stack.append(child)
        return found

    # ------------------------------------------------------------------------ backward
    def _make_hook(self, i: int) -> Callable:
        def hook(param: Tensor) -> None:
            if not self._expect_reduction:
                return
            if self._ready[i]:
                raise RuntimeError(
                    f"Expected to mark a variable ready only once. Parameter index {i} "
                    f"({self._param_names([i])[0]}) received its gradient twice in one "
                    "iteration (a reentrant backward, or a shared parameter reached twice)")
            self._backward_started = True
            self._mark_ready(i, used=True)
        return hook

    def _mark_ready(self, i: int, used: bool) -> None:
        self._ready[i] = True
        if used:
            self._locally_used[i] = 1
        b = self._buckets[self._bucket_of[i]]
        b.pending -= 1
        while self._next_bucket < len(self._buckets) and \
                self._buckets[self._next_bucket].pending == 0:
            self._launch(self._buckets[self._next_bucket])
            self._next_bucket += 1
        if self._next_bucket == len(self._buckets) and not self._finished:
            self._finalize()

    def _launch(self, b: _Bucket) -> None:
        buf = b.buffer
        for i, off, n in zip(b.params, b.offsets, b.sizes):
            g = self._params[i].grad
            if g is None:
                buf[off:off + n] = 0
            else:
                buf[off:off + n] = g._data.reshape(-1)
        bt = Tensor._from_array(buf)
        if self._comm_hook is not None:
            params = [self._params[i] for i in b.params]
            bucket = GradBucket(b.index, bt, params, b.index == len(self._buckets) - 1)
            b.future = self._comm_hook(self._comm_state, bucket)
            return
        # Averaging before the sum keeps large gradients from overflowing (torch does the same).
        buf /= self._world
        b.future = self._dist.all_reduce(bt, group=self.process_group,
                                         async_op=True).get_future()

    def _finalize(self) -> None:
        self._finished = True
        self._expect_reduction = False
        globally_used = None
        if self.find_unused_parameters:
            used = Tensor._from_array(self._locally_used.copy())
            self._dist.all_reduce(used, group=self.process_group)
            globally_used = used._data
        for b in self._buckets:
            result = b.future.wait()
            if isinstance(result, (list, tuple)):
                result = result[0]
            flat = result._data if isinstance(result, Tensor) else np.asarray(result)
            for i, off, n in zip(b.params, b.offsets, b.sizes):
                if globally_used is not None and globally_used[i] == 0:
                    continue  # no rank used it: its .grad stays as it was (None)
                p = self._params[i]
                vals = flat[off:off + n].reshape(p._data.shape)
                if p.grad is None:
                    g = Tensor._from_array(vals.astype(p._data.dtype, copy=True), p._dtype)
                    if p._dtype is E.bfloat16:
                        from ...backend.dtypes import round_bf16
                        g._data = round_bf16(g._data)
                    p.grad = g
                else:
                    p.grad._data[...] = vals
                    if p._dtype is E.bfloat16:
                        from ...backend.dtypes import round_bf16
                        p.grad._data[...] = round_bf16(p.grad._data)
                    p.grad._version[0] += 1

    # ------------------------------------------------------------------------ user API
    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside this context backward passes accumulate gradients locally without
        all-reducing them; the first synchronised backward afterwards averages the sum."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def register_comm_hook(self, state: Any, hook: Callable) -> None:
        """Replace the bucket all-reduce by ``hook(state, bucket) -> Future`` whose value is
        the reduced flat gradient (see ``ember.distributed.algorithms.ddp_comm_hooks``)."""
        if self._comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be "
                               "called once.")
        self._comm_hook = hook
        self._comm_state = state

    def _get_ddp_logging_data(self) -> dict:
        return {"world_size": self._world, "bucket_cap_bytes": self.bucket_bytes_cap,
                "num_buckets": len(self._buckets),
                "find_unused_parameters": self.find_unused_parameters}

    def __getstate__(self):
        raise RuntimeError("DistributedDataParallel cannot be pickled; save "
                           "ddp.module.state_dict() instead")
