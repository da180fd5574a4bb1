"""Collectives on 3 ranks (launched by ember.distributed.run) against NumPy."""
from __future__ import annotations

import numpy as np
import pytest

from dist_helpers import launch

N = 3


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("collectives")
    res = launch("collectives.py", N, str(out))
    assert res.returncode == 0, res.stderr[-4000:]
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(N)]


def _inputs():
    xs, ints, flags = [], [], []
    for r in range(N):
        rng = np.random.default_rng(100 + r)
        xs.append(rng.standard_normal((3, 4)))
        ints.append(rng.integers(0, 64, (5,)))
        flags.append(rng.random(6) < 0.5)
    return np.stack(xs), np.stack(ints), np.stack(flags)


def _bf16(a):
    import torch
    return torch.tensor(a, dtype=torch.float32).bfloat16().float().numpy()


def test_all_reduce_ops(results):
    xs, ints, flags = _inputs()
    want = {"SUM": xs.sum(0), "AVG": xs.mean(0), "PRODUCT": xs.prod(0), "MIN": xs.min(0),
            "MAX": xs.max(0)}
    iwant = {"SUM": ints.sum(0), "BAND": np.bitwise_and.reduce(ints),
             "BOR": np.bitwise_or.reduce(ints), "BXOR": np.bitwise_xor.reduce(ints),
             "MAX": ints.max(0)}
    for r in range(N):
        got = results[r]
        for op, w in want.items():
            np.testing.assert_allclose(got["all_reduce_" + op], w, rtol=1e-12, err_msg=op)
        for op, w in iwant.items():
            np.testing.assert_array_equal(got["all_reduce_int_" + op], w, err_msg=op)
        np.testing.assert_array_equal(got["all_reduce_bool_SUM"], flags.any(0))
        np.testing.assert_array_equal(got["all_reduce_bool_PRODUCT"], flags.all(0))
        np.testing.assert_allclose(got["all_reduce_f32"], xs.astype(np.float32).sum(0),
                                   rtol=1e-6)
        bf = _bf16(_bf16(xs).sum(0))
        np.testing.assert_array_equal(got["all_reduce_bf16"], bf)
        assert got["all_reduce_f16"].dtype == np.float16
        np.testing.assert_allclose(got["all_reduce_f16"], xs.astype(np.float16).sum(0),
                                   rtol=2e-3)
        np.testing.assert_allclose(got["all_reduce_view"], xs.sum(0), rtol=1e-12)
        np.testing.assert_allclose(got["all_reduce_async"], xs.sum(0), rtol=1e-12)
        np.testing.assert_allclose(got["future"], xs.sum(0), rtol=1e-12)


def test_rooted_and_gathering_collectives(results):
    xs, _, _ = _inputs()
    for r in range(N):
        got = results[r]
        np.testing.assert_array_equal(got["broadcast"], xs[1])
        np.testing.assert_array_equal(got["reduce"], xs.max(0) if r == 1 else xs[r])
        np.testing.assert_array_equal(got["all_gather"], xs)
        np.testing.assert_array_equal(got["all_gather_uneven"],
                                      np.concatenate([np.arange(k + 1) * (k + 1)
                                                      for k in range(N)]))
        np.testing.assert_array_equal(got["all_gather_into_tensor"], xs.reshape(3 * N, 4))
        np.testing.assert_allclose(got["reduce_scatter"], xs.sum(0) * (r + 1), rtol=1e-12)
        chunks = [np.tile(xs[k][:2], (N, 1)) + np.arange(N).repeat(2)[:, None]
                  for k in range(N)]
        np.testing.assert_allclose(got["reduce_scatter_tensor"],
                                   np.mean(chunks, axis=0)[2 * r:2 * r + 2], rtol=1e-12)
        np.testing.assert_array_equal(got["scatter"], xs[2] + r)
        want_a2a = np.array([100 * k + 2 * r + j for k in range(N) for j in range(2)],
                            dtype=np.float64)
        np.testing.assert_array_equal(got["all_to_all_single"], want_a2a)
    np.testing.assert_array_equal(results[0]["gather"], xs)
    assert "gather" not in results[1]


def test_point_to_point_and_subgroups(results):
    xs, _, _ = _inputs()
    for r in range(N):
        got = results[r]
        np.testing.assert_array_equal(got["ring"], xs[(r - 1) % N])
        np.testing.assert_array_equal(got["ring_async"], xs[(r + 1) % N] * 2)
        if r == 1:
            np.testing.assert_array_equal(got["subgroup"], xs[1])  # not a member: untouched
        else:
            np.testing.assert_allclose(got["subgroup"], xs[0] + xs[2], rtol=1e-12)
            np.testing.assert_array_equal(got["subgroup_broadcast"], xs[2])
