"""ember dtypes and torch's type-promotion rules.

bfloat16 has no NumPy dtype. On the CPU bfloat16 tensors keep their values in float32 arrays that
are rounded to bfloat16 precision (round-to-nearest-even) after every op; the Tensor's `dtype`
says bfloat16 while the array says float32 (NumPy computes with ml_dtypes' bfloat16 element by
element, many times slower). On CUDA, where halving the bytes moved is the point of bfloat16,
they are native 2-byte CuPy arrays of ``ml_dtypes.bfloat16`` when ml_dtypes is installed
(``bf16_storage()``), and float32 arrays as on the CPU otherwise.
"""
from __future__ import annotations

import numpy as np

__all__ = ["dtype", "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64",
           "uint8", "bool_", "from_numpy_dtype", "promote_types", "result_type_scalar",
           "get_default_dtype", "set_default_dtype", "round_bf16", "to_dtype_array",
           "bf16_storage", "is_bf16_array", "host_array"]

# Category order used by torch's promotion: bool < integral < floating < complex.
_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class dtype:
    """A tensor element type, named and behaving like ``torch.dtype``."""

    __slots__ = ("name", "np", "category", "itemsize", "is_signed")

    def __init__(self, name: str, np_dtype, category: int, itemsize: int, is_signed: bool):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = itemsize
        self.is_signed = is_signed

    @property
    def is_floating_point(self) -> bool:
        return self.category == _FLOAT

    @property
    def is_complex(self) -> bool:
        return self.category == _COMPLEX

    def __repr__(self) -> str:
        return "torch." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    def to_real(self) -> "dtype":
        return self


float16 = dtype("float16", np.float16, _FLOAT, 2, True)
bfloat16 = dtype("bfloat16", np.float32, _FLOAT, 2, True)
float32 = dtype("float32", np.float32, _FLOAT, 4, True)
float64 = dtype("float64", np.float64, _FLOAT, 8, True)
uint8 = dtype("uint8", np.uint8, _INT, 1, False)
int8 = dtype("int8", np.int8, _INT, 1, True)
int16 = dtype("int16", np.int16, _INT, 2, True)
int32 = dtype("int32", np.int32, _INT, 4, True)
int64 = dtype("int64", np.int64, _INT, 8, True)
bool_ = dtype("bool", np.bool_, _BOOL, 1, False)
complex64 = dtype("complex64", np.complex64, _COMPLEX, 8, True)
complex128 = dtype("complex128", np.complex128, _COMPLEX, 16, True)

ALL_DTYPES = (float16, bfloat16, float32, float64, uint8, int8, int16, int32, int64, bool_,
              complex64, complex128)
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NP = {d.np: d for d in ALL_DTYPES if d is not bfloat16}


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


_BF16_NP: list = []


def bf16_storage():
    """The NumPy dtype of native bfloat16 arrays (``ml_dtypes.bfloat16``), or None without
    ml_dtypes. Imported on first use: the CPU never needs it."""
    if not _BF16_NP:
        try:
            import ml_dtypes
            _BF16_NP.append(np.dtype(ml_dtypes.bfloat16))
        except ImportError:
            _BF16_NP.append(None)
    return _BF16_NP[0]


def from_numpy_dtype(np_dtype) -> dtype:
    """The ember dtype of a NumPy dtype (float32 arrays map to float32, never bfloat16;
    ml_dtypes' bfloat16 maps to bfloat16)."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        pass
    nd = np.dtype(np_dtype)
    if nd in _BY_NP:
        return _BY_NP[nd]
    if nd.name == "bfloat16" and nd.itemsize == 2:
        _BY_NP[nd] = bfloat16
        return bfloat16
    if nd.kind == "U" or nd.kind == "O" or nd.kind == "S":
        raise TypeError(f"can't convert np.ndarray of type {nd}. The only supported types are: "
                        "float64, float32, float16, complex64, complex128, int64, int32, int16, "
                        "int8, uint8, and bool.")
    if nd.kind == "u":  # uint16/32/64 have no torch equivalent we support; widen safely
        return int64
    raise TypeError(f"unsupported NumPy dtype {nd}")


_state = {"default": float32}


def get_default_dtype() -> dtype:
    return _state["default"]


def set_default_dtype(d: dtype) -> None:
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _state["default"] = d


_promo_cache: dict = {}


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both values fit in."""
    if a is b:
        return a
    key = (a, b)
    r = _promo_cache.get(key)
    if r is not None:
        return r
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        r = hi
        if hi.is_complex and lo.is_floating_point and lo.itemsize > hi.itemsize // 2:
            r = complex128
    elif a.category == _FLOAT and {a, b} == {float16, bfloat16}:
        r = float32
    elif a is bfloat16 or b is bfloat16:
        other = b if a is bfloat16 else a
        r = other if other.itemsize > 2 else bfloat16
    else:
        r = from_numpy_dtype(np.promote_types(a.np, b.np))
    _promo_cache[key] = r
    return r


