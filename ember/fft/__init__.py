"""torch.fft: discrete Fourier transforms, their frequencies and shifts.

Transforms run as the registered primitives of ``ember.fft._prims``; real inputs of the complex
transforms promote (float32 -> complex64, float64 -> complex128, integers through the default
float dtype), as torch does.
"""
from __future__ import annotations

from typing import Optional, Sequence

from ..backend import dtypes as _dt
from ..tensor import Tensor
from ._prims import _SWAP, FftC2C, FftC2R, FftR2C

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
           "hfft2", "ihfft2", "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn", "fftfreq",
           "rfftfreq", "fftshift", "ifftshift"]

_DIM = Optional[Sequence[int]]
_S = Optional[Sequence[int]]
_TORCH_NAME = {"float16": "Half", "bfloat16": "BFloat16", "complex64": "ComplexFloat",
               "complex128": "ComplexDouble"}


def _norm(norm: Optional[str]) -> str:
    if norm is None:
        return "backward"
    if norm not in _SWAP:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm


def _float_input(x: Tensor, real_only: str = "") -> Tensor:
    """The input as a float32/64 or complex64/128 tensor, with torch's errors."""
    d = x.dtype
    if real_only and d.is_complex:
        raise RuntimeError(f"{real_only} expects a real input tensor, but got "
                           f"{_TORCH_NAME[d.name]}")
    if d in (_dt.float16, _dt.bfloat16):
        # torch has half-precision FFTs only on CUDA (complex32, which ember lacks).
        raise RuntimeError(f"Unsupported dtype {_TORCH_NAME[d.name]}")
    if not (d.is_complex or d.is_floating_point):
        return x.to(_dt.get_default_dtype())
    return x


def _to_complex(x: Tensor) -> Tensor:
    if x.is_complex():
        return x
    from .._complex import Complex
    import ember
    return Complex.apply(x, ember.zeros(x.shape, dtype=x.dtype, device=x.device))


def _wrap_dim(d: int, ndim: int) -> int:
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    if not lo <= d <= hi:
        raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], "
                         f"but got {d})")
    return d % max(ndim, 1)


def _check_n(n: int) -> None:
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")


def _dims_and_sizes(x: Tensor, s: _S, dim, sizes_of=None):
    """Resolve (s, dim) as torch's n-dimensional transforms do: ``sizes_of(d)`` gives the
    default size of dim ``d`` (the input's size, or the c2r output size)."""
    ndim = x.dim()
    if isinstance(dim, int):
        dim = (dim,)
    if s is not None:
        s = list(s)
        if dim is None:
            if len(s) > ndim:
                raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has "
                                   f"{ndim} dimensions.")
            dim = tuple(range(ndim - len(s), ndim))
        elif len(s) != len(dim):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    dims = [_wrap_dim(d, ndim) for d in (range(ndim) if dim is None else dim)]
    if len(set(dims)) != len(dims):
        raise RuntimeError("FFT dims must be unique")
    default = sizes_of or (lambda d, last: x.shape[d])
    if s is None:
        sizes = [default(d, i == len(dims) - 1) for i, d in enumerate(dims)]
    else:
        sizes = [default(d, i == len(dims) - 1) if n == -1 else int(n)
                 for i, (d, n) in enumerate(zip(dims, s))]
    for n in sizes:
        _check_n(n)
    return tuple(sizes), tuple(dims)


def _one(n: Optional[int], dim: int):
    return (None if n is None else (n,)), (dim,)


def _out(out: Optional[Tensor], res: Tensor) -> Tensor:
    if out is None:
        return res
    if tuple(out.shape) != tuple(res.shape):
        out.resize_(res.shape)
    out.copy_(res)
    return out


# ---- complex-to-complex -------------------------------------------------------------------

def fftn(input: Tensor, s: _S = None, dim: _DIM = None, norm: Optional[str] = None, *,
         out: Optional[Tensor] = None) -> Tensor:
    """N-dimensional discrete Fourier transform."""
    x = _float_input(input)
    s, dims = _dims_and_sizes(x, s, dim)
    if not dims:
        return _out(out, _to_complex(x))
    return _out(out, FftC2C.apply(x, s=s, dims=dims, norm=_norm(norm), inverse=False))


