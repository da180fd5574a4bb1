"""ember.vision.models: torchvision's classification architectures with its names.

Every builder takes torchvision's arguments (``weights=None``, ``progress``, ``num_classes``,
...), builds the same module tree (so ``state_dict()`` keys, shapes and order equal
torchvision's) and accepts ``weights=`` as a weights-enum member (``ResNet18_Weights.DEFAULT``,
loaded from the local cache folder, never downloaded), its name, or a path to a ``.pth`` file.
"""
from ._api import (Weights, WeightsEnum, get_model, get_model_builder,  # noqa: F401
                   get_model_weights, get_weight, list_models)
from .alexnet import *  # noqa: F401,F403
from .convnext import *  # noqa: F401,F403
from .densenet import *  # noqa: F401,F403
from .efficientnet import *  # noqa: F401,F403
from .googlenet import *  # noqa: F401,F403
from .inception import *  # noqa: F401,F403
from .mobilenetv2 import *  # noqa: F401,F403
from .mobilenetv3 import *  # noqa: F401,F403
from .regnet import *  # noqa: F401,F403
from .resnet import *  # noqa: F401,F403
from .shufflenetv2 import *  # noqa: F401,F403
from .squeezenet import *  # noqa: F401,F403
from .vgg import *  # noqa: F401,F403
from .vision_transformer import *  # noqa: F401,F403
from .mobilenetv2 import MobileNetV2  # noqa: F401
from .mobilenetv3 import MobileNetV3  # noqa: F401


def __getattr__(name: str):
    # torchvision exposes model families as submodules too (models.resnet.resnet18 ...);
    # those are plain submodules here. Anything else is not built yet.
    raise AttributeError(f"ember does not implement torchvision.models.{name} yet")
