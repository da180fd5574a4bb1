"""The nn functions torch also exposes at top level (``torch.conv2d``, ``torch.batch_norm``...).

These follow the signatures of torch's top-level (ATen) bindings, which differ from
``torch.nn.functional`` in places: reductions are ints (0 none, 1 mean, 2 sum), dropout takes a
required ``train`` flag, normalisations take ``weight, bias`` before the running statistics.
"""
from __future__ import annotations

from typing import Optional, Sequence

from .tensor import Tensor

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "convolution", "avg_pool1d", "max_pool1d", "max_pool2d", "max_pool3d",
    "max_pool1d_with_indices", "adaptive_avg_pool1d", "adaptive_max_pool1d", "batch_norm",
    "instance_norm", "group_norm", "layer_norm", "rms_norm", "dropout", "dropout_",
    "alpha_dropout", "alpha_dropout_", "feature_dropout", "feature_dropout_",
    "feature_alpha_dropout", "feature_alpha_dropout_", "embedding", "embedding_bag", "bilinear",
    "celu", "selu", "threshold", "threshold_", "hardshrink", "prelu", "rrelu", "rrelu_",
    "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "pdist", "pairwise_distance",
    "cosine_similarity", "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
    "hinge_embedding_loss", "kl_div", "poisson_nll_loss", "binary_cross_entropy_with_logits",
    "ctc_loss", "constant_pad_nd", "grid_sampler", "lstm", "gru",
]


def _F():
    # ember.nn loads lazily; resolve it on first call so `import ember` stays cheap.
    from .nn import functional
    return functional


_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(r, fn: str) -> str:
    # torch's top-level bindings take the ATen Reduction enum and reject strings.
    if isinstance(r, bool) or not isinstance(r, int):
        raise TypeError(f"{fn}(): argument 'reduction' must be int, not {type(r).__name__}")
    if r not in _REDUCTIONS:
        raise ValueError(f"{r} is not a valid value for reduction")
    return _REDUCTIONS[r]


def _inplace(input: Tensor, out: Tensor) -> Tensor:
    if out is not input:
        input.copy_(out)
    return input


def _stride(stride):
    # ATen spells "default stride" as an empty list; F spells it None.
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        return None
    return stride


# ----------------------------------------------------------------------------- convolutions
def conv1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """torch.conv1d."""
    return _F().conv1d(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """torch.conv2d."""
    return _F().conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """torch.conv3d."""
    return _F().conv3d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """torch.conv_transpose1d."""
    return _F().conv_transpose1d(input, weight, bias, stride, padding, output_padding, groups,
                                 dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """torch.conv_transpose2d."""
    return _F().conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups,
                                 dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """torch.conv_transpose3d."""
    return _F().conv_transpose3d(input, weight, bias, stride, padding, output_padding, groups,
                                 dilation)


def convolution(input: Tensor, weight: Tensor, bias: Optional[Tensor], stride: Sequence[int],
                padding: Sequence[int], dilation: Sequence[int], transposed: bool,
                output_padding: Sequence[int], groups: int) -> Tensor:
    """torch.convolution: the generic N-d (transposed) convolution, N from ``weight``."""
    n = weight.dim() - 2
    if n not in (1, 2, 3):
        raise RuntimeError(f"convolution: expected a 3-D, 4-D or 5-D weight, got {weight.dim()}-D")
    F = _F()
    stride, padding, dilation = tuple(stride), tuple(padding), tuple(dilation)
    if transposed:
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[n - 1]
        return fn(input, weight, bias, stride, padding, tuple(output_padding), groups, dilation)
    fn = (F.conv1d, F.conv2d, F.conv3d)[n - 1]
    return fn(input, weight, bias, stride, padding, dilation, groups)


# ----------------------------------------------------------------------------- pooling
def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """torch.avg_pool1d."""
    return _F().avg_pool1d(input, kernel_size, _stride(stride), padding, ceil_mode,
                           count_include_pad)


def max_pool1d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """torch.max_pool1d (values only; see max_pool1d_with_indices)."""
    return _F().max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """torch.max_pool2d."""
    return _F().max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """torch.max_pool3d."""
    return _F().max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode: bool = False) -> tuple[Tensor, Tensor]:
    """torch.max_pool1d_with_indices: (values, int64 indices)."""
    return _F().max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode,
                           return_indices=True)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """torch.adaptive_avg_pool1d."""
    return _F().adaptive_avg_pool1d(input, output_size)


def adaptive_max_pool1d(input: Tensor, output_size) -> tuple[Tensor, Tensor]:
    """torch.adaptive_max_pool1d: always (values, indices), unlike F's default."""
    return _F().adaptive_max_pool1d(input, output_size, return_indices=True)


