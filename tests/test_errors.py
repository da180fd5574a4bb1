"""Errors: ember raises the exception type torch raises for the same call.

Every case runs under torch and under ember; both must raise, with the same exception type.
Shape mismatches (broadcasting, matmul, cat) must also name both shapes in ember's message.
"""
from __future__ import annotations

import pytest
import torch

import ember


def _one_hot(lib):
    fn = getattr(getattr(getattr(lib, "nn", None), "functional", None), "one_hot", None)
    return fn if fn is not None else lib.one_hot


# name -> fn(lib); each call is invalid in torch.
CASES = {
    # broadcasting
    "add": lambda l: l.ones(3, 4) + l.ones(5),
    "add_fn": lambda l: l.add(l.ones(3, 4), l.ones(2, 1, 5)),
    "mul_3d": lambda l: l.ones(2, 3, 4) * l.ones(3, 3, 4),
    "sub_grad": lambda l: l.ones(3, 4, requires_grad=True) - l.ones(5),
    "div_big": lambda l: l.ones(300, 400) / l.ones(500),
    "maximum": lambda l: l.maximum(l.ones(2, 3), l.ones(4)),
    "pow": lambda l: l.ones(2, 3) ** l.ones(2),
    "eq": lambda l: l.ones(3) == l.ones(4),
    "where": lambda l: l.where(l.ones(3, dtype=l.bool), l.ones(3), l.ones(4)),
    "masked_fill": lambda l: l.ones(3, 4).masked_fill(l.ones(5, dtype=l.bool), 0.0),
    "inplace_out_shape": lambda l: l.ones(3, 1).add_(l.ones(3, 4)),
    "expand": lambda l: l.ones(3, 4).expand(3, 5),
    # matmul family
    "matmul": lambda l: l.ones(3, 4) @ l.ones(5, 6),
    "matmul_1d": lambda l: l.ones(4) @ l.ones(5),
    "matmul_1d_2d": lambda l: l.ones(3) @ l.ones(4, 5),
    "matmul_2d_1d": lambda l: l.ones(3, 4) @ l.ones(5),
    "matmul_batch_k": lambda l: l.ones(2, 3, 4) @ l.ones(2, 5, 6),
    "matmul_batch_b": lambda l: l.ones(2, 3, 4) @ l.ones(3, 4, 6),
    "matmul_0d": lambda l: l.matmul(l.ones(()), l.ones(3)),
    "matmul_dtype": lambda l: l.ones(3, 4) @ l.ones(4, 2, dtype=l.float64),
    "mm": lambda l: l.mm(l.ones(3, 4), l.ones(5, 6)),
    "bmm": lambda l: l.bmm(l.ones(2, 3, 4), l.ones(2, 5, 6)),
    "dot": lambda l: l.dot(l.ones(3), l.ones(4)),
    # cat / stack
    "cat": lambda l: l.cat([l.ones(3, 4), l.ones(3, 5)]),
    "cat_dim1": lambda l: l.cat([l.ones(3, 4), l.ones(2, 4)], 1),
    "cat_ndim": lambda l: l.cat([l.ones(3, 4), l.ones(3)]),
    "cat_empty_list": lambda l: l.cat([]),
    "cat_bad_dim": lambda l: l.cat([l.ones(3), l.ones(3)], 1),
    "stack": lambda l: l.stack([l.ones(3, 4), l.ones(3, 5)]),
    # indexing
    "index_int": lambda l: l.ones(3, 4)[3],
    "index_neg": lambda l: l.ones(3, 4)[0, -5],
    "index_tensor": lambda l: l.ones(3, 4)[l.tensor([0, 3])],
    "index_list": lambda l: l.ones(3, 4)[[0, 1], [1, 4]],
    "index_too_many": lambda l: l.ones(3, 4)[0, 0, 0],
    "index_float": lambda l: l.ones(3, 4)[l.tensor([0.0])],
    "index_mask_shape": lambda l: l.ones(3, 4)[l.ones(4, dtype=l.bool)],
    "setitem": lambda l: l.ones(3, 4).__setitem__(5, 1.0),
    "setitem_tensor": lambda l: l.ones(3).__setitem__(l.tensor([3]), 1.0),
    "select": lambda l: l.ones(3, 4).select(1, 4),
    "index_select": lambda l: l.ones(3, 4).index_select(0, l.tensor([3])),
    "index_select_2d": lambda l: l.ones(3, 4).index_select(0, l.tensor([[0]])),
    "gather": lambda l: l.ones(3, 4).gather(1, l.tensor([[4]])),
    "gather_dtype": lambda l: l.ones(3, 4).gather(1, l.tensor([[1]], dtype=l.int16)),
    "index_select_dtype": lambda l: l.ones(3).index_select(0, l.tensor([1], dtype=l.int16)),
    "tensor_none": lambda l: l.tensor([None]),
    "scatter": lambda l: l.ones(3).scatter(0, l.tensor([5]), l.ones(1)),
    "step_zero": lambda l: l.ones(5)[::0],
    "step_negative": lambda l: l.ones(5)[::-1],
    "narrow": lambda l: l.ones(3, 4).narrow(0, 2, 2),
    "one_hot_negative": lambda l: _one_hot(l)(l.tensor([-1])),
    "one_hot_too_big": lambda l: _one_hot(l)(l.tensor([3]), 3),
    # dims
    "sum_dim": lambda l: l.ones(3, 4).sum(2),
    "sum_dim_neg": lambda l: l.ones(3, 4).sum(-3),
    "unsqueeze": lambda l: l.ones(3, 4).unsqueeze(3),
    "transpose": lambda l: l.ones(3, 4).transpose(0, 2),
    "flip": lambda l: l.ones(3).flip(1),
    "sort_dim": lambda l: l.ones(3).sort(1),
    "softmax_dim": lambda l: l.softmax(l.ones(3), 1),
    "max_empty": lambda l: l.ones(0).max(),
    "amax_empty": lambda l: l.ones(0, 3).amax(0),
    "argmax_empty": lambda l: l.ones(0).argmax(),
    "max_dim_empty": lambda l: l.ones(0, 3).max(0),
    # shapes
    "reshape": lambda l: l.ones(3, 4).reshape(5, 2),
    "reshape_two_inferred": lambda l: l.ones(4).view(-1, -1),
    "view_strides": lambda l: l.ones(3, 4).t().view(12),
    "permute": lambda l: l.ones(3, 4).permute(0),
    "permute_dup": lambda l: l.ones(3, 4).permute(0, 0),
    "repeat_few": lambda l: l.ones(3, 4).repeat(2),
    "diag_3d": lambda l: l.ones(2, 2, 2).diag(),
    "split_sizes": lambda l: l.ones(5).split([2, 2]),
    "chunk_zero": lambda l: l.ones(3).chunk(0),
    "topk": lambda l: l.ones(3).topk(4),
    # dtypes and values
    "sub_bool": lambda l: l.ones(3, dtype=l.bool) - l.ones(3, dtype=l.bool),
    "neg_bool": lambda l: -l.ones(3, dtype=l.bool),
    "pow_neg_int": lambda l: l.ones(3, dtype=l.int64) ** -1,
    "floordiv_zero": lambda l: l.ones(3, dtype=l.int64) // 0,
    "remainder_zero": lambda l: l.ones(3, dtype=l.int64) % l.tensor([1, 0, 1]),
    "div_trunc_zero": lambda l: l.div(l.ones(3, dtype=l.int64), 0, rounding_mode="trunc"),
    "bitwise_float": lambda l: l.ones(3) & l.ones(3),
    "bitwise_not_float": lambda l: l.ones(3).bitwise_not(),
    "mean_int": lambda l: l.ones(3, dtype=l.int64).mean(),
    "int_requires_grad": lambda l: l.ones(3, dtype=l.int64).requires_grad_(),
    "where_cond_float": lambda l: l.where(l.ones(3), l.ones(3), l.ones(3)),
    "masked_fill_float_mask": lambda l: l.ones(3).masked_fill(l.ones(3), 0.0),
    "clamp_none": lambda l: l.ones(3).clamp(),
    "inplace_cast": lambda l: l.ones(3, dtype=l.int64).add_(l.ones(3)),
    "leaf_inplace": lambda l: l.ones(3, requires_grad=True).add_(1),
    "item_many": lambda l: l.ones(3).item(),
    "bool_many": lambda l: bool(l.ones(3)),
    "numpy_requires_grad": lambda l: l.ones(3, requires_grad=True).numpy(),
    "backward_non_scalar": lambda l: (l.ones(3, requires_grad=True) * 2).backward(),
    "tensor_ragged": lambda l: l.tensor([[1, 2], [3]]),
    "tensor_string": lambda l: l.tensor(["a"]),
}

