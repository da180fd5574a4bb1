"""Tensor printing in torch's style (4 decimals, scientific when the range is wide, summaries)."""
from __future__ import annotations

import numpy as np

from .backend import dtypes as _dt

PRINT_OPTIONS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80,
                 "sci_mode": None}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    if profile == "default":
        PRINT_OPTIONS.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    elif profile == "short":
        PRINT_OPTIONS.update(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        PRINT_OPTIONS.update(precision=4, threshold=float("inf"), edgeitems=3, linewidth=80)
    for k, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                 ("linewidth", linewidth)):
        if v is not None:
            PRINT_OPTIONS[k] = v
    PRINT_OPTIONS["sci_mode"] = sci_mode


def _formatter(arr, dtype):
    """A value formatter and its column width, by torch's rules.

    Floats: the mode (integer-valued "3.", fixed "3.1416", scientific "3.1416e+00") and the
    width come from the nonzero finite values only; inf/nan/0 just get padded to that width.
    """
    prec = PRINT_OPTIONS["precision"]
    if dtype.is_complex:
        return _complex_formatter(arr)
    if dtype is _dt.bool_:
        return lambda v: " True" if v else "False", 5
    if not dtype.is_floating_point:
        strs = [str(int(v)) for v in arr.reshape(-1)]
        w = max([1] + [len(s) for s in strs])
        return lambda v: str(int(v)).rjust(w), w
    flat = arr.reshape(-1).astype(np.float64)
    vals = flat[np.isfinite(flat) & (flat != 0)]
    int_mode = True
    sci = False
    w = 1
    if vals.size:
        mags = np.abs(vals)
        mx, mn = float(mags.max()), float(mags.min())
        int_mode = bool(np.all(vals == np.ceil(vals)))
        sci = mx / mn > 1000.0 or mx > 1e8 or (not int_mode and mn < 1e-4)
        if PRINT_OPTIONS["sci_mode"] is not None:
            sci = PRINT_OPTIONS["sci_mode"]  # a forced mode also decides the width
        if sci:
            w = max(len(f"{v:.{prec}e}") for v in vals)
        elif int_mode:
            w = max(len(f"{v:.0f}") + 1 for v in vals)
        else:
            w = max(len(f"{v:.{prec}f}") for v in vals)
    elif PRINT_OPTIONS["sci_mode"] is not None:
        sci = PRINT_OPTIONS["sci_mode"]

    def fmt(v):
        v = float(v)
        if sci:
            s = f"{v:.{prec}e}"
        elif int_mode:
            s = f"{v:.0f}" + ("" if np.isinf(v) or np.isnan(v) else ".")
        else:
            s = f"{v:.{prec}f}"
        return s.rjust(w)
    return fmt, w


def _complex_formatter(arr):
    """torch's complex style: the real parts formatted (and padded) as a float column, then the
    imaginary part with its own float rules, a sign and ``j``, unpadded."""
    f_re, w_re = _formatter(arr.real, _dt.float64)
    f_im, w_im = _formatter(np.abs(arr.imag), _dt.float64)

    def fmt(v):
        v = complex(v)
        sign = "-" if np.signbit(v.imag) and not np.isnan(v.imag) else "+"
        return f_re(v.real) + sign + f_im(abs(v.imag)).strip() + "j"
    return fmt, w_re + w_im + 2


def _summarize(arr, edge):
    if arr.ndim == 0:
        return arr
    return arr


def _fmt_array(arr, fmt, indent, summarize, edge, width):
    if arr.ndim == 0:
        return fmt(arr.item())
    if arr.ndim == 1:
        n = arr.shape[0]
        if summarize and n > 2 * edge:
            # torch pads the ellipsis of a row: "2.,  ..., 7."
            items = [fmt(v) for v in arr[:edge]] + [" ..."] + [fmt(v) for v in arr[-edge:]]
        else:
            items = [fmt(v) for v in arr]
        per_line = max(1, (PRINT_OPTIONS["linewidth"] - indent) // (width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    n = arr.shape[0]
    sep = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    if summarize and n > 2 * edge:
        parts = [_fmt_array(a, fmt, indent + 1, summarize, edge, width) for a in arr[:edge]]
        parts.append("...")
        parts += [_fmt_array(a, fmt, indent + 1, summarize, edge, width) for a in arr[-edge:]]
    else:
        parts = [_fmt_array(a, fmt, indent + 1, summarize, edge, width) for a in arr]
    return "[" + sep.join(parts) + "]"


def tensor_repr(t, prefix: str = "tensor(") -> str:
    arr = _dt.host_array(t._data)
    dtype = t._dtype
    suffix = []
    if t._device.type != "cpu":
        suffix.append(f"device='{t._device}'")
    if arr.size == 0:
        body = "[]"
        if arr.ndim != 1:
            suffix.insert(0, f"size={tuple(arr.shape)}")
    else:
        edge = PRINT_OPTIONS["edgeitems"]
        summarize = arr.size > PRINT_OPTIONS["threshold"]
        sample = arr
        if summarize:
            sample = _edge_sample(arr, edge)
        fmt, width = _formatter(sample, dtype)
        body = _fmt_array(arr, fmt, len(prefix), summarize, edge, width)
    default_shown = (_dt.float32 if _dt.get_default_dtype() is _dt.float32 else
                     _dt.get_default_dtype())
    if dtype is _dt.complex_of(default_shown):
        dtype_default = True  # the default complex type goes unnamed too
    else:
        dtype_default = False
    if not dtype_default and (dtype not in (default_shown, _dt.int64, _dt.bool_) or (
            arr.size == 0 and dtype not in (default_shown,))):
        if not (arr.size == 0 and dtype is default_shown):
            if dtype is not _dt.int64 or arr.size == 0:
                if dtype is not _dt.bool_ or arr.size == 0:
                    suffix.append(f"dtype={dtype!r}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn._backward_name}>")
    elif t._rg:
        suffix.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffix, len(prefix))


def _add_suffixes(text: str, suffixes: list, indent: int) -> str:
    """Append ``, dtype=...``-style suffixes, moving one to a new line when it would run past
    the line width. torch's count of the last line's length is 2 more than its characters
    (the closing ", "), and reproducing that gives the same line breaks."""
    parts = [text]
    used = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if used + len(s) + 2 > PRINT_OPTIONS["linewidth"]:
            parts.append(",\n" + " " * indent + s)
            used = indent + len(s)
        else:
            parts.append(", " + s)
            used += len(s) + 2
    parts.append(")")
    return "".join(parts)


def _edge_sample(arr, edge):
    idx = []
    for s in arr.shape:
        if s > 2 * edge:
            idx.append(np.r_[0:edge, s - edge:s])
        else:
            idx.append(np.arange(s))
    return arr[np.ix_(*idx)]
