"""Feedback loops of a causal-loop diagram.

A feedback loop is an elementary cycle of the diagram: a closed causal path
that visits no variable twice.  Its polarity is the product of its link
signs: reinforcing (``R``) with an even number of ``-`` links, balancing
(``B``) with an odd number, and ``?`` when any link is ``?``.

Ids are stable: loops are ordered by length, then by their variables read
from the alphabetically first one, and numbered per polarity (``R1, R2...``,
``B1...``, ``U1...`` for ``?``).  They do not depend on the order in which the
links were drawn.  This one rotation and order (:func:`rotate_loop`,
:func:`loop_order`) serve every loop the package lists: the diagram's, and
the ones loop dominance scores (:func:`trafficsys.loop_dominance`), which are
:class:`Loop` objects too.

Two loops through the same variables in a different order are different loops
(they use different links), so loops are never merged by their variable set.

Named loops
-----------
A model file may name loops (``[loops.name] variables = [...]``).  One rule,
used by the diagram and by loop dominance alike (:func:`match_named_loops`): a
declared loop names the shortest found loop that passes through its variables
*in the same cyclic order*; the list may leave out any variable between them
(``m.loop("growth", ["births"])`` names the shortest loop through ``births``).
When several loops of that length fit, the first by id is named and a note
says so; a declared loop that fits none, or a loop two declarations describe,
is reported too.
"""

from __future__ import annotations

import html
import itertools
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, SupportsIndex, overload

import networkx as nx

from ..errors import ModelError, UnknownVariableError
from ..model.names import canonical, suggest
from .diagram import CausalLoopDiagram

__all__ = [
    "Loop",
    "LoopList",
    "LoopCensus",
    "loop_census",
    "iter_cycles",
    "loops",
    "loops_through",
    "independent_loops",
    "loop_polarity",
    "rotate_loop",
    "loop_order",
    "graph_cycles",
    "named_loop_notes",
    "match_named_loops",
]


@dataclass(frozen=True)
class Loop:
    """One feedback loop.

    Attributes
    ----------
    id
        ``"R1"``, ``"B2"``, ``"U1"``... (see the module docstring).
    polarity
        ``"R"`` (reinforcing), ``"B"`` (balancing) or ``"?"`` (a link is unknown).
    variables
        Canonical names in causal order, starting at the alphabetically first.
    signs
        The polarity of each link ``variables[i] -> variables[i + 1]`` (the last
        closes the loop).
    delays
        Whether each of those links carries a delay mark.
    name
        The name the model file gives the loop, if any.
    """

    id: str
    polarity: str
    variables: tuple[str, ...]
    signs: tuple[str, ...]
    delays: tuple[bool, ...]
    name: str | None = None

    @property
    def links(self) -> list[tuple[str, str]]:
        """The loop's links ``(source, target)`` in causal order."""
        v = self.variables
        return [(v[i], v[(i + 1) % len(v)]) for i in range(len(v))]

    @property
    def length(self) -> int:
        """Number of links (= number of variables)."""
        return len(self.variables)

    @property
    def delayed(self) -> bool:
        """True when any link of the loop carries a delay mark."""
        return any(self.delays)

    def __contains__(self, variable: object) -> bool:
        return isinstance(variable, str) and canonical(variable) in self.variables

    def __str__(self) -> str:
        label = f"{self.id} {self.name}" if self.name else self.id
        return f"{label}: " + " -> ".join((*self.variables, self.variables[0]))


