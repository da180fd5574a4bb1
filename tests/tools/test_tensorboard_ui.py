"""The TensorBoard UI on an ember log dir, in headless Chromium (slow: outside CI).

Runs only with ``EMBER_UI_TESTS=1`` and Debian's ``chromium`` installed
(``apt-get install chromium``): it starts ``tensorboard --logdir`` on a loopback port, asks its
HTTP API for the scalar tag, then has Chromium render the page, finds the tag in the rendered
DOM and takes a screenshot (kept in the test's tmp dir as ``tensorboard.png``).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import ember
from ember.utils.tensorboard import SummaryWriter

pytestmark = pytest.mark.skipif(os.environ.get("EMBER_UI_TESTS") != "1",
                                reason="UI test: set EMBER_UI_TESTS=1 (needs chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def test_tensorboard_ui_shows_scalar_tag(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "apt-get install chromium"
    logs = tmp_path / "logs"
    with SummaryWriter(str(logs / "ember_run")) as w:
        for step in range(20):
            w.add_scalar("ui_check/loss", ember.tensor(1.0 / (step + 1)), step)
    port = _free_port()
    tb = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logs),
                           "--host", "127.0.0.1", "--port", str(port)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        tags = None
        for _ in range(60):  # at most ~30 s for the server to load the run
            try:
                tags = json.loads(_get(base + "/data/plugin/scalars/tags"))
                if tags.get("ember_run"):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert tags and "ui_check/loss" in tags["ember_run"]
        common = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                  "--window-size=1280,900", "--virtual-time-budget=15000"]
        dom = subprocess.run(common + ["--dump-dom", base + "/#timeseries"], capture_output=True,
                             text=True, timeout=120)
        # The Time Series dashboard renders in the light DOM, so the dump holds the tag.
        assert "ui_check/loss" in dom.stdout
        shot = tmp_path / "tensorboard.png"
        subprocess.run(common + [f"--screenshot={shot}", base + "/#timeseries"],
                       capture_output=True, timeout=120)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        tb.terminate()
        tb.wait(timeout=30)
