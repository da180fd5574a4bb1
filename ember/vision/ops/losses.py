"""torchvision.ops detection losses: focal loss and the IoU-family box losses."""
from __future__ import annotations

import math

import ember as E
import ember.nn.functional as F
from ...tensor import Tensor

__all__ = ["sigmoid_focal_loss", "generalized_box_iou_loss", "distance_box_iou_loss",
           "complete_box_iou_loss"]


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"Invalid Value for arg 'reduction': '{reduction} \n Supported reduction "
                     f"modes: 'none', 'mean', 'sum'")


def sigmoid_focal_loss(inputs: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2,
                       reduction: str = "none") -> Tensor:
    """Focal loss of Lin et al. (2017) on logits ``inputs`` and binary ``targets``."""
    if reduction not in ("none", "mean", "sum"):
        _reduce(inputs, reduction)
    p = E.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction)


def _inter_union(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    xk1, yk1 = E.maximum(x1, x1g), E.maximum(y1, y1g)
    xk2, yk2 = E.minimum(x2, x2g), E.minimum(y2, y2g)
    inter = E.where((yk2 > yk1) & (xk2 > xk1), (xk2 - xk1) * (yk2 - yk1),
                    E.zeros_like(x1))
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    return inter, union


def generalized_box_iou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none",
                             eps: float = 1e-7) -> Tensor:
    """``1 - GIoU`` of matching xyxy box pairs."""
    inter, union = _inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    area_c = ((E.maximum(x2, x2g) - E.minimum(x1, x1g))
              * (E.maximum(y2, y2g) - E.minimum(y1, y1g)))
    loss = 1 - (iou - (area_c - union) / (area_c + eps))
    return _reduce(loss, reduction)


def _diou_iou_loss(boxes1: Tensor, boxes2: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    inter, union = _inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    diag = ((E.maximum(x2, x2g) - E.minimum(x1, x1g)) ** 2
            + (E.maximum(y2, y2g) - E.minimum(y1, y1g)) ** 2 + eps)
    dist = ((x1 + x2) / 2 - (x1g + x2g) / 2) ** 2 + ((y1 + y2) / 2 - (y1g + y2g) / 2) ** 2
    return 1 - iou + dist / diag, iou


def distance_box_iou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none",
                          eps: float = 1e-7) -> Tensor:
    """``1 - DIoU`` of matching xyxy box pairs."""
    return _reduce(_diou_iou_loss(boxes1, boxes2, eps)[0], reduction)


def complete_box_iou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none",
                          eps: float = 1e-7) -> Tensor:
    """``1 - CIoU`` of matching xyxy box pairs."""
    diou_loss, iou = _diou_iou_loss(boxes1, boxes2, eps)
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    v = (4 / math.pi ** 2) * (E.atan((x2g - x1g) / (y2g - y1g))
                              - E.atan((x2 - x1) / (y2 - y1))) ** 2
    with E.no_grad():
        alpha = v / (1 - iou + v + eps)
    return _reduce(diou_loss + alpha * v, reduction)
