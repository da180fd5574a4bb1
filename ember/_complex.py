"""Complex-number helpers: real, imag, conj, angle, complex, polar, view_as_real/complex.

Gradients follow torch's convention for real losses: a complex input's gradient is
``dL/dRe + i dL/dIm``. ``conj`` copies (ember keeps no lazy conjugate bit, so ``is_conj`` is
always False); ``real``, ``imag``, ``view_as_real`` and ``view_as_complex`` share memory with
their input where the array layout allows, as torch's views do.
"""
from __future__ import annotations

from .backend import dtypes as _dt
from .ops.elementwise import sum_to
from .ops.registry import Primitive, register
from .tensor import Tensor

__all__ = ["real", "imag", "conj", "conj_physical", "resolve_conj", "resolve_neg", "is_conj",
           "angle", "complex", "polar", "view_as_real", "view_as_complex"]

_REAL_OF = {"complex64": _dt.float32, "complex128": _dt.float64}
_COMPLEX_OF = {"float32": _dt.complex64, "float64": _dt.complex128}


def _zeros(g):
    import ember
    return ember.zeros(g.shape, dtype=g.dtype, device=g.device)


@register("real")
class Real(Primitive):
    is_view = True

    def forward(self, a):
        return a.real

    def backward(self, g):
        return Complex.apply(g, _zeros(g))


@register("imag")
class Imag(Primitive):
    is_view = True

    def forward(self, a):
        return a.imag

    def backward(self, g):
        return Complex.apply(_zeros(g), g)


@register("conj_physical")
class ConjPhysical(Primitive):
    def forward(self, a):
        return self.xp.conj(a)

    def backward(self, g):
        return ConjPhysical.apply(g)


@register("complex")
class Complex(Primitive):
    def forward(self, re, im):
        self.shapes = (re.shape, im.shape)
        xp = self.xp
        out = xp.empty(xp.broadcast_shapes(re.shape, im.shape),
                       dtype=xp.result_type(re.dtype, xp.complex64))
        out.real = re
        out.imag = im
        return out

    def backward(self, g):
        sr, si = self.shapes
        gr = sum_to(Real.apply(g), sr) if self.needs_input_grad[0] else None
        gi = sum_to(Imag.apply(g), si) if self.needs_input_grad[1] else None
        return gr, gi


@register("view_as_real")
class ViewAsReal(Primitive):
    is_view = True

    def forward(self, a):
        xp = self.xp
        if a.ndim == 0:
            a = a.reshape(1)
            shape = (2,)
        else:
            shape = a.shape + (2,)
        if a.strides[-1] == a.itemsize:
            # Reinterpret each complex as its (re, im) pair: a view, as in torch.
            return a.view(_REAL_OF[a.dtype.name].np).reshape(shape)
        return xp.stack([a.real, a.imag], -1).reshape(shape)

    def backward(self, g):
        return ViewAsComplex.apply(g.contiguous())


@register("view_as_complex")
class ViewAsComplex(Primitive):
    is_view = True

    def forward(self, a):
        if a.strides[-1] == a.itemsize and all(s % (2 * a.itemsize) == 0
                                                 for s in a.strides[:-1]):
            return a.view(_COMPLEX_OF[a.dtype.name].np)[..., 0]
        return a[..., 0] + 1j * a[..., 1]

    def backward(self, g):
        return ViewAsReal.apply(g)


@register("angle")
class Angle(Primitive):
    def forward(self, a):
        self.save_for_backward(a)
        return self.xp.angle(a)

    def backward(self, g):
        import ember
        (a,) = self.saved_tensors
        if not a.is_complex():
            return ember.zeros(a.shape, dtype=g.dtype, device=g.device)
        x, y = Real.apply(a), Imag.apply(a)
        r2 = x * x + y * y
        zero = r2 == 0
        # d angle/dx = -y/r^2, d angle/dy = x/r^2; torch makes the gradient 0 at z = 0.
        r2 = ember.where(zero, ember.ones_like(r2), r2)
        return Complex.apply(ember.where(zero, _zeros(g), -g * y / r2),
                             ember.where(zero, _zeros(g), g * x / r2))


