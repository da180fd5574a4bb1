"""Lowering of the ember.jit IR to ONNX: one function per primitive in ``LOWERINGS``."""
from __future__ import annotations

import math

import numpy as np

from ..jit._ir import DataRef, Graph, SymInt, Value


class UnsupportedOperatorError(RuntimeError):
    """A primitive of the graph has no ONNX lowering."""


_ONNX_DTYPE = {"float32": 1, "uint8": 2, "int8": 3, "int16": 5, "int32": 6, "int64": 7,
               "bool": 9, "float16": 10, "float64": 11, "bfloat16": 1}
_INT_MAX = 2 ** 63 - 1
_INT_MIN = -2 ** 63


class _Ctx:
    """Builds the ONNX graph: names values, emits nodes, makes initializers."""

    def __init__(self, graph: Graph, opset: int):
        import onnx
        self.onnx = onnx
        self.h = onnx.helper
        self.g = graph
        self.opset = opset
        self.nodes: list = []
        self.inits: list = []
        self.names: dict = {}
        self.n = 0
        self.sym_cache: dict = {}
        self.input_names: list = []

    def fresh(self, hint: str = "t") -> str:
        self.n += 1
        return f"{hint}_{self.n}"

    def name(self, v) -> str:
        if isinstance(v, DataRef):
            v = v.value
        return self.names[v.id]

    def add(self, op: str, inputs: list, n_out: int = 1, outputs=None, **attrs):
        outs = outputs or [self.fresh(op.lower()) for _ in range(n_out)]
        self.nodes.append(self.h.make_node(op, list(inputs), list(outs), **attrs))
        return outs[0] if n_out == 1 else outs

    def init(self, arr: np.ndarray, name: str | None = None) -> str:
        from onnx import numpy_helper
        name = name or self.fresh("const")
        arr = np.asarray(arr)
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def i64(self, values) -> str:
        return self.init(np.asarray(values, dtype=np.int64))

    def scalar(self, value, like: Value) -> str:
        dt = like.dtype
        npdt = np.float32 if dt.name == "bfloat16" else dt.np
        return self.init(np.asarray(value, dtype=npdt))

    def sym(self, s: SymInt) -> str:
        """A [1]-shaped int64 tensor holding ``s`` computed from the input shapes."""
        key = (s.sym, s.a, s.b)
        if key in self.sym_cache:
            return self.sym_cache[key]
        i, d = self.g.sym_sources[s.sym]
        base_key = (s.sym, 1, 0)
        base = self.sym_cache.get(base_key)
        if base is None:
            shp = self.add("Shape", [self.input_names[i]])
            base = self.add("Gather", [shp, self.i64([d])], axis=0)
            self.sym_cache[base_key] = base
        out = base
        if s.a != 1:
            out = self.add("Mul", [out, self.i64([s.a])])
        if s.b != 0:
            out = self.add("Add", [out, self.i64([s.b])])
        self.sym_cache[key] = out
        return out

    def ints(self, values) -> str:
        """A 1-D int64 tensor of ints and SymInts (Concat of pieces when any is symbolic)."""
        values = list(values)
        if not any(isinstance(v, SymInt) for v in values):
            return self.i64([int(v) for v in values])
        parts, run = [], []
        for v in values:
            if isinstance(v, SymInt):
                if run:
                    parts.append(self.i64(run))
                    run = []
                parts.append(self.sym(v))
            else:
                run.append(int(v))
        if run:
            parts.append(self.i64(run))
        return self.add("Concat", parts, axis=0)

    def operand(self, a, like: Value) -> str:
        """The ONNX name of a node argument: a value, or a scalar as a constant like ``like``."""
        if isinstance(a, (Value, DataRef)):
            return self.name(a)
        return self.scalar(a, like)

    def reduce(self, op: str, x: str, dims, keepdim: bool, attr_axes: bool) -> str:
        """Reduce ops take axes as an attribute before opset 18 (ReduceSum: before 13)."""
        keep = int(bool(keepdim))
        if dims is None:
            return self.add(op, [x], keepdims=keep)
        dims = [dims] if isinstance(dims, int) else list(dims)
        if attr_axes:
            return self.add(op, [x], axes=dims, keepdims=keep)
        return self.add(op, [x, self.i64(dims)], keepdims=keep)


LOWERINGS: dict = {}


def lowers(*names):
    def deco(fn):
        for n in names:
            LOWERINGS[n] = fn
        return fn
    return deco


def _tensor_args(node):
    return [a for a in node.args if isinstance(a, Value)]


def _first_value(node) -> Value:
    return _tensor_args(node)[0]


# ------------------------------------------------------------------------- elementwise
_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow",
           "maximum": "Max", "minimum": "Min", "eq": "Equal", "lt": "Less", "gt": "Greater",
           "le": "LessOrEqual", "ge": "GreaterOrEqual", "logical_and": "And",
           "logical_or": "Or", "logical_xor": "Xor", "remainder": "Mod"}


