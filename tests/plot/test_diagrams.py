"""Diagrams users look at: causal-loop diagrams stay readable (no overlapping or clipped labels).

Every archetype file and a 30-variable sector of the reference model are
drawn to PNG with both layout engines (Graphviz through pydot, and networkx),
and the rendered figure's text boxes are checked: no two variable labels
overlap, none is cut by the axes or the figure edge, none is smaller than 8
points, and no link runs under a label it does not point at.
"""

from __future__ import annotations

import shutil

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from support import REPO as ROOT

import trafficsys as ts
from trafficsys.plot import cld as plot_cld_module

ARCHETYPES = sorted((ROOT / "models" / "archetypes").glob("*.toml"))
HAS_DOT = shutil.which("dot") is not None and shutil.which("neato") is not None
LAYOUTS = [
    "networkx",
    pytest.param("graphviz", marks=pytest.mark.skipif(not HAS_DOT, reason="Graphviz not installed")),
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def reference_cld():
    return ts.load_default().cld(numeric=False)


def _render(ax, path):
    fig = ax.figure
    fig.savefig(path, dpi=100)
    assert path.stat().st_size > 2000
    return fig.canvas.get_renderer()


def _labels(ax):
    return {t.get_gid().split(":", 1)[1]: t for t in ax.texts if (t.get_gid() or "").startswith("variable:")}


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def assert_readable(ax, renderer, expected: set[str]):
    """Every variable drawn once, legibly, inside the axes and figure, with no two labels overlapping."""
    labels = _labels(ax)
    assert set(labels) == expected
    boxes = {v: t.get_window_extent(renderer) for v, t in labels.items()}
    fig_bb, ax_bb = ax.figure.bbox, ax.get_window_extent(renderer)
    for v, bb in boxes.items():
        assert labels[v].get_fontsize() >= 8, f"{v}: {labels[v].get_fontsize()} pt is too small to read"
        for outer, what in ((fig_bb, "figure"), (ax_bb, "axes")):
            assert outer.x0 - 0.5 <= bb.x0 and bb.x1 <= outer.x1 + 0.5, f"{v} is cut by the {what} edge"
            assert outer.y0 - 0.5 <= bb.y0 and bb.y1 <= outer.y1 + 0.5, f"{v} is cut by the {what} edge"
    names = sorted(boxes)
    clashes = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if _overlap(boxes[a], boxes[b])]
    assert not clashes, f"overlapping labels: {clashes[:5]}"
    # link signs and loop markers sit beside the labels, not on them, and not on each other
    marks = {
        t.get_gid(): t.get_window_extent(renderer)
        for t in ax.texts
        if (t.get_gid() or "").split(":")[0] in ("sign", "loop")
    }
    on_labels = [(g, v) for g, bb in marks.items() for v, lb in boxes.items() if _overlap(bb, lb)]
    assert not on_labels, f"signs or loop markers on labels: {on_labels[:5]}"
    keys = sorted(marks)
    stacked = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1 :] if _overlap(marks[a], marks[b])]
    assert not stacked, f"signs or loop markers on each other: {stacked[:5]}"
    for t in ax.figure.texts:  # title and key
        bb = t.get_window_extent(renderer)
        assert fig_bb.x0 - 0.5 <= bb.x0 and bb.x1 <= fig_bb.x1 + 0.5, f"'{t.get_text()[:40]}' is cut"
        assert fig_bb.y0 - 0.5 <= bb.y0 and bb.y1 <= fig_bb.y1 + 0.5, f"'{t.get_text()[:40]}' is cut"
    return boxes


def links_under_labels(ax, renderer, prefix: str = "link:") -> list[str]:
    """Links (arrows with gid ``PREFIX A->B``) whose drawn curve runs under the label of a variable it does not join."""
    boxes = {v: t.get_window_extent(renderer) for v, t in _labels(ax).items()}
    bad = []
    for p in ax.patches:
        gid = p.get_gid() or ""
        if not gid.startswith(prefix):
            continue
        a, b = gid[len(prefix) :].split("->")
        # an arrow drawn from a path keeps it in data coordinates; straight stretches are filled in
        pts = ax.transData.transform(_dense(p.get_path().to_polygons(closed_only=False)))
        for v, bb in boxes.items():
            if v in (a, b):
                continue
            inside = (pts[:, 0] > bb.x0) & (pts[:, 0] < bb.x1) & (pts[:, 1] > bb.y0) & (pts[:, 1] < bb.y1)
            if inside.any():
                bad.append(f"{a}->{b} under {v}")
    return bad