def scalar_dtype(value) -> dtype:
    """The dtype torch gives a Python scalar standing alone (bool, int64, default float)."""
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int64
    if isinstance(value, complex):
        return complex64 if _state["default"] is float32 else complex128
    return _state["default"]


def scalar_category(value) -> int:
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _INT
    if isinstance(value, complex):
        return _COMPLEX
    return _FLOAT


def result_type_scalar(t: dtype, value) -> dtype:
    """dtype of ``tensor op python_scalar``: the tensor wins unless the scalar's kind is higher."""
    cat = scalar_category(value)
    if cat <= t.category:
        return t
    if cat == _COMPLEX and t.category == _FLOAT:
        return complex_of(t)  # a complex scalar keeps the float tensor's precision
    return scalar_dtype(value)


def complex_of(d: dtype) -> dtype:
    """The complex dtype with ``d``'s precision (no complex32 in ember: float16 -> complex64)."""
    return complex128 if d is float64 else complex64


def is_bf16_array(arr) -> bool:
    """True for a native bfloat16 array (ml_dtypes storage)."""
    return arr.dtype.itemsize == 2 and arr.dtype.name == "bfloat16"


def round_bf16(arr):
    """An array in bfloat16 storage holding ``arr``'s values rounded to the nearest bfloat16
    (ties to even): a native bfloat16 CuPy array on CUDA (``arr`` itself if it is one already),
    a float32 array elsewhere."""
    if is_bf16_array(arr):
        if type(arr).__module__.startswith("cupy"):
            return arr
        return arr.astype(np.float32)  # a NumPy ml_dtypes array: CPU storage is float32
    xp = _xp_of(arr)
    if xp is not np:
        native = bf16_storage()
        if native is not None:
            return arr.astype(native)
    # reshape: ascontiguousarray turns a 0-d array into shape (1,).
    a = xp.ascontiguousarray(arr, dtype=xp.float32).reshape(xp.shape(arr))
    bits = a.view(xp.uint32)
    # NaN must stay NaN: rounding could carry a NaN payload into the infinity pattern.
    nan = xp.isnan(a)
    rounded = (bits + (xp.uint32(0x7FFF) + ((bits >> 16) & xp.uint32(1)))) & xp.uint32(0xFFFF0000)
    out = rounded.view(xp.float32)
    if nan.any():
        out = xp.where(nan, a, out)
    # NumPy's bit operations turn a 0-d array into a scalar: keep an array.
    return out if out.ndim else xp.asarray(out)


def host_array(arr) -> np.ndarray:
    """A NumPy copy of a device array (or ``arr`` itself if it is on the host already), with
    native bfloat16 widened to the float32 that CPU bfloat16 tensors are stored in."""
    if not isinstance(arr, np.ndarray):
        arr = arr.get()
    if is_bf16_array(arr):
        arr = arr.astype(np.float32)
    return arr


def _xp_of(arr):
    if type(arr).__module__.startswith("cupy"):
        import cupy
        return cupy
    return np


def to_dtype_array(arr, d: dtype, copy: bool = False):
    """Convert an array to the storage of dtype ``d`` (rounding for bfloat16)."""
    if d is bfloat16:
        if arr.dtype == np.float32 and not copy:
            return round_bf16(arr)
        return round_bf16(arr.astype(np.float32))
    if arr.dtype == d.np:
        return arr.copy() if copy else arr
    return arr.astype(d.np)
