"""Draw a causal-loop diagram: signed curved links, delay marks, loop markers, highlights.

The drawing is one inch to the data unit: every label is measured first, the
boxes are laid out (Graphviz through pydot when installed, networkx
otherwise, see :mod:`trafficsys.plot._layout`) so that no two overlap, and the
figure is sized to hold them at their measured size.  Links are quadratic
curves clipped at the label boxes, so no arrow runs under a label it does
not point at when another bend avoids it.

A diagram of 200 variables is unreadable whole: draw a part of it with
``loops=`` (only the variables on those loops), ``variables=`` or ``sector=``
(the variables the model file groups in that sector).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import ModelError, UnknownVariableError
from ..model.names import canonical, suggest
from ._geometry import Curve, Rect, frame_text, free_spot, measuring_renderer, wrap_to_width
from ._layout import layout_boxes

__all__ = ["plot_cld", "LINK_COLOURS", "HIGHLIGHT"]

#: colour of the sign at a link's head, by polarity (readable on white, told apart without colour by the glyph)
LINK_COLOURS = {"+": "#1f5fa8", "-": "#c0392b", "?": "#6b6b6b"}
#: colour of highlighted links, variables and loop markers
HIGHLIGHT = "#d55e00"
_LINK = "#3d3d3d"
_FADED = "#b9b9b9"
_FADED_SIGN = "#8a8a8a"  # a faded sign must still be read: about 3.5:1 on white
_GLYPH = {"+": "+", "-": "\u2212", "?": "?"}
#: below this many loops in the drawing, every loop gets a marker; above it, named and chosen loops only
_MARK_ALL_BELOW = 9
_PAD = 0.05  # inches between a label's text and its box edge
_MARKER_R = 0.19  # radius of a loop marker, inches (ids of up to 3 characters; longer ones get more room)


def _marker_radius(lp) -> float:
    return _MARKER_R if len(lp.id) <= 3 else _MARKER_R + 0.035 * (len(lp.id) - 3) + 0.03


# ------------------------------------------------------------------------------------ choosing what to draw
def _resolve_loops(cld, items: Iterable[Any], all_loops: list) -> list:
    """Loops from Loop objects, ids (``"R1"``) or names the model file gives them."""
    from ..cld.loop_search import Loop

    by_key: dict[str, Any] = {}
    for lp in all_loops:
        by_key[lp.id.lower()] = lp
        if lp.name:
            by_key[canonical(lp.name)] = lp
    out = []
    for it in items:
        if isinstance(it, Loop):
            out.append(it)
            continue
        if isinstance(it, dict) and "variables" in it:  # a block's loop summary
            out.append(_loop_by_variables(cld, it["variables"], all_loops, it.get("id")))
            continue
        key = str(it)
        lp = by_key.get(key.lower()) or by_key.get(canonical(key))
        if lp is None:
            known = [lp.id for lp in all_loops[:6]] + [lp.name for lp in all_loops if lp.name][:6]
            raise ModelError(
                f"no loop {key!r} in the diagram{suggest(key, by_key)}; name a loop by its id "
                f"or its name (e.g. {', '.join(known)}), or pass the Loop objects of cld.loops()",
                file=cld.file,
            )
        out.append(lp)
    return out


def _loop_by_variables(cld, variables, all_loops, loop_id=None):
    from ..cld.loop_search import Loop, loop_polarity

    vs = tuple(canonical(v) for v in variables)
    links = [(vs[i], vs[(i + 1) % len(vs)]) for i in range(len(vs))]
    for lp in all_loops:  # the same loop whichever variable the list starts at
        if lp.length == len(vs) and set(lp.links) == set(links):
            return lp
    for a, b in links:
        if not cld.has_link(a, b):
            raise ModelError(f"loop {' -> '.join(vs)}: the diagram has no link {a} -> {b}", file=cld.file)
    signs = tuple(cld.polarity(a, b) for a, b in links)
    pol = loop_polarity(signs)
    return Loop(
        loop_id or ("U" if pol == "?" else pol) + "?",  # not among the enumerated loops: no number
        pol,
        vs,
        signs,
        tuple(cld.delayed(a, b) for a, b in links),
    )


def _highlight_parts(cld, highlight, all_loops) -> tuple[set[str], set[tuple[str, str]], list]:
    """Variables, links and loops to highlight, from a loop, an archetype match or finding, a block, names."""
    from ..cld.loop_search import Loop

    if highlight is None:
        return set(), set(), []
    items = highlight if isinstance(highlight, list | tuple | set | frozenset) else [highlight]
    variables: set[str] = set()
    loops: list = []
    for it in items:
        if isinstance(it, Loop) or isinstance(it, dict) and "variables" in it:
            loops += _resolve_loops(cld, [it], all_loops)
        elif hasattr(it, "loops") and hasattr(it, "roles"):  # ArchetypeMatch, ArchetypeFinding
            loops += list(it.loops)
            for v in it.roles.values():
                vs = v if isinstance(v, tuple | list) else [v]
                variables |= {canonical(x) for x in vs if x}
        elif hasattr(it, "variables") and hasattr(it, "loops"):  # a systemic Block
            variables |= {canonical(v) for v in it.variables}
            loops += [_loop_by_variables(cld, lp["variables"], all_loops, lp.get("id")) for lp in it.loops]
        elif isinstance(it, str):
            key = canonical(it)
            if key in cld.variables:
                variables.add(key)
            else:
                loops += _resolve_loops(cld, [it], all_loops)
        else:
            raise ModelError(
                f"highlight: expected a loop, a loop id or name, a variable name, an archetype "
                f"match, a block or a list of these, got {type(it).__name__}",
                file=cld.file,
            )
    links = {lk for lp in loops for lk in lp.links}
    for lp in loops:
        variables |= set(lp.variables)
    return variables, links, loops


def _chosen_variables(cld, loops_, variables, sector) -> set[str] | None:
    keep: set[str] | None = None
    if loops_ is not None:
        keep = {v for lp in loops_ for v in lp.variables}
    if variables is not None:
        vs = {canonical(v) for v in variables}
        unknown = sorted(vs - set(cld.variables))
        if unknown:
            raise UnknownVariableError(
                f"no variable '{unknown[0]}' in the diagram{suggest(unknown[0], cld.variables)}",
                file=cld.file,
                variable=unknown[0],
            )
        keep = vs if keep is None else keep | vs
    if sector is not None:
        sectors = sorted({info.get("sector") for info in cld.variables.values() if info.get("sector")})
        vs = {v for v, info in cld.variables.items() if info.get("sector") == sector}
        if not vs:
            have = f"its sectors: {', '.join(sectors)}" if sectors else "the model file declares no [sectors]"
            raise ModelError(f"no sector {sector!r} in the diagram ({have})", file=cld.file)
        keep = vs if keep is None else keep | vs
    return keep


# ------------------------------------------------------------------------------------------------- drawing
def _label_text(cld, v: str, width: int) -> str:
    text = cld.label(v).replace("_", " ")
    return "\n".join(textwrap.wrap(text, width, break_long_words=True)) or text


def _marker_rotation(lp, pos) -> int:
    """+1 when the loop runs anticlockwise on the page, -1 clockwise (from its polygon's signed area)."""
    pts = np.array([pos[v] for v in lp.variables])
    if len(pts) < 3:
        return 1
    x, y = pts[:, 0], pts[:, 1]
    area = np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
    return 1 if area >= 0 else -1


def plot_cld(
    cld,
    ax=None,
    *,
    loops: Iterable[Any] | None = None,
    variables: Iterable[str] | None = None,
    sector: str | None = None,
    highlight: Any = None,
    markers: Iterable[Any] | str = "auto",
    layout: str = "auto",
    prog: str | None = None,
    fontsize: float = 9.0,
    wrap: int = 16,
    title: str | None = None,
    legend: bool = True,
    seed: int = 1,
    max_loops: int = 20_000,
):
    """Draw a causal-loop diagram and return its matplotlib Axes.

    Parameters
    ----------
    cld
        A :class:`~trafficsys.cld.CausalLoopDiagram` (or a model: its ``m.cld()``).
    ax
        Axes to draw on.  By default a new figure is made at one inch to the
        layout's inch, so every label shows at ``fontsize``; on a given Axes the
        drawing (text included) is scaled to fit.
    loops
        Draw only the variables on these loops (Loop objects, ids such as
        ``"R1"``, or the names the model file gives loops), with every link
        among them; their markers are drawn.
    variables, sector
        Draw only these variables, or the variables of this sector of the
        model file (``[sectors.NAME]``), with every link among them.
    highlight
        Emphasise a loop (object, id or name), a variable name, an archetype
        match or finding (``ts.archetypes(cld)[0]``), a systemic block
        (``ts.find_blocks(...).blocks[0]``), or a list of these: their links
        and variables are coloured, the rest fades.
    markers
        Which loops get a marker (``R1`` with a rotation arrow, inside the
        loop): ``"auto"`` marks the chosen, highlighted and named loops, and
        every loop when the drawing has fewer than 9; ``"none"``; or a list
        of loops.
    layout, prog
        ``"auto"`` lays out with Graphviz's ``prog`` through pydot when
        Graphviz is installed and with networkx (Kamada-Kawai) otherwise;
        ``"graphviz"``, ``"networkx"`` or a Graphviz program's name
        (``"dot"``...) choose.  With no ``prog``, a drawing of up to 15
        variables takes whichever of ``neato``, ``dot`` and ``circo`` gives the
        fewest crossing links, links under labels and loop markers outside
        their loop; a bigger one is laid out in layers by ``dot``.
    fontsize
        Label size in points (at least 8 stays readable).
    wrap
        Break variable labels into lines of about this many characters.
    title
        The title (default: the diagram's name and what part of it is shown).
    legend
        Add a one-line key (signs, delay mark, loop markers and loop names).
    seed
        Seed of the networkx layout.
    max_loops
        Loops are enumerated (for ids and markers) only up to this many.

    Returns
    -------
    matplotlib.axes.Axes
        Each variable's label is a Text artist with gid ``"variable:NAME"``,
        each link an arrow with gid ``"link:A->B"``; the Axes' gid names the
        layout engine (``"cld:neato"``, ``"cld:networkx"``...).

    Raises
    ------
    ModelError
        For an unknown loop, variable, sector or layout, or a missing Graphviz.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import trafficsys as ts
    >>> cld = ts.CausalLoopDiagram.from_edges([("a", "b", "+"), ("b", "a", "-")], delays=[("a", "b")])
    >>> ax = plot_cld(cld, layout="networkx")
    >>> sorted(t.get_gid() for t in ax.texts if (t.get_gid() or "").startswith("variable:"))
    ['variable:a', 'variable:b']
    """
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties

    from ..cld.diagram import CausalLoopDiagram
    from ..cld.loop_search import loops as find_loops

    if not isinstance(cld, CausalLoopDiagram):
        if hasattr(cld, "cld"):
            cld = cld.cld()
        else:
            raise ModelError(f"expected a CausalLoopDiagram or a Model, got {type(cld).__name__}")
    if fontsize < 8:
        raise ModelError(f"fontsize {fontsize} is too small to read on a diagram; use 8 or more")
    try:
        all_loops = list(find_loops(cld, max_loops=max_loops))
    except ModelError:
        all_loops = []  # too many to enumerate: ids and markers come only from what the caller names
    chosen_loops = _resolve_loops(cld, loops, all_loops) if loops is not None else None
    keep = _chosen_variables(cld, chosen_loops, variables, sector)
    hl_vars, hl_links, hl_loops = _highlight_parts(cld, highlight, all_loops)
    names = [v for v in cld.variables if keep is None or v in keep]
    left_out = 0
    if keep is None:  # the whole diagram: variables without any link (unused constants) are left out
        linked = {lk.source for lk in cld.links} | {lk.target for lk in cld.links}
        left_out = sum(1 for v in names if v not in linked)
        names = [v for v in names if v in linked] or names
    if not names:
        raise ModelError("nothing to draw: the diagram has no variables", file=cld.file)
    shown = set(names)
    links = [lk for lk in cld.links if lk.source in shown and lk.target in shown]
    loops_in = [lp for lp in all_loops if set(lp.variables) <= shown]
    if markers == "none":
        marked: list = []
    elif markers == "auto":
        marked = list(chosen_loops or [])
        marked += [lp for lp in hl_loops if set(lp.variables) <= shown]
        marked += [lp for lp in loops_in if lp.name]
        if len(loops_in) < _MARK_ALL_BELOW:
            marked += loops_in
    else:
        marked = _resolve_loops(cld, markers, all_loops)
    unique: dict[str, Any] = {}  # each loop once, in the order above, and only when all of it is drawn
    for lp in marked:
        if set(lp.variables) <= shown:
            unique.setdefault(lp.id, lp)
    marked = list(unique.values())

    # ---- measure the labels at the drawing's font size
    font = FontProperties(size=fontsize)
    bold = FontProperties(size=fontsize, weight="bold")
    probe = plt.figure(figsize=(2, 2), dpi=100)
    renderer = measuring_renderer(probe)
    texts = {v: _label_text(cld, v, wrap) for v in names}
    sizes = {}
    for v in names:
        fp = bold if v in hl_vars else font
        t = probe.text(0, 0, texts[v], fontproperties=fp, ha="center", va="center", linespacing=1.15)
        bb = t.get_window_extent(renderer)
        sizes[v] = (bb.width / probe.dpi + 2 * _PAD, bb.height / probe.dpi + 2 * _PAD)
    layout_sizes = {v: (w + 0.5, h + 0.12) for v, (w, h) in sizes.items()}  # room for signs and arrows
    edges = [(lk.source, lk.target) for lk in links]
    if prog is None and layout in ("auto", "graphviz"):
        # small diagrams: the Graphviz program whose drawing has the fewest crossings and hidden links
        progs = ("neato", "dot", "circo") if len(names) <= 15 else ("dot",)
    else:
        progs = (prog or "neato",)
    best = None
    for p in progs:
        pos, engine = layout_boxes(layout_sizes, edges, layout=layout, prog=p, margin=0.35, seed=seed)
        boxes = {v: Rect(*pos[v], *sizes[v]) for v in names}
        curves, hidden = _route(names, links, pos, boxes, loops_in)
        marks = _place_marks(links, curves, boxes, marked, pos, fontsize)
        # a marker that found no room inside its loop counts like a crossing
        outside = sum(1 for lp in marked if lp.id not in marks[4])
        score = _crossings(curves) + 3 * hidden + 2 * outside
        if best is None or score < best[0]:
            best = (score, pos, boxes, curves, marks[:4], engine)
        if engine == "networkx":
            break
    if best is None:  # `progs` is never empty
        raise RuntimeError("no layout was tried for the causal-loop diagram")
    _, pos, boxes, curves, marks, engine = best

    curve_pts, sign_boxes, marker_at, occupied = marks

    # ---- the figure: one data unit per inch when we make it
    ext = np.array([o.extent for o in occupied] + [(*p, *p) for p in curve_pts])
    x0, y0 = ext[:, 0].min() - 0.2, ext[:, 1].min() - 0.2
    x1, y1 = ext[:, 2].max() + 0.2, ext[:, 3].max() + 0.2
    width, height = x1 - x0, y1 - y0
    title_text = title if title is not None else _title(cld, chosen_loops, variables, sector)
    key_lines = (
        _key_lines(
            marked,
            marker_at,
            delays=any(lk.delay for lk in links),
            unknown_signs=any(lk.polarity == "?" for lk in links),
        )
        if legend
        else []
    )
    if legend and left_out:
        key_lines.append(f"{left_out} variables without causal links are not drawn.")
    own = ax is None
    if own:
        fig_w = max(width, 4.0)
        title_wrapped = (
            wrap_to_width(
                title_text, fig_w - 0.3, FontProperties(size=fontsize + 2, weight="bold"), renderer, probe.dpi
            )
            if title_text
            else []
        )
        key_wrapped = [
            w
            for line in key_lines
            for w in wrap_to_width(
                line, fig_w - 0.3, FontProperties(size=fontsize - 0.5), renderer, probe.dpi
            )
        ]
        top = (len(title_wrapped) * (fontsize + 2) * 1.35 / 72 + 0.15) if title_wrapped else 0.1
        bottom = (len(key_wrapped) * (fontsize - 0.5) * 1.35 / 72 + 0.15) if key_wrapped else 0.1
        fig_h = height + top + bottom
        fig = plt.figure(figsize=(fig_w, fig_h))
        ax = fig.add_axes((0, bottom / fig_h, 1, height / fig_h))
        pad = (fig_w - width) / 2
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0, y1)
        scale = 1.0
        frame_text(fig, fig_w, fig_h, title_wrapped, key_wrapped, fontsize)
    else:
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal", adjustable="box")
        fig = ax.figure
        bb = ax.get_window_extent()
        scale = min(bb.width / fig.dpi / width, bb.height / fig.dpi / height, 1.5)
        if title_text:
            ax.set_title(title_text, fontsize=(fontsize + 2) * scale)
    plt.close(probe)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_gid(f"cld:{engine}")  # which layout engine drew it
    fade = bool(hl_links or hl_vars)
    _draw_links(ax, links, curves, sign_boxes, hl_links, fade, fontsize, scale)
    _draw_nodes(ax, names, cld, boxes, texts, hl_vars, fade, fontsize, scale)
    _draw_markers(ax, marked, marker_at, pos, {lp.id for lp in hl_loops}, fontsize, scale)
    return ax