def _dense(polylines, per_segment: int = 12) -> np.ndarray:
    out = []
    for line in polylines:
        for p, q in zip(line[:-1], line[1:]):
            out.append(p + np.linspace(0, 1, per_segment)[:, None] * (q - p))
    return np.vstack(out)


def test_the_hidden_link_check_can_fail(tmp_path):
    """A link drawn straight through a third label is caught by :func:`links_under_labels`."""
    from matplotlib.patches import FancyArrowPatch

    cld = ts.load(ROOT / "models/archetypes/fixes_that_fail.toml").cld()
    ax = cld.plot(layout="networkx")
    renderer = _render(ax, tmp_path / "check.png")
    assert links_under_labels(ax, renderer) == []
    labels = _labels(ax)
    a, b, c = sorted(labels)
    through = np.array(labels[c].get_position())
    start = ax.transData.inverted().transform(ax.transData.transform(through) + [-200, 0])
    end = ax.transData.inverted().transform(ax.transData.transform(through) + [200, 0])
    ax.add_patch(FancyArrowPatch(start, end, gid=f"link:{a}->{b}"))
    assert links_under_labels(ax, renderer) == [f"{a}->{b} under {c}"]


# ------------------------------------------------------------------------------------------- archetypes
def test_there_are_archetype_files():
    assert len(ARCHETYPES) >= 9


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("path", ARCHETYPES, ids=lambda p: p.stem)
def test_archetype_diagram_is_readable(path, layout, tmp_path):
    cld = ts.load(path).cld()
    ax = cld.plot(layout=layout)
    assert ax.get_gid() in (
        {"cld:networkx"} if layout == "networkx" else {"cld:neato", "cld:dot", "cld:circo"}
    )
    renderer = _render(ax, tmp_path / f"{path.stem}_{layout}.png")
    assert_readable(ax, renderer, set(cld.variables))
    assert links_under_labels(ax, renderer) == []
    signs = [t for t in ax.texts if (t.get_gid() or "").startswith("sign:")]
    assert sorted(t.get_text() for t in signs) == sorted(
        {"+": "+", "-": "\u2212", "?": "?"}[lk.polarity] for lk in cld.links
    )
    delays = {ln.get_gid() for ln in ax.lines if (ln.get_gid() or "").startswith("delay:")}
    assert delays == {f"delay:{lk.source}->{lk.target}" for lk in cld.links if lk.delay}
    key = " ".join(t.get_text() for t in ax.figure.texts).replace("\u00a0", " ")
    assert ("? sign depends" in key) == any(lk.polarity == "?" for lk in cld.links)
    assert ("|| delay" in key) == bool(delays)
    # each loop of an archetype file gets its marker (ids as cld.loops() gives them)
    markers = {t.get_text() for t in ax.texts if (t.get_gid() or "").startswith("loop:")}
    assert markers == {lp.id for lp in cld.loops()}


def test_loop_markers_sit_inside_their_loops():
    """A marker is drawn inside the outline its loop's links draw (here: the fixes-that-fail file)."""
    from matplotlib.path import Path as MPath

    cld = ts.load(ROOT / "models/archetypes/fixes_that_fail.toml").cld()
    ax = cld.plot(layout="networkx")
    links = {p.get_gid()[5:]: p for p in ax.patches if (p.get_gid() or "").startswith("link:")}
    for lp in cld.loops():
        marker = next(t for t in ax.texts if t.get_gid() == f"loop:{lp.id}")
        outline = np.vstack(
            [links[f"{a}->{b}"].get_path().to_polygons(closed_only=False)[0] for a, b in lp.links]
        )
        assert MPath(outline).contains_point(marker.get_position()), f"{lp.id} marker is outside its loop"


