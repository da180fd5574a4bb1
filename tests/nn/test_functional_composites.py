"""Composite nn.functional ops and losses against torch, through the oracle helper."""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

from oracle import DEVICE, Case, check, dev_tensor


def F(lib):
    return lib.nn.functional


def prob(shape):
    return lambda rng: rng.uniform(0.05, 0.95, shape)


def sign(shape):
    return lambda rng: rng.choice([-1.0, 1.0], shape)


def ints(high, shape):
    return lambda rng: rng.integers(0, high, shape)


RED = ("mean", "sum", "none")
CASES = []
for r in RED:
    CASES += [
        Case(lambda lib, a, b, r=r: F(lib).mse_loss(a, b, reduction=r), [(3, 4), (3, 4)]),
        Case(lambda lib, a, b, r=r: F(lib).l1_loss(a, b, reduction=r), [(3, 4), (3, 4)]),
        Case(lambda lib, a, b, r=r: F(lib).smooth_l1_loss(a, b, reduction=r, beta=0.5),
             [(3, 4), (3, 4)]),
        Case(lambda lib, a, b, r=r: F(lib).huber_loss(a, b, reduction=r, delta=0.7),
             [(3, 4), (3, 4)]),
        Case(lambda lib, p, t, w, r=r: F(lib).binary_cross_entropy(p, t, w.detach(),
                                                                   reduction=r),
             [prob((3, 4)), prob((3, 4)), (3, 4)]),
        Case(lambda lib, x, t, r=r: F(lib).binary_cross_entropy_with_logits(
            x, t, pos_weight=lib.tensor([0.5, 1.0, 2.0, 3.0], dtype=x.dtype), reduction=r),
             [(3, 4), prob((3, 4))]),
        Case(lambda lib, x, t, r=r: F(lib).kl_div(x.log_softmax(1), t.softmax(1), reduction=r),
             [(3, 4), (3, 4)]),
        Case(lambda lib, a, b, y, r=r: F(lib).cosine_embedding_loss(a, b, y.detach(), 0.2,
                                                                    reduction=r),
             [(5, 3), (5, 3), sign((5,))]),
        Case(lambda lib, a, b, y, r=r: F(lib).margin_ranking_loss(a, b, y.detach(), 0.3,
                                                                  reduction=r),
             [(6,), (6,), sign((6,))]),
        Case(lambda lib, a, p, n, r=r: F(lib).triplet_margin_loss(a, p, n, reduction=r,
                                                                  swap=True),
             [(4, 3), (4, 3), (4, 3)]),
    ]
CASES += [
    Case(lambda lib, x, t: F(lib).kl_div(x, t, reduction="batchmean", log_target=True),
         [(3, 4), (3, 4)]),
    Case(lambda lib, x: F(lib).binary_cross_entropy_with_logits(x, x.detach().sigmoid()),
         [(4, 3)]),
    Case(lambda lib, x: F(lib).pad(x, (1, 2, 0, 1), value=0.5), [(2, 3, 4)]),
    Case(lambda lib, x: F(lib).pad(x, (-1, 2)), [(2, 3, 4)]),
    Case(lambda lib, x: F(lib).pad(x, (2, 1, 1, 2), mode="reflect"), [(1, 2, 4, 4)]),
    Case(lambda lib, x: F(lib).pad(x, (2, 1, 1, 2), mode="replicate"), [(1, 2, 3, 4)]),
    Case(lambda lib, x: F(lib).pad(x, (2, 1), mode="circular"), [(1, 2, 4)]),
    Case(lambda lib, x: F(lib).interpolate(x, scale_factor=3, mode="nearest"), [(1, 2, 2, 3)]),
    Case(lambda lib, x: F(lib).interpolate(x, size=(3, 5), mode="nearest"), [(1, 2, 4, 4)]),
    Case(lambda lib, x: F(lib).interpolate(x, size=7, mode="linear", align_corners=True),
         [(1, 2, 4)]),
    Case(lambda lib, x: F(lib).interpolate(x, scale_factor=2, mode="bilinear",
                                           align_corners=False), [(1, 2, 3, 3)]),
    Case(lambda lib, x: F(lib).normalize(x, dim=1), [(3, 4)]),
    Case(lambda lib, x: F(lib).normalize(x, p=1, dim=0), [(3, 4)]),
    Case(lambda lib, a, b: F(lib).cosine_similarity(a, b), [(3, 4), (3, 4)]),
    Case(lambda lib, a, b: F(lib).pairwise_distance(a, b), [(3, 4), (3, 4)]),
    Case(lambda lib, x: F(lib).one_hot(x, 5), [ints(5, (4,))], grad=False),
    Case(lambda lib, x: F(lib).glu(x, 1), [(2, 6)]),
    Case(lambda lib, x: F(lib).logsigmoid(x), [(2, 6)]),
    Case(lambda lib, x: F(lib).softmin(x, 1), [(2, 6)]),
    Case(lambda lib, x: F(lib).pixel_shuffle(x, 3), [(2, 9, 2, 2)]),
    Case(lambda lib, x: F(lib).cross_entropy(x, x.detach().softmax(1), reduction="none"),
         [(3, 4)]),
    Case(lambda lib, x: F(lib).cross_entropy(x, lib.tensor([0, 2, 1]), weight=lib.tensor(
        [1.0, 2.0, 0.5], dtype=x.dtype), reduction="sum", label_smoothing=0.4), [(3, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=[f"c{i}" for i in range(len(CASES))])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_composite_matches_torch(case, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(case, dtype)


def test_loss_errors_match_torch():
    import torch
    import ember
    for lib in (torch, ember):
        # ember's inputs on the device under test.
        if lib is torch:
            zeros, tensor = torch.zeros, torch.tensor
        else:
            zeros, tensor = functools.partial(ember.zeros, device=DEVICE), dev_tensor
        with pytest.raises(ValueError, match="Expected input batch_size"):
            F(lib).cross_entropy(zeros(3, 4), tensor([0, 1]))
        with pytest.raises(IndexError, match="out of bounds"):
            F(lib).cross_entropy(zeros(2, 4), tensor([0, 7]))
        with pytest.raises(ValueError):
            F(lib).binary_cross_entropy(zeros(3).sigmoid(), zeros(2, 3))
        with pytest.raises(RuntimeError):
            F(lib).linear(zeros(2, 3), zeros(4, 5))
        with pytest.raises(RuntimeError):
            F(lib).conv2d(zeros(1, 3, 5, 5), zeros(2, 4, 3, 3))
