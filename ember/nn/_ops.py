"""Fused primitives of ember.nn: linear, convolution, pooling, softmax, losses, normalisation.

Each one is a single autograd node so that the hot paths of a training step (an MLP or a small
CNN) cost one Python-level node per layer. Backward passes compute on raw arrays when no graph
is being recorded (the usual ``loss.backward()``) and fall back to ember ops when
``create_graph=True`` so that gradients of gradients keep working.
"""
from __future__ import annotations

import threading

import numpy as np

from ..ops import registry as _reg
from ..backend import parallel as _par
from ..backend.device import host_checks_allowed
from ..backend.device import matmul as _mm
from ..ops.registry import GRAD_MODE, Primitive, register


def _wrap(arr, like):
    """A Tensor around ``arr`` with the dtype/device of the Tensor ``like``."""
    if arr.dtype != like._data.dtype:
        arr = arr.astype(like._data.dtype)
    return _reg.make_tensor(arr, like._dtype, like._device)


def _strided(xp, a, shape, strides):
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


def _composite_grad(fn, inputs, needs, g):
    """Gradients of ``fn(*inputs)`` with a graph (for double backward through a fused node).

    The saved inputs are the original graph tensors, so the result stays connected to their
    history; retain_graph keeps the outer backward's saved values alive.
    """
    from ..autograd import grad as _grad
    from ..autograd.grad_mode import enable_grad
    with enable_grad():
        out = fn(*inputs)
        targets = [t for t, n in zip(inputs, needs) if n and t is not None]
        res = _grad([out], targets, [g], retain_graph=True, create_graph=True,
                    allow_unused=True)
    it = iter(res)
    return tuple(next(it) if (n and t is not None) else None for t, n in zip(inputs, needs))


# ---------------------------------------------------------------------------------- linear
@register("linear")
class LinearOp(Primitive):
    """``x @ weight.T + bias`` as one node."""

    def forward(self, x, w, b=None):
        self.save_for_backward(x, w)
        out = _mm(x, w.T)
        if b is not None:
            out += b
        return out

    def backward(self, g):
        x, w = self.saved_tensors
        need = self.needs_input_grad
        nb = len(need) > 2 and need[2]
        if GRAD_MODE.enabled:
            gx = g.matmul(w) if need[0] else None
            g2 = g.reshape(-1, g.shape[-1])
            gw = g2.t().matmul(x.reshape(-1, x.shape[-1])) if need[1] else None
            return gx, gw, (g2.sum(0) if nb else None)
        ga = g._data
        gx = _wrap(_mm(ga, w._data), x) if need[0] else None
        g2 = ga.reshape(-1, ga.shape[-1])
        gw = _wrap(_mm(g2.T, x._data.reshape(-1, x._data.shape[-1])), w) if need[1] else None
        gb = _wrap(_colsum(g2), w) if nb else None
        return gx, gw, gb


def _colsum(g2):
    """Sum over rows (a bias gradient); half precision accumulates in float32, as in torch."""
    if type(g2) is not np.ndarray and g2.dtype.name in ("float32", "float16", "bfloat16"):
        from ..cuda.blas import colsum
        return colsum(g2)
    return g2.sum(0, dtype=np.float32 if g2.dtype.itemsize == 2 else None)


# ------------------------------------------------------------------------- softmax family
def _kernels(*arrays):
    """ember.cuda.kernels when its fused CUDA kernels take every one of ``arrays``, else None.
    Callers test ``self.xp is not np`` first, so the CPU path pays nothing."""
    from ..cuda import kernels
    for a in arrays:
        if not kernels.available(a):
            return None
    return kernels


@register("softmax")
class SoftmaxOp(Primitive):
    """softmax along ``dim``; backward ``y * (g - sum(g * y))``."""

    def forward(self, x, dim):
        xp = self.xp
        self.dim = dim
        if xp is not np and dim == x.ndim - 1:
            k = _kernels(x)
            if k is not None:
                y = k.softmax.forward(x, False)
                self.save_for_backward(y)
                return y
        e = xp.exp(x - x.max(axis=dim, keepdims=True))
        e /= e.sum(axis=dim, keepdims=True)
        self.save_for_backward(e)
        return e

    def backward(self, g):
        (y,) = self.saved_tensors
        d = self.dim
        if GRAD_MODE.enabled:
            return y * (g - (g * y).sum(d, keepdim=True))
        ya = y._data
        if self.xp is not np and d == ya.ndim - 1:
            k = _kernels(ya, g._data)
            if k is not None:
                return _wrap(k.softmax.backward(ya, g._data, False), y)
        gy = g._data * ya
        return _wrap(gy - ya * gy.sum(axis=d, keepdims=True), y)


@register("log_softmax")
class LogSoftmaxOp(Primitive):
    """log_softmax along ``dim``; backward ``g - exp(y) * sum(g)``."""

    def forward(self, x, dim):
        xp = self.xp
        self.dim = dim
        if xp is not np and dim == x.ndim - 1:
            k = _kernels(x)
            if k is not None:
                z = k.softmax.forward(x, True)
                self.save_for_backward(z)
                return z
        z = x - x.max(axis=dim, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=dim, keepdims=True))
        self.save_for_backward(z)
        return z

    def backward(self, g):
        (y,) = self.saved_tensors
        d = self.dim
        if GRAD_MODE.enabled:
            return g - y.exp() * g.sum(d, keepdim=True)
        ga = g._data
        if self.xp is not np and d == ga.ndim - 1:
            k = _kernels(y._data, ga)
            if k is not None:
                return _wrap(k.softmax.backward(y._data, ga, True), y)
        return _wrap(ga - self.xp.exp(y._data) * ga.sum(axis=d, keepdims=True), y)


# ------------------------------------------------------------------------------- losses
def _to_rows(a, n_cls_dim_present=True):
    """(N, C, d1, ...) -> (M, C); (C,) -> (1, C)."""
    if a.ndim == 1:
        return a[None]
    if a.ndim == 2:
        return a
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _from_rows(a2, shape):
    if len(shape) == 1:
        return a2[0]
    if len(shape) == 2:
        return a2
    c = a2.shape[1]
    return np.moveaxis(a2.reshape((shape[0],) + tuple(shape[2:]) + (c,)), -1, 1)


def _nll_weights(xp, t2, weight, ignore_index, n_cls):
    valid = t2 != ignore_index
    ts = xp.where(valid, t2, 0)
    if ts.size and host_checks_allowed() and (int(ts.min()) < 0 or int(ts.max()) >= n_cls):
        bad = int(ts.max()) if int(ts.max()) >= n_cls else int(ts.min())
        raise IndexError(f"Target {bad} is out of bounds.")
    if weight is not None:
        wt = weight[ts] * valid
    else:
        wt = valid.astype(np.float64)
    return ts, valid, wt


def _reduce_rows(loss_rows, reduction, denom, tshape):
    if reduction == "none":
        return loss_rows.reshape(tshape)
    s = loss_rows.sum()
    return s / denom if reduction == "mean" else s


