"""ember.utils.progress: a tqdm bar on demand or on a terminal, silence otherwise."""
from __future__ import annotations

import io

from ember.utils.progress import QuietProgress, progress


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_when_not_a_terminal(monkeypatch):
    monkeypatch.delenv("EMBER_PROGRESS", raising=False)
    out = io.StringIO()
    bar = progress(range(5), desc="epoch 1", file=out)
    assert isinstance(bar, QuietProgress)
    items = []
    for i in bar:
        items.append(i)
        bar.set_postfix(loss=f"{i:.2f}")
    bar.close()
    assert items == list(range(5)) and bar.n == 5 and len(bar) == 5
    assert bar.postfix == {"loss": "4.00"} and out.getvalue() == ""


def test_bar_on_a_terminal_shows_count_rate_and_postfix(monkeypatch):
    monkeypatch.delenv("EMBER_PROGRESS", raising=False)
    out = _TTY()
    bar = progress(range(4), desc="epoch 2/3", file=out, mininterval=0)
    assert not isinstance(bar, QuietProgress)
    for i in bar:
        bar.set_postfix(loss=f"{0.5:.4f}")
    bar.close()
    text = out.getvalue()
    assert "epoch 2/3" in text and "4/4" in text and "loss=0.5000" in text and "it/s" in text


def test_asked_for_explicitly_or_by_environment(monkeypatch):
    out = io.StringIO()
    bar = progress(range(3), file=out, enable=True, mininterval=0)
    list(bar)
    bar.close()
    assert "3/3" in out.getvalue()
    monkeypatch.setenv("EMBER_PROGRESS", "1")
    assert not isinstance(progress(range(3), file=io.StringIO()), QuietProgress)
    monkeypatch.setenv("EMBER_PROGRESS", "0")
    assert isinstance(progress(range(3), file=_TTY()), QuietProgress)
    assert isinstance(progress(range(3), file=_TTY(), enable=False), QuietProgress)
