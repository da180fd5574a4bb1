"""ember.utils.viz.make_dot: the DOT text names every node of the autograd / traced graph."""
from __future__ import annotations

import re

import pytest

import ember
import ember.nn as enn
from ember.utils import viz


def _walk(fn):
    """Every backward node reachable from ``fn`` (the oracle walk, torch or ember)."""
    seen, stack, out = set(), [fn], []
    while stack:
        f = stack.pop()
        if f is None or id(f) in seen:
            continue
        seen.add(id(f))
        out.append(f)
        stack.extend(n for n, _ in f.next_functions)
    return out


def _program(lib, x, w, b):
    h = (x @ w + b).relu()
    return (h * h.sigmoid()).sum() / 3


def _labels(dot) -> list:
    return re.findall(r'label="([^"\\]*)', dot.source)


def test_dot_names_every_autograd_node_like_torch():
    import torch
    xs = [ember.randn(4, 3), ember.randn(3, 5, requires_grad=True),
          ember.randn(5, requires_grad=True)]
    ts = [torch.tensor(t.detach().numpy(), requires_grad=t.requires_grad) for t in xs]
    out = _program(ember, *xs)
    ref = _program(torch, *ts)
    dot = viz.make_dot(out, params={"w": xs[1], "b": xs[2]})
    labels = _labels(dot)
    ours = sorted(type(f).__name__ if type(f).__name__ == "AccumulateGrad" else f.name()
                  for f in _walk(out.grad_fn))
    theirs = sorted(f.name().split("::")[-1] for f in _walk(ref.grad_fn))
    # Same backward nodes as torch's graph of the same program, and each one drawn.
    assert ours == theirs
    for name in ours:
        assert labels.count(name) == ours.count(name), name
    assert "w\\n (3, 5)" in dot.source and "b\\n (5)" in dot.source
    assert dot.source.startswith("digraph") and dot.source.rstrip().endswith("}")
    # One edge per (input node -> node) link of the graph, plus leaf -> AccumulateGrad and
    # grad_fn -> output.
    n_links = sum(1 for f in _walk(out.grad_fn) for n, _ in f.next_functions if n is not None)
    assert dot.source.count("->") == n_links + 2 + 1


def test_module_params_attrs_and_saved():
    model = enn.Sequential(enn.Linear(4, 3), enn.Tanh(), enn.Linear(3, 2))
    y = model(ember.randn(5, 4)).mean()
    dot = viz.make_dot(y, params=dict(model.named_parameters()), show_attrs=True,
                       show_saved=True)
    for name, p in model.named_parameters():
        shape = "(" + ", ".join(str(s) for s in p.shape) + ")"
        assert f"{name}\\n {shape}" in dot.source
    assert "saved 0" in dot.source and "MeanBackward0\\n" in dot.source
    leaf = viz.make_dot(ember.randn(2, requires_grad=True))
    assert "lightblue" in leaf.source


def test_traced_graph():
    model = enn.Sequential(enn.Linear(4, 3), enn.ReLU(), enn.Linear(3, 2))
    traced = ember.jit.trace(model, ember.randn(2, 4))
    dot = viz.make_dot(traced)
    labels = _labels(dot)
    ops = [n.op for n in traced.graph.nodes]
    assert sorted(lbl.split("\\n")[0] for lbl in labels
                  if lbl.split("\\n")[0] in ops) == sorted(ops)
    for name in dict(model.named_parameters()):
        assert f'label="{name}\\n' in dot.source
    assert 'label="output 0\\n (2, 2)"' in dot.source
    assert viz.make_dot_from_trace(traced.graph).source == dot.source


def test_render_png_and_svg(tmp_path):
    dot = viz.make_dot((ember.randn(3, requires_grad=True) * 2).sum())
    if viz.have_graphviz():
        png = dot.render(str(tmp_path / "g"), format="png")
        assert open(png, "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in dot.pipe("svg")
        assert (tmp_path / "g").read_text() == dot.source
    else:
        with pytest.raises(RuntimeError, match="Graphviz"):
            dot.pipe("png")
        assert dot._repr_svg_() is None
    dot.save(str(tmp_path / "g.dot"))
    assert (tmp_path / "g.dot").read_text() == dot.source
