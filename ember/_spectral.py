"""Window functions and the short-time Fourier transform (torch.stft / torch.istft).

Windows are computed in float64 with ember ops on the requested device and then cast, so they
need no host-to-device copy. stft frames the (padded) signal by gathering indices and runs the
``ember.fft`` primitives over each frame; istft inverts each frame and overlap-adds with
``index_add``, dividing by the summed squared window.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional

from .backend import dtypes as _dt
from .tensor import Tensor

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window", "stft", "istft"]


def _window(name: str, window_length: int, periodic: bool, dtype, device, requires_grad, fn):
    """Shared frame of the windows: checks, the 0/1-length cases, periodic extension."""
    import ember
    dtype = dtype or _dt.get_default_dtype()
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={window_length}")
    if window_length <= 1:
        w = ember.ones(window_length, dtype=dtype, device=device)
    else:
        # A periodic window is the symmetric one of length N + 1 without its last sample.
        big_n = window_length + 1 if periodic else window_length
        n = ember.arange(window_length, dtype=_dt.float64, device=device)
        w = fn(n, big_n).to(dtype)
    return w.requires_grad_(True) if requires_grad else w


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, *, dtype=None, layout=None, device=None,
                   requires_grad: bool = False) -> Tensor:
    """``alpha - beta * cos(2 pi n / (N - 1))``."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: alpha - beta * (n * (2 * math.pi / (N - 1))).cos())


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                device=None, requires_grad: bool = False) -> Tensor:
    """``0.5 - 0.5 * cos(2 pi n / (N - 1))``."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: 0.5 - 0.5 * (n * (2 * math.pi / (N - 1))).cos())


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, requires_grad: bool = False) -> Tensor:
    """``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``."""
    def fn(n, N):
        t = n * (2 * math.pi / (N - 1))
        return 0.42 - 0.5 * t.cos() + 0.08 * (2 * t).cos()
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad, fn)


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, requires_grad: bool = False) -> Tensor:
    """The triangular window ``1 - |2 n / (N - 1) - 1|``."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: 1 - (n * (2.0 / (N - 1)) - 1).abs())


def _i0(x: Tensor, top: float) -> Tensor:
    """Modified Bessel function I0 by its power series (float64; x >= 0 of window size).

    The terms (x/2)^2k / (k!)^2 peak near k = x/2 and then shrink faster than geometrically, so
    top + 40 terms (``top`` bounding x) reach float64 precision for any finite I0."""
    q = (x * 0.5) ** 2
    term = x * 0 + 1
    total = term
    for k in range(1, int(top) + 40):
        term = term * q / (k * k)
        total = total + term
    return total


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype=None,
                  layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """``I0(beta sqrt(1 - ((n - a) / a)^2)) / I0(beta)`` with ``a = (N - 1) / 2``."""
    import ember

    def fn(n, N):
        a = (N - 1) / 2.0
        r = (1 - ((n - a) / a) ** 2).clamp(min=0)
        arg = beta * r.sqrt()
        ref = ember.full((1,), float(beta), dtype=_dt.float64, device=n.device)
        # One series for the samples and I0(beta) (the largest argument): the same term count.
        both = _i0(ember.cat([arg, ref]), abs(float(beta)))
        return both[:-1] / both[-1]
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, fn)


def _full_window(window: Optional[Tensor], n_fft: int, win_length: int, like: Tensor, who: str):
    """The window padded (centred) to n_fft samples; a rectangular one when None."""
    import ember
    if window is None:
        return None
    if window.dim() != 1 or window.shape[0] != win_length:
        raise RuntimeError(f"{who}: expected a 1D window tensor of size equal to win_length="
                           f"{win_length}, but got window with size {list(window.shape)}")
    if window.device != like.device:
        raise RuntimeError(f"{who}: window must be on the same device as the input")
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        z = ember.zeros(n_fft, dtype=window.dtype, device=window.device)
        window = ember.cat([z[:left], window, z[left + win_length:]])
    return window


def _pad_ends(x: Tensor, p: int, mode: str) -> Tensor:
    """Pad the last dim by ``p`` on both ends as F.pad's 1-d modes do (kept here so that stft
    needs nothing from ember.nn)."""
    import ember
    n = x.shape[-1]
    if mode == "constant":
        z = ember.zeros(x.shape[:-1] + (p,), dtype=x.dtype, device=x.device)
        left = right = z
    elif mode == "reflect":
        if p >= n:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({p}, {p}) at dimension 1 of "
                               f"input {list(x.shape)}")
        left, right = x[..., 1:p + 1].flip(-1), x[..., n - p - 1:n - 1].flip(-1)
    elif mode == "replicate":
        shape = x.shape[:-1] + (p,)
        left, right = x[..., :1].expand(shape), x[..., n - 1:].expand(shape)
    elif mode == "circular":
        if p > n:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        left, right = x[..., n - p:], x[..., :p]
    else:
        raise NotImplementedError(f"stft: unsupported pad_mode {mode!r}")
    return ember.cat([left, x, right], -1)


def _frame_index(n_frames: int, n_fft: int, hop: int, device) -> Tensor:
    import ember
    starts = ember.arange(n_frames, dtype=_dt.int64, device=device) * hop
    offs = ember.arange(n_fft, dtype=_dt.int64, device=device)
    return (starts.reshape(-1, 1) + offs.reshape(1, -1)).reshape(-1)


