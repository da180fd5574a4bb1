"""Sequence-model training steps: ember's time over torch's.

    python bench/seq.py

Targets (issue 5): LSTM (2 layers, hidden 256, seq 35, batch 20) train step and a 2-layer
transformer encoder (d 128, 4 heads, seq 64, batch 16) train step, each <= 1.5x torch on CPU.
Both frameworks run the same model code and start from the same weights.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import ember  # noqa: E402
from common import compare, report  # noqa: E402


def lstm_lm(lib, vocab=1000):
    nn = lib.nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(vocab, 256)
            self.rnn = nn.LSTM(256, 256, 2)
            self.out = nn.Linear(256, vocab)

        def forward(self, x):
            y, _ = self.rnn(self.emb(x))
            return self.out(y)
    return LM()


def encoder(lib, n_cls=10):
    nn = lib.nn

    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(128, n_cls)

        def forward(self, x):
            return self.head(self.enc(x).mean(1))
    return Enc()


def _step(lib, model, x, y, flat):
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        out = model(x)
        loss = loss_fn(out.reshape(-1, out.shape[-1]) if flat else out,
                       y.reshape(-1) if flat else y)
        loss.backward()
        opt.step()
    return step


def _same_weights(e, t):
    with torch.no_grad():
        for (_, pe), (_, pt) in zip(e.named_parameters(), t.named_parameters()):
            pt.copy_(torch.from_numpy(pe.detach().numpy().copy()))


def main() -> dict:
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rng = np.random.default_rng(0)
    ratios = {}
    tok = rng.integers(0, 1000, (35, 20))
    tgt = rng.integers(0, 1000, (35, 20))
    em, tm = lstm_lm(ember), lstm_lm(torch)
    _same_weights(em, tm)
    e, t = compare(_step(ember, em, ember.tensor(tok), ember.tensor(tgt), True),
                   _step(torch, tm, torch.tensor(tok), torch.tensor(tgt), True),
                   number=3, repeat=5, warmup=1)
    ratios["lstm"] = report("LSTM LM step (2x256, seq 35, batch 20)", e, t, "target <= 1.5x")
    x = rng.standard_normal((16, 64, 128)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    em, tm = encoder(ember), encoder(torch)
    _same_weights(em, tm)
    e, t = compare(_step(ember, em, ember.tensor(x), ember.tensor(y), False),
                   _step(torch, tm, torch.tensor(x), torch.tensor(y), False),
                   number=3, repeat=5, warmup=1)
    ratios["transformer"] = report("Transformer encoder step (2x d128 h4, seq 64, b 16)", e, t,
                                   "target <= 1.5x")
    return ratios


if __name__ == "__main__":
    main()