@register("cross_entropy")
class CrossEntropyOp(Primitive):
    """log_softmax + nll (+ label smoothing) over class indices, as one node.

    With ``a_i`` the weight of row i's target term and ``b_i`` that of the smoothing term, the
    input gradient of row i is ``p_i * (a_i + b_i * sum(w)) - a_i * onehot(t_i) - b_i * w``.
    On CUDA, (N, C) and (C,) logits go through ember.cuda.kernels.loss (``_kstate``).
    """

    _kstate = None

    def forward(self, x, target, weight=None, ignore_index=-100, reduction="mean",
                label_smoothing=0.0):
        xp = self.xp
        self.shape = x.shape
        if xp is not np and x.ndim <= 2:
            k = _kernels(x)
            if k is not None and k.loss.supported(x, target, weight):
                loss, self._kstate = k.loss.forward(x, target, weight, ignore_index, reduction,
                                                    label_smoothing)
                self.reduction = reduction
                self.save_for_backward(x)
                return loss
        n_cls = x.shape[1] if x.ndim >= 2 else x.shape[0]
        x2 = _to_rows(x)
        t2 = target.reshape(-1)
        m = len(t2)
        z = x2 - x2.max(axis=1, keepdims=True)
        ez = xp.exp(z)
        se = ez.sum(axis=1, keepdims=True)
        logp = z - xp.log(se)
        ts, valid, wt = _nll_weights(xp, t2, weight, ignore_index, n_cls)
        rows = xp.arange(m)
        nll = -logp[rows, ts] * wt
        ls = float(label_smoothing)
        if reduction == "mean":
            denom = wt.sum()
            a = wt * ((1 - ls) / denom)
        else:
            denom = 1.0
            a = wt * (1 - ls)
        loss = _reduce_rows(nll, reduction, denom, target.shape) * (1 - ls)
        b = None
        if ls > 0:
            wvec = weight if weight is not None else xp.ones(n_cls, dtype=x.dtype)
            smooth = -(logp * wvec).sum(axis=1) * valid
            if reduction == "mean":
                sden = denom if weight is not None else valid.sum()
            else:
                sden = 1.0
            b = valid * (ls / n_cls / sden)
            loss = loss + _reduce_rows(smooth, reduction, sden, target.shape) * (ls / n_cls)
            self.wvec = wvec
        self.coef = (a, b, ts, rows)
        self.reduction = reduction
        ez /= se
        self.p = ez
        self.save_for_backward(x)
        return xp.asarray(loss, dtype=x.dtype)

    def backward(self, g):
        (x,) = self.saved_tensors
        if self._kstate is not None:
            from ..cuda.kernels import loss as _kloss
            if not GRAD_MODE.enabled and _kernels(g._data) is not None:
                return _wrap(_kloss.backward(self._kstate, g._data), x), None, None
            # Recording a graph (or an unusual gradient dtype): the generic path's terms.
            self.coef, self.wvec, self.p = _kloss.generic_state(self._kstate)
        a, b, ts, rows = self.coef
        xp = self.xp
        dt = x._data.dtype
        rowc = a if b is None else a + b * self.wvec.sum()
        tmat = xp.zeros(self.p.shape, dtype=dt)
        tmat[rows, ts] = a
        if b is not None:
            tmat += b[:, None] * self.wvec[None, :]
        rowc = rowc.astype(dt)
        if GRAD_MODE.enabled:
            from .functional import softmax
            p = softmax(x, 1 if x.ndim >= 2 else 0)
            rc = _wrap(_from_rows(xp.broadcast_to(rowc[:, None], tmat.shape), self.shape), x)
            tm = _wrap(xp.ascontiguousarray(_from_rows(tmat, self.shape)), x)
            gx = p * rc - tm
            if self.reduction == "none":
                gx = gx * (g.unsqueeze(1) if x.ndim >= 2 else g)
            else:
                gx = gx * g
            return gx, None, None
        ga = g._data
        d2 = self.p * rowc[:, None]
        d2 -= tmat
        if self.reduction == "none":
            d2 *= ga.reshape(-1, 1)
        else:
            d2 *= ga
        return _wrap(xp.ascontiguousarray(_from_rows(d2, self.shape)), x), None, None


@register("nll_loss")
class NllLossOp(Primitive):
    """Negative log-likelihood of class indices (weight, ignore_index, reduction)."""

    def forward(self, x, target, weight=None, ignore_index=-100, reduction="mean"):
        xp = self.xp
        self.shape = x.shape
        n_cls = x.shape[1] if x.ndim >= 2 else x.shape[0]
        x2 = _to_rows(x)
        t2 = target.reshape(-1)
        ts, valid, wt = _nll_weights(xp, t2, weight, ignore_index, n_cls)
        rows = xp.arange(len(t2))
        nll = -x2[rows, ts] * wt
        denom = wt.sum() if reduction == "mean" else 1.0
        a = wt / denom
        tmat = xp.zeros(x2.shape, dtype=x.dtype)
        tmat[rows, ts] = -a
        self.tmat = xp.ascontiguousarray(_from_rows(tmat, x.shape))
        self.reduction = reduction
        self.tdim = x.ndim >= 2
        return xp.asarray(_reduce_rows(nll, reduction, denom, target.shape), dtype=x.dtype)

    def backward(self, g):
        tm = _reg.make_tensor(self.tmat, g._dtype, g._device)
        if self.reduction == "none" and self.tdim:
            g = g.unsqueeze(1)
        if GRAD_MODE.enabled:
            return tm * g, None, None
        return _wrap(self.tmat * g._data, g), None, None


# ------------------------------------------------------------------------- convolution
def _out_len(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _pad2(xp, x, ph, pw, value=0.0, extra_h=0, extra_w=0):
    if not (ph or pw or extra_h or extra_w):
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, h + 2 * ph + extra_h, w + 2 * pw + extra_w), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _im2col(xp, x, kh, kw, stride, padding, dilation, flat=False):
    """Columns of the sliding windows of ``x`` (N, C, H, W).

    ``flat=False``: (N, C*kh*kw, Ho*Wo), one GEMM per sample (used with groups).
    ``flat=True``: (C*kh*kw, N*Ho*Wo), so that a whole batch is one large GEMM, which BLAS runs
    much faster than N small ones; the output then needs one (cheap) transpose copy.
    Rows are ordered like ``weight.reshape(O, -1)``. The window view is built with stride
    tricks; the reshape is the only copy.
    """
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    x = _pad2(xp, x, ph, pw)
    n, c, h, w = x.shape
    ho = (h - dh * (kh - 1) - 1) // sh + 1
    wo = (w - dw * (kw - 1) - 1) // sw + 1
    s0, s1, s2, s3 = x.strides
    if flat:
        v = _strided(xp, x, (c, kh, kw, n, ho, wo),
                     (s1, s2 * dh, s3 * dw, s0, s2 * sh, s3 * sw))
        return v.reshape(c * kh * kw, n * ho * wo), ho, wo
    v = _strided(xp, x, (n, c, kh, kw, ho, wo), (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw))
    return v.reshape(n, c * kh * kw, ho * wo), ho, wo


