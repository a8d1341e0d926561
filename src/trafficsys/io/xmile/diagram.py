"""Diagram positions for the ``<views>`` section of a written XMILE file."""

from __future__ import annotations

from ...model.elements import Stock
from ...model.model import Model
from ...model.names import canonical

__all__ = ["layout", "ROW_STOCKS"]


def layout(model: Model) -> dict[str, tuple[float, float]]:
    """Diagram positions of every variable: kept ones first, the rest laid out automatically.

    Stocks go on a grid, chains of stocks joined by flows side by side (a row
    holds at most :data:`ROW_STOCKS` stocks), each flow halfway between the
    stocks it joins or beside its stock when it crosses the model boundary.
    The other variables are placed by a force-directed layout
    (:func:`networkx.spring_layout`, fixed seed, stocks and flows pinned) so
    each sits near what it feeds, then nudged off each other.
    """
    import networkx as nx

    kept = model.metadata.get("xmile_views", {}) if isinstance(model.metadata, dict) else {}
    pos: dict[str, tuple[float, float]] = {}
    for k, p in kept.items():
        if k in model and isinstance(p, dict) and "x" in p and "y" in p:
            pos[k] = (float(p["x"]), float(p["y"]))
    missing = [k for k in model.names() if k not in pos]
    if not missing:
        return pos
    stocks = [canonical(s.name) for s in model.stocks]
    top = 100.0 if not pos else max(y for _, y in pos.values()) + 200.0
    flow_stock: dict[str, list[str]] = {}
    for s in model.stocks:
        for f in (*s.inflows, *s.outflows):
            flow_stock.setdefault(canonical(f), []).append(canonical(s.name))
    sf = nx.Graph()
    sf.add_nodes_from(s for s in stocks if s not in pos)
    for ss in flow_stock.values():
        for a, b in zip(ss, ss[1:]):
            if a in sf and b in sf:
                sf.add_edge(a, b)
    # stocks: chains in reading order, wrapped into rows
    order: list[str] = []
    for comp in sorted(nx.connected_components(sf), key=lambda c: min(stocks.index(x) for x in c)):
        start = min(comp, key=stocks.index)
        order += [n for n in nx.dfs_preorder_nodes(sf.subgraph(comp), start)]
    dx, dy = 320.0, 260.0
    y0 = top + 3 * 130.0  # room above the first row for the auxiliaries
    for i, st in enumerate(order):
        pos[st] = (150.0 + dx * (i % ROW_STOCKS), y0 + dy * (i // ROW_STOCKS))
    taken: set[tuple[int, int]] = {(round(x / 40), round(y / 40)) for x, y in pos.values()}

    def place(key: str, x: float, y: float, step: float = 45.0) -> None:
        for i in range(200):
            cell = (round(x / 40), round((y + step * i) / 40))
            if cell not in taken:
                taken.add(cell)
                pos[key] = (x, y + step * i)
                return
        pos[key] = (x, y)

    # flows joining the same two stocks get parallel pipes within the stocks' height (a stock is drawn
    # 35 high), each valve on its own pipe, the valves staggered along the pipes so they do not overlap
    parallel: dict[frozenset[str], list[str]] = {}
    for f, ss in flow_stock.items():
        if f not in pos and f in model and len(ss) >= 2:
            parallel.setdefault(frozenset(ss[:2]), []).append(f)
    for f, ss in flow_stock.items():
        if f in pos or f not in model:
            continue
        pts = [pos[s] for s in ss if s in pos]
        if len(pts) >= 2:
            group = parallel.get(frozenset(ss[:2]), [f])
            k = group.index(f) - (len(group) - 1) / 2 if f in group else 0.0
            lane = 24.0 / max(1, len(group) - 1)  # the pipes span at most 24 of the stock's 35
            x, y = (pts[0][0] + pts[1][0]) / 2 + 60.0 * k, (pts[0][1] + pts[1][1]) / 2 + lane * k
            place(f, x, y)  # moved down only if something already sits there
        elif pts:
            stock = model[ss[0]]
            assert isinstance(stock, Stock)
            inflow = f in {canonical(x) for x in stock.inflows}
            place(f, pts[0][0] + (-130.0 if inflow else 130.0), pts[0][1] + (-40.0 if inflow else 40.0))
    rest = [k for k in model.names() if k not in pos]
    if rest:
        # force-directed placement in units of one stock spacing, stocks and flows pinned
        unit = dx
        g = model.graph().to_undirected()
        cols = max(1, min(ROW_STOCKS * 2, len(rest)))
        init = {k: (x / unit, y / unit) for k, (x, y) in pos.items()}
        for i, k in enumerate(rest):  # start the free nodes on a grid above the stocks
            init[k] = ((100.0 + 160.0 * (i % cols)) / unit, (top + 130.0 * ((i // cols) % 3)) / unit)
        if pos:
            spring = nx.spring_layout(g, pos=init, fixed=list(pos), k=0.45, iterations=80, seed=1)
        else:
            spring = nx.spring_layout(
                g, pos=init, k=0.45, iterations=80, seed=1, center=(2.0, 1.0), scale=2.0
            )
        xs = [p[0] for p in init.values()]
        ys = [p[1] for p in init.values()]
        lo_x, hi_x, lo_y, hi_y = min(xs) - 1.0, max(xs) + 1.0, min(ys) - 1.0, max(ys) + 1.0
        for k in rest:
            x, y = (float(v) for v in spring[k])
            x = min(max(x, lo_x), hi_x) * unit  # unconnected variables would drift away: keep them near
            y = min(max(y, lo_y), hi_y) * unit
            place(k, round(x / 10) * 10, round(y / 10) * 10)
    if (
        not kept
    ):  # a fresh layout: move it clear of the page's top-left corner (tools clip negative positions)
        lo_x = min(x for x, _ in pos.values())
        lo_y = min(y for _, y in pos.values())
        sx, sy = max(0.0, 60.0 - lo_x), max(0.0, 60.0 - lo_y)
        if sx or sy:
            pos = {k: (x + sx, y + sy) for k, (x, y) in pos.items()}
    return pos


#: Most stocks in one row of an automatic layout.
ROW_STOCKS = 5
