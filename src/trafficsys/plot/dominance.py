"""Figures of loop dominance: relative loop scores over time, and ensemble dominance shares."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._style import FONT, SMALL, new_axes, wrap

__all__ = ["plot_dominance", "plot_dominance_shares"]


def _time_label(result: Any) -> str:
    units = getattr(result, "time_units", "") or ""
    return f"time ({units})" if units and units != "time" else "time"


def _competing_partition(result: Any, partition: int | None) -> int:
    if partition is not None:
        return partition
    comp = [lp.partition for lp in result.loops if lp.competing]
    return comp[0] if comp else (result.loops[0].partition if result.loops else 0)


def plot_dominance(result: Any, ax=None, *, run: int = 0, partition: int | None = None, top: int = 8):
    """Stacked relative loop scores of one partition over time (reinforcing above zero, balancing below).

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
        Draw the ``top`` most influential loops (mean absolute relative score
        in this run) one by one and the rest as one grey band.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        ax = new_axes((11, 5.5))
    p = _competing_partition(result, partition)
    members = [k for k, lp in enumerate(result.loops) if lp.partition == p]
    t = result.time
    rel_all = result.relative.isel(run=run).values[:, members]
    influence = np.abs(rel_all).mean(axis=0)
    order = np.argsort(-influence, kind="stable")
    shown, rest = order[:top], order[top:]
    rel = rel_all[:, shown]
    labels = []
    for j in shown:
        lp = result.loops[members[j]]
        text = lp.name or " → ".join(lp.variables + lp.variables[:1])
        labels.append(f"{lp.id}: {text if len(text) < 70 else text[:67] + '...'}")
    colors = [f"C{i % 10}" for i in range(len(shown))]
    if len(rest):
        rel = np.column_stack([rel, np.clip(rel_all[:, rest], 0, None).sum(axis=1),
                               np.clip(rel_all[:, rest], None, 0).sum(axis=1)])
        labels += [f"{len(rest)} other loops", "_nolegend_"]
        colors += ["0.75", "0.75"]
    pos, neg = np.clip(rel, 0, None), np.clip(rel, None, 0)
    if pos.any():
        ax.stackplot(t, pos.T, colors=colors, alpha=0.85, labels=labels)
    if neg.any():
        ax.stackplot(t, neg.T, colors=colors, alpha=0.85, labels=() if pos.any() else labels)
    ax.axhline(0, color="0.2", lw=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel(_time_label(result), fontsize=FONT)
    ax.set_ylabel("relative loop score\n(+ reinforcing, − balancing)", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    stocks = result.partitions[p] if result.partitions else ()
    where = ", ".join(stocks[:4]) + (f" and {len(stocks) - 4} more" if len(stocks) > 4 else "")
    ax.set_title(wrap(f"Loop dominance (Loops that Matter), partition {p}: {where}", 90), fontsize=FONT + 1)
    # below the axes, in columns: a legend to the right of the axes takes the width the data need
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, fontsize=SMALL, frameon=False)
    return ax


def plot_dominance_shares(result: Any, ax=None, *, window: float | None = None, top: int = 9):
    """Share of ensemble runs in which each competing loop dominates, per time window (stacked).

    The ``top`` loops that dominate most often are drawn one by one, the others
    as one grey band.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        ax = new_axes((10, 5))
    shares = result.shares(window=window)
    if shares.empty:
        ax.text(0.5, 0.5, "no competing loops", ha="center", va="center", transform=ax.transAxes)
        return ax
    if shares.shape[1] > top:
        # a legend of hundreds of loops hides the chart: the ``top`` loops that dominate most, the rest in grey
        keep = shares.sum().sort_values(ascending=False).index[:top]
        rest = shares.drop(columns=keep).sum(axis=1)
        shares = shares[keep].assign(**{f"{shares.shape[1] - top} other loops": rest})
    t = shares.index.values
    width = np.diff(t).min() if len(t) > 1 else 1.0
    bottom = np.zeros(len(t))
    for i, col in enumerate(shares.columns):
        color = "0.75" if i >= top else f"C{i % 10}"
        ax.bar(t, shares[col].values, width=width, bottom=bottom, align="edge", color=color,
               label=col, edgecolor="white", linewidth=0.5)
        bottom += shares[col].values
    ax.set_ylim(0, max(1.0, bottom.max()) * 1.02)
    ax.set_xlabel(_time_label(result), fontsize=FONT)
    ax.set_ylabel("share of runs in which\nthe loop dominates", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.set_title(f"Dominant loops across {result.relative.sizes['run']} runs", fontsize=FONT + 1)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, fontsize=SMALL, frameon=False)
    return ax
