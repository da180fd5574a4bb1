"""Random number generation: ``Generator``, ``manual_seed`` and the default generator.

ember's stream is NumPy's PCG64, so seeds repeat within ember (bit-exact on CPU) but do not
reproduce torch's numbers; comparisons with torch copy weights across instead.
"""
from __future__ import annotations

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
        from .creation import tensor
        import pickle
        from . import uint8
        raw = pickle.dumps(self._rng.bit_generator.state)
        return tensor(list(raw), dtype=uint8)

    def set_state(self, state) -> "Generator":
        import pickle
        raw = bytes(state.tolist())
        self._rng.bit_generator.state = pickle.loads(raw)
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
