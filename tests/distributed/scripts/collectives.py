"""Rank script: every collective on inputs the test can recompute; saves the outputs."""
import os
import sys
from datetime import timedelta

import numpy as np

import ember
import ember.distributed as dist

out_dir = sys.argv[1]
dist.init_process_group("gloo", timeout=timedelta(seconds=30))
r, n = dist.get_rank(), dist.get_world_size()
assert os.environ["LOCAL_RANK"] == str(r) and os.environ["WORLD_SIZE"] == str(n)
assert dist.is_initialized() and dist.get_backend() == "gloo" and dist.is_torchelastic_launched()
rng = np.random.default_rng(100 + r)
x = rng.standard_normal((3, 4))
ints = rng.integers(0, 64, (5,))
flags = rng.random(6) < 0.5
out = {}

for op in ("SUM", "AVG", "PRODUCT", "MIN", "MAX"):
    t = ember.tensor(x)
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    out["all_reduce_" + op] = t.numpy()
for op in ("SUM", "BAND", "BOR", "BXOR", "MAX"):
    t = ember.tensor(ints)
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    out["all_reduce_int_" + op] = t.numpy()
for op in ("SUM", "PRODUCT"):
    t = ember.tensor(flags)
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    out["all_reduce_bool_" + op] = t.numpy()
t = ember.tensor(x, dtype=ember.float32)
dist.all_reduce(t)
out["all_reduce_f32"] = t.numpy()
assert t.dtype == ember.float32
t = ember.tensor(x, dtype=ember.bfloat16)
dist.all_reduce(t)
out["all_reduce_bf16"] = t.float().numpy()
t = ember.tensor(x, dtype=ember.float16)
dist.all_reduce(t)
out["all_reduce_f16"] = t.numpy()
# A non-contiguous view reduces in place into its base.
base = ember.tensor(x)
dist.all_reduce(base.t())
out["all_reduce_view"] = base.numpy()
# async_op returns a Work; the tensor holds the result after wait().
t = ember.tensor(x)
work = dist.all_reduce(t, async_op=True)
assert work.wait() and work.is_completed()
out["all_reduce_async"] = t.numpy()
fut = dist.all_reduce(ember.tensor(x), async_op=True).get_future()
out["future"] = fut.wait()[0].numpy()

t = ember.tensor(x)
dist.broadcast(t, src=1)
out["broadcast"] = t.numpy()
t = ember.tensor(x)
dist.reduce(t, dst=1, op=dist.ReduceOp.MAX)
out["reduce"] = t.numpy()
lst = [ember.zeros(3, 4, dtype=ember.float64) for _ in range(n)]
dist.all_gather(lst, ember.tensor(x))
out["all_gather"] = np.stack([a.numpy() for a in lst])
uneven = [ember.zeros(k + 1, dtype=ember.int64) for k in range(n)]
dist.all_gather(uneven, ember.arange(r + 1) * (r + 1))
out["all_gather_uneven"] = np.concatenate([a.numpy() for a in uneven])
big = ember.zeros(3 * n, 4, dtype=ember.float64)
dist.all_gather_into_tensor(big, ember.tensor(x))
out["all_gather_into_tensor"] = big.numpy()
o = ember.zeros(3, 4, dtype=ember.float64)
dist.reduce_scatter(o, [ember.tensor(x * (k + 1)) for k in range(n)])
out["reduce_scatter"] = o.numpy()
o = ember.zeros(2, 4, dtype=ember.float64)
stacked = np.tile(x[:2], (n, 1)) + np.arange(n).repeat(2)[:, None]
dist.reduce_scatter_tensor(o, ember.tensor(stacked), op=dist.ReduceOp.AVG)
out["reduce_scatter_tensor"] = o.numpy()
gl = [ember.zeros(3, 4, dtype=ember.float64) for _ in range(n)] if r == 0 else None
dist.gather(ember.tensor(x), gl, dst=0)
if r == 0:
    out["gather"] = np.stack([a.numpy() for a in gl])
t = ember.zeros(3, 4, dtype=ember.float64)
dist.scatter(t, [ember.tensor(x + k) for k in range(n)] if r == 2 else None, src=2)
out["scatter"] = t.numpy()
inp = ember.tensor(np.arange(2 * n, dtype=np.float64) + 100 * r)
o = ember.zeros(2 * n, dtype=ember.float64)
dist.all_to_all_single(o, inp)
out["all_to_all_single"] = o.numpy()
dist.barrier()
dist.monitored_barrier(timeout=timedelta(seconds=10))

# Point to point around the ring, blocking and asynchronous.
nxt, prv = (r + 1) % n, (r - 1) % n
recv_t = ember.zeros(3, 4, dtype=ember.float64)
if r % 2 == 0:
    dist.send(ember.tensor(x), nxt, tag=7)
    src = dist.recv(recv_t, prv, tag=7)
else:
    src = dist.recv(recv_t, None, tag=7)
    dist.send(ember.tensor(x), nxt, tag=7)
assert src == prv, (src, prv)
out["ring"] = recv_t.numpy()
recv2 = ember.zeros(3, 4, dtype=ember.float64)
ops = [dist.P2POp(dist.isend, ember.tensor(x * 2), prv),
       dist.P2POp(dist.irecv, recv2, nxt)]
for w in dist.batch_isend_irecv(ops):
    w.wait()
out["ring_async"] = recv2.numpy()

# A subgroup of ranks 0 and 2; rank 1 gets NON_GROUP_MEMBER and its collectives are no-ops.
g = dist.new_group([0, 2])
t = ember.tensor(x)
dist.all_reduce(t, group=g)
out["subgroup"] = t.numpy()
if r != 1:
    assert dist.get_world_size(g) == 2 and dist.get_rank(g) == r // 2
    assert dist.get_process_group_ranks(g) == [0, 2]
    t = ember.tensor(x)
    dist.broadcast(t, src=2, group=g)
    out["subgroup_broadcast"] = t.numpy()
else:
    assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1

objs = [None] * n
dist.all_gather_object(objs, {"rank": r, "name": f"r{r}"})
assert objs == [{"rank": k, "name": f"r{k}"} for k in range(n)]
lst = [f"hello from {r}", r] if r == 1 else [None, None]
dist.broadcast_object_list(lst, src=1)
assert lst == ["hello from 1", 1], lst
got = [None]
dist.scatter_object_list(got, [k * 10 for k in range(n)] if r == 0 else None, src=0)
assert got == [r * 10]
gathered = [None] * n if r == 0 else None
dist.gather_object(r ** 2, gathered, dst=0)
if r == 0:
    assert gathered == [k ** 2 for k in range(n)]
np.savez(os.path.join(out_dir, f"rank{r}.npz"), **out)
dist.destroy_process_group()
assert not dist.is_initialized()
