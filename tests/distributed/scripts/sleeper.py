"""Rank script: record the launcher's environment and pid, then sleep until signalled."""
import json
import os
import signal
import sys
import time

out_dir = sys.argv[1]
keys = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
        "MASTER_PORT", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT", "OMP_NUM_THREADS"]
rank = os.environ["RANK"]


def on_term(signum, frame):
    with open(os.path.join(out_dir, f"term{rank}"), "w") as f:
        f.write(signal.Signals(signum).name)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
record = {k: os.environ.get(k) for k in keys}
record.update(pid=os.getpid(), argv=sys.argv)
path = os.path.join(out_dir, f"env{rank}.json")
with open(path + ".tmp", "w") as f:
    json.dump(record, f)
os.replace(path + ".tmp", path)
if sys.argv[2:] == ["exit"]:
    sys.exit(0)
time.sleep(60)
