"""Place labelled boxes on a plane for the diagrams: Graphviz through pydot, or networkx.

Positions are in inches, so a diagram drawn one data unit to the inch shows
each box at its measured size.  Whatever the layout engine, the result goes
through :func:`separate`, which guarantees that no two boxes (with their
margin) overlap: the diagrams' labels stay readable by construction, not by
luck.
"""

from __future__ import annotations

import shutil
from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

import numpy as np

from ..errors import ModelError

__all__ = ["GRAPHVIZ_PROGRAMS", "LAYOUTS", "graphviz_available", "layout_boxes", "separate", "overlapping"]

#: Graphviz programs a diagram may be laid out with (``layout="neato"``...)
GRAPHVIZ_PROGRAMS = ("dot", "neato", "fdp", "sfdp", "circo", "twopi")
#: every accepted ``layout=`` value
LAYOUTS = ("auto", "graphviz", "networkx", *GRAPHVIZ_PROGRAMS)

Box = tuple[float, float]  # width, height in inches
#: a node's key: a variable's name, a cloud's id... whatever the caller's boxes are keyed by
K = TypeVar("K", bound=Hashable)


def graphviz_available(prog: str = "neato") -> bool:
    """Return True when the Graphviz program ``prog`` is on the PATH."""
    return shutil.which(prog) is not None


def layout_boxes(
    sizes: Mapping[K, Box],
    edges: Iterable[tuple[K, K]],
    *,
    layout: str = "auto",
    prog: str = "neato",
    margin: float = 0.3,
    edge_length: float = 1.4,
    seed: int = 1,
    graph_attrs: Mapping[str, str] | None = None,
    edge_attrs: Mapping[tuple[K, K], Mapping[str, str]] | None = None,
) -> tuple[dict[K, tuple[float, float]], str]:
    """Return the centre of every box (inches) and the engine used (``"neato"``, ``"networkx"``...).

    Parameters
    ----------
    sizes
        Node -> (width, height) of its box in inches.
    edges
        Links between nodes (direction is ignored by the spring layouts).
    layout
        ``"auto"`` (Graphviz's ``prog`` when installed, else networkx),
        ``"graphviz"`` (``prog``, required), ``"networkx"``, or a Graphviz
        program's name (``"dot"``, ``"neato"``...).
    prog
        The Graphviz program for ``"auto"`` and ``"graphviz"``.
    margin
        Free space kept between two boxes, in inches.
    edge_length
        Preferred gap between linked boxes, in inches.
    seed
        Seed of the networkx layout's start.
    graph_attrs, edge_attrs
        Extra Graphviz attributes of the graph (``{"rankdir": "LR"}``) and of
        single edges (``{("a", "b"): {"weight": "8"}}``); networkx ignores them.

    Raises
    ------
    ModelError
        For an unknown ``layout``, or a Graphviz program that is not installed.
    """
    if layout not in LAYOUTS:
        raise ModelError(f"layout must be one of {', '.join(repr(x) for x in LAYOUTS)}, got {layout!r}")
    if layout in GRAPHVIZ_PROGRAMS:
        prog, layout = layout, "graphviz"
    if prog not in GRAPHVIZ_PROGRAMS:
        raise ModelError(f"prog must be one of {', '.join(GRAPHVIZ_PROGRAMS)}, got {prog!r}")
    if layout == "auto":
        layout = "graphviz" if graphviz_available(prog) else "networkx"
    if layout == "graphviz" and not graphviz_available(prog):
        raise ModelError(
            f"Graphviz's '{prog}' program is not installed: install Graphviz (Debian/Ubuntu: "
            "apt-get install graphviz; macOS: brew install graphviz) or pass layout='networkx'"
        )
    nodes = list(sizes)
    edges = [(a, b) for a, b in edges if a in sizes and b in sizes and a != b]
    if not nodes:
        return {}, layout
    if layout == "graphviz":
        pos = _graphviz(sizes, edges, prog, margin, edge_length, graph_attrs or {}, edge_attrs or {})
        engine = prog
    else:
        pos = _networkx(sizes, edges, edge_length, seed)
        engine = "networkx"
    return separate(pos, sizes, margin), engine


def _graphviz(sizes, edges, prog, margin, edge_length, graph_attrs, edge_attrs):
    import pydot

    ids = {n: f"n{i}" for i, n in enumerate(sizes)}
    g = pydot.Dot(graph_type="digraph")
    # node sizes are the labels' boxes; the layout keeps `sep` points around them
    g.set("overlap", "prism" if prog in ("neato", "fdp", "sfdp") else "false")
    g.set("sep", f"+{margin * 72 / 2:.0f}")
    g.set("esep", f"+{margin * 72 / 4:.0f}")
    g.set("splines", "false")
    if prog == "dot":
        g.set("nodesep", f"{margin:.2f}")
        g.set("ranksep", f"{edge_length * 0.5:.2f}")
    if prog in ("neato", "fdp", "sfdp"):
        g.set("mode", "sgd" if prog == "neato" else "")
    for k, v in graph_attrs.items():
        g.set(k, v)
    for n, (w, h) in sizes.items():
        g.add_node(
            pydot.Node(ids[n], shape="box", fixedsize="true", width=f"{w:.3f}", height=f"{h:.3f}", label="")
        )
    for a, b in edges:
        e = pydot.Edge(ids[a], ids[b])
        if prog in ("neato", "fdp", "sfdp"):
            e.set("len", f"{edge_length * 0.6 + (max(sizes[a]) + max(sizes[b])) / 4:.2f}")
        for k, v in edge_attrs.get((a, b), {}).items():
            e.set(k, v)
        g.add_edge(e)
    try:
        plain = g.create(prog=prog, format="plain").decode("utf-8", "replace")
    except Exception as e:  # pydot wraps a failing Graphviz run in a bare exception
        raise ModelError(
            f"Graphviz's '{prog}' failed to lay out the diagram ({e}); pass layout='networkx'"
        ) from e
    back = {v: k for k, v in ids.items()}
    pos = {}
    for line in plain.splitlines():
        parts = line.split()
        if parts and parts[0] == "node" and parts[1] in back:
            pos[back[parts[1]]] = (float(parts[2]), float(parts[3]))
    missing = [n for n in sizes if n not in pos]
    if missing:
        raise ModelError(f"Graphviz's '{prog}' placed no position for {missing[0]!r}; pass layout='networkx'")
    return pos


