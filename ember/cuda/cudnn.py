"""cuDNN on CUDA through NVIDIA's ``nvidia-cudnn-frontend`` Python graph API (module ``cudnn``).

CuPy 14 has no cuDNN wrappers, so ember builds cuDNN operation graphs with the frontend and runs
them on raw CuPy device pointers. Used for flash attention (``sdpa`` forward/backward) and for
conv2d (``conv_fprop``, ``conv_dgrad``, ``conv_wgrad``). An optional extra
(``pip install 'ember[cudnn]'``): every entry point returns None when cuDNN is absent, disabled
(``ember.backends.cudnn.enabled = False``) or declines the case, and the caller then takes its
portable path (im2col + cuBLAS, composite attention).

Built graphs are cached by (op, shapes, strides, dtypes, params). Graphs are built only outside
CUDA-graph capture; inside one, a cached graph runs on the capturing stream (the handle's
stream is set to CuPy's current stream at every execute) with its workspace from the CuPy
allocator, so captured steps replay it.
"""
from __future__ import annotations

import ctypes
import glob
import os
import sys
import threading
from typing import Optional

from ..backend.device import CAPTURING
from . import _cupy

__all__ = ["available", "enabled", "version", "sdpa_forward", "sdpa_backward", "conv_fprop",
           "conv_dgrad", "conv_wgrad", "clear_cache", "calls"]

_STATE: dict = {"mod": None, "tried": False, "error": None}
_LOCK = threading.Lock()
_HANDLES: dict = {}
# key -> _Plan, or None for a case cuDNN declined (not asked again).
_CACHE: dict = {}
# Why a key was declined (repr of the exception): for debugging and the tests.
ERRORS: dict = {}
# Executions per op through cuDNN: lets tests check that the cuDNN path really ran.
calls: dict = {"sdpa_fwd": 0, "sdpa_bwd": 0, "conv_fprop": 0, "conv_dgrad": 0, "conv_wgrad": 0}

_DTYPES = ("float32", "float16", "bfloat16")


def _preload_libcudnn() -> None:
    """Load libcudnn from an installed ``nvidia-cudnn-cu*`` wheel (torch's CUDA wheels bring
    one) before the frontend looks for it: the frontend searches LD_LIBRARY_PATH and the
    interpreter's own purelib only, which misses wheels installed elsewhere on sys.path."""
    for base in sys.path:
        hits = sorted(glob.glob(os.path.join(base or ".", "nvidia", "cudnn", "lib",
                                             "libcudnn.so.*[0-9]")))
        if hits:
            try:
                ctypes.CDLL(hits[0], mode=ctypes.RTLD_GLOBAL)
                return
            except OSError:
                continue


def _cudnn():
    """The frontend module, or None (the import error is kept in ``_STATE["error"]``)."""
    if not _STATE["tried"]:
        with _LOCK:
            if not _STATE["tried"]:
                try:
                    _preload_libcudnn()
                    import cudnn
                    if cudnn.backend_version() <= 0:
                        raise RuntimeError("libcudnn was not found")
                    _STATE["mod"] = cudnn
                except Exception as e:  # noqa: BLE001 - any failure means "no cuDNN"
                    _STATE["error"] = e
                _STATE["tried"] = True
    return _STATE["mod"]


def available() -> bool:
    """Whether CuPy sees a GPU and the cuDNN frontend and library load (asked once)."""
    ok = _STATE.get("available")
    if ok is None:
        from . import is_available
        ok = _STATE["available"] = bool(is_available() and _cudnn() is not None)
    return ok


def version() -> Optional[int]:
    """The cuDNN library version as an int (e.g. 91000), or None without cuDNN."""
    mod = _cudnn()
    return int(mod.backend_version()) if mod is not None else None


def enabled() -> bool:
    """cuDNN is available and ``ember.backends.cudnn.enabled`` is set."""
    from .. import backends
    return bool(backends.cudnn.enabled) and available()


