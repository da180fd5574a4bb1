"""Oracle cases for the primitives registered by ember.nn (see tests/oracle.py)."""
from __future__ import annotations

import numpy as np
from oracle import Case


def F(lib):
    return lib.nn.functional


def ints(high, shape, low=0):
    return lambda rng: rng.integers(low, high, shape)


def positive(shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def gg(fn, n_wrt=1):
    """Gradient of sum(fn(...)**2) w.r.t. the first n_wrt inputs, with a graph: exercises the
    create_graph (double-backward) path of the primitive."""
    def case(lib, *xs):
        out = fn(lib, *xs)
        return lib.autograd.grad((out * out).sum(), xs[:n_wrt], create_graph=True)
    return case


CONV_TOL = (1e-4, 1e-4)

SPECS = {
    "linear": [
        Case(lambda lib, x, w, b: F(lib).linear(x, w, b), [(4, 5), (3, 5), (3,)]),
        Case(lambda lib, x, w: F(lib).linear(x, w), [(2, 4, 5), (3, 5)], name="3d-nobias"),
        Case(lambda lib, x, w: F(lib).linear(x, w), [(5,), (3, 5)], name="1d",
             non_contiguous=False),
        Case(gg(lambda lib, x, w, b: F(lib).linear(x, w, b), 2), [(4, 5), (3, 5), (3,)],
             name="double-backward"),
    ],
    "softmax": [
        Case(lambda lib, x: F(lib).softmax(x, 1), [(3, 5)]),
        Case(lambda lib, x: F(lib).softmax(x, 0), [(3, 4, 2)]),
        Case(lambda lib, x: F(lib).softmax(x, -1), [(2, 3, 4)]),
        Case(gg(lambda lib, x: F(lib).softmax(x, 1)), [(3, 4)], name="double-backward"),
    ],
    "log_softmax": [
        Case(lambda lib, x: F(lib).log_softmax(x, 1), [(3, 5)]),
        Case(lambda lib, x: F(lib).log_softmax(x, 2), [(2, 3, 4)]),
        Case(gg(lambda lib, x: F(lib).log_softmax(x, 1)), [(3, 4)], name="double-backward"),
    ],
    "cross_entropy": [
        Case(lambda lib, x, t: F(lib).cross_entropy(x, t), [(6, 5), ints(5, (6,))]),
        Case(lambda lib, x, t: F(lib).cross_entropy(x, t, weight=cw(lib, x), ignore_index=2),
             [(8, 5), ints(5, (8,))], name="weight-ignore"),
        Case(lambda lib, x, t: F(lib).cross_entropy(x, t, weight=cw(lib, x),
                                                     label_smoothing=0.2),
             [(6, 5), ints(5, (6,))], name="weight-smoothing"),
        Case(lambda lib, x, t: F(lib).cross_entropy(x, t, label_smoothing=0.1, ignore_index=0),
             [(7, 4), ints(4, (7,))], name="smoothing-ignore"),
        Case(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction="none"),
             [(6, 5), ints(5, (6,))], name="none"),
        Case(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction="sum", label_smoothing=.3),
             [(6, 5), ints(5, (6,))], name="sum"),
        Case(lambda lib, x, t: F(lib).cross_entropy(x, t), [(2, 4, 3, 2), ints(4, (2, 3, 2))],
             name="k-dim"),
        Case(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction="none"),
             [(2, 4, 3), ints(4, (2, 3))], name="k-dim-none"),
        Case(lambda lib, x, t: F(lib).cross_entropy(x, t), [(5,), ints(5, ())], name="1d",
             non_contiguous=False),
        Case(lambda lib, x, p: F(lib).cross_entropy(x, p.softmax(1),
                                                     label_smoothing=0.1),
             [(4, 5), (4, 5)], name="probabilities"),
        Case(gg(lambda lib, x, t: F(lib).cross_entropy(x, t, label_smoothing=0.1)),
             [(5, 4), ints(4, (5,))], name="double-backward"),
    ],
    "nll_loss": [
        Case(lambda lib, x, t: F(lib).nll_loss(x, t), [(6, 5), ints(5, (6,))]),
        Case(lambda lib, x, t: F(lib).nll_loss(x, t, weight=cw(lib, x), ignore_index=1),
             [(8, 5), ints(5, (8,))], name="weight-ignore"),
        Case(lambda lib, x, t: F(lib).nll_loss(x, t, reduction="none"),
             [(2, 4, 3), ints(4, (2, 3))], name="k-dim-none"),
        Case(lambda lib, x, t: F(lib).nll_loss(x, t, reduction="sum"),
             [(6, 5), ints(5, (6,))], name="sum"),
        Case(gg(lambda lib, x, t: F(lib).nll_loss(x.log_softmax(1), t)),
             [(5, 4), ints(4, (5,))], name="double-backward"),
    ],
    "conv2d": [
        Case(lambda lib, x, w, b: F(lib).conv2d(x, w, b), [(2, 3, 6, 6), (4, 3, 3, 3), (4,)],
             tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv2d(x, w, stride=2, padding=1),
             [(2, 3, 7, 6), (4, 3, 3, 3)], name="stride-pad", tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv2d(x, w, dilation=2, padding=(2, 1)),
             [(1, 2, 7, 7), (3, 2, 3, 2)], name="dilation", tol=CONV_TOL),
        Case(lambda lib, x, w, b: F(lib).conv2d(x, w, b, groups=2, padding=1),
             [(2, 4, 5, 5), (6, 2, 3, 3), (6,)], name="groups", tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv2d(x, w, padding="same"),
             [(1, 2, 5, 6), (3, 2, 2, 4)], name="same-even", tol=CONV_TOL),
        Case(lambda lib, x, w, b: F(lib).conv1d(x, w, b, stride=2, padding=1),
             [(2, 3, 9), (4, 3, 3), (4,)], name="conv1d", tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv1d(x, w, padding="same", dilation=2),
             [(2, 2, 8), (3, 2, 3)], name="conv1d-same", tol=CONV_TOL),
        # Convolutions with C*kh*kw >= 256 take the wide-row layout when stride is 1 (1-wide
        # and rectangular kernels, uneven padding, inf input -> strided layout, sizes for the
        # batch-slab threads) and the flat layout otherwise; smaller ones the per-sample one.
        Case(lambda lib, x, w, b: F(lib).conv2d(x, w, b, padding=1),
             [(1, 29, 3, 4), (2, 29, 3, 3), (2,)], name="wide-gradcheck", tol=CONV_TOL),
        Case(lambda lib, x, w, b: F(lib).conv2d(x, w, b, padding=(0, 2)),
             [(2, 52, 5, 7), (4, 52, 1, 5), (4,)], name="wide-1x5", gradcheck=False,
             tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv2d(x, w, padding=(2, 0), dilation=(1, 3)),
             [(2, 43, 4, 8), (3, 43, 3, 2)], name="wide-rect-dilated", gradcheck=False,
             tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv2d(x, w, padding=1),
             [lambda rng: np.where(rng.random((2, 29, 5, 5)) < 0.05, np.inf,
                                   rng.standard_normal((2, 29, 5, 5))), (3, 29, 3, 3)],
             name="wide-inf-input", gradcheck=False, tol=CONV_TOL),
        Case(lambda lib, x, w, b: F(lib).conv2d(x, w, b, padding=1),
             [(4, 32, 32, 32), (32, 32, 3, 3), (32,)], name="wide-threaded", gradcheck=False,
             tol=(2e-4, 2e-4)),
        Case(lambda lib, x, w, b: F(lib).conv2d(x, w, b, stride=2, padding=1),
             [(2, 29, 7, 6), (3, 29, 3, 3), (3,)], name="flat-stride2", gradcheck=False,
             tol=CONV_TOL),
        Case(lambda lib, x, w, b: F(lib).conv2d(x, w, b, padding=1),
             [(4, 3, 40, 40), (32, 3, 3, 3), (32,)], name="sample-threaded", gradcheck=False,
             tol=CONV_TOL),
    ],
    "conv_transpose2d": [
        Case(lambda lib, x, w, b: F(lib).conv_transpose2d(x, w, b),
             [(2, 3, 4, 4), (3, 2, 3, 3), (2,)], tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv_transpose2d(x, w, stride=2, padding=1,
                                                        output_padding=1),
             [(1, 3, 4, 3), (3, 2, 3, 3)], name="stride-outpad", tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv_transpose2d(x, w, groups=2, dilation=2),
             [(1, 4, 3, 3), (4, 1, 2, 2)], name="groups-dilation", tol=CONV_TOL),
        Case(lambda lib, x, w, b: F(lib).conv_transpose2d(x, w, b, padding=1, dilation=2,
                                                           output_padding=1),
             [(2, 3, 4, 5), (3, 2, 3, 3), (2,)], name="stride1-outpad", tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv_transpose1d(x, w, stride=3),
             [(2, 3, 4), (3, 2, 2)], name="1d", tol=CONV_TOL),
        Case(gg(lambda lib, x, w: F(lib).conv2d(x, w, stride=2)),
             [(1, 2, 5, 5), (2, 2, 3, 3)], name="conv2d-double-backward", tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).unfold(x, 2, padding=1, stride=2),
             [(1, 2, 4, 5), (1,)], name="unfold", tol=CONV_TOL),
        Case(lambda lib, x: F(lib).fold(x, (4, 5), 2, padding=1, stride=2),
             [(1, 8, 9)], name="fold", tol=CONV_TOL),
    ],
    "conv2d_weight": [
        Case(gg(lambda lib, x, w: F(lib).conv2d(x, w, padding=1), 2),
             [(1, 29, 3, 3), (2, 29, 3, 3)], name="wide", tol=CONV_TOL),
        Case(gg(lambda lib, x, w: F(lib).conv2d(x, w, padding=1), 2),
             [(1, 2, 4, 4), (3, 2, 3, 3)], tol=CONV_TOL),
        Case(gg(lambda lib, x, w: F(lib).conv2d(x, w, groups=2, stride=2), 2),
             [(2, 4, 5, 5), (2, 2, 2, 2)], name="groups", tol=CONV_TOL),
    ],
    "max_pool2d": [
        Case(lambda lib, x: F(lib).max_pool2d(x, 2), [(2, 3, 6, 6)]),
        Case(lambda lib, x: F(lib).max_pool2d(x, 3, stride=2, padding=1, return_indices=True),
             [(2, 2, 7, 6)], name="pad-indices"),
        Case(lambda lib, x: F(lib).max_pool2d(x, 2, ceil_mode=True, return_indices=True),
             [(1, 2, 5, 7)], name="ceil"),
        Case(lambda lib, x: F(lib).max_pool2d(x, 2, stride=1, dilation=2),
             [(1, 2, 6, 6)], name="dilation"),
        Case(lambda lib, x: F(lib).max_pool1d(x, 3, stride=2, return_indices=True),
             [(2, 3, 9)], name="1d"),
        Case(gg(lambda lib, x: F(lib).max_pool2d(x, 2)), [(1, 2, 4, 4)],
             name="double-backward"),
        # The 2x2 fast path: ties (ReLU-like zeros and small integers) go to the first
        # position in row-major order, odd sizes drop the last row/column, NaN wins.
        Case(lambda lib, x: F(lib).max_pool2d(x, 2, return_indices=True),
             [lambda rng: rng.integers(-1, 2, (2, 3, 6, 8)).astype(np.float64)],
             name="2x2-ties", gradcheck=False),
        Case(lambda lib, x: F(lib).max_pool2d(x.relu(), 2, return_indices=True),
             [(2, 2, 7, 9)], name="2x2-relu-odd", gradcheck=False),
        Case(lambda lib, x: F(lib).max_pool2d(x, (2, 2), ceil_mode=True), [(1, 2, 6, 4)],
             name="2x2-ceil-even"),
        Case(lambda lib, x: F(lib).max_pool2d(x, 2, return_indices=True),
             [lambda rng: np.where(rng.random((2, 2, 6, 6)) < 0.2, np.nan,
                                   rng.standard_normal((2, 2, 6, 6)))],
             name="2x2-nan", gradcheck=False),
        Case(lambda lib, x: F(lib).max_pool2d(x, 3, stride=3, return_indices=True),
             [lambda rng: rng.integers(-1, 2, (2, 3, 6, 7)).astype(np.float64)],
             name="3x3-ties", gradcheck=False),
        Case(lambda lib, x: F(lib).max_pool2d(x.relu(), 2, return_indices=True),
             [(4, 8, 64, 66)], name="2x2-threaded", gradcheck=False),
        Case(lambda lib, x: F(lib).adaptive_max_pool2d(x, (2, 3)), [(1, 2, 5, 7)],
             name="adaptive", gradcheck=False),
    ],
    "avg_pool2d": [
        Case(lambda lib, x: F(lib).avg_pool2d(x, 2), [(2, 3, 6, 6)]),
        Case(lambda lib, x: F(lib).avg_pool2d(x, 3, stride=2, padding=1,
                                              count_include_pad=False),
             [(1, 2, 7, 6)], name="pad-exclude"),
        Case(lambda lib, x: F(lib).avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
             [(1, 2, 6, 6)], name="ceil"),
        Case(lambda lib, x: F(lib).avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False),
             [(1, 2, 5, 5)], name="ceil-exclude"),
        Case(lambda lib, x: F(lib).avg_pool2d(x, 2, divisor_override=3), [(1, 2, 4, 4)],
             name="divisor"),
        Case(lambda lib, x: F(lib).avg_pool1d(x, 3, stride=2, padding=1), [(2, 3, 8)],
             name="1d"),
        Case(gg(lambda lib, x: F(lib).avg_pool2d(x, 2, padding=1)), [(1, 2, 4, 4)],
             name="double-backward"),
    ],
    "batch_norm": [
        # The updated running stats are compared too; they carry no gradient, so the
        # numerical gradcheck runs on the output alone (the "-out" cases).
        Case(lambda lib, x, w, b: _bn_train(lib, x, w, b), [(4, 3, 5, 5), (3,), (3,)],
             gradcheck=False),
        Case(lambda lib, x, w, b: _bn_train(lib, x, w, b), [(6, 3), (3,), (3,)], name="1d",
             gradcheck=False),
        Case(lambda lib, x, w, b: _bn_train(lib, x, w, b)[0], [(4, 3, 2, 2), (3,), (3,)],
             name="out"),
        Case(lambda lib, x, w, b: _bn_train(lib, x, w, b)[0], [(5, 2), (2,), (2,)],
             name="1d-out"),
        Case(lambda lib, x: F(lib).batch_norm(x, None, None, training=True), [(4, 3, 2)],
             name="no-stats"),
        Case(lambda lib, x, w, b: F(lib).batch_norm(
                x, lib.linspace(-0.5, 0.5, 3, dtype=x.dtype),
                lib.linspace(0.5, 2.0, 3, dtype=x.dtype), w, b, training=False, eps=1e-3),
             [(4, 3, 2, 2), (3,), (3,)], name="eval"),
        Case(gg(lambda lib, x, w, b: _bn_train(lib, x, w, b)[0], 2), [(4, 2, 3), (2,), (2,)],
             name="double-backward"),
    ],
    "layer_norm": [
        Case(lambda lib, x, w, b: F(lib).layer_norm(x, (5,), w, b), [(4, 5), (5,), (5,)]),
        Case(lambda lib, x, w, b: F(lib).layer_norm(x, (3, 4), w, b, eps=1e-3),
             [(2, 3, 4), (3, 4), (3, 4)], name="2d-shape"),
        Case(lambda lib, x: F(lib).layer_norm(x, (6,)), [(3, 6)], name="no-affine"),
        Case(lambda lib, x, w: F(lib).group_norm(x, 2, w), [(2, 4, 3), (4,)], name="group"),
        Case(lambda lib, x: F(lib).instance_norm(x), [(2, 3, 4, 3)], name="instance"),
        Case(gg(lambda lib, x, w, b: F(lib).layer_norm(x, (4,), w, b), 2),
             [(3, 4), (4,), (4,)], name="double-backward"),
    ],
    "dropout": [
        # p tiny: every element is kept with overwhelming probability, so the result is
        # deterministic and comparable with torch (the masks' RNG streams differ).
        Case(lambda lib, x: F(lib).dropout(x, p=1e-12), [(4, 5)]),
        Case(lambda lib, x: F(lib).dropout2d(x, p=1e-12), [(2, 3, 2, 2)], name="2d"),
    ],
    "embedding": [
        Case(lambda lib, i, w: F(lib).embedding(i, w), [ints(6, (3, 4)), (6, 3)]),
        Case(lambda lib, i, w: F(lib).embedding(i, w, padding_idx=2),
             [ints(6, (10,)), (6, 3)], name="padding-idx"),
        Case(gg(lambda lib, w, i: F(lib).embedding(i, w)), [(5, 3), ints(5, (7,))],
             name="double-backward", non_contiguous=False),
    ],
}


def cw(lib, x):
    """Fixed positive class weights (a constant, so gradcheck does not perturb them)."""
    n = x.shape[1]
    return lib.linspace(0.5, 2.0, n, dtype=x.dtype)


def _bn_train(lib, x, w, b):
    c = x.shape[1]
    rm = lib.zeros(c, dtype=x.dtype)
    rv = lib.ones(c, dtype=x.dtype)
    out = lib.nn.functional.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3)
    return out, rm, rv
