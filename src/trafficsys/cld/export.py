"""Graph views of a causal-loop diagram: networkx, Graphviz DOT, Kumu JSON, Mermaid.

Each takes a :class:`~trafficsys.cld.CausalLoopDiagram` (or a model, whose
diagram ``m.cld()`` gives the signs) and simulates nothing.  Every node
carries ``label``, ``kind``, ``doc`` and ``role``; every edge ``polarity`` and
``delay``.  Writing them to files is :func:`trafficsys.io.write_graph`.

DOT goes through :func:`networkx.drawing.nx_pydot.to_pydot` (Graphviz), Kumu
JSON follows Kumu's "blueprint" import format (``elements`` /
``connections``), and Mermaid writes a ``flowchart LR`` block for Markdown
docs.

Examples
--------
>>> cld = CausalLoopDiagram.from_edges([("trust", "reporting", "+"), ("reporting", "trust", "-")],
...                                    delays=[("reporting", "trust")])
>>> print(to_mermaid(cld))
flowchart LR
    trust["trust"]
    reporting["reporting"]
    trust -->|+| reporting
    reporting -.->|- delay| trust
"""

from __future__ import annotations

import re
from typing import Any

import networkx as nx

from ..errors import ModelError
from ..model.elements import Kind, Stock
from ..model.model import Model
from .diagram import CausalLoopDiagram

__all__ = ["causal_graph", "to_dot", "to_kumu", "to_mermaid"]


def causal_graph(source: CausalLoopDiagram | Model, *, cld: CausalLoopDiagram | None = None) -> nx.DiGraph:
    """Return a causal structure as a networkx DiGraph with scalar attributes.

    Nothing is simulated: the polarities are the diagram's.

    Parameters
    ----------
    source
        A causal-loop diagram (its variables and links), or a model: a
        hand-drawn CLD model (``model.links``) or a stock-flow model, whose
        every dependency becomes an edge signed by its diagram.
    cld
        For a stock-flow model: the diagram whose signs to use (default
        ``model.cld()``, signs from the structure alone; pass
        ``confirm_polarities(m.cld(), m, results)`` for signs checked against a run).

    Returns
    -------
    networkx.DiGraph
        Nodes: canonical names with ``label``, ``kind``, ``doc``, ``role``.
        Edges: ``polarity`` (``+ - ?``), ``delay`` (bool), ``note``.
    """
    if isinstance(source, CausalLoopDiagram):
        return _diagram_graph(source)
    model = source
    g = nx.DiGraph(name=model.name)

    def node(key: str) -> None:
        if key in g:
            return
        if key in model:
            e = model[key]
            g.add_node(key, label=e.name, kind=e.kind.value, doc=e.doc or "", role=e.role or "")
        else:
            info = model.cld_variables.get(key, {})
            g.add_node(
                key,
                label=key,
                kind="variable",
                doc=str(info.get("doc", "")),
                role=str(info.get("role") or ""),
            )

    if model.links:
        for k in model.cld_variables:
            node(k)
        for lk in model.links:
            node(lk.source)
            node(lk.target)
            g.add_edge(lk.source, lk.target, polarity=lk.polarity, delay=bool(lk.delay), note=lk.note or "")
        return g
    inferred = _signs(model, cld)
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


def _signs(model: Model, cld: CausalLoopDiagram | None) -> dict[tuple[str, str], tuple[str, bool]]:
    """(source, target) -> (polarity, delay) from the diagram; none when the model has no diagram to give."""
    if cld is None:
        try:
            cld = model.cld()
        except ModelError:  # e.g. a construct the sign analysis cannot read: every equation link is '?'
            return {}
    return {(lk.source, lk.target): (lk.polarity, lk.delay) for lk in cld.links}


def _diagram_graph(cld: CausalLoopDiagram) -> nx.DiGraph:
    g = nx.DiGraph(name=cld.name)
    for key, info in cld.variables.items():
        g.add_node(
            key,
            label=str(info.get("label") or key),
            kind=str(info.get("kind") or "variable"),
            doc=str(info.get("doc") or ""),
            role=str(info.get("role") or ""),
        )
    for lk in cld.links:
        g.add_edge(lk.source, lk.target, polarity=lk.polarity, delay=bool(lk.delay), note=lk.note or "")
    return g


def to_dot(source: CausalLoopDiagram | Model) -> str:
    """Return the causal graph as Graphviz DOT text (stocks as boxes, delayed links marked ``||``)."""
    from networkx.drawing.nx_pydot import to_pydot

    g = causal_graph(source)
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
    dot.set_name(re.sub(r"\W", "_", source.name) or "model")
    return dot.to_string()


def to_kumu(source: CausalLoopDiagram | Model) -> dict[str, Any]:
    """Return the causal graph as a Kumu blueprint: ``{"elements": [...], "connections": [...]}``."""
    g = causal_graph(source)
    labels = {n: d["label"] for n, d in g.nodes(data=True)}
    elements = []
    for _, d in g.nodes(data=True):
        el = {"label": d["label"], "type": d["kind"], "description": d["doc"]}
        if d["role"]:
            el["tags"] = [d["role"]]
        elements.append(el)
    connections = []
    for a, b, d in g.edges(data=True):
        c = {
            "from": labels[a],
            "to": labels[b],
            "direction": "directed",
            "type": {"+": "same", "-": "opposite"}.get(d["polarity"], "unknown"),
            "polarity": d["polarity"],
            "delay": d["delay"],
        }
        if d["note"]:
            c["description"] = d["note"]
        connections.append(c)
    return {"elements": elements, "connections": connections}


def to_mermaid(source: CausalLoopDiagram | Model) -> str:
    """Return the causal graph as a Mermaid ``flowchart LR`` (solid ``+``/``-`` arrows, dotted when delayed)."""
    g = causal_graph(source)
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
    return (
        safe if safe and safe == name and not safe[0].isdigit() and safe not in keywords else f"n{i}_{safe}"
    )
