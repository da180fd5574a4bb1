"""Oracle cases for the fused LSTM layer primitive (torch side: nn.LSTM with the same weights)."""
from __future__ import annotations

import numpy as np

from oracle import Case


def _lstm_layer(reverse=False, bias=True, lengths=None):
    """Run one LSTM layer direction: ember through the fused primitive, torch through nn.LSTM
    (a bidirectional torch LSTM's reverse half for reverse=True; packed for lengths)."""
    def fn(lib, x, h0, c0, w_ih, w_hh, *b):
        b_ih, b_hh = (b[0], b[1]) if bias else (None, None)
        T, B = x.shape[0], x.shape[1]
        mask = None
        if lengths is not None:
            mask = (np.arange(T)[:, None] < np.asarray(lengths)[None, :])[:, :, None]
        if lib.__name__ == "ember":
            from ember.nn.modules.rnn import lstm_layer
            return lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mask, reverse)
        # torch: put the weights in an LSTM through torch.func.functional_call.
        H = w_hh.shape[1]
        m = lib.nn.LSTM(x.shape[2], H, bias=bias, bidirectional=reverse).to(x.dtype)
        sfx = "_reverse" if reverse else ""
        params = {f"weight_ih_l0{sfx}": w_ih, f"weight_hh_l0{sfx}": w_hh}
        if bias:
            params.update({f"bias_ih_l0{sfx}": b_ih, f"bias_hh_l0{sfx}": b_hh})
        hx = (h0.unsqueeze(0), c0.unsqueeze(0))
        if reverse:  # the forward half gets zeros and is ignored
            hx = (lib.cat([lib.zeros_like(hx[0]), hx[0]]), lib.cat([lib.zeros_like(hx[1]),
                                                                   hx[1]]))
        inp = x
        if lengths is not None:
            inp = lib.nn.utils.rnn.pack_padded_sequence(x, list(lengths))
        y, (h, c) = lib.func.functional_call(m, params, (inp, hx), strict=False)
        if lengths is not None:
            y, _ = lib.nn.utils.rnn.pad_packed_sequence(y, total_length=T)
        if reverse:
            return y[..., H:], h[1], c[1]
        return y, h[0], c[0]
    return fn


def _shapes(T, B, I, H, bias=True):
    s = [(T, B, I), (B, H), (B, H), (4 * H, I), (4 * H, H)]
    return s + ([(4 * H,), (4 * H,)] if bias else [])


def _gg(fn):
    """Gradient with create_graph through the primitive (its composite double-backward)."""
    def case(lib, x, *rest):
        y, h, c = fn(lib, x, *rest)
        return lib.autograd.grad((y * y).sum() + (c * h).sum(), (x,) + rest[:1],
                                 create_graph=True)
    return case


SPECS = {
    "lstm_layer": [
        Case(_lstm_layer(), _shapes(5, 3, 4, 6)),
        Case(_lstm_layer(reverse=True), _shapes(4, 2, 3, 5), name="reverse"),
        Case(_lstm_layer(bias=False), _shapes(3, 2, 3, 4, bias=False), name="nobias"),
        Case(_lstm_layer(lengths=(4, 3, 1)), _shapes(4, 3, 3, 5), name="masked",
             non_contiguous=False),
        Case(_lstm_layer(reverse=True, lengths=(4, 2, 2)), _shapes(4, 3, 2, 3),
             name="masked-reverse", non_contiguous=False),
        Case(_gg(_lstm_layer()), _shapes(3, 2, 2, 3), name="double-backward",
             dtypes=("float64",), non_contiguous=False),
    ],
}