def _place_marks(links, curves, boxes, marked, pos, fontsize):
    """Place the signs near the heads, keep delay marks free, put each loop marker inside its loop.

    Returns the curves' sample points, the sign boxes, the marker centres,
    every occupied box, and the ids of markers placed inside their loop.
    """
    curve_pts = np.vstack([cv.visible_points(40) for cv in curves.values()]) if curves else np.zeros((0, 2))
    sign_boxes: dict[tuple[str, str], Rect] = {}
    occupied = list(boxes.values())
    for lk in links:
        if lk.delay:  # the delay mark sits mid-link; keep signs off it
            cv = curves[(lk.source, lk.target)]
            occupied.append(Rect(*cv.at(cv.t_middle())[0], 0.2, 0.2))
    sign_size = fontsize * 1.15 / 72
    for lk in links:
        cv = curves[(lk.source, lk.target)]
        choice = None
        first = None
        # near the head first; where that is crowded (links converging on one variable), further back
        for back in (
            min(0.2, cv.visible_length * 0.35),
            min(0.32, cv.visible_length * 0.45),
            min(0.45, cv.visible_length * 0.55),
        ):
            t = cv.t_before_end(back)
            p, tan = cv.at(t)[0], cv.tangent(t)
            normal = np.array([-tan[1], tan[0]])
            if first is None:
                first = Rect(*(p + 0.11 * normal), sign_size, sign_size)
            for off in (0.11, 0.16, 0.22):
                for s in (1, -1):
                    q = p + s * off * normal
                    r = Rect(q[0], q[1], sign_size, sign_size)
                    room = Rect(
                        q[0], q[1], 1.3 * sign_size, 1.3 * sign_size
                    )  # a glyph's ink runs past its box
                    if not any(room.overlaps(o) for o in occupied):
                        choice = r
                        break
                if choice:
                    break
            if choice:
                break
        sign_boxes[(lk.source, lk.target)] = choice or first
        occupied.append(sign_boxes[(lk.source, lk.target)])
    marker_at: dict[str, tuple[float, float]] = {}
    inside_ids: set[str] = set()
    from matplotlib.path import Path

    for lp in marked:
        # the loop's outline follows its drawn links, so a two-variable loop's inside is the lens between them
        poly = np.vstack([curves[lk].at(np.linspace(0, 1, 24)) for lk in lp.links])
        centre = np.mean([pos[v] for v in lp.variables], axis=0)
        outline = Path(poly)
        inside = lambda x, y, outline=outline: outline.contains_point((x, y))  # noqa: E731
        marker_r = _marker_radius(lp)
        spot = free_spot(centre, (2 * marker_r, 2 * marker_r), occupied, curve_pts, inside=inside, reach=1.2)
        if spot is not None:
            inside_ids.add(lp.id)
        else:
            spot = free_spot(centre, (2 * marker_r, 2 * marker_r), occupied, curve_pts, reach=2.5)
        if spot is None:
            continue
        marker_at[lp.id] = spot
        occupied.append(Rect(*spot, 2 * marker_r, 2 * marker_r))
    return curve_pts, sign_boxes, marker_at, occupied, inside_ids