def ifftn(input: Tensor, s: _S = None, dim: _DIM = None, norm: Optional[str] = None, *,
          out: Optional[Tensor] = None) -> Tensor:
    """N-dimensional inverse discrete Fourier transform."""
    x = _float_input(input)
    s, dims = _dims_and_sizes(x, s, dim)
    if not dims:
        return _out(out, _to_complex(x))
    return _out(out, FftC2C.apply(x, s=s, dims=dims, norm=_norm(norm), inverse=True))


def fft(input: Tensor, n: Optional[int] = None, dim: int = -1, norm: Optional[str] = None, *,
        out: Optional[Tensor] = None) -> Tensor:
    """One-dimensional discrete Fourier transform."""
    return fftn(input, *_one(n, dim), norm, out=out)


def ifft(input: Tensor, n: Optional[int] = None, dim: int = -1, norm: Optional[str] = None, *,
         out: Optional[Tensor] = None) -> Tensor:
    return ifftn(input, *_one(n, dim), norm, out=out)


def fft2(input: Tensor, s: _S = None, dim: Sequence[int] = (-2, -1),
         norm: Optional[str] = None, *, out: Optional[Tensor] = None) -> Tensor:
    return fftn(input, s, dim, norm, out=out)


def ifft2(input: Tensor, s: _S = None, dim: Sequence[int] = (-2, -1),
          norm: Optional[str] = None, *, out: Optional[Tensor] = None) -> Tensor:
    return ifftn(input, s, dim, norm, out=out)


# ---- real-to-complex / complex-to-real ----------------------------------------------------

def _rfftn(input: Tensor, s, dim, norm, who: str) -> Tensor:
    x = _float_input(input, real_only=who)
    s, dims = _dims_and_sizes(x, s, dim)
    if not dims:
        raise RuntimeError("rfftn must transform at least one axis")
    return FftR2C.apply(x, s=s, dims=dims, norm=_norm(norm))


def _irfftn(input: Tensor, s, dim, norm) -> Tensor:
    x = _to_complex(_float_input(input))

    def default(d, last):
        return 2 * (x.shape[d] - 1) if last else x.shape[d]
    s, dims = _dims_and_sizes(x, s, dim, default)
    if not dims:
        raise RuntimeError("irfftn must transform at least one axis")
    return FftC2R.apply(x, s=s, dims=dims, norm=_norm(norm))


def rfftn(input: Tensor, s: _S = None, dim: _DIM = None, norm: Optional[str] = None, *,
          out: Optional[Tensor] = None) -> Tensor:
    """N-dimensional FFT of a real input; the last transformed dim keeps n // 2 + 1 bins."""
    return _out(out, _rfftn(input, s, dim, norm, "rfftn"))


def irfftn(input: Tensor, s: _S = None, dim: _DIM = None, norm: Optional[str] = None, *,
           out: Optional[Tensor] = None) -> Tensor:
    """Inverse of rfftn: a real output (the last dim's default length is 2 * (m - 1))."""
    return _out(out, _irfftn(input, s, dim, norm))


def rfft(input: Tensor, n: Optional[int] = None, dim: int = -1, norm: Optional[str] = None, *,
         out: Optional[Tensor] = None) -> Tensor:
    return _out(out, _rfftn(input, *_one(n, dim), norm, "rfft"))


def irfft(input: Tensor, n: Optional[int] = None, dim: int = -1, norm: Optional[str] = None, *,
          out: Optional[Tensor] = None) -> Tensor:
    return _out(out, _irfftn(input, *_one(n, dim), norm))


def rfft2(input: Tensor, s: _S = None, dim: Sequence[int] = (-2, -1),
          norm: Optional[str] = None, *, out: Optional[Tensor] = None) -> Tensor:
    return _out(out, _rfftn(input, s, dim, norm, "rfftn"))


def irfft2(input: Tensor, s: _S = None, dim: Sequence[int] = (-2, -1),
           norm: Optional[str] = None, *, out: Optional[Tensor] = None) -> Tensor:
    return _out(out, _irfftn(input, s, dim, norm))