@lowers(*_BINARY)
def _binary(ctx, node, out):
    like = _first_value(node)
    a, b = (ctx.operand(x, like) for x in node.args[:2])
    op = _BINARY[node.op]
    if node.op in ("maximum", "minimum", "add", "sub", "mul", "div") or node.op.startswith("log"):
        pass
    if op == "Mod":
        fmod = int(like.dtype.category >= 2)
        return ctx.add(op, [a, b], outputs=out, fmod=fmod) if not fmod else \
            _py_mod(ctx, a, b, out)
    return ctx.add(op, [a, b], outputs=out)


def _py_mod(ctx, a, b, out):
    # Python's (torch's) float remainder takes the sign of the divisor: a - floor(a/b)*b.
    q = ctx.add("Floor", [ctx.add("Div", [a, b])])
    return ctx.add("Sub", [a, ctx.add("Mul", [q, b])], outputs=out)


@lowers("ne")
def _ne(ctx, node, out):
    like = _first_value(node)
    a, b = (ctx.operand(x, like) for x in node.args[:2])
    return ctx.add("Not", [ctx.add("Equal", [a, b])], outputs=out)


_UNARY = {"abs": "Abs", "neg": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
          "reciprocal": "Reciprocal", "sin": "Sin", "cos": "Cos", "tan": "Tan", "tanh": "Tanh",
          "sigmoid": "Sigmoid", "relu": "Relu", "erf": "Erf", "floor": "Floor", "ceil": "Ceil",
          "sign": "Sign", "asin": "Asin", "acos": "Acos", "atan": "Atan", "sinh": "Sinh",
          "cosh": "Cosh", "isnan": "IsNaN", "logical_not": "Not", "clone": "Identity",
          "bitwise_not": "Not"}


@lowers(*_UNARY)
def _unary(ctx, node, out):
    return ctx.add(_UNARY[node.op], [ctx.name(node.args[0])], outputs=out)


@lowers("rsqrt")
def _rsqrt(ctx, node, out):
    return ctx.add("Reciprocal", [ctx.add("Sqrt", [ctx.name(node.args[0])])], outputs=out)


@lowers("round")
def _round(ctx, node, out):
    dec = node.args[1] if len(node.args) > 1 else node.kwargs.get("decimals", 0)
    x = ctx.name(node.args[0])
    if not dec:
        return ctx.add("Round", [x], outputs=out)
    s = ctx.scalar(10.0 ** dec, node.args[0])
    return ctx.add("Div", [ctx.add("Round", [ctx.add("Mul", [x, s])]), s], outputs=out)


@lowers("log2", "log10", "log1p", "expm1", "exp2")
def _log_family(ctx, node, out):
    v = node.args[0]
    x = ctx.name(v)
    one = ctx.scalar(1.0, v)
    if node.op == "log1p":
        return ctx.add("Log", [ctx.add("Add", [x, one])], outputs=out)
    if node.op == "expm1":
        return ctx.add("Sub", [ctx.add("Exp", [x]), one], outputs=out)
    if node.op == "exp2":
        return ctx.add("Pow", [ctx.scalar(2.0, v), x], outputs=out)
    base = 2.0 if node.op == "log2" else 10.0
    return ctx.add("Div", [ctx.add("Log", [x]), ctx.scalar(math.log(base), v)], outputs=out)


@lowers("isinf")
def _isinf(ctx, node, out):
    return ctx.add("IsInf", [ctx.name(node.args[0])], outputs=out)


@lowers("isfinite")
def _isfinite(ctx, node, out):
    x = ctx.name(node.args[0])
    bad = ctx.add("Or", [ctx.add("IsInf", [x]), ctx.add("IsNaN", [x])])
    return ctx.add("Not", [bad], outputs=out)


@lowers("trunc")
def _trunc(ctx, node, out):
    v = node.args[0]
    x = ctx.name(v)
    # trunc(x) = sign(x) * floor(|x|)
    return ctx.add("Mul", [ctx.add("Sign", [x]), ctx.add("Floor", [ctx.add("Abs", [x])])],
                   outputs=out)


@lowers("clamp")
def _clamp(ctx, node, out):
    v = node.args[0]
    lo = node.args[1] if len(node.args) > 1 else node.kwargs.get("lo")
    hi = node.args[2] if len(node.args) > 2 else node.kwargs.get("hi")
    x = ctx.name(v)
    if isinstance(lo, Value) or isinstance(hi, Value):
        if lo is not None:
            x = ctx.add("Max", [x, ctx.operand(lo, v)])
        if hi is not None:
            x = ctx.add("Min", [x, ctx.operand(hi, v)])
        return ctx.add("Identity", [x], outputs=out)
    ins = [x, ctx.scalar(lo, v) if lo is not None else "",
           ctx.scalar(hi, v) if hi is not None else ""]
    while ins[-1] == "":
        ins.pop()
    return ctx.add("Clip", ins, outputs=out)


@lowers("where")
def _where(ctx, node, out):
    vals = _tensor_args(node)
    like = vals[1] if len(vals) > 1 else vals[0]
    c, a, b = (ctx.operand(x, like) for x in node.args[:3])
    return ctx.add("Where", [c, a, b], outputs=out)


@lowers("masked_fill")
def _masked_fill(ctx, node, out):
    v = node.args[0]
    value = node.args[2] if len(node.args) > 2 else node.kwargs["value"]
    return ctx.add("Where", [ctx.name(node.args[1]), ctx.operand(value, v), ctx.name(v)],
                   outputs=out)


