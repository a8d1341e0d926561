"""Figures of sensitivity results: tornado for elasticities, bars for Morris and Sobol."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._style import FONT, SMALL, new_axes, use_thousands, wrap

__all__ = ["plot_sensitivity"]

#: confidence-interval whiskers: thin and grey, so they do not hide the bars they belong to
_ERR = {"ecolor": "0.35", "elinewidth": 1, "capsize": 2}


def plot_sensitivity(result: Any, ax=None, *, top: int | None = 15):
    """Plot a :class:`~trafficsys.analysis.SensitivityResult`.

    Elasticities as a tornado (largest effect on top, blue raises the metric,
    red lowers it); Morris ``mu*`` with its confidence interval and ``sigma``;
    Sobol first-order and total indices side by side with confidence intervals.

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = result.ranked()
    if top:
        table = table.head(top)
    table = table.iloc[::-1]  # largest at the top of a horizontal bar chart
    if ax is None:
        ax = new_axes((8, 0.45 * len(table) + 2.2))
    y = np.arange(len(table))
    names = [str(i) for i in table.index]
    if result.method == "elasticity":
        v = table["elasticity"].values
        ax.barh(y, v, color=np.where(v >= 0, "C0", "C3"))
        ax.axvline(0, color="0.2", lw=0.8)
        ax.set_xlabel(
            wrap(f"elasticity of {result.metric}", 60) + "\n% change per 1 % change of the constant"
            "\n(blue raises it, red lowers it)",
            fontsize=FONT,
        )
    elif result.method == "morris":
        ax.barh(
            y - 0.2,
            table["mu_star"],
            0.4,
            xerr=table["mu_star_conf"],
            color="C0",
            label="μ* (influence)",
            error_kw=_ERR,
        )
        ax.barh(y + 0.2, table["sigma"], 0.4, color="C1", label="σ (interactions, non-linearity)")
        ax.set_xlabel(
            wrap(f"Morris elementary effects on {result.metric}", 60)
            + "\n(error bar: 95 % confidence interval of μ*)",
            fontsize=FONT,
        )
        ax.legend(fontsize=SMALL, loc="lower right")  # bars shrink downwards: the corner is free
    else:
        ax.barh(
            y + 0.2,
            table["S1"],
            0.4,
            xerr=table["S1_conf"],
            color="C0",
            label="first order S1",
            error_kw=_ERR,
        )
        ax.barh(y - 0.2, table["ST"], 0.4, xerr=table["ST_conf"], color="C2", label="total ST", error_kw=_ERR)
        ax.axvline(0, color="0.2", lw=0.8)
        ax.set_xlabel(
            wrap(f"Sobol indices of {result.metric} (share of variance)", 60) + "\n"
            "(error bars: 95 % confidence intervals)",
            fontsize=FONT,
        )
        ax.legend(fontsize=SMALL, loc="lower right")  # bars shrink downwards: the corner is free
    ax.set_yticks(y, names, fontsize=FONT)
    ax.tick_params(axis="x", labelsize=FONT)
    use_thousands(ax.xaxis)
    ax.set_title(f"{result.method.capitalize()} sensitivity ({result.runs:,} runs)", fontsize=FONT + 1)
    return ax
