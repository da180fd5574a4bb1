"""ember.vision.ops: torchvision.ops building blocks used by the model zoo.

``Conv2dNormActivation``, ``SqueezeExcitation``, ``MLP``, ``Permute`` and
``StochasticDepth``/``stochastic_depth`` with torchvision's names, arguments and module trees
(so state_dict keys of models built from them equal torchvision's).
"""
from .misc import MLP, Conv2dNormActivation, Permute, SqueezeExcitation  # noqa: F401
from .stochastic_depth import StochasticDepth, stochastic_depth  # noqa: F401

__all__ = ["Conv2dNormActivation", "MLP", "Permute", "SqueezeExcitation", "StochasticDepth",
           "stochastic_depth"]