class LoopList(list):
    """A list of :class:`Loop` that shows a screen-sized summary in a notebook and a terminal.

    It is a plain ``list`` in every other way (iterate, index, ``len``,
    compare with a list); slicing gives a ``LoopList`` too.  A model with
    thousands of loops would otherwise print megabytes: ``repr()`` and
    ``_repr_html_()`` show the number of loops by polarity and length and the
    first ``LoopList.show`` loops only.  Everything is in the list itself, in
    :meth:`to_pandas` (one row per loop) and in :meth:`summary` (the counts).

    Examples
    --------
    >>> cld = CausalLoopDiagram.from_edges([("a", "b"), ("b", "a"), ("b", "c", "-"), ("c", "a")])
    >>> loops(cld)
    2 feedback loops: 1 reinforcing (R), 1 balancing (B), 0 unknown (?); lengths 2-3 links
      R1: a -> b -> a
      B1: a -> b -> c -> a
    """

    #: how many loops the text and HTML views list
    show = 10
    #: False when the diagram has too many loops to hold: the list is then the shortest independent set
    complete = True
    #: with ``complete`` False, the counts of every loop by length and polarity (:class:`LoopCensus`)
    census: LoopCensus | None = None

    @overload
    def __getitem__(self, i: SupportsIndex) -> Loop: ...

    @overload
    def __getitem__(self, i: slice) -> LoopList: ...

    def __getitem__(self, i):
        out = super().__getitem__(i)
        return LoopList(out) if isinstance(i, slice) else out

    def counts(self) -> dict[str, int]:
        """Count the loops per polarity: ``{"R": ..., "B": ..., "?": ...}``."""
        c = Counter(lp.polarity for lp in self)
        return {p: c.get(p, 0) for p in ("R", "B", "?")}

    def summary(self):
        """Count the loops by length (rows) and polarity (columns ``R``, ``B``, ``?``, ``total``).

        For a diagram with too many loops to hold (``complete`` False), the
        counts of every loop (streamed, see :func:`loop_census`).

        Returns
        -------
        pandas.DataFrame
            Indexed by loop length in links, one row per length that occurs.
        """
        if not self.complete and self.census is not None:
            return self.census.summary()
        return _count_table(Counter((lp.length, lp.polarity) for lp in self))

    def to_pandas(self):
        """One row per loop: ``id, polarity, length, delayed, name, variables``."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "id": lp.id,
                    "polarity": lp.polarity,
                    "length": lp.length,
                    "delayed": lp.delayed,
                    "name": lp.name or "",
                    "variables": " -> ".join(lp.variables),
                }
                for lp in self
            ],
            columns=["id", "polarity", "length", "delayed", "name", "variables"],
        )

    def _headline(self) -> str:
        if not self.complete and self.census is not None:
            return (
                f"{self.census.describe()}: too many to hold, so the {len(self):,} loops listed are the "
                "shortest independent set (every link on a loop is on one of them); iter_cycles() streams "
                "them all"
            )
        c = self.counts()
        head = (
            f"{len(self):,} feedback loop{'s' if len(self) != 1 else ''}: {c['R']:,} reinforcing (R), "
            f"{c['B']:,} balancing (B), {c['?']:,} unknown (?)"
        )
        if self:
            lengths = [lp.length for lp in self]
            lo, hi = min(lengths), max(lengths)
            head += f"; lengths {lo}-{hi} links" if lo != hi else f"; {lo} link{'s' if lo != 1 else ''} each"
        named = sum(1 for lp in self if lp.name)
        return head + (f"; {named} named" if named else "")

    def __repr__(self) -> str:
        lines = [self._headline()]
        lines += [f"  {_short(lp)}" for lp in list.__getitem__(self, slice(self.show))]
        if len(self) > self.show:
            lines.append(
                f"  ... and {len(self) - self.show:,} more (.summary() counts them by length and "
                "polarity, .to_pandas() lists them all)"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [f"<p><b>{html.escape(self._headline())}</b></p>"]
        if self:
            by_length = self.summary().T  # polarities as rows: a wide, short table
            parts.append(by_length.to_html(border=0))
            parts.append(
                self[: self.show]
                .to_pandas()
                .assign(variables=lambda df: df["variables"].map(lambda v: _clip(v, 160)))
                .to_html(index=False, border=0)
            )
        if len(self) > self.show:
            parts.append(
                f"<p>... and {len(self) - self.show:,} more loops (<code>.to_pandas()</code> lists them "
                "all)</p>"
            )
        return "\n".join(parts)


def _count_table(c: Counter):
    """Return (length, polarity) counts as a table: lengths as rows, ``R``, ``B``, ``?``, ``total`` columns."""
    import pandas as pd

    lengths = sorted({n for n, _ in c})
    df = pd.DataFrame(
        {p: [c.get((n, p), 0) for n in lengths] for p in ("R", "B", "?")},
        index=pd.Index(lengths, name="length"),
    )
    df["total"] = df.sum(axis=1)
    return df


@dataclass(frozen=True)
class LoopCensus:
    """How many feedback loops a diagram has, by length and polarity, counted without holding them.

    Attributes
    ----------
    counts
        ``(length in links, polarity)`` -> number of loops.
    total
        The number of loops counted.
    complete
        False when counting stopped at its limit (there are more).
    """

    counts: dict[tuple[int, str], int]
    total: int
    complete: bool = True

    def summary(self):
        """Return the counts as a table: lengths as rows, ``R``, ``B``, ``?`` and ``total`` columns."""
        return _count_table(Counter(self.counts))

    def describe(self) -> str:
        """Return one line: the total and the split by polarity."""
        pol: Counter[str] = Counter()
        for (_, p), n in self.counts.items():
            pol[p] += n
        more = "" if self.complete else "more than "
        return (
            f"{more}{self.total:,} feedback loops ({pol['R']:,} R, {pol['B']:,} B, {pol['?']:,} ?"
            f"{'' if self.complete else ' among those counted'})"
        )

    def __repr__(self) -> str:
        return f"<LoopCensus: {self.describe()}>"


def loop_census(
    cld: CausalLoopDiagram, length_bound: int | None = None, *, limit: int = 2_000_000
) -> LoopCensus:
    """Count the diagram's loops by length and polarity, streaming them (memory stays small).

    Parameters
    ----------
    cld
        The diagram.
    length_bound
        Only loops with at most this many links.
    limit
        Stop counting after this many loops (``complete`` is then False).

    Examples
    --------
    >>> cld = CausalLoopDiagram.from_edges([("a", "b"), ("b", "a"), ("b", "c", "-"), ("c", "a")])
    >>> loop_census(cld).describe()
    '2 feedback loops (1 R, 1 B, 0 ?)'
    """
    cld = _as_cld(cld)
    sign = {(lk.source, lk.target): lk.polarity for lk in cld.links}
    counts: Counter = Counter()
    total = 0
    for c in iter_cycles(cld, length_bound):
        if total >= limit:
            return LoopCensus(dict(counts), total, complete=False)
        n = len(c)
        neg = unknown = 0
        for i in range(n):
            p = sign[(c[i], c[(i + 1) % n])]
            if p == "-":
                neg += 1
            elif p != "+":
                unknown = 1
        counts[(n, "?" if unknown else "B" if neg % 2 else "R")] += 1
        total += 1
    return LoopCensus(dict(counts), total)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _short(lp: Loop, width: int = 160) -> str:
    """``str(lp)`` clipped to one line."""
    return _clip(str(lp), width)


def loop_polarity(signs: tuple[str, ...] | list[str]) -> str:
    """``R``, ``B`` or ``?`` from the link polarities of a loop.

    Examples
    --------
    >>> loop_polarity(["+", "-", "-"]), loop_polarity(["-", "+"]), loop_polarity(["+", "?"])
    ('R', 'B', '?')
    """
    if "?" in signs:
        return "?"
    return "R" if sum(s == "-" for s in signs) % 2 == 0 else "B"


def rotate_loop(cycle: Sequence[str]) -> tuple[str, ...]:
    """Return a cycle read from its alphabetically first variable: the one way loops are written.

    Examples
    --------
    >>> rotate_loop(["pop", "births"])
    ('births', 'pop')
    """
    i = min(range(len(cycle)), key=cycle.__getitem__)
    return tuple(cycle[i:]) + tuple(cycle[:i])


def loop_order(cycle: Sequence[str]) -> tuple[int, tuple[str, ...]]:
    """Sort key of a rotated cycle: shorter loops first, then by their variables (ids follow this order)."""
    return len(cycle), tuple(cycle)


def _check_bound(value: object, name: str, file: str | None) -> None:
    """``value`` must be None or a whole number >= 1 (a loop has at least one link)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelError(
            f"{name} must be a whole number of at least 1 (a loop has at least one link), got {value!r}",
            file=file,
        )


