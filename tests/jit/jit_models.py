"""Small models for the jit/onnx tests, written as user code with ember's torch API."""
from __future__ import annotations

import math

import ember as torch
import ember.nn as nn
import ember.nn.functional as F


class MLP(nn.Module):
    """The seeds' MNIST MLP."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


class CNN(nn.Module):
    """The seeds' CNN (3x24x24 inputs; ``view(-1, 64 * 6 * 6)`` as in the seed)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 6 * 6, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = x.view(-1, 64 * 6 * 6)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


class ResBlock(nn.Module):
    """Conv+BatchNorm+ReLU residual block with a pooled head (use in eval mode)."""

    def __init__(self, c: int = 8):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(c)
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(c, 5)

    def forward(self, x):
        x = F.relu(self.bn0(self.stem(x)))
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        x = F.relu(x + y)
        x = self.pool(x)
        x = F.avg_pool2d(x, x.shape[-1])
        return self.fc(x.reshape(x.size(0), -1))


class GPTBlock(nn.Module):
    """A pre-norm GPT block: causal self-attention (mask via masked_fill) and a GELU MLP."""

    def __init__(self, d: int = 32, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.out = nn.Linear(4 * d, d)

    def attn(self, x):
        B, T, C = x.shape
        h = self.heads
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, h, C // h).transpose(1, 2)
        k = k.view(B, T, h, C // h).transpose(1, 2)
        v = v.view(B, T, h, C // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // h))
        mask = torch.triu(torch.ones(T, T), diagonal=1).bool()
        att = att.masked_fill(mask, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class LSTMNet(nn.Module):
    """A 2-layer bidirectional batch-first LSTM (default zero state) with a linear head on the
    last step's output, also returning the final hidden state."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 12, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(24, 5)

    def forward(self, x):
        y, (h, c) = self.lstm(x)
        return self.head(y[:, -1]) + c.sum()


class Encoder(nn.Module):
    """A transformer encoder layer (GELU, batch-first) under a causal mask, then mean pooling."""

    def __init__(self, d: int = 32, heads: int = 4):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=64, dropout=0.1,
                                                activation="gelu", batch_first=True)
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.size(1))
        return self.head(self.layer(x, src_mask=mask).mean(1))


def build(name: str):
    """(model in eval mode, example-input maker batch -> Tensor)."""
    torch.manual_seed(0)
    if name == "mlp":
        return MLP().eval(), lambda b: torch.randn(b, 1, 28, 28)
    if name == "cnn":
        return CNN().eval(), lambda b: torch.randn(b, 3, 24, 24)
    if name == "resblock":
        m = ResBlock()
        # Non-trivial running statistics so that eval-mode BatchNorm is really tested.
        for bn in (m.bn0, m.bn1, m.bn2):
            bn.running_mean.copy_(torch.randn(bn.num_features) * 0.1)
            bn.running_var.copy_(torch.rand(bn.num_features) + 0.5)
        return m.eval(), lambda b: torch.randn(b, 3, 8, 8)
    if name == "gpt":
        return GPTBlock().eval(), lambda b: torch.randn(b, 6, 32)
    if name == "lstm":
        return LSTMNet().eval(), lambda b: torch.randn(b, 7, 8)
    if name == "encoder":
        return Encoder().eval(), lambda b: torch.randn(b, 6, 32)
    raise KeyError(name)


NAMES = ["mlp", "cnn", "resblock", "gpt", "lstm", "encoder"]
