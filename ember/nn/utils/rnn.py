"""``torch.nn.utils.rnn``: PackedSequence and the pack/pad helpers the recurrent layers accept.

A PackedSequence stores the time steps of a batch of variable-length sequences one after the
other: step ``t`` contributes the first ``batch_sizes[t]`` sequences (sorted longest first), as
in torch, so the ``data``/``batch_sizes`` of a packed batch interchange with torch's.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Optional, Sequence

import numpy as np

import ember as E
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence"]


def _int_array(v) -> np.ndarray:
    if isinstance(v, Tensor):
        return np.asarray(v.detach().cpu().numpy()).astype(np.int64).reshape(-1)
    return np.asarray(list(v) if not isinstance(v, np.ndarray) else v, dtype=np.int64).reshape(-1)


def _as_index_tensor(a: np.ndarray, device=None) -> Tensor:
    return E.tensor(a.astype(np.int64), dtype=E.int64, device=device)


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A packed batch of variable-length sequences (build it with ``pack_padded_sequence``).

    Args:
        data: ``(sum(lengths), *)`` the time steps, step after step.
        batch_sizes: int64 ``(max_len,)``: how many sequences are still running at each step.
        sorted_indices: the permutation that sorted the batch by length (None if it was sorted).
        unsorted_indices: its inverse.

    Shape:
        ``data``: ``(sum(lengths), *)``.

    Example:
        >>> p = pack_sequence([ember.ones(3, 2), ember.ones(1, 2)])
        >>> p.batch_sizes
        tensor([2, 1, 1])
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            inv = np.empty_like(_int_array(sorted_indices))
            inv[_int_array(sorted_indices)] = np.arange(inv.size)
            dev = sorted_indices.device if isinstance(sorted_indices, Tensor) else None
            unsorted_indices = _as_index_tensor(inv, dev)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> "PackedSequence":
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        # As torch: the permutations follow the data's device (batch_sizes stay on the CPU).
        idx = [None if i is None else i.to(data.device)
               for i in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *idx)

    def cpu(self) -> "PackedSequence":
        return self.to("cpu")

    def double(self) -> "PackedSequence":
        return self.to(dtype=E.float64)

    def float(self) -> "PackedSequence":
        return self.to(dtype=E.float32)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def _lengths_of(batch_sizes: np.ndarray) -> np.ndarray:
    """Per-sequence lengths (sorted order) from the per-step batch sizes."""
    b = int(batch_sizes[0]) if batch_sizes.size else 0
    return (batch_sizes[None, :] > np.arange(b)[:, None]).sum(1)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch ``(T, B, *)`` (``(B, T, *)`` with batch_first) of given lengths."""
    lens = _int_array(lengths)
    if isinstance(lengths, Tensor) and lengths.device.type != "cpu":
        raise RuntimeError("'lengths' argument should be a 1D CPU int64 tensor, but got 1D "
                           f"{lengths.device.type} Long tensor")
    bdim = 0 if batch_first else 1
    if lens.size != input.shape[bdim]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lens.size} (batch_size={input.shape[bdim]})")
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability.")
        sorted_indices = None
        order = np.arange(lens.size)
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_indices = _as_index_tensor(order, input.device)  # on input's device, as torch
        lens = lens[order]
    if lens.size and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if lens.size and lens[0] > input.shape[1 - bdim]:
        raise RuntimeError(f"Expected sequence length to be larger than or equal to "
                           f"{lens[0]}, but got {input.shape[1 - bdim]}")
    max_len = int(lens[0]) if lens.size else 0
    steps = np.arange(max_len)
    batch_sizes = (lens[None, :] > steps[:, None]).sum(1)
    # (t, b) pairs in packed order: time-major, then the first batch_sizes[t] sequences.
    t_idx = np.repeat(steps, batch_sizes)
    b_idx = np.concatenate([np.arange(n) for n in batch_sizes]) if max_len else steps
    b_orig = order[b_idx]
    b_orig, t_idx = (E.tensor(a, device=input.device) for a in (b_orig, t_idx))
    data = input[b_orig, t_idx] if batch_first else input[t_idx, b_orig]
    return PackedSequence(data, _as_index_tensor(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: Optional[int] = None) -> tuple:
    """Inverse of ``pack_padded_sequence``: ``(padded, lengths)`` in the original batch order."""
    data = sequence.data
    bs = _int_array(sequence.batch_sizes)
    max_len = bs.size
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{max_len}")
        max_len = total_length
    b = int(bs[0]) if bs.size else 0
    # Row of ``data`` holding (t, b), or the padding row appended at the end.
    rows = np.full((max_len, b), data.shape[0], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(bs)])
    for t, n in enumerate(bs):
        rows[t, :n] = np.arange(offs[t], offs[t] + n)
    lens = _lengths_of(bs)
    if sequence.unsorted_indices is not None:
        unsorted = _int_array(sequence.unsorted_indices)
        rows = rows[:, unsorted]
        lens = lens[unsorted]
    pad_row = E.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype,
                     device=data.device)
    table = E.cat([data, pad_row], 0)
    if batch_first:
        rows = rows.T
    padded = table[E.tensor(np.ascontiguousarray(rows), device=data.device)]
    return padded, _as_index_tensor(lens)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors of shape ``(L_i, *)`` into ``(max L, B, *)`` (``(B, max L, *)``)."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        n = max_len - s.shape[0]
        if n:
            fill = E.full((n,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype,
                          device=s.device)
            s = E.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return E.stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor,
                   batch_first: bool = False) -> list:
    """Split a padded batch back into its sequences."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(_int_array(lengths))]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of ``(L_i, *)`` tensors."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences a PackedSequence holds."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def invert_permutation(permutation: Optional[Tensor]) -> Optional[Tensor]:
    """The inverse of a 1-D index permutation (None stays None), as torch's helper."""
    if permutation is None:
        return None
    out = E.empty_like(permutation)
    # out[permutation[i]] = i
    return out.scatter_(0, permutation, E.arange(permutation.numel(), device=permutation.device,
                                                 dtype=permutation.dtype))
