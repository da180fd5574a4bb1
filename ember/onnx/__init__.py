"""ember.onnx: export a model to ONNX by lowering the ember.jit graph IR.

``export(model, args, f, input_names=..., output_names=..., dynamic_axes=..., opset_version=17)``
records the model with :mod:`ember.jit` (in eval mode, like torch's default
``training=TrainingMode.EVAL``), folds constants, and lowers each primitive through the table
``ember.onnx.LOWERINGS`` (primitive name -> function emitting ONNX nodes). Dynamic axes are
recorded twice with different sizes, so every integer that follows an axis (a reshape to
``(batch, -1)``, a slice up to the batch size) is emitted as ``-1`` or computed from ``Shape``
ops instead of being frozen. The ``onnx`` package is an optional extra
(``pip install ember[onnx]``).
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from ._lower import LOWERINGS, UnsupportedOperatorError, lower_graph

__all__ = ["export", "LOWERINGS", "UnsupportedOperatorError", "is_in_onnx_export",
           "DEFAULT_OPSET"]

DEFAULT_OPSET = 17
_EXPORTING = [False]


def is_in_onnx_export() -> bool:
    return _EXPORTING[0]


def _axes_spec(dynamic_axes, input_names, output_names, n_in):
    """{(leaf index, dim): symbol} for inputs and {output index: {dim: symbol}} for outputs."""
    ins: dict = {}
    outs: dict = {}
    for name, axes in (dynamic_axes or {}).items():
        if isinstance(axes, dict):
            named = {int(k): str(v) for k, v in axes.items()}
        else:
            named = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
        if name in input_names:
            i = input_names.index(name)
            for d, s in named.items():
                ins[(i, d)] = s
        elif name in output_names:
            outs[output_names.index(name)] = named
        else:
            raise ValueError(f"dynamic_axes names {name!r}, which is neither an input name "
                             f"{input_names} nor an output name {output_names}")
    return ins, outs


def export(model, args, f, export_params: bool = True, verbose: bool = False,
           training: Any = None, input_names: Optional[Sequence[str]] = None,
           output_names: Optional[Sequence[str]] = None, operator_export_type: Any = None,
           opset_version: Optional[int] = None, do_constant_folding: bool = True,
           dynamic_axes: Optional[dict] = None, keep_initializers_as_inputs: Any = None,
           custom_opsets: Any = None, export_modules_as_functions: bool = False,
           autograd_inlining: bool = True, dynamo: bool = False, **kwargs):
    """Export ``model(*args)`` to the ONNX file (path or binary file object) ``f``.

    Args:
        model: a Module or a function of Tensors.
        args: a Tensor or a tuple of inputs.
        input_names / output_names: names of the graph inputs/outputs (flattened order).
        dynamic_axes: ``{name: {dim: "symbol"}}`` or ``{name: [dims]}``: these input dims may
            change after export; every size derived from them is computed at run time.
        opset_version: the ONNX opset (default 17, the earliest with LayerNormalization).
        do_constant_folding: fold what only depends on constants before lowering.

    Raises:
        UnsupportedOperatorError: a primitive has no ONNX lowering (the error names it).
    """
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("ember.onnx.export needs the optional 'onnx' package: "
                          "pip install onnx") from e
    from .. import jit
    from ..jit._dynamic import NotDynamic, make_dynamic
    from ..jit._tree import flatten
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset < 14:
        raise ValueError(f"ember.onnx.export supports opset_version >= 14, got {opset}")
    if not isinstance(args, tuple):
        args = (args,)
    if args and isinstance(args[-1], dict) and not args[-1]:
        args = args[:-1]
    leaves, _ = flatten(args)
    input_names = list(input_names or [])
    input_names += [f"input_{i}" for i in range(len(input_names), len(leaves))]
    module = model if jit._is_module(model) else None
    modes = None
    if module is not None and not (training is not None and str(training).endswith("TRAINING")):
        modes = [(m, m.training) for m in module.modules()]
        module.eval()
    _EXPORTING[0] = True
    try:
        # The output count is needed to name outputs; a first static record gives it.
        axes_in, axes_out = _axes_spec(dynamic_axes, input_names,
                                       list(output_names or []), len(leaves))
        if axes_in:
            try:
                g = make_dynamic(jit.record, model, args, module, axes_in, keep_guards=False)
            except NotDynamic as e:
                raise RuntimeError(f"ember.onnx.export: cannot keep the dynamic axes dynamic: "
                                   f"{e}") from None
        else:
            g = jit.record(model, args, module, keep_guards=False)
    finally:
        _EXPORTING[0] = False
        if modes is not None:
            for m, mode in modes:
                m.training = mode
    if do_constant_folding:
        jit.passes.optimize(g)
    params = jit._live_params(module)
    out_names = list(output_names or [])
    out_names += [f"output_{i}" for i in range(len(out_names), len(g.outputs))]
    axes_out = {i: d for i, d in axes_out.items()}
    proto = lower_graph(g, params, input_names, out_names, axes_out, opset,
                        export_params=export_params)
    onnx.checker.check_model(proto)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    if isinstance(f, (str, os.PathLike)):
        onnx.save(proto, os.fspath(f))
    else:
        f.write(proto.SerializeToString())
    return None
