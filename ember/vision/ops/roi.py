"""RoI Align / RoI Pool (torchvision.ops) as gathers over the input, so autograd gives the
gradient with respect to the feature map. Sample positions depend on box sizes (adaptive
sampling counts), so they are planned on the host and the gather runs on the input's device."""
from __future__ import annotations

import math

import numpy as np

import ember as E
from ...nn.modules.module import Module
from ...tensor import Tensor

__all__ = ["roi_align", "RoIAlign", "roi_pool", "RoIPool", "ps_roi_align", "PSRoIAlign",
           "ps_roi_pool", "PSRoIPool"]


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _rois_host(boxes) -> np.ndarray:
    # Accept a (K, 5) tensor [batch, x1, y1, x2, y2] or a list of per-image (L, 4) tensors.
    if isinstance(boxes, (list, tuple)):
        parts = []
        for i, b in enumerate(boxes):
            arr = b.detach().cpu().numpy().astype(np.float64).reshape(-1, 4)
            parts.append(np.concatenate([np.full((len(arr), 1), i, np.float64), arr], 1))
        return np.concatenate(parts, 0) if parts else np.zeros((0, 5))
    arr = boxes.detach().cpu().numpy().astype(np.float64)
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise ValueError("The boxes tensor shape is not correct as Tensor[K, 5]")
    return arr


def _gather(input: Tensor, idx: np.ndarray) -> Tensor:
    # input (N, C, H, W) -> (C, N*H*W); pick flat positions idx (any shape) -> (C, *idx.shape)
    n, c, h, w = input.shape
    flat = input.permute(1, 0, 2, 3).reshape(c, n * h * w)
    ind = E.tensor(idx.reshape(-1).astype(np.int64), device=input.device)
    return flat.index_select(1, ind).reshape((c,) + idx.shape)


def roi_align(input: Tensor, boxes, output_size, spatial_scale: float = 1.0,
              sampling_ratio: int = -1, aligned: bool = False) -> Tensor:
    """RoI Align (He et al., 2017): average of bilinear samples per output bin.

    Returns ``(K, C, output_size[0], output_size[1])``.
    """
    ph_n, pw_n = _pair(output_size)
    return _align(input, _rois_host(boxes), ph_n, pw_n, spatial_scale, sampling_ratio,
                  0.5 if aligned else 0.0, not aligned)


def _align(input: Tensor, rois: np.ndarray, ph_n: int, pw_n: int, spatial_scale: float,
           sampling_ratio: int, off: float, min_one: bool) -> Tensor:
    n, c, h, w = input.shape
    k = len(rois)
    if k == 0:
        return E.zeros((0, c, ph_n, pw_n), dtype=input.dtype, device=input.device)
    plans = []
    for r in rois:
        b = int(r[0])
        x1, y1 = r[1] * spatial_scale - off, r[2] * spatial_scale - off
        rw, rh = r[3] * spatial_scale - off - x1, r[4] * spatial_scale - off - y1
        if min_one:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph_n, rw / pw_n
        gh = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rh / ph_n))
        gw = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rw / pw_n))
        count = max(gh * gw, 1)
        ys = (y1 + np.arange(ph_n)[:, None] * bh
              + (np.arange(gh)[None, :] + 0.5) * bh / gh)          # (PH, gh)
        xs = (x1 + np.arange(pw_n)[:, None] * bw
              + (np.arange(gw)[None, :] + 0.5) * bw / gw)          # (PW, gw)
        y = np.broadcast_to(ys[:, None, :, None], (ph_n, pw_n, gh, gw)).reshape(ph_n, pw_n, -1)
        x = np.broadcast_to(xs[None, :, None, :], (ph_n, pw_n, gh, gw)).reshape(ph_n, pw_n, -1)
        plans.append((b, y, x, count))
    g = max(p[1].shape[-1] for p in plans)
    idx = np.zeros((k, ph_n, pw_n, g, 4), np.int64)
    wts = np.zeros((k, ph_n, pw_n, g, 4), np.float64)
    for i, (b, y, x, count) in enumerate(plans):
        m = y.shape[-1]
        if m == 0:
            continue
        valid = ~((y < -1.0) | (y > h) | (x < -1.0) | (x > w))
        y, x = np.maximum(y, 0.0), np.maximum(x, 0.0)
        y0, x0 = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
        ytop, xtop = y0 >= h - 1, x0 >= w - 1
        y0, x0 = np.where(ytop, h - 1, y0), np.where(xtop, w - 1, x0)
        y, x = np.where(ytop, y0, y), np.where(xtop, x0, x)
        y1_, x1_ = np.where(ytop, y0, y0 + 1), np.where(xtop, x0, x0 + 1)
        ly, lx = y - y0, x - x0
        hy, hx = 1.0 - ly, 1.0 - lx
        base = b * h * w
        idx[i, :, :, :m] = np.stack([base + y0 * w + x0, base + y0 * w + x1_,
                                     base + y1_ * w + x0, base + y1_ * w + x1_], -1)
        wv = np.stack([hy * hx, hy * lx, ly * hx, ly * lx], -1) * valid[..., None] / count
        wts[i, :, :, :m] = wv
    vals = _gather(input, idx)                                     # (C, K, PH, PW, G, 4)
    wt = E.tensor(wts, dtype=input.dtype, device=input.device)
    out = (vals * wt).sum(dim=(-1, -2))                            # (C, K, PH, PW)
    return out.permute(1, 0, 2, 3)


