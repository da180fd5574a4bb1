"""2-process DDP against one process on the same global batch (ember.nn models, float64)."""
from __future__ import annotations

import numpy as np
import pytest

import ember
import models
from dist_helpers import launch

WORLD = 2


def _single_process(kind: str) -> dict:
    model = models.build(kind)
    opt = models.optimizer(model.parameters())
    for step in range(models.STEPS):
        x, y = models.batch(kind, step)
        loss = models.loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return models.state_arrays(model)


def _run(script: str, *args: str, tmp_path) -> list:
    res = launch(script, WORLD, *args, str(tmp_path))
    assert res.returncode == 0, res.stderr[-4000:]
    return [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(WORLD)]


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_ddp_training_equals_single_process(kind, tmp_path):
    ranks = _run("ddp_train.py", kind, tmp_path=tmp_path)
    ref = _single_process(kind)
    assert set(ranks[0]) == set(ref)
    for name, want in ref.items():
        for r in range(WORLD):
            np.testing.assert_allclose(ranks[r][name], want, rtol=0, atol=1e-6,
                                       err_msg=f"{name} on rank {r}")
    if kind == "cnn":  # the running statistics moved, and moved identically
        assert not np.allclose(ref["1.running_mean"], 0)


def _grads_of(model) -> dict:
    return {n: p.grad.numpy().copy() for n, p in model.named_parameters()
            if p.grad is not None}


def test_no_sync_and_find_unused_parameters(tmp_path):
    ranks = _run("ddp_features.py", tmp_path=tmp_path)
    x, y = models.batch("mlp", 0)
    x2, y2 = models.batch("mlp", 1)
    # no_sync: mean over ranks of (grad on micro-batch 1 + grad on micro-batch 2).
    per_rank = []
    for r in range(WORLD):
        model = models.build("mlp")
        models.loss_fn(model(models.shard(x, r, WORLD)), models.shard(y, r, WORLD)).backward()
        local = _grads_of(model)
        for n, g in local.items():
            np.testing.assert_allclose(ranks[r]["nosync_local." + n], g, atol=1e-12)
        models.loss_fn(model(models.shard(x2, r, WORLD)), models.shard(y2, r, WORLD)).backward()
        per_rank.append(_grads_of(model))
    for n in per_rank[0]:
        want = sum(g[n] for g in per_rank) / WORLD
        for r in range(WORLD):
            np.testing.assert_allclose(ranks[r]["nosync." + n], want, atol=1e-12)
    # find_unused_parameters: a's grads averaged, b's = rank 1's / 2, c has no grad.
    per_rank = []
    for r in range(WORLD):
        model = models.build("branches")
        out = model(models.shard(x, r, WORLD), use_b=(r == 1))
        models.loss_fn(out, models.shard(y, r, WORLD)).backward()
        per_rank.append(_grads_of(model))
    for n in ("a.weight", "a.bias", "b.weight", "b.bias"):
        want = sum(g.get(n, 0) for g in per_rank) / WORLD
        for r in range(WORLD):
            np.testing.assert_allclose(ranks[r]["unused." + n], want, atol=1e-12)
    for r in range(WORLD):
        assert ranks[r]["unused.c.weight"].size == 0
        msg = str(ranks[r]["unused_error"])
        assert "Expected to have finished reduction" in msg and "b.weight" in msg


def test_data_parallel_calls_module():
    model = models.build("mlp")
    dp = ember.nn.DataParallel(model)
    x, _ = models.batch("mlp", 0)
    np.testing.assert_array_equal(dp(x).detach().numpy(), model(x).detach().numpy())
    assert list(dp.state_dict()) == ["module." + k for k in model.state_dict()]


def test_sync_batchnorm_without_process_group_is_batchnorm():
    ember.manual_seed(0)
    bn = ember.nn.BatchNorm2d(3).double()
    sbn = ember.nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert type(sbn).__name__ == "SyncBatchNorm"
    ref = ember.nn.BatchNorm2d(3).double()
    x = ember.randn(4, 3, 5, 5, dtype=ember.float64)
    np.testing.assert_allclose(sbn(x).detach().numpy(), ref(x).detach().numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="expected at least 2D input"):
        sbn(ember.randn(3))