def _route(names, links, pos, boxes, loops_in):
    """Curve every link: away from the loop it closes, around the labels it does not point at.

    Returns the curves by link and how many links still run under a label.
    """
    centre_of: dict[tuple[str, str], np.ndarray] = {}
    for lp in sorted(loops_in, key=lambda lp: -lp.length):  # the shortest loop a link is on wins
        c = np.mean([pos[v] for v in lp.variables], axis=0)
        for lk in lp.links:
            centre_of[lk] = c
    pairs = {(lk.source, lk.target) for lk in links}
    curves = {}
    hidden = 0
    for lk in links:
        a, b = lk.source, lk.target
        pa, pb = np.asarray(pos[a]), np.asarray(pos[b])
        d = pb - pa
        left = np.array([-d[1], d[0]])
        if (b, a) in pairs:
            # a two-way pair: each bends to its right, so the pair separates, leaving room for a loop marker
            side, base = -1.0, float(np.clip(0.62 / max(np.linalg.norm(d), 1e-9), 0.3, 0.6))
        elif (a, b) in centre_of:
            away = np.dot((pa + pb) / 2 - centre_of[(a, b)], left)
            side, base = (1.0 if away > 1e-9 else -1.0), 0.16
        else:
            side, base = -1.0, 0.08
        others = [boxes[v].grown(0.02) for v in names if v not in (a, b)]
        best, best_hits = None, None
        for rad in (base, base + 0.14, base + 0.3, -base, -(base + 0.14), -(base + 0.3), 0.0):
            cv = Curve(pa, pb, side * rad, boxes[a].grown(0.03), boxes[b].grown(0.03))
            pts = cv.visible_points(50)
            hits = sum(int(o.contains(pts).any()) for o in others)
            if best_hits is None or hits < best_hits:
                best, best_hits = cv, hits
            if hits == 0:
                break
        curves[(a, b)] = best
        hidden += int(bool(best_hits))
    return curves, hidden