class RoIAlign(Module):
    """Module form of :func:`roi_align`."""

    def __init__(self, output_size, spatial_scale: float, sampling_ratio: int,
                 aligned: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, input: Tensor, rois) -> Tensor:
        return roi_align(input, rois, self.output_size, self.spatial_scale,
                         self.sampling_ratio, self.aligned)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale}, sampling_ratio={self.sampling_ratio}, "
                f"aligned={self.aligned})")


def _round_half_away(v: float) -> int:
    return int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(-v + 0.5))


def roi_pool(input: Tensor, boxes, output_size, spatial_scale: float = 1.0) -> Tensor:
    """RoI max pooling (Girshick, 2015) over integer-quantised bins; empty bins give 0."""
    ph_n, pw_n = _pair(output_size)
    return _pool(input, _rois_host(boxes), ph_n, pw_n, spatial_scale, 1, "max")


def _pool(input: Tensor, rois: np.ndarray, ph_n: int, pw_n: int, spatial_scale: float,
          extra: int, how: str) -> Tensor:
    n, c, h, w = input.shape
    k = len(rois)
    if k == 0:
        return E.zeros((0, c, ph_n, pw_n), dtype=input.dtype, device=input.device)
    bins = []
    for r in rois:
        b = int(r[0])
        xs, ys = _round_half_away(r[1] * spatial_scale), _round_half_away(r[2] * spatial_scale)
        xe, ye = _round_half_away(r[3] * spatial_scale), _round_half_away(r[4] * spatial_scale)
        rw, rh = max(xe - xs + extra, 1), max(ye - ys + extra, 1)
        bh, bw = rh / ph_n, rw / pw_n
        for p in range(ph_n):
            hs = min(max(int(math.floor(p * bh)) + ys, 0), h)
            he = min(max(int(math.ceil((p + 1) * bh)) + ys, 0), h)
            for q in range(pw_n):
                ws = min(max(int(math.floor(q * bw)) + xs, 0), w)
                we = min(max(int(math.ceil((q + 1) * bw)) + xs, 0), w)
                cells = [b * h * w + yy * w + xx for yy in range(hs, he) for xx in range(ws, we)]
                bins.append(cells)
    g = max(1, max(len(cells) for cells in bins))
    idx = np.zeros((len(bins), g), np.int64)
    mask = np.zeros((len(bins), g), bool)
    for i, cells in enumerate(bins):
        idx[i, :len(cells)] = cells
        mask[i, :len(cells)] = True
    vals = _gather(input, idx)                                     # (C, B, G)
    m = E.tensor(mask, device=input.device)
    if how == "max":
        best = E.where(m, vals, E.full_like(vals, -math.inf)).max(dim=-1)[0]   # (C, B)
    else:
        area = E.tensor(np.maximum(mask.sum(1), 1), dtype=input.dtype, device=input.device)
        best = E.where(m, vals, E.zeros_like(vals)).sum(dim=-1) / area
    empty = E.tensor(~mask.any(1), device=input.device)
    best = E.where(empty, E.zeros_like(best), best)
    return best.reshape(c, k, ph_n, pw_n).permute(1, 0, 2, 3)


class RoIPool(Module):
    """Module form of :func:`roi_pool`."""

    def __init__(self, output_size, spatial_scale: float) -> None:
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input: Tensor, rois) -> Tensor:
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale})")


def _position_sensitive(full: Tensor, ph_n: int, pw_n: int) -> Tensor:
    # Output channel c at bin (i, j) reads input channel (c * PH + i) * PW + j: take the
    # "diagonal" of the per-channel pooled map.
    k, c = full.shape[:2]
    p = ph_n * pw_n
    if c % p != 0:
        raise RuntimeError("input channels must be a multiple of pooling height * pooling "
                           "width")
    ar = E.arange(p, device=full.device)
    diag = full.reshape(k, c // p, p, p)[:, :, ar, ar]
    return diag.reshape(k, c // p, ph_n, pw_n)


def ps_roi_align(input: Tensor, boxes, output_size, spatial_scale: float = 1.0,
                 sampling_ratio: int = -1) -> Tensor:
    """Position-sensitive RoI Align (R-FCN): ``(K, C / (PH * PW), PH, PW)``."""
    ph_n, pw_n = _pair(output_size)
    if input.shape[1] % (ph_n * pw_n) != 0:
        raise RuntimeError("input channels must be a multiple of pooling height * pooling "
                           "width")
    full = _align(input, _rois_host(boxes), ph_n, pw_n, spatial_scale, sampling_ratio, 0.5,
                  False)
    return _position_sensitive(full, ph_n, pw_n)


def ps_roi_pool(input: Tensor, boxes, output_size, spatial_scale: float = 1.0) -> Tensor:
    """Position-sensitive RoI average pooling (R-FCN): ``(K, C / (PH * PW), PH, PW)``."""
    ph_n, pw_n = _pair(output_size)
    if input.shape[1] % (ph_n * pw_n) != 0:
        raise RuntimeError("input channels must be a multiple of pooling height * pooling "
                           "width")
    full = _pool(input, _rois_host(boxes), ph_n, pw_n, spatial_scale, 0, "mean")
    return _position_sensitive(full, ph_n, pw_n)


class PSRoIAlign(Module):
    """Module form of :func:`ps_roi_align`."""

    def __init__(self, output_size, spatial_scale: float, sampling_ratio: int) -> None:
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio

    def forward(self, input: Tensor, rois) -> Tensor:
        return ps_roi_align(input, rois, self.output_size, self.spatial_scale,
                            self.sampling_ratio)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale}, sampling_ratio={self.sampling_ratio})")


class PSRoIPool(Module):
    """Module form of :func:`ps_roi_pool`."""

    def __init__(self, output_size, spatial_scale: float) -> None:
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input: Tensor, rois) -> Tensor:
        return ps_roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale})")