def test_sign_colours_read_on_white():
    """The +/- colours have at least the 4.5:1 contrast WCAG asks of text."""

    def luminance(colour):
        c = np.array(to_rgb(colour))
        c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    for polarity, colour in plot_cld_module.LINK_COLOURS.items():
        assert 1.05 / (luminance(colour) + 0.05) >= 4.5, f"'{polarity}' in {colour} is too faint on white"
    # highlighted links are thick and highlighted labels bold: 3:1 is WCAG's bar for large text and graphics
    assert 1.05 / (luminance(plot_cld_module.HIGHLIGHT) + 0.05) >= 3.0


# --------------------------------------------------------------------------------- the reference model
@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_30_variable_sector_of_the_reference_model_is_readable(reference_cld, layout, tmp_path):
    sector = "justice_pipeline"
    expected = {v for v, info in reference_cld.variables.items() if info.get("sector") == sector}
    assert len(expected) >= 30
    ax = reference_cld.plot(sector=sector, layout=layout)
    renderer = _render(ax, tmp_path / f"reference_{sector}_{layout}.png")
    assert_readable(ax, renderer, expected)
    drawn = {p.get_gid()[5:] for p in ax.patches if (p.get_gid() or "").startswith("link:")}
    assert drawn == {
        f"{lk.source}->{lk.target}"
        for lk in reference_cld.links
        if lk.source in expected and lk.target in expected
    }
    # the key explains every mark drawn: this sector has links whose sign depends on the state
    key = " ".join(t.get_text() for t in ax.figure.texts).replace("\u00a0", " ")
    assert any(t.get_text() == "?" for t in ax.texts if (t.get_gid() or "").startswith("sign:"))
    assert "? sign depends on the state" in key


def test_loops_draws_only_their_variables_and_marks_them(reference_cld, tmp_path):
    named = [lp for lp in reference_cld.loops() if lp.name]
    chosen = [named[0].name, named[1].id]
    ax = reference_cld.plot(loops=chosen, layout="networkx")
    renderer = _render(ax, tmp_path / "reference_loops.png")
    assert_readable(ax, renderer, set(named[0].variables) | set(named[1].variables))
    markers = {t.get_gid() for t in ax.texts if (t.get_gid() or "").startswith("loop:")}
    assert {f"loop:{named[0].id}", f"loop:{named[1].id}"} <= markers


def test_highlight_a_loop_an_archetype_and_a_block(reference_cld, tmp_path):
    from trafficsys.analysis.blocks.report import Block

    cld = ts.load(ROOT / "models/archetypes/shifting_the_burden_to_the_intervenor.toml").cld()
    finding = ts.archetypes(cld)[0]
    ax = cld.plot(highlight=finding, layout="networkx")
    _render(ax, tmp_path / "highlight_archetype.png")
    on = {
        p.get_gid()[5:]
        for p in ax.patches
        if (p.get_gid() or "").startswith("link:")
        and to_rgb(p.get_edgecolor()) == to_rgb(plot_cld_module.HIGHLIGHT)
    }
    assert on == {f"{a}->{b}" for lp in finding.loops for a, b in lp.links}
    bold = {v for v, t in _labels(ax).items() if t.get_fontweight() == "bold"}
    assert {v for v in finding.roles.values() if v} <= bold

    loop = reference_cld.loops()[0]
    block = Block(
        kind="capacity_ceiling",
        severity=0.5,
        variables=[loop.variables[0]],
        loops=[{"id": loop.id, "name": "", "polarity": loop.polarity, "variables": list(loop.variables)}],
        evidence={},
        levers=[],
        confidence=0.5,
        explanation="test block",
    )
    ax = reference_cld.plot(loops=[loop], highlight=block, layout="networkx")
    _render(ax, tmp_path / "highlight_block.png")
    on = {
        p.get_gid()[5:]
        for p in ax.patches
        if (p.get_gid() or "").startswith("link:")
        and to_rgb(p.get_edgecolor()) == to_rgb(plot_cld_module.HIGHLIGHT)
    }
    assert on == {f"{a}->{b}" for a, b in loop.links}


