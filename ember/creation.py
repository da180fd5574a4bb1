"""Tensor creation: tensor/as_tensor/from_numpy, zeros/ones/full/empty(_like), ranges, eye, and
the random constructors."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .backend import dtypes as _dt
from .backend.device import as_device, cpu, get_xp
from .random import rng_of
from .tensor import Tensor, make_tensor


_DEFAULT_DEVICE = [None]


def set_default_device(device) -> None:
    """Where factory functions (zeros, randn, tensor, ...) put tensors when no device is given,
    as ``torch.set_default_device``; ``None`` restores the CPU."""
    _DEFAULT_DEVICE[0] = None if device is None else as_device(device)


def get_default_device():
    return _DEFAULT_DEVICE[0] or cpu


def _device_or_default(device):
    return as_device(device if device is not None else _DEFAULT_DEVICE[0])


def _size_kw(size: tuple, kw: dict) -> tuple:
    """torch's factories also take the shape as ``size=`` (``torch.zeros(size=(2, 3))``)."""
    if kw:
        if set(kw) != {"size"} or size:
            bad = next(k for k in kw if k != "size") if set(kw) != {"size"} else "size"
            raise TypeError(f"got an unexpected keyword argument '{bad}'")
        return (kw["size"],)
    return size


def _sizes(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, np.integer)):
            raise TypeError(f"expected a sequence of integers, got {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(size)}")
        out.append(int(s))
    return tuple(out)


def _finish(arr, dtype, device, requires_grad=False):
    dev = _device_or_default(device)
    if dtype is _dt.bfloat16:
        arr = _dt.round_bf16(arr.astype(np.float32))
    if dev.type != "cpu" and isinstance(arr, np.ndarray):
        xp = get_xp(dev)
        with xp.cuda.Device(dev.index or 0):
            arr = xp.asarray(arr)
        if dtype is _dt.bfloat16:
            arr = _dt.round_bf16(arr)  # native bfloat16 on CUDA
    t = make_tensor(arr, dtype, dev)
    if requires_grad:
        t.requires_grad = True
    return t


def _infer_dtype(data):
    """torch's dtype for nested data: each leaf has a dtype (bool, int64, the default float,
    complex64 for Python scalars; its own for NumPy scalars, arrays and tensors) and the result
    is their ordinary promotion (so ``[np.int32(1), 2]`` is int64, ``[np.float64(1), 2]`` float64).
    """
    out = None
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, Tensor):
            d = x._dtype
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
            continue
        elif isinstance(x, (np.ndarray, np.generic)):
            d = _dt.from_numpy_dtype(x.dtype)
        elif isinstance(x, bool):
            d = _dt.bool_
        elif isinstance(x, int):
            d = _dt.int64
        elif isinstance(x, float):
            d = _dt.get_default_dtype()
        elif isinstance(x, complex):
            d = _dt.complex64 if _dt.get_default_dtype() is not _dt.float64 else _dt.complex128
        elif isinstance(x, str):
            raise ValueError("too many dimensions 'str'")  # torch's wording
        else:
            raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")
        out = d if out is None else _dt.promote_types(out, d)
    return out if out is not None else _dt.get_default_dtype()


def _to_nested(data):
    if isinstance(data, Tensor):
        return data.detach().cpu()._data
    if isinstance(data, (list, tuple)):
        return [_to_nested(x) for x in data]
    return data


