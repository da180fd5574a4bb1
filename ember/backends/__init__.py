"""``torch.backends``: flags accepted for compatibility (cudnn.benchmark, cuda.matmul.allow_tf32).

``cuda.matmul.allow_tf32 = True`` makes float32 matrix products on CUDA use TF32 tensor cores
(ember.cuda.blas picks cuBLAS's TF32 compute type). ``cudnn.enabled`` switches ember's cuDNN
convolution and attention paths (ember.cuda.cudnn) on and off; ``cudnn.allow_tf32`` (default
True, as in torch) lets float32 convolutions use TF32, and ``cudnn.deterministic`` keeps to
deterministic engines.
"""
from __future__ import annotations

import types

from . import _sdp


class _Matmul:
    def __init__(self):
        self._tf32 = False

    @property
    def allow_tf32(self) -> bool:
        return self._tf32

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        self._tf32 = bool(value)
        from ..cuda import blas  # no CuPy import: the flag is read at each product
        blas.ALLOW_TF32[0] = self._tf32

    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True


def _cudnn_available() -> bool:
    from ..cuda import cudnn as _dnn  # imports neither CuPy nor cuDNN until asked
    return _dnn.available()


def _cudnn_version():
    from ..cuda import cudnn as _dnn
    return _dnn.version() if _dnn.available() else None


# ember.cuda.cudnn reads enabled (False: im2col + cuBLAS convolutions and composite attention),
# allow_tf32 (float32 convolutions on TF32 tensor cores) and deterministic at each call.
cudnn = types.SimpleNamespace(benchmark=False, deterministic=False, enabled=True,
                              allow_tf32=True, is_available=_cudnn_available,
                              version=_cudnn_version)
cuda = types.SimpleNamespace(matmul=_Matmul(), is_built=lambda: True)
_sdp.attach(cuda)  # sdp flags, sdp_kernel, preferred_blas_library
mps = types.SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
mkldnn = types.SimpleNamespace(is_available=lambda: False, enabled=False)
openmp = types.SimpleNamespace(is_available=lambda: True)
