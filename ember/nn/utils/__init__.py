"""``torch.nn.utils``: gradient clipping and parameter/vector conversion."""
from .clip_grad import clip_grad_norm_, clip_grad_value_  # noqa: F401
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from . import rnn  # noqa: F401
from . import parametrizations, parametrize, prune, stateless  # noqa: F401
from ._misc import (clip_grads_with_norm_, convert_conv2d_weight_memory_format,  # noqa: F401
                    convert_conv3d_weight_memory_format, get_total_norm, skip_init)
from .clip_grad import clip_grad_norm  # noqa: F401
from .fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval,  # noqa: F401
                     fuse_linear_bn_weights)
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401