# ----------------------------------------------------------------------------- normalisation
def batch_norm(input: Tensor, weight: Optional[Tensor], bias: Optional[Tensor],
               running_mean: Optional[Tensor], running_var: Optional[Tensor], training: bool,
               momentum: float, eps: float, cudnn_enabled: bool) -> Tensor:
    """torch.batch_norm (ATen argument order: weight, bias before the running stats)."""
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                           eps)


def instance_norm(input: Tensor, weight: Optional[Tensor], bias: Optional[Tensor],
                  running_mean: Optional[Tensor], running_var: Optional[Tensor],
                  use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool) -> Tensor:
    """torch.instance_norm (ATen argument order)."""
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                              momentum, eps)


def group_norm(input: Tensor, num_groups: int, weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5,
               cudnn_enabled: bool = True) -> Tensor:
    """torch.group_norm."""
    return _F().group_norm(input, num_groups, weight, bias, eps)


def layer_norm(input: Tensor, normalized_shape, weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5,
               cudnn_enable: bool = True) -> Tensor:
    """torch.layer_norm."""
    return _F().layer_norm(input, normalized_shape, weight, bias, eps)


def rms_norm(input: Tensor, normalized_shape, weight: Optional[Tensor] = None,
             eps: Optional[float] = None) -> Tensor:
    """torch.rms_norm."""
    return _F().rms_norm(input, normalized_shape, weight, eps)


# ----------------------------------------------------------------------------- dropout
def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.dropout(input, p, train)."""
    return _F().dropout(input, p, train)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place torch.dropout_."""
    return _inplace(input, dropout(input, p, train))


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.alpha_dropout(input, p, train)."""
    return _F().alpha_dropout(input, p, train)


def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place torch.alpha_dropout_."""
    return _inplace(input, alpha_dropout(input, p, train))


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Zero whole feature maps: one draw per (N, C) of an (N, C, *) input."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not train or p == 0.0:
        return input
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 1.0:
        return input * 0.0
    from .creation import rand
    shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
    keep = rand(shape, dtype=input.dtype, device=input.device) >= p
    return input * (keep.to(input.dtype) / (1.0 - p))


def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place torch.feature_dropout_."""
    return _inplace(input, feature_dropout(input, p, train))


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.feature_alpha_dropout(input, p, train)."""
    return _F().feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place torch.feature_alpha_dropout_."""
    return _inplace(input, feature_alpha_dropout(input, p, train))


# ----------------------------------------------------------------------------- embeddings
def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """torch.embedding(weight, indices): weight first; a negative padding_idx means none."""
    pad = padding_idx if padding_idx is not None and padding_idx >= 0 else None
    return _F().embedding(indices, weight, pad, None, 2.0, scale_grad_by_freq, sparse)


def embedding_bag(weight: Tensor, indices: Tensor, offsets: Tensor,
                  scale_grad_by_freq: bool = False, mode: int = 0, sparse: bool = False,
                  per_sample_weights: Optional[Tensor] = None, include_last_offset: bool = False,
                  padding_idx: Optional[int] = None
                  ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """torch.embedding_bag: (output, offset2bag, bag_size, max_indices); mode 0 sum/1 mean/2 max.

    The three auxiliary tensors follow torch's general CPU path (zero sizes for sum mode; its
    float32 fast path returns an empty offset2bag there instead).
    """
    if mode not in (0, 1, 2):
        raise ValueError(f"embedding_bag: mode must be 0, 1 or 2, got {mode}")
    from . import creation as C
    from .functional import stack
    out = _F().embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq,
                             ("sum", "mean", "max")[mode], sparse, per_sample_weights,
                             include_last_offset, padding_idx)
    nbags = out.shape[0]
    dev = weight.device
    idx = [int(i) for i in indices.reshape(-1).tolist()]
    if indices.dim() == 2:
        per = indices.shape[1]
        starts = [b * per for b in range(indices.shape[0])]
    else:
        starts = [int(o) for o in offsets.tolist()][:nbags]
    ends = starts[1:] + [len(idx)]
    bag_of = [0] * len(idx)
    sizes = []
    for b, (s, e) in enumerate(zip(starts, ends)):
        for k in range(s, e):
            bag_of[k] = b
        sizes.append(sum(1 for k in range(s, e) if idx[k] != padding_idx))
    offset2bag = C.tensor(bag_of, dtype=indices.dtype, device=dev)
    bag_size = C.tensor(sizes, dtype=indices.dtype, device=dev)
    if mode == 0:
        # torch's general (non-MKL) path: bag sizes and max indices are left zero for sum
        zero = C.zeros(nbags, dtype=indices.dtype, device=dev)
        return out, offset2bag, zero, zero.clone()
    if mode == 1:
        return out, offset2bag, bag_size, bag_size.clone()
    # max mode: the row index that supplied each output element (0 for an empty bag)
    rows = []
    for s, e in zip(starts, ends):
        valid = [idx[k] for k in range(s, e) if idx[k] != padding_idx]
        if not valid:
            rows.append(C.zeros(weight.shape[1], dtype=indices.dtype, device=dev))
            continue
        cand = C.tensor(valid, dtype=indices.dtype, device=dev)
        am = weight.detach()[cand].argmax(0)
        rows.append(cand[am])
    max_idx = stack(rows) if rows else C.zeros((0, weight.shape[1]), dtype=indices.dtype,
                                               device=dev)
    return out, offset2bag, bag_size, max_idx


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Optional[Tensor] = None) -> Tensor:
    """torch.bilinear."""
    return _F().bilinear(input1, input2, weight, bias)


# ----------------------------------------------------------------------------- activations
def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """torch.celu."""
    return _F().celu(input, alpha)


def selu(input: Tensor) -> Tensor:
    """torch.selu."""
    return _F().selu(input)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    """torch.threshold: ``value`` where input <= threshold, else input."""
    return _F().threshold(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place torch.threshold_."""
    return _F().threshold_(input, threshold, value)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """torch.hardshrink."""
    return _F().hardshrink(input, lambd)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """torch.prelu."""
    return _F().prelu(input, weight)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, generator=None) -> Tensor:
    """torch.rrelu."""
    return _F().rrelu(input, lower, upper, training)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False, generator=None) -> Tensor:
    """In-place torch.rrelu_."""
    return _F().rrelu_(input, lower, upper, training)


