"""ember: PyTorch's API on NumPy (CPU) and CuPy (GPU). ``import ember as torch``."""
from __future__ import annotations

__version__ = "0.1.0"

from . import ops  # noqa: F401  (registers the primitives)
from .backend.device import device
from .backend.dtypes import (bfloat16, bool_ as bool, complex64, complex128, dtype, float16,
                             float32, float64, get_default_dtype, int8, int16, int32, int64,
                             promote_types, set_default_dtype, uint8)
from .tensor import Size, Tensor
from . import _tensor_methods  # noqa: F401  (binds methods onto Tensor)
from .creation import get_default_device, set_default_device
from .creation import (arange, as_tensor, asarray, bernoulli, empty, empty_like, eye,
                       from_numpy, full, full_like, is_tensor, linspace, logspace, multinomial,
                       normal, numel, ones, ones_like, poisson, rand, rand_like, randint,
                       randint_like, randn, randn_like, randperm, scalar_tensor, tensor, zeros,
                       zeros_like)
from .functional import *  # noqa: F401,F403
from .functional import (abs, all, any, max, min, pow, round, sum)  # noqa: F401  (shadow builtins)
from .functional_extra import *  # noqa: F401,F403
from .functional_more import *  # noqa: F401,F403
from .functional_last import *  # noqa: F401,F403
from ._torch_nn_aliases import *  # noqa: F401,F403
from ._dlpack import from_dlpack  # noqa: F401  (also binds Tensor.__dlpack__)
from ._complex import (angle, complex, conj, conj_physical, imag, is_conj,  # noqa: F401
                       polar, real, resolve_conj, resolve_neg, view_as_complex, view_as_real)
from ._spectral import (bartlett_window, blackman_window, hamming_window,  # noqa: F401
                        hann_window, istft, kaiser_window, stft)
from .random import Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed
from .random import set_rng_state
from . import autograd
from .autograd import enable_grad, inference_mode, no_grad, set_grad_enabled
from .autograd.grad_mode import (is_anomaly_enabled, is_grad_enabled,
                                 is_inference_mode_enabled)
from ._repr import set_printoptions
from .amp.autocast_mode import (autocast, autocast_decrement_nesting,  # noqa: F401
                                autocast_increment_nesting, clear_autocast_cache,
                                get_autocast_cpu_dtype, get_autocast_dtype,
                                get_autocast_gpu_dtype, is_autocast_cache_enabled,
                                is_autocast_cpu_enabled, is_autocast_enabled,
                                set_autocast_cache_enabled, set_autocast_cpu_dtype,
                                set_autocast_cpu_enabled, set_autocast_dtype,
                                set_autocast_enabled, set_autocast_gpu_dtype)
from .amp.grad_scaler import GradScaler  # noqa: F401
from ._lazy_linalg import *  # noqa: F401,F403  (torch.svd, torch.inverse, ... on first use)

half = float16
float = float32
double = float64
long = int64
int = int32
short = int16
cfloat = complex64
cdouble = complex128
strided = "torch.strided"
contiguous_format = "torch.contiguous_format"
channels_last = "torch.channels_last"
preserve_format = "torch.preserve_format"
FloatTensor = DoubleTensor = LongTensor = Tensor


def is_floating_point(t: Tensor) -> bool:
    return t.is_floating_point()


def is_complex(t: Tensor) -> bool:
    return t.is_complex()


def result_type(a, b):
    from .functional import _result_dtype
    from .backend.dtypes import result_type_scalar, scalar_dtype
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return _result_dtype(a, b)
    if isinstance(a, Tensor):
        return result_type_scalar(a.dtype, b)
    if isinstance(b, Tensor):
        return result_type_scalar(b.dtype, a)
    return promote_types(scalar_dtype(a), scalar_dtype(b))


def can_cast(from_: dtype, to: dtype) -> bool:
    return from_.category <= to.category


def is_nonzero(t: Tensor) -> bool:
    return bool(t)


def compile(model=None, **kwargs):
    """``torch.compile``: on CUDA, capture the step as a CUDA graph (see ember._compile)."""
    from ._compile import compile as _compile
    return _compile(model, **kwargs)


def set_float32_matmul_precision(precision: str) -> None:
    """``"highest"`` keeps float32 matrix products in float32; ``"high"`` and ``"medium"`` let
    them use TF32 on CUDA (as ``backends.cuda.matmul.allow_tf32 = True``)."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision {precision!r}: expected 'highest', 'high' or "
                           "'medium'")
    from . import backends
    backends.cuda.matmul.allow_tf32 = precision != "highest"
    _MATMUL_PRECISION[0] = precision


_MATMUL_PRECISION = ["highest"]


def get_float32_matmul_precision() -> str:
    from .cuda import blas
    if blas.ALLOW_TF32[0] and _MATMUL_PRECISION[0] == "highest":
        return "high"  # allow_tf32 was set directly, as torch reports it
    return _MATMUL_PRECISION[0] if blas.ALLOW_TF32[0] else "highest"


def __getattr__(name: str):
    # Lazily import the heavier subpackages so `import ember` stays fast.
    import importlib
    lazy = {"nn", "optim", "utils", "cuda", "jit", "onnx", "distributions", "vision",
            "distributed", "backends", "amp", "linalg", "fft", "special", "testing",
            "serialization", "profiler", "hub", "data", "examples", "cpu", "func",
            "overrides"}
    if name in lazy:
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{name}":
                raise AttributeError(f"ember does not implement torch.{name} yet") from None
            raise
    if name == "vmap":  # torch.vmap is torch.func.vmap
        return importlib.import_module(".func", __name__).vmap
    if name in ("save", "load"):
        mod = importlib.import_module(".serialization", __name__)
        return getattr(mod, name)
    raise AttributeError(f"ember does not implement torch.{name} yet")