def _crossings(curves) -> int:
    """Count the pairs of links (without a shared variable) whose drawn curves cross."""
    keys = list(curves)
    segs = []
    owner = []
    for k, key in enumerate(keys):
        pts = curves[key].visible_points(16)
        segs.append(np.stack([pts[:-1], pts[1:]], axis=1))
        owner += [k] * (len(pts) - 1)
    if len(keys) < 2:
        return 0
    s = np.concatenate(segs)
    owner_arr = np.array(owner)
    p, r = s[:, 0], s[:, 1] - s[:, 0]
    q, sv = p, r
    cross = r[:, None, 0] * sv[None, :, 1] - r[:, None, 1] * sv[None, :, 0]
    qp = q[None, :, :] - p[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qp[..., 0] * sv[None, :, 1] - qp[..., 1] * sv[None, :, 0]) / cross
        u = (qp[..., 0] * r[:, None, 1] - qp[..., 1] * r[:, None, 0]) / cross
    hit = (np.abs(cross) > 1e-12) & (t > 0) & (t < 1) & (u > 0) & (u < 1)
    ends = [set(key) for key in keys]
    pairs = {(owner_arr[i], owner_arr[j]) for i, j in zip(*np.nonzero(hit)) if owner_arr[i] < owner_arr[j]}
    return sum(1 for i, j in pairs if not ends[i] & ends[j])


