"""The seed articles' code examples, run under torch and under ember from the same initial
weights on generated data; their loss curves must agree to 1e-4 relative.

Each program is written once against the torch API and handed the library modules (``torch``
or ``ember`` and their nn / functional / optim / data modules), as the seeds would import them.
Departures from the articles' text, where their code does not run as printed: the undefined
``trainloader``/``train_loader`` is a DataLoader over generated data, the CNN imports
``torch.nn.functional as F``, and the MNIST MLP (article 004) flattens its images before
``fc1`` (as printed it feeds (N, 1, 28, 28) to Linear(784, ...), which torch rejects too).
"""
from __future__ import annotations

import gzip
import struct
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
import torch.utils.data as tud

import ember
import ember.nn.functional as EF
import ember.utils.data as eud

RTOL = 1e-4


def _libs(which: str) -> types.SimpleNamespace:
    if which == "torch":
        return types.SimpleNamespace(torch=torch, nn=torch.nn, F=TF, optim=torch.optim,
                                     data=tud)
    import ember.nn
    import ember.optim
    return types.SimpleNamespace(torch=ember, nn=ember.nn, F=EF, optim=ember.optim, data=eud)


def _copy_weights(src_model, dst_model, dst_lib) -> None:
    """Copy parameters torch -> ember through NumPy, by name."""
    src = dict(src_model.named_parameters())
    dst = dict(dst_model.named_parameters())
    assert list(src) == list(dst)
    with dst_lib.no_grad():
        for name, p in dst.items():
            p.copy_(dst_lib.from_numpy(src[name].detach().numpy().copy()))


