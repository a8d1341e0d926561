"""Figures of simulation results: variables over time, scenario overlays and ensemble fan charts.

A single run draws a line per variable; an ensemble (a ``run`` dimension with
more than one run) draws a fan: the median, the middle 50% and the middle 90%
of the runs at each time.  Several results (one per scenario) can be overlaid:
one colour per scenario, one line style per variable.

matplotlib is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..io.output import save_figure
from ._style import FONT, SMALL, new_axes, use_thousands, wrap

__all__ = ["plot_runs", "plot_fan", "runs_figure", "FAN_BANDS"]

#: the two bands of a fan chart, as (low, high) percentiles: the middle 50% and the middle 90% of the runs
FAN_BANDS = ((25.0, 75.0), (5.0, 95.0))
_STYLES = ["-", "--", ":", "-."]
_SCENARIO_COLORS = ["#4d4d4d", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]


def _as_mapping(results: Any) -> dict[str, Any]:
    """One Results or a mapping label -> Results, as a mapping (a single one is labelled by its scenario)."""
    if isinstance(results, Mapping):
        return dict(results)
    label = results.ds.attrs.get("scenario") or "base case"
    return {str(label): results}


def _default_variables(results: Any) -> list[str]:
    kinds = {k: results.ds[k].attrs.get("kind") for k in results.variables}
    return [k for k, v in kinds.items() if v == "stock"][:6] or results.variables[:6]


def _label(results: Any, name: str) -> str:
    m = results.model
    return m[name].name if m is not None and name in m else name


def _units(results: Any, name: str) -> str:
    return str(results[name].attrs.get("units") or "")


def _time_label(results: Any) -> str:
    units = results.ds.attrs.get("time_units", "") or ""
    return f"time ({units})" if units and units != "time" else "time"


def _fan(ax: Any, t: np.ndarray, values: np.ndarray, color: str, label: str, style: str = "-") -> None:
    """Median line and the 50% / 90% bands of ``values`` (time x run)."""
    (lo90, hi90), (lo50, hi50) = FAN_BANDS[1], FAN_BANDS[0]
    q = np.nanpercentile(values, [lo90, lo50, 50, hi50, hi90], axis=1)
    ax.fill_between(t, q[0], q[4], color=color, alpha=0.15, lw=0)
    ax.fill_between(t, q[1], q[3], color=color, alpha=0.35, lw=0)
    ax.plot(t, q[2], color=color, lw=2, ls=style, label=label)


def plot_runs(
    results: Any,
    variables: str | Sequence[str] | None = None,
    ax: Any = None,
    *,
    run: int | None = None,
    title: str | None = None,
):
    """Plot variables over time for one or several results (scenario overlays).

    Parameters
    ----------
    results
        A :class:`~trafficsys.Results`, or a mapping ``label -> Results``
        (e.g. ``{"baseline": r0, "survivor led": r1}``) drawn one colour per
        label on the same axes.
    variables
        Names to draw (default: the stocks, at most six).
    ax
        Axes to draw on (a new figure when None).
    run
        Draw only this run of an ensemble; by default an ensemble is drawn as
        a fan chart (:func:`plot_fan`'s median and 50% / 90% bands).
    title
        Title (default: the model and scenario names).

    Returns
    -------
    matplotlib.axes.Axes
        The y axis is labelled with the variables' units when they share
        them; otherwise each legend entry carries its variable's units.
    """
    sets = _as_mapping(results)
    first = next(iter(sets.values()))
    if variables is None:
        variables = _default_variables(first)
    elif isinstance(variables, str):
        variables = [variables]
    variables = [first._key(v) for v in variables]
    if ax is None:
        ax = new_axes((9, 4.8))
    units = {_units(first, v) for v in variables}
    shared_units = units.pop() if len(units) == 1 else None
    ensemble = False
    for i, (label, res) in enumerate(sets.items()):
        color_of_set = _SCENARIO_COLORS[i % len(_SCENARIO_COLORS)]
        for j, name in enumerate(variables):
            da = res[name]
            if run is not None and "run" in da.dims:
                da = da.isel(run=run)
            values = np.asarray(da.values, dtype=float)
            if "time" not in da.dims:  # a constant: the same value at every time
                values = np.broadcast_to(values.reshape(1, -1), (len(res.time), values.size))
            values = values.reshape(len(res.time), -1)
            # one set: a colour per variable; several: a colour per set and a line style per variable
            color = color_of_set if len(sets) > 1 else f"C{j % 10}"
            style = _STYLES[j % len(_STYLES)] if len(sets) > 1 else "-"
            text = _label(res, name).replace("_", " ")
            if shared_units is None and _units(res, name):
                text += f" [{_units(res, name)}]"
            if len(sets) > 1:
                text = f"{label.replace('_', ' ')}: {text}"
            if values.shape[1] > 1:
                ensemble = True
                _fan(ax, res.time, values, color, text, style)
            else:
                ax.plot(res.time, values[:, 0], color=color, ls=style, lw=2, label=text)
    ax.set_xlabel(_time_label(first), fontsize=FONT)
    if shared_units:
        ax.set_ylabel(shared_units, fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    use_thousands(ax.yaxis)
    ax.grid(alpha=0.3)
    if title is None:
        a = first.ds.attrs
        title = str(a.get("model", ""))
        if len(sets) == 1 and a.get("scenario"):
            title += f", scenario {a['scenario']}"
        if ensemble:
            n = max(int(r.runs) for r in sets.values())
            title += f": median, middle 50% and 90% of {n:,} runs"
    ax.set_title(wrap(title, 90), fontsize=FONT + 1)
    # beside the axes: inside them the legend covers lines and bands
    ax.legend(fontsize=SMALL, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_fan(results: Any, variable: str, ax: Any = None, *, color: str = "C0"):
    """Fan chart of one variable of an ensemble: median, middle 50% and middle 90% of the runs over time.

    Returns the Axes (a new figure when ``ax`` is None); the y axis carries the
    variable's units and the legend says what each band holds.
    """
    name = results._key(variable)
    if ax is None:
        ax = new_axes((8, 4.5))
    values = np.asarray(results[name].values, dtype=float).reshape(len(results.time), -1)
    t = results.time
    (lo90, hi90), (lo50, hi50) = FAN_BANDS[1], FAN_BANDS[0]
    q = np.nanpercentile(values, [lo90, lo50, 50, hi50, hi90], axis=1)
    n = values.shape[1]
    ax.fill_between(
        t, q[0], q[4], color=color, alpha=0.15, lw=0, label=f"{lo90:g}th-{hi90:g}th percentile (90% of runs)"
    )
    ax.fill_between(
        t, q[1], q[3], color=color, alpha=0.35, lw=0, label=f"{lo50:g}th-{hi50:g}th percentile (50% of runs)"
    )
    ax.plot(t, q[2], color=color, lw=2, label="median")
    units = _units(results, name)
    label = _label(results, name).replace("_", " ")
    ax.set_ylabel(f"{label}\n({units})" if units else label, fontsize=FONT)
    ax.set_xlabel(_time_label(results), fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    use_thousands(ax.yaxis)
    ax.grid(alpha=0.3)
    ax.set_title(f"{label}: fan chart of {n:,} runs", fontsize=FONT + 1)
    ax.legend(fontsize=SMALL, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def runs_figure(
    results: Any, variables: Sequence[str] | None = None, path: str | None = None, *, max_panels: int = 9
):
    """One panel per variable over time, each with its own units and scale; scenarios overlaid in colour.

    ``results`` is a Results or a mapping ``label -> Results`` (scenario
    overlays).  Variables of different size (a million vulnerable people and
    a thousand officers) each keep a readable axis.  An ensemble draws fans.
    Returns the Figure; writes it when ``path`` is given.
    """
    import matplotlib.pyplot as plt

    sets = _as_mapping(results)
    first = next(iter(sets.values()))
    names = [first._key(v) for v in (variables or _default_variables(first))][:max_panels]
    cols = 1 if len(names) == 1 else 2 if len(names) <= 4 else 3
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(5.2 * cols + 1.5, 3.3 * rows + 0.6), layout="constrained", squeeze=False
    )
    for ax, name in zip(axes.flat, names):
        plot_runs(sets, [name], ax=ax, title=_label(first, name).replace("_", " "))
        units = _units(first, name)
        ax.set_ylabel(units or "(no units)", fontsize=FONT)
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    # one legend for the figure: the scenarios (and what a fan's bands hold)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    labels = [lb.split(":")[0] if len(sets) > 1 else lb for lb in labels]
    a = first.ds.attrs
    what = (
        ", ".join(s.replace("_", " ") for s in sets) if len(sets) > 1 else (a.get("scenario") or "base case")
    )
    ens = max(int(r.runs) for r in sets.values())
    note = (
        f"; lines: median, bands: middle 50% and 90% of {ens:,} runs" if ens > 1 and run_is_fan(sets) else ""
    )
    fig.suptitle(f"{a.get('model', '')}: {what}{note}", fontsize=FONT + 3)
    if len(sets) > 1:
        fig.legend(
            handles, labels, loc="outside lower center", ncols=min(len(sets), 5), fontsize=FONT, frameon=False
        )
    if path is not None:
        save_figure(fig, path, dpi=110)
    return fig


def run_is_fan(sets: Mapping[str, Any]) -> bool:
    """Tell whether any of the results is an ensemble (drawn as fans)."""
    return any(int(r.runs) > 1 for r in sets.values())