def _title(cld, chosen_loops, variables, sector) -> str:
    what = []
    if chosen_loops:
        what.append(
            "loops "
            + ", ".join(lp.id + (f" ({lp.name.replace('_', ' ')})" if lp.name else "") for lp in chosen_loops)
        )
    if sector:
        what.append(f"sector '{sector}'")
    if variables is not None:
        what.append("chosen variables")
    name = cld.name.replace("_", " ")
    return f"{name}: {'; '.join(what)}" if what else name


def _key_lines(marked, marker_at, *, delays: bool, unknown_signs: bool) -> list[str]:
    # a mark and its meaning stay on one line when the key wraps (no break at a no-break space)
    parts = ["+\u00a0same direction", "\u2212\u00a0opposite direction"]
    if unknown_signs:
        # a link whose effect changes sign with the state (cld.derive marks it "?")
        parts.append("?\u00a0sign depends on the state")
    if delays:
        parts.append("||\u00a0delay")
    lines = ["Links: " + "; ".join(parts)]
    if marker_at:
        named = [lp for lp in marked if lp.id in marker_at and lp.name]
        unknown = any(lp.polarity == "?" for lp in marked if lp.id in marker_at)
        kinds = "R reinforcing, B balancing" + (", U unknown polarity" if unknown else "")
        lines.append(
            f"Loops: {kinds}"
            + (": " if named else "")
            + "; ".join(f"{lp.id} {lp.name.replace('_', ' ')}" for lp in named)
        )
    return lines