# Stride-1, ungrouped convolutions (the usual 3x3 'same' CNN layer) use a "wide-row" layout:
# the input is zero-padded once into planes of width ``wp`` and each output row is computed over
# all ``wp`` columns, of which the last ``wp - wo`` are junk. Then every kernel offset (i, j) is
# ONE contiguous run of ``ho * wp`` elements of the flattened plane, starting at
# ``i*dh*wp + j*dw``, so im2col copies and col2im adds long runs instead of rows of ``wo``
# elements (numpy's per-row loop overhead dominated those). The junk columns cost ``wp/wo`` more
# GEMM work; they are cropped from the output and zeroed in the output-gradient, so they add
# nothing to the weight and input gradients as long as the other GEMM operand is finite
# (``_wide_ok`` checks; inf * 0 would be NaN).
# Scratch arrays of the conv/pool kernels. Multi-MB NumPy allocations get fresh mmap'd pages
# from glibc, and the first-touch page faults cost ~15% of the small CNN's training step; the
# kernels hand their temporaries (and the saved columns, once the node is released) back here
# and the next step reuses them. Per thread, bounded in bytes; CuPy has its own memory pool.
_SCRATCH = threading.local()
_SCRATCH_PER_KEY = 2
_SCRATCH_MAX_BYTES = 256 << 20


def _take(xp, shape, dtype):
    """An uninitialised array of ``shape``, reused from ``_give`` when one is free."""
    if xp is np:
        stack = getattr(_SCRATCH, "pool", {}).get((tuple(shape), np.dtype(dtype)))
        if stack:
            a = stack.pop()
            _SCRATCH.nbytes -= a.nbytes
            return a
    return xp.empty(shape, dtype=dtype)


def _give(*arrays):
    """Hand back arrays from ``_take`` that nothing references any more."""
    pool = getattr(_SCRATCH, "pool", None)
    if pool is None:
        pool = _SCRATCH.pool = {}
        _SCRATCH.nbytes = 0
    for a in arrays:
        if type(a) is not np.ndarray or a.base is not None or a.nbytes > _SCRATCH_MAX_BYTES:
            continue
        if _SCRATCH.nbytes + a.nbytes > _SCRATCH_MAX_BYTES:
            pool.clear()
            _SCRATCH.nbytes = 0
        stack = pool.setdefault((a.shape, a.dtype), [])
        if len(stack) < _SCRATCH_PER_KEY:
            stack.append(a)
            _SCRATCH.nbytes += a.nbytes


