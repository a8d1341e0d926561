"""Graph exports of a model's causal structure written to files: GraphML, DOT, Kumu JSON, Mermaid.

The graph views themselves live with the causal-loop diagram
(:mod:`trafficsys.cld.export`) and simulate nothing; this module writes them,
atomically, in the format the file suffix names.  GraphML goes through
:func:`networkx.write_graphml` (Gephi, yEd, Cytoscape).

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

import networkx as nx

from ..cld.diagram import CausalLoopDiagram
from ..cld.export import causal_graph, to_dot, to_kumu, to_mermaid
from ..errors import FileFormatError
from ..io.output import atomic_path, check_output, write_text
from ..model.model import Model

__all__ = ["causal_graph", "to_graphml", "to_dot", "to_kumu", "to_mermaid", "write_graph", "GRAPH_FORMATS"]

#: file suffix -> writer
GRAPH_FORMATS = {".graphml": "graphml", ".dot": "dot", ".gv": "dot", ".json": "kumu", ".mmd": "mermaid"}


def to_graphml(model: CausalLoopDiagram | Model, path: str | os.PathLike) -> None:
    """Write the causal graph as GraphML (Gephi, yEd, Cytoscape), atomically."""
    g = causal_graph(model)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # our own handle: the write fails where ours fails
        nx.write_graphml(g, fh)


def write_graph(model: CausalLoopDiagram | Model, path: str | os.PathLike) -> str:
    """Write the causal graph in the format given by the suffix; return the format name."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    fmt = GRAPH_FORMATS.get(suffix)
    if fmt is None:
        raise FileFormatError(
            f"no graph format for '{suffix}'; use one of {', '.join(GRAPH_FORMATS)}", file=path
        )
    check_output(path, what="graph file")
    # the content is made before the file is touched, and replaces it in one step (atomic_path)
    if fmt == "graphml":
        to_graphml(model, path)
        return fmt
    make = {"dot": to_dot, "mermaid": to_mermaid}.get(fmt)
    text = make(model) if make is not None else json.dumps(to_kumu(model), indent=1)
    write_text(path, text + "\n")
    return fmt
