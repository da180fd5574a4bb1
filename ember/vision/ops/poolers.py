"""MultiScaleRoIAlign (torchvision.ops): RoI Align from the FPN level that suits each box."""
from __future__ import annotations

import math

import numpy as np

import ember as E
from ...nn.modules.module import Module
from ...tensor import Tensor
from .roi import _align, _pair, _rois_host

__all__ = ["MultiScaleRoIAlign"]


class MultiScaleRoIAlign(Module):
    """Pool each box from level ``floor(k0 + log2(sqrt(area) / canonical_scale))`` (Lin et al.,
    2017, eq. 1), clamped to the levels present in ``featmap_names``."""

    def __init__(self, featmap_names: list[str], output_size, sampling_ratio: int, *,
                 canonical_scale: int = 224, canonical_level: int = 4) -> None:
        super().__init__()
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        self.featmap_names = featmap_names
        self.sampling_ratio = sampling_ratio
        self.output_size = tuple(output_size)
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level

    def _scales(self, feats: list[Tensor], image_shapes) -> list[float]:
        max_h = max(int(s[0]) for s in image_shapes)
        max_w = max(int(s[1]) for s in image_shapes)
        scales = []
        for f in feats:
            # Feature strides are powers of two; round in log space as torchvision does.
            cand = [2.0 ** round(math.log2(float(a) / float(b)))
                    for a, b in zip(f.shape[-2:], (max_h, max_w))]
            if cand[0] != cand[1]:
                raise ValueError("feature map scales differ between height and width")
            scales.append(cand[0])
        return scales

    def forward(self, x: dict, boxes: list[Tensor], image_shapes: list) -> Tensor:
        feats = [x[k] for k in self.featmap_names]
        scales = self._scales(feats, image_shapes)
        rois = _rois_host(list(boxes))
        ph_n, pw_n = _pair(self.output_size)
        if len(feats) == 1:
            return _align(feats[0], rois, ph_n, pw_n, scales[0], self.sampling_ratio, 0.0,
                          True)
        k_min = int(-math.log2(scales[0]))
        k_max = int(-math.log2(scales[-1]))
        area = (rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2])
        lvl = np.floor(self.canonical_level
                       + np.log2(np.sqrt(area) / self.canonical_scale) + 1e-6)
        lvl = (np.clip(lvl, k_min, k_max) - k_min).astype(np.int64)
        parts, order = [], []
        for level, (feat, scale) in enumerate(zip(feats, scales)):
            idx = np.nonzero(lvl == level)[0]
            if len(idx):
                parts.append(_align(feat, rois[idx], ph_n, pw_n, scale, self.sampling_ratio,
                                    0.0, True))
                order.append(idx)
        c = feats[0].shape[1]
        if not parts:
            return E.zeros((0, c, ph_n, pw_n), dtype=feats[0].dtype, device=feats[0].device)
        # Results come grouped by level; undo that grouping so row i belongs to box i.
        inverse = np.argsort(np.concatenate(order), kind="stable")
        stacked = E.cat(parts, 0)
        return stacked.index_select(0, E.tensor(inverse, device=stacked.device))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(featmap_names={self.featmap_names}, "
                f"output_size={self.output_size}, sampling_ratio={self.sampling_ratio})")