def _over_batch(xp, n, size, work):
    """Run ``work(sl)`` for slices ``sl`` of the batch axis covering ``range(n)``.

    NumPy's copies and ufuncs use one core (and release the GIL), so large conv/pool passes
    are cut into one slab per core on ember's elementwise thread pool; this thread runs the
    first slab itself. Small work, or CuPy, runs as a single call.
    """
    threads = _par._THREADS
    if xp is not np or threads < 2 or n < 2 or size < _par.MIN_SIZE:
        work(slice(None))
        return
    step = -(-n // min(threads, n))
    pool = _par._get_pool()
    futures = [pool.submit(work, slice(s, min(s + step, n))) for s in range(step, n, step)]
    work(slice(0, step))
    for f in futures:
        f.result()


def _mm_into(xp, a, b, out):
    """``a @ b`` written into ``out`` on NumPy (no fresh result array)."""
    if xp is np:
        return np.matmul(a, b, out=out)
    return _mm(a, b) if a.ndim == 2 and b.ndim == 2 else xp.matmul(a, b)


def _wide_ok(xp, stride, groups, *finite):
    # NumPy only: the layout works around NumPy's per-row loop cost, and on CUDA the finiteness
    # check would be a host sync per convolution (and is not allowed inside a graph capture).
    if xp is not np or tuple(stride) != (1, 1) or groups != 1:
        return False
    return all(bool(xp.isfinite(a).all()) for a in finite)


def _wide_geom(x_hw, out_hw, kh, kw, padding, dilation):
    """(wp, rows) of the zero-padded planes: rows leave room for the last offset's run."""
    (h, w), (ho, wo) = x_hw, out_hw
    (ph, pw), (dh, dw) = padding, dilation
    wp = max(w + 2 * pw, wo + dw * (kw - 1))
    rows = max(h + 2 * ph, ho + dh * (kh - 1) + -(-(dw * (kw - 1)) // wp))
    return wp, rows


def _im2col_wide(xp, x, kh, kw, padding, dilation, out_hw):
    """Columns (C*kh*kw, N*ho*wp), rows ordered like ``weight.reshape(O, -1)``."""
    n, c, h, w = x.shape
    ho, wo = out_hw
    (ph, pw), (dh, dw) = padding, dilation
    wp, rows = _wide_geom((h, w), out_hw, kh, kw, padding, dilation)
    xpd = _take(xp, (n, c, rows, wp), x.dtype)
    # Zero only the border, then copy the image in.
    xpd[:, :, :ph] = 0
    xpd[:, :, ph + h:] = 0
    xpd[:, :, ph:ph + h, :pw] = 0
    xpd[:, :, ph:ph + h, pw + w:] = 0
    xpd[:, :, ph:ph + h, pw:pw + w] = x
    s0, s1, s2, s3 = xpd.strides
    run = ho * wp
    v = _strided(xp, xpd, (c, kh, kw, n, run), (s1, s2 * dh, s3 * dw, s0, s3))
    cols = _take(xp, (c * kh * kw, n * run), x.dtype)
    cols5 = cols.reshape(c, kh, kw, n, run)
    _over_batch(xp, n, cols.size, lambda sl: xp.copyto(cols5[:, :, :, sl], v[:, :, :, sl]))
    _give(xpd)
    return cols, wp


def _grad_wide(xp, g, wp):
    """(N, O, Ho, Wo) -> (O, N*Ho*wp) with zeros in the junk columns."""
    n, o, ho, wo = g.shape
    gw = _take(xp, (o, n * ho * wp), g.dtype)
    g4 = gw.reshape(o, n, ho, wp)
    gt = g.transpose(1, 0, 2, 3)

    def work(sl):
        g4[:, sl, :, wo:] = 0
        g4[:, sl, :, :wo] = gt[:, sl]
    _over_batch(xp, n, gw.size, work)
    return gw


def _col2im_wide(xp, gc, c, kh, kw, n, x_hw, out_hw, padding, dilation):
    """Adjoint of _im2col_wide: gc (C*kh*kw, N*ho*wp) summed into (N, C, H, W)."""
    h, w = x_hw
    (ph, pw), (dh, dw) = padding, dilation
    wp, rows = _wide_geom(x_hw, out_hw, kh, kw, padding, dilation)
    run = out_hw[0] * wp
    gc = gc.reshape(c, kh, kw, n, run)
    dx = _take(xp, (c, n, rows * wp), gc.dtype)
    out = xp.empty((n, c, h, w), dtype=gc.dtype)
    out_t = out.transpose(1, 0, 2, 3)
    dx4 = dx.reshape(c, n, rows, wp)

    def work(sl):
        d = dx[:, sl]
        # The first offset's run starts at 0: copy it, zero the rest, add the other offsets.
        d[:, :, :run] = gc[:, 0, 0, sl]
        d[:, :, run:] = 0
        for i in range(kh):
            for j in range(kw):
                if i or j:
                    off = i * dh * wp + j * dw
                    d[:, :, off:off + run] += gc[:, i, j, sl]
        xp.copyto(out_t[:, sl], dx4[:, sl, ph:ph + h, pw:pw + w])
    _over_batch(xp, n, gc.size, work)
    _give(dx)
    return out


# Below this many rows (C*kh*kw, e.g. a first layer on 1-3 channels) the columns are cheap to
# build per sample, and per-sample GEMMs write NCHW directly: no crop/transpose copies, which
# measured 2x faster than the wide layout for conv 1->32 on 28x28 (and still ~1.2x at K=144,
# while the wide layout wins at K=288).
_SAMPLE_MAX_K = 256


def _conv_layout(xp, x, wshape, stride, padding, dilation, groups):
    """Columns layout of a convolution: the wide-row width ``wp`` (an int), or "sample"
    ((N, C*kh*kw, L), also used for groups) or "flat" ((C*kh*kw, N*L))."""
    o, cg, kh, kw = wshape
    # CUDA keeps the flat layout for groups == 1: its GEMMs go through ember.cuda.blas (usable
    # inside a graph capture), and the copy costs these layouts avoid are NumPy's.
    if groups != 1 or (xp is np and cg * kh * kw < _SAMPLE_MAX_K):
        return "sample"
    if _wide_ok(xp, stride, groups, x):
        out_hw = tuple(_out_len(x.shape[2 + a], wshape[2 + a], 1, padding[a], dilation[a])
                       for a in range(2))
        if min(out_hw) > 0:
            return _wide_geom(x.shape[2:], out_hw, kh, kw, padding, dilation)[0]
    return "flat"


def _conv_fwd(xp, x, w, b, stride, padding, dilation, groups):
    """(output, columns, layout), layout as returned by ``_conv_layout``."""
    o, cg, kh, kw = w.shape
    n = x.shape[0]
    k = cg * kh * kw
    layout = _conv_layout(xp, x, w.shape, stride, padding, dilation, groups)
    if isinstance(layout, int):
        out_hw = tuple(_out_len(x.shape[2 + a], w.shape[2 + a], 1, padding[a], dilation[a])
                       for a in range(2))
        ho, wo = out_hw
        cols, wp = _im2col_wide(xp, x, kh, kw, padding, dilation, out_hw)
        w2 = w.reshape(o, k)
        wide = _mm_into(xp, w2, cols, _take(xp, (o, cols.shape[1]),
                                            xp.result_type(w2, cols)))
        out = xp.empty((n, o, ho, wo), dtype=wide.dtype)
        out_t = out.transpose(1, 0, 2, 3)
        wide4 = wide.reshape(o, n, ho, wp)

        def work(sl):
            if b is not None:
                # On the contiguous GEMM output: faster than fusing it into the crop.
                wide4[:, sl] += b[:, None, None, None]
            # Crop the junk columns and transpose to NCHW in one copy.
            xp.copyto(out_t[:, sl], wide4[:, sl, :, :wo])
        _over_batch(xp, n, wide.size, work)
        _give(wide)
        return out, cols, wp
    if layout == "flat":
        cols, ho, wo = _im2col(xp, x, kh, kw, stride, padding, dilation, flat=True)
        out = _mm(w.reshape(o, k), cols)
        if b is not None:
            out += b[:, None]
        out = xp.ascontiguousarray(out.reshape(o, n, ho, wo).transpose(1, 0, 2, 3))
        return out, cols, layout
    cols, ho, wo = _im2col(xp, x, kh, kw, stride, padding, dilation)
    w3 = w.reshape(groups, o // groups, k)
    c4 = cols.reshape(n, groups, k, ho * wo)
    out = xp.matmul(w3, c4).reshape(n, o, ho * wo)
    if b is not None:
        out += b[:, None]
    return out.reshape(n, o, ho, wo), cols, layout


def _col2im(xp, gc, x_hw, kh, kw, stride, padding, dilation, flat=False):
    """Adjoint of _im2col: gc (N, C, kh, kw, Ho, Wo) (or (C, kh, kw, N, Ho, Wo) when
    ``flat``) summed back into (N, C, H, W)."""
    if flat:
        c, _, _, n, ho, wo = gc.shape
    else:
        n, c, _, _, ho, wo = gc.shape
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    h, w = x_hw
    hp = max(h + 2 * ph, dh * (kh - 1) + sh * (ho - 1) + 1)
    wp = max(w + 2 * pw, dw * (kw - 1) + sw * (wo - 1) + 1)
    dx = xp.zeros((n, c, hp, wp), dtype=gc.dtype)
    tgt = dx.transpose(1, 0, 2, 3) if flat else dx
    for i in range(kh):
        r0 = i * dh
        for j in range(kw):
            c0 = j * dw
            src = gc[:, i, j] if flat else gc[:, :, i, j]
            tgt[:, :, r0:r0 + sh * (ho - 1) + 1:sh, c0:c0 + sw * (wo - 1) + 1:sw] += src
    if hp == h and wp == w:
        return dx
    return xp.ascontiguousarray(dx[:, :, ph:ph + h, pw:pw + w])


def _flat_grad(xp, g):
    """(N, O, Ho, Wo) -> (O, N*Ho*Wo), the layout of the flat columns."""
    n, o, ho, wo = g.shape
    return xp.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(o, n * ho * wo)


def _conv_input_grad(xp, g, w, x_hw, stride, padding, dilation, groups, g_wide=None):
    """Gradient of conv2d w.r.t. its input (= conv_transpose2d of ``g`` with ``w``).

    ``g_wide``: ``g`` already in the wide-row layout (shared with the weight gradient).
    """
    o, cg, kh, kw = w.shape
    n, _, ho, wo = g.shape
    k = cg * kh * kw
    if _wide_ok(xp, stride, groups, w):
        own = g_wide is None
        if own:
            g_wide = _grad_wide(xp, g, _wide_geom(x_hw, (ho, wo), kh, kw, padding, dilation)[0])
        wt = w.reshape(o, k).T
        gc = _mm_into(xp, wt, g_wide, _take(xp, (k, g_wide.shape[1]),
                                            xp.result_type(wt, g_wide)))
        out = _col2im_wide(xp, gc, cg, kh, kw, n, x_hw, (ho, wo), padding, dilation)
        _give(gc, *((g_wide,) if own else ()))
        return out
    if groups == 1:
        gc = _mm(w.reshape(o, k).T, _flat_grad(xp, g)).reshape(cg, kh, kw, n, ho, wo)
        return _col2im(xp, gc, x_hw, kh, kw, stride, padding, dilation, flat=True)
    wm = w.reshape(groups, o // groups, k).transpose(0, 2, 1)
    gc = xp.matmul(wm, g.reshape(n, groups, o // groups, ho * wo))
    gc = gc.reshape(n, cg * groups, kh, kw, ho, wo)
    return _col2im(xp, gc, x_hw, kh, kw, stride, padding, dilation)


def _conv_weight_grad(xp, x, g, wshape, stride, padding, dilation, groups, cols=None,
                      layout=None, g_wide=None):
    """Gradient of conv2d w.r.t. its weight; ``cols`` are the forward's columns, in the
    layout ``layout`` (see ``_conv_layout``)."""
    o, cg, kh, kw = wshape
    n, _, ho, wo = g.shape
    k = cg * kh * kw
    if cols is None:
        layout = _conv_layout(xp, x, wshape, stride, padding, dilation, groups)
    if isinstance(layout, int):
        wp = layout
        temps = []
        if cols is None:
            cols, wp = _im2col_wide(xp, x, kh, kw, padding, dilation, (ho, wo))
            temps.append(cols)
        if g_wide is None:
            g_wide = _grad_wide(xp, g, wp)
            temps.append(g_wide)
        if k > o:
            # OpenBLAS runs this shape ~20% faster as (K, L) @ (L, O) than (O, L) @ (L, K).
            gw = xp.ascontiguousarray(_mm(cols, g_wide.T).T).reshape(wshape)
        else:
            gw = _mm(g_wide, cols.T).reshape(wshape)
        _give(*temps)
        return gw
    flat = layout == "flat"
    if cols is None:
        cols, h2, w2 = _im2col(xp, x, kh, kw, stride, padding, dilation, flat=flat)
        if (h2, w2) != (ho, wo):
            # conv_transpose2d's output_padding: x has rows/columns that g never saw.
            c4 = cols.reshape(((k, n) if flat else (n, k)) + (h2, w2))[:, :, :ho, :wo]
            cols = c4.reshape(k, -1) if flat else c4.reshape(n, k, ho * wo)
    if flat:
        return _mm(_flat_grad(xp, g), cols.T).reshape(wshape)
    g4 = g.reshape(n, groups, o // groups, ho * wo)
    c4 = cols.reshape(n, groups, k, ho * wo).transpose(0, 1, 3, 2)
    gw = xp.matmul(g4, c4).sum(0)
    return gw.reshape(wshape)


def _cudnn(xp):
    """ember.cuda.cudnn for CuPy arrays (its functions return None where cuDNN is absent,
    disabled or declines, and the caller falls back to im2col + GEMM); None for NumPy."""
    if xp is np:
        return None
    from ..cuda import cudnn
    return cudnn


@register("conv2d")
class Conv2dOp(Primitive):
    """2-D convolution: cuDNN on CUDA where available, else im2col + GEMM (zero padding; other
    modes pad first)."""

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        self.cfg = (stride, padding, dilation, groups)
        self.x_hw = x.shape[2:]
        dnn = _cudnn(self.xp)
        out = dnn.conv_fprop(x, w, stride, padding, dilation, groups) if dnn else None
        if out is not None:
            if b is not None:
                out += b.astype(out.dtype, copy=False)[:, None, None]
            self.cols = None
            self.layout = "cudnn"
            self.save_for_backward(x, w)
            return out
        out, cols, layout = _conv_fwd(self.xp, x, w, b, stride, padding, dilation, groups)
        self.cols = cols
        self.layout = layout
        self.save_for_backward(x, w)
        return out

    def _release(self):
        if isinstance(getattr(self, "layout", None), int):
            _give(self.cols)
        self.cols = None
        super()._release()

    def backward(self, g):
        x, w = self.saved_tensors
        need = self.needs_input_grad
        st, pd, dl, gr = self.cfg
        gx = gw = gb = None
        if GRAD_MODE.enabled:
            if need[0]:
                gx = ConvTranspose2dOp.apply(g, w, None, st, pd, dl, gr, self.x_hw)
            if need[1]:
                gw = Conv2dWeightOp.apply(x, g, tuple(w.shape), st, pd, dl, gr)
            if len(need) > 2 and need[2]:
                gb = g.sum((0, 2, 3))
            return gx, gw, gb
        xp = self.xp
        ga = g._data
        if self.layout == "cudnn":
            return self._cudnn_backward(ga, x, w, need)
        wide = isinstance(self.layout, int)
        g_wide = _grad_wide(xp, ga, self.layout) if wide else None
        if need[0]:
            gx = _wrap(_conv_input_grad(xp, ga, w._data, self.x_hw, st, pd, dl, gr, g_wide), x)
        if need[1]:
            gw = _wrap(_conv_weight_grad(xp, x._data, ga, w._data.shape, st, pd, dl, gr,
                                         self.cols, self.layout, g_wide), w)
        if len(need) > 2 and need[2]:
            gb = _wrap(ga.sum((0, 2, 3)), w)
        if g_wide is not None:
            _give(g_wide)
        return gx, gw, gb

    def _cudnn_backward(self, ga, x, w, need):
        dnn = _cudnn(self.xp)
        st, pd, dl, gr = self.cfg
        gx = gw = gb = None
        if need[0]:
            a = dnn.conv_dgrad(ga, w._data, x._data.shape, st, pd, dl, gr)
            if a is None:
                a = _conv_input_grad(self.xp, ga, w._data, self.x_hw, st, pd, dl, gr)
            gx = _wrap(a, x)
        if need[1]:
            a = dnn.conv_wgrad(x._data, ga, w._data.shape, st, pd, dl, gr)
            if a is None:
                a = _conv_weight_grad(self.xp, x._data, ga, w._data.shape, st, pd, dl, gr)
            gw = _wrap(a, w)
        if len(need) > 2 and need[2]:
            gb = _wrap(ga.sum((0, 2, 3)), w)
        return gx, gw, gb


@register("conv_transpose2d")
class ConvTranspose2dOp(Primitive):
    """Transposed convolution (the input-gradient of conv2d); weight (Cin, Cout/groups, kh, kw).

    ``out_hw`` is the spatial output size (it fixes output_padding).
    """

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                out_hw=None):
        self.cfg = (stride, padding, dilation, groups)
        self.save_for_backward(x, w)
        dnn = _cudnn(self.xp) if out_hw is not None else None
        out = None
        if dnn:
            x_shape = (x.shape[0], w.shape[1] * groups) + tuple(out_hw)
            out = dnn.conv_dgrad(x, w, x_shape, stride, padding, dilation, groups)
        if out is None:
            out = _conv_input_grad(self.xp, x, w, out_hw, stride, padding, dilation, groups)
        if b is not None:
            out += b[:, None, None]
        return out

    def backward(self, g):
        x, w = self.saved_tensors
        need = self.needs_input_grad
        st, pd, dl, gr = self.cfg
        gx = gw = gb = None
        if need[0]:
            gx = Conv2dOp.apply(g, w, None, st, pd, dl, gr)
            h, w_ = x.shape[2:]
            if tuple(gx.shape[2:]) != (h, w_):
                # output_padding with stride 1 (dilation > 1): the conv of g is larger than x
                # by the padded rows/columns, which no input position produced.
                gx = gx[:, :, :h, :w_]
        if need[1]:
            # <convT(x, w), g> = <conv2d(g, w), x>, whose weight-gradient is gw(g, x).
            gw = Conv2dWeightOp.apply(g, x, tuple(w.shape), st, pd, dl, gr)
        if len(need) > 2 and need[2]:
            gb = g.sum((0, 2, 3))
        return gx, gw, gb


@register("conv2d_weight")
class Conv2dWeightOp(Primitive):
    """Gradient of conv2d w.r.t. its weight, given the input ``x`` and output-gradient ``g``."""

    def forward(self, x, g, wshape, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        self.cfg = (stride, padding, dilation, groups)
        self.x_hw = x.shape[2:]
        self.save_for_backward(x, g)
        dnn = _cudnn(self.xp)
        out = dnn.conv_wgrad(x, g, wshape, stride, padding, dilation, groups) if dnn else None
        if out is not None:
            return out
        return _conv_weight_grad(self.xp, x, g, wshape, stride, padding, dilation, groups)

    def backward(self, v):
        x, g = self.saved_tensors
        need = self.needs_input_grad
        st, pd, dl, gr = self.cfg
        gx = ConvTranspose2dOp.apply(g, v, None, st, pd, dl, gr, self.x_hw) if need[0] else None
        gg = Conv2dOp.apply(x, v, None, st, pd, dl, gr) if need[1] else None
        return gx, gg


# ------------------------------------------------------------------------------ pooling
def _pool_geometry(h, k, s, p, d, ceil_mode):
    if ceil_mode:
        o = -(-(h + 2 * p - d * (k - 1) - 1) // s) + 1
        # The last window must start inside the input or the left padding (torch's rule).
        if (o - 1) * s >= h + p:
            o -= 1
    else:
        o = (h + 2 * p - d * (k - 1) - 1) // s + 1
    extra = max(0, (o - 1) * s + d * (k - 1) + 1 - (h + 2 * p))
    return o, extra


def _windows(xp, xpad, kh, kw, stride, dilation, ho, wo):
    """The kh*kw strided views (N, C, Ho, Wo), one per kernel offset."""
    sh, sw = stride
    dh, dw = dilation
    for i in range(kh):
        for j in range(kw):
            r0 = i * dh
            c0 = j * dw
            yield i, j, xpad[:, :, r0:r0 + sh * (ho - 1) + 1:sh, c0:c0 + sw * (wo - 1) + 1:sw]


@register("max_pool2d")
class MaxPool2dOp(Primitive):
    """2-D max pooling; with ``return_indices`` also the flat (H*W) index of each maximum."""

    def forward(self, x, kernel, stride, padding, dilation, ceil_mode=False,
                return_indices=False):
        xp = self.xp
        kh, kw = kernel
        h, w = x.shape[2:]
        ho, eh = _pool_geometry(h, kh, stride[0], padding[0], dilation[0], ceil_mode)
        wo, ew = _pool_geometry(w, kw, stride[1], padding[1], dilation[1], ceil_mode)
        self.geom = (kernel, stride, padding, dilation, (h, w), (eh, ew))
        self.like_shape = x.shape
        self.sel = None
        if (tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and tuple(padding) == (0, 0)
                and tuple(dilation) == (1, 1) and not (eh or ew) and ho > 0 and wo > 0):
            cur = self._forward_2x2(xp, x, ho, wo)
        else:
            cur = self._forward_windows(xp, x, ho, wo)
        if not return_indices:
            return cur
        return cur, self._flat_indices(xp, ho, wo)

    def _forward_windows(self, xp, x, ho, wo):
        (kh, kw), stride, padding, dilation, _, (eh, ew) = self.geom
        xpad = _pad2(xp, x, padding[0], padding[1], -np.inf, eh, ew)
        views = [v for _, _, v in _windows(xp, xpad, kh, kw, stride, dilation, ho, wo)]
        cur = views[0].copy()
        for v in views[1:]:
            xp.maximum(cur, v, out=cur)  # NaN propagates, as in torch
        # First window position holding the maximum (torch keeps the first on ties): the
        # index is the number of leading positions that differ from the maximum. Counting
        # with in-place adds is several times faster than copyto(..., where=).
        itype = np.int8 if len(views) < 128 else np.int32
        arg = xp.zeros(cur.shape, dtype=itype)
        differs = views[0] != cur
        for k in range(1, len(views)):
            xp.add(arg, differs, out=arg, casting="unsafe")
            if k < len(views) - 1:
                differs &= views[k] != cur
        self._arg = arg
        return cur

    def _forward_2x2(self, xp, x, ho, wo):
        """kernel = stride = 2 without padding, the CNN case, in two pairwise stages.

        First each row pair of a window (columns 0/1), then the two rows. Taking the second
        element only when strictly greater keeps the first maximum in row-major order, as
        torch does; a NaN wins like in torch's scan (``val > max || isnan(val)``), which only
        costs extra passes when the output has a NaN.
        """
        n, c = x.shape[:2]
        xc = x[:, :, :2 * ho, :2 * wo]
        cur = xp.empty((n, c, ho, wo), dtype=x.dtype)
        seli = xp.empty((n, c, ho, wo), dtype=bool)
        selj = xp.empty((n, c, 2 * ho, wo), dtype=bool)

        def work(sl):
            a = xc[sl, :, :, 0::2]
            b = xc[sl, :, :, 1::2]
            rowmax = xp.maximum(a, b)
            xp.greater(b, a, out=selj[sl])
            r0 = rowmax[:, :, 0::2]
            r1 = rowmax[:, :, 1::2]
            xp.maximum(r0, r1, out=cur[sl])
            xp.greater(r1, r0, out=seli[sl])
        _over_batch(xp, n, x.size, work)
        # On NumPy the NaN fix-up passes run only when a NaN is present; on CUDA they always
        # run (cheap there), since testing first would be a host sync per pooling op.
        if xp is not np or bool(xp.isnan(cur).any()):
            selj |= xp.isnan(xc[..., 1::2])
            seli |= xp.isnan(xp.maximum(xc[:, :, 1::2, 0::2], xc[:, :, 1::2, 1::2]))
        self.sel = (seli, selj)
        self._arg = None
        return cur

    @property
    def arg(self):
        """Window position (row-major) of each maximum, built lazily on the 2x2 path."""
        if self._arg is None:
            seli, selj = self.sel
            xp = self.xp
            j = xp.where(seli, selj[:, :, 1::2], selj[:, :, 0::2])
            self._arg = (seli.astype(np.int8) * 2 + j).astype(np.int8)
        return self._arg

    def _flat_indices(self, xp, ho, wo):
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (h, w), _ = self.geom
        a = self.arg.astype(np.int64)
        rows = (xp.arange(ho) * sh - ph)[:, None] + (a // kw) * dh
        cols = (xp.arange(wo) * sw - pw)[None, :] + (a % kw) * dw
        return (rows * w + cols).astype(np.int64)

    def _non_diff_outputs(self):
        return (1,)

    def backward(self, g, gi=None):
        (kh, kw), st, (ph, pw), dl, (h, w), (eh, ew) = self.geom
        xp = self.xp
        n, c, ho, wo = g.shape
        if GRAD_MODE.enabled:
            idx = self._flat_indices(xp, ho, wo)
            base = (xp.arange(n * c) * (h * w)).reshape(n, c, 1, 1)
            flat = _reg.make_tensor((idx + base).reshape(-1), _int64(), g._device)
            z = g.new_zeros((n * c * h * w,))
            return z.index_add(0, flat, g.reshape(-1)).reshape(n, c, h, w)
        ga = g._data
        # The multiply-by-mask route needs finite gradients; checking is a host sync on CUDA,
        # so there the general (where-based) route runs without asking.
        if self.sel is not None and xp is np and bool(xp.isfinite(ga).all()):
            return _wrap(self._backward_2x2(xp, ga, h, w), g)
        dx = xp.zeros((n, c, h + 2 * ph + eh, w + 2 * pw + ew), dtype=ga.dtype)
        arg = self.arg
        for i, j, v in _windows(xp, dx, kh, kw, st, dl, ho, wo):
            # where, not a multiply by the mask: inf * 0 would put NaN beside the maximum.
            v += xp.where(arg == i * kw + j, ga, 0)
        if ph or pw or eh or ew:
            dx = xp.ascontiguousarray(dx[:, :, ph:ph + h, pw:pw + w])
        return _wrap(dx, g)

    def _backward_2x2(self, xp, ga, h, w):
        """Route ``ga`` through the two stages of ``_forward_2x2``.

        Multiplying by the boolean selections (and ``g - g * sel`` for the other half) is
        exact for finite gradients and much faster than where(); the caller checks finiteness.
        """
        seli, selj = self.sel
        n, c, ho, wo = ga.shape
        rows = _take(xp, (n, c, 2 * ho, wo), ga.dtype)
        if h == 2 * ho and w == 2 * wo:
            dx = xp.empty((n, c, h, w), dtype=ga.dtype)
        else:
            dx = xp.zeros((n, c, h, w), dtype=ga.dtype)

        def work(sl):
            r = rows[sl]
            g = ga[sl]
            xp.multiply(g, seli[sl], out=r[:, :, 1::2])
            xp.subtract(g, r[:, :, 1::2], out=r[:, :, 0::2])
            d = dx[sl, :, :2 * ho]
            xp.multiply(r, selj[sl], out=d[..., 1:2 * wo:2])
            xp.subtract(r, d[..., 1:2 * wo:2], out=d[..., 0:2 * wo:2])
        _over_batch(xp, n, dx.size, work)
        _give(rows)
        return dx


def _int64():
    from ..backend import dtypes as _dt
    return _dt.int64


@register("avg_pool2d")
class AvgPool2dOp(Primitive):
    """2-D average pooling (count_include_pad, ceil_mode, divisor_override)."""

    def forward(self, x, kernel, stride, padding, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        xp = self.xp
        kh, kw = kernel
        h, w = x.shape[2:]
        ph, pw = padding
        ho, eh = _pool_geometry(h, kh, stride[0], ph, 1, ceil_mode)
        wo, ew = _pool_geometry(w, kw, stride[1], pw, 1, ceil_mode)
        xpad = _pad2(xp, x, ph, pw, 0.0, eh, ew)
        out = None
        for _, _, v in _windows(xp, xpad, kh, kw, stride, (1, 1), ho, wo):
            out = v.copy() if out is None else out.__iadd__(v)
        if divisor_override:
            div = xp.asarray(float(divisor_override), dtype=x.dtype)
        else:
            # Divisor per window: its size clipped to the padded input (count_include_pad)
            # or to the real input, as torch counts it.
            def span(o, k, s, p, n):
                start = xp.arange(o) * s - p
                end = xp.minimum(start + k, n + p)
                size_pad = end - start
                size_in = xp.minimum(end, n) - xp.maximum(start, 0)
                return size_pad if count_include_pad else size_in
            div = (span(ho, kh, stride[0], ph, h)[:, None]
                   * span(wo, kw, stride[1], pw, w)[None, :]).astype(x.dtype)
        out /= div
        self.div = div
        self.geom = (kernel, stride, padding, (h, w), (eh, ew))
        return out

    def backward(self, g):
        (kh, kw), st, (ph, pw), (h, w), (eh, ew) = self.geom
        xp = self.xp
        n, c, ho, wo = g.shape
        if GRAD_MODE.enabled:
            gd = g / _reg.make_tensor(xp.asarray(self.div), g._dtype, g._device)
            ones = g.new_ones((1, 1, kh, kw))
            gx = ConvTranspose2dOp.apply(gd.reshape(n * c, 1, ho, wo), ones, None, st,
                                         (ph, pw), (1, 1), 1, (h + eh, w + ew))
            gx = gx.reshape(n, c, h + eh, w + ew)
            if eh or ew:
                gx = gx[:, :, :h, :w]
            return gx
        gd = g._data / self.div
        dx = xp.zeros((n, c, h + 2 * ph + eh, w + 2 * pw + ew), dtype=gd.dtype)
        for _, _, v in _windows(xp, dx, kh, kw, st, (1, 1), ho, wo):
            v += gd
        if ph or pw or eh or ew:
            dx = xp.ascontiguousarray(dx[:, :, ph:ph + h, pw:pw + w])
        return _wrap(dx, g)


# ------------------------------------------------------------------------ normalisation
def _bn_composite(x, w, b, mean_axes, eps):
    mean = x.mean(mean_axes, keepdim=True)
    var = ((x - mean) ** 2).mean(mean_axes, keepdim=True)
    y = (x - mean) / (var + eps).sqrt()
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    if w is not None:
        y = y * w.reshape(shape)
    if b is not None:
        y = y + b.reshape(shape)
    return y


@register("batch_norm")
class BatchNormOp(Primitive):
    """Batch normalisation over all dims but 1; updates running stats in place when training."""

    def forward(self, x, w=None, b=None, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        xp = self.xp
        axes = (0,) + tuple(range(2, x.ndim))
        shape = [1] * x.ndim
        shape[1] = x.shape[1]
        self.axes = axes
        self.bshape = tuple(shape)
        self.training = training
        self.eps = eps
        if training:
            n = x.size // x.shape[1]
            if n <= 1:
                raise ValueError("Expected more than 1 value per channel when training, got "
                                 f"input size {list(x.shape)}")
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(shape)
            var = (xc * xc).mean(axis=axes)
            if running_mean is not None:
                running_mean *= (1 - momentum)
                running_mean += momentum * mean.astype(running_mean.dtype)
            if running_var is not None:
                running_var *= (1 - momentum)
                running_var += momentum * (var * (n / (n - 1))).astype(running_var.dtype)
        else:
            mean = running_mean.astype(x.dtype)
            var = running_var.astype(x.dtype)
            xc = x - mean.reshape(shape)
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype)
        xhat = xc * invstd.reshape(shape)
        self.invstd = invstd
        self.xhat = xhat
        out = xhat * w.reshape(shape) if w is not None else xhat.copy()
        if b is not None:
            out += b.reshape(shape)
        self.save_for_backward(x, w, b)
        # float16 input with float32 affine parameters: torch keeps the input's dtype.
        return out if out.dtype == x.dtype else out.astype(x.dtype)

    def _release(self):
        self.xhat = None
        super()._release()

    def backward(self, g):
        x, w, b = self.saved_tensors
        need = self.needs_input_grad + (False,) * 3
        axes = self.axes
        shape = self.bshape
        if GRAD_MODE.enabled:
            if self.training:
                return _composite_grad(lambda x_, w_, b_: _bn_composite(x_, w_, b_, axes,
                                                                         self.eps),
                                       (x, w, b), need[:3], g)
            inv = _reg.make_tensor(self.invstd, x._dtype, x._device).reshape(shape)
            xh = _reg.make_tensor(self.xhat, x._dtype, x._device)
            gx = g * inv * (w.reshape(shape) if w is not None else 1.0)
            gw = (g * xh).sum(axes) if need[1] else None
            gb = g.sum(axes) if need[2] else None
            return gx, gw, gb
        ga = g._data
        xhat = self.xhat
        gw = (ga * xhat).sum(axis=axes)
        gb = ga.sum(axis=axes)
        gx = None
        if need[0]:
            scale = self.invstd if w is None else self.invstd * w._data
            if self.training:
                n = ga.size // ga.shape[1]
                gx = ga - (gb / n).reshape(shape)
                gx -= xhat * (gw / n).reshape(shape)
                gx *= scale.reshape(shape)
            else:
                gx = ga * scale.reshape(shape)
            gx = _wrap(gx, x)
        return (gx, _wrap(gw, w) if need[1] else None, _wrap(gb, b) if need[2] else None)


def _ln_composite(x, w, b, axes, eps):
    mean = x.mean(axes, keepdim=True)
    var = ((x - mean) ** 2).mean(axes, keepdim=True)
    y = (x - mean) / (var + eps).sqrt()
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


@register("layer_norm")
class LayerNormOp(Primitive):
    """Layer normalisation over the trailing ``len(normalized_shape)`` dims. On CUDA the
    kernels of ember.cuda.kernels.norm keep per-row float32 ``kstats`` (mean, rstd) instead of
    ``xhat``."""

    kstats = None

    def forward(self, x, w=None, b=None, nd=1, eps=1e-5):
        xp = self.xp
        axes = tuple(range(x.ndim - nd, x.ndim))
        self.axes = axes
        self.eps = eps
        if xp is not np and nd >= 1:
            k = _kernels(x)
            if k is not None and k.norm.supported(w, b):
                d = int(np.prod(x.shape[x.ndim - nd:]))
                out, mean, rstd = k.norm.forward(x, w, b, d, eps)
                self.kstats = (mean, rstd, d)
                self.xhat = None
                self.save_for_backward(x, w, b)
                return out
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype)
        xhat = xc * invstd
        self.invstd = invstd
        self.xhat = xhat
        out = xhat * w if w is not None else xhat.copy()
        if b is not None:
            out += b
        self.save_for_backward(x, w, b)
        # float16 input with float32 affine parameters: torch keeps the input's dtype.
        return out if out.dtype == x.dtype else out.astype(x.dtype)

    def _release(self):
        self.xhat = None
        self.kstats = None
        super()._release()

    def backward(self, g):
        x, w, b = self.saved_tensors
        need = self.needs_input_grad + (False,) * 3
        axes = self.axes
        if GRAD_MODE.enabled:
            return _composite_grad(lambda x_, w_, b_: _ln_composite(x_, w_, b_, axes, self.eps),
                                   (x, w, b), need[:3], g)
        ga = g._data
        if self.kstats is not None:
            return self._kernel_backward(ga, x, w, b, need)
        xhat = self.xhat
        lead = tuple(range(ga.ndim - len(axes)))
        gw = _wrap((ga * xhat).sum(axis=lead), w) if need[1] else None
        gb = _wrap(ga.sum(axis=lead), b) if need[2] else None
        gx = None
        if need[0]:
            gh = ga * w._data if w is not None else ga
            n = 1
            for a in axes:
                n *= ga.shape[a]
            gx = gh - gh.mean(axis=axes, keepdims=True)
            gx -= xhat * (gh * xhat).mean(axis=axes, keepdims=True)
            gx *= self.invstd
            gx = _wrap(gx, x)
        return gx, gw, gb

    def _kernel_backward(self, ga, x, w, b, need):
        from ..cuda.kernels import norm as _knorm
        mean, rstd, d = self.kstats
        xa = x._data
        if _kernels(ga) is None:
            ga = ga.astype(xa.dtype)  # e.g. a float64 gradient: the kernels read x's dtype
        gx = None
        if need[0]:
            gx = _wrap(_knorm.backward_dx(ga, xa, w._data if w is not None else None, mean,
                                          rstd, d), x)
        gw = gb = None
        if need[1] or need[2]:
            dw, db = _knorm.backward_dwdb(ga, xa, mean, rstd, d,
                                          w._data if need[1] else None,
                                          b._data if need[2] else None)
            # (D,) sums: normalized_shape may have several dims.
            gw = _wrap(dw.reshape(w._data.shape), w) if need[1] else None
            gb = _wrap(db.reshape(b._data.shape), b) if need[2] else None
        return gx, gw, gb


# ----------------------------------------------------------------------- dropout, embedding
@register("dropout")
class DropoutOp(Primitive):
    """``x * mask`` with a precomputed (already scaled) mask array; or, with ``mask=None`` (CUDA
    only), dropout with probability ``p`` by ember.cuda.kernels.dropout, whose mask is a hash of
    a saved (seed, offset) pair and never stored."""

    def forward(self, x, mask, p=0.5):
        self.mask = mask
        if mask is None:
            from ..cuda.kernels import dropout as _kdrop
            y, self.kseed = _kdrop.forward(x, p)
            self.p = p
            return y
        return x * mask

    def backward(self, g):
        m = self.mask
        if m is None:
            from ..cuda.kernels import dropout as _kdrop
            if not GRAD_MODE.enabled and _kernels(g._data) is not None:
                return _wrap(_kdrop.backward(g._data, self.kseed, self.p), g), None
            ga = g._data
            m = _kdrop.mask(ga.shape, ga.dtype if _kernels(ga) is not None else np.float32,
                            self.kseed, self.p)
            if m.dtype != ga.dtype:
                m = m.astype(ga.dtype)
        if GRAD_MODE.enabled:
            return g * _reg.make_tensor(m, g._dtype, g._device), None
        return _wrap(g._data * m, g), None


@register("embedding")
class EmbeddingOp(Primitive):
    """Row lookup ``weight[indices]``; rows at ``padding_idx`` get no gradient."""

    def forward(self, idx, w, padding_idx=None):
        n = w.shape[0]
        if idx.size and host_checks_allowed() and (int(idx.min()) < -n or int(idx.max()) >= n):
            raise IndexError("index out of range in self")
        self.idx = idx
        self.n = n
        self.padding_idx = padding_idx
        self.wshape = w.shape
        return w[idx]

    def backward(self, g):
        xp = self.xp
        d = self.wshape[1]
        if xp is not np and not GRAD_MODE.enabled and type(self.idx) is not np.ndarray:
            k = _kernels(g._data)
            if k is not None:
                return None, _wrap(k.embedding.backward(g._data, self.idx, self.n, d,
                                                        self.padding_idx), g)
        flat = self.idx.reshape(-1) % self.n
        if GRAD_MODE.enabled:
            it = _reg.make_tensor(flat, _int64(), g._device)
            g2 = g.reshape(-1, d)
            if self.padding_idx is not None:
                keep = _reg.make_tensor((flat != self.padding_idx).astype(g._data.dtype)[:, None],
                                        g._dtype, g._device)
                g2 = g2 * keep
            return None, g.new_zeros(self.wshape).index_add(0, it, g2)
        g2 = g._data.reshape(-1, d)
        if self.padding_idx is not None:
            g2 = g2 * (flat != self.padding_idx)[:, None]
        gw = xp.zeros(self.wshape, dtype=g2.dtype)
        xp.add.at(gw, flat, g2)
        return None, _wrap(gw, g)


# grad_fn names as torch prints them (type(y.grad_fn).__name__ / y.grad_fn.name()).
for _cls, _name in ((LinearOp, "AddmmBackward0"), (SoftmaxOp, "SoftmaxBackward0"),
                    (LogSoftmaxOp, "LogSoftmaxBackward0"), (CrossEntropyOp, "NllLossBackward0"),
                    (NllLossOp, "NllLossBackward0"), (Conv2dOp, "ConvolutionBackward0"),
                    (ConvTranspose2dOp, "ConvolutionBackward0"),
                    (Conv2dWeightOp, "ConvolutionBackwardBackward0"),
                    (MaxPool2dOp, "MaxPool2DWithIndicesBackward0"),
                    (AvgPool2dOp, "AvgPool2DBackward0"),
                    (BatchNormOp, "NativeBatchNormBackward0"),
                    (LayerNormOp, "NativeLayerNormBackward0"),
                    (DropoutOp, "NativeDropoutBackward0"), (EmbeddingOp, "EmbeddingBackward0")):
    _cls._backward_name = _name
