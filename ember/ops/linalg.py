"""Matrix primitives: matmul (all of torch.matmul's 1-D/batched cases) and einsum."""
from __future__ import annotations

from .elementwise import sum_to
from .registry import Primitive, register


def _matmul_error(a, b):
    return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                        f"({'x'.join(map(str, a.shape))} and {'x'.join(map(str, b.shape))})")


_MATMUL_NAMES = {(2, 2): "MmBackward0", (1, 1): "DotBackward0", (2, 1): "MvBackward0"}


@register("matmul")
class Matmul(Primitive):
    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                               f"{a.ndim}D and {b.ndim}D")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            if a.ndim <= 2 and b.ndim <= 2:
                if a.ndim == 1 and b.ndim == 1:
                    raise RuntimeError("inconsistent tensor size, expected tensor [{}] and src "
                                       "[{}] to have the same number of elements, but got {} and "
                                       "{} elements respectively".format(
                                           a.shape[0], b.shape[0], a.shape[0], b.shape[0]))
                raise _matmul_error(a.reshape(-1, ka) if a.ndim == 1 else a,
                                    b.reshape(kb, -1) if b.ndim == 1 else b)
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{a.shape[0]}, {ka}] but got: [{b.shape[0]}, {kb}].")
        self.save_for_backward(a, b)
        # torch dispatches these cases to mm/dot/mv, and grad_fn names show it.
        name = _MATMUL_NAMES.get((a.ndim, b.ndim))
        if name is not None:
            self._backward_name = name
        return self.xp.matmul(a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        a2 = a.unsqueeze(0) if a.dim() == 1 else a
        b2 = b.unsqueeze(-1) if b.dim() == 1 else b
        g2 = g
        if a.dim() == 1:
            g2 = g2.unsqueeze(-2)
        if b.dim() == 1:
            g2 = g2.unsqueeze(-1)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = sum_to(g2.matmul(b2.mT), a2.shape)
            if a.dim() == 1:
                ga = ga.reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = sum_to(a2.mT.matmul(g2), b2.shape if b.dim() > 1 else None) if b.dim() > 1 \
                else a2.mT.matmul(g2)
            if b.dim() == 1:
                gb = gb.reshape(-1, b.shape[0], 1).sum(0).reshape(b.shape) if gb.dim() > 2 \
                    else gb.reshape(b.shape)
        return ga, gb


@register("einsum")
class Einsum(Primitive):
    def forward(self, *operands, equation):
        eq = equation.replace(" ", "")
        if "->" in eq:
            lhs, out = eq.split("->")
        else:
            lhs = eq
            letters = lhs.replace(",", "").replace("...", "")
            out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
            if "..." in lhs:
                out = "..." + out
        self.ins = lhs.split(",")
        self.out = out
        self.shapes = [o.shape for o in operands]
        self.save_for_backward(*operands)
        return self.xp.einsum(lhs + "->" + out, *operands)

    def backward(self, g):
        ops = self.saved_tensors
        grads = []
        for i, sub in enumerate(self.ins):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            if len(set(sub.replace("...", ""))) != len(sub.replace("...", "")):
                raise NotImplementedError("einsum backward with a repeated index in one operand")
            others = [s for j, s in enumerate(self.ins) if j != i] + [self.out]
            avail = set("".join(others))
            target = "".join(c for c in sub if c in avail or c == ".")
            args = [o for j, o in enumerate(ops) if j != i] + [g]
            from .. import functional as F
            r = F.einsum(",".join(others) + "->" + target, *args)
            if target != sub:
                # Letters summed only inside this operand: their gradient is a broadcast.
                shape = []
                src = list(target)
                view = []
                for c, n in zip(sub, self.shapes[i]):
                    if c in src:
                        view.append(n)
                    else:
                        view.append(1)
                    shape.append(n)
                r = r.reshape(view).expand(shape)
            grads.append(r)
        return tuple(grads)