@lowers("to_dtype")
def _to_dtype(ctx, node, out):
    dt = node.args[1] if len(node.args) > 1 else node.kwargs["dtype"]
    return ctx.add("Cast", [ctx.name(node.args[0])], outputs=out, to=_ONNX_DTYPE[dt.name])


@lowers("dropout")
def _dropout(ctx, node, out):
    # The recorded mask is part of the graph (a training-mode trace): multiply by it.
    v = node.args[0]
    mask = np.asarray(node.args[1], dtype=np.float32 if v.dtype.name == "bfloat16"
                      else v.dtype.np)
    return ctx.add("Mul", [ctx.name(v), ctx.init(mask)], outputs=out)


# ------------------------------------------------------------------------------ linalg
@lowers("matmul")
def _matmul(ctx, node, out):
    return ctx.add("MatMul", [ctx.name(node.args[0]), ctx.name(node.args[1])], outputs=out)


@lowers("linear")
def _linear(ctx, node, out):
    x, w = node.args[0], node.args[1]
    b = node.args[2] if len(node.args) > 2 else None
    if len(x.shape) == 2:
        ins = [ctx.name(x), ctx.name(w)] + ([ctx.name(b)] if isinstance(b, Value) else [])
        return ctx.add("Gemm", ins, outputs=out, transB=1)
    wt = ctx.add("Transpose", [ctx.name(w)], perm=[1, 0])
    if not isinstance(b, Value):
        return ctx.add("MatMul", [ctx.name(x), wt], outputs=out)
    return ctx.add("Add", [ctx.add("MatMul", [ctx.name(x), wt]), ctx.name(b)], outputs=out)


@lowers("einsum")
def _einsum(ctx, node, out):
    return ctx.add("Einsum", [ctx.name(a) for a in _tensor_args(node)], outputs=out,
                   equation=node.kwargs["equation"].replace(" ", ""))


# ------------------------------------------------------------------------------- shape
@lowers("reshape")
def _reshape(ctx, node, out):
    shape = list(node.args[1])
    syms = [i for i, s in enumerate(shape) if isinstance(s, SymInt)]
    if len(syms) == 1 and -1 not in shape:
        # The one dynamic entry is whatever the static ones leave: -1 (like x.view(-1, 2304)).
        shape[syms[0]] = -1
    return ctx.add("Reshape", [ctx.name(node.args[0]), ctx.ints(shape)], outputs=out)


@lowers("permute")
def _permute(ctx, node, out):
    return ctx.add("Transpose", [ctx.name(node.args[0])], outputs=out,
                   perm=[int(d) for d in node.args[1]])


@lowers("expand")
def _expand(ctx, node, out):
    return ctx.add("Expand", [ctx.name(node.args[0]), ctx.ints(node.args[1])], outputs=out)


@lowers("cat")
def _cat(ctx, node, out):
    vals = _tensor_args(node)
    dim = node.kwargs.get("dim", 0)
    nd = len(node.outputs[0].shape)
    vals = [v for v in vals if not (len(v.shape) == 1 and v.shape[0] == 0 and nd != 1)]
    return ctx.add("Concat", [ctx.name(v) for v in vals], outputs=out, axis=int(dim))


@lowers("tril", "triu")
def _trilu(ctx, node, out):
    k = node.args[1] if len(node.args) > 1 else node.kwargs.get("diagonal", 0)
    return ctx.add("Trilu", [ctx.name(node.args[0]), ctx.i64(k)], outputs=out,
                   upper=int(node.op == "triu"))


@lowers("getitem")
def _getitem(ctx, node, out):
    v, idx = node.args[0], node.args[1]
    items = list(idx) if isinstance(idx, tuple) else [idx]
    rank = len(v.shape)
    consumed = sum(1 for it in items if it is not None and it is not Ellipsis)
    if Ellipsis in items:
        k = items.index(Ellipsis)
        items[k:k + 1] = [slice(None)] * (rank - consumed)
    x = ctx.name(v)
    arrays = [(d, it) for d, it in enumerate(i for i in items if i is not None)
              if isinstance(it, (np.ndarray, DataRef))]
    if arrays:
        if len(arrays) != 1 or any(not (it is None or it == slice(None)) for it in items
                                   if not isinstance(it, (np.ndarray, DataRef))):
            raise UnsupportedOperatorError("ember.onnx: getitem with this advanced index "
                                           "pattern has no ONNX lowering")
        d, it = arrays[0]
        ind = ctx.name(it) if isinstance(it, DataRef) else ctx.init(np.asarray(it, np.int64))
        if isinstance(it, DataRef) and it.value.dtype.name != "int64":
            raise UnsupportedOperatorError("ember.onnx: getitem with a boolean mask has no "
                                           "ONNX lowering")
        return ctx.add("Gather", [x, ind], outputs=out, axis=d)
    starts, ends, axes, steps, squeeze, unsq = [], [], [], [], [], []
    dim = 0
    pos = 0
    for it in items:
        if it is None:
            unsq.append(pos)
            pos += 1
            continue
        if isinstance(it, (int, np.integer, SymInt)) and not isinstance(it, bool):
            starts.append(it)
            ends.append(_INT_MAX if (not isinstance(it, SymInt) and it == -1) else
                        (it + 1 if not isinstance(it, SymInt) else
                         SymInt(it.sym, it.a, it.b + 1, it.value + 1)))
            axes.append(dim)
            steps.append(1)
            squeeze.append(dim)
            dim += 1
            continue
        if isinstance(it, slice):
            step = 1 if it.step is None else it.step
            if not (it.start is None and it.stop is None and step == 1):
                neg = not isinstance(step, SymInt) and step < 0
                starts.append(it.start if it.start is not None else
                              (_INT_MAX if neg else 0))
                ends.append(it.stop if it.stop is not None else (_INT_MIN if neg else _INT_MAX))
                axes.append(dim)
                steps.append(step)
            dim += 1
            pos += 1
            continue
        raise UnsupportedOperatorError(f"ember.onnx: getitem with index {it!r} has no ONNX "
                                       "lowering")
    if starts:
        x = ctx.add("Slice", [x, ctx.ints(starts), ctx.ints(ends), ctx.i64(axes),
                              ctx.ints(steps)])
    if squeeze:
        x = ctx.add("Squeeze", [x, ctx.i64(squeeze)])
    if unsq:
        x = ctx.add("Unsqueeze", [x, ctx.i64(unsq)])
    return ctx.add("Identity", [x], outputs=out)