# ----------------------------------------------------------------------------- shape/distance
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """torch.pixel_shuffle."""
    return _F().pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """torch.pixel_unshuffle."""
    return _F().pixel_unshuffle(input, downscale_factor)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """torch.channel_shuffle."""
    return _F().channel_shuffle(input, groups)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """torch.pdist."""
    return _F().pdist(input, p)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """torch.pairwise_distance."""
    return _F().pairwise_distance(x1, x2, p, eps, keepdim)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """torch.cosine_similarity."""
    return _F().cosine_similarity(x1, x2, dim, eps)


# ----------------------------------------------------------------------------- losses
# torch's Python bindings of these ATen losses default to no reduction (0), unlike F's 'mean';
# the defaults below follow what torch 2.13 actually does.
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: int = 0) -> Tensor:
    """torch.cosine_embedding_loss (int reduction)."""
    r = _reduction(reduction, "cosine_embedding_loss")
    return _F().cosine_embedding_loss(input1, input2, target, margin, reduction=r)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: int = 0) -> Tensor:
    """torch.margin_ranking_loss (int reduction)."""
    r = _reduction(reduction, "margin_ranking_loss")
    return _F().margin_ranking_loss(input1, input2, target, margin, reduction=r)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                        reduction: int = 0) -> Tensor:
    """torch.triplet_margin_loss (int reduction)."""
    r = _reduction(reduction, "triplet_margin_loss")
    return _F().triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                    reduction=r)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         reduction: int = 0) -> Tensor:
    """torch.hinge_embedding_loss (int reduction)."""
    r = _reduction(reduction, "hinge_embedding_loss")
    return _F().hinge_embedding_loss(input, target, margin, reduction=r)


def kl_div(input: Tensor, target: Tensor, reduction: int = 0, *,
           log_target: bool = False) -> Tensor:
    """torch.kl_div (int reduction; 1 is the element-wise mean, there is no batchmean)."""
    r = _reduction(reduction, "kl_div")
    return _F().kl_div(input, target, reduction=r, log_target=log_target)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,
                     reduction: int) -> Tensor:
    """torch.poisson_nll_loss (all arguments required, as in torch)."""
    r = _reduction(reduction, "poisson_nll_loss")
    return _F().poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=r)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Optional[Tensor] = None,
                                     pos_weight: Optional[Tensor] = None,
                                     reduction: int = 0) -> Tensor:
    """torch.binary_cross_entropy_with_logits (pos_weight before reduction, int reduction)."""
    r = _reduction(reduction, "binary_cross_entropy_with_logits")
    return _F().binary_cross_entropy_with_logits(input, target, weight, reduction=r,
                                                 pos_weight=pos_weight)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: int = 0, zero_infinity: bool = False) -> Tensor:
    """torch.ctc_loss (int reduction)."""
    r = _reduction(reduction, "ctc_loss")
    return _F().ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, r,
                         zero_infinity)


