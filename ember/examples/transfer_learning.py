"""Transfer learning with a torchvision-style ResNet-18: ``python -m
ember.examples.transfer_learning``.

The example writes a small image folder (three classes of generated pictures: discs, squares
and stripes, in ``root/train/<class>/*.png`` and ``root/val/<class>/*.png``), reads it with
``ImageFolder`` and augmentation transforms, freezes the backbone (``requires_grad_(False)``),
replaces the classifier head (``model.fc``) with a new ``Linear`` and fine-tunes only the head.

Pretrained weights: ``--weights DEFAULT`` loads ``ResNet18_Weights.IMAGENET1K_V1`` from the local
cache folder (``$TORCH_HOME/hub/checkpoints/resnet18-f37072fd.pth``; nothing is downloaded) and
``--weights PATH`` a checkpoint file; without them the backbone keeps its random initialisation,
which still gives the head usable features on these simple pictures. ``--device cuda`` (the
default when a GPU is present) trains on the GPU.
"""
from __future__ import annotations

import argparse
import os
from typing import Dict, Optional, Sequence

import numpy as np

import ember as torch
import ember.nn as nn
import ember.optim as optim
from ember.utils.data import DataLoader
from ember.vision import datasets, models, transforms
from ember.vision._png import write_png

CLASSES = ("discs", "squares", "stripes")


def _picture(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One RGB uint8 picture of ``kind`` with random colours, position and scale."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    background = rng.integers(0, 100, 3)
    colour = rng.integers(130, 256, 3)
    img = np.empty((size, size, 3), np.float32)
    img[:] = background
    cy, cx = rng.uniform(0.3, 0.7, 2) * size
    r = rng.uniform(0.15, 0.3) * size
    if kind == "discs":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    elif kind == "squares":
        mask = (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r)
    else:
        period = rng.uniform(0.15, 0.3) * size
        mask = ((xx + yy * rng.uniform(-0.5, 0.5)) % period) < period / 2
    img[mask] = colour
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_image_folder(root: str, per_class: int = 24, size: int = 48, seed: int = 0) -> None:
    """Write ``root/{train,val}/<class>/<i>.png`` (val gets a third as many images)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", per_class), ("val", max(1, per_class // 3))):
        for kind in CLASSES:
            folder = os.path.join(root, split, kind)
            os.makedirs(folder, exist_ok=True)
            for i in range(n):
                with open(os.path.join(folder, f"{i:03d}.png"), "wb") as f:
                    write_png(f, _picture(kind, size, rng))


def build_model(num_classes: int, weights: Optional[str]) -> nn.Module:
    """ResNet-18 with a frozen backbone and a new trainable ``fc`` head."""
    model = models.resnet18(weights=weights)
    model.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, num_classes)  # new layers require grad
    return model


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default="./data/transfer_learning")
    p.add_argument("--weights", default=None,
                   help="DEFAULT / IMAGENET1K_V1 (from the local cache) or a .pth path")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--size", type=int, default=64, help="training crop side")
    p.add_argument("--per-class", type=int, default=24)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cpu or cuda (default: cuda when a GPU and CuPy are present)")
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    make_image_folder(args.root, per_class=args.per_class, size=args.size + args.size // 4,
                      seed=args.seed)

    normalize = transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    train_tf = transforms.Compose([
        transforms.RandomCrop(args.size), transforms.RandomHorizontalFlip(),
        transforms.ToTensor(), normalize])
    val_tf = transforms.Compose([transforms.CenterCrop(args.size), transforms.ToTensor(),
                                 normalize])
    train_set = datasets.ImageFolder(os.path.join(args.root, "train"), transform=train_tf)
    val_set = datasets.ImageFolder(os.path.join(args.root, "val"), transform=val_tf)
    train_loader = DataLoader(train_set, batch_size=16, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=32)

    device = torch.device(args.device)
    model = build_model(len(train_set.classes), args.weights).to(device)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    head_params = sum(p.numel() for p in model.fc.parameters())
    optimizer = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=args.lr,
                          momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    losses = []
    for epoch in range(args.epochs):
        total, count = 0.0, 0
        # As in PyTorch's fine-tuning tutorial: train mode while training (BatchNorm uses the
        # batch's statistics, which also adapts its running averages to the new images).
        model.train()
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            count += len(labels)
        losses.append(total / count)
        correct = 0
        model.eval()
        with torch.no_grad():
            for images, labels in val_loader:
                images, labels = images.to(device), labels.to(device)
                correct += (model(images).argmax(1) == labels).sum().item()
        accuracy = correct / len(val_set)
        if not args.quiet:
            print(f"epoch {epoch + 1}: train loss {losses[-1]:.4f}  val accuracy "
                  f"{accuracy:.3f}  (trainable parameters {trainable} of "
                  f"{sum(p.numel() for p in model.parameters())})")
    return {"first_loss": losses[0], "final_loss": losses[-1], "accuracy": accuracy,
            "trainable": trainable, "head_params": head_params}


if __name__ == "__main__":
    main()