def test_plot_on_given_axes_returns_them():
    cld = ts.load(ROOT / "models/archetypes/escalation.toml").cld()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 5))
    assert cld.plot(ax=right, layout="networkx") is right
    assert len(_labels(right)) == len(cld.variables) and not _labels(left)


@pytest.mark.parametrize("backend", ["svg", "pdf"])
def test_diagrams_draw_under_a_vector_only_backend(backend):
    """Labels are measured on an Agg renderer even when pyplot's figures have no renderer of their own."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    model = ts.load(ROOT / "models/examples/exploitation_exit.toml")
    plt.switch_backend(backend)
    try:
        cld_ax = model.cld().plot(layout="networkx")
        sf_ax = model.plot_stock_flow(layout="networkx")
        sizes = [ax.figure.get_size_inches() for ax in (cld_ax, sf_ax)]
        # the drawn figures keep the chosen backend; only the measuring used Agg
        assert not any(isinstance(ax.figure.canvas, FigureCanvasAgg) for ax in (cld_ax, sf_ax))
    finally:
        plt.close("all")
        plt.switch_backend("Agg")
    agg_sizes = [
        ax.figure.get_size_inches()
        for ax in (model.cld().plot(layout="networkx"), model.plot_stock_flow(layout="networkx"))
    ]
    np.testing.assert_allclose(sizes, agg_sizes)  # measured alike, so laid out alike


# ------------------------------------------------------------------------------------- layout engines
def test_auto_layout_falls_back_to_networkx_without_graphviz(monkeypatch):
    from trafficsys.plot import _layout

    monkeypatch.setattr(_layout.shutil, "which", lambda prog: None)
    cld = ts.load(ROOT / "models/archetypes/fixes_that_fail.toml").cld()
    assert cld.plot().get_gid() == "cld:networkx"
    with pytest.raises(ts.ModelError, match="not installed.*apt-get install graphviz.*layout='networkx'"):
        cld.plot(layout="graphviz")


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz not installed")
def test_auto_layout_uses_graphviz_when_installed():
    cld = ts.load(ROOT / "models/archetypes/fixes_that_fail.toml").cld()
    assert cld.plot().get_gid() in {"cld:neato", "cld:dot", "cld:circo"}
    assert cld.plot(layout="dot").get_gid() == "cld:dot"


def test_separate_removes_every_overlap():
    from trafficsys.plot._layout import overlapping, separate

    rng = np.random.default_rng(3)
    pos = {i: tuple(rng.normal(size=2) * 0.3) for i in range(40)}
    pos[40] = pos[0]  # two boxes on the same spot
    sizes = {i: (float(rng.uniform(0.4, 1.6)), float(rng.uniform(0.2, 0.6))) for i in pos}
    assert overlapping(pos, sizes, 0.2)
    assert overlapping(separate(pos, sizes, margin=0.2), sizes, 0.2 - 1e-6) == []


# ------------------------------------------------------------------------------------------ bad input
def test_unknown_loop_sector_or_layout_is_a_clear_error(reference_cld):
    with pytest.raises(ts.ModelError, match="no loop 'replacment'.*did you mean 'replacement'"):
        reference_cld.plot(loops=["replacment"], layout="networkx")
    with pytest.raises(ts.ModelError, match="no sector 'polise'.*police"):
        reference_cld.plot(sector="polise", layout="networkx")
    with pytest.raises(ts.ModelError, match="layout must be one of"):
        reference_cld.plot(loops=["replacement"], layout="spring")
    with pytest.raises(ts.UnknownVariableError, match="no variable 'vulnerabel'"):
        reference_cld.plot(variables=["vulnerabel"], layout="networkx")


# ----------------------------------------------------------------------------------------- command line
def test_loops_plot_writes_a_png_and_keeps_the_overwrite_rule(tmp_path, capsys):
    from trafficsys.cli import main

    model = str(ROOT / "models/archetypes/fixes_that_fail.toml")
    out = tmp_path / "loops.png"
    assert main(["loops", model, "--plot", str(out), "--layout", "networkx"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out} (3 variables)" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(["loops", model, "--plot", str(out)]) == 2  # refused before any work
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert (
        main(["loops", model, "--plot", str(out), "--highlight", "R1", "--force", "--layout", "networkx"])
        == 0
    )
    assert out.read_bytes() != before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "a temporary file was left behind"


def test_loops_plot_draws_the_chosen_loops_or_sector(tmp_path, capsys):
    from trafficsys.cli import main

    out = tmp_path / "part.png"
    argv = ["loops", "--structure-only", "--plot", str(out), "--layout", "networkx"]
    assert main([*argv, "--loop", "replacement", "--loop", "recruiter_replacement"]) == 0
    assert "(5 variables)" in capsys.readouterr().out
    assert main([*argv, "--sector", "police", "--force"]) == 0
    assert "(16 variables)" in capsys.readouterr().out
    assert main([*argv, "--sector", "polise", "--force"]) == 2
    assert "did you mean 'police'" in capsys.readouterr().err
    assert main(["loops", "--loop", "R1"]) == 2
    assert "add --plot FILE" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ stock-flow diagrams
@pytest.fixture(scope="module")
def reference_model():
    return ts.load_default()


def _sector_members(m, sector):
    """The variables a sector drawing shows: the sector's own, and the flows that fill or drain its stocks."""
    members = set(m.sectors[sector].variables)
    flows = {v for v in members if m[v].kind.value == "flow"}
    for s in m.stocks:
        if s.name in members:
            flows |= {f for f in (*s.inflows, *s.outflows)}
    return members, flows