@lowers("index_select")
def _index_select(ctx, node, out):
    return ctx.add("Gather", [ctx.name(node.args[0]), ctx.name(node.args[2])], outputs=out,
                   axis=int(node.args[1]))


@lowers("gather")
def _gather(ctx, node, out):
    return ctx.add("GatherElements", [ctx.name(node.args[0]), ctx.name(node.args[2])],
                   outputs=out, axis=int(node.args[1]))


@lowers("embedding")
def _embedding(ctx, node, out):
    return ctx.add("Gather", [ctx.name(node.args[1]), ctx.name(node.args[0])], outputs=out,
                   axis=0)


# --------------------------------------------------------------------------- reductions
def _reduce_args(node):
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    keep = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
    return dim, keep


@lowers("sum")
def _sum(ctx, node, out):
    v = node.args[0]
    x = ctx.name(v)
    o = node.outputs[0]
    if o.dtype is not v.dtype:
        x = ctx.add("Cast", [x], to=_ONNX_DTYPE[o.dtype.name])
    dim, keep = _reduce_args(node)
    return ctx.add("Identity", [ctx.reduce("ReduceSum", x, dim, keep, False)], outputs=out)


_REDUCE = {"mean": "ReduceMean", "amax": "ReduceMax", "amin": "ReduceMin",
           "prod": "ReduceProd", "logsumexp": "ReduceLogSumExp"}


@lowers(*_REDUCE)
def _reduce(ctx, node, out):
    dim, keep = _reduce_args(node)
    r = ctx.reduce(_REDUCE[node.op], ctx.name(node.args[0]), dim, keep, ctx.opset < 18)
    return ctx.add("Identity", [r], outputs=out)


@lowers("argmax", "argmin")
def _argreduce(ctx, node, out):
    dim, keep = _reduce_args(node)
    x = ctx.name(node.args[0])
    if dim is None:
        x = ctx.add("Reshape", [x, ctx.i64([-1])])
        dim = 0
    op = "ArgMax" if node.op == "argmax" else "ArgMin"
    return ctx.add(op, [x], outputs=out, axis=int(dim), keepdims=int(bool(keep)))


@lowers("max_dim", "min_dim")
def _max_dim(ctx, node, out):
    dim = node.args[1] if len(node.args) > 1 else node.kwargs["dim"]
    keep = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
    x = ctx.name(node.args[0])
    red = "ReduceMax" if node.op == "max_dim" else "ReduceMin"
    arg = "ArgMax" if node.op == "max_dim" else "ArgMin"
    ctx.add("Identity", [ctx.reduce(red, x, [dim], keep, ctx.opset < 18)], outputs=[out[0]])
    ctx.add(arg, [x], outputs=[out[1]], axis=int(dim), keepdims=int(bool(keep)))
    return out


@lowers("var")
def _var(ctx, node, out):
    v = node.args[0]
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    corr = node.args[2] if len(node.args) > 2 else node.kwargs.get("correction", 1)
    keep = node.args[3] if len(node.args) > 3 else node.kwargs.get("keepdim", False)
    x = ctx.name(v)
    attr = ctx.opset < 18
    mean = ctx.reduce("ReduceMean", x, dim, True, attr)
    diff = ctx.add("Sub", [x, mean])
    sq = ctx.add("Mul", [diff, diff])
    dims = range(len(v.shape)) if dim is None else ([dim] if isinstance(dim, int) else dim)
    n = 1
    for d in dims:
        n *= v.shape[d]
    if any(isinstance(v.shape[d], SymInt) for d in dims):  # pragma: no cover - shapes are ints
        raise UnsupportedOperatorError("ember.onnx: var over a dynamic axis")
    s = ctx.reduce("ReduceSum", sq, dim, keep, False)
    return ctx.add("Div", [s, ctx.scalar(max(n - corr, 0), v)], outputs=out)


@lowers("cumsum")
def _cumsum(ctx, node, out):
    dim = node.args[1] if len(node.args) > 1 else node.kwargs["dim"]
    return ctx.add("CumSum", [ctx.name(node.args[0]), ctx.i64(dim)], outputs=out)


