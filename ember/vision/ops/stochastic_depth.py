"""Stochastic depth (Huang et al., 2016, "Deep Networks with Stochastic Depth")."""
from __future__ import annotations

import ember as E
from ...nn.modules.module import Module
from ...tensor import Tensor


def stochastic_depth(input: Tensor, p: float, mode: str, training: bool = True) -> Tensor:
    """Randomly zero whole residual branches, scaling the survivors by ``1 / (1 - p)``.

    Args:
        input: the branch output, first dimension the batch.
        p: probability of dropping.
        mode: ``"row"`` drops per sample, ``"batch"`` drops the whole batch at once.
        training: identity when False.
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ("batch", "row"):
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    survival_rate = 1.0 - p
    if mode == "row":
        size = [input.shape[0]] + [1] * (input.dim() - 1)
    else:
        size = [1] * input.dim()
    noise = E.empty(*size, dtype=input.dtype, device=input.device).bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise = noise / survival_rate
    return input * noise


class StochasticDepth(Module):
    """Module form of :func:`stochastic_depth` (``torchvision.ops.StochasticDepth``).

    Args:
        p: drop probability.
        mode: ``"row"`` or ``"batch"``.

    Shape:
        Input ``(N, *)``, output the same shape.

    Example:
        >>> StochasticDepth(0.2, "row")(ember.ones(4, 3)).shape
        torch.Size([4, 3])
    """

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, input: Tensor) -> Tensor:
        return stochastic_depth(input, self.p, self.mode, self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode})"
