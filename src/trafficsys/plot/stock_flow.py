"""Draw a stock-flow diagram: stocks as boxes, flows as pipes with valves, clouds at the boundary.

Auxiliaries and constants are plain names; information links (what an
equation reads) are thin curved arrows.  Like the causal-loop diagram
(:mod:`trafficsys.plot.cld`), the drawing is one data unit to the inch:
labels are measured, laid out without overlap (Graphviz through pydot when
installed, networkx otherwise), and the figure is sized to hold them.

A big model is drawn a sector at a time (``sector="police"``, the model
file's ``[sectors.NAME]``): stocks of other sectors that the sector's flows
fill or drain are drawn dashed, as ghosts, and flows crossing the model's
boundary start or end in a cloud.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from ..errors import ModelError
from ..model.elements import Kind
from ..model.names import canonical, suggest
from ._geometry import Curve, Rect, frame_text, measuring_renderer, wrap_to_width
from ._layout import layout_boxes

__all__ = ["plot_stock_flow"]

_INK = "#222222"
_PIPE = "#5b6770"
_INFO = "#6a7f99"  # information links: blue-grey, lighter than the pipes, still 4:1 on white
_GHOST = "#6b6b6b"
_VALVE = 0.13  # half-size of a valve, inches
_PAD = 0.06


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text.replace("_", " "), width, break_long_words=True)) or text


def plot_stock_flow(
    m,
    ax=None,
    *,
    sector: str | None = None,
    constants: bool = True,
    layout: str = "auto",
    fontsize: float = 9.0,
    wrap: int = 16,
    title: str | None = None,
    legend: bool = True,
    seed: int = 1,
):
    """Draw a model's stocks, flows, auxiliaries and information links; return the Axes.

    Parameters
    ----------
    m
        A stock-flow :class:`~trafficsys.model.Model`.
    ax
        Axes to draw on; by default a new figure sized so every label shows at
        ``fontsize``.
    sector
        Draw only this sector of the model file (``[sectors.NAME]``), with the
        stocks of other sectors its flows connect to drawn dashed.
    constants
        Draw constants (parameters) and their links.
    layout
        ``"auto"`` (Graphviz's ``dot``, left to right, when installed; networkx
        otherwise), ``"graphviz"``, ``"networkx"`` or a Graphviz program name.
    fontsize, wrap
        Label size in points (8 or more) and line length in characters.
    title
        The title (default: the model's name and the sector).
    legend
        Add a one-line key below the diagram.
    seed
        Seed of the networkx layout.

    Returns
    -------
    matplotlib.axes.Axes
        Each drawn variable's label is a Text artist with gid
        ``"variable:NAME"`` (``"ghost:NAME"`` for a stock of another sector),
        each pipe a patch with gid ``"pipe:FLOW"``, each information link a
        patch with gid ``"info:A->B"``; the Axes' gid names the layout engine.

    Raises
    ------
    ModelError
        For a model without stocks (draw its causal-loop diagram instead), an
        unknown sector or layout, or a missing Graphviz.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import trafficsys as ts
    >>> m = ts.Model("decay", stop=10)
    >>> _ = m.constant("k", 0.1)
    >>> _ = m.stock("x", initial=100, outflows=["loss"])
    >>> _ = m.flow("loss", "k * x")
    >>> ax = plot_stock_flow(m, layout="networkx")
    >>> sorted(t.get_gid() for t in ax.texts if (t.get_gid() or "").startswith("variable:"))
    ['variable:k', 'variable:loss', 'variable:x']
    """
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties

    if fontsize < 8:
        raise ModelError(f"fontsize {fontsize} is too small to read on a diagram; use 8 or more")
    stocks = m.stocks
    if not stocks:
        raise ModelError(
            f"model '{m.name}' has no stocks, so there is no stock-flow diagram to draw; draw its "
            "causal-loop diagram with m.cld().plot()",
            file=m.file,
        )
    kind = {canonical(e.name): e.kind for e in m}
    label = {canonical(e.name): e.name for e in m}
    source_of: dict[str, str] = {}
    target_of: dict[str, str] = {}
    for s in stocks:
        for f in s.outflows:
            source_of[canonical(f)] = canonical(s.name)
        for f in s.inflows:
            target_of[canonical(f)] = canonical(s.name)

    if sector is not None:
        sectors = getattr(m, "sectors", {})
        if sector not in sectors:
            have = f"its sectors: {', '.join(sectors)}" if sectors else "the model file declares no [sectors]"
            raise ModelError(f"no sector '{sector}'{suggest(sector, sectors)} ({have})", file=m.file)
        members = {canonical(v) for v in sectors[sector].variables if canonical(v) in kind}
    else:
        members = set(kind)
    if not constants:
        members = {v for v in members if kind[v] is not Kind.CONSTANT}
    # a sector's stocks bring their flows; its flows bring the stocks they connect (as ghosts when outside)
    flows = {v for v in members if kind[v] is Kind.FLOW}
    for ends in (source_of, target_of):
        flows |= {f for f, s in ends.items() if s in members and kind.get(f) is Kind.FLOW}
    ghosts = {s for f in flows for s in (source_of.get(f), target_of.get(f)) if s and s not in members}
    drawn = members | flows | ghosts
    ghosts |= flows - members  # flows of other sectors that fill or drain this sector's stocks

    # information links: what each drawn equation reads, among drawn variables
    info = []
    for b in sorted(drawn - ghosts):
        if kind[b] in (Kind.STOCK, Kind.CONSTANT):
            continue
        for a in sorted(m.dependencies(b)):
            if a in drawn and a != b and a in kind:
                info.append((a, b))
    outside_links = sum(
        1
        for b in drawn - ghosts
        if kind[b] not in (Kind.STOCK, Kind.CONSTANT)
        for a in m.dependencies(b)
        if a in kind and a not in drawn
    )

    # ---- measure labels
    probe = plt.figure(figsize=(2, 2), dpi=100)
    renderer = measuring_renderer(probe)
    font = FontProperties(size=fontsize)
    texts, label_size = {}, {}
    for v in sorted(drawn):
        texts[v] = _wrap(label[v], wrap)
        style = "italic" if kind[v] is Kind.CONSTANT else "normal"
        t = probe.text(
            0, 0, texts[v], fontproperties=font, style=style, ha="center", va="center", linespacing=1.15
        )
        bb = t.get_window_extent(renderer)
        label_size[v] = (bb.width / probe.dpi + 2 * _PAD, bb.height / probe.dpi + 2 * _PAD)

    # node boxes for the layout; a flow's box holds its valve and its label below or beside it
    sizes: dict[str, tuple[float, float]] = {}
    for v in sorted(drawn):
        w, h = label_size[v]
        if kind[v] is Kind.STOCK:
            sizes[v] = (max(w + 0.2, 0.9), max(h + 0.2, 0.55))
        elif kind[v] is Kind.FLOW:
            sizes[v] = (2 * w + 3 * _VALVE + 0.1, 2 * h + 3 * _VALVE + 0.1)
        else:
            sizes[v] = (w, h)
    clouds: dict[str, tuple[str, str]] = {}  # cloud node -> (flow, "from"|"to")
    for f in sorted(flows):
        if f not in source_of:
            clouds[f"cloud:{f}:from"] = (f, "from")
        if f not in target_of:
            clouds[f"cloud:{f}:to"] = (f, "to")
    for c in clouds:
        sizes[c] = (0.5, 0.34)
    pipe_edges = []
    for f in sorted(flows):
        pipe_edges.append((source_of.get(f, f"cloud:{f}:from"), f))
        pipe_edges.append((f, target_of.get(f, f"cloud:{f}:to")))
    edges = pipe_edges + info
    attrs = {e: {"weight": "6"} for e in pipe_edges}
    attrs.update({e: {"weight": "1"} for e in info if e not in attrs})

    def arrange(prog: str, graph_attrs: dict[str, str], margin: float):
        """Lay out, route pipes and links; return how many still run under a label, and the drawing's parts."""
        pos, engine = layout_boxes(
            sizes,
            edges,
            layout=layout,
            prog=prog,
            margin=margin,
            seed=seed,
            graph_attrs=graph_attrs,
            edge_attrs=attrs,
        )

        # ---- the visible parts: stock boxes, valves with their labels, clouds
        shape: dict[str, Rect] = {}  # what arrows start and end at
        label_at: dict[str, Rect] = {}
        for v in sorted(drawn):
            x, y = pos[v]
            w, h = label_size[v]
            if kind[v] is Kind.STOCK:
                shape[v] = Rect(x, y, *sizes[v])
            elif kind[v] is Kind.FLOW:
                shape[v] = Rect(x, y, 2 * _VALVE, 2 * _VALVE)
            else:
                shape[v] = Rect(x, y, w, h)
        for c in clouds:
            shape[c] = Rect(*pos[c], *sizes[c])
        pipes = {}
        hidden = 0
        for f in sorted(flows):
            src = source_of.get(f, f"cloud:{f}:from")
            dst = target_of.get(f, f"cloud:{f}:to")
            # other variables' labels (a flow's label is taken to sit under its valve for now)
            flow_labels = {
                k: Rect(pos[k][0], pos[k][1] - _VALVE - 0.03 - label_size[k][1] / 2, *label_size[k])
                for k in flows
                if k != f
            }
            halves = []
            for a, b, box_a, box_b in ((src, f, shape[src], None), (f, dst, None, shape[dst])):
                # each half avoids everything but its own two ends (the way back must not cross the source)
                others = [shape[k].grown(0.03) for k in shape if k not in (a, b)] + [
                    r for k, r in flow_labels.items() if k not in (a, b)
                ]
                best, best_hits = None, None
                for rad in (0.0, 0.12, -0.12, 0.25, -0.25, 0.4, -0.4, 0.6, -0.6):
                    cv = Curve(pos[a], pos[b], rad, box_a, box_b)
                    hits = sum(int(o.contains(cv.visible_points(160)).any()) for o in others)
                    if best_hits is None or hits < best_hits:
                        best, best_hits = cv, hits
                    if hits == 0:
                        break
                if best is None or best_hits is None:  # the loop above always tries at least one bend
                    raise RuntimeError(f"no pipe was routed from {a!r} to {b!r}")
                halves.append(best.visible_points(40))
                hidden += best_hits
            pipes[f] = np.vstack([halves[0], halves[1][1:]])
        for v in sorted(drawn):
            x, y = pos[v]
            w, h = label_size[v]
            if kind[v] is Kind.STOCK:
                shape[v] = label_at[v] = Rect(x, y, *sizes[v])
            elif kind[v] is Kind.FLOW:
                shape[v] = Rect(x, y, 2 * _VALVE, 2 * _VALVE)
                # the label goes under, over or beside the valve, wherever its own pipe does not run
                pipe = pipes[v]
                gap = _VALVE * 1.45 + 0.02  # clear of the bow tie, which turns with the pipe
                sides = [
                    Rect(x, y - gap - h / 2, w, h),
                    Rect(x, y + gap + h / 2, w, h),
                    Rect(x + gap + w / 2, y, w, h),
                    Rect(x - gap - w / 2, y, w, h),
                ]
                own_free = [r for r in sides if not r.grown(0.02).contains(pipe).any()]
                # better still: a side that no other flow's pipe runs through either
                all_free = [
                    r
                    for r in own_free
                    if not any(r.grown(0.02).contains(q).any() for k, q in pipes.items() if k != v)
                ]
                label_at[v] = (all_free or own_free or sides)[0]
            else:
                shape[v] = label_at[v] = Rect(x, y, w, h)
        for c in clouds:
            shape[c] = Rect(*pos[c], *sizes[c])

        occupied = list(label_at.values()) + [shape[c] for c in clouds] + [shape[f] for f in flows]
        curves = {}
        for a, b in info:
            pa, pb = np.asarray(pos[a]), np.asarray(pos[b])
            # every label but the ends' own; a flow's label is apart from its valve, so it is avoided too
            others = [r.grown(0.06) for k, r in label_at.items() if k not in (a, b) or kind[k] is Kind.FLOW]
            best, best_hits = None, None
            for rad in (-0.12, 0.12, -0.3, 0.3, 0.0, -0.5, 0.5, -0.75, 0.75, -1.0, 1.0, -1.4, 1.4, -1.8, 1.8):
                cv = Curve(pa, pb, rad, shape[a].grown(0.03), shape[b].grown(0.05))
                hits = sum(int(o.contains(cv.visible_points(160)).any()) for o in others)
                if best_hits is None or hits < best_hits:
                    best, best_hits = cv, hits
                if hits == 0:
                    break
            if best is None or best_hits is None:  # the loop above always tries at least one bend
                raise RuntimeError(f"no link was routed from {a!r} to {b!r}")
            curves[(a, b)] = best
            hidden += best_hits
        return hidden, (pos, engine, shape, label_at, pipes, curves, occupied)

    # Graphviz's layered layout, left to right, then roomier and top-down variants if links still hide
    candidates = [
        ("dot", {"rankdir": "LR"}, 0.3),
        ("dot", {"rankdir": "LR"}, 0.6),
        ("dot", {"rankdir": "TB"}, 0.4),
        ("dot", {"rankdir": "TB"}, 0.7),
        ("dot", {"rankdir": "LR"}, 0.9),
        ("dot", {"rankdir": "TB", "nodesep": "1.2"}, 0.5),
        ("dot", {"rankdir": "LR", "ranksep": "1.5"}, 0.5),
    ]
    best = None
    for prog, graph_attrs, margin in candidates:
        hidden, parts = arrange(prog, graph_attrs, margin)
        if best is None or hidden < best[0]:
            best = (hidden, parts)
        if hidden == 0 or parts[1] == "networkx":
            break
    if best is None:  # the candidates above are never empty
        raise RuntimeError("no layout was tried for the stock-flow diagram")
    pos, engine, shape, label_at, pipes, curves, occupied = best[1]
    pts = [cv.visible_points(30) for cv in curves.values()]
    ext = np.array([r.extent for r in occupied] + [(*p, *p) for arr in pts for p in arr])
    x0, y0 = ext[:, 0].min() - 0.2, ext[:, 1].min() - 0.2
    x1, y1 = ext[:, 2].max() + 0.2, ext[:, 3].max() + 0.2
    width, height = x1 - x0, y1 - y0

    title_text = (
        title
        if title is not None
        else (
            f"{m.name.replace('_', ' ')}" + (f": sector '{sector}'" if sector else "") + " (stocks and flows)"
        )
    )
    key = []
    if legend:
        key.append(
            "Boxes: stocks; pipes with valves: flows; clouds: outside the model; italic: constants; "
            "thin arrows: what an equation reads"
        )
        if ghosts:
            key.append("Grey: stocks (dashed boxes) and flows of other sectors")
        if outside_links:
            key.append(f"{outside_links} information links from variables outside this sector are not drawn")
    if ax is None:
        fig_w = max(width, 5.0)
        title_lines = wrap_to_width(
            title_text, fig_w - 0.3, FontProperties(size=fontsize + 2, weight="bold"), renderer, probe.dpi
        )
        key_lines = [
            w
            for line in key
            for w in wrap_to_width(
                line, fig_w - 0.3, FontProperties(size=fontsize - 0.5), renderer, probe.dpi
            )
        ]
        top = len(title_lines) * (fontsize + 2) * 1.35 / 72 + 0.15
        bottom = (len(key_lines) * (fontsize - 0.5) * 1.35 / 72 + 0.15) if key_lines else 0.1
        fig_h = height + top + bottom
        fig = plt.figure(figsize=(fig_w, fig_h))
        ax = fig.add_axes((0, bottom / fig_h, 1, height / fig_h))
        pad = (fig_w - width) / 2
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0, y1)
        frame_text(fig, fig_w, fig_h, title_lines, key_lines, fontsize)
        scale = 1.0
    else:
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal", adjustable="box")
        fig = ax.figure
        bb = ax.get_window_extent()
        scale = min(bb.width / fig.dpi / width, bb.height / fig.dpi / height, 1.5)
        ax.set_title(title_text, fontsize=(fontsize + 2) * scale)
    plt.close(probe)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_gid(f"stock_flow:{engine}")
    _draw(
        ax,
        m,
        kind,
        drawn,
        ghosts,
        flows,
        clouds,
        pipes,
        pos,
        shape,
        label_at,
        texts,
        curves,
        fontsize,
        scale,
    )
    return ax


