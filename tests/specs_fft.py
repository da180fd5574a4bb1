"""Oracle cases of the FFT and complex-helper primitives (run by tests/test_fft.py).

Every case ends in a real tensor (view_as_real, .real, .abs()) so that the oracle compares both
parts of complex results and projects gradients through a real loss."""
from __future__ import annotations

from oracle import Case


def _c(L, x, y):
    return L.complex(x, y)


def _vr(L, z):
    # torch returns some transforms of real inputs as lazy conjugates, which view_as_real refuses.
    return L.view_as_real(z.resolve_conj())


SPECS = {
    "fft_c2c": [
        Case(lambda L, x: _vr(L, L.fft.fft(x)), [(3, 5)]),
        Case(lambda L, x: _vr(L, L.fft.ifft(x, n=8, dim=0, norm="ortho")), [(5, 3)]),
        Case(lambda L, x, y: _vr(L, L.fft.fftn(_c(L, x, y), s=(4, 6), norm="forward")),
             [(3, 5), (3, 5)]),
        Case(lambda L, x, y: _vr(L, L.fft.ifft2(_c(L, x, y), s=(2, 7))),
             [(2, 3, 4), (2, 3, 4)]),
    ],
    "fft_r2c": [
        Case(lambda L, x: _vr(L, L.fft.rfft(x)), [(3, 6)]),
        Case(lambda L, x: _vr(L, L.fft.rfft(x, n=7, dim=0, norm="ortho")), [(5, 3)]),
        Case(lambda L, x: _vr(L, L.fft.rfftn(x, s=(3, 4), norm="forward")), [(2, 4, 5)]),
        Case(lambda L, x: _vr(L, L.fft.ihfft(x)), [(2, 9)]),
    ],
    "fft_c2r": [
        Case(lambda L, x, y: L.fft.irfft(_c(L, x, y)), [(3, 5), (3, 5)]),
        Case(lambda L, x, y: L.fft.irfft(_c(L, x, y), n=9, dim=0, norm="ortho"),
             [(4, 2), (4, 2)]),
        Case(lambda L, x, y: L.fft.irfftn(_c(L, x, y), s=(3, 6), norm="forward"),
             [(2, 4, 3), (2, 4, 3)]),
        Case(lambda L, x, y: L.fft.hfft(_c(L, x, y), n=7), [(2, 5), (2, 5)]),
    ],
    "real": [Case(lambda L, x, y: _c(L, x, y).real * 2, [(3, 4), (3, 4)])],
    "imag": [Case(lambda L, x, y: L.imag(_c(L, x, y)) * 2, [(3, 4), (3, 4)])],
    "conj_physical": [Case(lambda L, x, y: L.view_as_real(L.conj_physical(_c(L, x, y))),
                           [(3, 4), (3, 4)])],
    "complex": [Case(lambda L, x, y: L.view_as_real(_c(L, x, y)), [(3, 4), (4,)]),
                Case(lambda L, x, y: _c(L, x, y).abs(), [(2, 3), (2, 3)])],
    "view_as_real": [Case(lambda L, x, y: L.view_as_real(_c(L, x, y)).sin(), [(5,), (5,)])],
    "view_as_complex": [Case(lambda L, x: L.view_as_complex(x.reshape(3, 2, 2)).abs(),
                             [(3, 4)], non_contiguous=False),
                        Case(lambda L, x: L.view_as_complex(x.contiguous()).imag, [(3, 4, 2)])],
    "angle": [Case(lambda L, x, y: _c(L, x, y).angle(), [(3, 4), (3, 4)]),
              Case(lambda L, x: L.angle(x), [(3, 4)])],
}
