"""Figures of a :class:`~trafficsys.analysis.blocks.BlocksReport`: how severe each block is, and how often it holds.

matplotlib is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._style import FONT, SMALL, chars_across, new_axes, wrap

__all__ = ["plot_blocks", "plot_block_evidence", "block_labels", "KIND_COLORS"]

#: one colour per block kind (the report's legend reads the kind from the colour and the label)
KIND_COLORS = {
    "capacity_ceiling": "#1b9e77",
    "policy_resistance": "#d95f02",
    "delay_attrition": "#7570b3",
    "congestion": "#e7298a",
    "burden_shift": "#66a61e",
    "eroded_cooperation": "#e6ab02",
    "missing_accountability": "#a6761d",
    "disconnected_lever": "#666666",
}


def _where(block: Any, n: int = 2) -> str:
    vs = [v.replace("_", " ") for v in block.variables[:n]]
    return ", ".join(vs) + (f" +{len(block.variables) - n}" if len(block.variables) > n else "")


def block_labels(blocks: Any) -> list[str]:
    """Label each block's row with its kind and where it sits, told apart from the others.

    Blocks of one kind on the same variables differ in the lever they hold back (the reference
    model's congestion of witness support shows once for each of three levers); those say which.
    """
    from collections import Counter

    rows = [f"{b.title}\n{_where(b)}" for b in blocks]
    seen = Counter(rows)
    out = []
    for row, b in zip(rows, blocks):
        if seen[row] > 1 and b.levers:
            row += f"\nlever: {b.levers[0].name.replace('_', ' ')}"
        out.append(row)
    return out


def plot_blocks(report: Any, ax: Any = None, *, top: int = 12):
    """Severity of the ``top`` blocks as bars, with how often each holds; returns the Axes.

    Each row is one block (most severe at the top), labelled with its kind
    and where it sits.  The light bar is the share of sampled futures in
    which the block holds (its prevalence); the solid bar inside it is the
    severity (prevalence x strength).  The confidence (share of the evidence
    resting on cited figures) is written at the end of each row.
    """
    blocks = list(report.blocks[:top])
    if ax is None:
        ax = new_axes((10, 1.6 + 0.55 * max(len(blocks), 1)))
    if not blocks:
        ax.text(
            0.5,
            0.5,
            "no systemic block holds in most sampled futures",
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=FONT,
        )
        ax.set_axis_off()
        ax.set_title(wrap(report._heading(), chars_across(ax)), fontsize=FONT + 1)
        return ax
    ys = np.arange(len(blocks))[::-1]
    for y, b in zip(ys, blocks):
        color = KIND_COLORS.get(b.kind, "0.4")
        ax.barh(y, b.prevalence, height=0.7, color=color, alpha=0.25, lw=0)
        ax.barh(y, b.severity, height=0.45, color=color)
        ax.text(
            max(b.prevalence, b.severity) + 0.01,
            y,
            f"confidence {b.confidence:.2f}",
            va="center",
            fontsize=SMALL,
            color="0.25",
        )
    ax.set_yticks(ys, [f"{i}. {lb}" for i, lb in enumerate(block_labels(blocks), 1)], fontsize=SMALL)
    ax.set_xlim(0, 1.22)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel(
        "solid bar: severity (share of futures x strength)\n"
        f"light bar: share of the {report.n} sampled futures in which the block holds",
        fontsize=FONT,
    )
    ax.tick_params(axis="x", labelsize=FONT)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(wrap(report._heading(), chars_across(ax)), fontsize=FONT + 1)
    if len(report.blocks) > top:
        ax.text(
            1.0,
            -0.02,
            f"... and {len(report.blocks) - top} more (report.to_pandas())",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=SMALL,
            color="0.3",
        )
    return ax


def _evidence_label(e: Any) -> str:
    """Label a piece of evidence: its name, then its median over the futures on a second line."""
    if isinstance(e.value, str):
        return wrap(f"{e.name}: {e.value}", 45)
    value = f"{e.value:,.3g}" + (f" {e.unit}" if e.unit else "")
    return wrap(e.name, 45) + f"\n(median {value})"


def plot_block_evidence(block: Any, ax: Any = None):
    """Share of sampled futures in which each piece of a block's evidence holds; returns the Axes.

    Structural facts (true in every future, no share) are listed under the
    bars with their values.
    """
    items = list(block.evidence.values())
    shared = [e for e in items if np.isfinite(e.holds)]
    facts = [e for e in items if not np.isfinite(e.holds)]
    if ax is None:
        ax = new_axes((9, 1.8 + 0.45 * max(len(shared), 1) + 0.25 * len(facts)))
    color = KIND_COLORS.get(block.kind, "0.4")
    ys = np.arange(len(shared))[::-1]
    ax.barh(ys, [e.holds for e in shared], color=color, height=0.6)
    for y, e in zip(ys, shared):
        ax.text(e.holds + 0.01, y, f"{100 * e.holds:.0f}%", va="center", fontsize=SMALL)
    ax.set_yticks(ys, [_evidence_label(e) for e in shared], fontsize=SMALL)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("share of sampled futures in which the evidence holds", fontsize=FONT)
    ax.tick_params(axis="x", labelsize=FONT)
    where = ", ".join(v.replace("_", " ") for v in block.variables[:4])
    ax.set_title(wrap(f"{block.title}: {where}", chars_across(ax)), fontsize=FONT + 1)
    if facts:
        ax.text(
            0,
            -0.3,
            "\n".join(wrap(f"structural: {e}", 110) for e in facts),
            transform=ax.transAxes,
            va="top",
            fontsize=SMALL,
            color="0.25",
        )
    return ax
