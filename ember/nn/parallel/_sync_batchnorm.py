"""SyncBatchNorm: batch normalisation whose batch statistics span every rank of a group."""
from __future__ import annotations

from typing import Any, Optional

import ember as E
from ...tensor import Tensor
from ..modules.normalization import _BatchNorm
from ..modules.module import Module


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over the union of the mini-batches of all ranks (in training with an
    initialised process group of more than one rank); otherwise it is ``BatchNorm``.

    The mean and variance are reduced with differentiable all-reduces, so the backward pass
    also sums the statistics' gradients across ranks, as torch's SyncBatchNorm does: with
    DistributedDataParallel the result equals one process running BatchNorm on the global batch.

    Args:
        num_features: C of an ``(N, C, ...)`` input.
        eps: added to the variance. Default 1e-5.
        momentum: running-statistics factor (None: cumulative average). Default 0.1.
        affine: learnable weight and bias. Default True.
        track_running_stats: keep running mean/variance. Default True.
        process_group: the group to synchronise over (default: the whole world).

    Shape:
        - Input: ``(N, C, +)``; Output: the same shape.

    Example::

        >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        >>> ddp = nn.parallel.DistributedDataParallel(model)
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, device=None, dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _world(self) -> int:
        from ... import distributed as dist
        if not dist.is_initialized():
            return 1
        return dist.get_world_size(self.process_group)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: expected {self.num_features} channels, got input "
                             f"of shape {list(input.shape)}")
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        if not (self.training and bn_training) or self._world() <= 1:
            return super().forward(input)
        return self._sync_forward(input)

    def _sync_forward(self, input: Tensor) -> Tensor:
        from ...distributed.nn.functional import all_reduce
        c = self.num_features
        dims = [0] + list(range(2, input.dim()))
        bshape = [1, c] + [1] * (input.dim() - 2)
        local_n = input.numel() // c
        # One reduction carries the channel sums and the element count (ranks may hold
        # batches of different sizes); a second one the centred squares, which is more
        # accurate than E[x^2] - E[x]^2.
        count = E.full((1,), float(local_n), dtype=input.dtype, device=input.device)
        stats = all_reduce(E.cat([input.sum(dim=dims), count]), group=self.process_group)
        n = float(stats[c].item())
        if n <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size {list(input.shape)}")
        mean = stats[:c] / n
        xc = input - mean.reshape(bshape)
        var = all_reduce((xc * xc).sum(dim=dims), group=self.process_group) / n
        out = xc / E.sqrt(var + self.eps).reshape(bshape)
        if self.affine:
            out = out * self.weight.reshape(bshape) + self.bias.reshape(bshape)
        if self.track_running_stats and self.running_mean is not None:
            self.num_batches_tracked._data[...] += 1
            self.num_batches_tracked._version[0] += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
            else:
                factor = self.momentum
            with E.no_grad():
                # Running variance is the unbiased estimate, as in BatchNorm.
                self.running_mean.mul_(1 - factor).add_(mean.detach() * factor)
                self.running_var.mul_(1 - factor).add_(var.detach() * (factor * n / (n - 1)))
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """Replace every BatchNorm*d inside ``module`` by a SyncBatchNorm with the same
        parameters and buffers (returns the converted module)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            with E.no_grad():
                if module.affine:
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        del module
        return out
