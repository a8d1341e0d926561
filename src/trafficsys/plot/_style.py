"""Shared readability settings of the library figures: font sizes and number formats.

matplotlib is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import textwrap
from typing import Any

__all__ = [
    "FONT",
    "SMALL",
    "thousands",
    "distinct_labels",
    "use_thousands",
    "wrap",
    "new_axes",
    "chars_across",
]

#: body text of a figure (axis labels, tick labels) in points; 10 pt stays legible at 100 % zoom
FONT = 10
#: secondary text (legends, cell annotations)
SMALL = 9


def thousands(x: float, pos: Any = None) -> str:
    """Tick label with thousands separators for big numbers (``450,000``), short form for small ones."""
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.6g}"


def distinct_labels(values: Any) -> list[str]:
    """Tick labels by :func:`thousands`, with as many decimals as it takes to tell the ticks apart.

    A nearly constant big quantity (a stock that moves by a fraction of a unit around 2,133) otherwise
    gets the same label on every tick.
    """
    labels = [thousands(v) for v in values]
    for decimals in range(1, 10):
        if len(set(labels)) == len(labels):
            break
        labels = [f"{v:,.{decimals}f}" if abs(v) >= 1000 else f"{v:.{6 + decimals}g}" for v in values]
    return labels


def use_thousands(axis: Any) -> None:
    """Give a matplotlib Axis (``ax.xaxis``/``ax.yaxis``) tick labels with thousands separators."""
    from matplotlib.ticker import Formatter

    class _Thousands(Formatter):
        def __call__(self, x, pos=None):
            return thousands(x)

        def format_ticks(self, values):
            return distinct_labels(values)

    axis.set_major_formatter(_Thousands())


def wrap(text: str, width: int = 70) -> str:
    """Break a long title onto several lines so that it fits the figure's width."""
    return "\n".join(textwrap.wrap(text, width)) or text


def new_axes(figsize: tuple[float, float]):
    """Make a figure with constrained layout (titles, labels and outside legends survive a plain savefig)."""
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def chars_across(ax, fontsize: float = FONT + 1) -> int:
    """About how many characters of ``fontsize`` fit across the Axes (to wrap its title before it spills over)."""
    fig = ax.figure
    inches = ax.get_position().width * fig.get_figwidth()
    return max(20, int(inches * 72 / (0.6 * fontsize)))
