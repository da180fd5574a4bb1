"""Matrix primitives: matmul (all of torch.matmul's 1-D/batched cases) and einsum."""
from __future__ import annotations

from ..backend.device import matmul as _matmul
from .elementwise import sum_to
from .registry import Primitive, broadcast_error, register


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
        try:
            return _matmul(a, b)
        except ValueError:
            # Only the batch dims can still disagree here.
            raise broadcast_error([a.shape[:-2] if a.ndim > 1 else (),
                                   b.shape[:-2] if b.ndim > 1 else ()]) from None

    def backward(self, g):
        a, b = self.saved_tensors
        ga = gb = None
        if a.dim() == 1 and b.dim() == 1:
            # A dot product: the output gradient is 0-d.
            if self.needs_input_grad[0]:
                ga = g * b
            if self.needs_input_grad[1]:
                gb = g * a
            return ga, gb
        # Treat a 1-D operand as a matrix (a row on the left, a column on the right), as
        # torch.matmul does, and sum broadcast batch dims back out.
        a2 = a.unsqueeze(0) if a.dim() == 1 else a
        b2 = b.unsqueeze(-1) if b.dim() == 1 else b
        g2 = g
        if a.dim() == 1:
            g2 = g2.unsqueeze(-2)
        if b.dim() == 1:
            g2 = g2.unsqueeze(-1)
        if self.needs_input_grad[0]:
            ga = sum_to(g2.matmul(b2.mT), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = sum_to(a2.mT.matmul(g2), b2.shape).reshape(b.shape)
        return ga, gb


def _spell_out_ellipsis(lhs: str, out: str, operands) -> tuple:
    """Replace ``...`` by explicit, unused letters (right-aligned, as broadcasting aligns the
    dims), so the backward equations need no ellipsis handling."""
    subs = lhs.split(",")
    used = set(lhs.replace(".", "") + out.replace(".", ""))
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    counts = [o.ndim - (len(sub) - 3) if "..." in sub else 0 for sub, o in zip(subs, operands)]
    n = max(counts, default=0)
    ell = "".join(free[:n])
    subs = [sub.replace("...", ell[n - k:]) for sub, k in zip(subs, counts)]
    return ",".join(subs), out.replace("...", ell)


@register("einsum")
class Einsum(Primitive):
    upcast_bf16 = True

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
        if "..." in lhs:
            lhs, out = _spell_out_ellipsis(lhs, out, operands)
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
            plain = sub.replace("...", "")
            repeated = len(set(plain)) != len(plain)
            if repeated and "..." in sub:
                raise NotImplementedError("einsum backward with a repeated index and '...' in "
                                          "one operand")
            # A letter repeated inside one operand ("ii") reads a diagonal: get the gradient of
            # that diagonal first (letters deduplicated), then spread it back with identities.
            uniq = "".join(dict.fromkeys(sub)) if repeated else sub
            size = dict(zip(sub, self.shapes[i])) if repeated else None
            others = [s for j, s in enumerate(self.ins) if j != i] + [self.out]
            avail = set("".join(others))
            target = "".join(c for c in uniq if c in avail or c == ".")
            args = [o for j, o in enumerate(ops) if j != i] + [g]
            from .. import functional as F
            r = F.einsum(",".join(others) + "->" + target, *args)
            if target != uniq:
                # Letters summed only inside this operand: their gradient is a broadcast.
                dims = [size[c] for c in uniq] if repeated else list(self.shapes[i])
                view = [n if c in target else 1 for c, n in zip(uniq, dims)]
                r = r.reshape(view).expand(dims)
            if repeated:
                from ..creation import eye
                free = [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        if c not in "".join(self.ins) + self.out]
                renamed, terms, eyes, seen = [], [uniq], [], set()
                for c in sub:
                    if c in seen:
                        f = free.pop()
                        renamed.append(f)
                        terms.append(c + f)
                        eyes.append(eye(size[c], dtype=g.dtype, device=g.device))
                    else:
                        renamed.append(c)
                    seen.add(c)
                r = F.einsum(",".join(terms) + "->" + "".join(renamed), r, *eyes)
            grads.append(r)
        return tuple(grads)
