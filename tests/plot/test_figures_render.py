"""Every figure kind, drawn for the reference model, renders to PNG with its text readable.

Set ``TRAFFICSYS_FIGURES=folder`` to keep the PNGs (to look at them); by
default they go to a temporary folder.  Each figure is saved with a plain
``savefig`` (no ``bbox_inches``), and every visible text (titles, axis labels,
tick labels, legend entries, annotations) must lie inside the figure and not
overlap another.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from support import REPO

import trafficsys as ts

ROOT = REPO


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    keep = os.environ.get("TRAFFICSYS_FIGURES")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep)
    return tmp_path_factory.mktemp("figures")


@pytest.fixture(scope="module")
def ref():
    m = ts.load_default()
    base = ts.simulate(m)
    survivor = ts.simulate(m, scenario="survivor_led")
    return {
        "model": m,
        "base": base,
        "survivor": survivor,
        "ensemble": ts.monte_carlo(m, n=12, seed=1),
        "comparison": ts.compare(m, n=24, seed=1),
        "dominance": ts.loop_dominance(m, survivor),
        # the base run: two loops peak at about the same time and height (their ids once overlapped)
        "base dominance": ts.loop_dominance(m, base),
        "ensemble dominance": ts.loop_dominance(m, ts.monte_carlo(m, n=6, seed=1, scenario="survivor_led")),
    }


def _undrawn_ticks(fig):
    """Tick labels matplotlib keeps but does not draw: their tick lies outside the axis' view."""
    out = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            span = (hi - lo) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - span <= tick.get_loc() <= hi + span:
                    out.update((id(tick.label1), id(tick.label2)))
    return out


def _texts(fig):
    """Every text of the figure a reader sees: visible, non-empty and drawn."""
    hidden = _undrawn_ticks(fig)
    out = []
    for t in fig.findobj(matplotlib.text.Text):
        if t.get_visible() and t.get_text().strip() and id(t) not in hidden:
            if t.axes is not None and not t.axes.get_visible():
                continue
            out.append(t)
    return out


def _clash(a, b, renderer) -> bool:
    """Whether two texts whose boxes overlap really collide.

    Slanted labels have boxes much larger than their glyphs; two parallel
    one-line labels collide when their baselines are closer than a line's
    height, measured across the writing direction.
    """
    import numpy as np

    ra, rb = a.get_rotation() % 180, b.get_rotation() % 180
    if ra == 0 or ra != rb or "\n" in a.get_text() or "\n" in b.get_text():
        return True
    theta = np.deg2rad(ra)
    normal = np.array([-np.sin(theta), np.cos(theta)])
    pa = a.get_transform().transform(a.get_unitless_position())
    pb = b.get_transform().transform(b.get_unitless_position())
    height = max(a.get_fontsize(), b.get_fontsize()) * a.get_figure().dpi / 72
    return abs(float(np.dot(pb - pa, normal))) < height


def _check_readable(fig, path: Path) -> None:
    fig.savefig(path)  # at the figure's own dpi, so the measured boxes are the drawn ones
    assert path.stat().st_size > 5000
    r = fig.canvas.get_renderer()
    fb = fig.bbox
    texts = _texts(fig)
    boxes = []
    for t in texts:
        bb = t.get_window_extent(r)
        assert bb.x0 >= fb.x0 - 1 and bb.y0 >= fb.y0 - 1 and bb.x1 <= fb.x1 + 1 and bb.y1 <= fb.y1 + 1, (
            f"{path.name}: {t.get_text()[:60]!r} is cut off by the figure's edge"
        )
        assert t.get_fontsize() >= 8, f"{path.name}: {t.get_text()[:40]!r} is too small to read"
        boxes.append(bb.shrunk(0.98, 0.9))  # glyph padding: touching lines are not overlapping
    clashes = [
        (a.get_text()[:40], b.get_text()[:40])
        for i, a in enumerate(texts)
        for j, b in enumerate(texts)
        if i < j and boxes[i].overlaps(boxes[j]) and _clash(a, b, r)
    ]
    assert not clashes, f"{path.name}: overlapping text {clashes[:5]}"


FIGURES = {
    "runs": lambda d: d["base"].plot(["in_exploitation", "cumulative_re_trafficked"]).figure,
    "runs_overlay": lambda d: (
        d["base"].plot("in_exploitation", compare={"survivor_led": d["survivor"]}).figure
    ),
    "runs_panels": lambda d: __import__("trafficsys.plot.runs", fromlist=["x"]).runs_figure(
        {"baseline": d["base"], "survivor_led": d["survivor"]},
        ["in_exploitation", "police_capacity", "survivor_trust", "cases_convicted"],
    ),
    "ensemble_fan": lambda d: d["ensemble"].plot_fan("in_exploitation").figure,
    "ensemble_runs": lambda d: d["ensemble"].plot(["in_exploitation"]).figure,
    "compare_paired": lambda d: d["comparison"].plot().figure,
    "compare_levels": lambda d: d["comparison"].plot(kind="levels").figure,
    "compare_figure": lambda d: d["comparison"].figure(),
    "compare_pairwise": lambda d: (
        __import__("trafficsys.plot.compare", fromlist=["x"]).plot_pairwise(d["comparison"]).figure
    ),
    "compare_regions": lambda d: (
        __import__("trafficsys.plot.compare", fromlist=["x"])
        .plot_regions(d["comparison"], "survivor_led", "baseline")
        .figure
    ),
    "dominance": lambda d: d["dominance"].plot().figure,
    "dominance_base": lambda d: d["base dominance"].plot().figure,
    "dominance_shares": lambda d: d["ensemble dominance"].plot_shares().figure,
}


