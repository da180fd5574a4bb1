"""FFT primitives: complex-to-complex, real-to-complex and complex-to-real transforms.

Each runs through ``self.xp.fft`` (NumPy's pocketfft or cuFFT through CuPy) over a list of dims.
Gradients follow torch's convention for real losses (``dL/dRe + i dL/dIm``): a complex-linear
transform's gradient is its adjoint, which is the opposite-direction transform with the
normalisation swapped ("backward" <-> "forward"); the size padding/truncation of ``s`` turns into
the opposite truncation/padding. Backwards call these same primitives, so they differentiate
again.
"""
from __future__ import annotations

from ..ops.registry import Primitive, register

# Adjoint normalisation: the unnormalised direction's adjoint is the 1/n one and vice versa.
_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _resize(t, dims, sizes):
    """Zero-pad or truncate tensor ``t`` (an ember Tensor) along ``dims`` to ``sizes``."""
    import ember
    for d, n in zip(dims, sizes):
        cur = t.shape[d]
        if cur > n:
            t = t.narrow(d, 0, n)
        elif cur < n:
            pad_shape = list(t.shape)
            pad_shape[d] = n - cur
            t = ember.cat([t, ember.zeros(pad_shape, dtype=t.dtype, device=t.device)], d)
    return t


def _real_part(t):
    from .._complex import Real
    return Real.apply(t)


@register("fft_c2c")
class FftC2C(Primitive):
    """``fftn``/``ifftn`` over ``dims`` with output sizes ``s`` (real input promotes)."""

    def forward(self, a, s, dims, norm, inverse):
        self.in_shape = a.shape
        self.in_real = a.dtype.kind != "c"
        self.args = (s, dims, norm, inverse)
        f = self.xp.fft.ifftn if inverse else self.xp.fft.fftn
        return f(a, s=s, axes=dims, norm=norm)

    def backward(self, g):
        s, dims, norm, inverse = self.args
        gi = FftC2C.apply(g, s=s, dims=dims, norm=_SWAP[norm], inverse=not inverse)
        gi = _resize(gi, dims, [self.in_shape[d] for d in dims])
        return _real_part(gi) if self.in_real else gi


@register("fft_r2c")
class FftR2C(Primitive):
    """``rfftn`` over ``dims`` (the last one keeps ``s[-1] // 2 + 1`` bins)."""

    def forward(self, a, s, dims, norm):
        self.in_shape = a.shape
        self.args = (s, dims, norm)
        return self.xp.fft.rfftn(a, s=s, axes=dims, norm=norm)

    def backward(self, g):
        s, dims, norm = self.args
        # rfftn keeps the first bins of the full fftn: its adjoint zero-fills the dropped ones
        # and runs the full inverse; the input was real, so only the real part is a gradient.
        full = _resize(g, dims[-1:], s[-1:])
        gi = FftC2C.apply(full, s=s, dims=dims, norm=_SWAP[norm], inverse=True)
        return _real_part(_resize(gi, dims, [self.in_shape[d] for d in dims]))


@register("fft_c2r")
class FftC2R(Primitive):
    """``irfftn`` over ``dims`` to real output sizes ``s`` (the last dim's input is the
    Hermitian half)."""

    def forward(self, a, s, dims, norm):
        self.in_shape = a.shape
        self.args = (s, dims, norm)
        return self.xp.fft.irfftn(a, s=s, axes=dims, norm=norm)

    def backward(self, g):
        import ember
        s, dims, norm = self.args
        n = s[-1]
        gi = FftR2C.apply(g, s=s, dims=dims, norm=_SWAP[norm])
        # Each bin strictly between 0 and Nyquist stands for itself and its mirrored conjugate
        # in the output, so it gets both contributions: twice the r2c adjoint. The imaginary
        # parts of bin 0 (and of the Nyquist bin for even n) are ignored by the forward and get
        # zero gradient, which the r2c of a real signal already gives them.
        m = n // 2 + 1
        scale = ember.full((m,), 2.0, dtype=g.dtype, device=g.device)
        scale[0] = 1.0
        if n % 2 == 0:
            scale[m - 1] = 1.0
        d = dims[-1] % gi.dim()
        scale = scale.reshape((m,) + (1,) * (gi.dim() - 1 - d))
        gi = gi * scale
        return _resize(gi, dims, [self.in_shape[d] for d in dims])