def iter_cycles(cld: CausalLoopDiagram, length_bound: int | None = None) -> Iterator[tuple[str, ...]]:
    """Lazily yield each elementary cycle as a tuple of variables (no ids, no order).

    Parameters
    ----------
    cld
        The diagram.
    length_bound
        Only cycles with at most this many links (networkx ``simple_cycles``).
    """
    _check_bound(length_bound, "length_bound", cld.file)
    g = nx.DiGraph()
    g.add_edges_from((lk.source, lk.target) for lk in cld.links)
    yield from graph_cycles(g, length_bound)


def graph_cycles(g: nx.DiGraph, length_bound: int | None = None) -> Iterator[tuple[str, ...]]:
    """Lazily yield each elementary cycle of a directed graph, rotated by :func:`rotate_loop`.

    The one loop enumeration of the package: :func:`iter_cycles` runs it on a
    diagram's links, loop dominance on the model's feedback graph.
    """
    for c in nx.simple_cycles(g, length_bound=length_bound):
        yield rotate_loop(c)


def _make(cld: CausalLoopDiagram, cycles: list[tuple[str, ...]]) -> list[Loop]:
    cycles = sorted(cycles, key=loop_order)
    counters = {"R": 0, "B": 0, "?": 0}
    out = []
    for c in cycles:
        lks = [cld.link(c[i], c[(i + 1) % len(c)]) for i in range(len(c))]
        signs = tuple(lk.polarity for lk in lks)
        pol = loop_polarity(signs)
        counters[pol] += 1
        prefix = "U" if pol == "?" else pol
        out.append(Loop(f"{prefix}{counters[pol]}", pol, c, signs, tuple(lk.delay for lk in lks)))
    return out


