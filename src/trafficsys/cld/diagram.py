"""The :class:`CausalLoopDiagram`: variables and signed causal links.

A causal-loop diagram (CLD) is a directed graph whose edges carry a polarity:
``+`` (the target moves in the same direction as the source), ``-`` (the
opposite direction) or ``?`` (unknown, or changing within the operating
range).  A link may carry a delay mark, a note and a strength.  A diagram is
drawn by hand (:meth:`CausalLoopDiagram.from_edges`, or a CLD-only model file
with ``[[links]]``), or derived from a stock-flow model's equations
(:func:`trafficsys.cld.from_model`, ``m.cld()``).

The analyses are free functions in :mod:`trafficsys.cld.loop_search` and
:mod:`trafficsys.cld.archetype_search`; the methods here are thin conveniences over
them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx

from ..errors import ModelError, UnknownVariableError
from ..model.elements import Link, NamedLoop
from ..model.names import canonical

if TYPE_CHECKING:  # pragma: no cover
    from ..model.model import Model
    from .findings import ArchetypeMatches
    from .loop_search import Loop, LoopList

__all__ = ["CausalLoopDiagram", "PolarityNote", "POLARITIES", "role_tags"]

#: the allowed link polarities
POLARITIES = ("+", "-", "?")


def role_tags(role: str | None) -> frozenset[str]:
    """Return the role tags of a variable: its ``role`` text split at commas and spaces.

    Examples
    --------
    >>> sorted(role_tags("symptomatic_solution, intervenor"))
    ['intervenor', 'symptomatic_solution']
    """
    if not role:
        return frozenset()
    return frozenset(canonical(t) for t in re.split(r"[,\s]+", role) if t.strip())


@dataclass(frozen=True)
class PolarityNote:
    """Why a derived link's polarity is what it is, when that is worth reporting.

    Attributes
    ----------
    source, target
        The link.
    structural
        The sign the equation's structure gives (``+``, ``-``, ``?``).
    observed
        The signs of the partial differences seen over the simulated operating
        range (a subset of ``"+-"``; empty when not checked or always zero).
    polarity
        The polarity the diagram uses.
    message
        One readable sentence.
    """

    source: str
    target: str
    structural: str
    observed: str
    polarity: str
    message: str


@dataclass
class CausalLoopDiagram:
    """Variables joined by signed causal links.

    Parameters
    ----------
    name
        A title (the model's name).
    variables
        Canonical name -> ``{"doc": ..., "role": ..., "label": ..., "kind": ...}``;
        every variable a link touches is added with empty fields.
    links
        The causal links (:class:`trafficsys.model.Link`: ``source``, ``target``,
        ``polarity``, ``delay``, ``note``, ``strength``).
    named_loops
        Loops the modeller named (``[loops.*]`` of a model file).
    notes
        Polarity findings worth reporting (ambiguous links, sign changes in the
        operating range), see :class:`PolarityNote`.
    file
        The model file the diagram came from, for messages.

    Examples
    --------
    >>> cld = CausalLoopDiagram.from_edges([("a", "b", "+"), ("b", "a", "-")], delays=[("a", "b")])
    >>> [str(lp) for lp in cld.loops()]
    ['B1: a -> b -> a']
    >>> cld.polarity("b", "a"), cld.delayed("a", "b")
    ('-', True)
    """

    name: str = "cld"
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    named_loops: dict[str, NamedLoop] = field(default_factory=dict)
    notes: list[PolarityNote] = field(default_factory=list)
    file: str | None = None

    def __post_init__(self) -> None:
        self.variables = {canonical(k): dict(v) for k, v in self.variables.items()}
        self._index: dict[tuple[str, str], int] = {}
        links, self.links = list(self.links), []
        for lk in links:
            self.add_link(lk)
        self._loop_cache: dict[Any, list[Loop]] = {}

    # ------------------------------------------------------------ building
    @classmethod
    def from_edges(
        cls,
        edges: Iterable[tuple],
        delays: Iterable[tuple[str, str]] = (),
        *,
        roles: Mapping[str, str] | None = None,
        docs: Mapping[str, str] | None = None,
        loops: Mapping[str, Iterable[str]] | None = None,
        name: str = "cld",
    ) -> CausalLoopDiagram:
        """Build a diagram from ``(source, target[, polarity[, attributes]])`` tuples.

        Parameters
        ----------
        edges
            Each edge is ``(a, b)`` (polarity ``+``), ``(a, b, "+"|"-"|"?")``
            or ``(a, b, polarity, {"delay": True, "note": ..., "strength": ...})``.
        delays
            ``(a, b)`` pairs whose link carries a delay mark.
        roles, docs
            Optional role tags and docs by variable name.
        loops
            Optional named loops: name -> variables in causal order.
        name
            A title.
        """
        delayed = {(canonical(a), canonical(b)) for a, b in delays}
        links = []
        for edge in edges:
            if len(edge) < 2 or len(edge) > 4:
                raise ModelError(
                    f"edge {edge!r}: write (source, target), (source, target, polarity) "
                    "or (source, target, polarity, {attributes})"
                )
            a, b = canonical(str(edge[0])), canonical(str(edge[1]))
            pol = edge[2] if len(edge) > 2 else "+"
            attrs = dict(edge[3]) if len(edge) > 3 else {}
            links.append(
                Link(
                    a,
                    b,
                    pol,
                    bool(attrs.get("delay", False)) or (a, b) in delayed,
                    str(attrs.get("note", "")),
                    attrs.get("strength"),
                )
            )
        variables: dict[str, dict[str, Any]] = {}
        for n, r in (roles or {}).items():
            variables.setdefault(canonical(n), {})["role"] = r
        for n, d in (docs or {}).items():
            variables.setdefault(canonical(n), {})["doc"] = d
        named = {k: NamedLoop(k, tuple(canonical(v) for v in vs)) for k, vs in (loops or {}).items()}
        cld = cls(name, variables, links, named)
        missing = {(a, b) for a, b in delayed} - set(cld._index)
        if missing:
            a, b = sorted(missing)[0]
            raise UnknownVariableError(
                f"delay mark on {a} -> {b}, but there is no such link; add the edge or drop the delay",
                variable=a,
            )
        return cld

    @classmethod
    def from_model(cls, m: Model, **kwargs: Any) -> CausalLoopDiagram:
        """Return the diagram of a model: see :func:`trafficsys.cld.from_model`."""
        from .derive import from_model

        return from_model(m, **kwargs)

    def add_link(self, link: Link) -> None:
        """Add a link (a second link between the same two variables replaces the first)."""
        if link.polarity not in POLARITIES:
            raise ModelError(
                f"link {link.source} -> {link.target}: polarity must be '+', '-' or '?', "
                f"got {link.polarity!r}",
                file=self.file,
            )
        if link.source == link.target:
            raise ModelError(
                f"link {link.source} -> {link.target} points at itself; a self-loop is not "
                "a causal link in a CLD: draw the loop through the variables involved",
                file=self.file,
                variable=link.source,
            )
        for v in (link.source, link.target):
            self.variables.setdefault(v, {})
        key = (link.source, link.target)
        if key in self._index:
            self.links[self._index[key]] = link
        else:
            self._index[key] = len(self.links)
            self.links.append(link)
        self._loop_cache = {}

    # ------------------------------------------------------------- reading
    def link(self, source: str, target: str) -> Link:
        """Return the link ``source -> target``."""
        key = (canonical(source), canonical(target))
        if key not in self._index:
            raise UnknownVariableError(
                f"no link {key[0]} -> {key[1]} in the diagram", file=self.file, variable=key[0]
            )
        return self.links[self._index[key]]

    def has_link(self, source: str, target: str) -> bool:
        """Return True when the diagram has the link ``source -> target``."""
        return (canonical(source), canonical(target)) in self._index

    def polarity(self, source: str, target: str) -> str:
        """Return the polarity (``+``, ``-``, ``?``) of the link ``source -> target``."""
        return self.link(source, target).polarity

    def delayed(self, source: str, target: str) -> bool:
        """Return True when the link ``source -> target`` carries a delay mark."""
        return self.link(source, target).delay

    def role(self, variable: str) -> str | None:
        """Return the role tag text of a variable (None when untagged)."""
        return self.variables.get(canonical(variable), {}).get("role")

    def tags(self, variable: str) -> frozenset[str]:
        """Return the role tags of a variable (see :func:`role_tags`)."""
        return role_tags(self.role(variable))

    def label(self, variable: str) -> str:
        """How to show a variable: the label it was written with, else its canonical name."""
        return self.variables.get(variable, {}).get("label") or variable

    @property
    def graph(self) -> nx.DiGraph:
        """The diagram as a networkx DiGraph (a fresh copy).

        Node attributes are the variable fields (``doc``, ``role``...); edge
        attributes ``polarity``, ``sign`` (+1, -1, 0 for ``?``), ``delay``,
        ``note`` and ``strength``.
        """
        return self.to_networkx()

    def to_networkx(self) -> nx.DiGraph:
        """Return the diagram as a networkx DiGraph (see :attr:`graph`)."""
        g = nx.DiGraph(name=self.name)
        for v, info in self.variables.items():
            g.add_node(v, **info)
        for lk in self.links:
            g.add_edge(
                lk.source,
                lk.target,
                polarity=lk.polarity,
                sign=_SIGN[lk.polarity],
                delay=lk.delay,
                note=lk.note,
                strength=lk.strength,
            )
        return g

    # ------------------------------------------------------ analyses (thin)
    def loops(self, length_bound: int | None = None, *, max_loops: int = 100_000) -> LoopList:
        """Every feedback loop: see :func:`trafficsys.cld.loop_search.loops`."""
        from .loop_search import loops

        return loops(self, length_bound=length_bound, max_loops=max_loops)

    def loops_through(self, variable: str, length_bound: int | None = None) -> LoopList:
        """Return the loops that pass through ``variable``."""
        from .loop_search import loops_through

        return loops_through(self, variable, length_bound=length_bound)

    def independent_loops(self) -> LoopList:
        """Return the shortest independent loop set (Oliva 2004): see :func:`trafficsys.cld.loop_search.independent_loops`."""
        from .loop_search import independent_loops

        return independent_loops(self)

    def archetypes(self, **kwargs: Any) -> ArchetypeMatches:
        """Systems archetypes in the diagram: see :func:`trafficsys.cld.archetype_search.archetypes`."""
        from .archetype_search import archetypes

        return archetypes(self, **kwargs)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw the diagram and return the matplotlib Axes: see :func:`trafficsys.plot.cld.plot_cld`.

        ``cld.plot(loops=["R1", "B2"])`` draws only the variables on those
        loops; ``highlight=`` emphasises a loop, an archetype match or a block;
        ``layout="networkx"`` lays out without Graphviz.

        Notes
        -----
        ``cld/`` never imports ``plot/`` at module level (plots depend on the
        analyses, not the reverse); this convenience is the one documented
        exception, and it imports the drawing code (and matplotlib) only when
        called.
        """
        from ..plot.cld import plot_cld

        return plot_cld(self, ax, **kwargs)

    def __len__(self) -> int:
        return len(self.variables)

    def _repr_html_(self) -> str:
        import html

        e = html.escape
        degree = sorted(self.variables, key=lambda v: -(self.graph.in_degree(v) + self.graph.out_degree(v)))
        hubs = ", ".join(
            f"{e(v)} ({self.graph.in_degree(v)} in, {self.graph.out_degree(v)} out)" for v in degree[:8]
        )
        named = list(self.named_loops)
        names = ", ".join(e(n) for n in named[:12]) + (" ..." if len(named) > 12 else "")
        return (
            f"<div><p><b>{e(repr(self))}</b></p><p>Most connected: {hubs or 'none'}</p>"
            + (f"<p>Named loops ({len(named)}): {names}</p>" if named else "")
            + "<p>Everything: <code>.links</code>, <code>.loops()</code> (a summary of the feedback loops), "
            "<code>.to_networkx()</code>, <code>ts.archetypes(cld)</code>.</p></div>"
        )

    def __repr__(self) -> str:
        pol = {p: sum(lk.polarity == p for lk in self.links) for p in POLARITIES}
        return (
            f"<CausalLoopDiagram {self.name!r}: {len(self.variables)} variables, {len(self.links)} links "
            f"({pol['+']} +, {pol['-']} -, {pol['?']} ?), {sum(lk.delay for lk in self.links)} delayed>"
        )


_SIGN = {"+": 1, "-": -1, "?": 0}