# ------------------------------------------------------------------------------- nn ops
@lowers("softmax", "log_softmax")
def _softmax(ctx, node, out):
    dim = node.args[1] if len(node.args) > 1 else node.kwargs["dim"]
    op = "Softmax" if node.op == "softmax" else "LogSoftmax"
    return ctx.add(op, [ctx.name(node.args[0])], outputs=out, axis=int(dim))


def _arg(node, i, name, default):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


@lowers("conv2d")
def _conv2d(ctx, node, out):
    x, w = node.args[0], node.args[1]
    b = _arg(node, 2, "b", None)
    stride = _arg(node, 3, "stride", (1, 1))
    pad = _arg(node, 4, "padding", (0, 0))
    dil = _arg(node, 5, "dilation", (1, 1))
    groups = _arg(node, 6, "groups", 1)
    ins = [ctx.name(x), ctx.name(w)] + ([ctx.name(b)] if isinstance(b, Value) else [])
    return ctx.add("Conv", ins, outputs=out, strides=list(stride),
                   pads=list(pad) + list(pad), dilations=list(dil), group=int(groups),
                   kernel_shape=list(w.shape[2:]))


def _pool_pads(pad):
    return list(pad) + list(pad)


@lowers("max_pool2d")
def _max_pool2d(ctx, node, out):
    kernel, stride, pad, dil = (node.args[i] for i in range(1, 5))
    ceil = _arg(node, 5, "ceil_mode", False)
    if _arg(node, 6, "return_indices", False):
        raise UnsupportedOperatorError("ember.onnx: max_pool2d with return_indices has no "
                                       "lowering")
    return ctx.add("MaxPool", [ctx.name(node.args[0])], outputs=out, kernel_shape=list(kernel),
                   strides=list(stride), pads=_pool_pads(pad), dilations=list(dil),
                   ceil_mode=int(bool(ceil)))


@lowers("avg_pool2d")
def _avg_pool2d(ctx, node, out):
    kernel, stride, pad = (node.args[i] for i in range(1, 4))
    ceil = _arg(node, 4, "ceil_mode", False)
    cip = _arg(node, 5, "count_include_pad", True)
    if _arg(node, 6, "divisor_override", None) is not None:
        raise UnsupportedOperatorError("ember.onnx: avg_pool2d with divisor_override has no "
                                       "lowering")
    return ctx.add("AveragePool", [ctx.name(node.args[0])], outputs=out,
                   kernel_shape=list(kernel), strides=list(stride), pads=_pool_pads(pad),
                   ceil_mode=int(bool(ceil)), count_include_pad=int(bool(cip)))


def _ones_like_channels(ctx, v, n, value):
    npdt = np.float32 if v.dtype.name == "bfloat16" else v.dtype.np
    return ctx.init(np.full((n,), value, dtype=npdt))


@lowers("batch_norm")
def _batch_norm(ctx, node, out):
    x = node.args[0]
    w, b, rm, rv = (_arg(node, i, n, None) for i, n in
                    ((1, "w"), (2, "b"), (3, "running_mean"), (4, "running_var")))
    training = _arg(node, 5, "training", True)
    eps = _arg(node, 7, "eps", 1e-5)
    if training or not isinstance(rm, (Value, DataRef)):
        raise UnsupportedOperatorError("ember.onnx: batch_norm in training mode (or without "
                                       "running statistics) has no lowering; call model.eval()")
    c = x.shape[1]
    ins = [ctx.name(x),
           ctx.name(w) if isinstance(w, Value) else _ones_like_channels(ctx, x, c, 1.0),
           ctx.name(b) if isinstance(b, Value) else _ones_like_channels(ctx, x, c, 0.0),
           ctx.name(rm), ctx.name(rv)]
    return ctx.add("BatchNormalization", ins, outputs=out, epsilon=float(eps))


@lowers("layer_norm")
def _layer_norm(ctx, node, out):
    x = node.args[0]
    w = _arg(node, 1, "w", None)
    b = _arg(node, 2, "b", None)
    nd = _arg(node, 3, "nd", 1)
    eps = _arg(node, 4, "eps", 1e-5)
    norm_shape = x.shape[len(x.shape) - nd:]
    npdt = np.float32 if x.dtype.name == "bfloat16" else x.dtype.np
    ins = [ctx.name(x),
           ctx.name(w) if isinstance(w, Value) else ctx.init(np.ones(norm_shape, npdt))]
    if isinstance(b, Value):
        ins.append(ctx.name(b))
    return ctx.add("LayerNormalization", ins, outputs=out, axis=-int(nd), epsilon=float(eps))


# ------------------------------------------------------------------ sorting and selection
def _dim_size(ctx, x: str, dim: int) -> str:
    """``x.shape[dim]`` as a [1]-shaped int64 tensor, read at run time (dims may be dynamic)."""
    return ctx.add("Gather", [ctx.add("Shape", [x]), ctx.i64([dim])], axis=0)