@pytest.mark.parametrize("kind", sorted(FIGURES))
def test_figure_renders_readably(kind, ref, out_dir):
    fig = FIGURES[kind](ref)
    try:
        _check_readable(fig, out_dir / f"{kind}.png")
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    "method,options", [("elasticity", {}), ("morris", {"trajectories": 4}), ("sobol", {"n": 8})]
)
def test_sensitivity_figures(method, options, ref, out_dir):
    from trafficsys.analysis import sensitivity

    m = ref["model"]
    constants = [
        "base_recruitment_rate",
        "police_detection_per_officer",
        "cost_per_rescue",
        "donor_reward_per_rescue",
        "market_demand_for_victims",
        "trafficker_replacement_rate",
    ]
    constants = [c for c in constants if c in m][:5]
    extra = {"seed": 1, **options} if method != "elasticity" else {}
    res = sensitivity(m, "cumulative_exploitation_years", method=method, constants=constants, **extra)
    fig = res.plot().figure
    try:
        _check_readable(fig, out_dir / f"sensitivity_{method}.png")
    finally:
        plt.close(fig)


def test_blocks_figures(out_dir):
    planted = ts.load(ROOT / "models" / "blocks" / "capacity_ceiling.toml")
    rep = ts.find_blocks(planted, planted.metadata["target"], n=8, seed=1)
    assert rep.blocks
    for name, fig in (("blocks", rep.plot().figure), ("block_evidence", rep.blocks[0].plot().figure)):
        try:
            _check_readable(fig, out_dir / f"{name}.png")
        finally:
            plt.close(fig)


def test_blocks_that_differ_only_in_their_lever_say_which(out_dir):
    """The reference model's congestion of witness support shows once per lever it holds back: rows must differ."""
    from types import SimpleNamespace

    from trafficsys.analysis.blocks.report import Block, LeverEffect
    from trafficsys.plot.blocks import block_labels, plot_blocks

    where = ["share_total", "spend_witness_support", "witness_support_places", "convictions"]

    def block(lever, severity):
        return Block(
            kind="congestion",
            severity=severity,
            variables=list(where),
            loops=[],
            evidence={},
            levers=[LeverEffect(name=lever, value=0.3, elasticity=-0.1, effect=-10.0, share_positive=0.0)],
            confidence=0.2,
            explanation="",
            prevalence=0.5,
        )

    blocks = [block("share_ngo_rescue", 0.3), block("share_ngo_shelter", 0.2), block("share_audits", 0.1)]
    labels = block_labels(blocks)
    assert len(set(labels)) == 3 and "lever: share ngo shelter" in labels[1]
    assert block_labels(blocks[:1]) == [labels[0].rsplit("\n", 1)[0]]  # a single block needs no lever line
    report = SimpleNamespace(blocks=blocks, n=8, _heading=lambda: "three congestion blocks")
    fig = plot_blocks(report).figure
    try:
        _check_readable(fig, out_dir / "blocks_told_apart.png")
    finally:
        plt.close(fig)


def test_dominance_names_the_top_loops_legibly(ref):
    """The top loops are told apart by name or distinguishing variables; the others stay a faint background."""
    import numpy as np
    from matplotlib.colors import to_rgba

    dom = ref["dominance"]
    ax = dom.plot(top=6)
    try:
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        loop_labels, others = labels[:-1], labels[-1]
        assert others.endswith("other loops")
        assert len(set(loop_labels)) == len(loop_labels) == 6
        # loops through a big model share long stretches: cut to a legend's width, their paths all read alike;
        # without the ids, every label must still differ within its first 60 characters
        assert len({lb.split(None, 1)[1][:60] for lb in loop_labels}) == 6
        by_id = {lp.id: lp for lp in dom.loops}
        for lb in loop_labels:
            lp = by_id[lb.split()[0].rstrip(":")]
            if lp.name:
                assert lp.name.replace("_", " ") in lb
        # polarity colours: warm for reinforcing, cool for balancing
        for line, lb in zip(ax.get_lines()[:-1], loop_labels):  # [-1] is the zero line
            r, g, b, _ = to_rgba(line.get_color())
            assert (r > b) == (by_id[lb.split()[0].rstrip(":")].polarity == "R"), lb
        band = [c for c in ax.collections if c.get_label() == others][0]
        rgba = band.get_facecolor()[0]
        assert np.mean(rgba[:3]) > 0.7 and rgba[3] <= 0.6  # light and translucent
    finally:
        plt.close(ax.figure)