def loops(cld: CausalLoopDiagram, length_bound: int | None = None, *, max_loops: int = 100_000) -> LoopList:
    """Every feedback loop of the diagram, with stable ids and names from the model file.

    Parameters
    ----------
    cld
        The diagram (a :class:`~trafficsys.model.Model` is turned into one with ``m.cld()``).
    length_bound
        Only loops with at most this many links (for big diagrams).
    max_loops
        Hold at most this many loops.  Beyond it the result is a summary, not
        a refusal: ``complete`` is False, ``census`` counts every loop by
        length and polarity (streamed, never held), and the list holds the
        shortest independent set (:func:`independent_loops`).  Loop dominance
        finds the loops that matter in such a model by searching
        (:func:`trafficsys.loop_dominance`).

    Returns
    -------
    LoopList
        A list of :class:`Loop`, ordered by length, then by variables; its
        ``repr`` is a screen-sized summary (counts and the first loops).

    Examples
    --------
    >>> cld = CausalLoopDiagram.from_edges([("a", "b"), ("b", "a"), ("b", "c", "-"), ("c", "a")])
    >>> [(lp.id, lp.variables) for lp in loops(cld)]
    [('R1', ('a', 'b')), ('B1', ('a', 'b', 'c'))]
    """
    cld = _as_cld(cld)
    _check_bound(length_bound, "length_bound", cld.file)
    _check_bound(max_loops, "max_loops", cld.file)
    out = _enumerate(cld, length_bound, max_loops)
    if out is not None:
        return LoopList(out)
    # too many to hold: count them all (streamed) and list the shortest independent set
    census = loop_census(cld, length_bound)
    partial = LoopList(
        lp
        for lp in independent_loops(cld, max_loops=max_loops)
        if length_bound is None or lp.length <= length_bound
    )
    partial.complete = False
    partial.census = census
    return partial


