"""Progress bars for training loops: tqdm on a terminal, silence in logs and pipes.

``progress(loader, desc="epoch 1")`` returns a tqdm bar (count, rate, ETA; ``set_postfix(loss=...)``
adds the loss) when its output stream is a terminal, and otherwise a quiet wrapper with the same
methods, so a loop is written once. ``enable=True`` (or ``EMBER_PROGRESS=1``) asks for the bar
even when the output is not a terminal; ``enable=False`` (or ``EMBER_PROGRESS=0``) silences it.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Iterable, Optional

__all__ = ["progress", "QuietProgress"]


class QuietProgress:
    """The no-output stand-in for a tqdm bar: iterates and counts, prints nothing.

    Args:
        iterable: what to iterate over (may be None for manual ``update`` calls).
        total: the expected number of items.

    Shape:
        Not applicable.

    Example:
        >>> bar = QuietProgress(range(3))
        >>> [i for i in bar], bar.n
        ([0, 1, 2], 3)
    """

    def __init__(self, iterable: Optional[Iterable] = None, total: Optional[int] = None,
                 desc: Optional[str] = None, **kwargs: Any) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total = total
        self.desc = desc
        self.n = 0
        self.postfix: dict = {}
        self.disable = True

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.n += 1

    def __len__(self) -> int:
        return self.total or 0

    def __enter__(self) -> "QuietProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, ordered_dict: Optional[dict] = None, refresh: bool = True,
                    **kwargs: Any) -> None:
        self.postfix = {**(ordered_dict or {}), **kwargs}

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = {"": s}

    def set_description(self, desc: Optional[str] = None, refresh: bool = True) -> None:
        self.desc = desc

    def write(self, s: str, file: Any = None, end: str = "\n") -> None:
        print(s, file=file or sys.stdout, end=end)

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


def _wanted(enable: Optional[bool], stream) -> bool:
    if enable is not None:
        return bool(enable)
    env = os.environ.get("EMBER_PROGRESS", "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def progress(iterable: Optional[Iterable] = None, total: Optional[int] = None,
             desc: Optional[str] = None, enable: Optional[bool] = None, leave: bool = False,
             file: Any = None, **kwargs: Any):
    """A tqdm progress bar when output goes to a terminal (or ``enable=True``), else quiet.

    Args:
        iterable: what the loop iterates over (a DataLoader, a range, ...).
        total: number of items (default ``len(iterable)``).
        desc: text before the bar (``"epoch 1/5"``).
        enable: True forces the bar, False silences it, None decides by whether ``file`` is a
            terminal (``EMBER_PROGRESS=1/0`` overrides that choice).
        leave: keep the finished bar on screen.
        file: the stream to draw on (default ``sys.stderr``, like tqdm).
        **kwargs: passed on to ``tqdm`` (``unit``, ``dynamic_ncols``, ``mininterval`` ...).

    Returns:
        A ``tqdm`` bar or a :class:`QuietProgress`; both iterate, ``update``, ``set_postfix``.
    """
    stream = file if file is not None else sys.stderr
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if not _wanted(enable, stream):
        return QuietProgress(iterable, total, desc)
    try:
        from tqdm import tqdm
    except ImportError:
        if enable:
            print("ember.utils.progress: tqdm is not installed (pip install tqdm); no progress "
                  "bar", file=sys.stderr)
        return QuietProgress(iterable, total, desc)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, total=total, desc=desc, leave=leave, file=stream, **kwargs)
