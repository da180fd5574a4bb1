"""``ember.utils.summary(model, input_size)``: a torchinfo-style table of a model.

One row per module call in execution order (tree-indented by nesting depth), with its output
shape and parameter count, then the totals (trainable / non-trainable), the multiply-adds of
Linear and convolution layers, and a memory estimate: inputs, forward activations (doubled for
their gradients, as torchinfo estimates) and parameters, in MB of 10^6 bytes like torchinfo.

The module itself is callable, so both ``ember.utils.summary(model, ...)`` and
``from ember.utils.summary import summary`` work.
"""
from __future__ import annotations

import sys
import types
from typing import Any, Optional, Sequence, Union

__all__ = ["summary", "ModelStatistics", "LayerInfo"]

_DEFAULT_COLUMNS = ("output_size", "num_params")
_COLUMN_TITLES = {"input_size": "Input Shape", "output_size": "Output Shape",
                  "num_params": "Param #", "params_percent": "Param %",
                  "kernel_size": "Kernel Shape", "mult_adds": "Mult-Adds",
                  "trainable": "Trainable"}


class LayerInfo:
    """One row of the summary: a module call (or a module that was never called)."""

    def __init__(self, module, name: str, depth: int, index: int, parent: Optional["LayerInfo"]):
        self.module = module
        self.name = name                      # attribute path in the model ("" for the root)
        self.class_name = type(module).__name__
        self.depth = depth
        self.index = index                    # position among its parent's calls (1-based)
        self.parent = parent
        self.children: list = []
        self.input_size: Any = None
        self.output_size: Any = None
        self.output_bytes = 0
        self.recursive = False                # a second call of a module already listed
        self.called = True
        own = [p for p in module.parameters(recurse=False)]
        self.num_params = sum(p.numel() for p in own)
        self.trainable_params = sum(p.numel() for p in own if p.requires_grad)
        self.kernel_size: Optional[list] = None
        w = getattr(module, "weight", None)
        if w is not None and hasattr(w, "shape") and len(w.shape) > 2:
            self.kernel_size = list(w.shape[2:])
        self.mult_adds = 0

    def num_params_recursive(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    @property
    def is_leaf(self) -> bool:
        return not any(True for _ in self.module.children())


def _shapes(obj):
    """Output shape(s) of a forward result: a list for a Tensor, nested lists for tuples."""
    if hasattr(obj, "shape") and hasattr(obj, "_data"):
        return list(obj.shape)
    if isinstance(obj, (tuple, list)):
        inner = [_shapes(o) for o in obj]
        inner = [s for s in inner if s is not None]
        return inner if len(inner) != 1 else inner[0]
    if isinstance(obj, dict):
        return _shapes(list(obj.values()))
    return None


def _nbytes(obj) -> int:
    if hasattr(obj, "_data") and hasattr(obj, "element_size"):
        return obj.numel() * obj.element_size()
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(o) for o in obj)
    if isinstance(obj, dict):
        return sum(_nbytes(o) for o in obj.values())
    return 0


def _mult_adds(module, out) -> int:
    # Linear and convolution layers: every weight is used once per output position
    # (torchinfo's estimate); other layers count as 0.
    w = getattr(module, "weight", None)
    if w is None or not hasattr(w, "shape") or len(w.shape) < 2 or not hasattr(out, "shape"):
        return 0
    out_features = w.shape[0]
    if type(module).__name__.startswith("ConvTranspose"):
        return w.numel() * out.numel() // max(out.shape[1], 1)
    if len(w.shape) > 2:
        positions = out.numel() // max(out.shape[1], 1)
    else:
        positions = out.numel() // max(out_features, 1)
    return w.numel() * positions


