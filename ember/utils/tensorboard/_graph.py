"""TensorBoard's GraphDef from a graph recorded by ember.jit's tracer.

The GraphDef message classes come from tensorboardX (no hand-written protobuf). Each primitive
call becomes a node named ``<scope>/<op>_<n>``, where the scope is the module path torch's graph
view uses (``Net/Sequential[body]/Linear[0]``), so TensorBoard folds the nodes of a module into
one box. Module scopes are found with forward hooks while recording: the nodes a module's call
added belong to it unless a submodule already claimed them.
"""
from __future__ import annotations

from typing import Any

from .writer import _tensorboardx


def _scoped_record(model, args: tuple):
    """Record ``model(*args)`` with ember.jit; returns (graph, {id(node): scope})."""
    from ... import jit
    from ...ops import registry as reg
    scope_of: dict = {}
    keep: list = []  # the claimed nodes stay alive so their ids are not reused
    handles = []
    is_module = jit._is_module(model)
    if is_module:
        root = type(model).__name__
        scopes = {"": root}
        for qual, mod in model.named_modules():
            if qual:
                parent, _, last = qual.rpartition(".")
                scopes[qual] = f"{scopes[parent]}/{type(mod).__name__}[{last}]"
            starts: list = []

            def pre(m, inputs, _starts=starts):
                _starts.append(len(reg.TRACER.graph.nodes) if reg.TRACER is not None else 0)

            def post(m, inputs, out, _starts=starts, _scope=scopes[qual]):
                start = _starts.pop()
                if reg.TRACER is None:
                    return
                for n in reg.TRACER.graph.nodes[start:]:
                    if id(n) not in scope_of:
                        scope_of[id(n)] = _scope
                        keep.append(n)

            handles.append(mod.register_forward_pre_hook(pre))
            handles.append(mod.register_forward_hook(post))
    try:
        g = jit.record(model, args, model if is_module else None, keep_guards=False)
    finally:
        for h in handles:
            h.remove()
    return g, scope_of


def _shape_attr(pb, shapes):
    tsp = pb["tensor_shape_pb2"]
    av = pb["attr_value_pb2"]
    protos = [tsp.TensorShapeProto(dim=[tsp.TensorShapeProto.Dim(size=int(s)) for s in sh])
              for sh in shapes]
    return av.AttrValue(list=av.AttrValue.ListValue(shape=protos))


def graph_def(model: Any, input_to_model: Any, verbose: bool = False):
    """A ``GraphDef`` protobuf (tensorboardX's class) of the traced ``model``."""
    _tensorboardx()  # imports tensorboardX with PyTorch blocked before its protos load
    from tensorboardX.proto import (attr_value_pb2, graph_pb2, node_def_pb2,
                                    tensor_shape_pb2, versions_pb2)
    pb = {"tensor_shape_pb2": tensor_shape_pb2, "attr_value_pb2": attr_value_pb2}
    from ...jit._ir import Value
    if input_to_model is None:
        args: tuple = ()
    elif isinstance(input_to_model, (tuple, list)):
        args = tuple(input_to_model)
    else:
        args = (input_to_model,)
    g, scope_of = _scoped_record(model, args)
    if verbose:
        print(g)

    nodes = []
    name_of: dict = {}

    def node(name, op, inputs, shapes, attr_text=""):
        attrs = {"_output_shapes": _shape_attr(pb, shapes)}
        if attr_text:
            attrs["attr"] = attr_value_pb2.AttrValue(s=attr_text.encode("utf-8"))
        nodes.append(node_def_pb2.NodeDef(name=name, op=op, input=inputs, device="/device:CPU:0",
                                          attr=attrs))

    for i, v in enumerate(g.inputs):
        name_of[v.id] = f"input/{v.name or f'input.{i}'}"
        node(name_of[v.id], "IO Node", [], [v.shape], f"{v.dtype}")
    for pname, v in g.params.items():
        parent = pname.rpartition(".")[0]
        scope = _param_scope(model, parent)
        name_of[v.id] = f"{scope}/{pname}" if scope else pname
        node(name_of[v.id], "Parameter", [], [v.shape], f"{v.dtype}")
    for c in g.consts:
        if g.is_used(c):
            name_of[c.id] = f"constant/{c.name}"
            node(name_of[c.id], "prim::Constant", [], [c.shape], f"{c.dtype}")
    for k, n in enumerate(g.nodes):
        if n.op == "_guard":
            continue
        scope = scope_of.get(id(n), "")
        op_name = n.op if n.fn is None else n.fn.__name__
        name = f"{scope}/{op_name}_{k}" if scope else f"{op_name}_{k}"
        for o in n.outputs:
            name_of[o.id] = name
        inputs = []
        for v in n.input_values():
            src = name_of.get(v.id)
            if src is not None and src not in inputs:
                inputs.append(src)
        attrs = {key: val for key, val in n.attributes().items()
                 if not isinstance(val, Value)}
        text = ", ".join(f"{key}={_short(val)}" for key, val in attrs.items())
        node(name, f"ember::{op_name}", inputs, [o.shape for o in n.outputs], text)
    for i, v in enumerate(g.outputs):
        src = name_of.get(v.id)
        node(f"output/output.{i}", "IO Node", [src] if src else [], [v.shape], f"{v.dtype}")
    return graph_pb2.GraphDef(node=nodes, versions=versions_pb2.VersionDef(producer=22))


def _param_scope(model, parent: str) -> str:
    """The torch-style scope of the module that owns a parameter (``Net/Linear[fc1]``)."""
    from ... import jit
    if not jit._is_module(model):
        return ""
    scope = type(model).__name__
    mod = model
    if parent:
        for part in parent.split("."):
            mod = getattr(mod, part)
            scope += f"/{type(mod).__name__}[{part}]"
    return scope


def _short(val) -> str:
    text = repr(val)
    return text if len(text) <= 80 else text[:77] + "..."
