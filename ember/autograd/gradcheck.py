"""Numerical gradient checks in float64: gradcheck and gradgradcheck."""
from __future__ import annotations

import numpy as np


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _host64(t) -> np.ndarray:
    """A float64 host copy of a tensor's values, flattened (works for CPU and CUDA tensors)."""
    return np.array(t.detach().cpu()._data, dtype=np.float64).reshape(-1)


def _numerical_jacobian(fn, inputs, i, eps):
    """Central differences for input i: a (numel_in, numel_out_total) matrix."""
    # Grad mode stays on: gradgradcheck's function itself calls autograd.grad. The
    # perturbation writes the raw array, so it is not an in-place op on the graph.
    x = inputs[i]
    flat = x._data.reshape(-1)
    cols = []
    for k in range(flat.size):
        orig = flat[k].item()
        flat[k] = orig + eps
        plus = [_host64(o)
                for o in _as_tuple(fn(*inputs)) if o is not None and hasattr(o, "_data")]
        flat[k] = orig - eps
        minus = [_host64(o)
                 for o in _as_tuple(fn(*inputs)) if o is not None and hasattr(o, "_data")]
        flat[k] = orig
        cols.append(np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
                    if plus else np.zeros(0))
    return np.stack(cols) if cols else np.zeros((0, 0))


def _analytical_jacobian(fn, inputs, idx, create_graph=False):
    from . import grad as _grad
    from ..creation import zeros_like
    outs = [o for o in _as_tuple(fn(*inputs)) if o is not None and hasattr(o, "_data")]
    diff_outs = [o for o in outs if o.requires_grad]
    n_out = sum(o.numel() for o in outs)
    jac = {i: np.zeros((inputs[i].numel(), n_out)) for i in idx}
    col = 0
    for o in outs:
        for k in range(o.numel()):
            if o.requires_grad:
                g = zeros_like(o)
                g._data.reshape(-1)[k] = 1.0
                grads = _grad([o], [inputs[i] for i in idx], [g], retain_graph=True,
                              allow_unused=True)
                for i, gi in zip(idx, grads):
                    if gi is not None:
                        jac[i][:, col] = _host64(gi)
            col += 1
    del diff_outs
    return jac


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad=True,
              fast_mode: bool = False, **kwargs) -> bool:
    """Compare analytical gradients of ``func`` with central finite differences."""
    from ..tensor import Tensor
    inputs = _as_tuple(inputs)
    idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in idx:
        if inputs[i].dtype.name != "float64":
            import warnings
            warnings.warn("Input #%d requires gradient and is not a double precision floating "
                          "point. This check will likely fail if all the inputs are not of double "
                          "precision floating point." % i)
    analytical = _analytical_jacobian(func, inputs, idx)
    for i in idx:
        if inputs[i].numel() == 0:
            continue  # an empty input has an empty Jacobian: nothing to compare
        num = _numerical_jacobian(func, inputs, i, eps)
        ana = analytical[i]
        if num.shape != ana.shape or not np.allclose(ana, num, rtol=rtol, atol=atol):
            if raise_exception:
                raise GradcheckError(f"Jacobian mismatch for output 0 with respect to input {i},\n"
                                     f"numerical:{num}\nanalytical:{ana}\n")
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, **kwargs) -> bool:
    """gradcheck of the function that maps inputs to their vector-Jacobian product."""
    from ..tensor import Tensor
    from ..creation import randn
    from . import grad as _grad
    inputs = _as_tuple(inputs)
    outs = _as_tuple(func(*inputs))
    if grad_outputs is None:
        grad_outputs = tuple(randn(o.shape, dtype=o.dtype).requires_grad_() for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def vjp(*args):
        ins, gos = args[:n], args[n:]
        o = _as_tuple(func(*ins))
        gs = _grad(o, [ins[i] for i in diff_idx], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)
    return gradcheck(vjp, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
