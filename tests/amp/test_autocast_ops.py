"""Per-op autocast policy against torch's CPU autocast (bfloat16 and float16).

Each case runs one op inside ``lib.autocast("cpu", dtype=...)`` with float32, lower-precision
or mixed inputs, through the shared oracle: output dtypes must equal torch's, values must be
close, and input gradients must come back in each input's own dtype.
"""
from __future__ import annotations

import numpy as np
import pytest

import ember
from oracle import Case, check

LOW = ("bfloat16", "float16")

# The CPU autocast policy is what is checked (torch's CPU lists are the oracle): the cases stay
# on the CPU under EMBER_TEST_DEVICE=cuda, where a "cpu" region would not touch CUDA inputs.
pytestmark = pytest.mark.usefixtures("cpu_only")


def _region(fn, low, cast=()):
    """``fn(lib, *xs)`` run in a CPU autocast region of dtype ``low``; inputs whose index is in
    ``cast`` are converted to ``low`` first (outside the region), making mixed-dtype calls."""
    def run(lib, *xs):
        xs = [x.to(getattr(lib, low)) if i in cast else x for i, x in enumerate(xs)]
        with lib.autocast("cpu", dtype=getattr(lib, low)):
            return fn(lib, *xs)
    return run


def _pos(shape):
    return lambda rng: rng.uniform(0.5, 1.5, shape)


def _unit(shape):
    return lambda rng: rng.uniform(-0.9, 0.9, shape)


def _prob(shape):
    return lambda rng: rng.uniform(0.05, 0.95, shape)


def _labels(n, c):
    return lambda rng: rng.integers(0, c, n)


def _sign(n):
    return lambda rng: np.where(rng.standard_normal(n) > 0, 1.0, -1.0)


