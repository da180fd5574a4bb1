"""A DCGAN (Radford et al., 2016) on 28x28 MNIST: ``python -m ember.examples.dcgan``.

Generator: z (32) -> Linear -> 64x7x7 -> ConvTranspose to 32x14x14 -> ConvTranspose to 1x28x28
with tanh; discriminator: conv 1->32->64 with stride 2 and LeakyReLU, then a linear logit.
BatchNorm in the generator, Adam(2e-4, betas=(0.5, 0.999)), the non-saturating GAN loss with
BCEWithLogits. Writes ``dcgan_samples.png`` (a fixed latent batch) after every epoch.
``--device cuda`` (the default when a GPU is present) trains on the GPU.
"""
from __future__ import annotations

import argparse
import os
import time
from typing import Sequence

import ember as torch
import ember.nn as nn
from ember.utils.data import DataLoader, Subset
from ember.vision import datasets, transforms
from ember.vision.utils import save_image


class Generator(nn.Module):
    def __init__(self, nz: int = 32) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(nz, 64 * 7 * 7), nn.BatchNorm1d(64 * 7 * 7),
                                nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.net(self.fc(z).view(-1, 64, 7, 7))


class Discriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 1))

    def forward(self, x):
        return self.net(x).view(-1)


def weights_init(m: nn.Module) -> None:
    """DCGAN's initialisation: N(0, 0.02) conv weights, N(1, 0.02) BatchNorm scales."""
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="Train a DCGAN on MNIST.")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--limit", type=int, default=8192, help="training images used (0: all)")
    p.add_argument("--nz", type=int, default=32)
    p.add_argument("--data", default="./data")
    p.add_argument("--out", default=".", help="folder for the PNG grid")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cpu or cuda (default: cuda when a GPU and CuPy are present)")
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    data = datasets.MNIST(args.data, train=True, download=True, transform=tf)
    if args.limit:
        data = Subset(data, range(min(args.limit, len(data))))
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True, drop_last=True)
    device = torch.device(args.device)
    G, D = Generator(args.nz).to(device), Discriminator().to(device)
    G.apply(weights_init)
    D.apply(weights_init)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    fixed = torch.randn(64, args.nz, device=device)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "dcgan_samples.png")
    print(f"DCGAN on {device}, {len(data)} MNIST images, {args.epochs} epochs", flush=True)
    history = []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        for i, (real, _) in enumerate(loader):
            real = real.to(device)
            b = real.shape[0]
            ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
            fake = G(torch.randn(b, args.nz, device=device))
            loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = bce(D(fake), ones)  # non-saturating generator loss
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            history.append((loss_d.item(), loss_g.item()))
            if i % 20 == 0:
                print(f"epoch {epoch} batch {i}/{len(loader)}  loss_D {loss_d.item():.3f}  "
                      f"loss_G {loss_g.item():.3f}", flush=True)
        G.eval()
        with torch.no_grad():
            save_image((G(fixed) * 0.5 + 0.5).cpu(), path, nrow=8)
        G.train()
        print(f"epoch {epoch}/{args.epochs} done ({time.perf_counter() - start:.1f} s); "
              f"wrote {path}", flush=True)
    return {"history": history}


if __name__ == "__main__":
    main()
