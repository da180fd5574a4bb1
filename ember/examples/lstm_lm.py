"""A word-level LSTM language model on generated text: ``python -m ember.examples.lstm_lm``.

The corpus comes from the grammar in ``char_gpt``; the model is embedding -> 2-layer LSTM ->
linear over the vocabulary, trained with truncated backpropagation through time (the hidden
state carries across batches, detached), SGD and gradient clipping, as in PyTorch's
word_language_model example. Prints training/validation perplexity and a sample.
``--device cuda`` (the default when a GPU is present) trains on the GPU.
"""
from __future__ import annotations

import argparse
import math
import time
from typing import Sequence

import numpy as np

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
from .char_gpt import generate_text


class RNNModel(nn.Module):
    """Embedding, LSTM, dropout, decoder (weights optionally tied to the embedding)."""

    def __init__(self, vocab: int, emb: int = 64, hidden: int = 64, layers: int = 2,
                 dropout: float = 0.2, tie_weights: bool = True) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hidden, layers, dropout=dropout)
        self.decoder = nn.Linear(hidden, vocab)
        if tie_weights and emb == hidden:
            self.decoder.weight = self.encoder.weight

    def forward(self, x, hidden=None):
        out, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
        return self.decoder(self.drop(out)), hidden


def batchify(ids: np.ndarray, bsz: int) -> np.ndarray:
    n = len(ids) // bsz
    return ids[:n * bsz].reshape(bsz, n).T.copy()  # (T, B)


def evaluate(model, data, bptt, vocab, device="cpu") -> float:
    model.eval()
    total, count, hidden = 0.0, 0, None
    with torch.no_grad():
        for i in range(0, data.shape[0] - 1, bptt):
            x = torch.tensor(data[i:i + bptt]).to(device)
            y = torch.tensor(data[i + 1:i + 1 + bptt]).to(device)
            x = x[:y.shape[0]]
            out, hidden = model(x, hidden)
            total += F.cross_entropy(out.view(-1, vocab), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    return total / max(count, 1)


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="Train a word-level LSTM language model.")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--sentences", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--bptt", type=int, default=20)
    p.add_argument("--lr", type=float, default=5.0)
    p.add_argument("--clip", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cpu or cuda (default: cuda when a GPU and CuPy are present)")
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    words = generate_text(args.sentences, args.seed).replace(".", " .").replace("\n", " <eos> ")
    tokens = words.split()
    vocab_list = sorted(set(tokens))
    stoi = {w: i for i, w in enumerate(vocab_list)}
    ids = np.array([stoi[w] for w in tokens], dtype=np.int64)
    split = int(0.9 * len(ids))
    train, valid = batchify(ids[:split], args.batch_size), batchify(ids[split:], 10)
    vocab = len(vocab_list)
    device = torch.device(args.device)
    model = RNNModel(vocab).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    print(f"LSTM LM on {device}: {len(tokens)} tokens, vocabulary {vocab}", flush=True)
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        hidden, total, batches = None, 0.0, 0
        for i in range(0, train.shape[0] - 1, args.bptt):
            x = torch.tensor(train[i:i + args.bptt]).to(device)
            y = torch.tensor(train[i + 1:i + 1 + args.bptt]).to(device)
            x = x[:y.shape[0]]
            if hidden is not None:
                hidden = tuple(h.detach() for h in hidden)  # truncated BPTT
            out, hidden = model(x, hidden)
            loss = F.cross_entropy(out.view(-1, vocab), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            total += loss.item()
            batches += 1
        val = evaluate(model, valid, args.bptt, vocab, device)
        history.append((total / batches, val))
        print(f"epoch {epoch}/{args.epochs}  train ppl {math.exp(total / batches):8.2f}  "
              f"valid ppl {math.exp(val):8.2f}  ({time.perf_counter() - start:.1f} s)",
              flush=True)
    model.eval()
    idx, hidden, out_words = torch.tensor([[stoi["the"]]], device=device), None, ["the"]
    with torch.no_grad():
        for _ in range(30):
            logits, hidden = model(idx, hidden)
            nxt = torch.distributions.Categorical(logits=logits[-1, 0]).sample()
            out_words.append(vocab_list[int(nxt.item())])
            idx = nxt.reshape(1, 1)
    sample = " ".join(out_words).replace(" <eos> ", "\n").replace(" .", ".")
    print("sample:\n" + sample, flush=True)
    return {"history": history, "sample": sample}


if __name__ == "__main__":
    main()