def real(input: Tensor) -> Tensor:
    """The real part (the tensor itself for a real tensor, as torch)."""
    return Real.apply(input) if input.is_complex() else input


def imag(input: Tensor) -> Tensor:
    if not input.is_complex():
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)


def conj_physical(input: Tensor) -> Tensor:
    return ConjPhysical.apply(input) if input.is_complex() else input


def conj(input: Tensor) -> Tensor:
    """The complex conjugate (materialised; the input itself for real tensors)."""
    return conj_physical(input)


def resolve_conj(input: Tensor) -> Tensor:
    return input


def resolve_neg(input: Tensor) -> Tensor:
    return input


def is_conj(input: Tensor) -> bool:
    return False


def _float_input(x: Tensor) -> Tensor:
    # Integer and bool inputs compute in the default float dtype, as torch's angle does.
    if x.is_complex() or x.is_floating_point():
        return x
    return x.to(_dt.get_default_dtype())


def angle(input: Tensor) -> Tensor:
    """Elementwise argument (radians): atan2(imag, real), and pi/0 for negative/other reals."""
    return Angle.apply(_float_input(input))


def _check_parts(real: Tensor, imag: Tensor, who: str) -> None:
    for t in (real, imag):
        if t.dtype not in (_dt.float32, _dt.float64, _dt.float16):
            raise RuntimeError("Expected both inputs to be Half, Float or Double tensors but "
                               f"got {real.dtype} and {imag.dtype}")
    if real.dtype is not imag.dtype:
        nm = {"float32": "Float", "float64": "Double", "float16": "Half"}
        raise RuntimeError(f"Expected object of scalar type {nm[real.dtype.name]} but got scalar "
                           f"type {nm[imag.dtype.name]} for second argument")
    if real.dtype is _dt.float16:
        raise RuntimeError(f"{who}: ember has no complex32 (ComplexHalf) dtype")


def complex(real: Tensor, imag: Tensor, *, out=None) -> Tensor:
    """A complex tensor from real and imaginary parts of one float dtype (broadcast)."""
    _check_parts(real, imag, "complex")
    res = Complex.apply(real, imag)
    return _into(out, res)


def polar(abs: Tensor, angle: Tensor, *, out=None) -> Tensor:
    """``abs * (cos(angle) + i sin(angle))``."""
    _check_parts(abs, angle, "polar")
    res = Complex.apply(abs * angle.cos(), abs * angle.sin())
    return _into(out, res)


def _into(out, res):
    if out is None:
        return res
    if tuple(out.shape) != tuple(res.shape):
        out.resize_(res.shape)
    out.copy_(res)
    return out


def view_as_real(input: Tensor) -> Tensor:
    if not input.is_complex():
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input: Tensor) -> Tensor:
    if input.dtype not in (_dt.float32, _dt.float64):
        raise RuntimeError("view_as_complex is only supported for float and double tensors, "
                           f"but got a tensor of scalar type: {input._type_name()}")
    if input.dim() == 0 or input.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if input.stride(-1) != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    return ViewAsComplex.apply(input)


# Tensor methods and properties (torch's .real/.imag are properties; assigning to them writes
# the part in place).
def _set_real(self, value) -> None:
    (real(self) if self.is_complex() else self).copy_(value)


def _set_imag(self, value) -> None:
    imag(self).copy_(value)


Tensor.real = property(real, _set_real)
Tensor.imag = property(imag, _set_imag)
Tensor.conj = conj
Tensor.conj_physical = conj_physical
Tensor.resolve_conj = resolve_conj
Tensor.resolve_neg = resolve_neg
Tensor.is_conj = is_conj
Tensor.angle = angle