def _enumerate(cld: CausalLoopDiagram, length_bound: int | None, max_loops: int) -> list[Loop] | None:
    """Every loop with ids and names (cached), or None when there are more than ``max_loops``."""
    key = (length_bound, max_loops)
    cached = cld._loop_cache.get(key)
    if cached is not None:
        return cached
    found = list(itertools.islice(iter_cycles(cld, length_bound), max_loops + 1))
    if len(found) > max_loops:
        return None
    out = _make(cld, found)
    names, _ = _match_named(cld, out)
    if names:
        out = [Loop(lp.id, lp.polarity, lp.variables, lp.signs, lp.delays, names.get(lp.id)) for lp in out]
    cld._loop_cache[key] = out
    return out


def loops_through(
    cld: CausalLoopDiagram, variable: str, length_bound: int | None = None, *, max_loops: int = 100_000
) -> LoopList:
    """Return the loops that pass through ``variable``, in id order."""
    cld = _as_cld(cld)
    v = canonical(variable)
    if v not in cld.variables:
        raise UnknownVariableError(
            f"no variable '{variable}' in the diagram{suggest(v, cld.variables)}",
            file=cld.file,
            variable=variable,
        )
    return LoopList(lp for lp in loops(cld, length_bound, max_loops=max_loops) if v in lp.variables)


def independent_loops(cld: CausalLoopDiagram, *, max_loops: int = 20_000) -> LoopList:
    """Return the shortest independent loop set (SILS) of Oliva (2004), as a compact summary.

    For every link inside a strongly connected part of the diagram, the
    shortest loop through it (the link plus the shortest path back) is a
    candidate.  Candidates are taken shortest first, and a candidate joins the
    set when it uses a link no loop in the set uses yet.  Every loop in the
    set thus adds a new link, so the loops are independent, and together they
    cover every link that lies on any loop.  The set has at most
    ``links - variables + 1`` loops per strongly connected part (the
    dimension of its cycle space), however many loops the diagram has.

    Loops keep the ids (and names) of :func:`loops` when the full enumeration
    has at most ``max_loops`` loops; otherwise they are numbered within the set.

    References
    ----------
    Oliva, R. (2004). Model structure analysis through graph theory: partition
    heuristics and feedback structure decomposition. System Dynamics Review
    20(4), 313-336. https://doi.org/10.1002/sdr.298
    """
    cld = _as_cld(cld)
    g = nx.DiGraph()
    g.add_edges_from((lk.source, lk.target) for lk in cld.links)
    candidates: set[tuple[str, ...]] = set()
    for comp in nx.strongly_connected_components(g):
        if len(comp) < 2:
            continue
        sub = g.subgraph(comp)
        for u, v in sub.edges:
            back = nx.shortest_path(sub, v, u)  # v ... u
            candidates.add(rotate_loop([u, *back[:-1]]))
    chosen: list[tuple[str, ...]] = []
    covered: set[tuple[str, str]] = set()
    for c in sorted(candidates, key=loop_order):
        links = {(c[i], c[(i + 1) % len(c)]) for i in range(len(c))}
        if links - covered:
            chosen.append(c)
            covered |= links
    full = _enumerate(cld, None, max_loops)
    if full is None:
        return LoopList(_make(cld, chosen))
    everything = {lp.variables: lp for lp in full}
    return LoopList(sorted((everything[c] for c in chosen), key=lambda lp: (lp.length, lp.variables)))


