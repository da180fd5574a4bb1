"""GELU (exact erf form and the tanh approximation): forward and backward elementwise kernels.

``gelu`` is an ``ember.autograd.Function`` rather than a registry primitive: only CUDA arrays
take it (the CPU keeps the composite of ember ops), and a Function is traced by ember.jit as
one node without joining the primitive registry.
"""
from __future__ import annotations

import math

from ...autograd import Function
from ...ops import registry as _reg
from ._common import arg, contiguous, cupy, i64, kernel, launch_flat, tag

_SRC = r"""
#define K_SQRT1_2 0.70710678118654752440f
#define K_INV_SQRT_2PI 0.39894228040143267794f
#define K_SQRT_2_PI 0.79788456080286535588f
#define K_A 0.044715f

extern "C" __global__ void gelu_fwd(const X_t* __restrict__ x, Y_t* __restrict__ y,
                                    const i64 n) {
    FLAT_CHUNKS(i0, n) {
        float v[UNROLL];
        FLAT_CHUNK(u, i, i0) v[u] = i < n ? LD_X(x, i) : 0.f;
        FLAT_CHUNK(u, i, i0) {
            if (i >= n) continue;
#if TANH
            const float t = tanhf(K_SQRT_2_PI * (v[u] + K_A * v[u] * v[u] * v[u]));
            ST_Y(y, i, 0.5f * v[u] * (1.f + t));
#else
            ST_Y(y, i, 0.5f * v[u] * (1.f + erff(v[u] * K_SQRT1_2)));
#endif
        }
    }
}

extern "C" __global__ void gelu_bwd(const X_t* __restrict__ x, const G_t* __restrict__ g,
                                    Y_t* __restrict__ gx, const i64 n) {
    FLAT_CHUNKS(i0, n) {
        float v[UNROLL], gv[UNROLL];
        FLAT_CHUNK(u, i, i0) {
            v[u] = i < n ? LD_X(x, i) : 0.f;
            gv[u] = i < n ? LD_G(g, i) : 0.f;
        }
        FLAT_CHUNK(u, i, i0) {
            if (i >= n) continue;
            const float xv = v[u];
#if TANH
            const float x2 = xv * xv;
            const float th = tanhf(K_SQRT_2_PI * (xv + K_A * x2 * xv));
            const float d = 0.5f * (1.f + th)
                            + 0.5f * xv * (1.f - th * th) * K_SQRT_2_PI * (1.f + 3.f * K_A * x2);
#else
            const float d = 0.5f * (1.f + erff(xv * K_SQRT1_2))
                            + xv * K_INV_SQRT_2PI * expf(-0.5f * xv * xv);
#endif
            ST_Y(gx, i, gv[u] * d);
        }
    }
}
"""


def forward(x, approximate: str):
    """gelu of a CuPy array, in its dtype."""
    cp = cupy()
    x = contiguous(x)
    y = cp.empty(x.shape, dtype=x.dtype)
    k = kernel("gelu_fwd", _SRC, {"X": tag(x), "Y": tag(y), "G": tag(x)},
               TANH=int(approximate == "tanh"))
    launch_flat(k, x.size, (arg(x), arg(y), i64(x.size)))
    return y


def backward(x, g, approximate: str):
    """``g * gelu'(x)``, in ``x``'s dtype."""
    cp = cupy()
    x = contiguous(x)
    g = contiguous(g)
    gx = cp.empty(x.shape, dtype=x.dtype)
    k = kernel("gelu_bwd", _SRC, {"X": tag(x), "Y": tag(gx), "G": tag(g)},
               TANH=int(approximate == "tanh"))
    launch_flat(k, x.size, (arg(x), arg(g), arg(gx), i64(x.size)))
    return gx


def composite(x, approximate: str):
    """gelu written with ember ops (differentiable to any order): what the CPU runs."""
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * 0.5 * (inner.tanh() + 1)
    return x * 0.5 * ((x * (1.0 / math.sqrt(2.0))).erf() + 1)


class Gelu(Function):
    """gelu on CUDA through the kernels; ``grad_fn`` prints as ``GeluBackward``."""

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return _reg.make_tensor(forward(x._data, approximate), x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if _reg.GRAD_MODE.enabled:
            # A graph is being recorded (double backward): differentiate the composite.
            from ...nn._ops import _composite_grad
            return _composite_grad(lambda x_: composite(x_, ctx.approximate), (x,), (True,),
                                   g)[0], None
        if tag(g._data) is None:
            g = g.to(x.dtype)
        gx = backward(x._data, g._data, ctx.approximate)
        return _reg.make_tensor(gx, x._dtype, x._device), None


def gelu(x, approximate: str):
    """gelu of a CUDA Tensor through the kernels (the caller checked ``available``)."""
    return Gelu.apply(x, approximate)
