"""DataParallel: on one process. On the CPU (ember's path today) it calls the module."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from ..modules.module import Module


class DataParallel(Module):
    """Runs ``module`` for the whole batch in this process.

    torch splits the batch over several GPUs of one process; ember's CPU path has one device, so
    the wrapper calls the module directly (torch does the same when no GPU is present). For
    several processes or GPUs use ``DistributedDataParallel``.

    Args:
        module: the model.
        device_ids, output_device, dim: accepted for torch compatibility.

    Shape:
        - Whatever the wrapped module takes and returns.

    Example::

        >>> model = nn.DataParallel(nn.Linear(4, 2))
        >>> model(torch.randn(8, 4)).shape
        torch.Size([8, 2])
    """

    def __init__(self, module: Module, device_ids: Optional[Sequence[Any]] = None,
                 output_device: Any = None, dim: int = 0) -> None:
        super().__init__()
        if device_ids is not None and len(device_ids) > 1:
            raise NotImplementedError("ember's DataParallel runs on one device; use "
                                      "DistributedDataParallel with one process per GPU")
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module: Module, inputs: Any, device_ids: Optional[Sequence[Any]] = None,
                  output_device: Any = None, dim: int = 0,
                  module_kwargs: Optional[dict] = None):
    """The functional form of DataParallel: ``module(*inputs, **module_kwargs)``."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    return module(*inputs, **(module_kwargs or {}))
