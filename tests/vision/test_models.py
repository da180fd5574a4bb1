"""ember.vision.models: every architecture builds with torchvision's published parameter
count, runs forward and backward at a small size; weight enums, the local cache and loading
torch-written checkpoints; ResNet-18 against the same network written in torch.nn."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.nn as tnn

import ember
from ember import nn
from ember.vision import models
from ember.vision.models import _api

# num_params of each builder's default weights, as torchvision's model docs publish them.
PUBLISHED_NUM_PARAMS = {
    "resnet18": 11689512, "resnet34": 21797672, "resnet50": 25557032,
    "resnet101": 44549160, "resnext50_32x4d": 25028904, "wide_resnet50_2": 68883240,
    "vgg11": 132863336, "vgg11_bn": 132868840, "vgg13": 133047848, "vgg13_bn": 133053736,
    "vgg16": 138357544, "vgg16_bn": 138365992, "vgg19": 143667240, "vgg19_bn": 143678248,
    "alexnet": 61100840, "squeezenet1_1": 1235496, "densenet121": 7978856,
    "mobilenet_v2": 3504872, "mobilenet_v3_small": 2542856, "mobilenet_v3_large": 5483032,
    "efficientnet_b0": 5288548, "googlenet": 6624904, "inception_v3": 27161264,
    "shufflenet_v2_x1_0": 2278604, "regnet_y_400mf": 4344144, "vit_b_16": 86567656,
    "convnext_tiny": 28589128,
}
# The published weights of GoogLeNet come without the auxiliary heads; Inception v3's count
# includes its AuxLogits head.
BUILD_KW = {"googlenet": {"aux_logits": False, "init_weights": True},
            "inception_v3": {"aux_logits": True, "init_weights": True}}

# (input side, extra kwargs) for the small forward/backward runs.
SMALL = {"vgg11": 32, "vgg11_bn": 32, "vgg13": 32, "vgg13_bn": 32, "vgg16": 32,
         "vgg16_bn": 32, "vgg19": 32, "vgg19_bn": 32, "alexnet": 64, "inception_v3": 75,
         "googlenet": 32, "densenet121": 32, "vit_b_16": 32}
TRAIN_KW = {"googlenet": {"aux_logits": False, "init_weights": True},
            "inception_v3": {"aux_logits": False, "init_weights": True},
            "vit_b_16": {"image_size": 32}}


@pytest.fixture
def no_init(monkeypatch):
    """Parameter counts do not depend on values: skip the random fills (seconds for VGG)."""
    from ember.nn import init
    for name in ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
                 "xavier_uniform_", "xavier_normal_", "constant_", "ones_", "zeros_"):
        monkeypatch.setattr(init, name, lambda t, *a, **k: t)


def test_every_issue_architecture_is_registered():
    assert set(PUBLISHED_NUM_PARAMS) <= set(models.list_models())
    assert models.list_models(include="vgg1?") == ["vgg11", "vgg13", "vgg16", "vgg19"]


@pytest.mark.parametrize("name", sorted(PUBLISHED_NUM_PARAMS))
def test_parameter_count_matches_torchvision(name, no_init):
    model = models.get_model(name, **BUILD_KW.get(name, {}))
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_NUM_PARAMS[name]
    weights = models.get_model_weights(name).DEFAULT
    assert weights.meta["num_params"] == PUBLISHED_NUM_PARAMS[name]


SKIP_TRAIN_HEAVY = {"vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
                    "resnet101", "wide_resnet50_2"}


@pytest.mark.parametrize("name", sorted(set(PUBLISHED_NUM_PARAMS) - SKIP_TRAIN_HEAVY))
def test_forward_backward_small(name):
    ember.manual_seed(0)
    side = SMALL.get(name, 32)
    model = models.get_model(name, num_classes=5, **TRAIN_KW.get(name, {}))
    x = ember.randn(2, 3, side, side)
    out = model(x)
    assert tuple(out.shape) == (2, 5)
    out.square().sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    assert all(np.isfinite(g.numpy()).all() for g in grads)
    model.eval()
    with ember.no_grad():
        y1 = model(x)
        y2 = model(x)
    assert np.array_equal(y1.numpy(), y2.numpy())  # eval mode is deterministic


@pytest.mark.parametrize("name", sorted(SKIP_TRAIN_HEAVY))
def test_forward_heavy_variants(name, no_init):
    # Same blocks as their smaller siblings (tested with backward): one eval forward is enough.
    model = models.get_model(name, num_classes=3).eval()
    with ember.no_grad():
        out = model(ember.zeros(1, 3, 32, 32))
    assert tuple(out.shape) == (1, 3)


def test_auxiliary_heads_in_training_mode():
    g = models.googlenet(num_classes=4, init_weights=True)
    out = g(ember.randn(2, 3, 64, 64))
    assert type(out).__name__ == "GoogLeNetOutputs" and tuple(out.aux_logits1.shape) == (2, 4)
    (out.logits.sum() + out.aux_logits1.sum() + out.aux_logits2.sum()).backward()
    inc = models.inception_v3(num_classes=4, init_weights=True)
    assert tuple(inc.AuxLogits(ember.randn(2, 768, 17, 17)).shape) == (2, 4)
    assert inc.eval()(ember.randn(1, 3, 75, 75)).shape == (1, 4)


def test_stochastic_depth_and_ops():
    from ember.vision.ops import StochasticDepth, stochastic_depth
    x = ember.ones(1000, 3)
    sd = StochasticDepth(0.25, "row")
    y = sd(x).numpy()
    kept = (y[:, 0] != 0).mean()
    assert 0.68 < kept < 0.82 and np.allclose(y[y != 0], 1 / 0.75)
    assert (y == y[:, :1]).all()  # a whole row is kept or dropped
    assert np.array_equal(sd.eval()(x).numpy(), x.numpy())
    assert repr(sd) == "StochasticDepth(p=0.25, mode=row)"
    with pytest.raises(ValueError):
        stochastic_depth(x, 1.5, "row")
    with pytest.raises(ValueError):
        stochastic_depth(x, 0.5, "col")


# ----------------------------------------------------------------- weights and the cache
def test_weights_enums_and_registry():
    w = models.ResNet50_Weights
    assert w.DEFAULT is w.IMAGENET1K_V2
    assert w.verify("IMAGENET1K_V1") is w.IMAGENET1K_V1
    assert w.verify("ResNet50_Weights.DEFAULT") is w.IMAGENET1K_V2
    assert models.get_weight("ResNet50_Weights.IMAGENET1K_V1") is w.IMAGENET1K_V1
    assert models.get_model_weights("resnet50") is w
    assert models.get_model_weights(models.resnet50) is w
    assert repr(w.IMAGENET1K_V1) == "ResNet50_Weights.IMAGENET1K_V1"
    assert models.ResNet18_Weights.IMAGENET1K_V1.url == \
        "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert models.Inception_V3_Weights.DEFAULT.file_name == "inception_v3_google-0cc3c7bd.pth"
    with pytest.raises(ValueError):
        w.verify("IMAGENET1K_V9")
    with pytest.raises(TypeError):
        models.resnet50(weights=models.ResNet18_Weights.DEFAULT)
    with pytest.raises(ValueError):
        models.get_model("resnet9000")


def test_transforms_preset():
    t = models.ResNet50_Weights.IMAGENET1K_V2.transforms()
    assert t.resize_size == [232] and t.crop_size == [224]
    img = ember.randint(0, 256, (3, 300, 260), dtype=ember.uint8)
    out = t(img)
    assert out.dtype == ember.float32 and tuple(out.shape) == (3, 224, 224)
    t2 = models.Inception_V3_Weights.DEFAULT.transforms()
    assert tuple(t2(ember.rand(3, 400, 350)).shape) == (3, 299, 299)
    assert "crop_size=[224]" in t.describe()


def test_missing_cache_file_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("EMBER_HOME", raising=False)
    with pytest.raises(FileNotFoundError) as e:
        models.resnet18(weights="DEFAULT")
    msg = str(e.value)
    assert "resnet18-f37072fd.pth" in msg
    assert os.path.join(str(tmp_path), "hub", "checkpoints") in msg
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        models.resnet18(weights=str(tmp_path / "nowhere.pth"))


def _torch_save(state, path):
    torch.save({k: torch.from_numpy(v.numpy().copy()) for k, v in state.items()}, str(path))


def test_load_from_cache_and_path(tmp_path, monkeypatch):
    ember.manual_seed(1)
    src = models.resnet18()
    # Non-trivial BN statistics so a wrong load would show.
    for m in src.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(ember.randn(m.num_features) * 0.1)
            m.running_var.copy_(ember.rand(m.num_features) + 0.5)
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    _torch_save(src.state_dict(), folder / "resnet18-f37072fd.pth")
    monkeypatch.setenv("EMBER_HOME", str(tmp_path))
    x = ember.randn(1, 3, 64, 64)
    ref = src.eval()(x).detach().numpy()
    a = models.resnet18(weights=models.ResNet18_Weights.IMAGENET1K_V1).eval()
    b = models.resnet18(weights=str(folder / "resnet18-f37072fd.pth")).eval()
    np.testing.assert_array_equal(a(x).detach().numpy(), ref)
    np.testing.assert_array_equal(b(x).detach().numpy(), ref)
    with pytest.raises(ValueError, match="num_classes"):
        models.resnet18(weights="DEFAULT", num_classes=10)
    # check_hash: the random file does not carry the published digest.
    with pytest.raises(RuntimeError, match="invalid hash"):
        models.ResNet18_Weights.DEFAULT.get_state_dict(check_hash=True)


def test_old_style_checkpoint_keys_are_renamed(tmp_path):
    # DenseNet's published file uses "norm.1"-style names; ViT's pre-0.14 files "linear_1".
    ember.manual_seed(2)
    src = models.densenet121(num_classes=4)
    state = {}
    for k, v in src.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue  # the old files predate this buffer; loading fills it with 0 like torch
        for a in ("norm", "relu", "conv"):
            for i in ("1", "2"):
                if ".denselayer" in k and f".{a}{i}." in k:
                    k = k.replace(f".{a}{i}.", f".{a}.{i}.")
        state[k] = v
    assert any(".norm.1." in k for k in state)
    _torch_save(state, tmp_path / "d.pth")
    dst = models.densenet121(num_classes=4, weights=str(tmp_path / "d.pth"))
    x = ember.randn(1, 3, 32, 32)
    np.testing.assert_array_equal(dst.eval()(x).detach().numpy(),
                                  src.eval()(x).detach().numpy())

    vit = models.vit_b_16(image_size=32, num_classes=3)
    vit_state = {k.replace("mlp.0.", "mlp.linear_1.").replace("mlp.3.", "mlp.linear_2."): v
                 for k, v in vit.state_dict().items()}
    assert any("linear_1" in k for k in vit_state)
    other = models.vit_b_16(image_size=32, num_classes=3)
    other.load_state_dict(vit_state, strict=True)
    np.testing.assert_array_equal(other.encoder.layers[0].mlp[0].weight.detach().numpy(),
                                  vit.encoder.layers[0].mlp[0].weight.detach().numpy())


# ------------------------------------------------- ResNet-18 against the same net in torch
class _TBasic(tnn.Module):
    def __init__(self, cin, cout, stride):
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


def torch_resnet18(num_classes=1000):
    """ResNet-18 in plain torch.nn with torchvision's names (torchvision is not installed)."""
    m = tnn.Module()
    m.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
    m.bn1 = tnn.BatchNorm2d(64)
    m.relu = tnn.ReLU(inplace=True)
    m.maxpool = tnn.MaxPool2d(3, 2, 1)
    cin = 64
    for i, c in enumerate([64, 128, 256, 512]):
        stride = 1 if i == 0 else 2
        setattr(m, f"layer{i + 1}", tnn.Sequential(_TBasic(cin, c, stride), _TBasic(c, c, 1)))
        cin = c
    m.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
    m.fc = tnn.Linear(512, num_classes)

    def forward(x):
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
        return m.fc(torch.flatten(m.avgpool(x), 1))
    m.forward = forward
    return m