@lowers("sort")
def _sort(ctx, node, out):
    v = node.args[0]
    dim = _arg(node, 1, "dim", -1)
    descending = bool(_arg(node, 2, "descending", False))
    if len(v.shape) == 0:
        ctx.add("Identity", [ctx.name(v)], outputs=[out[0]])
        ctx.add("Identity", [ctx.i64(0)], outputs=[out[1]])
        return out
    dim = int(dim) % len(v.shape)
    x = ctx.name(v)
    # A full-length TopK is a sort; ONNX breaks ties by the lower index, like ember's stable
    # sort in both directions.
    return ctx.add("TopK", [x, _dim_size(ctx, x, dim)], n_out=2, outputs=out, axis=dim,
                   largest=int(descending), sorted=1)


@lowers("topk")
def _topk(ctx, node, out):
    v = node.args[0]
    k = _arg(node, 1, "k", None)
    dim = int(_arg(node, 2, "dim", -1)) % max(len(v.shape), 1)
    largest = bool(_arg(node, 3, "largest", True))
    # ember returns topk sorted whatever ``sorted`` says, so ONNX sorts too.
    return ctx.add("TopK", [ctx.name(v), ctx.ints([k])], n_out=2, outputs=out, axis=dim,
                   largest=int(largest), sorted=1)


@lowers("norm")
def _norm(ctx, node, out):
    v = node.args[0]
    p = float(_arg(node, 1, "p", 2.0))
    dim = _arg(node, 2, "dim", None)
    keep = _arg(node, 3, "keepdim", False)
    x = ctx.name(v)
    attr = ctx.opset < 18
    if p == 2.0:
        r = ctx.reduce("ReduceL2", x, dim, keep, attr)
    elif p == 1.0:
        r = ctx.reduce("ReduceL1", x, dim, keep, attr)
    elif p == math.inf:
        r = ctx.reduce("ReduceMax", ctx.add("Abs", [x]), dim, keep, attr)
    elif p == -math.inf:
        r = ctx.reduce("ReduceMin", ctx.add("Abs", [x]), dim, keep, attr)
    elif p == 0.0:
        nz = ctx.add("Not", [ctx.add("Equal", [x, ctx.scalar(0, v)])])
        r = ctx.reduce("ReduceSum", ctx.add("Cast", [nz], to=_ONNX_DTYPE[v.dtype.name]), dim,
                       keep, False)
    else:
        powed = ctx.add("Pow", [ctx.add("Abs", [x]), ctx.scalar(p, v)])
        r = ctx.add("Pow", [ctx.reduce("ReduceSum", powed, dim, keep, False),
                            ctx.scalar(1.0 / p, v)])
    return ctx.add("Identity", [r], outputs=out)


@lowers("one_hot")
def _one_hot(ctx, node, out):
    v = node.args[0]
    n = _arg(node, 1, "num_classes", -1)
    x = ctx.name(v)
    if n == -1:
        # The class count is the data's maximum + 1, computed at run time like ember does.
        mx = ctx.add("ReduceMax", [x], keepdims=0)
        depth = ctx.add("Add", [ctx.add("Reshape", [mx, ctx.i64([1])]), ctx.i64([1])])
    else:
        depth = ctx.i64([int(n)])
    return ctx.add("OneHot", [x, depth, ctx.i64([0, 1])], outputs=out, axis=-1)


def _roll_one(ctx, x: str, shift: int, dim: int) -> str:
    """``x`` rolled by ``shift`` along ``dim``: the last ``shift`` entries, then the rest.

    Negative slice bounds keep this right when ``dim`` is a dynamic axis (|shift| < its size).
    """
    if shift == 0:
        return x
    tail = ctx.add("Slice", [x, ctx.i64([-shift]), ctx.i64([_INT_MAX]), ctx.i64([dim])])
    head = ctx.add("Slice", [x, ctx.i64([0]), ctx.i64([-shift]), ctx.i64([dim])])
    return ctx.add("Concat", [tail, head], axis=dim)


@lowers("roll")
def _roll(ctx, node, out):
    v = node.args[0]
    shifts = _arg(node, 1, "shifts", 0)
    dims = _arg(node, 2, "dims", None)
    x = ctx.name(v)
    shifts = list(shifts) if isinstance(shifts, (tuple, list)) else [shifts]
    if dims is None:
        n = int(np.prod(v.shape))
        flat = ctx.add("Reshape", [x, ctx.i64([-1])])
        rolled = _roll_one(ctx, flat, int(shifts[0]) % n if n else 0, 0)
        return ctx.add("Reshape", [rolled, ctx.add("Shape", [x])], outputs=out)
    dims = list(dims) if isinstance(dims, (tuple, list)) else [dims]
    for sh, d in zip(shifts, dims):
        d = int(d) % len(v.shape)
        size = v.shape[d]
        sh = int(sh)
        if size and abs(sh) >= size:
            sh %= size
        x = _roll_one(ctx, x, sh, d)
    return ctx.add("Identity", [x], outputs=out)


@lowers("nonzero")
def _nonzero(ctx, node, out):
    v = node.args[0]
    # ONNX NonZero gives (rank, N); torch's nonzero is (N, rank).
    nz = ctx.add("NonZero", [ctx.name(v)])
    return ctx.add("Transpose", [nz], outputs=out, perm=[1, 0])


