"""ember.vision.models against torchvision itself (runs only where torchvision imports).

For each architecture: torchvision builds it with random weights (BatchNorm statistics
randomised too), ``torch.save`` writes the state_dict, ember loads the file with
``strict=True`` (keys, order and shapes must agree), and the eval-mode outputs on the same input
agree to 1e-4. Small inputs and ``num_classes=10`` keep it fast on a CPU.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

import ember  # noqa: E402
from ember.vision import models as emodels  # noqa: E402

# name -> (input side, constructor kwargs shared by both libraries)
ARCHS = {
    "resnet18": (64, {}), "resnet34": (64, {}), "resnet50": (64, {}), "resnet101": (64, {}),
    "resnext50_32x4d": (64, {}), "wide_resnet50_2": (64, {}),
    "vgg11": (32, {}), "vgg11_bn": (32, {}), "vgg13": (32, {}), "vgg13_bn": (32, {}),
    "vgg16": (32, {}), "vgg16_bn": (32, {}), "vgg19": (32, {}), "vgg19_bn": (32, {}),
    "alexnet": (64, {}), "squeezenet1_1": (64, {}), "densenet121": (64, {}),
    "mobilenet_v2": (64, {}), "mobilenet_v3_small": (64, {}), "mobilenet_v3_large": (64, {}),
    "efficientnet_b0": (64, {}),
    "googlenet": (64, {"aux_logits": False, "init_weights": True}),
    "googlenet_aux": (64, {"aux_logits": True, "init_weights": True}),
    "inception_v3": (96, {"aux_logits": True, "init_weights": True}),
    "shufflenet_v2_x1_0": (64, {}), "regnet_y_400mf": (64, {}),
    "vit_b_16": (32, {"image_size": 32}), "convnext_tiny": (64, {}),
}


def _randomise_norm_stats(model) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
                if m.weight is not None:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.1)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
            if isinstance(m, torch.nn.Linear) and not m.weight.abs().sum():
                # ViT's head starts at zero: give it values so the output is not trivially 0.
                m.weight.normal_(0, 0.02)


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_torchvision_weights_load_and_outputs_agree(name, tmp_path):
    side, kwargs = ARCHS[name]
    builder = name.replace("_aux", "")
    torch.manual_seed(0)
    tv = torchvision.models.get_model(builder, weights=None, num_classes=10, **kwargs).eval()
    _randomise_norm_stats(tv)
    path = tmp_path / f"{builder}.pth"
    torch.save(tv.state_dict(), str(path))

    em = emodels.get_model(builder, num_classes=10, **kwargs).eval()
    tv_keys = [(k, tuple(v.shape)) for k, v in tv.state_dict().items()]
    em_keys = [(k, tuple(v.shape)) for k, v in em.state_dict().items()]
    assert em_keys == tv_keys
    em.load_state_dict(ember.load(str(path)), strict=True)

    x = np.random.default_rng(0).standard_normal((2, 3, side, side)).astype(np.float32)
    with torch.no_grad():
        want = tv(torch.from_numpy(x)).numpy()
    with ember.no_grad():
        got = em(ember.tensor(x)).numpy()
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale)


def test_weights_path_builder_argument(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(weights=None).eval()
    _randomise_norm_stats(tv)
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(tv.state_dict(), str(path))
    em = emodels.resnet18(weights=str(path)).eval()
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = tv(torch.from_numpy(x)).numpy()
    with ember.no_grad():
        got = em(ember.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_enum_metadata_matches_torchvision():
    for name in sorted({n.replace("_aux", "") for n in ARCHS}):
        tv_enum = torchvision.models.get_model_weights(name)
        em_enum = emodels.get_model_weights(name)
        assert tv_enum.__name__ == em_enum.__name__
        for member in tv_enum:
            mine = em_enum[member.name]
            assert mine.url == member.url, (name, member.name)
            assert mine.meta["num_params"] == member.meta["num_params"], (name, member.name)
        assert em_enum.DEFAULT.name == tv_enum.DEFAULT.name
