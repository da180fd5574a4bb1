"""ember.profiler: op counts match the ops run, nesting and self time, table, trace, schedule."""
from __future__ import annotations

import json

import pytest

import ember
from ember import _tensor_methods as tm
from ember.ops import registry
from ember.profiler import (ProfilerAction, profile, record_function, schedule,
                            tensorboard_trace_handler)


def _counts(prof) -> dict:
    return {e.key: e.count for e in prof.key_averages()}


def _program(lib, x, y, n_add: int, n_mul: int):
    for _ in range(n_add):
        x = lib.add(x, y)
    for _ in range(n_mul):
        x = x * y              # the operator, whose small-tensor fast path skips apply
    return x.relu()


def test_counts_match_the_ops_run():
    x, y = ember.randn(4, 4), ember.randn(4, 4)
    with profile() as prof:
        _program(ember, x, y, 3, 5)
    counts = _counts(prof)
    assert counts == {"ember::add": 3, "ember::mul": 5, "ember::relu": 1}
    assert registry.PROFILER is None and tm._SMALL == 1 << 16  # restored on exit
    total = prof.key_averages().total_average()
    assert total.count == 9 and total.cpu_time_total > 0


def test_counts_agree_with_torch_profiler():
    import torch
    tx, ty = torch.randn(4, 4), torch.randn(4, 4)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as ref:
        _program(torch, tx, ty, 2, 4)
    theirs = {e.key.split("::")[1]: e.count for e in ref.key_averages()
              if e.key in ("aten::add", "aten::mul", "aten::relu")}
    with profile() as prof:
        _program(ember, ember.randn(4, 4), ember.randn(4, 4), 2, 4)
    ours = {k.split("::")[1]: v for k, v in _counts(prof).items()}
    assert ours == theirs


def test_backward_nodes_ranges_and_self_time():
    w = ember.randn(3, 3, requires_grad=True)
    x = ember.randn(2, 3)
    with profile(record_shapes=True, profile_memory=True) as prof:
        with record_function("forward"):
            y = (x @ w).relu().sum()
        with record_function("backward"):
            y.backward()
    events = prof.events()
    fwd = next(e for e in events if e.name == "forward")
    assert [c.name for c in fwd.cpu_children] == ["ember::matmul", "ember::relu", "ember::sum"]
    assert fwd.self_cpu_time_total == pytest.approx(
        fwd.cpu_time_total - sum(c.cpu_time_total for c in fwd.cpu_children))
    assert fwd.cpu_time_total >= sum(c.cpu_time_total for c in fwd.cpu_children)
    assert fwd.cpu_memory_usage == sum(c.cpu_memory_usage for c in fwd.cpu_children) > 0
    mm = fwd.cpu_children[0]
    assert mm.input_shapes == [[2, 3], [3, 3]] and mm.cpu_memory_usage == 2 * 3 * 4
    bwd = next(e for e in events if e.name == "backward")
    names = [c.name for c in bwd.cpu_children]
    # torch's engine names its nodes the same way.
    for node in ("SumBackward0", "ReluBackward0", "MmBackward0"):
        assert f"autograd::engine::evaluate_function: {node}" in names
    by_shape = prof.key_averages(group_by_input_shape=True)
    assert any(e.key == "ember::matmul" and e.input_shapes == [[2, 3], [3, 3]]
               for e in by_shape)
    assert sum(e.self_cpu_time_total for e in events) == pytest.approx(
        prof.self_cpu_time_total)


def test_table_sorting_and_columns():
    x = ember.randn(8, 8)
    with profile(profile_memory=True) as prof:
        for _ in range(4):
            x = ember.exp(x * 0.01)
        x.sum()
    table = prof.key_averages().table(sort_by="count", row_limit=2)
    lines = table.splitlines()
    header = lines[1].split()
    assert header[:3] == ["Name", "Self", "CPU"] and "Calls" in header and "Mem" in header
    rows = [line for line in lines[3:] if line.startswith(" ") and "ember::" in line]
    assert len(rows) == 2 and all(r.split()[-1] == "4" for r in rows)
    assert lines[-1].startswith("Self CPU time total:")
    by_total = prof.key_averages().table(sort_by="cpu_time_total")
    totals = [e.cpu_time_total for e in sorted(prof.key_averages(),
                                               key=lambda e: -e.cpu_time_total)]
    first = next(line for line in by_total.splitlines() if "ember::" in line).split()[0]
    assert first == next(e.key for e in prof.key_averages() if e.cpu_time_total == totals[0])
    with pytest.raises(AttributeError, match="sort_by"):
        prof.key_averages().table(sort_by="bogus")


def test_chrome_trace(tmp_path):
    with profile(record_shapes=True) as prof:
        with record_function("block"):
            ember.randn(3, 3).sigmoid().sum()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    doc = json.loads(path.read_text())
    evs = doc["traceEvents"]
    assert [e["name"] for e in evs] == [e.name for e in prof.events()]
    block = next(e for e in evs if e["name"] == "block")
    assert block["cat"] == "user_annotation" and block["ph"] == "X"
    for e in evs:
        if e["cat"] == "cpu_op":  # ops lie inside the block's time span
            assert block["ts"] <= e["ts"] and e["ts"] + e["dur"] <= block["ts"] + block["dur"]
    sig = next(e for e in evs if e["name"] == "ember::sigmoid")
    assert sig["args"]["Input Dims"] == [[3, 3]]


def test_schedule_matches_torch_and_saves_each_cycle(tmp_path):
    import torch
    kw = dict(wait=1, warmup=1, active=2, repeat=2, skip_first=1)
    ref = torch.profiler.schedule(**kw)
    ours = schedule(**kw)
    assert [ours(i).name for i in range(14)] == [ref(i).name for i in range(14)]
    saved = []
    handler = tensorboard_trace_handler(str(tmp_path), worker_name="w")

    def ready(p):
        saved.append(_counts(p))
        handler(p)
    x = ember.randn(2, 2)
    with profile(schedule=ours, on_trace_ready=ready) as prof:
        for step in range(12):
            for _ in range(step + 1):   # step k runs k+1 adds
                x = x + 1
            prof.step()
    # Cycles record steps 3-4 and 7-8 (skip 1, wait 1, warmup 1, active 2).
    assert saved == [{"ember::add": 4 + 5}, {"ember::add": 8 + 9}]
    assert len(list(tmp_path.glob("w.*.pt.trace.json"))) == 2
    assert ours(4) is ProfilerAction.RECORD_AND_SAVE


def test_record_function_without_profiler_and_as_decorator():
    @record_function("helper")
    def helper(t):
        return t * 2
    helper(ember.ones(2))  # no profiler: nothing recorded, no error
    with profile() as prof:
        helper(ember.ones(2))
    assert _counts(prof) == {"helper": 1, "ember::mul": 1}
    with pytest.raises(RuntimeError, match="didn't finish"):
        p = profile()
        p.start()
        try:
            p.events()
        finally:
            p.stop()
