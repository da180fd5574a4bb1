"""torchvision.ops box utilities (IoU family, conversions, NMS) as composites of ember ops."""
from __future__ import annotations

import math

import numpy as np

import ember as E
from ...tensor import Tensor

__all__ = ["box_area", "box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou",
           "box_convert", "clip_boxes_to_image", "remove_small_boxes", "nms", "batched_nms",
           "masks_to_boxes"]


def box_area(boxes: Tensor) -> Tensor:
    """Area of ``(N, 4)`` boxes in ``(x1, y1, x2, y2)`` format."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _box_inter_union(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    area1, area2 = box_area(boxes1), box_area(boxes2)
    lt = E.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = E.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter, area1[:, None] + area2[None, :] - inter


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Pairwise IoU, an ``(N, M)`` matrix."""
    inter, union = _box_inter_union(boxes1, boxes2)
    return inter / union


def generalized_box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Pairwise generalized IoU (Rezatofighi et al., 2019)."""
    inter, union = _box_inter_union(boxes1, boxes2)
    iou = inter / union
    lti = E.minimum(boxes1[:, None, :2], boxes2[None, :, :2])
    rbi = E.maximum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    whi = (rbi - lti).clamp(min=0)
    areai = whi[:, :, 0] * whi[:, :, 1]
    return iou - (areai - union) / areai


def _box_diou_iou(boxes1: Tensor, boxes2: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    iou = box_iou(boxes1, boxes2)
    lti = E.minimum(boxes1[:, None, :2], boxes2[None, :, :2])
    rbi = E.maximum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    whi = (rbi - lti).clamp(min=0)
    diag = whi[:, :, 0] ** 2 + whi[:, :, 1] ** 2 + eps
    cx1 = (boxes1[:, 0] + boxes1[:, 2]) / 2
    cy1 = (boxes1[:, 1] + boxes1[:, 3]) / 2
    cx2 = (boxes2[:, 0] + boxes2[:, 2]) / 2
    cy2 = (boxes2[:, 1] + boxes2[:, 3]) / 2
    dist = (cx1[:, None] - cx2[None, :]) ** 2 + (cy1[:, None] - cy2[None, :]) ** 2
    return iou - dist / diag, iou


def distance_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Pairwise distance IoU (Zheng et al., 2020)."""
    return _box_diou_iou(boxes1, boxes2, eps)[0]


def complete_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Pairwise complete IoU (Zheng et al., 2020)."""
    diou, iou = _box_diou_iou(boxes1, boxes2, eps)
    w1, h1 = boxes1[:, 2] - boxes1[:, 0], boxes1[:, 3] - boxes1[:, 1]
    w2, h2 = boxes2[:, 2] - boxes2[:, 0], boxes2[:, 3] - boxes2[:, 1]
    v = (4 / math.pi ** 2) * (E.atan(w1 / h1)[:, None] - E.atan(w2 / h2)[None, :]) ** 2
    # The trade-off weight is a constant in the paper's gradient, so it carries no graph.
    with E.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


def box_convert(boxes: Tensor, in_fmt: str, out_fmt: str) -> Tensor:
    """Convert boxes between ``"xyxy"``, ``"xywh"`` and ``"cxcywh"``."""
    allowed = ("xyxy", "xywh", "cxcywh")
    if in_fmt not in allowed or out_fmt not in allowed:
        raise ValueError("Unsupported Bounding Box Conversions for given in_fmt and out_fmt")
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    # (a, b, c, d) is xyxy now.
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return E.stack([a, b, c, d], dim=-1)


def clip_boxes_to_image(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Clamp ``(..., 4)`` xyxy boxes into an image of ``size = (height, width)``."""
    height, width = size
    x = boxes[..., 0::2].clamp(min=0, max=width)
    y = boxes[..., 1::2].clamp(min=0, max=height)
    return E.stack([x, y], dim=boxes.dim()).reshape(boxes.shape)


def remove_small_boxes(boxes: Tensor, min_size: float) -> Tensor:
    """Indices of the boxes whose sides are both at least ``min_size``."""
    ws, hs = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    keep = (ws >= min_size) & (hs >= min_size)
    return E.where(keep)[0]


def _nms_host(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    # Greedy NMS: visit boxes by descending score (stable for ties), drop those whose IoU with a
    # kept box exceeds the threshold.
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(i)
        w = np.clip(np.minimum(x2[i], x2) - np.maximum(x1[i], x1), 0, None)
        h = np.clip(np.minimum(y2[i], y2) - np.maximum(y1[i], y1), 0, None)
        inter = w * h
        iou = inter / (areas[i] + areas - inter)
        suppressed |= iou > iou_threshold
    return np.asarray(keep, dtype=np.int64)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Non-maximum suppression; int64 indices of the kept boxes by decreasing score.

    Computed on the host (it is inherently sequential); the result lives on ``boxes.device``.
    """
    b = boxes.detach().cpu().numpy().astype(np.float64)
    s = scores.detach().cpu().numpy().astype(np.float64)
    keep = _nms_host(b, s, float(iou_threshold))
    return E.tensor(keep, dtype=E.int64, device=boxes.device)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """NMS done independently per category ``idxs``; kept indices by decreasing score."""
    if boxes.numel() == 0:
        return E.empty((0,), dtype=E.int64, device=boxes.device)
    b = boxes.detach().cpu().numpy().astype(np.float64)
    cat = idxs.detach().cpu().numpy().astype(np.float64)
    # Shift each category into its own disjoint region so one NMS pass never mixes them.
    offsets = cat * (b.max() + 1)
    keep = _nms_host(b + offsets[:, None], scores.detach().cpu().numpy().astype(np.float64),
                     float(iou_threshold))
    return E.tensor(keep, dtype=E.int64, device=boxes.device)


def masks_to_boxes(masks: Tensor) -> Tensor:
    """Bounding xyxy boxes (float) around the non-zero pixels of ``(N, H, W)`` masks."""
    if masks.numel() == 0:
        return E.zeros((0, 4), device=masks.device)
    m = masks.detach().cpu().numpy()
    out = np.zeros((m.shape[0], 4), dtype=np.float32)
    for k in range(m.shape[0]):
        ys, xs = np.nonzero(m[k])
        if len(ys):
            out[k] = (xs.min(), ys.min(), xs.max(), ys.max())
    return E.tensor(out, device=masks.device)