def _networkx(sizes, edges, edge_length, seed):
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(sizes)
    g.add_edges_from(edges)
    # components are laid out one by one and set side by side: Kamada-Kawai has no distance between them
    comps = sorted(nx.connected_components(g), key=lambda c: (-len(c), sorted(map(str, c))))
    pos: dict = {}
    x_offset = 0.0
    singles = [next(iter(c)) for c in comps if len(c) == 1]
    for comp in (c for c in comps if len(c) > 1):
        sub = g.subgraph(comp)
        if len(sub) == 2:
            a, b = sorted(comp, key=str)
            local = {a: np.array([0.0, 0.0]), b: np.array([1.0, 0.0])}
        else:
            start = nx.circular_layout(sub)
            local = nx.kamada_kawai_layout(sub, pos=start)
        # scale so that the mean linked distance is the wanted gap plus the boxes' reach
        ds = [np.linalg.norm(local[a] - local[b]) for a, b in sub.edges]
        reach = np.mean([max(sizes[n]) for n in comp])
        want = 0.8 * (edge_length + reach)
        scale = want / np.mean(ds) if ds and np.mean(ds) > 0 else 1.0
        local = {n: p * scale for n, p in local.items()}
        xs = [p[0] - sizes[n][0] / 2 for n, p in local.items()]
        shift = x_offset - min(xs)
        for n, p in local.items():
            pos[n] = (float(p[0] + shift), float(p[1]))
        x_offset = max(pos[n][0] + sizes[n][0] / 2 for n in comp) + edge_length
    # unlinked variables: in rows under the drawing, as wide as it is
    width = max(x_offset - edge_length, 4.0)
    y = min((pos[n][1] - sizes[n][1] / 2 for n in pos), default=0.0) - edge_length
    x = 0.0
    row_h = 0.0
    for n in singles:
        w, h = sizes[n]
        if x > 0 and x + w > width:
            x, y, row_h = 0.0, y - row_h - 0.3, 0.0
        pos[n] = (x + w / 2, y - h / 2)
        x += w + 0.3
        row_h = max(row_h, h)
    return pos


def overlapping(pos: Mapping, sizes: Mapping, margin: float = 0.0) -> list[tuple]:
    """Return the pairs of boxes that overlap (closer than ``margin`` on both axes)."""
    keys = list(pos)
    out = []
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            if (
                abs(pos[a][0] - pos[b][0]) < (sizes[a][0] + sizes[b][0]) / 2 + margin - 1e-9
                and abs(pos[a][1] - pos[b][1]) < (sizes[a][1] + sizes[b][1]) / 2 + margin - 1e-9
            ):
                out.append((a, b))
    return out


def separate(pos: Mapping, sizes: Mapping, margin: float = 0.3, iterations: int = 300) -> dict:
    """Move boxes apart until no two overlap (with ``margin`` inches between them).

    Overlapping pairs are pushed apart along the axis where they overlap less,
    which keeps the layout's shape; if that has not converged after
    ``iterations`` sweeps, the whole layout is scaled about its centre by the
    smallest factor that separates every pair, which always succeeds.
    """
    keys = list(pos)
    p = np.array([pos[k] for k in keys], dtype=float).reshape(-1, 2)
    wh = np.array([sizes[k] for k in keys], dtype=float).reshape(-1, 2)
    n = len(keys)
    if n < 2:
        return {k: (float(x), float(y)) for k, (x, y) in zip(keys, p)}
    need = (wh[:, None, :] + wh[None, :, :]) / 2 + margin  # required centre distance per axis
    iu = np.triu_indices(n, 1)
    for _ in range(iterations):
        d = p[:, None, :] - p[None, :, :]
        over = need - np.abs(d)  # > 0 on an axis: overlapping along it
        hit = (over[..., 0] > 1e-9) & (over[..., 1] > 1e-9)
        hit[np.tril_indices(n)] = False
        if not hit.any():
            break
        move = np.zeros_like(p)
        for i, j in zip(*np.nonzero(hit)):
            axis = 0 if over[i, j, 0] / need[i, j, 0] < over[i, j, 1] / need[i, j, 1] else 1
            sign = np.sign(d[i, j, axis]) or (1.0 if i < j else -1.0)
            push = over[i, j, axis] / 2 + 1e-3
            move[i, axis] += sign * push
            move[j, axis] -= sign * push
        p += move
    d = np.abs(p[:, None, :] - p[None, :, :])
    over = (need - d > 1e-9).all(axis=-1)
    if over[iu].any():
        with np.errstate(divide="ignore"):
            factor = np.where(d > 0, need / np.maximum(d, 1e-12), np.inf).min(axis=-1)
        scale = float(factor[iu][over[iu]].max()) * 1.0001
        centre = p.mean(axis=0)
        p = centre + (p - centre) * scale
    return {k: (float(x), float(y)) for k, (x, y) in zip(keys, p)}