def pipes_under_labels(ax, renderer) -> list[str]:
    """Pipes that run under the label of a variable other than their flow and its two ends."""
    texts = {
        t.get_gid().split(":", 1)[1]: t
        for t in ax.texts
        if (t.get_gid() or "").split(":")[0] in ("variable", "ghost")
    }
    boxes = {v: t.get_window_extent(renderer) for v, t in texts.items()}
    bad = []
    for line in ax.lines:
        gid = line.get_gid() or ""
        if not gid.startswith("pipe:"):
            continue
        f = gid[5:]
        pts = ax.transData.transform(_dense([np.column_stack(line.get_data())]))
        for v, bb in boxes.items():
            if v == f:
                continue
            inside = (
                (pts[:, 0] > bb.x0 + 1)
                & (pts[:, 0] < bb.x1 - 1)
                & (pts[:, 1] > bb.y0 + 1)
                & (pts[:, 1] < bb.y1 - 1)
            )
            if inside.any():
                bad.append(f"{f} under {v}")
    return bad


@pytest.mark.parametrize(
    "sector",
    [
        "budget_and_levers",
        "people",
        "trafficker_network",
        "police",
        "ngo_rescue_and_donors",
        "shelters",
        "reintegration_and_leadership",
        "justice_pipeline",
        "accountability_and_trust",
        "accounting",
    ],
)
def test_each_reference_sector_stock_flow_diagram_is_readable(reference_model, sector, tmp_path):
    m = reference_model
    assert sector in m.sectors
    ax = m.plot_stock_flow(sector=sector)
    renderer = _render(ax, tmp_path / f"stock_flow_{sector}.png")
    members, flows = _sector_members(m, sector)
    own = {t.get_gid()[9:] for t in ax.texts if (t.get_gid() or "").startswith("variable:")}
    ghosts = {t.get_gid()[6:] for t in ax.texts if (t.get_gid() or "").startswith("ghost:")}
    assert own == members
    assert flows - members <= ghosts
    everything = {
        t.get_gid(): t for t in ax.texts if (t.get_gid() or "").split(":")[0] in ("variable", "ghost")
    }
    boxes = {g: t.get_window_extent(renderer) for g, t in everything.items()}
    names = sorted(boxes)
    clashes = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if _overlap(boxes[a], boxes[b])]
    assert not clashes, f"overlapping labels: {clashes[:5]}"
    fig_bb = ax.figure.bbox
    for g, bb in boxes.items():
        assert everything[g].get_fontsize() >= 8
        assert fig_bb.x0 <= bb.x0 and bb.x1 <= fig_bb.x1 and fig_bb.y0 <= bb.y0 and bb.y1 <= fig_bb.y1, (
            f"{g} is cut"
        )
    pipes = {ln.get_gid()[5:] for ln in ax.lines if (ln.get_gid() or "").startswith("pipe:")}
    assert pipes == flows
    assert pipes_under_labels(ax, renderer) == []
    assert links_under_labels(ax, renderer, prefix="info:") == []


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_small_model_stock_flow_diagram_has_clouds_pipes_and_information_links(layout, tmp_path):
    m = ts.load(ROOT / "models/examples/exploitation_exit.toml")
    ax = m.plot_stock_flow(layout=layout)
    renderer = _render(ax, tmp_path / f"stock_flow_example_{layout}.png")
    assert_readable(ax, renderer, set(m.names()))
    flows = {e.name for e in m if e.kind.value == "flow"}
    assert {ln.get_gid()[5:] for ln in ax.lines if (ln.get_gid() or "").startswith("pipe:")} == flows
    info = {p.get_gid()[5:] for p in ax.patches if (p.get_gid() or "").startswith("info:")}
    expected = {
        f"{a}->{e}"
        for e in m.names()
        if m[e].kind.value not in ("stock", "constant")
        for a in m.dependencies(e)
        if a in m
    }
    assert info == expected
    assert pipes_under_labels(ax, renderer) == []
    assert links_under_labels(ax, renderer, prefix="info:") == []