def tensor(data, dtype: _dt.dtype | None = None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor copying ``data`` (scalars, nested lists, NumPy arrays, tensors)."""
    if isinstance(data, Tensor):
        arr = data.detach().cpu()._data.copy()
        dt = dtype or data._dtype
        if dt is not data._dtype:
            arr = _dt.to_dtype_array(arr, dt)
        return _finish(arr, dt, device if device is not None else data._device, requires_grad)
    if isinstance(data, np.ndarray):
        dt = dtype or _dt.from_numpy_dtype(data.dtype)
        arr = np.array(data, dtype=dt.np, copy=True)
        return _finish(arr, dt, device, requires_grad)
    if hasattr(data, "__cuda_array_interface__"):
        from .cuda import _cupy
        cp = _cupy()
        arr = cp.array(data, copy=True)
        dt = dtype or _dt.from_numpy_dtype(arr.dtype)
        t = make_tensor(arr.astype(dt.np, copy=False), dt, as_device(device or "cuda"))
        t.requires_grad = requires_grad
        return t
    inferred = _infer_dtype(data) if dtype is None else dtype
    nested = _to_nested(data)
    arr = np.array(nested)
    if arr.dtype == object:
        raise ValueError("expected sequence of equal-length sequences")
    dt = dtype or inferred or _dt.from_numpy_dtype(arr.dtype)
    arr = arr.astype(dt.np) if arr.dtype != dt.np else arr
    return _finish(arr, dt, device, requires_grad)


def as_tensor(data, dtype: _dt.dtype | None = None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array or tensor when it can."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (device or dtype) else data
    if isinstance(data, np.ndarray) and (dtype is None or dtype.np == data.dtype) \
            and dtype is not _dt.bfloat16 and _device_or_default(device).type == "cpu":
        return make_tensor(data, _dt.from_numpy_dtype(data.dtype), cpu)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing ``arr``'s memory."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    if any(s < 0 for s in arr.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array  with array.copy().) ")
    return make_tensor(arr, _dt.from_numpy_dtype(arr.dtype), cpu)


def _filled(size, value, dtype, device, requires_grad):
    size = _sizes(size)
    if dtype is None:
        dtype = _dt.scalar_dtype(value) if not isinstance(value, float) else \
            _dt.get_default_dtype()
        if value == 0 or value == 1:
            dtype = _dt.get_default_dtype() if not isinstance(value, bool) else dtype
    dev = _device_or_default(device)
    xp = get_xp(dev)
    if dev.type != "cpu":
        with xp.cuda.Device(dev.index or 0):
            arr = xp.full(size, value, dtype=dtype.np)
            if dtype is _dt.bfloat16:
                arr = _dt.round_bf16(arr)
    else:
        arr = np.full(size, value, dtype=dtype.np)
    t = make_tensor(arr, dtype, dev)
    if requires_grad:
        t.requires_grad = True
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, **kw) -> Tensor:
    size = _size_kw(size, kw)
    return _filled(size, 0, dtype or _dt.get_default_dtype(), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False, **kw) -> Tensor:
    size = _size_kw(size, kw)
    return _filled(size, 1, dtype or _dt.get_default_dtype(), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, memory_format=None, **kw) -> Tensor:
    size = _size_kw(size, kw)
    return _filled(size, 0, dtype or _dt.get_default_dtype(), device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False, out=None,
         layout=None) -> Tensor:
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = _dt.scalar_dtype(fill_value)
    return _filled((size,) if isinstance(size, int) else (tuple(size),), fill_value, dtype,
                   device, requires_grad)


def _like(t, dtype, device):
    return (dtype or t._dtype), (device if device is not None else t._device)


def zeros_like(t, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None) -> Tensor:
    d, dev = _like(t, dtype, device)
    return _filled((t.shape,), 0, d, dev, requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=None) -> Tensor:
    d, dev = _like(t, dtype, device)
    return _filled((t.shape,), 1, d, dev, requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None) -> Tensor:
    d, dev = _like(t, dtype, device)
    return _filled((t.shape,), 0, d, dev, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=None) -> Tensor:
    d, dev = _like(t, dtype, device)
    return _filled((t.shape,), fill_value, d, dev, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False,
           out=None, layout=None) -> Tensor:
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        dtype = _dt.int64 if all(isinstance(v, (int, np.integer)) for v in vals) else \
            _dt.get_default_dtype()
    if (end - start) / step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    n = max(int(math.ceil((end - start) / step)), 0)
    dev = _device_or_default(device)
    # Made where it lives: a host-to-device copy is not allowed inside a CUDA-graph capture.
    xp = get_xp(dev)
    with _on(xp, dev):
        if dtype.is_floating_point:
            arr = (start + xp.arange(n, dtype=np.float64) * step).astype(dtype.np)
        else:
            arr = xp.arange(start, start + n * step, step, dtype=np.int64)[:n].astype(dtype.np)
    return _finish(arr, dtype, dev, requires_grad)


def _on(xp, dev):
    """The CUDA device context for ``dev`` (a no-op context on the CPU)."""
    import contextlib
    return xp.cuda.Device(dev.index or 0) if dev.type != "cpu" else contextlib.nullcontext()


def range_(start, end, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    n = int(math.floor((end - start) / step)) + 1
    dtype = dtype or _dt.get_default_dtype()
    arr = (start + np.arange(n, dtype=np.float64) * step).astype(dtype.np)
    return _finish(arr, dtype, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False, out=None,
             layout=None) -> Tensor:
    dtype = dtype or _dt.get_default_dtype()
    start = start.item() if isinstance(start, Tensor) else start
    end = end.item() if isinstance(end, Tensor) else end
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    # torch fills from both ends to keep symmetry. For float32 output the endpoints and the
    # step are float32 numbers while the products are taken in double (CPU accumulate type);
    # mirroring that gives torch's exact values (e.g. -2.98e-08 mid-way through [-1, 1]).
    work = np.float64 if dtype is _dt.float64 or not dtype.is_floating_point else np.float32
    start, end = work(start), work(end)
    idx = np.arange(steps, dtype=np.float64)
    step = np.float64((end - start) / work(steps - 1)) if steps > 1 else 0.0
    start, end = np.float64(start), np.float64(end)
    half = steps // 2
    arr = np.where(idx < half, start + step * idx, end - step * (steps - 1 - idx))
    if steps == 1:
        arr = np.full(1, start, dtype=work)  # torch gives [start], not [end]
    if not dtype.is_floating_point:
        arr = np.trunc(arr)
    return _finish(arr.astype(dtype.np), dtype, device, requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    dtype = dtype or _dt.get_default_dtype()
    lin = linspace(start, end, steps, dtype=_dt.float64)._data
    return _finish((base ** lin).astype(dtype.np), dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False, out=None,
        layout=None) -> Tensor:
    dtype = dtype or _dt.get_default_dtype()
    dev = _device_or_default(device)
    xp = get_xp(dev)
    with _on(xp, dev):
        arr = xp.eye(n, n if m is None else m, dtype=dtype.np)
    return _finish(arr, dtype, dev, requires_grad)


# ---------------------------------------------------------------------------- random
def _rand_out(arr, dtype, device, requires_grad):
    dtype = dtype or _dt.get_default_dtype()
    return _finish(arr.astype(dtype.np, copy=False), dtype, device, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None,
         layout=None, **kw) -> Tensor:
    size = _size_kw(size, kw)
    d = dtype or _dt.get_default_dtype()
    npd = np.float64 if d is _dt.float64 else np.float32
    return _rand_out(rng_of(generator).random(_sizes(size), dtype=npd), dtype, device,
                     requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None,
          layout=None, **kw) -> Tensor:
    size = _size_kw(size, kw)
    d = dtype or _dt.get_default_dtype()
    npd = np.float64 if d is _dt.float64 else np.float32
    return _rand_out(rng_of(generator).standard_normal(_sizes(size), dtype=npd), dtype, device,
                     requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False, out=None, layout=None) -> Tensor:
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    dtype = dtype or _dt.int64
    arr = rng_of(generator).integers(low, high, size=_sizes((size,)), dtype=np.int64)
    return _finish(arr.astype(dtype.np), dtype, device, requires_grad)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False, out=None,
             layout=None) -> Tensor:
    dtype = dtype or _dt.int64
    return _finish(rng_of(generator).permutation(n).astype(dtype.np), dtype, device,
                   requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    d, dev = _like(t, dtype, device)
    return rand(t.shape, dtype=d, device=dev, requires_grad=requires_grad, generator=generator)


def randn_like(t, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    d, dev = _like(t, dtype, device)
    return randn(t.shape, dtype=d, device=dev, requires_grad=requires_grad, generator=generator)


def randint_like(t, low, high=None, dtype=None, device=None, generator=None) -> Tensor:
    d, dev = _like(t, dtype, device)
    return randint(low, high, t.shape, dtype=d, device=dev, generator=generator)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False, out=None) -> Tensor:
    rng = rng_of(generator)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        # Drawn on the host (ember's generator), then placed on the tensor's device.
        m = _dt.host_array(mean._data) if isinstance(mean, Tensor) else mean
        s = _dt.host_array(std._data) if isinstance(std, Tensor) else std
        ref = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        arr = rng.standard_normal(shape) * s + m
        return _finish(np.asarray(arr, dtype=ref._dtype.np), ref._dtype, ref._device)
    if size is None:
        raise TypeError("normal() missing required argument 'size'")
    arr = rng.standard_normal(_sizes((size,))) * std + mean
    return _rand_out(arr, dtype, device, requires_grad)


def bernoulli(input: Tensor, p=None, *, generator=None, out=None) -> Tensor:
    probs = input._data if p is None else np.full(input.shape, p)
    host = probs if isinstance(probs, np.ndarray) else probs.get()
    if np.any((host < 0) | (host > 1)):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    arr = (rng_of(generator).random(input.shape) < host).astype(input._dtype.np)
    return _finish(arr, input._dtype, input._device)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator=None, out=None) -> Tensor:
    rng = rng_of(generator)
    p = input.detach().cpu()._data.astype(np.float64)
    single = p.ndim == 1
    p2 = p.reshape(1, -1) if single else p
    if np.any(p2 < 0) or np.any(~np.isfinite(p2)):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rows = []
    for row in p2:
        total = row.sum()
        if total <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if replacement:
            rows.append(rng.choice(row.size, size=num_samples, replace=True, p=row / total))
            continue
        if num_samples > row.size:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        # Exponential race (as torch's CPU kernel): the largest p/E come first; once the
        # non-zero categories run out, zero-probability ones follow, as torch allows.
        keys = row / rng.exponential(size=row.size)
        rows.append(np.argsort(-keys, kind="stable")[:num_samples])
    arr = np.stack(rows).astype(np.int64)
    return _finish(arr[0] if single else arr, _dt.int64, input._device)


def poisson(input: Tensor, generator=None) -> Tensor:
    arr = rng_of(generator).poisson(input.detach().cpu()._data).astype(input._dtype.np)
    return _finish(arr, input._dtype, input._device)


def scalar_tensor(value, dtype=None, device=None) -> Tensor:
    return full((), value, dtype=dtype or _dt.get_default_dtype(), device=device)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> int:
    return t.numel()


_ = numbers
