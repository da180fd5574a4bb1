"""``ember.utils.tensorboard`` (``torch.utils.tensorboard`` under ``ember run``).

:class:`SummaryWriter` writes real TensorBoard event files through the tensorboardX library
(``pip install ember[tensorboard]``); ember tensors are handed to it as NumPy arrays, and
``add_graph`` draws the graph that ``ember.jit``'s tracer records, grouped by module.
"""
from __future__ import annotations

from .writer import SummaryWriter

__all__ = ["SummaryWriter"]
