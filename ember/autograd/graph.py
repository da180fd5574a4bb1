"""``torch.autograd.graph``: the Node type of grad_fn objects."""
from ..ops.registry import Node

__all__ = ["Node"]