# name -> (fn(lib, *xs), inputs, mixed): ``mixed`` lists which inputs the mixed-dtype run
# converts to the lower dtype (empty: torch rejects mixed inputs for this op, so it is not run).
OPS = {
    # lower precision on CPU
    "matmul": (lambda lib, a, b: lib.matmul(a, b), [(3, 4), (4, 5)], (1,)),
    "matmul_1d": (lambda lib, a, b: lib.matmul(a, b), [(4,), (4,)], (1,)),
    "__matmul__": (lambda lib, a, b: a @ b, [(2, 3, 4), (4, 5)], (0,)),
    "mm": (lambda lib, a, b: lib.mm(a, b), [(3, 4), (4, 5)], (0,)),
    "bmm": (lambda lib, a, b: lib.bmm(a, b), [(2, 3, 4), (2, 4, 5)], (1,)),
    "addmm": (lambda lib, c, a, b: lib.addmm(c, a, b), [(3, 5), (3, 4), (4, 5)], (1,)),
    "baddbmm": (lambda lib, c, a, b: lib.baddbmm(c, a, b), [(2, 3, 5), (2, 3, 4), (2, 4, 5)],
                (0,)),
    "einsum_contract": (lambda lib, a, b: lib.einsum("bij,bjk->bik", a, b),
                        [(2, 3, 4), (2, 4, 5)], (1,)),
    "einsum_dot": (lambda lib, a, b: lib.einsum("i,i->", a, b), [(5,), (5,)], (0,)),
    "einsum_mul": (lambda lib, a, b: lib.einsum("i,i->i", a, b), [(5,), (5,)], ()),
    "einsum_outer": (lambda lib, a, b: lib.einsum("i,j->ij", a, b), [(3,), (4,)], ()),
    "tensordot": (lambda lib, a, b: lib.tensordot(a, b, 1), [(3, 4), (4, 5)], ()),
    "linear": (lambda lib, x, w, b: lib.nn.functional.linear(x, w, b),
               [(2, 3, 4), (5, 4), (5,)], (0,)),
    "conv1d": (lambda lib, x, w, b: lib.nn.functional.conv1d(x, w, b, padding=1),
               [(2, 3, 7), (4, 3, 3), (4,)], (1,)),
    "conv2d": (lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, stride=2, padding=1),
               [(2, 3, 6, 6), (4, 3, 3, 3), (4,)], (0,)),
    "conv_transpose2d": (lambda lib, x, w, b: lib.nn.functional.conv_transpose2d(
        x, w, b, stride=2), [(1, 3, 4, 4), (3, 2, 3, 3), (2,)], (2,)),
    "prelu": (lambda lib, x, w: lib.nn.functional.prelu(x, w), [(2, 3, 4), (3,)], (0,)),
    "sdpa": (lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v),
             [(1, 2, 4, 8), (1, 2, 5, 8), (1, 2, 5, 8)], (0,)),
    "sdpa_causal_mask": (lambda lib, q, k, v, m: (
        lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
        lib.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m)),
        [(1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8), (4, 4)], (1,)),
    # float32 on CPU
    "prod": (lambda lib, x: lib.prod(x, 1), [_pos((3, 4))], ()),
    "cross_entropy": (lambda lib, x, t: lib.nn.functional.cross_entropy(x, t),
                      [(6, 5), _labels(6, 5)], ()),
    "cross_entropy_probs": (lambda lib, x, t: lib.nn.functional.cross_entropy(x, t.softmax(1)),
                            [(6, 5), (6, 5)], (1,)),
    "nll_loss": (lambda lib, x, t: lib.nn.functional.nll_loss(x.log_softmax(1), t),
                 [(6, 5), _labels(6, 5)], ()),
    "mse_loss": (lambda lib, x, y: lib.nn.functional.mse_loss(x, y), [(3, 4), (3, 4)], (1,)),
    "l1_loss": (lambda lib, x, y: lib.nn.functional.l1_loss(x, y), [(3, 4), (3, 4)], (0,)),
    "smooth_l1_loss": (lambda lib, x, y: lib.nn.functional.smooth_l1_loss(x, y),
                       [(3, 4), (3, 4)], (1,)),
    "huber_loss": (lambda lib, x, y: lib.nn.functional.huber_loss(x, y, delta=0.5),
                   [(3, 4), (3, 4)], (1,)),
    "bce": (lambda lib, x, y: lib.nn.functional.binary_cross_entropy(x, y),
            [_prob((3, 4)), _prob((3, 4))], (1,)),
    "bce_with_logits": (lambda lib, x, y: lib.nn.functional.binary_cross_entropy_with_logits(
        x, y), [(3, 4), _prob((3, 4))], (0,)),
    "kl_div": (lambda lib, x, y: lib.nn.functional.kl_div(x, y, reduction="batchmean"),
               [(3, 4), _prob((3, 4))], (1,)),
    "cosine_embedding_loss": (lambda lib, a, b, t: lib.nn.functional.cosine_embedding_loss(
        a, b, t), [(3, 4), (3, 4), _sign(3)], (1,)),
    "margin_ranking_loss": (lambda lib, a, b, t: lib.nn.functional.margin_ranking_loss(a, b, t),
                            [(5,), (5,), _sign(5)], (0,)),
    "triplet_margin_loss": (lambda lib, a, p, n: lib.nn.functional.triplet_margin_loss(a, p, n),
                            [(3, 4), (3, 4), (3, 4)], (2,)),
    "cdist": (lambda lib, a, b: lib.cdist(a, b), [(3, 4), (2, 4)], (1,)),
    "trace": (lambda lib, x: lib.trace(x), [(3, 3)], ()),
    # not listed on CPU: computed in the inputs' dtype, promoting as usual
    "mv": (lambda lib, a, b: lib.mv(a, b), [(3, 4), (4,)], ()),
    "dot": (lambda lib, a, b: lib.dot(a, b), [(4,), (4,)], ()),
    "bilinear": (lambda lib, a, b, w, c: lib.nn.functional.bilinear(a, b, w, c),
                 [(3, 4), (3, 5), (6, 4, 5), (6,)], ()),
    "outer": (lambda lib, a, b: lib.outer(a, b), [(3,), (4,)], (1,)),
    "softmax": (lambda lib, x: lib.nn.functional.softmax(x, -1), [(3, 4)], ()),
    "log_softmax": (lambda lib, x: lib.nn.functional.log_softmax(x, -1), [(3, 4)], ()),
    "layer_norm": (lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (4,), w, b),
                   [(3, 4), (4,), (4,)], ()),
    "group_norm": (lambda lib, x: lib.nn.functional.group_norm(x, 2), [(2, 4, 3)], ()),
    "exp_log_pow": (lambda lib, x: (x.exp(), x.log(), x ** 2, 2 ** x, 1 / x, x.rsqrt()),
                    [_pos((5,))], ()),
    "sum_mean_cumsum": (lambda lib, x: (x.sum(), x.mean(0), x.cumsum(1), x.norm()),
                        [(3, 4)], ()),
    "activations": (lambda lib, x: (lib.relu(x), lib.tanh(x), lib.sigmoid(x),
                                    lib.nn.functional.gelu(x), lib.nn.functional.silu(x),
                                    lib.nn.functional.softplus(x)), [(3, 4)], ()),
    "normalize_cosine": (lambda lib, a, b: (lib.nn.functional.normalize(a),
                                            lib.nn.functional.cosine_similarity(a, b)),
                         [(3, 4), (3, 4)], (1,)),
    "pools": (lambda lib, x: (lib.nn.functional.max_pool2d(x, 2),
                              lib.nn.functional.avg_pool2d(x, 2)), [(1, 2, 4, 4)], ()),
    "unfold": (lambda lib, x: lib.nn.functional.unfold(x, 2), [(1, 2, 4, 4)], ()),
    "fold": (lambda lib, x: lib.nn.functional.fold(x, (4, 4), 2), [(1, 8, 9)], ()),
    # promote to the widest input dtype
    "cat_stack": (lambda lib, a, b: (lib.cat([a, b]), lib.stack([a, b])), [(3,), (3,)], (1,)),
    "index_copy": (lambda lib, a, b: a.index_copy(0, lib.tensor([0, 2]), b),
                   [(3, 2), (2, 2)], (1,)),
    "add_mul_where": (lambda lib, a, b: (a + b, a * b, lib.where(a > 0, a, b)),
                      [(3,), (3,)], (1,)),
}

