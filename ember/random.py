"""Random number generation: ``Generator``, ``manual_seed`` and the default generator.

ember's stream is NumPy's PCG64, so seeds repeat within ember (bit-exact on CPU) but do not
reproduce torch's numbers; comparisons with torch copy weights across instead.
"""
from __future__ import annotations

import contextlib

import numpy as np


class Generator:
    """A random-number generator, as ``torch.Generator``.

    Args:
        device: where the numbers are used (the stream itself is always on the host).

    Example:
        >>> g = ember.Generator().manual_seed(0)
        >>> ember.rand(2, generator=g)
    """

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = 67280421310721
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed & ((1 << 64) - 1)))
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy) & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The generator state as a uint8 tensor of plain integers (PCG64's 128-bit state and
        increment, then the buffered 32-bit draw): no pickle, so restoring a state read from an
        untrusted checkpoint cannot run code."""
        from .creation import tensor
        from . import uint8
        st = self._rng.bit_generator.state
        raw = (int(st["state"]["state"]).to_bytes(16, "little")
               + int(st["state"]["inc"]).to_bytes(16, "little")
               + int(st["has_uint32"]).to_bytes(1, "little")
               + int(st["uinteger"]).to_bytes(4, "little"))
        return tensor(list(raw), dtype=uint8)

    def set_state(self, state) -> "Generator":
        raw = bytes(int(v) & 0xFF for v in state.reshape(-1).tolist())
        if len(raw) != 37:
            raise RuntimeError(f"Generator.set_state: expected a state of 37 bytes, got "
                               f"{len(raw)}")
        self._rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": int.from_bytes(raw[0:16], "little"),
                      "inc": int.from_bytes(raw[16:32], "little")},
            "has_uint32": raw[32],
            "uinteger": int.from_bytes(raw[33:37], "little"),
        }
        return self

    @property
    def rng(self) -> np.random.Generator:
        return self._rng


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and CUDA's, when CuPy is present)."""
    default_generator.manual_seed(seed)
    import sys
    cuda_mod = sys.modules.get("ember.cuda")
    if cuda_mod is not None and hasattr(cuda_mod, "_seed_all_if_loaded"):
        cuda_mod._seed_all_if_loaded(seed)
    return default_generator


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


def rng_of(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator)._rng


def _cuda_states(devices=None) -> dict:
    """Copies of the CUDA RNG states ember keeps (the fused dropout kernel's device-side
    (seed, offset) pair and CuPy's generator seed) for ``devices``; empty when CUDA is unused.

    The copy stays on the device (no host sync), so it is safe while a CUDA graph is captured."""
    import sys
    drop = sys.modules.get("ember.cuda.kernels.dropout")
    cuda_mod = sys.modules.get("ember.cuda")
    out: dict = {}
    if cuda_mod is None or cuda_mod._STATE.get("cupy") is None:
        return out
    out["seed"] = cuda_mod._STATE.get("seed")
    if drop is not None:
        want = None if devices is None else {_device_index(d) for d in devices}
        for dev, ent in list(drop._GEN.items()):
            if want is None or dev in want:
                out[dev] = (ent[0].copy(), ent[1])
    return out


def _set_cuda_states(states: dict) -> None:
    """Put back what ``_cuda_states`` copied (device-to-device copies only)."""
    import sys
    drop = sys.modules.get("ember.cuda.kernels.dropout")
    cuda_mod = sys.modules.get("ember.cuda")
    if not states or cuda_mod is None:
        return
    cuda_mod._STATE["seed"] = states.get("seed")
    if drop is None:
        return
    for dev, val in states.items():
        if dev == "seed":
            continue
        arr, gen_rng = val
        ent = drop._GEN.get(dev)
        if ent is None:
            drop._GEN[dev] = [arr.copy(), gen_rng]
        else:
            ent[0][...] = arr
            ent[1] = gen_rng


def _device_index(d) -> int:
    if isinstance(d, int):
        return d
    idx = getattr(d, "index", None)
    if idx is None and isinstance(d, str) and ":" in d:
        idx = int(d.split(":")[1])
    return idx or 0


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str = "cuda"):
    """Run a block with the RNG state forked: on exit the CPU generator (and the CUDA states of
    ``devices``, all when None) are back where they were, as ``torch.random.fork_rng``."""
    if not enabled:
        yield
        return
    cpu_rng = default_generator._rng
    cpu_state = cpu_rng.bit_generator.state
    cpu_seed = default_generator._seed
    cuda_states = _cuda_states(devices)
    try:
        yield
    finally:
        # manual_seed inside the block swaps the numpy Generator; put the old object back so
        # that anything keyed on its identity (the dropout kernel's reseed check) sees no change.
        cpu_rng.bit_generator.state = cpu_state
        default_generator._rng = cpu_rng
        default_generator._seed = cpu_seed
        _set_cuda_states(cuda_states)


def thread_safe_generator():
    """None: ember's DataLoader has no thread workers with their own generators, so callers use
    the default generator (torch returns None outside thread workers too)."""
    return None