def _draw(
    ax,
    m,
    kind,
    drawn,
    ghosts,
    flows,
    clouds,
    pipes,
    pos,
    shape,
    label_at,
    texts,
    curves,
    fontsize,
    scale,
) -> None:
    from matplotlib.patches import Circle, FancyArrowPatch, Polygon, Rectangle
    from matplotlib.path import Path

    # information links under everything else
    for (a, b), cv in curves.items():
        path = Path(cv.clipped(), [Path.MOVETO, Path.CURVE3, Path.CURVE3])
        ax.add_patch(
            FancyArrowPatch(
                path=path,
                arrowstyle=f"-|>,head_length={0.45 * scale:.2f},head_width={0.22 * scale:.2f}",
                mutation_scale=10 * scale,
                lw=0.9 * scale,
                color=_INFO,
                zorder=1,
                shrinkA=0,
                shrinkB=0,
                gid=f"info:{a}->{b}",
            )
        )
    # pipes: source -> valve -> target, routed around labels, clipped at the boxes and clouds
    for f in sorted(flows):
        line = pipes[f]
        tip_len = min(0.16, 0.45 * float(np.linalg.norm(line[-1] - pos[f])))
        run = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(line[::-1], axis=0), axis=1))])
        cut = len(line) - 1 - int(np.searchsorted(run, tip_len))
        body, end = line[: max(cut, 1) + 1], line[-1]
        tip_start = body[-1]
        # a hollow pipe (a wide line with a white core) ending in an arrowhead at the stock it fills
        ax.plot(
            body[:, 0],
            body[:, 1],
            color=_PIPE,
            lw=5.5 * scale,
            solid_capstyle="butt",
            solid_joinstyle="round",
            zorder=2,
            gid=f"pipe:{f}",
        )
        ax.plot(
            body[:, 0],
            body[:, 1],
            color="white",
            lw=2.8 * scale,
            solid_capstyle="butt",
            solid_joinstyle="round",
            zorder=2.1,
        )
        ax.add_patch(
            FancyArrowPatch(
                tip_start,
                end,
                arrowstyle=f"-|>,head_length={tip_len * 72 / 10 / scale:.2f},head_width=0.60",
                mutation_scale=10 * scale,
                color=_PIPE,
                lw=0,
                zorder=2.2,
                shrinkA=0,
                shrinkB=0,
            )
        )
        p_valve = np.asarray(pos[f], float)
        start = line[0]
        # the valve: a bow tie across the pipe
        d = p_valve - start
        d = d / (np.linalg.norm(d) or 1.0)
        n = np.array([-d[1], d[0]])
        v = _VALVE
        bow = [
            p_valve - v * d + v * n,
            p_valve + v * d - v * n,
            p_valve + v * d + v * n,
            p_valve - v * d - v * n,
        ]
        ax.add_patch(
            Polygon(
                bow,
                closed=True,
                facecolor="white",
                edgecolor=_GHOST if f in ghosts else _INK,
                lw=1.1 * scale,
                zorder=4,
            )
        )
    for c in clouds:
        _cloud(ax, shape[c], scale, Circle)
    for v in sorted(drawn):
        r = label_at[v]
        ghost = v in ghosts
        gid = f"{'ghost' if ghost else 'variable'}:{v}"
        colour = _GHOST if ghost else _INK
        if kind[v] is Kind.STOCK:
            ax.add_patch(
                Rectangle(
                    (r.x - r.w / 2, r.y - r.h / 2),
                    r.w,
                    r.h,
                    facecolor="white",
                    edgecolor=colour,
                    lw=(1.0 if ghost else 1.6) * scale,
                    linestyle="--" if ghost else "-",
                    zorder=3,
                )
            )
        elif kind[v] is not Kind.FLOW:
            ax.add_patch(
                Rectangle(
                    (r.x - r.w / 2, r.y - r.h / 2), r.w, r.h, facecolor="white", edgecolor="none", zorder=3
                )
            )
        ax.text(
            r.x,
            r.y,
            texts[v],
            ha="center",
            va="center",
            fontsize=fontsize * scale,
            linespacing=1.15,
            color=colour,
            style="italic" if kind[v] is Kind.CONSTANT else "normal",
            zorder=5,
            gid=gid,
            fontweight="bold" if kind[v] is Kind.STOCK and not ghost else "normal",
        )


