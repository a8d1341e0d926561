"""Graph exports of a model's causal structure: GraphML, DOT, Kumu JSON, Mermaid.

The graph is the causal-loop diagram: a hand-drawn model's signed links, or
for a stock-flow model the links inferred from its equations (through
:mod:`trafficsys.cld` when it can give polarities; otherwise inflows are
``+``, outflows ``-`` and equation links ``?``).  Every node carries ``label``,
``kind``, ``doc`` and ``role``; every edge ``polarity`` and ``delay``.

GraphML goes through :func:`networkx.write_graphml` (Gephi, yEd, Cytoscape),
DOT through :func:`networkx.drawing.nx_pydot.to_pydot` (Graphviz), Kumu JSON
follows Kumu's "blueprint" import format (``elements`` / ``connections``),
and Mermaid writes a ``flowchart LR`` block for Markdown docs.

Examples
--------
>>> import trafficsys as ts
>>> m = ts.Model("toy")
>>> _ = m.link("trust", "reporting", "+"); _ = m.link("reporting", "trust", "-", delay=True)
>>> print(to_mermaid(m))
flowchart LR
    trust["trust"]
    reporting["reporting"]
    trust -->|+| reporting
    reporting -.->|- delay| trust
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import networkx as nx

from ..errors import FileFormatError
from ..model.elements import Kind, Stock
from ..model.model import Model
from ..model.names import canonical

__all__ = ["causal_graph", "to_graphml", "to_dot", "to_kumu", "to_mermaid", "write_graph", "GRAPH_FORMATS"]

#: file suffix -> writer
GRAPH_FORMATS = {".graphml": "graphml", ".dot": "dot", ".gv": "dot", ".json": "kumu", ".mmd": "mermaid"}


def causal_graph(model: Model) -> nx.DiGraph:
    """Return the model's causal structure as a networkx DiGraph with scalar attributes.

    Parameters
    ----------
    model
        A stock-flow model or a hand-drawn CLD (``model.links``).

    Returns
    -------
    networkx.DiGraph
        Nodes: canonical names with ``label``, ``kind``, ``doc``, ``role``.
        Edges: ``polarity`` (``+ - ?``), ``delay`` (bool), ``note``.
    """
    g = nx.DiGraph(name=model.name)

    def node(key: str) -> None:
        if key in g:
            return
        if key in model:
            e = model[key]
            g.add_node(key, label=e.name, kind=e.kind.value, doc=e.doc or "", role=e.role or "")
        else:
            info = model.cld_variables.get(key, {})
            g.add_node(key, label=key, kind="variable", doc=str(info.get("doc", "")), role=str(info.get("role") or ""))

    if model.links:
        for k in model.cld_variables:
            node(k)
        for lk in model.links:
            node(lk.source)
            node(lk.target)
            g.add_edge(lk.source, lk.target, polarity=lk.polarity, delay=bool(lk.delay), note=lk.note or "")
        return g
    inferred = _cld_edges(model)
    dep = model.graph()
    stateful = {k for k in model.names() if isinstance(model[k], Stock)}
    for k in model.names():
        node(k)
    for a, b, data in dep.edges(data=True):
        via = data.get("via")
        if via == "initial":
            continue
        if (a, b) in inferred:
            pol, delay = inferred[(a, b)]
        else:
            pol = {"inflow": "+", "outflow": "-"}.get(via, "?")
            delay = b in stateful
        node(a)
        node(b)
        g.add_edge(a, b, polarity=pol, delay=bool(delay), note="")
    return g


def _cld_edges(model: Model) -> dict[tuple[str, str], tuple[str, bool]]:
    """Polarities from the CLD analysis, when it is available and can read the model."""
    try:
        cld = model.cld()
    except Exception:  # the CLD module may not support this model; fall back to '?'
        return {}
    g = None
    for attr in ("to_networkx", "graph", "digraph", "g"):
        obj = getattr(cld, attr, None)
        obj = obj() if callable(obj) else obj
        if isinstance(obj, nx.DiGraph):
            g = obj
            break
    if g is None:
        return {}
    out = {}
    for a, b, d in g.edges(data=True):
        pol = d.get("polarity", d.get("sign", "?"))
        if pol in (1, "+1"):
            pol = "+"
        elif pol in (-1, "-1"):
            pol = "-"
        out[(canonical(str(a)), canonical(str(b)))] = (str(pol) if pol in ("+", "-") else "?",
                                                      bool(d.get("delay", False)))
    return out


def to_graphml(model: Model, path: str | os.PathLike) -> None:
    """Write the causal graph as GraphML (Gephi, yEd, Cytoscape), atomically."""
    from .output import atomic_path

    g = causal_graph(model)
    with atomic_path(path) as tmp:
        nx.write_graphml(g, tmp)


def to_dot(model: Model) -> str:
    """Return the causal graph as Graphviz DOT text (stocks as boxes, delayed links marked ``||``)."""
    from networkx.drawing.nx_pydot import to_pydot

    g = causal_graph(model)
    h = nx.DiGraph()
    ids = {n: _mermaid_id(n, i) for i, n in enumerate(g.nodes)}  # plain identifiers: no quoting pitfalls
    h.graph["graph"] = {"rankdir": "LR"}
    for n, d in g.nodes(data=True):
        attrs = {"label": d["label"], "shape": "box" if d["kind"] == Kind.STOCK.value else "ellipse"}
        if d["doc"]:
            attrs["tooltip"] = d["doc"]
        h.add_node(ids[n], **attrs)
    for a, b, d in g.edges(data=True):
        label = d["polarity"] + (" ||" if d["delay"] else "")
        attrs = {"label": label, "color": {"+": "darkgreen", "-": "firebrick"}.get(d["polarity"], "gray40")}
        if d["delay"]:
            attrs["style"] = "dashed"
        h.add_edge(ids[a], ids[b], **attrs)
    dot = to_pydot(h)
    dot.set_name(re.sub(r"\W", "_", model.name) or "model")
    return dot.to_string()


def to_kumu(model: Model) -> dict[str, Any]:
    """Return the causal graph as a Kumu blueprint: ``{"elements": [...], "connections": [...]}``."""
    g = causal_graph(model)
    labels = {n: d["label"] for n, d in g.nodes(data=True)}
    elements = []
    for _, d in g.nodes(data=True):
        el = {"label": d["label"], "type": d["kind"], "description": d["doc"]}
        if d["role"]:
            el["tags"] = [d["role"]]
        elements.append(el)
    connections = []
    for a, b, d in g.edges(data=True):
        c = {"from": labels[a], "to": labels[b], "direction": "directed",
             "type": {"+": "same", "-": "opposite"}.get(d["polarity"], "unknown"),
             "polarity": d["polarity"], "delay": d["delay"]}
        if d["note"]:
            c["description"] = d["note"]
        connections.append(c)
    return {"elements": elements, "connections": connections}


def to_mermaid(model: Model) -> str:
    """Return the causal graph as a Mermaid ``flowchart LR`` (solid ``+``/``-`` arrows, dotted when delayed)."""
    g = causal_graph(model)
    ids = {n: _mermaid_id(n, i) for i, n in enumerate(g.nodes)}
    lines = ["flowchart LR"]
    for n, d in g.nodes(data=True):
        label = d["label"].replace('"', "'")
        shape = f'["{label}"]' if d["kind"] != Kind.STOCK.value else f'[["{label}"]]'
        lines.append(f"    {ids[n]}{shape}")
    for a, b, d in g.edges(data=True):
        tag = d["polarity"] + (" delay" if d["delay"] else "")
        arrow = "-.->" if d["delay"] else "-->"
        lines.append(f"    {ids[a]} {arrow}|{tag}| {ids[b]}")
    return "\n".join(lines)


def _mermaid_id(name: str, i: int) -> str:
    safe = re.sub(r"\W", "_", name)
    keywords = ("end", "graph", "node", "edge", "digraph", "strict", "subgraph")
    return safe if safe and safe == name and not safe[0].isdigit() and safe not in keywords else f"n{i}_{safe}"


def write_graph(model: Model, path: str | os.PathLike) -> str:
    """Write the causal graph in the format given by the suffix; return the format name."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    fmt = GRAPH_FORMATS.get(suffix)
    if fmt is None:
        raise FileFormatError(f"no graph format for '{suffix}'; use one of {', '.join(GRAPH_FORMATS)}", file=path)
    from .output import check_output, write_text

    check_output(path, what="graph file")
    # the content is made before the file is touched, and replaces it in one step (atomic_path)
    if fmt == "graphml":
        to_graphml(model, path)
        return fmt
    make = {"dot": to_dot, "mermaid": to_mermaid}.get(fmt)
    text = make(model) if make is not None else json.dumps(to_kumu(model), indent=1)
    write_text(path, text + "\n")
    return fmt
