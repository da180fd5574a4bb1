"""Rank script: rank 1 raises after joining; rank 0 waits in a collective meanwhile."""
import os
import time

import ember
import ember.distributed as dist

dist.init_process_group("gloo")
if dist.get_rank() == 1:
    raise ValueError("rank one gave up on purpose")
time.sleep(0.2)
dist.all_reduce(ember.ones(3))  # would wait for rank 1 forever: the launcher must stop us
time.sleep(60)
