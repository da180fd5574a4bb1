"""Oracle cases for ember.nn._conv3d_ops (conv3d, conv_transpose3d, conv3d_weight)."""
from __future__ import annotations

from oracle import Case


def F(lib):
    return lib.nn.functional


def gg(fn, n_wrt=1):
    """Gradient of sum(fn(...)**2) w.r.t. the first n_wrt inputs, with a graph: exercises the
    create_graph (double-backward) path of the primitive."""
    def case(lib, *xs):
        out = fn(lib, *xs)
        return lib.autograd.grad((out * out).sum(), xs[:n_wrt], create_graph=True)
    return case


CONV_TOL = (1e-4, 1e-4)

SPECS = {
    "conv3d": [
        Case(lambda lib, x, w, b: F(lib).conv3d(x, w, b), [(2, 3, 4, 5, 4), (4, 3, 2, 3, 2), (4,)],
             tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv3d(x, w, stride=(2, 1, 2), padding=(1, 0, 1)),
             [(1, 2, 5, 4, 5), (3, 2, 3, 2, 3)], name="stride-pad", tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv3d(x, w, dilation=(2, 1, 2), padding=1),
             [(1, 2, 5, 4, 5), (2, 2, 2, 2, 2)], name="dilation", tol=CONV_TOL),
        Case(lambda lib, x, w, b: F(lib).conv3d(x, w, b, groups=2, padding=1),
             [(2, 4, 3, 3, 4), (6, 2, 3, 3, 3), (6,)], name="groups", tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv3d(x, w, padding="same"),
             [(1, 2, 4, 5, 4), (3, 2, 2, 3, 4)], name="same-even", tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv3d(x, w, padding="valid"),
             [(2, 4, 4, 4), (3, 2, 2, 3, 2)], name="unbatched-valid", tol=CONV_TOL),
    ],
    "conv_transpose3d": [
        Case(lambda lib, x, w, b: F(lib).conv_transpose3d(x, w, b),
             [(2, 3, 3, 2, 3), (3, 2, 2, 3, 2), (2,)], tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv_transpose3d(x, w, stride=2, padding=1,
                                                        output_padding=(1, 0, 1)),
             [(1, 3, 3, 2, 3), (3, 2, 3, 3, 3)], name="stride-outpad", tol=CONV_TOL),
        Case(lambda lib, x, w: F(lib).conv_transpose3d(x, w, groups=2, dilation=2),
             [(1, 4, 2, 3, 2), (4, 1, 2, 2, 2)], name="groups-dilation", tol=CONV_TOL),
        Case(gg(lambda lib, x, w: F(lib).conv3d(x, w, stride=2)),
             [(1, 2, 5, 4, 5), (2, 2, 3, 2, 3)], name="conv3d-double-backward", tol=CONV_TOL),
    ],
    "conv3d_weight": [
        Case(gg(lambda lib, x, w: F(lib).conv3d(x, w, padding=1), 2),
             [(1, 2, 3, 3, 3), (3, 2, 2, 3, 2)], tol=CONV_TOL),
        Case(gg(lambda lib, x, w: F(lib).conv3d(x, w, groups=2, stride=(1, 2, 2)), 2),
             [(2, 4, 3, 4, 4), (2, 2, 2, 2, 2)], name="groups", tol=CONV_TOL),
    ],
}
