"""Figures of loop dominance: relative loop scores over time, and ensemble dominance shares.

The few loops that matter most are drawn one by one, coloured by polarity
(reinforcing in warm colours, balancing in cool ones) and labelled by the
model's name for them or, for unnamed loops, by the variables that set them
apart from the other loops shown; all other loops together are a faint grey
background, not a band that hides the rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._style import FONT, SMALL, new_axes, wrap

__all__ = ["plot_dominance", "plot_dominance_shares", "loop_labels", "polarity_colors"]

#: warm colours for reinforcing loops, cool ones for balancing loops (colour-blind-safe families)
REINFORCING = ["#b2182b", "#e66101", "#8c510a", "#d6604d", "#bf812d", "#f1a340"]
BALANCING = ["#2166ac", "#1b7837", "#762a83", "#4393c3", "#5aae61", "#9970ab"]
OTHERS = "0.82"


def _time_label(result: Any) -> str:
    units = getattr(result, "time_units", "") or ""
    return f"time ({units})" if units and units != "time" else "time"


def _competing_partition(result: Any, partition: int | None) -> int:
    if partition is not None:
        return partition
    comp = [lp.partition for lp in result.loops if lp.competing]
    return comp[0] if comp else (result.loops[0].partition if result.loops else 0)


def polarity_colors(loops: Sequence[Any]) -> list[str]:
    """Pick a colour per loop: the next warm colour for each reinforcing loop, the next cool one for each balancing."""
    counts = {"R": 0, "B": 0}
    out = []
    for lp in loops:
        pol = "R" if lp.polarity == "R" else "B" if lp.polarity == "B" else "?"
        if pol == "?":
            out.append("0.45")
            continue
        palette = REINFORCING if pol == "R" else BALANCING
        out.append(palette[counts[pol] % len(palette)])
        counts[pol] += 1
    return out


def loop_labels(loops: Sequence[Any], *, width: int = 95, distinct: int = 3) -> list[str]:
    """Short readable labels: ``B52 deterrence`` for a named loop, the rarest variables for the others.

    Loops through a big model share long stretches (``in exploitation ->
    police identification -> case registration -> ...``), so their paths cut
    to a legend's width all look alike.  An unnamed loop is labelled by its
    id, length and the ``distinct`` variables that occur in the fewest of the
    other loops given (in the loop's own order), which tells them apart.
    """
    seen = Counter(v for lp in loops for v in set(lp.variables))
    out = []
    for lp in loops:
        if getattr(lp, "name", ""):
            text = f"{lp.id} {lp.name.replace('_', ' ')}"
        elif len(lp.variables) <= distinct:
            text = f"{lp.id}: " + " → ".join(v.replace("_", " ") for v in (*lp.variables, lp.variables[0]))
        else:
            rare = sorted(lp.variables, key=lambda v: (seen[v], lp.variables.index(v)))[:distinct]
            keep = [v for v in lp.variables if v in rare]
            text = f"{lp.id} ({len(lp.variables)} links) via " + ", ".join(v.replace("_", " ") for v in keep)
        out.append(text if len(text) <= width else text[: width - 1] + "…")
    return out


def plot_dominance(result: Any, ax=None, *, run: int = 0, partition: int | None = None, top: int = 6):
    """Relative loop scores of one partition over time: the ``top`` loops as lines, the others as a grey haze.

    Parameters
    ----------
    result
        A :class:`~trafficsys.analysis.LoopDominance`.
    ax
        Axes to draw on (a new figure when None).
    run
        Which run of an ensemble.
    partition
        Which cycle partition (default: the first with competing loops).
    top
        Draw the ``top`` most influential loops (mean absolute relative
        score in this run) as labelled lines; all others together are a
        faint grey area (reinforcing above zero, balancing below).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        ax = new_axes((11, 6))
    p = _competing_partition(result, partition)
    members = [k for k, lp in enumerate(result.loops) if lp.partition == p]
    t = result.time
    rel_all = result.relative.isel(run=run).values[:, members]
    influence = np.abs(rel_all).mean(axis=0)
    order = np.argsort(-influence, kind="stable")
    shown, rest = order[:top], order[top:]
    loops = [result.loops[members[j]] for j in shown]
    if len(rest):
        up = np.clip(rel_all[:, rest], 0, None).sum(axis=1)
        down = np.clip(rel_all[:, rest], None, 0).sum(axis=1)
        ax.fill_between(t, 0, up, color=OTHERS, alpha=0.55, lw=0, label=f"{len(rest)} other loops")
        ax.fill_between(t, down, 0, color=OTHERS, alpha=0.55, lw=0)
    styles = ["-", "--", "-.", ":"]
    peaks = []
    for i, (j, lp, color, label) in enumerate(zip(shown, loops, polarity_colors(loops), loop_labels(loops))):
        y = rel_all[:, j]
        ax.plot(t, y, color=color, lw=2.2, ls=styles[(i // 2) % len(styles)], label=label)
        k = int(np.argmax(np.abs(y)))  # the loop's id where it matters most: the lines can be told apart
        peaks.append((lp.id, t[k], y[k], color))
    ax.axhline(0, color="0.2", lw=0.8)
    ax.set_ylim(-1.08, 1.08)
    ax.set_xlabel(_time_label(result), fontsize=FONT)
    ax.set_ylabel("relative loop score\n(+ reinforcing, − balancing)", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.grid(alpha=0.25)
    stocks = result.partitions[p] if result.partitions else ()
    where = ", ".join(s.replace("_", " ") for s in stocks[:4]) + (
        f" and {len(stocks) - 4} more stocks" if len(stocks) > 4 else ""
    )
    ax.set_title(
        wrap(
            f"Which loops drive behaviour (Loops that Matter): the {len(shown)} strongest of "
            f"{len(members)} loops through {where}",
            95,
        ),
        fontsize=FONT + 1,
    )
    ax.text(
        0.995,
        0.985,
        "reinforcing (warm colours)",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=SMALL,
        color=REINFORCING[0],
    )
    ax.text(
        0.995,
        0.015,
        "balancing (cool colours)",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=SMALL,
        color=BALANCING[0],
    )
    # below the axes in one column: full labels, none covering the lines
    handles, labels = ax.get_legend_handles_labels()
    if len(rest):  # drawn first (behind the lines), listed last
        handles, labels = handles[1:] + handles[:1], labels[1:] + labels[:1]
    ax.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.13),
        fontsize=SMALL,
        frameon=False,
        ncols=2 if len(shown) > 6 and max(map(len, labels)) <= 60 else 1,
    )
    _label_peaks(ax, peaks)
    return ax


def _label_peaks(ax, peaks) -> None:
    """Write each loop's id at its peak; a label that would cover one already written moves away from zero.

    Two loops often peak at about the same time and height (their ids were drawn on top of each
    other); the figure's layout is settled first, so the measured boxes are the drawn ones.
    """
    from ._geometry import measuring_renderer

    fig = ax.figure
    canvas = fig.canvas  # a vector-only backend's canvas is lent to Agg for measuring, then given back
    try:
        renderer = measuring_renderer(fig)
        fig.draw_without_rendering()
        _place_peak_labels(ax, peaks, renderer)
    finally:
        if fig.canvas is not canvas:
            fig.set_canvas(canvas)


def _place_peak_labels(ax, peaks, renderer) -> None:
    placed: list[Any] = []
    for name, x, y, color in peaks:
        up = y >= 0
        ann = ax.annotate(
            name,
            (x, y),
            xytext=(0, 6 if up else -12),
            textcoords="offset points",
            ha="center",
            fontsize=SMALL,
            color=color,
            fontweight="bold",
        )
        for step in range(1, 12):
            box = ann.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
            ann.xyann = (0, (6 + 10 * step) if up else (-12 - 10 * step))
        placed.append(ann.get_window_extent(renderer))


def plot_dominance_shares(result: Any, ax=None, *, window: float | None = None, top: int = 8):
    """Share of ensemble runs in which each competing loop dominates, per time window (stacked).

    The ``top`` loops that dominate most often are drawn one by one in their
    polarity's colours and labelled by name (or their distinguishing
    variables); the others as one faint grey band on top.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        ax = new_axes((11, 5.5))
    shares = result.shares(window=window)
    if shares.empty:
        ax.text(0.5, 0.5, "no competing loops", ha="center", va="center", transform=ax.transAxes)
        return ax
    rest = None
    if shares.shape[1] > top:
        # a legend of hundreds of loops hides the chart: the ``top`` loops that dominate most, the rest in grey
        keep = shares.sum().sort_values(ascending=False).index[:top]
        rest = (f"{shares.shape[1] - top} other loops", shares.drop(columns=keep).sum(axis=1))
        shares = shares[keep]
    by_id = {lp.id: lp for lp in result.loops}
    loops = [by_id[c] for c in shares.columns]
    t = shares.index.values
    width = np.diff(t).min() if len(t) > 1 else 1.0
    bottom = np.zeros(len(t))
    for col, color, label in zip(shares.columns, polarity_colors(loops), loop_labels(loops)):
        ax.bar(
            t,
            shares[col].values,
            width=width,
            bottom=bottom,
            align="edge",
            color=color,
            label=label,
            edgecolor="white",
            linewidth=0.5,
        )
        bottom += shares[col].values
    if rest is not None:
        ax.bar(
            t,
            rest[1].values,
            width=width,
            bottom=bottom,
            align="edge",
            color=OTHERS,
            label=rest[0],
            edgecolor="white",
            linewidth=0.5,
            alpha=0.6,
        )
        bottom += rest[1].values
    ax.set_ylim(0, max(1.0, bottom.max()) * 1.02)
    ax.set_xlabel(_time_label(result), fontsize=FONT)
    ax.set_ylabel("share of runs in which\nthe loop dominates", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.set_title(
        f"Dominant loops across {result.relative.sizes['run']} runs "
        "(reinforcing in warm colours, balancing in cool ones)",
        fontsize=FONT + 1,
    )
    labels = ax.get_legend_handles_labels()[1]
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        fontsize=SMALL,
        frameon=False,
        ncols=2 if max(map(len, labels)) <= 60 else 1,
    )  # long labels in two columns overflow the figure
    return ax
