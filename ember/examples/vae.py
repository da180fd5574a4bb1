"""A variational autoencoder (Kingma & Welling, 2014) on MNIST: ``python -m ember.examples.vae``.

Encoder 784-400-(mu, log var) of a 20-d latent, decoder 20-400-784 with Bernoulli pixels. The
latent is sampled with ``Normal(mu, std).rsample()`` and the KL term comes from
``kl_divergence`` against the standard normal prior, both from ``ember.distributions``. Writes
``vae_recon.png`` (inputs over reconstructions) and ``vae_samples.png`` (decoded prior samples).
``--device cuda`` (the default when a GPU is present) trains on the GPU.
"""
from __future__ import annotations

import argparse
import os
import time
from typing import Sequence

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
from ember.distributions import Independent, Normal, kl_divergence
from ember.utils.data import DataLoader, Subset
from ember.vision import datasets, transforms
from ember.vision.utils import save_image


class VAE(nn.Module):
    """784 -> 400 -> (mu, logvar) in R^latent -> 400 -> 784 logits."""

    def __init__(self, latent: int = 20, hidden: int = 400) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, 784)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return self.fc4(F.relu(self.fc3(z)))  # logits of Bernoulli pixels

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
        z = q.rsample()
        return self.decode(z), q


def loss_function(logits, x, q):
    prior = Independent(Normal(torch.zeros_like(q.mean), torch.ones_like(q.mean)), 1)
    bce = F.binary_cross_entropy_with_logits(logits, x.view(-1, 784), reduction="sum")
    return (bce + kl_divergence(q, prior).sum()) / x.shape[0]


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="Train a VAE on MNIST.")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--limit", type=int, default=20000, help="training images used (0: all)")
    p.add_argument("--data", default="./data")
    p.add_argument("--out", default=".", help="folder for the PNG grids")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cpu or cuda (default: cuda when a GPU and CuPy are present)")
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    train = datasets.MNIST(args.data, train=True, download=True, transform=transforms.ToTensor())
    if args.limit:
        train = Subset(train, range(min(args.limit, len(train))))
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True)
    device = torch.device(args.device)
    model = VAE().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"VAE on {device}, {len(train)} MNIST images, {args.epochs} epochs", flush=True)
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        total, n = 0.0, 0
        for x, _ in loader:
            x = x.to(device)
            logits, q = model(x)
            loss = loss_function(logits, x, q)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * x.shape[0]
            n += x.shape[0]
        history.append(total / n)
        print(f"epoch {epoch}/{args.epochs}  loss (negative ELBO per image) {total / n:.2f}  "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    with torch.no_grad():
        x, _ = next(iter(loader))
        x = x[:8].to(device)
        recon = model.decode(model.encode(x.view(-1, 784))[0]).sigmoid().view(-1, 1, 28, 28)
        save_image(torch.cat([x, recon]).cpu(), os.path.join(args.out, "vae_recon.png"), nrow=8)
        samples = model.decode(torch.randn(64, 20, device=device)).sigmoid().view(-1, 1, 28, 28)
        save_image(samples.cpu(), os.path.join(args.out, "vae_samples.png"), nrow=8)
    print(f"wrote {os.path.join(args.out, 'vae_recon.png')} and "
          f"{os.path.join(args.out, 'vae_samples.png')}", flush=True)
    return {"history": history}


if __name__ == "__main__":
    main()
