"""Rank script for `ember torchrun`: `import torch` must give ember; all_reduce runs."""
import sys

import torch
import torch.distributed as dist

assert torch.__name__ == "ember", torch.__name__
dist.init_process_group("gloo")
t = torch.ones(2) * (dist.get_rank() + 1)
dist.all_reduce(t)
with open(f"{sys.argv[1]}/rank{dist.get_rank()}.txt", "w") as f:
    f.write(f"{torch.__name__} {t.tolist()}")
