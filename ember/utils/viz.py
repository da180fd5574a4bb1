"""Graph pictures: ``make_dot`` draws an autograd graph or a traced graph with Graphviz.

``make_dot(output, params=dict(model.named_parameters()))`` walks ``grad_fn.next_functions`` from
the output back to the leaves, as the torchviz package does: one box per backward node, the
parameters as light-blue boxes labelled with their names and shapes, the outputs in green. Given
an ``ember.jit`` traced/scripted object (or its ``Graph``) it draws the recorded primitives
instead. The DOT source is always available (``.source``); ``render``/``pipe`` produce PNG or SVG
when Graphviz's ``dot`` program is installed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any, Optional

__all__ = ["Digraph", "make_dot", "make_dot_from_trace", "have_graphviz"]


def have_graphviz() -> bool:
    """Whether Graphviz's ``dot`` program is on PATH (needed for PNG/SVG, not for DOT)."""
    return shutil.which("dot") is not None


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Digraph:
    """A directed graph in DOT, with the part of ``graphviz.Digraph``'s API torchviz users call.

    Args:
        name: the graph's name.
        node_attr / graph_attr: default DOT attributes for nodes / the graph.

    Shape:
        Not applicable.

    Example:
        >>> dot = ember.utils.viz.make_dot(loss, params=dict(model.named_parameters()))
        >>> print(dot.source)
        >>> dot.render("graph", format="png")   # needs Graphviz's `dot`
    """

    def __init__(self, name: str = "G", node_attr: Optional[dict] = None,
                 graph_attr: Optional[dict] = None) -> None:
        self.name = name
        self.node_attr = dict(node_attr or {})
        self.graph_attr = dict(graph_attr or {})
        self.body: list = []
        self.format = "svg"

    @staticmethod
    def _attrs(attrs: dict) -> str:
        if not attrs:
            return ""
        return " [" + " ".join(f"{k}={_quote(v)}" for k, v in attrs.items()) + "]"

    def node(self, name: str, label: Optional[str] = None, **attrs: str) -> None:
        if label is not None:
            attrs = {"label": label, **attrs}
        self.body.append(f"\t{_quote(name)}{self._attrs(attrs)}")

    def edge(self, tail: str, head: str, **attrs: str) -> None:
        self.body.append(f"\t{_quote(tail)} -> {_quote(head)}{self._attrs(attrs)}")

    def attr(self, kw: str = "graph", **attrs: str) -> None:
        self.body.append(f"\t{kw}{self._attrs(attrs)}")

    @property
    def source(self) -> str:
        lines = [f"digraph {_quote(self.name)} {{"]
        if self.graph_attr:
            lines.append(f"\tgraph{self._attrs(self.graph_attr)}")
        if self.node_attr:
            lines.append(f"\tnode{self._attrs(self.node_attr)}")
        lines += self.body
        lines.append("}")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.source

    def pipe(self, format: Optional[str] = None) -> bytes:
        """The graph rendered by ``dot`` (``format`` png, svg, pdf, ...) as bytes."""
        fmt = format or self.format
        exe = shutil.which("dot")
        if exe is None:
            raise RuntimeError("Graphviz's `dot` program was not found on PATH (apt-get install "
                               "graphviz); the DOT text is available as .source")
        done = subprocess.run([exe, f"-T{fmt}"], input=self.source.encode("utf-8"),
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    def save(self, filename: str) -> str:
        """Write the DOT source to ``filename``."""
        with open(filename, "w", encoding="utf-8") as fh:
            fh.write(self.source)
        return filename

    def render(self, filename: str = "graph", directory: Optional[str] = None,
               format: Optional[str] = None, cleanup: bool = False, view: bool = False) -> str:
        """Write ``<filename>`` (DOT) and ``<filename>.<format>``; returns the picture's path.
        ``cleanup=True`` removes the DOT file afterwards."""
        fmt = format or self.format
        base = os.path.join(directory, filename) if directory else filename
        self.save(base)
        out = f"{base}.{fmt}"
        data = self.pipe(fmt)
        with open(out, "wb") as fh:
            fh.write(data)
        if cleanup:
            os.remove(base)
        return out

    def _repr_svg_(self) -> Optional[str]:
        # Jupyter shows the picture when Graphviz is present.
        if not have_graphviz():
            return None
        return self.pipe("svg").decode("utf-8")


def _size(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def _node_label(fn, show_attrs: bool, max_attr_chars: int) -> str:
    label = fn.name() if hasattr(fn, "name") else type(fn).__name__
    if not show_attrs:
        return label
    extras = []
    for key, val in sorted(vars(fn).items()):
        if key.startswith("_") or key in ("next_edges", "variable", "xp"):
            continue
        text = repr(val)
        if len(text) > max_attr_chars:
            text = text[:max_attr_chars - 3] + "..."
        extras.append(f"{key}: {text}")
    return label + ("\n" + "\n".join(extras) if extras else "")


def make_dot(var: Any, params: Optional[dict] = None, show_attrs: bool = False,
             show_saved: bool = False, max_attr_chars: int = 50) -> Digraph:
    """Draw the autograd graph behind ``var`` (a Tensor or a tuple/list of them).

    Args:
        var: the output(s) whose history to draw; an ``ember.jit`` traced/scripted object or a
            jit ``Graph`` draws the traced graph instead (see :func:`make_dot_from_trace`).
        params: ``name -> Tensor`` (``dict(model.named_parameters())``) to label the leaves.
        show_attrs: add each node's non-tensor attributes to its box.
        show_saved: draw the tensors each node saved for backward (orange).
        max_attr_chars: cut attribute texts to this length.

    Returns:
        A :class:`Digraph`: ``.source`` is DOT; ``.render(...)`` writes PNG/SVG with Graphviz.
    """
    if _is_traced(var):
        return make_dot_from_trace(var)
    from ..tensor import Tensor
    names = {id(v): k for k, v in (params or {}).items()}
    dot = Digraph(node_attr=dict(style="filled", shape="box", align="left", fontsize="10",
                                 ranksep="0.1", height="0.2", fontname="monospace"),
                  graph_attr=dict(size="12,12"))
    seen: set = set()
    outputs = list(var) if isinstance(var, (tuple, list)) else [var]
    out_ids = {id(t.grad_fn) for t in outputs if isinstance(t, Tensor) and t.grad_fn}

    def leaf_label(t, name: Optional[str]) -> str:
        return f"{name}\n {_size(t.shape)}" if name else _size(t.shape)

    # An explicit stack (not recursion): graphs of thousands of ops stay drawable.
    stack = []
    for t in outputs:
        if not isinstance(t, Tensor):
            continue
        # A leaf output is drawn as a leaf (blue); a computed one in green.
        color = "darkolivegreen1" if t.grad_fn is not None else "lightblue"
        dot.node(str(id(t)), leaf_label(t, names.get(id(t))), fillcolor=color)
        if t.grad_fn is not None:
            dot.edge(str(id(t.grad_fn)), str(id(t)))
            stack.append(t.grad_fn)
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        var_ = getattr(fn, "variable", None)
        if var_ is not None:  # AccumulateGrad: the leaf tensor it feeds
            dot.node(str(id(var_)), leaf_label(var_, names.get(id(var_))), fillcolor="lightblue")
            dot.node(str(id(fn)), _node_label(fn, show_attrs, max_attr_chars))
            dot.edge(str(id(var_)), str(id(fn)))
        else:
            color = "darkolivegreen3" if id(fn) in out_ids else "lightgrey"
            dot.node(str(id(fn)), _node_label(fn, show_attrs, max_attr_chars), fillcolor=color)
        if show_saved:
            saved = getattr(fn, "_saved", None) or ()
            for i, s in enumerate(saved):
                if isinstance(s, Tensor):
                    sid = f"{id(fn)}_saved_{i}"
                    dot.node(sid, f"saved {i}\n {_size(s.shape)}", fillcolor="orange")
                    dot.edge(sid, str(id(fn)), dir="none")
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                dot.edge(str(id(nxt)), str(id(fn)))
                stack.append(nxt)
    return dot


def _is_traced(obj) -> bool:
    try:
        from ..jit._ir import Graph
    except ImportError:  # pragma: no cover - jit is part of ember
        return False
    return isinstance(obj, Graph) or (hasattr(obj, "_graph") and hasattr(obj, "code"))


def make_dot_from_trace(trace: Any) -> Digraph:
    """Draw a graph recorded by ``ember.jit.trace``/``script`` (or the ``Graph`` itself): one
    box per primitive call with its output shape; inputs, parameters and outputs labelled."""
    from ..jit._ir import Graph
    g = trace if isinstance(trace, Graph) else trace.graph
    dot = Digraph(node_attr=dict(style="filled", shape="box", align="left", fontsize="10",
                                 ranksep="0.1", height="0.2", fontname="monospace"),
                  graph_attr=dict(size="12,12"))
    src: dict = {}
    for v in g.inputs:
        src[v.id] = f"v{v.id}"
        dot.node(src[v.id], f"{v.name}\n {_size(v.shape)}", fillcolor="lightblue")
    for name, v in g.params.items():
        src[v.id] = f"v{v.id}"
        dot.node(src[v.id], f"{name}\n {_size(v.shape)}", fillcolor="lightblue")
    for c in g.consts:
        if g.is_used(c):
            src[c.id] = f"v{c.id}"
            dot.node(src[c.id], f"constant\n {_size(c.shape)}", fillcolor="white")
    for k, n in enumerate(g.nodes):
        if n.op == "_guard":
            continue
        nid = f"n{k}"
        op = n.op if n.fn is None else n.fn.__name__
        shapes = ", ".join(_size(o.shape) for o in n.outputs)
        dot.node(nid, f"{op}\n {shapes}", fillcolor="lightgrey")
        done = set()
        for v in n.input_values():
            s = src.get(v.id)
            if s is not None and s not in done:
                done.add(s)
                dot.edge(s, nid)
        for o in n.outputs:
            src[o.id] = nid
    for i, v in enumerate(g.outputs):
        oid = f"out{i}"
        dot.node(oid, f"output {i}\n {_size(v.shape)}", fillcolor="darkolivegreen1")
        if v.id in src:
            dot.edge(src[v.id], oid)
    return dot