def _as_cld(cld) -> CausalLoopDiagram:
    if isinstance(cld, CausalLoopDiagram):
        return cld
    if hasattr(cld, "cld"):
        return cld.cld()
    raise ModelError(f"expected a CausalLoopDiagram or a Model, got {type(cld).__name__}")


# ---------------------------------------------------------------- named loops
def _in_cyclic_order(declared: Sequence[str], loop: Sequence[str]) -> bool:
    """Return True when every declared variable is on ``loop``, once, in the loop's cyclic order."""
    if not declared or not set(declared) <= set(loop) or len(declared) != len(set(declared)):
        return False
    pos = {v: i for i, v in enumerate(loop)}
    start = pos[declared[0]]
    steps = [(pos[v] - start) % len(loop) for v in declared]
    return all(a < b for a, b in zip(steps, steps[1:]))


def match_named_loops(
    named: Mapping[str, Any], found: Sequence[Sequence[str]], ids: Sequence[str] | None = None
) -> tuple[dict[int, str], list[str]]:
    """Match the modeller's named loops to found loops: the one rule of the module docstring.

    Parameters
    ----------
    named
        Name -> :class:`~trafficsys.model.NamedLoop` (``variables``, optional ``polarity``).
    found
        The loops' variables in causal order, in id order (ties go to the first).
    ids
        The loops' ids, for the notes (default: their positions).

    Returns
    -------
    tuple
        ``{index in found: name}`` and readable notes on declarations that fit badly.

    Examples
    --------
    >>> from trafficsys.model import NamedLoop
    >>> match_named_loops({"growth": NamedLoop("growth", ("births",))}, [("births", "pop"), ("deaths", "pop")])
    ({0: 'growth'}, [])
    """
    ids = list(ids) if ids is not None else [str(i) for i in range(len(found))]
    names: dict[int, str] = {}
    notes: list[str] = []
    for nl in named.values():
        declared = tuple(canonical(v) for v in nl.variables)
        fits = [k for k, loop in enumerate(found) if _in_cyclic_order(declared, loop)]
        if not fits:
            notes.append(
                f"loop '{nl.name}' ({' -> '.join(declared)}) matches no feedback loop of the diagram: "
                "check the variables are in causal order"
            )
            continue
        shortest = min(len(found[k]) for k in fits)
        best = [k for k in fits if len(found[k]) == shortest]
        k = best[0]
        if len(best) > 1:
            notes.append(
                f"loop '{nl.name}' fits {len(best)} loops of the same length "
                f"({', '.join(ids[b] for b in best)}); named {ids[k]}: list more of its variables to choose"
            )
        if k in names:
            notes.append(f"loops '{names[k]}' and '{nl.name}' both describe {ids[k]}; kept '{names[k]}'")
            continue
        names[k] = nl.name
    return names, notes


def _match_named(cld: CausalLoopDiagram, found: list[Loop]) -> tuple[dict[str, str], list[str]]:
    """Loop id -> declared name, and notes on declared loops that fit badly (or are declared with another polarity)."""
    if not cld.named_loops:
        return {}, []
    index, notes = match_named_loops(cld.named_loops, [lp.variables for lp in found], [lp.id for lp in found])
    names = {found[k].id: name for k, name in index.items()}
    declared = {nl.name: nl for nl in cld.named_loops.values()}
    for k, name in index.items():
        nl, lp = declared[name], found[k]
        if nl.polarity and nl.polarity != lp.polarity:
            notes.append(
                f"loop '{nl.name}' is declared {nl.polarity} but its links make it {lp.polarity} "
                f"({lp.id}: {' '.join(lp.signs)})"
            )
    return names, notes


def named_loop_notes(cld: CausalLoopDiagram, length_bound: int | None = None) -> list[str]:
    """Readable notes on the model file's named loops (unmatched, ambiguous, wrong polarity)."""
    cld = _as_cld(cld)
    return _match_named(cld, loops(cld, length_bound))[1]
