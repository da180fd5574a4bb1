"""Recurrent layers: RNN, LSTM, GRU and their single-step Cells, with torch's parameter layout.

A whole LSTM layer direction is one autograd node (``lstm_layer``): its forward loops over time
on raw arrays and its backward loops back over time in NumPy (one GEMM per step each way, the
weight gradients as single GEMMs over all steps), so a sequence of length T costs one node
rather than ~10 T. GRU/RNN layers, LSTMs with ``proj_size`` and double backward use the
composite per-step formulation written with ember ops (the engine walks it iteratively, so long
sequences do not recurse). Variable lengths (PackedSequence) are handled with a (T, B) mask: a
finished sequence keeps its state and outputs zeros, which also gives the reverse direction the
right start (each sequence's own last step).
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Optional

import numpy as np

import ember as E
from ...backend.device import get_xp
from ...backend.device import matmul as _mm
from ...ops.registry import GRAD_MODE, Primitive, register
from ...tensor import Tensor
from .. import functional as F
from .. import init
from .._ops import _wrap
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, _int_array, _lengths_of
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


# ------------------------------------------------------------------ composite step functions
def _mask_t(mask, t: int, like: Tensor):
    if mask is None:
        return None
    # The step's mask as an array of like's device (a no-op if the mask already lives there).
    m = get_xp(like._device).asarray(mask[t]).astype(like._data.dtype)
    return Tensor._from_array(m, like._dtype, like._device)


def _order(T: int, reverse: bool):
    return range(T - 1, -1, -1) if reverse else range(T)


def _lstm_composite(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None, mask=None,
                    reverse=False):
    """One LSTM layer direction with ember ops: returns (y, h_T, c_T)."""
    xw = F.linear(x, w_ih, b_ih)
    if b_hh is not None:
        xw = xw + b_hh
    h, c = h0, c0
    ys = [None] * x.shape[0]
    for t in _order(x.shape[0], reverse):
        gates = xw[t] + h.matmul(w_hh.t())
        i, f, g, o = gates.chunk(4, 1)
        c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h_new = o.sigmoid() * c_new.tanh()
        if w_hr is not None:
            h_new = h_new.matmul(w_hr.t())
        m = _mask_t(mask, t, x)
        if m is None:
            h, c = h_new, c_new
            ys[t] = h_new
        else:
            h = h_new * m + h * (1 - m)
            c = c_new * m + c * (1 - m)
            ys[t] = h_new * m
    return E.stack(ys, 0), h, c


def _gru_composite(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse=False):
    """One GRU layer direction with ember ops: returns (y, h_T)."""
    xw = F.linear(x, w_ih, b_ih)
    h = h0
    ys = [None] * x.shape[0]
    for t in _order(x.shape[0], reverse):
        hw = F.linear(h, w_hh, b_hh)
        xr, xz, xn = xw[t].chunk(3, 1)
        hr, hz, hn = hw.chunk(3, 1)
        r = (xr + hr).sigmoid()
        z = (xz + hz).sigmoid()
        n = (xn + r * hn).tanh()
        h_new = n + z * (h - n)
        m = _mask_t(mask, t, x)
        if m is None:
            h = h_new
            ys[t] = h_new
        else:
            h = h_new * m + h * (1 - m)
            ys[t] = h_new * m
    return E.stack(ys, 0), h


def _rnn_composite(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse=False,
                   nonlinearity="tanh"):
    """One Elman RNN layer direction with ember ops: returns (y, h_T)."""
    xw = F.linear(x, w_ih, b_ih)
    if b_hh is not None:
        xw = xw + b_hh
    h = h0
    ys = [None] * x.shape[0]
    act = E.tanh if nonlinearity == "tanh" else E.relu
    for t in _order(x.shape[0], reverse):
        h_new = act(xw[t] + h.matmul(w_hh.t()))
        m = _mask_t(mask, t, x)
        if m is None:
            h = h_new
            ys[t] = h_new
        else:
            h = h_new * m + h * (1 - m)
            ys[t] = h_new * m
    return E.stack(ys, 0), h


# ------------------------------------------------------------------------ fused LSTM layer
def _sigmoid_(a, xp):
    # sigmoid(x) = (1 + tanh(x/2)) / 2: no overflow warnings for large |x|, and in place.
    a *= 0.5
    xp.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


@register("lstm_layer")
class LSTMLayerOp(Primitive):
    """One direction of one LSTM layer over a whole ``(T, B, I)`` sequence as a single node.

    Inputs: x, h0 ``(B, H)``, c0 ``(B, H)``, w_ih ``(4H, I)``, w_hh ``(4H, H)``, b_ih, b_hh
    (or None); keywords ``mask`` (``(T, B, 1)`` bool array or None) and ``reverse``.
    Outputs: y ``(T, B, H)``, h_T, c_T.
    """

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse=False):
        xp = self.xp
        if mask is not None:
            mask = xp.asarray(mask)  # a host mask meets device arrays below
        self.mask = mask
        self.reverse = reverse
        T, B = x.shape[0], x.shape[1]
        H = w_hh.shape[1]
        dt = x.dtype
        self.save_for_backward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        # All input projections in one GEMM; the loop then does one (B, H) x (H, 4H) per step.
        xw = _mm(x.reshape(T * B, -1), w_ih.T).reshape(T, B, 4 * H)
        if b_ih is not None:
            xw += b_ih
        if b_hh is not None:
            xw += b_hh
        hs = xp.empty((T + 1, B, H), dtype=dt)   # states in processing order; [0] = h0
        cs = xp.empty((T + 1, B, H), dtype=dt)
        tcs = xp.empty((T, B, H), dtype=dt)      # tanh(c_new) per step
        y = xp.empty((T, B, H), dtype=dt)
        hs[0] = h0
        cs[0] = c0
        whh_t = w_hh.T
        H2, H3 = 2 * H, 3 * H
        for k, t in enumerate(_order(T, reverse)):
            a = xw[t]
            a += _mm(hs[k], whh_t)
            _sigmoid_(a[:, :H2], xp)
            xp.tanh(a[:, H2:H3], out=a[:, H2:H3])
            _sigmoid_(a[:, H3:], xp)
            c_new = a[:, H:H2] * cs[k]
            c_new += a[:, :H] * a[:, H2:H3]
            tc = xp.tanh(c_new)
            tcs[k] = tc
            h_new = a[:, H3:] * tc
            if mask is None:
                cs[k + 1] = c_new
                hs[k + 1] = h_new
                y[t] = h_new
            else:
                m = mask[t]
                cs[k + 1] = xp.where(m, c_new, cs[k])
                hs[k + 1] = xp.where(m, h_new, hs[k])
                y[t] = h_new * m
        self.acts = xw  # gate activations, indexed by time
        self.hs = hs
        self.cs = cs
        self.tcs = tcs
        return y, hs[T].copy(), cs[T].copy()

    def backward(self, gy, gh, gc):
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = self.saved_tensors
        need = self.needs_input_grad
        if GRAD_MODE.enabled:
            return self._graph_backward(gy, gh, gc)
        xp = self.xp
        mask = self.mask
        T, B = x.shape[0], x.shape[1]
        H = w_hh.shape[1]
        H2, H3 = 2 * H, 3 * H
        acts, hs, cs, tcs = self.acts, self.hs, self.cs, self.tcs
        gy_a = gy._data
        whh = w_hh._data
        dh = gh._data.copy()
        dc = gc._data.copy()
        dA = xp.empty((T, B, 4 * H), dtype=x._data.dtype)  # pre-activation grads, by step k
        for k, t in reversed(list(enumerate(_order(T, self.reverse)))):
            a = acts[t]
            i, f, g, o = a[:, :H], a[:, H:H2], a[:, H2:H3], a[:, H3:]
            tc = tcs[k]
            if mask is None:
                dhn = dh + gy_a[t]
                dcn = dc
            else:
                m = mask[t]
                dhn = (dh + gy_a[t]) * m
                dcn = dc * m
            d = dA[k]
            # d[o] = dh * tanh(c) * o(1-o); then dc += dh * o * (1 - tanh(c)^2)
            xp.multiply(dhn, tc, out=d[:, H3:])
            d[:, H3:] *= o * (1 - o)
            dcn = dcn + dhn * o * (1 - tc * tc)
            xp.multiply(dcn, g, out=d[:, :H])
            d[:, :H] *= i * (1 - i)
            xp.multiply(dcn, cs[k], out=d[:, H:H2])
            d[:, H:H2] *= f * (1 - f)
            xp.multiply(dcn, i, out=d[:, H2:H3])
            d[:, H2:H3] *= 1 - g * g
            dh_prev = _mm(d, whh)
            dc_prev = dcn * f
            if mask is not None:
                keep = ~m
                dh_prev += dh * keep
                dc_prev += dc * keep
            dh, dc = dh_prev, dc_prev
        dA_time = dA[::-1] if self.reverse else dA
        d2 = dA.reshape(T * B, 4 * H)
        gx = gw_ih = gw_hh = gb = None
        if need[0]:
            gx = _wrap(_mm(dA_time.reshape(T * B, 4 * H), w_ih._data).reshape(x.shape), x)
        if need[3]:
            gw_ih = _wrap(_mm(dA_time.reshape(T * B, 4 * H).T, x._data.reshape(T * B, -1)),
                          w_ih)
        if need[4]:
            gw_hh = _wrap(_mm(d2.T, hs[:T].reshape(T * B, H)), w_hh)
        if (len(need) > 5 and need[5]) or (len(need) > 6 and need[6]):
            gb = d2.sum(0)
        gb_ih = _wrap(gb, b_ih) if len(need) > 5 and need[5] else None
        gb_hh = _wrap(gb, b_hh) if len(need) > 6 and need[6] else None
        gh0 = _wrap(dh, h0) if need[1] else None
        gc0 = _wrap(dc, c0) if need[2] else None
        return (gx, gh0, gc0, gw_ih, gw_hh, gb_ih, gb_hh)[:len(need)]

    def _graph_backward(self, gy, gh, gc):
        # create_graph=True: differentiate the composite formulation so that gradients of
        # gradients stay connected to the saved inputs.
        from ...autograd import grad as _grad
        from ...autograd.grad_mode import enable_grad
        ins = list(self.saved_tensors)[:len(self.next_edges)]
        need = self.needs_input_grad
        with enable_grad():
            outs = _lstm_composite(*(ins + [None] * (7 - len(ins))), mask=self.mask,
                                   reverse=self.reverse)
            targets = [t for t, n in zip(ins, need) if n and t is not None]
            res = iter(_grad(list(outs), targets, [gy, gh, gc], retain_graph=True,
                             create_graph=True, allow_unused=True))
        return tuple(next(res) if (n and t is not None) else None for t, n in zip(ins, need))


def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse=False):
    """Run the fused ``lstm_layer`` primitive; returns (y, h_T, c_T)."""
    outs = LSTMLayerOp.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mask=mask, reverse=reverse)
    node = outs[0].grad_fn
    if node is not None:
        # Shapes of the outputs, so that the engine can pass zeros for an unused one.
        node._out_meta = [(tuple(o.shape), o._dtype, o._device) for o in outs]
    return outs


# ---------------------------------------------------------------------------- the layers
class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU (parameters, packing, layers, directions).

    Args:
        mode: ``'LSTM'``, ``'GRU'``, ``'RNN_TANH'`` or ``'RNN_RELU'``.
        input_size: features of the input.
        hidden_size: features of the hidden state.
        num_layers: stacked layers (default 1).
        bias: learn ``b_ih``/``b_hh`` (default True).
        batch_first: input/output as ``(B, T, *)`` (default False: ``(T, B, *)``).
        dropout: dropout on the outputs of every layer but the last (default 0).
        bidirectional: run a reverse direction too (default False).
        proj_size: LSTM only: project the hidden state to this size (default 0: none).

    Shape:
        Input ``(T, B, H_in)``, ``(B, T, H_in)`` or unbatched ``(T, H_in)``, or a
        PackedSequence; output ``(T, B, D * H_out)`` and ``h_n`` ``(D * num_layers, B, H_out)``.

    Example:
        >>> rnn = nn.GRU(10, 20, 2)
        >>> out, h = rnn(ember.randn(5, 3, 10))
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
                or isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        gate_size = {"LSTM": 4, "GRU": 3}.get(mode, 1) * hidden_size
        if mode not in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_in = input_size if layer == 0 else real_hidden * num_directions
                sfx = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_in)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for base, shape in shapes:
                    name = f"{base}_l{layer}{sfx}"
                    setattr(self, name, Parameter(E.empty(*shape, device=device, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """No-op (cuDNN's contiguous weight buffer has no NumPy counterpart)."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # -------------------------------------------------------------------------- forward
    def _run_direction(self, x, hx, layer, direction, mask):
        sfx = "_reverse" if direction == 1 else ""
        w_ih = getattr(self, f"weight_ih_l{layer}{sfx}")
        w_hh = getattr(self, f"weight_hh_l{layer}{sfx}")
        b_ih = getattr(self, f"bias_ih_l{layer}{sfx}") if self.bias else None
        b_hh = getattr(self, f"bias_hh_l{layer}{sfx}") if self.bias else None
        reverse = direction == 1
        if self.mode == "LSTM":
            h0, c0 = hx
            if self.proj_size > 0:
                w_hr = getattr(self, f"weight_hr_l{layer}{sfx}")
                y, h, c = _lstm_composite(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mask,
                                          reverse)
            else:
                y, h, c = lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mask, reverse)
            return y, (h, c)
        if self.mode == "GRU":
            return _gru_composite(x, hx, w_ih, w_hh, b_ih, b_hh, mask, reverse)
        nl = "tanh" if self.mode == "RNN_TANH" else "relu"
        return _rnn_composite(x, hx, w_ih, w_hh, b_ih, b_hh, mask, reverse, nl)

    def _check_hidden(self, h, expected, what="hidden"):
        if tuple(h.shape) != tuple(expected):
            raise RuntimeError(f"Expected {what} size {tuple(expected)}, got {list(h.shape)}")

    def forward(self, input, hx=None):
        is_lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        mask = None
        sorted_idx = unsorted_idx = None
        if packed:
            data, batch_sizes, sorted_idx, unsorted_idx = input
            bs = _int_array(batch_sizes)
            lens = _lengths_of(bs)
            from ..utils.rnn import pad_packed_sequence
            x, _ = pad_packed_sequence(PackedSequence(data, batch_sizes, None, None))
            # The permutations index the states, which live on the data's device.
            if sorted_idx is not None:
                sorted_idx = sorted_idx.to(x.device)
            if unsorted_idx is not None:
                unsorted_idx = unsorted_idx.to(x.device)
            mask_host = (np.arange(bs.size)[:, None] < lens[None, :])[:, :, None]
            # One copy to x's device, shared by every layer and direction.
            mask = get_xp(x._device).asarray(mask_host)
            batched = True
        else:
            x = input
            if x.dim() not in (2, 3):
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                                 f"{x.dim()}D instead")
            batched = x.dim() == 3
            if not batched:
                x = x.unsqueeze(1)
            elif self.batch_first:
                x = x.transpose(0, 1)
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]}")
        B = x.shape[1]
        D = 2 if self.bidirectional else 1
        h_out = self.proj_size if self.proj_size > 0 else self.hidden_size
        hx_list = hx if is_lstm and hx is not None else (hx,)
        if hx is not None:
            if is_lstm and not isinstance(hx, (tuple, list)):
                raise RuntimeError("LSTM expects hx as a tuple (h_0, c_0)")
            for h in hx_list:
                want = 3 if batched else 2
                if h.dim() != want:
                    kind = "batched 3-D" if batched else "unbatched 2-D"
                    raise RuntimeError(f"For {kind} input, hx{' and cx' if is_lstm else ''} "
                                       f"should also be {want}-D but got {h.dim()}-D tensor")
            if not batched:
                hx_list = tuple(h.unsqueeze(1) for h in hx_list)
            if sorted_idx is not None:
                hx_list = tuple(h.index_select(1, sorted_idx) for h in hx_list)
            self._check_hidden(hx_list[0], (self.num_layers * D, B, h_out))
            if is_lstm:
                self._check_hidden(hx_list[1], (self.num_layers * D, B, self.hidden_size),
                                   "hidden[1]")
        else:
            z = E.zeros(self.num_layers * D, B, h_out, dtype=x.dtype, device=x.device)
            hx_list = (z, E.zeros(self.num_layers * D, B, self.hidden_size, dtype=x.dtype,
                                  device=x.device)) if is_lstm else (z,)
        hs, cs = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                idx = layer * D + d
                h0 = (hx_list[0][idx], hx_list[1][idx]) if is_lstm else hx_list[0][idx]
                y, hn = self._run_direction(layer_in, h0, layer, d, mask)
                outs.append(y)
                if is_lstm:
                    hs.append(hn[0])
                    cs.append(hn[1])
                else:
                    hs.append(hn)
            layer_in = outs[0] if D == 1 else E.cat(outs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        h_n = E.stack(hs, 0)
        c_n = E.stack(cs, 0) if is_lstm else None
        if unsorted_idx is not None:
            h_n = h_n.index_select(1, unsorted_idx)
            if is_lstm:
                c_n = c_n.index_select(1, unsorted_idx)
        out = layer_in
        if packed:
            # Re-pack the (sorted) padded output: rows where the mask is set, time-major.
            t_idx, b_idx = np.nonzero(mask_host[:, :, 0])
            out = PackedSequence(out[E.tensor(t_idx, device=out.device),
                                     E.tensor(b_idx, device=out.device)], batch_sizes,
                                 sorted_idx, unsorted_idx)
        elif not batched:
            out = out.squeeze(1)
            h_n = h_n.squeeze(1)
            if is_lstm:
                c_n = c_n.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return (out, (h_n, c_n)) if is_lstm else (out, h_n)


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    Args:
        input_size, hidden_size, num_layers, nonlinearity (``'tanh'``/``'relu'``), bias,
        batch_first, dropout, bidirectional: as torch.nn.RNN.

    Shape:
        Input ``(T, B, H_in)``; output ``(T, B, D * H)``, ``h_n`` ``(D * num_layers, B, H)``.

    Example:
        >>> out, h = nn.RNN(10, 20, 2)(ember.randn(5, 3, 10))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None) -> None:
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity}"


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o in torch's order), optional projection.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        proj_size: as torch.nn.LSTM.

    Shape:
        Input ``(T, B, H_in)``; output ``(T, B, D * H_out)``; ``(h_n, c_n)`` with ``h_n``
        ``(D * num_layers, B, H_out)`` and ``c_n`` ``(D * num_layers, B, H)``.

    Example:
        >>> out, (h, c) = nn.LSTM(10, 20, 2)(ember.randn(5, 3, 10))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n in torch's order).

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional:
        as torch.nn.GRU.

    Shape:
        Input ``(T, B, H_in)``; output ``(T, B, D * H)``, ``h_n`` ``(D * num_layers, B, H)``.

    Example:
        >>> out, h = nn.GRU(10, 20, 2)(ember.randn(5, 3, 10))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)


