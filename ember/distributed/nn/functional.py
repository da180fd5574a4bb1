"""Differentiable collectives (``torch.distributed.nn.functional``).

``all_reduce(x)`` returns the sum over ranks; its gradient on each rank is the sum over ranks of
the incoming gradients (every rank's loss depends on every rank's ``x``). SyncBatchNorm builds on
it.
"""
from __future__ import annotations

from typing import Optional

from ...autograd import Function
from ...tensor import Tensor
from .. import distributed_c10d as c10d


class _AllReduce(Function):
    @staticmethod
    def forward(ctx, x, op, group):
        ctx.group = group
        ctx.op = op
        out = x.clone()
        c10d.all_reduce(out, op=op, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        name = c10d._op_name(ctx.op)
        if name not in ("SUM", "AVG"):
            raise RuntimeError(f"all_reduce with ReduceOp.{name} is not differentiable here")
        g = grad.clone()
        c10d.all_reduce(g, op=ctx.op, group=ctx.group)
        return g, None, None


class _Broadcast(Function):
    @staticmethod
    def forward(ctx, x, src, group):
        ctx.src = src
        ctx.group = group
        out = x.clone()
        c10d.broadcast(out, src, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        # Every rank's output came from src's input: src gets the sum of the gradients.
        g = grad.clone()
        c10d.reduce(g, ctx.src, group=ctx.group)
        if c10d.get_rank() != ctx.src:
            g = g * 0
        return g, None, None


class _AllGather(Function):
    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        n = c10d.get_world_size(group)
        outs = [x.new_zeros(x.shape) for _ in range(n)]
        c10d.all_gather(outs, x.contiguous(), group=group)
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        # Rank i's input feeds output i of every rank: sum those gradients onto rank i.
        from ... import functional as F
        stacked = F.stack([g.contiguous() for g in grads])
        c10d.all_reduce(stacked, group=ctx.group)
        return stacked[c10d.get_rank(ctx.group)], None


def all_reduce(tensor: Tensor, op=c10d.ReduceOp.SUM, group: Optional[c10d.ProcessGroup] = None
               ) -> Tensor:
    """The reduction of ``tensor`` over all ranks, as a new tensor with a gradient."""
    return _AllReduce.apply(tensor, op, group)


def broadcast(tensor: Tensor, src: int, group: Optional[c10d.ProcessGroup] = None) -> Tensor:
    """``src``'s ``tensor`` on every rank, as a new tensor with a gradient."""
    return _Broadcast.apply(tensor, src, group)


def all_gather(tensor: Tensor, group: Optional[c10d.ProcessGroup] = None) -> tuple:
    """Every rank's ``tensor``, as a tuple of new tensors with gradients."""
    return _AllGather.apply(tensor, group)