def _draw_links(ax, links, curves, sign_boxes, hl_links, fade, fontsize, scale) -> None:
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path

    for lk in links:
        key = (lk.source, lk.target)
        cv = curves[key]
        on = key in hl_links
        colour = HIGHLIGHT if on else (_FADED if fade else _LINK)
        lw = (2.2 if on else 1.1) * scale
        ctrl = cv.clipped()
        path = Path(ctrl, [Path.MOVETO, Path.CURVE3, Path.CURVE3])
        ax.add_patch(
            FancyArrowPatch(
                path=path,
                arrowstyle=f"-|>,head_length={0.55 * scale:.2f},head_width={0.3 * scale:.2f}",
                mutation_scale=10 * scale,
                lw=lw,
                color=colour,
                zorder=2,
                shrinkA=0,
                shrinkB=0,
                gid=f"link:{key[0]}->{key[1]}",
            )
        )
        sb = sign_boxes[key]
        sign_colour = LINK_COLOURS[lk.polarity] if (on or not fade) else _FADED_SIGN
        ax.text(
            sb.x,
            sb.y,
            _GLYPH[lk.polarity],
            ha="center",
            va="center",
            fontsize=(fontsize + 3) * scale,
            fontweight="bold",
            color=sign_colour,
            zorder=5,
            gid=f"sign:{key[0]}->{key[1]}",
        )
        if lk.delay:
            t = cv.t_middle()
            p, tan = cv.at(t)[0], cv.tangent(t)
            normal = np.array([-tan[1], tan[0]])
            for s in (-0.035, 0.035):
                c = p + s * tan
                seg = np.array([c - 0.1 * normal, c + 0.1 * normal])
                ax.plot(
                    seg[:, 0],
                    seg[:, 1],
                    color=colour,
                    lw=1.4 * scale,
                    zorder=2.5,
                    solid_capstyle="butt",
                    gid=f"delay:{key[0]}->{key[1]}",
                )