class ModelStatistics:
    """What :func:`summary` returns; ``str()`` is the table.

    Attributes:
        summary_list: the :class:`LayerInfo` rows.
        total_params / trainable_params: parameter counts (shared parameters once).
        total_mult_adds: multiply-adds of Linear and convolution layers.
        total_input / total_output / total_param_bytes: bytes of inputs, activations (x2 for
            gradients) and parameters.
    """

    def __init__(self, model, summary_list: list, input_bytes: int, col_names: Sequence[str],
                 col_width: int, depth: int) -> None:
        self.model = model
        self.summary_list = summary_list
        params = {id(p): p for p in model.parameters()}
        self.total_params = sum(p.numel() for p in params.values())
        self.trainable_params = sum(p.numel() for p in params.values() if p.requires_grad)
        self.non_trainable_params = self.total_params - self.trainable_params
        self.total_param_bytes = sum(p.numel() * p.element_size() for p in params.values())
        self.total_mult_adds = sum(r.mult_adds for r in summary_list)
        # Activations of leaf layers, twice: the forward value and its gradient.
        self.total_output = 2 * sum(r.output_bytes for r in summary_list if r.is_leaf)
        self.total_input = input_bytes
        self.col_names = tuple(col_names)
        self.col_width = col_width
        self.depth = depth

    def _cell(self, row: LayerInfo, col: str) -> str:
        if col == "output_size":
            return "--" if row.output_size is None else str(row.output_size)
        if col == "input_size":
            return "--" if row.input_size is None else str(row.input_size)
        if col == "num_params":
            shown = row.num_params
            if row.depth == self.depth and not row.is_leaf:
                shown = row.num_params_recursive()  # children are folded into this row
            if row.recursive:
                return "(recursive)"
            return f"{shown:,}" if shown else "--"
        if col == "params_percent":
            if not row.num_params or not self.total_params:
                return "--"
            return f"{100.0 * row.num_params / self.total_params:.2f}%"
        if col == "kernel_size":
            return "--" if row.kernel_size is None else str(row.kernel_size)
        if col == "mult_adds":
            return f"{row.mult_adds:,}" if row.mult_adds else "--"
        if col == "trainable":
            if not row.num_params:
                return "--"
            if row.trainable_params == row.num_params:
                return "True"
            return "False" if row.trainable_params == 0 else "Partial"
        raise ValueError(f"unknown column {col!r}")

    @staticmethod
    def _label(row: LayerInfo) -> str:
        if row.depth == 0:
            return row.class_name
        branch = "├─" if row.depth == 1 else "└─"
        return "│    " * (row.depth - 1) + f"{branch}{row.class_name}: {row.depth}-{row.index}"

    def __str__(self) -> str:
        w = self.col_width
        rows = [r for r in self.summary_list if r.depth <= self.depth]
        name_w = max([len(self._label(r)) for r in rows] + [len("Layer (type:depth-idx)")]) + 3
        width = name_w + w * len(self.col_names)
        bar = "=" * width

        def line(first, cells):
            return (first.ljust(name_w) + "".join(c.ljust(w) for c in cells)).rstrip()

        out = [bar, line("Layer (type:depth-idx)", [_COLUMN_TITLES[c] for c in self.col_names]),
               bar]
        for r in rows:
            out.append(line(self._label(r), [self._cell(r, c) for c in self.col_names]))
        mb = 1e6
        out += [bar,
                f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}",
                f"Total mult-adds ({_unit(self.total_mult_adds)}): "
                f"{_scaled(self.total_mult_adds):.2f}",
                bar,
                f"Input size (MB): {self.total_input / mb:.2f}",
                f"Forward/backward pass size (MB): {self.total_output / mb:.2f}",
                f"Params size (MB): {self.total_param_bytes / mb:.2f}",
                "Estimated Total Size (MB): "
                f"{(self.total_input + self.total_output + self.total_param_bytes) / mb:.2f}",
                bar]
        return "\n".join(out)

    __repr__ = __str__


def _unit(n: int) -> str:
    return "G" if n >= 1e9 else ("M" if n >= 1e6 else ("k" if n >= 1e3 else "Units"))


def _scaled(n: int) -> float:
    for div in (1e9, 1e6, 1e3):
        if n >= div:
            return n / div
    return float(n)


def _make_inputs(input_size, dtypes, batch_dim, device):
    import ember
    sizes = input_size
    if isinstance(sizes, (tuple, list)) and sizes and all(isinstance(s, int) for s in sizes):
        sizes = [sizes]
    sizes = [list(s) for s in sizes]
    if batch_dim is not None:
        for s in sizes:
            s.insert(batch_dim, 1)
    dtypes = list(dtypes) if dtypes is not None else [None] * len(sizes)
    if len(dtypes) != len(sizes):
        raise ValueError(f"summary: {len(dtypes)} dtypes for {len(sizes)} input sizes")
    out = []
    for s, dt in zip(sizes, dtypes):
        if dt is not None and not dt.is_floating_point:
            out.append(ember.zeros(*s, dtype=dt, device=device))
        else:
            out.append(ember.rand(*s, dtype=dt, device=device))
    return out