def test_stock_flow_errors_and_given_axes(reference_model):
    cld_only = ts.load(ROOT / "models/archetypes/escalation.toml")
    with pytest.raises(ts.ModelError, match="no stocks.*m.cld\\(\\).plot\\(\\)"):
        cld_only.plot_stock_flow()
    with pytest.raises(ts.ModelError, match="no sector 'polise'.*did you mean 'police'"):
        reference_model.plot_stock_flow(sector="polise")
    fig, ax = plt.subplots(figsize=(8, 5))
    assert reference_model.plot_stock_flow(ax=ax, sector="police", layout="networkx") is ax


def test_highlight_a_block_that_find_blocks_reports(tmp_path):
    m = ts.load(ROOT / "models/blocks/burden_shift.toml")
    block = ts.find_blocks(m, target=m.metadata["target"], n=8, seed=1).blocks[0]
    assert block.loops, "the planted burden shift comes with its loops"
    cld = m.cld()
    ax = cld.plot(highlight=block)
    renderer = _render(ax, tmp_path / "block.png")
    assert_readable(
        ax, renderer, {v for v in cld.variables if any(v in (lk.source, lk.target) for lk in cld.links)}
    )
    on = {
        p.get_gid()[5:]
        for p in ax.patches
        if (p.get_gid() or "").startswith("link:")
        and to_rgb(p.get_edgecolor()) == to_rgb(plot_cld_module.HIGHLIGHT)
    }
    loop_links = {
        f"{a}->{b}"
        for lp in block.loops
        for a, b in zip(lp["variables"], lp["variables"][1:] + lp["variables"][:1])
    }
    assert on == loop_links
    bold = {v for v, t in _labels(ax).items() if t.get_fontweight() == "bold"}
    assert set(block.variables) <= bold


def test_a_sector_shows_every_flow_of_its_stocks_and_their_other_ends_as_ghosts():
    m = ts.Model("two_sectors", stop=1)
    m.constant("k", 0.1)
    m.stock("a", initial=10, outflows=["move"])
    m.stock("b", initial=0, inflows=["move"], outflows=["leave"])
    m.flow("move", "k * a")
    m.flow("leave", "k * b")
    m.sector("first", ["a", "k"])
    m.sector("second", ["b", "move", "leave"])
    ax = m.plot_stock_flow(sector="first", layout="networkx")
    assert {ln.get_gid() for ln in ax.lines if (ln.get_gid() or "").startswith("pipe:")} == {"pipe:move"}
    gids = {t.get_gid() for t in ax.texts if t.get_gid() and ":" in t.get_gid()}
    assert gids == {"variable:a", "variable:k", "ghost:move", "ghost:b"}
    ax = m.plot_stock_flow(sector="second", layout="networkx")
    pipes = {ln.get_gid() for ln in ax.lines if (ln.get_gid() or "").startswith("pipe:")}
    assert pipes == {"pipe:move", "pipe:leave"}
    assert "ghost:a" in {t.get_gid() for t in ax.texts}
