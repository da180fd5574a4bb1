"""Recurrent, attention and transformer layers against torch: outputs, gradients of the inputs
(oracle projection) and of every parameter, and state_dict key names.

Each case builds the layer in both libraries with the same weights (drawn here with NumPy and
loaded by name), so the only difference is the implementation.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import ember
from oracle import DEVICE, Case, check, dev_tensor, gradcheck_case, on_device, to_numpy


def _weights(module, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.uniform(-0.4, 0.4, tuple(v.shape)) for k, v in module.state_dict().items()}


def layer(ctor, call=lambda m, *xs: m(*xs), seed=0, train=False, param_grads=True):
    """fn(lib, *inputs): build ``ctor(lib)`` with fixed weights in the inputs' dtype, run
    ``call``; return its tensors plus d(sum of squares)/d(each parameter)."""
    def fn(lib, *xs):
        m = ctor(lib)
        m.train(train)
        dt = next(x.dtype for x in xs if x.dtype.is_floating_point)
        m = m.double() if dt == lib.float64 else m
        m.load_state_dict({k: lib.tensor(v, dtype=dt) for k, v in _weights(m, seed).items()})
        out = call(m, *xs)
        flat = [o for o in _flatten(out) if isinstance(o, lib.Tensor)]
        if not param_grads:
            return tuple(flat)
        loss = sum((o.double() ** 2).sum() for o in flat if o.dtype.is_floating_point)
        grads = lib.autograd.grad(loss, list(m.parameters()), retain_graph=True)
        return tuple(flat) + tuple(grads)
    return fn


def _flatten(x):
    if isinstance(x, (tuple, list)):
        return [y for v in x for y in _flatten(v)]
    if hasattr(x, "batch_sizes") and hasattr(x, "data"):  # PackedSequence
        return [x.data, x.batch_sizes]
    return [x]


def lengths_mask(lengths, T):
    return lambda rng: np.arange(T)[None, :] >= np.asarray(lengths)[:, None]


def _packed(lengths, batch_first=False, enforce_sorted=False):
    def call(m, x, *hx):
        lib = ember if isinstance(x, ember.Tensor) else torch
        p = lib.nn.utils.rnn.pack_padded_sequence(x, list(lengths), batch_first=batch_first,
                                                  enforce_sorted=enforce_sorted)
        out, h = m(p, *hx)
        padded, lens = lib.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first)
        return out, padded, lens, h
    return call


RNN_CASES = [
    Case(layer(lambda L: L.nn.LSTM(4, 5)), [(3, 2, 4)], name="lstm"),
    Case(layer(lambda L: L.nn.LSTM(4, 5, 2, bidirectional=True)), [(4, 3, 4)],
         name="lstm-bi-2"),
    Case(layer(lambda L: L.nn.LSTM(4, 5, 2, batch_first=True)),
         [(2, 3, 4), (2, 2, 5), (2, 2, 5)], name="lstm-batch_first-h0",
         ) if False else
    Case(layer(lambda L: L.nn.LSTM(4, 5, 2, batch_first=True),
               lambda m, x, h, c: m(x, (h, c))), [(2, 3, 4), (2, 2, 5), (2, 2, 5)],
         name="lstm-batch_first-h0"),
    Case(layer(lambda L: L.nn.LSTM(4, 6, 2, proj_size=3, bidirectional=True)), [(3, 2, 4)],
         name="lstm-proj-bi"),
    Case(layer(lambda L: L.nn.LSTM(3, 4, bias=False)), [(3, 2, 3)], name="lstm-nobias"),
    Case(layer(lambda L: L.nn.LSTM(3, 4), lambda m, x, h, c: m(x, (h, c))),
         [(5, 3), (1, 4), (1, 4)], name="lstm-unbatched", non_contiguous=False),
    Case(layer(lambda L: L.nn.GRU(4, 5, 2, bidirectional=True)), [(4, 3, 4)],
         name="gru-bi-2"),
    Case(layer(lambda L: L.nn.GRU(4, 5, batch_first=True), lambda m, x, h: m(x, h)),
         [(2, 3, 4), (1, 2, 5)], name="gru-h0"),
    Case(layer(lambda L: L.nn.RNN(4, 5, 2, bidirectional=True)), [(3, 2, 4)],
         name="rnn-tanh-bi"),
    Case(layer(lambda L: L.nn.RNN(4, 5, nonlinearity="relu")), [(3, 2, 4)], name="rnn-relu"),
    Case(layer(lambda L: L.nn.LSTMCell(4, 5), lambda m, x, h, c: m(x, (h, c))),
         [(3, 4), (3, 5), (3, 5)], name="lstmcell"),
    Case(layer(lambda L: L.nn.LSTMCell(4, 5)), [(4,)], name="lstmcell-unbatched",
         non_contiguous=False),
    Case(layer(lambda L: L.nn.GRUCell(4, 5), lambda m, x, h: m(x, h)), [(3, 4), (3, 5)],
         name="grucell"),
    Case(layer(lambda L: L.nn.RNNCell(4, 5, nonlinearity="relu")), [(3, 4)],
         name="rnncell"),
    # Packed sequences, unsorted lengths, bidirectional stacks.
    Case(layer(lambda L: L.nn.LSTM(3, 4, 2, bidirectional=True), _packed((2, 4, 1))),
         [(4, 3, 3)], name="lstm-packed-bi", non_contiguous=False),
    Case(layer(lambda L: L.nn.LSTM(3, 4, batch_first=True),
               _packed((3, 1, 2), batch_first=True)), [(3, 3, 3), (1, 3, 4), (1, 3, 4)],
         name="lstm-packed-h0", non_contiguous=False) if False else
    Case(layer(lambda L: L.nn.LSTM(3, 4, batch_first=True),
               lambda m, x, h, c: _packed((3, 1, 2), batch_first=True)(m, x, (h, c))),
         [(3, 3, 3), (1, 3, 4), (1, 3, 4)], name="lstm-packed-h0", non_contiguous=False),
    Case(layer(lambda L: L.nn.GRU(3, 4, 2, bidirectional=True), _packed((1, 3, 3, 2))),
         [(3, 4, 3)], name="gru-packed-bi", non_contiguous=False),
    Case(layer(lambda L: L.nn.RNN(3, 4, bidirectional=True),
               _packed((3, 2), enforce_sorted=True)), [(3, 2, 3)], name="rnn-packed-sorted",
         non_contiguous=False),
]


def _mha(**kw):
    return lambda L: L.nn.MultiheadAttention(8, 2, **kw)


def _bool(shape, p=0.3):
    return lambda rng: rng.random(shape) < p


def _kpm(B, S):
    def f(rng):
        m = rng.random((B, S)) < 0.3
        m[:, 0] = False  # every query keeps one key (fully masked rows are NaN in both)
        return m
    return f


ATTN_CASES = [
    Case(layer(_mha(), lambda m, x: m(x, x, x)), [(4, 2, 8)], name="mha-self"),
    Case(layer(_mha(batch_first=True), lambda m, q, k, kpm: m(q, k, k, key_padding_mask=kpm)),
         [(2, 3, 8), (2, 5, 8), _kpm(2, 5)], name="mha-kpm-batch_first"),
    Case(layer(_mha(), lambda m, x, am: m(x, x, x, attn_mask=am, average_attn_weights=False)),
         [(4, 2, 8), (4, 4)], name="mha-float-mask-per-head"),
    Case(layer(_mha(kdim=5, vdim=3), lambda m, q, k, v, am: m(q, k, v, attn_mask=am)),
         [(3, 2, 8), (4, 2, 5), (4, 2, 3), lambda rng: np.triu(np.ones((3, 4), bool), 2)],
         name="mha-kdim-vdim-bool-mask"),
    Case(layer(_mha(add_bias_kv=True, add_zero_attn=True), lambda m, x: m(x, x, x)),
         [(3, 2, 8)], name="mha-bias_kv-zero_attn"),
    Case(layer(_mha(bias=False), lambda m, x: m(x, x, x, need_weights=False)[0]),
         [(3, 8)], name="mha-unbatched-noweights", non_contiguous=False),
    Case(layer(lambda L: L.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0),
               lambda m, x, kpm: m(x, src_key_padding_mask=kpm)), [(5, 2, 8), _kpm(2, 5)],
         name="encoder-layer-kpm"),
    Case(layer(lambda L: L.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=True,
                                                      activation="gelu", batch_first=True),
               lambda m, x: m(x, src_mask=torch.nn.Transformer.generate_square_subsequent_mask(
                   x.shape[1]) if isinstance(x, torch.Tensor) else
                   ember.nn.Transformer.generate_square_subsequent_mask(x.shape[1],
                                                                        device=x.device),
                   is_causal=True)),
         [(2, 5, 8)], name="encoder-layer-prenorm-gelu-causal"),
    Case(layer(lambda L: L.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0),
               lambda m, t, mem, kpm: m(t, mem, memory_key_padding_mask=kpm)),
         [(3, 2, 8), (5, 2, 8), _kpm(2, 5)], name="decoder-layer"),
    Case(layer(lambda L: L.nn.TransformerEncoder(
        L.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2, L.nn.LayerNorm(8))),
        [(4, 2, 8)], name="encoder-stack"),
    Case(layer(lambda L: L.nn.Transformer(8, 2, 1, 2, 16, dropout=0.0, batch_first=True),
               lambda m, s, t: m(s, t, tgt_mask=type(m).generate_square_subsequent_mask(
                   t.shape[1], device=t.device))),
         [(2, 4, 8), (2, 3, 8)], name="transformer"),
]


def _sdpa(**kw):
    return lambda lib, q, k, v, *m: lib.nn.functional.scaled_dot_product_attention(
        q, k, v, *m, **kw)


SDPA_CASES = [
    Case(_sdpa(), [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)], name="plain"),
    Case(_sdpa(is_causal=True), [(2, 4, 5), (2, 4, 5), (2, 4, 3)], name="causal"),
    Case(_sdpa(scale=0.7), [(4, 5), (6, 5), (6, 2)], name="scale", non_contiguous=False),
    Case(_sdpa(), [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7),
                   lambda rng: np.concatenate([np.ones((4, 1), bool),
                                               rng.random((4, 5)) < 0.5], 1)],
         name="bool-mask"),
    Case(_sdpa(), [(2, 4, 5), (2, 6, 5), (2, 6, 3), (4, 6)], name="float-mask"),
]


@pytest.mark.parametrize("case", RNN_CASES + ATTN_CASES + SDPA_CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_vs_torch(case, dtype):
    check(case, dtype, non_contiguous=case.non_contiguous and dtype == "float64")


GRADCHECK_CASES = [
    Case(layer(lambda L: L.nn.LSTM(2, 3, 2, bidirectional=True), param_grads=False),
         [(3, 2, 2)], name="lstm-bi-2"),
    Case(layer(lambda L: L.nn.GRU(2, 3, bidirectional=True), param_grads=False), [(3, 2, 2)],
         name="gru-bi"),
    Case(layer(lambda L: L.nn.LSTM(2, 3, bidirectional=True), _packed((3, 1)),
               param_grads=False), [(3, 2, 2)], name="lstm-packed-bi"),
    Case(layer(_mha(), lambda m, x, am: m(x, x, x, attn_mask=am), param_grads=False),
         [(3, 2, 8), (3, 3)], name="mha"),
] + SDPA_CASES[:2]


@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=lambda c: c.name)
def test_layer_gradcheck(case):
    gradcheck_case(case)


@pytest.mark.parametrize("ctor", [
    lambda L: L.nn.LSTM(3, 4, 2, bidirectional=True, proj_size=2),
    lambda L: L.nn.GRU(3, 4, 3, bias=False, bidirectional=True),
    lambda L: L.nn.RNN(3, 4, 2),
    lambda L: L.nn.LSTMCell(3, 4),
    lambda L: L.nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True),
    lambda L: L.nn.Transformer(8, 2, 2, 1, 16),
    lambda L: L.nn.TransformerDecoderLayer(8, 2, 16, norm_first=True),
])
def test_state_dict_keys_and_shapes(ctor):
    e, t = on_device(ctor(ember)).state_dict(), ctor(torch).state_dict()
    assert list(e) == list(t)
    assert [tuple(v.shape) for v in e.values()] == [tuple(v.shape) for v in t.values()]
    # torch's weights load into ember and back.
    m = on_device(ctor(ember))
    m.load_state_dict({k: dev_tensor(v.numpy()) for k, v in t.items()})
    t2 = ctor(torch)
    t2.load_state_dict({k: torch.tensor(to_numpy(v)) for k, v in m.state_dict().items()})


def test_pack_utilities_vs_torch():
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 2)) for n in (2, 5, 3)]
    for lib in (torch, ember):
        U = lib.nn.utils.rnn
        mk = torch.tensor if lib is torch else dev_tensor
        res = [U.pad_sequence([mk(s) for s in seqs]),
               U.pad_sequence([mk(s) for s in seqs], batch_first=True,
                              padding_value=-1.0, padding_side="left")]
        p = U.pack_sequence([mk(s) for s in seqs], enforce_sorted=False)
        res += [p.data, p.batch_sizes, p.sorted_indices, p.unsorted_indices]
        res += list(U.pad_packed_sequence(p, batch_first=True, padding_value=9.0,
                                          total_length=6))
        res += U.unpack_sequence(p)
        if lib is torch:
            expect = [r.numpy() for r in res]
        else:
            got = [to_numpy(r) for r in res]
    assert len(got) == len(expect)
    for a, b in zip(got, expect):
        np.testing.assert_allclose(a, b)


def test_errors_like_torch():
    for lib in (torch, ember):
        # ember's side on the device under test: its modules and inputs are made there.
        mod = (lambda m: m) if lib is torch else on_device
        zeros = torch.zeros if lib is torch else functools.partial(ember.zeros, device=DEVICE)
        m = mod(lib.nn.LSTM(3, 4))
        with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
            m(zeros(2, 1, 5))
        with pytest.raises(RuntimeError, match="Expected hidden"):
            m(zeros(2, 1, 3), (zeros(1, 2, 4), zeros(1, 1, 4)))
        with pytest.raises(ValueError, match="proj_size has to be smaller"):
            lib.nn.LSTM(3, 4, proj_size=4)
        with pytest.raises(ValueError, match="Unknown nonlinearity"):
            lib.nn.RNN(3, 4, nonlinearity="gelu")
        with pytest.raises(RuntimeError, match="sorted in decreasing order"):
            lib.nn.utils.rnn.pack_padded_sequence(zeros(3, 2, 1), [1, 3])
        with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
            lib.nn.TransformerEncoderLayer(8, 2, activation="tanh")
        with pytest.raises(RuntimeError, match="batch number of src and tgt"):
            mod(lib.nn.Transformer(8, 2, 1, 1, 16))(zeros(3, 2, 8), zeros(3, 1, 8))
        with pytest.raises(RuntimeError, match="attn_mask should not be set"):
            x = zeros(2, 3, 4)
            lib.nn.functional.scaled_dot_product_attention(
                x, x, x, attn_mask=zeros(3, 3), is_causal=True)


def test_long_sequence_backward_does_not_recurse():
    # 3000 steps of a composite GRU: the engine walks ~40k nodes without Python recursion.
    m = on_device(ember.nn.GRU(2, 3))
    out, h = m(ember.randn(3000, 1, 2, device=DEVICE))
    out.sum().backward()
    assert m.weight_hh_l0.grad is not None
    lstm = on_device(ember.nn.LSTM(2, 3))
    out, _ = lstm(ember.randn(3000, 1, 2, device=DEVICE))
    out.sum().backward()
    assert np.isfinite(to_numpy(lstm.weight_hh_l0.grad)).all()


def test_square_subsequent_mask():
    a = to_numpy(ember.nn.Transformer.generate_square_subsequent_mask(4, device=DEVICE))
    b = torch.nn.Transformer.generate_square_subsequent_mask(4).numpy()
    np.testing.assert_array_equal(a, b)