def summary(model, input_size: Optional[Union[Sequence[int], Sequence[Sequence[int]]]] = None,
            input_data: Any = None, batch_dim: Optional[int] = None,
            col_names: Optional[Sequence[str]] = None, col_width: int = 25, depth: int = 3,
            device: Any = None, dtypes: Optional[list] = None, mode: str = "eval",
            verbose: int = 1, **kwargs: Any) -> ModelStatistics:
    """Run ``model`` once on example input and tabulate its layers (like torchinfo.summary).

    Args:
        model: an ``ember.nn.Module``.
        input_size: the input shape including the batch dimension, e.g. ``(1, 784)``, or a
            list of shapes for several inputs (random tensors are made of them).
        input_data: example input instead: a Tensor, a list/tuple of positional arguments, or
            a dict of keyword arguments.
        batch_dim: insert a batch dimension of size 1 at this position of ``input_size``.
        col_names: columns from ``input_size``, ``output_size``, ``num_params``,
            ``params_percent``, ``kernel_size``, ``mult_adds``, ``trainable``.
        col_width: width of each column.
        depth: deepest nesting level shown (deeper modules are folded into their parent).
        device / dtypes: where and of which dtypes to make ``input_size`` tensors.
        mode: ``"eval"`` (default), ``"train"`` or ``"same"``: the mode the forward runs in;
            the model's own mode is restored after.
        verbose: 0 returns quietly, 1 also prints the table.
        **kwargs: extra keyword arguments for ``model.forward``.

    Returns:
        :class:`ModelStatistics` (``str()`` is the table).

    Example:
        >>> stats = ember.utils.summary(model, input_size=(1, 1, 28, 28), verbose=0)
        >>> stats.total_params == sum(p.numel() for p in model.parameters())
        True
    """
    import ember
    if col_names is None:
        col_names = _DEFAULT_COLUMNS
    for c in col_names:
        if c not in _COLUMN_TITLES:
            raise ValueError(f"summary: unknown column {c!r}; choose from "
                             f"{', '.join(_COLUMN_TITLES)}")
    if mode not in ("eval", "train", "same"):
        raise ValueError(f"summary: mode must be 'eval', 'train' or 'same', got {mode!r}")
    if input_data is None and input_size is None:
        raise ValueError("summary needs input_size or input_data to run the model")
    if input_data is not None:
        if isinstance(input_data, dict):
            args, fwd_kwargs = [], dict(input_data)
        elif isinstance(input_data, (list, tuple)):
            args, fwd_kwargs = list(input_data), {}
        else:
            args, fwd_kwargs = [input_data], {}
    else:
        args, fwd_kwargs = _make_inputs(input_size, dtypes, batch_dim, device), {}
    fwd_kwargs.update(kwargs)
    input_bytes = _nbytes(args) + _nbytes(fwd_kwargs)

    rows: list = []
    stack: list = []
    seen: set = set()
    names = {id(m): n for n, m in model.named_modules()}
    handles = []

    def pre(mod, inputs):
        parent = stack[-1] if stack else None
        idx = len(parent.children) + 1 if parent is not None else 0
        row = LayerInfo(mod, names.get(id(mod), ""), len(stack), idx, parent)
        row.input_size = _shapes(inputs)
        row.recursive = id(mod) in seen
        seen.add(id(mod))
        if parent is not None:
            parent.children.append(row)
        rows.append(row)
        stack.append(row)

    def post(mod, inputs, out):
        row = stack.pop()
        row.output_size = _shapes(out)
        row.output_bytes = _nbytes(out)
        row.mult_adds = _mult_adds(mod, out)

    for m in model.modules():
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    modes = [(m, m.training) for m in model.modules()]
    try:
        if mode != "same":
            model.train(mode == "train")
        with ember.no_grad():
            model(*args, **fwd_kwargs)
    finally:
        for h in handles:
            h.remove()
        for m, was in modes:
            m.training = was
    # Modules that the forward never called are still listed (after the calls), as torchinfo.
    for name, m in model.named_modules():
        if id(m) not in seen:
            parent_name, _, last = name.rpartition(".")
            siblings = [n for n, _ in model.get_submodule(parent_name).named_children()]
            row = LayerInfo(m, name, name.count(".") + 1 if name else 0,
                            siblings.index(last) + 1 if last in siblings else 0, None)
            row.called = False
            rows.append(row)
    stats = ModelStatistics(model, rows, input_bytes, col_names, col_width, depth)
    if verbose:
        print(stats)
    return stats


class _CallableModule(types.ModuleType):
    """Lets ``ember.utils.summary(model, ...)`` call the function through its module."""

    def __call__(self, *args: Any, **kwargs: Any) -> ModelStatistics:
        return summary(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
