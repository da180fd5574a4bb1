"""Oracle cases for ember.nn._attention_ops (the fused ``sdpa_flash`` primitive).

torch runs ``F.scaled_dot_product_attention``; ember runs the primitive itself, so that the node
is checked on every device (on the CPU it computes the math that stands in for cuDNN).
"""
from __future__ import annotations

from oracle import Case


def _flash(**kw):
    def fn(lib, q, k, v):
        if lib.__name__ == "torch":
            return lib.nn.functional.scaled_dot_product_attention(q, k, v, **kw)
        from ember.nn._attention_ops import SdpaFlashOp
        return SdpaFlashOp.apply(q, k, v, **kw)
    return fn


def _torch_math(torch, q, k, v, is_causal=False, scale=None):
    # torch's CPU SDPA kernel has no double backward: spell its math out for the torch side.
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    s = (q * scale) @ k.transpose(-2, -1)
    if is_causal:
        keep = torch.ones(s.shape[-2:], dtype=torch.bool).tril(0)
        s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, -1) @ v


def _flash_gg(**kw):
    """Gradients of sum(out**2) w.r.t. q, k, v with a graph: the create_graph path."""
    def fn(lib, q, k, v):
        if lib.__name__ == "torch":
            out = _torch_math(lib, q, k, v, **kw)
        else:
            from ember.nn._attention_ops import SdpaFlashOp
            out = SdpaFlashOp.apply(q, k, v, **kw)
        return lib.autograd.grad((out * out).sum(), (q, k, v), create_graph=True)
    return fn


SPECS = {
    "sdpa_flash": [
        Case(_flash(), [(2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 4)], name="plain",
             dtypes=("float32", "float64", "float16", "bfloat16")),
        Case(_flash(is_causal=True), [(2, 2, 6, 8), (2, 2, 6, 8), (2, 2, 6, 8)],
             name="causal"),
        Case(_flash(is_causal=True, scale=0.3), [(1, 2, 4, 8), (1, 2, 6, 8), (1, 2, 6, 8)],
             name="causal-cross-scale"),
        Case(_flash(), [(3, 4, 6), (3, 5, 6), (3, 5, 2)], name="3d"),
        Case(_flash_gg(is_causal=True), [(1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8)],
             name="double-backward", dtypes=("float64",)),
    ],
}