SHAPE_MESSAGES = {
    # case -> strings that ember's message must contain (both shapes)
    "add": ("[3, 4]", "[5]"),
    "add_fn": ("[3, 4]", "[2, 1, 5]"),
    "mul_3d": ("[2, 3, 4]", "[3, 3, 4]"),
    "sub_grad": ("[3, 4]", "[5]"),
    "div_big": ("[300, 400]", "[500]"),
    "maximum": ("[2, 3]", "[4]"),
    "where": ("[3]", "[4]"),
    "matmul": ("3x4", "5x6"),
    "matmul_1d": ("[4]", "[5]"),
    "matmul_1d_2d": ("1x3", "4x5"),
    "matmul_2d_1d": ("3x4", "5"),
    "matmul_batch_k": ("[2, 4]", "[2, 5]"),
    "matmul_batch_b": ("[2]", "[3]"),
    "mm": ("3x4", "5x6"),
    "cat": ("[3, 4]", "[3, 5]"),
    "cat_dim1": ("[3, 4]", "[2, 4]"),
    "stack": ("[3, 4]", "[3, 5]"),
}


def _raise(lib, fn):
    try:
        fn(lib)
    except Exception as e:  # noqa: BLE001 - the type is what we compare
        return e
    return None


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_exception_type_as_torch(name):
    fn = CASES[name]
    t_err = _raise(torch, fn)
    e_err = _raise(ember, fn)
    assert t_err is not None, f"{name}: torch did not raise (bad case)"
    assert e_err is not None, f"{name}: ember did not raise; torch raised {t_err!r}"
    assert type(e_err) is type(t_err) or isinstance(e_err, type(t_err)), \
        f"{name}: ember raised {type(e_err).__name__}({e_err}), torch {type(t_err).__name__}"


@pytest.mark.parametrize("name", sorted(SHAPE_MESSAGES))
def test_shape_errors_name_both_shapes(name):
    err = _raise(ember, CASES[name])
    assert isinstance(err, RuntimeError), f"{name}: {err!r}"
    for s in SHAPE_MESSAGES[name]:
        assert s in str(err), f"{name}: {s!r} not in {str(err)!r}"


@pytest.mark.parametrize("idx", [3, -4, (0, 4), (slice(None), 4), [0, 3], (1, [5])])
def test_bad_indices_raise_index_error(idx):
    with pytest.raises(IndexError) as t_info:
        torch.zeros(3, 4)[idx]
    with pytest.raises(IndexError) as e_info:
        ember.zeros(3, 4)[idx]
    # torch's message names the offending index; ember's does too.
    bad = str(t_info.value).split()[1] if str(t_info.value).startswith("index ") else None
    if bad is not None:
        assert bad in str(e_info.value)