def _draw_nodes(ax, names, cld, boxes, texts, hl_vars, fade, fontsize, scale) -> None:
    from matplotlib.patches import FancyBboxPatch

    for v in names:
        b = boxes[v]
        on = v in hl_vars
        stock = cld.variables.get(v, {}).get("kind") == "stock"
        edge = HIGHLIGHT if on else ("#555555" if stock else "none")
        face = "#fdeee4" if on else "white"
        ax.add_patch(
            FancyBboxPatch(
                (b.x - b.w / 2, b.y - b.h / 2),
                b.w,
                b.h,
                boxstyle="square,pad=0" if stock else "round,pad=0,rounding_size=0.07",
                facecolor=face,
                edgecolor=edge,
                lw=(1.6 if on else 1.0) * scale,
                zorder=3,
            )
        )
        colour = "#111111" if (on or not fade) else "#5a5a5a"
        ax.text(
            b.x,
            b.y,
            texts[v],
            ha="center",
            va="center",
            fontsize=fontsize * scale,
            linespacing=1.15,
            fontweight="bold" if on else "normal",
            color=colour,
            zorder=4,
            gid=f"variable:{v}",
        )


def _draw_markers(ax, marked, marker_at, pos, hl_ids, fontsize, scale) -> None:
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path

    for lp in marked:
        if lp.id not in marker_at:
            continue
        x, y = marker_at[lp.id]
        r = _marker_radius(lp)
        colour = HIGHLIGHT if lp.id in hl_ids else "#333333"
        turn = _marker_rotation(lp, pos)
        ang = np.radians(np.linspace(110, 110 + 290, 40) * turn)
        pts = np.column_stack([x + r * np.cos(ang), y + r * np.sin(ang)])
        path = Path(pts, [Path.MOVETO] + [Path.LINETO] * (len(pts) - 1))
        ax.add_patch(
            FancyArrowPatch(
                path=path,
                arrowstyle=f"-|>,head_length={0.45 * scale:.2f},head_width={0.25 * scale:.2f}",
                mutation_scale=10 * scale,
                lw=1.2 * scale,
                color=colour,
                zorder=4,
                shrinkA=0,
                shrinkB=0,
            )
        )
        label = lp.id
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=max(fontsize - 1, 8) * scale,
            fontweight="bold",
            color=colour,
            zorder=5,
            gid=f"loop:{lp.id}",
        )