# ---- Hermitian-input transforms -----------------------------------------------------------
# hfft of a Hermitian-symmetric signal's half is the c2r transform of its conjugate with the
# opposite normalisation; ihfft is the conjugate of the real-input transform.

def hfftn(input: Tensor, s: _S = None, dim: _DIM = None, norm: Optional[str] = None, *,
          out: Optional[Tensor] = None) -> Tensor:
    from .._complex import conj
    x = _to_complex(_float_input(input))
    return _out(out, _irfftn(conj(x), s, dim, _SWAP[_norm(norm)]))


def ihfftn(input: Tensor, s: _S = None, dim: _DIM = None, norm: Optional[str] = None, *,
           out: Optional[Tensor] = None) -> Tensor:
    from .._complex import conj
    return _out(out, conj(_rfftn(input, s, dim, _SWAP[_norm(norm)], "ihfftn")))


def hfft(input: Tensor, n: Optional[int] = None, dim: int = -1, norm: Optional[str] = None, *,
         out: Optional[Tensor] = None) -> Tensor:
    return hfftn(input, *_one(n, dim), norm, out=out)


def ihfft(input: Tensor, n: Optional[int] = None, dim: int = -1, norm: Optional[str] = None, *,
          out: Optional[Tensor] = None) -> Tensor:
    from .._complex import conj
    return _out(out, conj(_rfftn(input, *_one(n, dim), _SWAP[_norm(norm)], "ihfft")))


def hfft2(input: Tensor, s: _S = None, dim: Sequence[int] = (-2, -1),
          norm: Optional[str] = None, *, out: Optional[Tensor] = None) -> Tensor:
    return hfftn(input, s, dim, norm, out=out)


def ihfft2(input: Tensor, s: _S = None, dim: Sequence[int] = (-2, -1),
           norm: Optional[str] = None, *, out: Optional[Tensor] = None) -> Tensor:
    return ihfftn(input, s, dim, norm, out=out)


# ---- frequencies and shifts ---------------------------------------------------------------

def _freq(n: int, d: float, count: int, wrap: bool, dtype, device, requires_grad) -> Tensor:
    import ember
    dtype = dtype or _dt.get_default_dtype()
    k = ember.arange(count, dtype=_dt.int64, device=device)
    if wrap:
        # Bins past the middle stand for negative frequencies.
        k = ember.where(k < (n + 1) // 2, k, k - n)
    res = k.to(dtype) * (1.0 / (n * d))
    return res.requires_grad_(True) if requires_grad else res


def fftfreq(n: int, d: float = 1.0, *, out: Optional[Tensor] = None, dtype=None, layout=None,
            device=None, requires_grad: bool = False) -> Tensor:
    """Sample frequencies of an n-point fft: [0, 1, ..., -(n // 2), ..., -1] / (d * n)."""
    return _out(out, _freq(n, d, n, True, dtype, device, requires_grad))


def rfftfreq(n: int, d: float = 1.0, *, out: Optional[Tensor] = None, dtype=None, layout=None,
             device=None, requires_grad: bool = False) -> Tensor:
    """Sample frequencies of an n-point rfft: [0, 1, ..., n // 2] / (d * n)."""
    return _out(out, _freq(n, d, n // 2 + 1, False, dtype, device, requires_grad))


def _shift(input: Tensor, dim, inverse: bool) -> Tensor:
    import ember
    if dim is None:
        dim = tuple(range(input.dim()))
    elif isinstance(dim, int):
        dim = (dim,)
    if not dim:
        raise RuntimeError("`shifts` required")
    dim = tuple(_wrap_dim(d, input.dim()) for d in dim)
    shifts = tuple((input.shape[d] + 1) // 2 if inverse else input.shape[d] // 2 for d in dim)
    return ember.roll(input, shifts, dim)


def fftshift(input: Tensor, dim: _DIM = None) -> Tensor:
    """Move the zero-frequency bin to the centre (roll by n // 2 along each dim)."""
    return _shift(input, dim, False)


def ifftshift(input: Tensor, dim: _DIM = None) -> Tensor:
    """Undo fftshift (roll by -(n // 2), i.e. by (n + 1) // 2)."""
    return _shift(input, dim, True)