# ----------------------------------------------------------------------------- padding/sampling
def constant_pad_nd(input: Tensor, pad: Sequence[int], value: float = 0) -> Tensor:
    """torch.constant_pad_nd: F.pad's constant mode (negative pads crop)."""
    return _F().pad(input, list(pad), "constant", value)


_INTERP = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_PADDING = {0: "zeros", 1: "border", 2: "reflection"}


def grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                 align_corners: bool) -> Tensor:
    """torch.grid_sampler: grid_sample with ATen's integer mode codes."""
    if interpolation_mode not in _INTERP:
        raise RuntimeError(f"grid_sampler(): unknown interpolation mode {interpolation_mode}")
    if padding_mode not in _PADDING:
        raise RuntimeError(f"grid_sampler(): unknown padding mode {padding_mode}")
    return _F().grid_sample(input, grid, _INTERP[interpolation_mode], _PADDING[padding_mode],
                            align_corners)


# ----------------------------------------------------------------------------- recurrent
def _rnn(cell, input: Tensor, hx: list, params: Sequence[Tensor], has_biases: bool,
         num_layers: int, dropout_p: float, train: bool, bidirectional: bool,
         batch_first: bool, per_dir: int, who: str):
    """Shared multi-layer (bi)directional loop; ``cell(x_t, state, weights) -> state``."""
    from .functional import cat, stack
    if input.dim() != 3:
        raise RuntimeError(f"{who}: expected a 3-D input (seq, batch, feature), got "
                           f"{input.dim()}-D")
    dirs = 2 if bidirectional else 1
    n = len(params)
    if n not in (num_layers * dirs * per_dir, num_layers * dirs * (per_dir + 1)):
        raise RuntimeError(f"{who}: got {n} parameters for {num_layers} layer(s) x {dirs} "
                           "direction(s)")
    k = n // (num_layers * dirs)
    x = input.transpose(0, 1) if batch_first else input
    finals = []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            ws = list(params[(layer * dirs + d) * k:(layer * dirs + d + 1) * k])
            state = [h[layer * dirs + d] for h in hx]
            steps = range(x.shape[0] - 1, -1, -1) if d == 1 else range(x.shape[0])
            seq = [None] * x.shape[0]
            for t in steps:
                state = cell(x[t], state, ws, has_biases)
                seq[t] = state[0]
            outs.append(stack(seq))
            finals.append(state)
        x = outs[0] if dirs == 1 else cat(outs, -1)
        if dropout_p > 0 and train and layer < num_layers - 1:
            x = _F().dropout(x, dropout_p, True)
    out = x.transpose(0, 1) if batch_first else x
    return out, [stack([f[i] for f in finals]) for i in range(len(hx))]


def _lstm_cell(x: Tensor, state: list, ws: list, has_biases: bool) -> list:
    h, c = state
    gates = x.matmul(ws[0].t()) + h.matmul(ws[1].t())
    if has_biases:
        gates = gates + ws[2] + ws[3]
    i, f, g, o = gates.chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    if len(ws) in (3, 5):  # proj_size: the last weight projects h down
        h = h.matmul(ws[-1].t())
    return [h, c]


def _gru_cell(x: Tensor, state: list, ws: list, has_biases: bool) -> list:
    h = state[0]
    gi = x.matmul(ws[0].t())
    gh = h.matmul(ws[1].t())
    if has_biases:
        gi, gh = gi + ws[2], gh + ws[3]
    ir, iz, in_ = gi.chunk(3, -1)
    hr, hz, hn = gh.chunk(3, -1)
    r = (ir + hr).sigmoid()
    z = (iz + hz).sigmoid()
    nn_ = (in_ + r * hn).tanh()
    return [(1 - z) * nn_ + z * h]


def lstm(input: Tensor, hx: Sequence[Tensor], params: Sequence[Tensor], has_biases: bool,
         num_layers: int, dropout: float, train: bool, bidirectional: bool,
         batch_first: bool) -> tuple[Tensor, Tensor, Tensor]:
    """torch.lstm (the padded-input overload): (output, h_n, c_n)."""
    per_dir = 4 if has_biases else 2
    out, (h, c) = _rnn(_lstm_cell, input, list(hx), params, has_biases, num_layers, dropout,
                       train, bidirectional, batch_first, per_dir, "lstm")
    return out, h, c


def gru(input: Tensor, hx: Tensor, params: Sequence[Tensor], has_biases: bool,
        num_layers: int, dropout: float, train: bool, bidirectional: bool,
        batch_first: bool) -> tuple[Tensor, Tensor]:
    """torch.gru (the padded-input overload): (output, h_n)."""
    per_dir = 4 if has_biases else 2
    out, (h,) = _rnn(_gru_cell, input, [hx], params, has_biases, num_layers, dropout, train,
                     bidirectional, batch_first, per_dir, "gru")
    return out, h
