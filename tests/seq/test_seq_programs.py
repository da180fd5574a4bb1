"""Whole programs under torch and ember from the same initial weights: an LSTM language model,
a transformer-encoder classifier and a minGPT-style block trained with AdamW parameter groups
and clip_grad_norm_. Loss curves must agree to 1e-4 relative (dropout off: the two libraries'
random streams differ)."""
from __future__ import annotations

import math

import numpy as np
import torch

import ember
from oracle import dev_tensor, on_device

RTOL = 1e-4


def _copy(src, dst):
    """torch -> ember by parameter name."""
    s = dict(src.named_parameters())
    d = dict(dst.named_parameters())
    assert list(s) == list(d)
    with ember.no_grad():
        for k, p in d.items():
            p.copy_(ember.tensor(s[k].detach().numpy(), device=p.device))


def lstm_lm(lib):
    nn = lib.nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(30, 16)
            self.rnn = nn.LSTM(16, 24, 2, dropout=0.0)
            self.out = nn.Linear(24, 30)

        def forward(self, x, h=None):
            y, h = self.rnn(self.emb(x), h)
            return self.out(y), h
    return LM()


def run_lstm_lm(lib, model, steps=8):
    rng = np.random.default_rng(0)
    # Counting sequences (token t+1 follows t): learnable, so the loss falls.
    data = (rng.integers(0, 30, (steps, 1, 4)) + np.arange(13)[None, :, None]) % 30
    opt = lib.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    mk = torch.tensor if lib is torch else dev_tensor
    losses, h = [], None
    for i in range(steps):
        x = mk(data[i, :-1])
        y = mk(data[i, 1:])
        if h is not None:  # truncated BPTT: carry the state, not its history
            h = tuple(v.detach() for v in h)
        logits, h = model(x, h)
        loss = lib.nn.functional.cross_entropy(logits.reshape(-1, 30), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        losses.append(loss.item())
    return losses


def encoder_classifier(lib):
    nn = lib.nn

    class Clf(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 16)
            layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(16, 3)

        def forward(self, x, pad):
            h = self.enc(self.emb(x), src_key_padding_mask=pad)
            keep = (~pad).unsqueeze(-1).to(h.dtype)
            return self.head((h * keep).sum(1) / keep.sum(1))
    return Clf()


def run_encoder(lib, model, steps=8):
    rng = np.random.default_rng(1)
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    x = rng.integers(0, 20, (6, 7))  # one fixed batch: the loss must fall on it
    lens = rng.integers(3, 8, 6)
    pad = np.arange(7)[None, :] >= lens[:, None]
    y = (x[:, 0] % 3)
    mk = torch.tensor if lib is torch else dev_tensor
    for _ in range(steps):
        out = model(mk(x), mk(pad))
        loss = lib.nn.functional.cross_entropy(out, mk(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def mingpt(lib):
    nn = lib.nn
    F = lib.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.c_attn = nn.Linear(d, 3 * d)
            self.c_proj = nn.Linear(d, d)
            self.h = h

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    class Block(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.ln_1 = nn.LayerNorm(d)
            self.attn = CausalSelfAttention(d, h)
            self.ln_2 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self, vocab=17, d=16, h=2, n=2, ctx=8):
            super().__init__()
            self.wte = nn.Embedding(vocab, d)
            self.wpe = nn.Embedding(ctx, d)
            self.blocks = nn.ModuleList([Block(d, h) for _ in range(n)])
            self.ln_f = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)

        def forward(self, idx):
            pos = lib.arange(idx.shape[1], device=idx.device)
            x = self.wte(idx) + self.wpe(pos)
            for b in self.blocks:
                x = b(x)
            return self.head(self.ln_f(x))
    return GPT()


def run_mingpt(lib, model, steps=8):
    # minGPT's optimizer: weight decay on Linear weights only, none on biases/LayerNorm/
    # embeddings.
    decay, no_decay = [], []
    for mn, m in model.named_modules():
        for pn, p in m.named_parameters(recurse=False):
            (decay if pn.endswith("weight") and isinstance(m, lib.nn.Linear)
             else no_decay).append(p)
    opt = lib.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                           {"params": no_decay, "weight_decay": 0.0}], lr=3e-3,
                          betas=(0.9, 0.95))
    rng = np.random.default_rng(2)
    mk = torch.tensor if lib is torch else dev_tensor
    losses = []
    for _ in range(steps):
        seq = rng.integers(0, 17, (4, 9))
        logits = model(mk(seq[:, :-1]))
        loss = lib.nn.functional.cross_entropy(logits.reshape(-1, 17),
                                               mk(seq[:, 1:]).reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return losses


def _compare(build, run):
    torch.manual_seed(0)
    tm = build(torch)
    em = on_device(build(ember))  # ember runs on the device under test
    _copy(tm, em)
    t = run(torch, tm)
    e = run(ember, em)
    np.testing.assert_allclose(e, t, rtol=RTOL)
    assert all(math.isfinite(v) for v in e)
    assert t[-1] < t[0]  # the program trains


def test_lstm_language_model_curve():
    _compare(lstm_lm, run_lstm_lm)


def test_transformer_encoder_classifier_curve():
    _compare(encoder_classifier, run_encoder)


def test_mingpt_block_adamw_groups_clip_curve():
    _compare(mingpt, run_mingpt)