def _updates(ctx, src, like: Value, idx: Value) -> str:
    """``scatter``'s source as a tensor of the index's shape (a scalar is broadcast; a larger
    source is cut to the index's extent, as ember and torch read only that part)."""
    if not isinstance(src, (Value, DataRef)):
        return ctx.add("Expand", [ctx.scalar(src, like), ctx.add("Shape", [ctx.name(idx)])])
    sv = src.value if isinstance(src, DataRef) else src
    s = ctx.name(src)
    if tuple(sv.shape) != tuple(idx.shape):
        nd = len(idx.shape)
        ends = ctx.add("Shape", [ctx.name(idx)])
        s = ctx.add("Slice", [s, ctx.i64([0] * nd), ends, ctx.i64(list(range(nd)))])
    return s


@lowers("scatter", "scatter_add")
def _scatter(ctx, node, out):
    v = node.args[0]
    dim = int(node.args[1]) % max(len(v.shape), 1)
    idx = node.args[2]
    src = _arg(node, 3, "src", None)
    reduce = "add" if node.op == "scatter_add" else _arg(node, 4, "reduce", None)
    red = {None: "none", "add": "add", "multiply": "mul"}.get(reduce)
    if red is None or not isinstance(idx, Value):
        raise UnsupportedOperatorError(f"ember.onnx: {node.op} with reduce={reduce!r} has no "
                                       "ONNX lowering")
    return ctx.add("ScatterElements", [ctx.name(v), ctx.name(idx), _updates(ctx, src, v, idx)],
                   outputs=out, axis=dim, reduction=red)


@lowers("index_put")
def _index_put(ctx, node, out):
    v = node.args[0]
    idx = node.args[1]
    val = _arg(node, 2, "v", None)
    acc = bool(_arg(node, 3, "accumulate", False))
    items = list(idx) if isinstance(idx, tuple) else [idx]
    if not items or not all(isinstance(it, (np.ndarray, DataRef)) for it in items):
        raise UnsupportedOperatorError("ember.onnx: the operator 'index_put' with slices, None "
                                       "or integers in the index has no ONNX lowering (only "
                                       "index tensors and boolean masks)")
    x = ctx.name(v)
    dts = [it.value.dtype.name if isinstance(it, DataRef) else
           ("bool" if it.dtype == np.bool_ else "int64") for it in items]
    shapes = [tuple(it.value.shape) if isinstance(it, DataRef) else it.shape for it in items]

    def ref(it):
        if isinstance(it, DataRef):
            return ctx.name(it)
        return ctx.init(np.asarray(it, np.bool_ if it.dtype == np.bool_ else np.int64))

    if len(items) == 1 and dts[0] == "bool":
        # A boolean mask over the leading dims: its True positions, (N, k) as ScatterND wants.
        k = len(shapes[0])
        ind = ctx.add("Transpose", [ctx.add("NonZero", [ref(items[0])])], perm=[1, 0])
        lead = ctx.add("Slice", [ctx.add("Shape", [ind]), ctx.i64([0]), ctx.i64([1])])
    elif "bool" not in dts:
        k = len(items)
        bshape = tuple(np.broadcast_shapes(*shapes))
        parts = []
        for it in items:
            a = ctx.add("Cast", [ref(it)], to=7)
            a = ctx.add("Expand", [a, ctx.i64(list(bshape))])
            parts.append(ctx.add("Unsqueeze", [a, ctx.i64([-1])]))
        ind = parts[0] if k == 1 else ctx.add("Concat", parts, axis=-1)
        lead = ctx.i64(list(bshape))
    else:
        raise UnsupportedOperatorError("ember.onnx: index_put mixing boolean masks and index "
                                       "tensors has no ONNX lowering")
    rest = ctx.add("Slice", [ctx.add("Shape", [x]), ctx.i64([k]), ctx.i64([_INT_MAX])])
    ushape = ctx.add("Concat", [lead, rest], axis=0)
    upd = ctx.operand(val, v) if val is not None else ctx.scalar(0, v)
    if isinstance(val, (Value, DataRef)):
        vv = val.value if isinstance(val, DataRef) else val
        if vv.dtype is not v.dtype:
            upd = ctx.add("Cast", [upd], to=_ONNX_DTYPE[v.dtype.name])
    upd = ctx.add("Expand", [upd, ushape])
    return ctx.add("ScatterND", [x, ind, upd], outputs=out,
                   reduction="add" if acc else "none")


# ----------------------------------------------------------------------- recurrent layers
def _gates_iofc(ctx, w: str, hidden: int) -> str:
    """Rows of a torch LSTM weight/bias in ONNX's gate order: torch stacks (i, f, g, o),
    ONNX wants (i, o, f, c) with c the cell candidate (torch's g)."""
    i, f, g, o = ctx.add("Split", [w, ctx.i64([hidden] * 4)], n_out=4, axis=0)
    return ctx.add("Concat", [i, o, f, g], axis=0)