def _data(n: int, shape: tuple, classes: int = 10, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    centers = rng.standard_normal((classes,) + shape).astype(np.float32)
    x = centers[y] + 0.8 * rng.standard_normal((n,) + shape).astype(np.float32)
    return x, y.astype(np.int64)


def _loader(L, x, y, batch_size):
    ds = L.data.TensorDataset(L.torch.from_numpy(x.copy()), L.torch.from_numpy(y.copy()))
    return L.data.DataLoader(ds, batch_size=batch_size, shuffle=False)


# ---------------------------------------------------------------------- the seeds' models
def seed_mlp(L):
    """Articles 000/001/003: the 784-128-10 MLP."""
    torch, nn = L.torch, L.nn

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.fc1 = nn.Linear(784, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = torch.relu(x)
            x = self.fc2(x)
            output = x
            return output

    return Net()


def seed_cnn(L):
    """Article 002: conv(3->32), conv(32->64), fc(64*6*6 -> 128 -> 10) on 24x24 inputs."""
    nn, F = L.nn, L.F

    class CNN(nn.Module):
        def __init__(self):
            super(CNN, self).__init__()
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
            x = self.fc2(x)
            return x

    return CNN()


def seed_mlp_relu_module(L, input_size=784, hidden_size=128, output_size=10):
    """Article 004: MLP with an nn.ReLU module."""
    nn = L.nn

    class MLP(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super(MLP, self).__init__()
            self.fc1 = nn.Linear(input_size, hidden_size)
            self.relu = nn.ReLU()
            self.fc2 = nn.Linear(hidden_size, output_size)

        def forward(self, x):
            x = self.fc1(x)
            x = self.relu(x)
            x = self.fc2(x)
            return x

    return MLP(input_size, hidden_size, output_size)


# ---------------------------------------------------------------------- the seeds' loops
def train_sgd_running_loss(L, net, trainloader, epochs):
    """Articles 000/001: SGD(lr=0.01, momentum=0.9), per-epoch running loss."""
    nn, optim = L.nn, L.optim
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    curve = []
    for epoch in range(epochs):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            curve.append(loss.item())
        curve.append(running_loss / len(trainloader))
    return curve


def train_cnn(L, model, train_loader, epochs):
    """Article 002: loss, zero_grad, backward, step (SGD lr 0.01, momentum 0.9)."""
    nn, optim = L.nn, L.optim
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    curve = []
    for epoch in range(epochs):
        for i, (images, labels) in enumerate(train_loader):
            outputs = model(images)
            loss = criterion(outputs, labels)

            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            curve.append(loss.item())
    return curve


def train_adam(L, model, train_loader, epochs, flatten=False):
    """Article 004: CrossEntropyLoss + Adam(lr=0.001)."""
    nn, optim = L.nn, L.optim
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    curve = []
    for epoch in range(epochs):
        for i, (images, labels) in enumerate(train_loader):
            if flatten:
                images = images.view(images.size(0), -1)
            optimizer.zero_grad()
            outputs = model(images)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            curve.append(loss.item())
    return curve


def _compare(build, train, x, y, batch_size, epochs, **kw):
    T, E = _libs("torch"), _libs("ember")
    torch.manual_seed(0)
    t_model = build(T)
    e_model = build(E)
    _copy_weights(t_model, e_model, ember)
    t_curve = train(T, t_model, _loader(T, x, y, batch_size), epochs, **kw)
    e_curve = train(E, e_model, _loader(E, x, y, batch_size), epochs, **kw)
    np.testing.assert_allclose(e_curve, t_curve, rtol=RTOL, atol=0)
    assert t_curve[-1] < t_curve[0]  # the programs do learn on this data
    return t_curve


def test_seed_mlp_sgd_momentum():
    x, y = _data(192, (1, 28, 28), seed=1)
    _compare(seed_mlp, train_sgd_running_loss, x, y, batch_size=32, epochs=3)


def test_seed_cnn_24x24():
    x, y = _data(48, (3, 24, 24), seed=2)
    _compare(seed_cnn, train_cnn, x, y, batch_size=16, epochs=2)


def test_seed_mlp_adam():
    x, y = _data(160, (784,), seed=3)
    _compare(seed_mlp_relu_module, train_adam, x, y, batch_size=32, epochs=3)


def _write_idx(path, arr):
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_seed_mnist_mlp_with_transforms(tmp_path):
    """Article 004's MNIST program: torchvision-style datasets/transforms on generated IDX
    files under ember; torch (no torchvision here) gets the same images through the
    documented ToTensor/Normalize arithmetic."""
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 10, size=256).astype(np.uint8)
    protos = rng.integers(0, 256, size=(10, 28, 28))
    images = np.clip(protos[labels] + rng.integers(-60, 60, size=(256, 28, 28)), 0, 255)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, sl in (("train", slice(0, 192)), ("t10k", slice(192, 256))):
        _write_idx(str(raw / f"{split}-images-idx3-ubyte.gz"), images[sl])
        _write_idx(str(raw / f"{split}-labels-idx1-ubyte.gz"), labels[sl])

    from ember.utils.data import DataLoader
    from ember.vision import datasets, transforms
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    train_set = datasets.MNIST(str(tmp_path), train=True, download=True, transform=transform)
    train_loader = DataLoader(train_set, batch_size=64, shuffle=False)
    test_set = datasets.MNIST(str(tmp_path), train=False, transform=transform)
    test_loader = DataLoader(test_set, batch_size=64, shuffle=False)
    assert len(train_set) == 192 and len(test_set) == 64

    T, E = _libs("torch"), _libs("ember")
    torch.manual_seed(0)
    t_model = seed_mlp_relu_module(T)
    e_model = seed_mlp_relu_module(E)
    _copy_weights(t_model, e_model, ember)

    x = images[:192].astype(np.float32)[:, None] / np.float32(255)
    x = (x - np.float32(0.5)) / np.float32(0.5)
    t_loader = tud.DataLoader(tud.TensorDataset(torch.from_numpy(x),
                                                torch.from_numpy(labels[:192].astype(np.int64))),
                              batch_size=64, shuffle=False)
    t_curve = train_adam(T, t_model, t_loader, 3, flatten=True)
    e_curve = train_adam(E, e_model, train_loader, 3, flatten=True)
    np.testing.assert_allclose(e_curve, t_curve, rtol=RTOL, atol=0)
    assert t_curve[-1] < t_curve[0]

    correct = 0
    with ember.no_grad():
        for imgs, lbls in test_loader:
            correct += (e_model(imgs.view(imgs.size(0), -1)).argmax(1) == lbls).sum().item()
    with torch.no_grad():
        xt = (images[192:].astype(np.float32)[:, None] / np.float32(255) - 0.5) / 0.5
        t_pred = t_model(torch.from_numpy(xt.astype(np.float32)).view(64, -1)).argmax(1)
    assert correct == int((t_pred.numpy() == labels[192:]).sum())


@pytest.mark.parametrize("workers", [2])
def test_seed_mlp_with_dataloader_workers(workers):
    """The MLP loop with num_workers=2 gives torch's curve (workers change nothing)."""
    x, y = _data(128, (1, 28, 28), seed=5)
    T, E = _libs("torch"), _libs("ember")
    torch.manual_seed(0)
    t_model, e_model = seed_mlp(T), seed_mlp(E)
    _copy_weights(t_model, e_model, ember)
    t_curve = train_sgd_running_loss(T, t_model, _loader(T, x, y, 32), 2)
    e_ds = eud.TensorDataset(ember.from_numpy(x.copy()), ember.from_numpy(y.copy()))
    e_curve = train_sgd_running_loss(E, e_model, eud.DataLoader(e_ds, batch_size=32,
                                                                num_workers=workers), 2)
    np.testing.assert_allclose(e_curve, t_curve, rtol=RTOL, atol=0)

