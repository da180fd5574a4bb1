"""A character-level GPT (minGPT-style) trained on generated text: ``python -m
ember.examples.char_gpt``.

The text comes from a small grammar written here (so nothing is downloaded); after training the
model prints a sample that continues a prompt. Causal self-attention through
``F.scaled_dot_product_attention(is_causal=True)``, AdamW with weight decay on the Linear
weights only, gradient clipping at 1.0. ``--device cuda`` (the default when a GPU is present)
trains on the GPU.
"""
from __future__ import annotations

import argparse
import time
from typing import Sequence

import numpy as np

import ember as torch
import ember.nn as nn
import ember.nn.functional as F

_SUBJECTS = ["the cat", "a dog", "the old man", "my sister", "the bird", "a small child"]
_VERBS = ["sees", "likes", "follows", "finds", "paints", "calls"]
_OBJECTS = ["the moon", "a red ball", "the river", "an apple", "the garden", "a quiet song"]
_ENDS = [".", " today.", " at night.", " again."]


def generate_text(n_sentences: int = 3000, seed: int = 0) -> str:
    """Sentences from a tiny grammar: a corpus with structure a small model can learn."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_sentences):
        s = (f"{_SUBJECTS[rng.integers(len(_SUBJECTS))]} {_VERBS[rng.integers(len(_VERBS))]} "
             f"{_OBJECTS[rng.integers(len(_OBJECTS))]}{_ENDS[rng.integers(len(_ENDS))]}")
        out.append(s)
    return "\n".join(out) + "\n"


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions <= t."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.heads = heads

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), x + mlp(ln(x))."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, heads)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Token + position embeddings, ``n_layer`` blocks, final LayerNorm, vocabulary head."""

    def __init__(self, vocab: int, block_size: int, d: int = 64, heads: int = 4,
                 n_layer: int = 2) -> None:
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block_size, d)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))

    @torch.no_grad()
    def generate(self, idx, n: int, temperature: float = 0.8):
        for _ in range(n):
            logits = self(idx[:, -self.block_size:])[:, -1, :] / temperature
            nxt = torch.distributions.Categorical(logits=logits).sample()
            idx = torch.cat([idx, nxt.unsqueeze(1)], 1)
        return idx


def configure_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.1):
    """minGPT's groups: decay Linear weights, not biases/LayerNorm/embeddings."""
    decay, no_decay = [], []
    for _, m in model.named_modules():
        for pn, p in m.named_parameters(recurse=False):
            (decay if pn == "weight" and isinstance(m, nn.Linear) else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr,
                             betas=(0.9, 0.95))


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="Train a character-level GPT on generated text.")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--block-size", type=int, default=32)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--sample-len", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cpu or cuda (default: cuda when a GPU and CuPy are present)")
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    text = generate_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    device = torch.device(args.device)
    model = GPT(len(chars), args.block_size, args.d_model, 4, args.layers).to(device)
    opt = configure_optimizer(model, args.lr)
    rng = np.random.default_rng(args.seed)
    print(f"char-GPT on {device}: {len(text)} characters, vocabulary {len(chars)}, "
          f"{sum(p.numel() for p in model.parameters())} parameters", flush=True)
    start = time.perf_counter()
    losses = []
    for step in range(1, args.steps + 1):
        ix = rng.integers(0, len(data) - args.block_size - 1, args.batch_size)
        x = torch.tensor(np.stack([data[i:i + args.block_size] for i in ix])).to(device)
        y = torch.tensor(np.stack([data[i + 1:i + 1 + args.block_size] for i in ix])).to(device)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % max(args.steps // 10, 1) == 0 or step == args.steps:
            print(f"step {step}/{args.steps}  loss {np.mean(losses[-20:]):.4f}  "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
    prompt = torch.tensor([[stoi[c] for c in "the cat "]], device=device)
    out = model.generate(prompt, args.sample_len)[0].cpu().tolist()
    sample = "".join(chars[i] for i in out)
    print("sample:\n" + sample, flush=True)
    return {"losses": losses, "sample": sample}


if __name__ == "__main__":
    main()
