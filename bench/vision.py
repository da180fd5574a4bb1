"""Model-zoo benchmark: ResNet-18 on the CPU, ember against torch in one run.

    python bench/vision.py            # inference batch 1 and 32 at 224x224, train step b32 64x64
    python bench/vision.py --profile  # also: where ember's time goes in the b32 training step
    python bench/vision.py --cuda     # on a GPU: ResNet-50 training throughput, b128 224x224

torchvision is not needed: the torch side is ResNet-18 written here in torch.nn with
torchvision's module names, loaded with the same weights as ember's
``ember.vision.models.resnet18``.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn as tnn  # noqa: E402

import ember  # noqa: E402
from common import compare, report  # noqa: E402
from ember.vision import models  # noqa: E402


class _TorchBasicBlock(tnn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False),
                                             tnn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchResNet18(tnn.Module):
    """torchvision's ResNet-18 tree in plain torch.nn (same state_dict keys)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, c in enumerate([64, 128, 256, 512]):
            blocks = [_TorchBasicBlock(cin, c, 1 if i == 0 else 2), _TorchBasicBlock(c, c, 1)]
            setattr(self, f"layer{i + 1}", tnn.Sequential(*blocks))
            cin = c
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def pair():
    torch.manual_seed(0)
    tm = TorchResNet18()
    em = models.resnet18()
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return em, tm


def cuda_resnet50(steps: int = 5) -> None:
    """ResNet-50 training images/s at batch 128, 224x224: torch eager in fp32 and in bf16
    autocast against ember eager and ember.compile in the same two precisions (on CUDA ember's
    bfloat16 is native 2-byte storage, and convolutions go through cuDNN when
    nvidia-cudnn-frontend is installed)."""
    import time
    import torchvision
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 3, 224, 224)).astype(np.float32)
    y = rng.integers(0, 1000, 128)

    def run(step_fn, sync, warmup=3):
        for _ in range(warmup):  # a compiled step captures on its 4th call
            step_fn()
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            step_fn()
        sync()
        return 128 * steps / (time.perf_counter() - t0)

    def make(lib, model, autocast=None):
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        crit = lib.nn.CrossEntropyLoss()
        xs, ys = lib.tensor(x).to("cuda"), lib.tensor(y).to("cuda")

        def step():
            opt.zero_grad()
            if autocast is not None:
                with lib.autocast("cuda", dtype=autocast):
                    loss = crit(model(xs), ys)
            else:
                loss = crit(model(xs), ys)
            loss.backward()
            opt.step()
        return step
    tm = torchvision.models.resnet50().cuda()
    res = {"torch fp32": run(make(torch, tm), torch.cuda.synchronize),
           "torch bf16": run(make(torch, tm, torch.bfloat16), torch.cuda.synchronize)}
    em = ember.vision.models.resnet50().to("cuda")
    for prec, ac in (("fp32", None), ("bf16", ember.bfloat16)):
        res[f"ember eager {prec}"] = run(make(ember, em, ac), ember.cuda.synchronize)
        res[f"ember.compile {prec}"] = run(ember.compile(make(ember, em, ac)),
                                           ember.cuda.synchronize, warmup=5)
    print(f"ResNet-50 train b128 224x224 images/s on {torch.cuda.get_device_name(0)}:")
    for name, v in res.items():
        base = res["torch " + name.split()[-1]]
        print(f"  {name:<22} {v:8.0f} images/s  {v / base:5.2f}x torch eager, same precision")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--cuda", action="store_true", help="ResNet-50 training on the GPU")
    args = ap.parse_args()
    if args.cuda:
        cuda_resnet50()
        return
    print(f"torch threads: {torch.get_num_threads()}")
    em, tm = pair()
    rng = np.random.default_rng(0)

    em.eval()
    tm.eval()
    for batch, number, repeat in ((1, 5, 5), (32, 1, 3)):
        x = rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)
        ex, tx = ember.tensor(x), torch.from_numpy(x)

        def e_inf():
            with ember.no_grad():
                return em(ex)

        def t_inf():
            with torch.no_grad():
                return tm(tx)
        np.testing.assert_allclose(e_inf().numpy(), t_inf().numpy(), rtol=1e-3, atol=1e-3)
        e, t = compare(e_inf, t_inf, number=number, repeat=repeat, warmup=1)
        report(f"resnet18 inference b{batch} 224x224", e, t)

    em.train()
    tm.train()
    x = rng.standard_normal((32, 3, 64, 64)).astype(np.float32)
    y = rng.integers(0, 1000, 32)
    ex, tx = ember.tensor(x), torch.from_numpy(x)
    ey, ty = ember.tensor(y), torch.from_numpy(y)
    eopt = ember.optim.SGD(em.parameters(), lr=0.01, momentum=0.9)
    topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
    eloss = ember.nn.CrossEntropyLoss()
    tloss = tnn.CrossEntropyLoss()

    def e_step():
        eopt.zero_grad()
        eloss(em(ex), ey).backward()
        eopt.step()

    def t_step():
        topt.zero_grad()
        tloss(tm(tx), ty).backward()
        topt.step()
    e, t = compare(e_step, t_step, number=1, repeat=5, warmup=1)
    report("resnet18 train step b32 64x64 (SGD)", e, t)

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(3):
            e_step()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