@lowers("lstm_layer")
def _lstm_layer(ctx, node, out):
    x, h0, c0, w_ih, w_hh = (node.args[i] for i in range(5))
    b_ih = _arg(node, 5, "b_ih", None)
    b_hh = _arg(node, 6, "b_hh", None)
    mask = _arg(node, 7, "mask", None)
    reverse = bool(_arg(node, 8, "reverse", False))
    if mask is not None:
        raise UnsupportedOperatorError("ember.onnx: lstm_layer on a PackedSequence (a length "
                                       "mask) has no ONNX lowering; pass padded input")
    hidden = int(w_hh.shape[1])
    axis0 = ctx.i64([0])
    w = ctx.add("Unsqueeze", [_gates_iofc(ctx, ctx.name(w_ih), hidden), axis0])
    r = ctx.add("Unsqueeze", [_gates_iofc(ctx, ctx.name(w_hh), hidden), axis0])
    ins = [ctx.name(x), w, r]
    if isinstance(b_ih, Value) or isinstance(b_hh, Value):
        zeros = None
        bs = []
        for b in (b_ih, b_hh):
            if isinstance(b, Value):
                bs.append(_gates_iofc(ctx, ctx.name(b), hidden))
            else:
                zeros = zeros or ctx.init(np.zeros(4 * hidden, np.float32 if
                                                   x.dtype.name == "bfloat16" else x.dtype.np))
                bs.append(zeros)
        ins.append(ctx.add("Unsqueeze", [ctx.add("Concat", bs, axis=0), axis0]))
    else:
        ins.append("")
    ins += ["", ctx.add("Unsqueeze", [ctx.name(h0), axis0]),
            ctx.add("Unsqueeze", [ctx.name(c0), axis0])]
    y, yh, yc = ctx.add("LSTM", ins, n_out=3, hidden_size=hidden,
                        direction="reverse" if reverse else "forward")
    # Y is (T, num_directions, B, H); Y_h and Y_c are (num_directions, B, H).
    ctx.add("Squeeze", [y, ctx.i64([1])], outputs=[out[0]])
    ctx.add("Squeeze", [yh, axis0], outputs=[out[1]])
    ctx.add("Squeeze", [yc, axis0], outputs=[out[2]])
    return out


# ------------------------------------------------------------------------- pseudo-ops
@lowers("_full")
def _full(ctx, node, out):
    shape, value, dtype = node.args[0], node.args[1], node.args[2]
    npdt = np.float32 if dtype.name == "bfloat16" else dtype.np
    fill = ctx.onnx.numpy_helper.from_array(np.asarray([value], dtype=npdt), "value")
    return ctx.add("ConstantOfShape", [ctx.ints(shape)], outputs=out, value=fill)


@lowers("_to_device")
def _to_device(ctx, node, out):
    # An ONNX graph has no devices: the runtime places tensors itself.
    return ctx.add("Identity", [ctx.name(node.args[0])], outputs=out)


# ------------------------------------------------------------------------------ driver
def lower_graph(g: Graph, params: dict, input_names: list, output_names: list,
                out_axes: dict, opset: int, export_params: bool = True):
    import onnx
    from onnx import helper
    ctx = _Ctx(g, opset)
    ctx.input_names = list(input_names)
    inputs_pb = []
    dyn_in = {}
    for sym, (i, d) in g.sym_sources.items():
        dyn_in[(i, d)] = sym
    for i, v in enumerate(g.inputs):
        ctx.names[v.id] = input_names[i]
        shape = [dyn_in.get((i, d), s) for d, s in enumerate(v.shape)]
        inputs_pb.append(helper.make_tensor_value_info(input_names[i], _ONNX_DTYPE[v.dtype.name],
                                                       shape))
    for name, v in g.params.items():
        ctx.names[v.id] = name
        t = params[name]
        arr = np.asarray(t.detach()._data)
        ctx.init(arr.astype(np.float32) if v.dtype.name == "bfloat16" else arr, name)
    for c in g.consts:
        ctx.names[c.id] = f"const_{c.id}"
        ctx.init(np.asarray(c.data._data), f"const_{c.id}")
    # Outputs produced by a node get their ONNX name directly; others need an Identity.
    direct = {}
    for j, v in enumerate(g.outputs):
        if v.kind == "node" and v.id not in direct:
            direct[v.id] = output_names[j]
    for n in g.nodes:
        if n.op == "_guard":
            continue
        fn = LOWERINGS.get(n.op)
        if fn is None or n.fn is not None:
            what = f"custom autograd.Function {n.fn.__name__!r}" if n.fn is not None else \
                f"primitive {n.op!r}"
            raise UnsupportedOperatorError(f"ember.onnx: exporting the operator {what} to ONNX "
                                           f"opset version {opset} is not supported (no entry "
                                           "in ember.onnx.LOWERINGS)")
        outs = []
        for o in n.outputs:
            nm = direct.get(o.id) or f"v{o.id}"
            ctx.names[o.id] = nm
            outs.append(nm)
        fn(ctx, n, outs if n.multi else outs)
    outputs_pb = []
    for j, v in enumerate(g.outputs):
        name = output_names[j]
        if direct.get(v.id) != name:
            ctx.add("Identity", [ctx.name(v)], outputs=[name])
        axes = out_axes.get(j, {})
        shape = [axes.get(d, None if g.sym_sources else s) for d, s in enumerate(v.shape)]
        outputs_pb.append(helper.make_tensor_value_info(name, _ONNX_DTYPE[v.dtype.name],
                                                        shape))
    graph = helper.make_graph(ctx.nodes, "ember_graph", inputs_pb, outputs_pb,
                              initializer=ctx.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="ember")
    return model
