"""Oracle cases for the ``ctc_loss`` primitive (ember.nn._ctc_ops), run by tests/nn/test_ctc.py.

Cases that feed raw (unnormalised) values as ``log_probs`` check torch's gradient convention,
``exp(log_probs) - posterior``, which is not the derivative of the loss with respect to
``log_probs``: those have ``gradcheck=False``. Cases that put a log_softmax in front are true
derivatives (the extra term cancels there), so ember's numerical gradcheck applies.
"""
from __future__ import annotations

import numpy as np

from oracle import Case


def _ints(values):
    arr = np.asarray(values, dtype=np.int64)
    return lambda rng: arr


def _labels(shape, n_cls, low=1):
    """Random labels in [low, n_cls) with few classes, so repeats (a a) are common."""
    return lambda rng: rng.integers(low, n_cls, shape)


def _ctc(normalise: bool, **kw):
    """fn(lib, x, targets, input_lengths, target_lengths)."""
    def fn(lib, x, targets, il, tl):
        lp = x.log_softmax(-1) if normalise else x
        return lib.nn.functional.ctc_loss(lp, targets, il, tl, **kw)
    return fn


def _ctc_lists(il, tl, normalise: bool, **kw):
    """fn(lib, x, targets) with Python-list lengths."""
    def fn(lib, x, targets):
        lp = x.log_softmax(-1) if normalise else x
        return lib.nn.functional.ctc_loss(lp, targets, il, tl, **kw)
    return fn


def _unbatched(il, tl, normalise: bool, **kw):
    """(T, C) input, 1-D targets, one-element length sequences."""
    def fn(lib, x, targets):
        lp = x.log_softmax(-1) if normalise else x
        return lib.nn.functional.ctc_loss(lp, targets, il, tl, **kw)
    return fn


# (T, N, C) = (7, 3, 4); targets (3, 3) with repeats; lengths as tensors.
_PADDED = [(7, 3, 4), _labels((3, 3), 4), _ints([7, 6, 5]), _ints([3, 2, 3])]
# Concatenated targets: lengths 3, 0, 2 (a target of length zero in the middle).
_CONCAT = [(6, 3, 5), _ints([2, 2, 3, 4, 4]), _ints([6, 4, 5]), _ints([3, 0, 2])]
# Sample 0 needs 2*3 = 6 frames for "1 1 1" but has 4: infeasible (loss inf). Sample 1 is
# feasible, its padding holds junk labels (never read), sample 2 has input length 0.
_INFEASIBLE = [(5, 3, 4), _ints([[1, 1, 1], [2, 3, 3], [1, 2, 3]]), _ints([4, 5, 0]),
               _ints([3, 1, 0])]

SPECS = {
    "ctc_loss": [
        Case(_ctc(True), _PADDED, name="padded_mean"),
        Case(_ctc(True, reduction="sum"), _PADDED, name="padded_sum"),
        Case(_ctc(True, reduction="none"), _PADDED, name="padded_none"),
        Case(_ctc(False, reduction="none"), _PADDED, gradcheck=False,
             name="raw_logprobs_torch_grad"),
        Case(_ctc(False), _PADDED, gradcheck=False, name="raw_logprobs_mean"),
        Case(_ctc(True), _CONCAT, name="concat_mean"),
        Case(_ctc(False, reduction="sum"), _CONCAT, gradcheck=False, name="concat_raw_sum"),
        Case(_ctc(True, reduction="none"), _INFEASIBLE, gradcheck=False,
             name="infeasible_inf_nan_grad"),
        Case(_ctc(True, reduction="mean"), _INFEASIBLE, gradcheck=False,
             name="infeasible_mean_inf"),
        Case(_ctc(True, reduction="none", zero_infinity=True), _INFEASIBLE,
             name="zero_infinity_none"),
        Case(_ctc(True, reduction="mean", zero_infinity=True), _INFEASIBLE,
             name="zero_infinity_mean"),
        Case(_ctc(False, reduction="sum", zero_infinity=True), _INFEASIBLE, gradcheck=False,
             name="zero_infinity_raw"),
        Case(_ctc_lists([8, 8], [4, 3], True, blank=3), [(8, 2, 4), _labels((2, 4), 3, 0)],
             name="blank_last_list_lengths"),
        Case(_ctc_lists([9, 7], [0, 0], True), [(9, 2, 3), _ints([[1], [2]])],
             name="all_targets_empty"),
        Case(_unbatched([6], [3], True), [(6, 4), _ints([2, 2, 1])], name="unbatched_mean"),
        Case(_unbatched((6,), (3,), True, reduction="none"), [(6, 4), _ints([1, 3, 3])],
             name="unbatched_none"),
        Case(_unbatched([5], [2], False, reduction="sum"), [(5, 4), _ints([3, 1])],
             gradcheck=False, name="unbatched_raw"),
    ],
}
