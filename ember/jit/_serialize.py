"""Saved programs: one zip holding ``graph.json`` (the IR) and ``.npy`` entries for the weights.

Nothing is pickled: attributes are tagged JSON (tuples, slices, dtypes, non-finite floats) and
arrays are ``.npy`` entries read with ``allow_pickle=False``, so a saved program loads with
only ember installed and no model class in scope.
"""
from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np

from ..backend import dtypes as _dt
from ..backend.device import device as _device
from ._ir import DataRef, Graph, Node, SymInt, Value

FORMAT = "ember.jit/1"


class _Writer:
    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        self.n_arrays = 0

    def array(self, arr: np.ndarray, name: str = "") -> str:
        if hasattr(arr, "get"):
            arr = _dt.host_array(arr)
        arr = np.ascontiguousarray(arr)
        if arr.dtype == object:
            raise RuntimeError("ember.jit.save: object arrays cannot be saved")
        key = f"data/{name or 'a' + str(self.n_arrays)}.npy"
        self.n_arrays += 1
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        self.zf.writestr(key, buf.getvalue())
        return key

    def enc(self, obj, op: str):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            if math.isfinite(obj):
                return obj
            return {"$float": repr(obj)}
        if isinstance(obj, Value):
            return {"$value": obj.id}
        if isinstance(obj, DataRef):
            return {"$data": obj.value.id}
        if isinstance(obj, SymInt):
            return {"$sym": [obj.sym, obj.a, obj.b, obj.value]}
        if type(obj) is tuple:
            return {"$tuple": [self.enc(o, op) for o in obj]}
        if type(obj) is list:
            return [self.enc(o, op) for o in obj]
        if isinstance(obj, slice):
            return {"$slice": [self.enc(o, op) for o in (obj.start, obj.stop, obj.step)]}
        if obj is Ellipsis:
            return {"$ellipsis": 0}
        if isinstance(obj, _dt.dtype):
            return {"$dtype": obj.name}
        if isinstance(obj, _device):
            return {"$device": str(obj)}
        if isinstance(obj, np.ndarray):
            return {"$array": self.array(obj)}
        if isinstance(obj, np.generic):
            return {"$npscalar": [obj.item() if not isinstance(obj.item(), float) or
                                  math.isfinite(obj.item()) else repr(obj.item()),
                                  obj.dtype.str]}
        if isinstance(obj, complex):
            return {"$complex": [obj.real, obj.imag]}
        if isinstance(obj, dict) and all(isinstance(k, str) for k in obj):
            return {"$dict": {k: self.enc(v, op) for k, v in obj.items()}}
        raise RuntimeError(f"ember.jit.save: the argument {obj!r} of op {op!r} (type "
                           f"{type(obj).__name__}) cannot be saved")


def _value_json(v: Value) -> dict:
    return {"id": v.id, "shape": list(v.shape), "dtype": v.dtype.name, "name": v.name,
            "requires_grad": bool(v.requires_grad)}


