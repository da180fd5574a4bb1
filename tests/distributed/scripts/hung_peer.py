"""Rank script: rank 1 hangs; rank 0's all_reduce must time out with a clear error."""
import sys
import time
from datetime import timedelta

import ember
import ember.distributed as dist

dist.init_process_group("gloo", timeout=timedelta(seconds=float(sys.argv[1])))
if dist.get_rank() == 1:
    time.sleep(120)
t0 = time.monotonic()
try:
    dist.all_reduce(ember.ones(3))
except dist.DistBackendError as e:
    print(f"waited {time.monotonic() - t0:.1f}s", file=sys.stderr)
    raise