def _lengths(n_fft: int, hop_length, win_length, who: str):
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if n_fft <= 0:
        raise RuntimeError(f"{who}: expected 0 < n_fft, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(f"{who}: expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win <= n_fft:
        raise RuntimeError(f"{who}: expected 0 < win_length <= n_fft, but got "
                           f"win_length={win}")
    return hop, win


def stft(input: Tensor, n_fft: int, hop_length: Optional[int] = None,
         win_length: Optional[int] = None, window: Optional[Tensor] = None, center: bool = True,
         pad_mode: str = "reflect", normalized: bool = False, onesided: Optional[bool] = None,
         return_complex: Optional[bool] = None) -> Tensor:
    """Short-time Fourier transform: (B?, freq, frames) complex bins of windowed frames."""
    import ember
    from . import fft as _fft
    complex_in = input.is_complex() or (window is not None and window.is_complex())
    if return_complex is None:
        if not complex_in:
            raise RuntimeError(
                "stft requires the return_complex parameter be given for real inputs, and will "
                "further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    if not return_complex:
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch "
                      "release, stft will return complex tensors for all inputs, and "
                      "return_complex=False will raise an error.", UserWarning, stacklevel=2)
    if input.dim() not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {input.dim()}D tensor")
    hop, win = _lengths(n_fft, hop_length, win_length, "stft")
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied, which "
                      "is known to cause spectral leakage.", UserWarning, stacklevel=2)
    window = _full_window(window, n_fft, win, input, "stft")
    x = input if input.dim() == 2 else input.unsqueeze(0)
    if center:
        p = n_fft // 2
        x = _pad_ends(x, p, pad_mode) if p else x
    length = x.shape[-1]
    if not 0 < n_fft <= length:
        raise RuntimeError(f"stft: expected 0 < n_fft <= {length}, but got n_fft={n_fft}")
    n_frames = 1 + (length - n_fft) // hop
    idx = _frame_index(n_frames, n_fft, hop, x.device)
    frames = x.index_select(-1, idx).reshape(x.shape[0], n_frames, n_fft)
    if window is not None:
        frames = frames * window
    if onesided is None:
        onesided = not complex_in
    if onesided and complex_in:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    norm = "ortho" if normalized else "backward"
    spec = _fft.rfft(frames, norm=norm) if onesided else _fft.fft(frames, norm=norm)
    spec = spec.transpose(-1, -2)
    if input.dim() == 1:
        spec = spec.squeeze(0)
    return spec if return_complex else ember.view_as_real(spec)


def istft(input: Tensor, n_fft: int, hop_length: Optional[int] = None,
          win_length: Optional[int] = None, window: Optional[Tensor] = None, center: bool = True,
          normalized: bool = False, onesided: Optional[bool] = None,
          length: Optional[int] = None, return_complex: bool = False) -> Tensor:
    """Inverse of stft by windowed overlap-add (divided by the summed squared window)."""
    import ember
    from . import fft as _fft
    from .backend.device import host_checks_allowed
    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output "
                           "from stft with return_complex=True.")
    if input.dim() not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex "
                           f"values, but got {input.dim()}D")
    hop, win = _lengths(n_fft, hop_length, win_length, "istft")
    n_freq, n_frames = input.shape[-2], input.shape[-1]
    if onesided is None:
        onesided = n_freq != n_fft
    if onesided and n_freq != n_fft // 2 + 1:
        raise RuntimeError("istft: expected the frequency dimension (3rd to the last) of the "
                           "input tensor to match n_fft / 2 + 1 when onesided=True, but got "
                           f"{n_freq}")
    if not onesided and n_freq != n_fft:
        raise RuntimeError("istft: expected the frequency dimension (3rd to the last) of the "
                           "input tensor to match n_fft when onesided=False, but got "
                           f"{n_freq}")
    if return_complex and onesided:
        raise RuntimeError("cannot have onesided output if window or input is complex")
    window = _full_window(window, n_fft, win, input, "istft")
    if window is None:
        window = ember.ones(n_fft, dtype=input.real.dtype, device=input.device)
    x = input if input.dim() == 3 else input.unsqueeze(0)
    x = x.transpose(-1, -2)  # (B, frames, freq)
    norm = "ortho" if normalized else "backward"
    if return_complex:
        frames = _fft.ifft(x, n_fft, norm=norm)
    else:
        if window.is_complex():
            raise RuntimeError("Complex windowed irfft requires return_complex=True")
        if not onesided:
            # A real output uses only the Hermitian half of a two-sided spectrum.
            x = x.narrow(-1, 0, n_fft // 2 + 1)
        frames = _fft.irfft(x, n_fft, norm=norm)
    frames = frames * window
    total = n_fft + hop * (n_frames - 1)
    idx = _frame_index(n_frames, n_fft, hop, x.device)
    batch = x.shape[0]
    y = ember.zeros((batch, total), dtype=frames.dtype, device=x.device)
    y = y.index_add(-1, idx, frames.reshape(batch, -1))
    w2 = (window * window.conj()).real if window.is_complex() else window * window
    env = ember.zeros(total, dtype=w2.dtype, device=x.device)
    env = env.index_add(0, idx, w2.expand(n_frames, n_fft).reshape(-1))
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + length
    else:
        end = total - n_fft // 2 if center else total
    stop = min(end, total)
    y = y[:, start:stop]
    env = env[start:stop]
    if host_checks_allowed() and env.numel() and float(env.abs().min()) < 1e-11:
        raise RuntimeError(f"istft(...): window overlap add min: {float(env.abs().min())}")
    y = y / env
    if end > total:
        y = ember.cat([y, ember.zeros((batch, end - total), dtype=y.dtype, device=y.device)], -1)
    if input.dim() == 2:
        y = y.squeeze(0)
    return y