# Ops whose lower-precision results torch computes with wider internal accumulation than ember
# (or vice versa): compared with a looser tolerance. Everything else uses the oracle's bf16/fp16
# tolerance (5e-2 / 2e-2 relative).
LOOSE = {"prod", "exp_log_pow", "sum_mean_cumsum"}


def _cases():
    for name, (_, _, mixed) in OPS.items():
        for low in LOW:
            variants = [("f32", ()), ("low", "all")] + ([("mixed", mixed)] if mixed else [])
            for kind, cast in variants:
                yield pytest.param(name, low, cast, id=f"{name}-{low}-{kind}")


def _is_float_input(spec) -> bool:
    return not callable(spec) or np.asarray(spec(np.random.default_rng(0))).dtype.kind == "f"


@pytest.mark.parametrize("name,low,cast", list(_cases()))
def test_op_under_autocast(name, low, cast):
    fn, inputs, _ = OPS[name]
    if cast == "all":
        cast = tuple(i for i, s in enumerate(inputs) if _is_float_input(s))
    tol = (2e-1, 2e-1) if name in LOOSE else (5e-2, 5e-2)
    case = Case(fn=_region(fn, low, cast), inputs=inputs, dtypes=("float32",), tol=tol,
                gradcheck=False, non_contiguous=False, name=name)
    check(case, "float32")


def test_float64_and_integer_inputs_are_not_cast():
    for lib_name in ("ember", "torch"):
        lib = __import__(lib_name)
        with lib.autocast("cpu"):
            a = lib.ones(2, 2, dtype=lib.float64)
            assert lib.mm(a, a).dtype == lib.float64
            i = lib.ones(2, 2, dtype=lib.int64)
            assert lib.mm(i, i).dtype == lib.int64


def test_explicit_casts_inside_region_follow_the_op():
    import torch
    for lib in (ember, torch):
        x = lib.ones(2, 3)
        w = lib.ones(4, 3)
        with lib.autocast("cpu", dtype=lib.bfloat16):
            y = lib.nn.functional.linear(x, w)
            z = y.float() @ w.float()  # matmul still autocasts: back to bfloat16
        assert y.dtype == lib.bfloat16 and z.dtype == lib.bfloat16
