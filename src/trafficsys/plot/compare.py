"""Figures for a strategy comparison (:class:`~trafficsys.scenarios.Comparison`).

matplotlib is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelError
from ..io.output import save_figure
from ._style import FONT, SMALL, chars_across, use_thousands, wrap

__all__ = [
    "plot_paired",
    "plot_metric",
    "plot_fan",
    "plot_pairwise",
    "plot_regions",
    "comparison_figure",
    "strategy_colors",
    "paired_improvement",
]

_PALETTE = ["#4d4d4d", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]


def strategy_colors(strategies: list[str]) -> dict[str, str]:
    """One fixed colour per strategy, the reference (first) in grey."""
    return {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(strategies)}


def paired_improvement(comparison, metric: str, strategy: str) -> np.ndarray:
    """Improvement of ``strategy`` over the reference in each sampled future (positive is better; NaN dropped)."""
    mt = comparison.metrics[metric]
    with np.errstate(invalid="ignore"):
        d = mt.sign() * (
            comparison.values[metric][strategy] - comparison.values[metric][comparison.reference]
        )
    return d[np.isfinite(d)]


def plot_paired(comparison, metric: str | None = None, ax: Any = None):
    """Each strategy's improvement over the reference in the same sampled future; returns the Axes.

    The strategies run on the same futures (common random numbers), so the
    spread they share cancels in the difference: one row per strategy with the
    median (dot), the middle 50% (thick bar) and the middle 90% (thin bar) of
    its paired improvements, and the share of futures in which it does better
    than the reference.  Right of zero is better whatever the metric's
    direction.
    """
    from ._style import new_axes

    metric = comparison._metric(metric)
    mt = comparison.metrics[metric]
    others = [s for s in comparison.strategies if s != comparison.reference]
    if ax is None:
        ax = new_axes((8, 1.9 + 0.65 * len(others)))
    colors = strategy_colors(comparison.strategies)
    ys = np.arange(len(others))[::-1]  # the first strategy at the top
    ticks = []
    for y, s in zip(ys, others):
        d = paired_improvement(comparison, metric, s)
        name = s.replace("_", " ")
        if d.size == 0:
            ticks.append(f"{name}\n(no paired values)")
            continue
        p5, p25, med, p75, p95 = np.percentile(d, [5, 25, 50, 75, 95])
        ax.plot([p5, p95], [y, y], color=colors[s], lw=2, alpha=0.6, solid_capstyle="butt")
        ax.plot([p25, p75], [y, y], color=colors[s], lw=9, alpha=0.75, solid_capstyle="butt")
        ax.plot([med], [y], "o", color="white", ms=7, mec=colors[s], mew=2)
        better = float(np.mean(d > 0))
        ticks.append(f"{name}\nbetter in {better:.0%} of futures")
    ax.axvline(0, color="0.15", lw=1)
    ax.set_yticks(ys)
    ax.set_yticklabels(ticks, fontsize=FONT)
    ax.set_ylim(-0.6, len(others) - 0.4)
    verb = "reduction" if mt.better == "lower" else "gain"
    ref = comparison.reference.replace("_", " ")
    ax.set_title(
        wrap(
            f"{mt.label}: {verb} against {ref} in the same future ({comparison.n} futures)", chars_across(ax)
        ),
        fontsize=FONT + 1,
    )
    ax.set_xlabel(
        f"{verb} ({mt.units}); right of 0: better than {ref}\ndot: median; bars: middle 50% and 90% (5–95%)",
        fontsize=FONT,
    )
    ax.tick_params(axis="x", labelsize=FONT)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    use_thousands(ax.xaxis)
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_metric(comparison, metric: str, ax: Any = None):
    """Median (dot) and 5-95% interval (bar) of one metric per strategy; returns the Axes."""
    from ..scenarios.comparison import INTERVAL
    from ._style import new_axes

    if ax is None:
        ax = new_axes((6, 1.6 + 0.5 * len(comparison.strategies)))
    t = comparison.table
    mt = comparison.metrics[metric]
    colors = strategy_colors(comparison.strategies)
    lo_col, hi_col = [c for c in t.columns if c.startswith("p") and c != "median"][:2]
    ys = np.arange(len(comparison.strategies))[::-1]
    for y, s in zip(ys, comparison.strategies):
        row = t.loc[(metric, s)]
        med, lo, hi = row["median"], row[lo_col], row[hi_col]
        if not np.isfinite(med):
            ax.text(
                0.02, y, "n/a", va="center", transform=ax.get_yaxis_transform(), fontsize=SMALL, color="0.4"
            )
            continue
        hi_plot = hi if np.isfinite(hi) else med
        ax.plot([lo, hi_plot], [y, y], color=colors[s], lw=3, alpha=0.45, solid_capstyle="butt")
        if not np.isfinite(hi):
            ax.annotate(
                "",
                xy=(med * 1.15 if med > 0 else med + 1, y),
                xytext=(med, y),
                arrowprops={"arrowstyle": "->", "color": colors[s]},
            )
        ax.plot([med], [y], "o", color=colors[s], ms=6)
    ax.set_yticks(ys)
    ax.set_yticklabels([s.replace("_", " ") for s in comparison.strategies], fontsize=FONT)
    arrow = "lower is better" if mt.better == "lower" else "higher is better"
    ax.set_title(f"{metric.replace('_', ' ')} ({arrow})", fontsize=FONT + 1)
    ax.set_xlabel(
        f"{mt.units}\ndot: median, bar: {INTERVAL[0]:g}–{INTERVAL[1]:g}% of {comparison.n} futures",
        fontsize=FONT,
    )
    ax.tick_params(axis="x", labelsize=FONT)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # "450,000" is wide: fewer ticks, none overlapping
    use_thousands(ax.xaxis)
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_fan(comparison, variable: str | None = None, ax: Any = None, paired: bool = False):
    """Median and middle 50% over time of a kept trajectory, one colour per strategy; returns the Axes.

    ``variable`` defaults to the first trajectory the comparison kept (see
    ``trajectories`` in :func:`trafficsys.compare`).

    (Only the middle half: several strategies' 90% bands overlap into one
    blur; :func:`trafficsys.plot.runs.plot_fan` draws both bands of one.)

    With ``paired=True`` each strategy's path is shown minus the reference's in
    the same sampled future (common random numbers), which removes the spread
    the strategies share.
    """
    from ._style import new_axes

    own = ax is None
    if own:
        ax = new_axes((10, 4.5))
    if variable is None:
        variable = next(iter(next(iter(comparison.trajectories.values()), {})), None)
        if variable is None:
            raise ModelError(
                "the comparison kept no time paths to draw; run compare(..., trajectories=[...])"
            )
    colors = strategy_colors(comparison.strategies)
    t = comparison.time
    ref = comparison.trajectories.get(comparison.reference, {}).get(variable) if paired else None
    for s in comparison.strategies:
        y = comparison.trajectories.get(s, {}).get(variable)
        if y is None:
            continue
        if ref is not None:
            y = y - ref
        lo, med, hi = np.percentile(y, [25, 50, 75], axis=1)
        ax.fill_between(t, lo, hi, color=colors[s], alpha=0.15, lw=0)
        ax.plot(t, med, color=colors[s], lw=2, label=s.replace("_", " "))
    ax.set_xlabel(
        f"time ({comparison.time_units})" if getattr(comparison, "time_units", "") else "year", fontsize=FONT
    )
    what = variable.replace("_", " ")
    if ref is not None:
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_ylabel(f"{what}\nminus {comparison.reference} (same future)", fontsize=FONT)
        ax.set_title(
            f"{what}, paired difference from {comparison.reference}: median and middle 50% over "
            f"{comparison.n} futures",
            fontsize=FONT + 1,
        )
    else:
        ax.set_ylabel(what, fontsize=FONT)
        ax.set_title(f"{what}: median and middle 50% over {comparison.n} futures", fontsize=FONT + 1)
    if own:  # right of the axes: inside them it covers the bands
        ax.legend(fontsize=SMALL, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    else:  # in a caller's layout (the comparison figure) keep the width; a translucent box shows the bands
        ax.legend(fontsize=SMALL, loc="best", framealpha=0.6)
    ax.tick_params(labelsize=FONT)
    use_thousands(ax.yaxis)
    ax.grid(alpha=0.3)
    return ax


def plot_pairwise(comparison, metric: str | None = None, ax: Any = None):
    """Heat map of P(row strategy beats column strategy); returns the Axes."""
    from ._style import new_axes

    if ax is None:
        ax = new_axes((5.5, 5))
    p = comparison.prob_beats(metric)
    arr = p.to_numpy(dtype=float)
    im = ax.imshow(np.ma.masked_invalid(arr), cmap="RdBu", vmin=0, vmax=1)
    names = [s.replace("_", " ") for s in p.index]
    ax.set_xticks(range(len(names)))
    ax.set_yticks(range(len(names)))
    # slanted one-line column names: side by side, several strategies' names run into each other
    ax.set_xticklabels(names, fontsize=SMALL, rotation=35, ha="right", rotation_mode="anchor")
    ax.set_yticklabels([wrap(n, 14) for n in names], fontsize=SMALL)
    for i in range(arr.shape[0]):
        for j in range(arr.shape[1]):
            if np.isfinite(arr[i, j]):
                ax.text(
                    j,
                    i,
                    f"{arr[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=SMALL,
                    color="white" if abs(arr[i, j] - 0.5) > 0.3 else "black",
                )
    ax.set_title(
        f"P(row beats column)\n{(metric or comparison.primary).replace('_', ' ')}", fontsize=FONT + 1
    )
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=SMALL)
    return ax


def plot_regions(
    comparison,
    a: str,
    b: str,
    x: str | None = None,
    y: str | None = None,
    metric: str | None = None,
    ax: Any = None,
):
    """Where ``a`` beats ``b``: the sampled futures over two uncertain constants, coloured by the winner.

    ``x`` and ``y`` default to the two constants that decide the pair most
    (:meth:`~trafficsys.scenarios.Comparison.drivers`).  Returns the Axes.
    """
    from ._style import new_axes

    if ax is None:
        ax = new_axes((7, 5.5))
    metric = metric or comparison.primary
    if x is None or y is None:
        top = list(comparison.drivers(a, b, metric, top=2).index)
        x, y = (x or top[0]), (y or top[1])
    mt = comparison.metrics[metric]
    va, vb = comparison.values[metric][a], comparison.values[metric][b]
    wins = (va > vb) if mt.better == "higher" else (va < vb)
    xs, ys = comparison.samples[x].to_numpy(), comparison.samples[y].to_numpy()
    colors = strategy_colors(comparison.strategies)
    ax.scatter(
        xs[~wins],
        ys[~wins],
        s=14,
        color=colors[b],
        alpha=0.7,
        lw=0,
        label=f"{b.replace('_', ' ')} better ({np.mean(~wins):.0%})",
    )
    ax.scatter(
        xs[wins],
        ys[wins],
        s=16,
        color=colors[a],
        alpha=0.9,
        lw=0,
        label=f"{a.replace('_', ' ')} better ({np.mean(wins):.0%})",
    )
    ax.set_xlabel(x, fontsize=FONT)
    ax.set_ylabel(y, fontsize=FONT)
    ax.set_title(
        f"{metric.replace('_', ' ')}: where {a.replace('_', ' ')} beats {b.replace('_', ' ')}\n"
        f"({comparison.n} sampled futures, same sample for both)",
        fontsize=FONT + 1,
    )
    # below the axes: inside them it would cover sampled futures
    ax.legend(fontsize=SMALL, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2)
    ax.tick_params(labelsize=FONT)
    use_thousands(ax.xaxis)
    use_thousands(ax.yaxis)
    return ax


def comparison_figure(comparison, path: str | None = None):
    """Draw the comparison at a glance, led by the paired differences against the reference.

    Top: each strategy's improvement over the reference in the same future on
    the primary metric, with the share of futures improved, beside the
    pairwise probabilities.  Middle: the paired difference of the kept
    trajectory over time, beside the primary metric's levels.  Bottom: the
    paired improvements on three more indicators.  Returns the Figure; writes
    a PNG (or any format matplotlib knows by the suffix) when ``path`` is given.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(17, 13.5), layout="constrained")
    gs = fig.add_gridspec(3, 3, height_ratios=[1.15, 1, 1])
    plot_paired(comparison, comparison.primary, ax=fig.add_subplot(gs[0, :2]))
    plot_pairwise(comparison, None, ax=fig.add_subplot(gs[0, 2]))
    kept = next(iter(next(iter(comparison.trajectories.values()), {})), None)
    if kept is not None:
        plot_fan(comparison, kept, ax=fig.add_subplot(gs[1, :2]), paired=comparison.reference is not None)
    plot_metric(comparison, comparison.primary, ax=fig.add_subplot(gs[1, 2]))
    panels = [m for m in comparison.panels if m in comparison.metrics and m != comparison.primary]
    panels += [m for m in comparison.metrics if m not in panels and m != comparison.primary]
    for k, metric in enumerate(panels[:3]):
        plot_paired(comparison, metric, ax=fig.add_subplot(gs[2, k]))
    ref = (comparison.reference or "").replace("_", " ")
    fig.suptitle(
        f"{comparison.model_name}: {len(comparison.strategies)} strategies over the same "
        f"{comparison.n} sampled futures; each strategy against {ref} in the same future "
        "(dot: median, bars: middle 50% and 5–95%)",
        fontsize=FONT + 3,
    )
    if path is not None:
        save_figure(fig, path, dpi=110)
    return fig