def _exit_point(box: Rect, centre: np.ndarray, toward: np.ndarray) -> np.ndarray:
    """Where the segment from a box's centre toward a point leaves the box."""
    d = toward - centre
    if not d.any():
        return centre
    tx = (box.w / 2) / abs(d[0]) if d[0] else np.inf
    ty = (box.h / 2) / abs(d[1]) if d[1] else np.inf
    return centre + min(tx, ty, 1.0) * d


def _cloud(ax, box: Rect, scale: float, Circle: Any) -> None:
    """Draw a small cloud: overlapping circles, outlined, then filled again to hide the inner arcs."""
    x, y, w, h = box.x, box.y, box.w * 0.8, box.h * 0.8
    bumps = [(-0.3, -0.1, 0.28), (0.0, 0.12, 0.34), (0.3, -0.05, 0.28), (0.05, -0.18, 0.26)]
    circles = [(x + dx * w, y + dy * h, r * min(w, 1.6 * h)) for dx, dy, r in bumps]
    for cx, cy, r in circles:
        ax.add_patch(Circle((cx, cy), r, facecolor="white", edgecolor=_PIPE, lw=1.1 * scale, zorder=3))
    for cx, cy, r in circles:
        ax.add_patch(Circle((cx, cy), r * 0.93, facecolor="white", edgecolor="none", zorder=3.1))