def test_resnet18_matches_torch_module_tree_and_outputs():
    torch.manual_seed(0)
    ref = torch_resnet18(num_classes=10)
    with torch.no_grad():
        for mod in ref.modules():
            if isinstance(mod, tnn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.1)
    tstate = ref.state_dict()
    model = models.resnet18(num_classes=10)
    estate = model.state_dict()
    assert list(estate) == list(tstate)
    assert all(tuple(estate[k].shape) == tuple(tstate[k].shape) for k in tstate)
    model.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tstate.items()}, strict=True)
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    ref.eval()
    model.eval()
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
    got = model(ember.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # Training mode: same loss gradients on the first conv.
    ref.train()
    model.train()
    tx = torch.from_numpy(x)
    ref(tx).square().mean().backward()
    model(ember.tensor(x)).square().mean().backward()
    np.testing.assert_allclose(model.conv1.weight.grad.numpy(), ref.conv1.weight.grad.numpy(),
                               rtol=1e-3, atol=1e-4)


def test_transfer_learning_example_runs(tmp_path):
    from ember.examples import transfer_learning
    result = transfer_learning.main(["--root", str(tmp_path / "imgs"), "--epochs", "2",
                                     "--lr", "0.003",
                                     "--size", "32", "--quiet"])
    assert result["trainable"] == result["head_params"]
    assert result["final_loss"] < result["first_loss"]


def test_api_helpers():
    assert _api._ovewrite_named_param({}, "a", 1) is None
    with pytest.raises(ValueError):
        _api._ovewrite_named_param({"a": 2}, "a", 1)
