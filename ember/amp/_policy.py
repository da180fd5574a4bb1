"""Autocast op policies: which ops run in the lower precision, which in float32, which promote.

The tables mirror torch's documented lists (docs page "Automatic Mixed Precision package -
torch.amp", sections "CUDA Op-Specific Behavior" and "CPU Op-Specific Behavior"), restricted to
ops ember has, keyed by the name ember uses for the op: a primitive's registry name
(``Primitive.op_name``, or its ``autocast_name`` attribute where set) or the name a composite
function is decorated with (``autocast_op`` in :mod:`ember.amp.autocast_mode`).

Categories:

- ``"lower"``: floating inputs (not float64) are cast to the autocast dtype.
- ``"fp32"``: floating inputs (not float64) are cast to float32.
- ``"promote"``: floating inputs are cast to the widest floating dtype among them.
- ``"off"``: the op is not autocast, and neither are the primitives a composite is built from
  (torch computes it as one kernel that autocast does not touch; ember composes it from ops
  that autocast would otherwise cast, e.g. ``dot`` from ``matmul``).
- ``"banned"``: calling the op inside an autocast region raises (binary_cross_entropy on CUDA).

A table value may also be a function ``(args, kwargs) -> category or None`` for ops whose torch
counterpart depends on the arguments (``1 / x`` but not ``x / y`` is float32 on CUDA; an einsum
reaches a batched matmul only when it contracts an index shared by two operands).
"""
from __future__ import annotations


def _einsum_contracts(args, kwargs):
    """torch's einsum reaches ``bmm`` (autocast to the lower dtype) only when some index that is
    summed away appears in two operands; otherwise it is a product/sum, which stays in float32."""
    eq = kwargs.get("equation")
    if not isinstance(eq, str) or len(args) < 2:
        return None
    eq = eq.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs = eq
        # Implicit output: the indices that occur exactly once, in alphabetical order.
        rhs = "".join(sorted(c for c in set(lhs) if c.isalpha() and lhs.count(c) == 1))
    terms = lhs.split(",")
    for c in set(lhs):
        if c.isalpha() and c not in rhs and sum(c in t for t in terms) >= 2:
            return "lower"
    return None


def _rdiv(args, kwargs):
    # torch lists __rdiv__/__rtruediv__ (scalar / tensor), not tensor / tensor.
    from ..ops import registry
    return "fp32" if args and not isinstance(args[0], registry.Tensor) else None


# Ops that are matmuls or convolutions in ember's composition on every device.
_LOWER_COMMON = ("matmul", "linear", "conv2d", "conv_transpose2d", "lstm_layer", "addmm",
                 "baddbmm", "addbmm", "prelu", "scaled_dot_product_attention")

# Losses torch runs in float32 on both devices (binary_cross_entropy differs: see below).
_FP32_LOSSES = ("cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss",
                "huber_loss", "binary_cross_entropy_with_logits", "kl_div",
                "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
                "hinge_embedding_loss", "soft_margin_loss", "poisson_nll_loss",
                "multi_margin_loss", "multilabel_margin_loss")

CPU: dict = {}
for _n in _LOWER_COMMON:
    CPU[_n] = "lower"
CPU["einsum"] = _einsum_contracts
for _n in _FP32_LOSSES + ("binary_cross_entropy", "prod", "cdist", "trace", "cholesky",
                          "inverse"):
    CPU[_n] = "fp32"
for _n in ("cat", "stack", "index_copy"):
    CPU[_n] = "promote"
# Not autocast on CPU, but composed from matmul/convolution in ember.
for _n in ("mv", "dot", "bilinear", "unfold", "fold"):
    CPU[_n] = "off"

CUDA: dict = {}
for _n in _LOWER_COMMON + ("mv", "addmv", "addr", "chain_matmul", "multi_dot"):
    CUDA[_n] = "lower"
CUDA["einsum"] = _einsum_contracts
for _n in _FP32_LOSSES + (
        "pow", "exp", "log", "log2", "log10", "log1p", "expm1", "acos", "asin", "cosh", "sinh",
        "tan", "reciprocal", "rsqrt", "erfinv", "softmax", "log_softmax", "softmin",
        "layer_norm", "group_norm", "sum", "prod", "cumsum", "cumprod", "norm", "cdist",
        "cosine_similarity", "normalize", "softplus", "dist", "pdist", "renorm"):
    CUDA[_n] = "fp32"
CUDA["div"] = _rdiv
for _n in ("addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "grid_sample",
           "index_put", "scatter_add", "tensordot", "cat", "stack", "index_copy"):
    CUDA[_n] = "promote"
CUDA["binary_cross_entropy"] = "banned"
for _n in ("unfold", "fold"):
    CUDA[_n] = "off"

POLICIES = {"cpu": CPU, "cuda": CUDA}

BANNED_MSG = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using "
    "torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast.")
