"""ember.utils.summary: totals equal the parameter counts; rows follow the calls torch makes."""
from __future__ import annotations

import pytest

import ember
import ember.nn as enn


def _build(nn):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.body = nn.Sequential(nn.Linear(4 * 8 * 8, 32), nn.ReLU(), nn.Linear(32, 10))

        def forward(self, x):
            x = self.bn(self.conv(x)).relu()
            return self.body(x.flatten(1))
    return Net()


def _torch_rows(model, x):
    """(class name, depth, output shape) of every module call, via torch's forward hooks."""
    rows, depth = [], [0]
    names = {id(m): n for n, m in model.named_modules()}

    def pre(m, inp):
        rows.append([type(m).__name__, names[id(m)], None])
        depth[0] += 1

    def post(m, inp, out):
        depth[0] -= 1
        for r in reversed(rows):
            if r[1] == names[id(m)] and r[2] is None:
                r[2] = list(out.shape)
                break
    hs = [m.register_forward_pre_hook(pre) for m in model.modules()]
    hs += [m.register_forward_hook(post) for m in model.modules()]
    model(x)
    for h in hs:
        h.remove()
    return [(c, n.count(".") + 1 if n else 0, s) for c, n, s in rows]


def test_totals_and_rows_match_torch():
    import torch
    import torch.nn as tnn
    model, ref = _build(enn), _build(tnn)
    model.conv.weight.requires_grad_(False)
    ref.conv.weight.requires_grad_(False)
    stats = ember.utils.summary(model, input_size=(2, 1, 8, 8), verbose=0)
    total = sum(p.numel() for p in ref.parameters())
    trainable = sum(p.numel() for p in ref.parameters() if p.requires_grad)
    assert stats.total_params == total == sum(p.numel() for p in model.parameters())
    assert stats.trainable_params == trainable
    assert stats.non_trainable_params == total - trainable == 36
    got = [(r.class_name, r.depth, r.output_size) for r in stats.summary_list]
    assert got == _torch_rows(ref, torch.randn(2, 1, 8, 8))
    assert stats.total_param_bytes == 4 * total
    text = str(stats)
    assert f"Total params: {total:,}" in text and f"Trainable params: {trainable:,}" in text
    assert "│    └─Linear: 2-1" in text and "├─Conv2d: 1-1" in text
    assert f"Params size (MB): {4 * total / 1e6:.2f}" in text
    # Conv: 36 weights x 64 positions x batch 2; Linear: 8192 x 2 and 320 x 2.
    assert stats.total_mult_adds == 36 * 64 * 2 + 256 * 32 * 2 + 32 * 10 * 2


def test_depth_folds_children_and_shared_modules_count_once(capsys):
    shared = enn.Linear(5, 5)
    model = enn.Sequential(shared, enn.Tanh(), shared)
    stats = ember.utils.summary(model, input_data=ember.randn(3, 5))
    printed = capsys.readouterr().out
    assert stats.total_params == 30 and "Total params: 30" in printed
    assert "(recursive)" in printed
    deep = enn.Sequential(enn.Sequential(enn.Linear(2, 3), enn.Linear(3, 4)), enn.ReLU())
    text = str(ember.utils.summary(deep, (1, 2), depth=1, verbose=0))
    (row,) = [line for line in text.splitlines() if "├─Sequential: 1-1" in line]
    assert row.split()[-1] == "25" and "Linear" not in text  # 2*3+3 + 3*4+4, folded


def test_modes_inputs_and_errors():
    model = enn.Sequential(enn.Linear(4, 4), enn.Dropout(0.5))
    model.train()
    from ember.utils.summary import summary
    stats = summary(model, [(2, 4)], col_names=("input_size", "output_size", "num_params",
                                                 "params_percent", "trainable"), verbose=0)
    assert model.training and stats.summary_list[0].input_size == [2, 4]
    assert "100.00%" in str(stats)
    with pytest.raises(ValueError, match="input_size or input_data"):
        summary(model, verbose=0)
    with pytest.raises(ValueError, match="unknown column"):
        summary(model, (1, 4), col_names=("bogus",), verbose=0)
    batched = summary(model, (4,), batch_dim=0, verbose=0)
    assert batched.summary_list[0].output_size == [1, 4]
