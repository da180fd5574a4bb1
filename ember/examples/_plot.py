"""Training-curve plots: matplotlib when installed, else a small built-in PNG line plot."""
from __future__ import annotations

from typing import Sequence

import numpy as np

# A 3x5 bitmap font, just enough for axis numbers and the panel names.
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001010010010", "8": "111101111101111",
    "9": "111101111001111", ".": "000000000000010", "%": "101001010100101",
    "L": "100100100100111", "O": "111101101101111", "S": "111100111001111",
    "A": "010101111101101", "C": "111100100100111", "T": "111010010010010",
    "E": "111100111100111", "R": "110101110101101", "N": "101111111111101",
    "I": "111010010010111", " ": "000000000000000", "-": "000000111000000",
    "/": "001001010100100", ":": "000010000010000", "P": "110101110100100",
    "H": "101101111101101",
}
_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]


def _text(canvas: np.ndarray, x: int, y: int, text: str, scale: int = 2,
          color=(0, 0, 0)) -> None:
    for k, ch in enumerate(text.upper()):
        bits = _GLYPHS.get(ch, _GLYPHS[" "])
        for i, b in enumerate(bits):
            if b == "1":
                r, c = divmod(i, 3)
                top, left = y + r * scale, x + (k * 4 + c) * scale
                canvas[top:top + scale, left:left + scale] = color


def _line(canvas: np.ndarray, x0, y0, x1, y1, color) -> None:
    n = int(max(abs(x1 - x0), abs(y1 - y0))) * 2 + 1
    xs = np.linspace(x0, x1, n).round().astype(int)
    ys = np.linspace(y0, y1, n).round().astype(int)
    for dx in (0, 1):  # two pixels wide so the curve reads at a glance
        canvas[np.clip(ys, 0, canvas.shape[0] - 1),
               np.clip(xs + dx, 0, canvas.shape[1] - 1)] = color


def _panel(canvas: np.ndarray, left: int, top: int, width: int, height: int, title: str,
           series: Sequence[Sequence[float]]) -> None:
    canvas[top, left:left + width] = 0
    canvas[top + height, left:left + width] = 0
    canvas[top:top + height, left] = 0
    canvas[top:top + height + 1, left + width] = 0
    _text(canvas, left, top - 16, title)
    values = np.concatenate([np.asarray(s, float) for s in series if len(s)])
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12:
        hi = lo + 1.0
    _text(canvas, left + 4, top + 4, f"{hi:.4g}")
    _text(canvas, left + 4, top + height - 14, f"{lo:.4g}")
    for k, s in enumerate(series):
        s = np.asarray(s, float)
        if len(s) == 0:
            continue
        xs = left + 6 + np.arange(len(s)) * (width - 12) / max(len(s) - 1, 1)
        ys = top + height - 6 - (s - lo) / (hi - lo) * (height - 12)
        color = _COLORS[k % len(_COLORS)]
        if len(s) == 1:
            canvas[int(ys[0]) - 2:int(ys[0]) + 3, int(xs[0]) - 2:int(xs[0]) + 3] = color
        for i in range(len(s) - 1):
            _line(canvas, xs[i], ys[i], xs[i + 1], ys[i + 1], color)


def plot_curves(path: str, train_loss: Sequence[float], test_loss: Sequence[float],
                test_acc: Sequence[float]) -> str:
    """Write a two-panel PNG: losses (train, test) and test accuracy per epoch.

    Returns which backend drew it ("matplotlib" or "builtin").
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    epochs = np.arange(1, len(test_acc) + 1)
    if plt is not None:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
        ax1.plot(np.arange(1, len(train_loss) + 1), train_loss, "o-", label="train")
        ax1.plot(epochs, test_loss, "o-", label="test")
        ax1.set_xlabel("epoch")
        ax1.set_ylabel("loss")
        ax1.legend()
        ax2.plot(epochs, test_acc, "o-", color="tab:green")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("test accuracy (%)")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return "matplotlib"
    from ..vision._png import write_png
    canvas = np.full((300, 640, 3), 255, np.uint8)
    _panel(canvas, 20, 40, 280, 230, "LOSS", [train_loss, test_loss])
    _panel(canvas, 340, 40, 280, 230, "TEST ACC %", [test_acc])
    _text(canvas, 20, 280, "EPOCH 1-" + str(len(test_acc)))
    _text(canvas, 200, 280, "TRAIN", color=_COLORS[0])
    _text(canvas, 250, 280, "TEST", color=_COLORS[1])
    write_png(path, canvas)
    return "builtin"
