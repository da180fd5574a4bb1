"""``torch.backends``: flags accepted for compatibility (cudnn.benchmark, cuda.matmul.allow_tf32).

``cuda.matmul.allow_tf32 = True`` switches CuPy's float32 matmuls to TF32 (CUPY_TF32) where CuPy
is in use; the cudnn flags are recorded but ember's convolutions do not read them.
"""
from __future__ import annotations

import os
import types


class _Matmul:
    def __init__(self):
        self._tf32 = False

    @property
    def allow_tf32(self) -> bool:
        return self._tf32

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        self._tf32 = bool(value)
        os.environ["CUPY_TF32"] = "1" if value else "0"

    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True


cudnn = types.SimpleNamespace(benchmark=False, deterministic=False, enabled=True,
                              allow_tf32=True, is_available=lambda: False)
cuda = types.SimpleNamespace(matmul=_Matmul(), is_built=lambda: True)
mps = types.SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
mkldnn = types.SimpleNamespace(is_available=lambda: False, enabled=False)
openmp = types.SimpleNamespace(is_available=lambda: True)