def clear_cache() -> None:
    """Forget every built graph (and every declined case)."""
    _CACHE.clear()
    ERRORS.clear()


def _handle(cp):
    dev = cp.cuda.runtime.getDevice()
    h = _HANDLES.get(dev)
    if h is None:
        h = _HANDLES[dev] = _cudnn().create_handle()
    return h


def _dtype_name(a) -> Optional[str]:
    name = a.dtype.name
    return name if name in _DTYPES else None


def _cudnn_type(mod, name: str):
    t = mod.data_type
    return {"float32": t.FLOAT, "float16": t.HALF, "bfloat16": t.BFLOAT16}[name]


def _estrides(a) -> Optional[tuple]:
    """Element strides of ``a``, or None when they are not whole, non-negative elements."""
    it = a.itemsize
    out = []
    for s in a.strides:
        if s < 0 or s % it:
            return None
        out.append(s // it)
    return tuple(out)


def _flags() -> tuple:
    from .. import backends
    return bool(backends.cudnn.allow_tf32), bool(backends.cudnn.deterministic)


class _Plan:
    """A built cuDNN graph, its named IR tensors and its workspace size."""

    __slots__ = ("graph", "tensors", "ws")

    def __init__(self, graph, tensors: dict):
        self.graph = graph
        self.tensors = tensors
        self.ws = int(graph.get_workspace_size())


def _plan(key, build):
    """The cached plan of ``key``, building it with ``build(mod, handle)`` on a miss; None when
    cuDNN declines, or when the graph is not built yet and a CUDA graph is being captured
    (building may synchronise, which a capture forbids)."""
    try:
        return _CACHE[key]
    except KeyError:
        pass
    if CAPTURING[0] > 0:
        return None
    mod = _cudnn()
    cp = _cupy()
    try:
        plan = build(mod, _handle(cp))
    except Exception as e:  # noqa: BLE001 - unsupported shape/dtype/engine: fall back
        ERRORS[key] = repr(e)
        plan = None
    _CACHE[key] = plan
    return plan


def _new_graph(mod, handle, io: str):
    t = mod.data_type
    return mod.pygraph(io_data_type=_cudnn_type(mod, io), intermediate_data_type=t.FLOAT,
                       compute_data_type=t.FLOAT, handle=handle)


def _finish(mod, graph, io: str, tensors: dict) -> _Plan:
    tf32, deterministic = _flags()
    notes = []
    if io == "float32" and not tf32:
        # TF32 tensor-core engines round float32 inputs to 10-bit mantissas.
        notes += [mod.numerical_note.TENSOR_CORE, mod.numerical_note.DOWN_CONVERT_INPUTS]
    if deterministic:
        notes.append(mod.numerical_note.NONDETERMINISTIC)
    if notes:
        graph.deselect_numeric_notes(notes)
    graph.build([mod.heur_mode.A, mod.heur_mode.FALLBACK])
    return _Plan(graph, tensors)


def _execute(op: str, key, plan: _Plan, bufs: dict) -> bool:
    """Run ``plan`` on ``bufs`` (name -> CuPy array) on CuPy's current stream."""
    mod = _cudnn()
    cp = _cupy()
    handle = _handle(cp)
    mod.set_stream(handle, cp.cuda.get_current_stream().ptr)
    pack = {plan.tensors[n]: a.data.ptr for n, a in bufs.items()}
    # Freed back to CuPy's pool right after the launch: the pool reuses a block only for work
    # queued later on the same stream, so the kernel finishes with it first.
    ws = cp.empty(plan.ws, dtype=cp.uint8) if plan.ws else None
    try:
        plan.graph.execute(pack, ws.data.ptr if ws is not None else None, handle=handle)
    except Exception as e:  # noqa: BLE001 - e.g. a runtime check of the backend
        ERRORS[key] = repr(e)
        _CACHE[key] = None
        return False
    calls[op] += 1
    return True


# ----------------------------------------------------------------------------- attention
def _sdpa_ok(q, k, v) -> Optional[str]:
    """The dtype name when (B, H, L, D) q/k/v suit the flash kernels, else None."""
    name = _dtype_name(q)
    if name not in ("float16", "bfloat16") or k.dtype != q.dtype or v.dtype != q.dtype:
        return None
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        return None
    b, h, _, d = q.shape
    if k.shape[:2] != (b, h) or v.shape[:3] != k.shape[:3] or k.shape[3] != d:
        return None
    if min(q.size, k.size, v.size) == 0 or d % 8 or v.shape[3] % 8:
        return None
    return name


def _row_strides(a) -> Optional[tuple]:
    s = _estrides(a)
    if s is None or s[-1] != 1:
        return None
    return s


def sdpa_forward(q, k, v, causal: bool, scale: float):
    """Flash attention forward: ``(o, stats)`` with ``o`` (B, H, L, Dv) in q's dtype and the
    softmax log-sum-exp ``stats`` (B, H, L, 1) float32 for the backward; None when cuDNN
    cannot run the case."""
    name = _sdpa_ok(q, k, v)
    if name is None or not enabled():
        return None
    cp = _cupy()
    arrs = []
    for a in (q, k, v):
        if _row_strides(a) is None:
            a = cp.ascontiguousarray(a)
        arrs.append(a)
    q, k, v = arrs
    b, h, lq, _ = q.shape
    dv = v.shape[3]
    key = ("sdpa_fwd", cp.cuda.runtime.getDevice(), name, q.shape, _estrides(q), k.shape,
           _estrides(k), v.shape, _estrides(v), bool(causal), float(scale), _flags())

    def build(mod, handle):
        g = _new_graph(mod, handle, name)
        dt = _cudnn_type(mod, name)
        t = {n: g.tensor(name=n, dim=list(a.shape), stride=list(_estrides(a)), data_type=dt)
             for n, a in (("q", q), ("k", k), ("v", v))}
        o, stats = g.sdpa(name="sdpa", q=t["q"], k=t["k"], v=t["v"], generate_stats=True,
                          attn_scale=float(scale), use_causal_mask=bool(causal))
        o.set_output(True).set_dim([b, h, lq, dv]).set_stride([h * lq * dv, lq * dv, dv, 1])
        o.set_data_type(dt)
        stats.set_output(True).set_dim([b, h, lq, 1]).set_stride([h * lq, lq, 1, 1])
        stats.set_data_type(mod.data_type.FLOAT)
        t["o"], t["stats"] = o, stats
        return _finish(mod, g, name, t)

    plan = _plan(key, build)
    if plan is None:
        return None
    o = cp.empty((b, h, lq, dv), dtype=q.dtype)
    stats = cp.empty((b, h, lq, 1), dtype=cp.float32)
    if not _execute("sdpa_fwd", key, plan, {"q": q, "k": k, "v": v, "o": o, "stats": stats}):
        return None
    return o, stats


def _empty_like_layout(cp, a):
    """A new array with ``a``'s shape whose memory order follows ``a``'s strides (a gradient
    laid out like its input, e.g. the (B, T, H, D) order behind a transposed q)."""
    s = _estrides(a)
    order = sorted(range(a.ndim), key=lambda i: (-s[i], -i))
    e = cp.empty(tuple(a.shape[i] for i in order), dtype=a.dtype)
    inv = [0] * a.ndim
    for pos, i in enumerate(order):
        inv[i] = pos
    return e.transpose(inv)


def sdpa_backward(q, k, v, o, do, stats, causal: bool, scale: float):
    """Flash attention backward: ``(dq, dk, dv)``, or None when cuDNN cannot run the case."""
    name = _sdpa_ok(q, k, v)
    if name is None or not enabled() or o.dtype != q.dtype:
        return None
    cp = _cupy()
    arrs = []
    for a in (q, k, v, o, do.astype(q.dtype, copy=False)):
        if _row_strides(a) is None:
            a = cp.ascontiguousarray(a)
        arrs.append(a)
    q, k, v, o, do = arrs
    stats = cp.ascontiguousarray(stats)
    grads = [_empty_like_layout(cp, a) for a in (q, k, v)]
    _, deterministic = _flags()
    named = (("q", q), ("k", k), ("v", v), ("o", o), ("dO", do), ("stats", stats),
             ("dQ", grads[0]), ("dK", grads[1]), ("dV", grads[2]))
    key = ("sdpa_bwd", cp.cuda.runtime.getDevice(), name, bool(causal), float(scale), _flags(),
           tuple((a.shape, _estrides(a)) for _, a in named))

    def build(mod, handle):
        g = _new_graph(mod, handle, name)
        dt = _cudnn_type(mod, name)
        t = {}
        for n, a in named[:6]:
            t[n] = g.tensor(name=n, dim=list(a.shape), stride=list(_estrides(a)),
                            data_type=mod.data_type.FLOAT if n == "stats" else dt)
        extra = {"use_deterministic_algorithm": True} if deterministic else {}
        dq, dk, dvt = g.sdpa_backward(name="sdpa_bwd", q=t["q"], k=t["k"], v=t["v"], o=t["o"],
                                      dO=t["dO"], stats=t["stats"], attn_scale=float(scale),
                                      use_causal_mask=bool(causal), **extra)
        for n, out, a in (("dQ", dq, grads[0]), ("dK", dk, grads[1]), ("dV", dvt, grads[2])):
            out.set_output(True).set_dim(list(a.shape)).set_stride(list(_estrides(a)))
            out.set_data_type(dt)
            t[n] = out
        return _finish(mod, g, name, t)

    plan = _plan(key, build)
    if plan is None or not _execute("sdpa_bwd", key, plan, dict(named)):
        return None
    return tuple(grads)


# ---------------------------------------------------------------------------- convolution
def _conv_ok(x, w, groups: int) -> Optional[str]:
    name = _dtype_name(x)
    if name is None or w.dtype != x.dtype or x.ndim != 4 or w.ndim != 4:
        return None
    if x.shape[0] == 0 or x.shape[1] != w.shape[1] * groups or w.shape[0] % groups:
        return None
    return name


def _out_hw(x_hw, k_hw, stride, padding, dilation) -> tuple:
    return tuple((x_hw[a] + 2 * padding[a] - dilation[a] * (k_hw[a] - 1) - 1) // stride[a] + 1
                 for a in range(2))


def _dense(shape) -> list:
    n, c, h, w = shape
    return [c * h * w, h * w, w, 1]


def _conv_plan(op, x_shape, w_shape, y_shape, name, stride, padding, dilation):
    """Plan of one convolution graph: ``op`` in fprop (x, w -> y), dgrad (y, w -> x),
    wgrad (x, y -> w); every tensor NCHW-packed."""
    cp = _cupy()
    key = (op, cp.cuda.runtime.getDevice(), name, x_shape, w_shape, y_shape, stride, padding,
           dilation, _flags())

    def build(mod, handle):
        g = _new_graph(mod, handle, name)
        dt = _cudnn_type(mod, name)
        conv = dict(pre_padding=list(padding), post_padding=list(padding), stride=list(stride),
                    dilation=list(dilation), compute_data_type=mod.data_type.FLOAT)

        def inp(n, shape):
            return g.tensor(name=n, dim=list(shape), stride=_dense(shape), data_type=dt)

        if op == "conv_fprop":
            t = {"x": inp("x", x_shape), "w": inp("w", w_shape)}
            out = g.conv_fprop(image=t["x"], weight=t["w"], name="fprop", **conv)
            t["y"], shape = out, y_shape
        elif op == "conv_dgrad":
            t = {"y": inp("y", y_shape), "w": inp("w", w_shape)}
            out = g.conv_dgrad(loss=t["y"], filter=t["w"], name="dgrad", **conv)
            t["x"], shape = out, x_shape
        else:
            t = {"x": inp("x", x_shape), "y": inp("y", y_shape)}
            out = g.conv_wgrad(image=t["x"], loss=t["y"], name="wgrad", **conv)
            t["w"], shape = out, w_shape
        out.set_output(True).set_dim(list(shape)).set_stride(_dense(shape)).set_data_type(dt)
        return _finish(mod, g, name, t)

    return key, _plan(key, build)


def _conv_run(op, x, w, y, name, stride, padding, dilation):
    stride, padding, dilation = tuple(stride), tuple(padding), tuple(dilation)
    key, plan = _conv_plan(op, x.shape, w.shape, y.shape, name, stride, padding, dilation)
    return plan is not None and _execute(op, key, plan, {"x": x, "w": w, "y": y})


def conv_fprop(x, w, stride, padding, dilation, groups: int):
    """conv2d of NCHW ``x`` with ``w`` (O, C/groups, kh, kw), no bias; None to fall back."""
    name = _conv_ok(x, w, groups)
    if name is None or not enabled():
        return None
    cp = _cupy()
    ho, wo = _out_hw(x.shape[2:], w.shape[2:], stride, padding, dilation)
    if ho <= 0 or wo <= 0:
        return None
    x, w = cp.ascontiguousarray(x), cp.ascontiguousarray(w)
    y = cp.empty((x.shape[0], w.shape[0], ho, wo), dtype=x.dtype)
    return y if _conv_run("conv_fprop", x, w, y, name, stride, padding, dilation) else None


def conv_dgrad(dy, w, x_shape, stride, padding, dilation, groups: int):
    """Gradient of conv2d w.r.t. its input of shape ``x_shape`` (conv_transpose2d of ``dy``);
    None to fall back."""
    x_shape = tuple(int(s) for s in x_shape)
    name = _dtype_name(dy)
    if (name is None or w.dtype != dy.dtype or dy.ndim != 4 or w.ndim != 4 or len(x_shape) != 4
            or x_shape[1] != w.shape[1] * groups or not enabled()):
        return None
    # cuDNN describes the input by the output geometry; an input with rows the output never
    # reached (conv_transpose2d's output_padding at stride 1) has no such description.
    if _out_hw(x_shape[2:], w.shape[2:], stride, padding, dilation) != tuple(dy.shape[2:]):
        return None
    if min(x_shape) == 0 or dy.shape[1] != w.shape[0]:
        return None
    cp = _cupy()
    dy, w = cp.ascontiguousarray(dy), cp.ascontiguousarray(w)
    dx = cp.empty(x_shape, dtype=dy.dtype)
    return dx if _conv_run("conv_dgrad", dx, w, dy, name, stride, padding, dilation) else None


def conv_wgrad(x, dy, w_shape, stride, padding, dilation, groups: int):
    """Gradient of conv2d w.r.t. its weight of shape ``w_shape``; None to fall back."""
    w_shape = tuple(int(s) for s in w_shape)
    name = _dtype_name(x)
    if (name is None or dy.dtype != x.dtype or x.ndim != 4 or dy.ndim != 4 or len(w_shape) != 4
            or x.shape[1] != w_shape[1] * groups or dy.shape[1] != w_shape[0]
            or not enabled()):
        return None
    if _out_hw(x.shape[2:], w_shape[2:], stride, padding, dilation) != tuple(dy.shape[2:]):
        return None
    if x.shape[0] == 0:
        return None
    cp = _cupy()
    x, dy = cp.ascontiguousarray(x), cp.ascontiguousarray(dy)
    dw = cp.empty(w_shape, dtype=x.dtype)
    return dw if _conv_run("conv_wgrad", x, dw, dy, name, stride, padding, dilation) else None
