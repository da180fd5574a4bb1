"""Loss modules (each wraps the function of the same name in nn.functional).

All take ``reduction`` = 'mean' | 'sum' | 'none' (plus the legacy size_average/reduce).
"""
from __future__ import annotations

from typing import Optional

from ...tensor import Tensor
from .. import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F._legacy_reduction(size_average, reduce, reduction)


class _WeightedLoss(_Loss):
    def __init__(self, weight: Optional[Tensor] = None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy between logits and class indices or class probabilities.

    Args:
        weight: per-class weights (C,). ignore_index: target value that contributes nothing.
        reduction: 'mean' | 'sum' | 'none'. label_smoothing: in [0, 1].

    Shape:
        Input ``(N, C)`` or ``(N, C, d1, ...)``; target ``(N)`` indices or input-shaped
        probabilities; output scalar (or ``(N, d1, ...)`` with 'none').

    Example:
        >>> nn.CrossEntropyLoss()(ember.randn(3, 5), ember.tensor([1, 0, 4])).shape
        torch.Size([])
    """

    def __init__(self, weight: Optional[Tensor] = None, size_average=None,
                 ignore_index: int = -100, reduce=None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities against class indices.

    Args:
        weight, ignore_index, reduction: as CrossEntropyLoss.

    Shape:
        Input ``(N, C)`` or ``(N, C, d1, ...)``, target ``(N)`` or ``(N, d1, ...)``.

    Example:
        >>> nn.NLLLoss()(ember.randn(3, 5).log_softmax(1), ember.tensor([1, 0, 4])).shape
        torch.Size([])
    """

    def __init__(self, weight: Optional[Tensor] = None, size_average=None,
                 ignore_index: int = -100, reduce=None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error.

    Args:
        reduction: 'mean' | 'sum' | 'none'.

    Shape:
        Input and target ``(*)``, same shape.

    Example:
        >>> nn.MSELoss()(ember.zeros(2), ember.ones(2))
        tensor(1.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error.

    Args:
        reduction: 'mean' | 'sum' | 'none'.

    Shape:
        Input and target ``(*)``.

    Example:
        >>> nn.L1Loss()(ember.zeros(2), ember.ones(2))
        tensor(1.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above.

    Args:
        reduction; beta: default 1.0.

    Shape:
        Input and target ``(*)``.

    Example:
        >>> nn.SmoothL1Loss()(ember.zeros(1), ember.ones(1))
        tensor(0.5000)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Huber loss: quadratic below ``delta``, ``delta``-scaled linear above.

    Args:
        reduction; delta: default 1.0.

    Shape:
        Input and target ``(*)``.

    Example:
        >>> nn.HuberLoss()(ember.zeros(1), ember.ones(1))
        tensor(0.5000)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities (logs clamped at -100).

    Args:
        weight: rescales each element; reduction.

    Shape:
        Input and target ``(*)``, same shape.

    Example:
        >>> nn.BCELoss()(ember.tensor([0.5]), ember.tensor([1.0]))
        tensor(0.6931)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross entropy in one numerically stable formula.

    Args:
        weight: per-element rescaling; reduction; pos_weight: weight of positive examples
        (broadcast over the class dim).

    Shape:
        Input and target ``(*)``, same shape.

    Example:
        >>> nn.BCEWithLogitsLoss()(ember.tensor([0.0]), ember.tensor([1.0]))
        tensor(0.6931)
    """

    def __init__(self, weight: Optional[Tensor] = None, size_average=None, reduce=None,
                 reduction: str = "mean", pos_weight: Optional[Tensor] = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence with log-probability input.

    Args:
        reduction: 'mean' | 'batchmean' | 'sum' | 'none'; log_target: target given as log.

    Shape:
        Input and target ``(*)``.

    Example:
        >>> nn.KLDivLoss(reduction="batchmean")(ember.zeros(1, 2), ember.ones(1, 2))
        tensor(0.)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineEmbeddingLoss(_Loss):
    """``1 - cos`` for y = 1, ``max(0, cos - margin)`` for y = -1.

    Args:
        margin: default 0; reduction.

    Shape:
        Inputs ``(N, D)``, target ``(N)`` of +-1.

    Example:
        >>> nn.CosineEmbeddingLoss()(ember.ones(1, 2), ember.ones(1, 2), ember.ones(1)).shape
        torch.Size([])
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``max(0, -y * (x1 - x2) + margin)``.

    Args:
        margin: default 0; reduction.

    Shape:
        Inputs and target ``(N)``.

    Example:
        >>> nn.MarginRankingLoss()(ember.ones(2), ember.zeros(2), ember.ones(2))
        tensor(0.)
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with the p-norm distance.

    Args:
        margin: default 1; p: norm degree; eps; swap: use the distance swap; reduction.

    Shape:
        Inputs ``(N, D)``.

    Example:
        >>> nn.TripletMarginLoss()(ember.zeros(1, 2), ember.zeros(1, 2), ember.ones(1, 2))
        tensor(0.)
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification loss (see ``F.ctc_loss``).

    Args:
        blank: the blank class (default 0). reduction: 'mean' | 'sum' | 'none'.
        zero_infinity: give infeasible alignments (infinite loss) zero loss and gradient.

    Shape:
        log_probs ``(T, N, C)`` or ``(T, C)``; targets ``(N, S)`` or concatenated 1-D;
        input_lengths/target_lengths ``(N)`` (or ints for unbatched input).

    Example:
        >>> lp = ember.randn(30, 2, 6).log_softmax(2)
        >>> nn.CTCLoss()(lp, ember.tensor([[1, 2], [3, 3]]), [30, 25], [2, 2]).shape
        torch.Size([])
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False
                 ) -> None:
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths, target_lengths
                ) -> Tensor:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)