# ------------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """Parameters shared by the cells: weight_ih, weight_hh, bias_ih, bias_hh."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        g = num_chunks * hidden_size
        self.weight_ih = Parameter(E.empty(g, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(E.empty(g, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(E.empty(g, device=device, dtype=dtype))
            self.bias_hh = Parameter(E.empty(g, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s

    def _prep(self, input, hx, n_states=1):
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got "
                             f"{input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size}")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            z = E.zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)
            hx = (z,) * n_states
        else:
            hx = tuple(hx) if n_states > 1 else (hx,)
            if not batched:
                hx = tuple(h.unsqueeze(0) for h in hx)
            for h in hx:
                if h.shape[0] != input.shape[0]:
                    raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden"
                                       f"0 batch size {h.shape[0]}")
                if h.shape[-1] != self.hidden_size:
                    raise RuntimeError(f"hidden0 has inconsistent hidden_size: got "
                                       f"{h.shape[-1]}, expected {self.hidden_size}")
        return input, hx, batched


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Args:
        input_size, hidden_size, bias, nonlinearity: as torch.nn.RNNCell.

    Shape:
        Input ``(B, H_in)`` or ``(H_in,)``; hidden and output ``(B, H)`` or ``(H,)``.

    Example:
        >>> h = nn.RNNCell(10, 20)(ember.randn(3, 10))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        x, (h,), batched = self._prep(input, hx)
        pre = F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh,
                                                                     self.bias_hh)
        out = pre.tanh() if self.nonlinearity == "tanh" else F.relu(pre)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o).

    Args:
        input_size, hidden_size, bias: as torch.nn.LSTMCell.

    Shape:
        Input ``(B, H_in)``; ``(h, c)`` ``(B, H)`` each; returns ``(h', c')``.

    Example:
        >>> h, c = nn.LSTMCell(10, 20)(ember.randn(3, 10))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx=None) -> tuple:
        x, (h, c), batched = self._prep(input, hx, 2)
        gates = F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh,
                                                                       self.bias_hh)
        i, f, g, o = gates.chunk(4, 1)
        c2 = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h2 = o.sigmoid() * c2.tanh()
        return (h2, c2) if batched else (h2.squeeze(0), c2.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n).

    Args:
        input_size, hidden_size, bias: as torch.nn.GRUCell.

    Shape:
        Input ``(B, H_in)``; hidden and output ``(B, H)``.

    Example:
        >>> h = nn.GRUCell(10, 20)(ember.randn(3, 10))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        x, (h,), batched = self._prep(input, hx)
        xr, xz, xn = F.linear(x, self.weight_ih, self.bias_ih).chunk(3, 1)
        hr, hz, hn = F.linear(h, self.weight_hh, self.bias_hh).chunk(3, 1)
        r = (xr + hr).sigmoid()
        z = (xz + hz).sigmoid()
        n = (xn + r * hn).tanh()
        out = n + z * (h - n)
        return out if batched else out.squeeze(0)