def save_program(graph: Graph, params: dict, f, extra: dict | None = None) -> None:
    """Write ``graph`` with the tensors ``params`` (name -> Tensor) to a path or binary file."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        w = _Writer(zf)
        nodes = []
        for n in graph.nodes:
            if n.fn is not None:
                raise RuntimeError(f"ember.jit.save: the graph calls the custom autograd.Function "
                                   f"{n.fn.__name__!r}, whose Python code cannot be saved")
            nodes.append({"op": n.op, "multi": n.multi,
                          "args": [w.enc(a, n.op) for a in n.args],
                          "kwargs": {k: w.enc(v, n.op) for k, v in n.kwargs.items()},
                          "outputs": [_value_json(o) for o in n.outputs]})
        plist = []
        for i, (name, v) in enumerate(graph.params.items()):
            d = _value_json(v)
            d["file"] = w.array(params[name].detach()._data, f"p{i}")
            plist.append(d)
        clist = []
        for i, c in enumerate(graph.consts):
            d = _value_json(c)
            d["file"] = w.array(c.data._data, f"c{i}")
            clist.append(d)
        doc = {"format": FORMAT, "inputs": [_value_json(v) for v in graph.inputs],
               "params": plist, "consts": clist, "nodes": nodes,
               "outputs": [v.id for v in graph.outputs], "in_spec": graph.in_spec,
               "out_spec": graph.out_spec,
               "sym_sources": {k: list(v) for k, v in graph.sym_sources.items()},
               "next_id": graph._next_id, "extra": extra or {}}
        zf.writestr("graph.json", json.dumps(doc))


class _Reader:
    def __init__(self, zf: zipfile.ZipFile, values: dict):
        self.zf = zf
        self.values = values

    def array(self, key: str) -> np.ndarray:
        with self.zf.open(key) as fh:
            return np.load(io.BytesIO(fh.read()), allow_pickle=False)

    def dec(self, obj):
        if isinstance(obj, list):
            return [self.dec(o) for o in obj]
        if not isinstance(obj, dict):
            return obj
        (tag, val), = obj.items()
        if tag == "$float":
            return float(val)
        if tag == "$value":
            return self.values[val]
        if tag == "$data":
            return DataRef(self.values[val])
        if tag == "$sym":
            return SymInt(*val)
        if tag == "$tuple":
            return tuple(self.dec(o) for o in val)
        if tag == "$slice":
            return slice(*(self.dec(o) for o in val))
        if tag == "$ellipsis":
            return Ellipsis
        if tag == "$dtype":
            return _dt._dtype_by_name(val)
        if tag == "$device":
            return _device(val)
        if tag == "$array":
            return self.array(val)
        if tag == "$npscalar":
            v = float(val[0]) if isinstance(val[0], str) else val[0]
            return np.dtype(val[1]).type(v)
        if tag == "$complex":
            return complex(*val)
        if tag == "$dict":
            return {k: self.dec(v) for k, v in val.items()}
        raise RuntimeError(f"ember.jit.load: unknown tag {tag!r}")


def load_program(f) -> tuple[Graph, dict, dict]:
    """Read a saved program: ``(graph, params, extra)`` with params as name -> Tensor."""
    from ..tensor import make_tensor
    from ..backend.device import cpu
    with zipfile.ZipFile(f, "r") as zf:
        doc = json.loads(zf.read("graph.json"))
        if doc.get("format") != FORMAT:
            raise RuntimeError(f"ember.jit.load: not an ember.jit program (format "
                               f"{doc.get('format')!r})")
        g = Graph()
        values: dict = {}
        r = _Reader(zf, values)

        def mk(d, kind, **kw):
            v = Value(d["id"], kind, tuple(d["shape"]), _dt._dtype_by_name(d["dtype"]),
                      name=d["name"], requires_grad=d.get("requires_grad", False), **kw)
            values[v.id] = v
            return v

        for d in doc["inputs"]:
            g.inputs.append(mk(d, "input"))
        params = {}
        for d in doc["params"]:
            v = mk(d, "param")
            g.params[v.name] = v
            params[v.name] = _param(make_tensor(r.array(d["file"]), v.dtype, cpu),
                                    v.requires_grad)
        for d in doc["consts"]:
            v = mk(d, "const")
            v.data = make_tensor(r.array(d["file"]), v.dtype, cpu)
            g.consts.append(v)
        for nd in doc["nodes"]:
            args = tuple(r.dec(a) for a in nd["args"])
            kwargs = {k: r.dec(v) for k, v in nd["kwargs"].items()}
            outs = [mk(o, "node", index=i) for i, o in enumerate(nd["outputs"])]
            node = Node(nd["op"], args, kwargs, outs, nd["multi"])
            for o in outs:
                o.node = node
            g.nodes.append(node)
        g.outputs = [values[i] for i in doc["outputs"]]
        g.in_spec = doc["in_spec"]
        g.out_spec = doc["out_spec"]
        g._next_id = doc["next_id"]
        g.sym_sources = {k: tuple(v) for k, v in doc.get("sym_sources", {}).items()}
    return g, params, doc.get("extra", {})


def _param(t, requires_grad: bool):
    if requires_grad:
        try:
            from ..nn.parameter import Parameter
            return Parameter(t, requires_grad=True)
        except ImportError:  # pragma: no cover - nn always ships with ember
            t.requires_grad_(True)
    return t
