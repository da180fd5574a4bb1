"""torch's top-level linear-algebra functions (``torch.svd``, ``torch.inverse``, ...) and their
Tensor methods, importing ``ember.linalg`` only on first use: it pulls in SciPy-free but sizeable
code (and ``ember.distributions`` for its triangular solve), which ``import ember`` should not
pay for.
"""
from __future__ import annotations

from .tensor import Tensor

_NAMES = ("cholesky", "cholesky_inverse", "cholesky_solve", "det", "inverse", "logdet", "lu",
          "lu_solve", "lu_unpack", "matrix_exp", "matrix_power", "pinverse", "qr", "slogdet",
          "svd", "triangular_solve")
# Tensor methods of the same names (lu_unpack is a function only, as in torch).
_METHODS = tuple(n for n in _NAMES if n != "lu_unpack")


def _make(name: str):
    def fn(*args, **kwargs):
        from .linalg import _legacy
        return _legacy._TOP[name](*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}`` (ember.linalg, imported on first use)."
    return fn


for _name in _NAMES:
    globals()[_name] = _make(_name)
for _name in _METHODS:
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, globals()[_name])

__all__ = list(_NAMES)
