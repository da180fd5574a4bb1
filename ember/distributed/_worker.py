"""What the launcher runs in each rank: the user's script as ``__main__``, with its failure
recorded (torchrun's error-file convention) so the launcher can say which rank failed and why.

``python -m ember.distributed._worker [--alias-torch] [-m] TARGET ARGS...``
"""
from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import time
import traceback


def _die_with_parent() -> None:
    # If the launcher is killed outright (SIGKILL) its ranks must not live on as orphans
    # holding MPI ports: ask Linux to send us SIGKILL when the parent goes away.
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass
    parent = os.environ.get("EMBER_LAUNCHER_PID")
    if parent is not None and os.getppid() != int(parent):
        os._exit(1)  # the launcher died before prctl took effect


def _write_error(exc: BaseException) -> None:
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    record = {"message": {
        "message": f"{type(exc).__name__}: {exc}",
        "extraInfo": {"py_callstack": "".join(traceback.format_exception(exc)),
                      "timestamp": str(int(time.time()))}}}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f)
    os.replace(tmp, path)


def main(argv: list) -> int:
    _die_with_parent()
    alias = False
    as_module = False
    while argv and argv[0] in ("--alias-torch", "-m"):
        if argv[0] == "--alias-torch":
            alias = True
        else:
            as_module = True
        argv = argv[1:]
    if not argv:
        print("usage: python -m ember.distributed._worker [--alias-torch] [-m] target [args]",
              file=sys.stderr)
        return 2
    target, args = argv[0], argv[1:]
    if alias:
        from ember.cli import install_aliases
        install_aliases()
    sys.argv = [target] + list(args)
    try:
        if as_module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code is None or code == 0:
            return 0
        if not isinstance(code, int):
            print(code, file=sys.stderr)
            _write_error(RuntimeError(f"SystemExit: {code}"))
            return 1
        _write_error(RuntimeError(f"exited with SystemExit({code})"))
        return code
    except BaseException as e:  # noqa: BLE001  (report whatever killed the rank)
        _write_error(e)
        traceback.print_exc()
        sys.stderr.flush()
        return 1
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
