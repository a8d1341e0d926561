"""Systems archetypes in a causal-loop diagram.

An archetype is a small combination of feedback loops that share variables
(Senge 1990; Kim 1992; Kim & Anderson 1998; Wolstenholme 2003).  Following
Schoenenberger, Schmid & Schwaninger (2015), detection works on *loops*
rather than on exact textbook node counts, so that it also finds archetypes in
diagrams derived from stock-flow models, where flows and auxiliaries sit
between the textbook variables:

1. enumerate the loops and their polarities;
2. for each pair of loops that share variables, find their *common arc*: the
   shared variables must form one unbroken stretch of both loops, in the same
   order; the rest of each loop is its *exclusive arc*;
3. match loop combinations against each archetype's signature (loop
   polarities, which arcs are shared, which are exclusive, where delays sit)
   and read the roles off the arcs;
4. score, de-duplicate and rank.

The signatures, with their sources, are in ``docs/archetypes.md`` and in
:data:`ARCHETYPES`.  Delays and role tags (``role = "goal"`` on a variable)
are *evidence*: they raise a match's score but are not required, since
hand-drawn diagrams often omit delay marks.  Some archetypes share one loop
structure (eroding goals and escalation are both two balancing loops around a
hub; fixes that fail and limits to growth are both a balancing and a
reinforcing loop on a common arc): the delay position and role tags tell them
apart, and when neither does, the match says so in ``ambiguous_with``.

Ranking: a match that explains more loops ranks first (a shifting the burden,
three loops, above the fixes-that-fail-like pair it contains), then the one
with more evidence (agreeing role tags and delays), then the more compact one.
A match whose loops are all part of a higher-ranked match is dropped, and
matches of one kind that fill the same roles are merged.

The matches come back as :class:`~trafficsys.cld.findings.ArchetypeMatches`,
a list whose ``.findings`` groups the matches that share one structure (the
routes of one archetype through different side paths) and ranks them by role
tags, loop dominance when given, and structure: see
:mod:`trafficsys.cld.findings`.

References
----------
Schoenenberger, L., Schmid, A., Schwaninger, M. (2015). Towards the
algorithmic detection of archetypal structures in system dynamics. System
Dynamics Review 31(1-2), 66-85. https://doi.org/10.1002/sdr.1526
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ModelError
from .diagram import CausalLoopDiagram, role_tags
from .loop_search import Loop, _as_cld
from .loop_search import loops as _loops

if TYPE_CHECKING:  # pragma: no cover
    from .findings import ArchetypeMatches

__all__ = ["ArchetypeMatch", "Archetype", "ARCHETYPES", "KINDS", "archetypes", "detection_loops"]


@dataclass(frozen=True)
class Archetype:
    """The signature of one archetype (documentation and role names)."""

    kind: str
    title: str
    roles: tuple[str, ...]
    loops: str
    source: str


ARCHETYPES: dict[str, Archetype] = {
    a.kind: a
    for a in [
        Archetype(
            "fixes_that_fail",
            "Fixes that fail",
            ("problem", "fix", "unintended_consequence"),
            "B (problem -> fix -> problem) and R (problem -> fix -> consequence -> problem) on the common "
            "arc problem -> fix; delay on the R loop's exclusive arc",
            "Senge 1990; Kim 1992",
        ),
        Archetype(
            "shifting_the_burden",
            "Shifting the burden",
            ("problem_symptom", "symptomatic_solution", "fundamental_solution", "side_effect"),
            "B1 (symptom -> symptomatic solution -> symptom), B2 (symptom -> fundamental solution -> "
            "symptom, delayed), R3 (symptomatic solution -> side effect -> fundamental solution -> symptom)",
            "Senge 1990; Kim & Anderson 1998",
        ),
        Archetype(
            "limits_to_growth",
            "Limits to growth",
            ("growing_action", "performance", "slowing_action", "limiting_condition"),
            "R (growing action <-> performance) and B (performance <-> slowing action) sharing performance; "
            "limiting condition feeds the slowing action; delay, if any, on B",
            "Senge 1990; Kim 1992",
        ),
        Archetype(
            "eroding_goals",
            "Eroding goals",
            ("gap", "goal", "corrective_action", "pressure_to_lower_goal"),
            "two B loops diverging at the gap: gap -> corrective action -> condition -> gap (delayed) and "
            "gap -> pressure to lower goal -> goal -> gap",
            "Senge 1990; Kim & Anderson 1998",
        ),
        Archetype(
            "escalation",
            "Escalation",
            ("activity_a", "activity_b", "relative_position"),
            "two B loops diverging at the relative position, one through each party's activity; "
            "together a figure-eight R",
            "Senge 1990; Kim & Anderson 1998",
        ),
        Archetype(
            "success_to_the_successful",
            "Success to the successful",
            ("success_a", "success_b", "allocation"),
            "two R loops diverging at the allocation with opposite signs (resources to A instead of B)",
            "Senge 1990; Kim & Anderson 1998",
        ),
        Archetype(
            "tragedy_of_the_commons",
            "Tragedy of the commons",
            ("activity_a", "activity_b", "total_activity", "resource_limit"),
            "per party an R loop (activity -> gain -> activity) and a B loop through the total activity; "
            "the two B loops share the arc total activity -> gain per activity",
            "Senge 1990; Kim 1992",
        ),
        Archetype(
            "growth_and_underinvestment",
            "Growth and underinvestment",
            ("growing_action", "performance", "capacity", "investment", "performance_standard"),
            "a limits-to-growth pair (R and B) plus a B investment loop through performance -> need to "
            "invest -> investment -> capacity (delayed) -> performance, apart from the R loop",
            "Senge 1990; Kim & Anderson 1998",
        ),
    ]
}

#: the kind ids, in the order of the issue
KINDS = tuple(ARCHETYPES)
_ALL_ROLES = frozenset(r for a in ARCHETYPES.values() for r in a.roles)
#: tags that mark the "to the intervenor" form of shifting the burden
_INTERVENOR_TAGS = {
    "intervenor": ("symptomatic_solution", "side_effect"),
    "own_capability": ("fundamental_solution",),
    "host_capability": ("fundamental_solution",),
}


@dataclass(frozen=True)
class ArchetypeMatch:
    """One archetype found in a diagram.

    Attributes
    ----------
    kind
        The archetype's id (see :data:`KINDS`).
    roles
        Role name -> variable (None for an optional outside role that the
        diagram does not have, e.g. a limiting condition).
    loops
        The loops that make up the archetype.
    score
        Ranking score: 10 per loop, plus 3 per agreeing role tag (minus 3 per
        conflicting one), plus 1 when a delay sits where the archetype has it,
        plus 1 per loop the model file names, minus 0.01 per link.
    variant
        ``"to_the_intervenor"`` for the saviour form of shifting the burden.
    ambiguous_with
        Other archetypes with the same loops and as much evidence (add role
        tags or delay marks to tell them apart).
    notes
        Readable remarks (missing delay, ambiguity...).
    delay_as_expected
        True when a delay mark sits where the archetype has it (part of the
        score; used again to rank findings).
    """

    kind: str
    roles: dict[str, str | None]
    loops: tuple[Loop, ...]
    score: float
    variant: str | None = None
    ambiguous_with: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    delay_as_expected: bool = field(default=False, compare=False)

    @property
    def title(self) -> str:
        """Readable name of the archetype (with its variant)."""
        t = ARCHETYPES[self.kind].title
        return f"{t} (to the intervenor)" if self.variant == "to_the_intervenor" else t

    @property
    def loop_ids(self) -> tuple[str, ...]:
        """The ids of its loops."""
        return tuple(lp.id for lp in self.loops)

    def __repr__(self) -> str:
        return f"<ArchetypeMatch {self.kind}: loops {' '.join(self.loop_ids)}, score {self.score:.2f}>"

    def _repr_html_(self) -> str:
        import html

        e = html.escape
        roles = "".join(f"<tr><td>{e(str(k))}</td><td>{e(str(v))}</td></tr>" for k, v in self.roles.items())
        loops = "".join(f"<li>{e(_clip(str(lp), 200))}</li>" for lp in self.loops[:6])
        amb = f" (or {e(', '.join(self.ambiguous_with))})" if self.ambiguous_with else ""
        return (
            f"<div><p><b>{e(self.title)}</b>{amb}, score {self.score:.2f}</p><table><thead><tr><th>role</th>"
            f"<th>variable</th></tr></thead><tbody>{roles}</tbody></table><ul>{loops}</ul>"
            + (
                f"<p>... and {len(self.loops) - 6} more loops (<code>.loops</code>)</p>"
                if len(self.loops) > 6
                else ""
            )
            + "</div>"
        )

    def __str__(self) -> str:
        roles = ", ".join(f"{k}={v}" for k, v in self.roles.items())
        amb = f" [or {', '.join(self.ambiguous_with)}]" if self.ambiguous_with else ""
        return f"{self.title}{amb}: loops {' '.join(self.loop_ids)}; {roles}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# ----------------------------------------------------------------------------- arcs
@dataclass(frozen=True)
class _Pair:
    arc: tuple[str, ...]  # the common arc, in causal order
    x1: tuple[str, ...]  # first loop's exclusive arc, from after arc[-1] to before arc[0]
    x2: tuple[str, ...]


def _runs(seq: tuple[str, ...], shared: set[str]) -> list[tuple[str, ...]]:
    n = len(seq)
    if len(shared) == n:
        return [seq[i:] + seq[:i] for i in range(n)]
    starts = [i for i in range(n) if seq[i] in shared and seq[i - 1] not in shared]
    if len(starts) != 1:
        return []
    i, run = starts[0], []
    while seq[i % n] in shared:
        run.append(seq[i % n])
        i += 1
    return [tuple(run)]


def _after(seq: tuple[str, ...], arc: tuple[str, ...]) -> tuple[str, ...]:
    n = len(seq)
    i = seq.index(arc[-1])
    out = []
    for k in range(1, n):
        v = seq[(i + k) % n]
        if v == arc[0]:
            break
        out.append(v)
    return tuple(out)


def _pair(a: Loop, b: Loop) -> _Pair | None:
    shared = set(a.variables) & set(b.variables)
    if not shared:
        return None
    rb = _runs(b.variables, shared)
    arcs = [r for r in _runs(a.variables, shared) if r in rb]
    if len(arcs) != 1:
        return None
    arc = arcs[0]
    return _Pair(arc, _after(a.variables, arc), _after(b.variables, arc))


# ------------------------------------------------------------------------ context
class _Context:
    """Loops, pairs and graph facts shared by the detectors."""

    def __init__(self, cld: CausalLoopDiagram, loops: list[Loop], drains: bool = False):
        self.cld = cld
        self.loops = [
            lp for lp in loops if lp.polarity in ("R", "B") and (drains or lp.name or not _is_drain(cld, lp))
        ]
        self.vs = [frozenset(lp.variables) for lp in self.loops]
        self.pairs: dict[tuple[int, int], _Pair] = {}
        self.nbrs: dict[int, set[int]] = defaultdict(set)
        by_var: dict[str, list[int]] = defaultdict(list)
        for i, lp in enumerate(self.loops):
            for v in lp.variables:
                by_var[v].append(i)
        seen: set[tuple[int, int]] = set()
        for idx in by_var.values():
            for i, j in itertools.combinations(idx, 2):
                if (i, j) in seen:
                    continue
                seen.add((i, j))
                p = _pair(self.loops[i], self.loops[j])
                if p is None:
                    continue
                self.pairs[(i, j)] = p
                self.pairs[(j, i)] = _Pair(p.arc, p.x2, p.x1)
                self.nbrs[i].add(j)
                self.nbrs[j].add(i)
        self.by_var = by_var
        self.preds: dict[str, set[str]] = defaultdict(set)
        self.signs: dict[tuple[str, str], str] = {}
        self.delay: dict[tuple[str, str], bool] = {}
        for lk in cld.links:
            self.preds[lk.target].add(lk.source)
            self.signs[(lk.source, lk.target)] = lk.polarity
            self.delay[(lk.source, lk.target)] = lk.delay
        self.on_loop = set(by_var)
        self._tags = {v: role_tags(info.get("role")) for v, info in cld.variables.items() if info.get("role")}
        self.kind = {v: info.get("kind") for v, info in cld.variables.items()}
        self.role_tagged = {v: t & _ALL_ROLES for v, t in self._tags.items() if t & _ALL_ROLES}

    def of(self, polarity: str) -> list[int]:
        return [i for i, lp in enumerate(self.loops) if lp.polarity == polarity]

    def tags(self, v: str | None) -> frozenset[str]:
        return self._tags.get(v, frozenset()) if v else frozenset()

    def own_delay(self, i: int, j: int) -> bool:
        """Return True when loop ``i`` has a delayed link that loop ``j`` does not share."""
        other = set(self.loops[j].links)
        lp = self.loops[i]
        return any(d and link not in other for link, d in zip(lp.links, lp.delays))

    def pick(self, candidates: Iterable[str], role: str) -> str:
        """Return a variable from ``candidates``: the one tagged with ``role`` if any, else the first."""
        cands = list(candidates)
        for v in cands:
            if role in self.tags(v):
                return v
        return cands[0]

    def pick_state(self, candidates: Iterable[str], role: str) -> str:
        """Like :meth:`pick`, but an untagged choice prefers a stock (where a stock-flow model keeps the state)."""
        cands = list(candidates)
        for v in cands:
            if role in self.tags(v):
                return v
        stocks = [v for v in cands if self.kind.get(v) == "stock"]
        return (stocks or cands)[0]

    def outside(self, targets: Iterable[str], exclude: Set[str], role: str) -> str | None:
        """Return an input from outside the match's loops into ``targets`` (tagged, exogenous, then by name)."""
        cands = sorted({p for t in targets for p in self.preds.get(t, ()) if p not in exclude})
        if not cands:
            return None
        return min(
            cands, key=lambda v: (role not in self.tags(v), v in self.on_loop, bool(self.preds.get(v)), v)
        )


def _is_drain(cld: CausalLoopDiagram, lp: Loop) -> bool:
    """Return a first-order drain: a stock and its own outflow (``stock -> outflow -> stock``, balancing)."""
    if lp.length != 2 or lp.polarity != "B":
        return False
    kinds = [cld.variables.get(v, {}).get("kind") for v in lp.variables]
    return set(kinds) == {"flow", "stock"}


@dataclass
class _Cand:
    kind: str
    roles: dict[str, str | None]
    loops: tuple[int, ...]
    evidence: float = 0.0
    hint: float = 0.0
    notes: list[str] = field(default_factory=list)
    variant: str | None = None


# ------------------------------------------------------------------------ detectors
def _fixes_that_fail(cx: _Context) -> Iterable[_Cand]:
    for b in cx.of("B"):
        for r in cx.nbrs[b]:
            if cx.loops[r].polarity != "R":
                continue
            p = cx.pairs[(b, r)]
            if len(p.arc) < 2 or not p.x2:
                continue
            c = _Cand(
                "fixes_that_fail",
                {
                    "problem": p.arc[0],
                    "fix": p.arc[-1],
                    "unintended_consequence": cx.pick(p.x2, "unintended_consequence"),
                },
                (b, r),
            )
            if cx.own_delay(r, b):
                c.evidence += 1
            else:
                c.notes.append("no delay mark on the unintended consequence's path")
            yield c


def _limits_to_growth(cx: _Context) -> Iterable[_Cand]:
    for r in cx.of("R"):
        for b in cx.nbrs[r]:
            if cx.loops[b].polarity != "B":
                continue
            p = cx.pairs[(r, b)]
            if not p.x2:
                continue
            growing = cx.pick(p.x1, "growing_action") if p.x1 else (p.arc[0] if len(p.arc) > 1 else None)
            if growing is None:
                continue
            slowing = cx.pick(p.x2, "slowing_action")
            members = cx.vs[r] | cx.vs[b]
            c = _Cand(
                "limits_to_growth",
                {
                    "growing_action": growing,
                    "performance": p.arc[-1],
                    "slowing_action": slowing,
                    "limiting_condition": cx.outside(p.x2, members, "limiting_condition"),
                },
                (r, b),
            )
            if cx.own_delay(b, r):
                c.evidence += 1
            elif cx.own_delay(r, b):
                c.notes.append("the delay sits on the growth loop, as in fixes that fail")
            yield c


def _two_balancing(cx: _Context) -> Iterable[_Cand]:
    """Eroding goals and escalation: two B loops that diverge at one hub."""
    bs = cx.of("B")
    for i, j in itertools.combinations(bs, 2):
        p = cx.pairs.get((i, j))
        if p is None or not p.x1 or not p.x2:
            continue
        hub = p.arc[-1]
        out1, out2 = cx.signs[(hub, p.x1[0])], cx.signs[(hub, p.x2[0])]
        in1, in2 = cx.signs[(p.x1[-1], p.arc[0])], cx.signs[(p.x2[-1], p.arc[0])]
        # eroding goals: which loop lowers the goal?  tags first, then gap = goal - condition
        goal_tags = {"goal", "pressure_to_lower_goal"}
        t1 = any(cx.tags(v) & goal_tags for v in p.x1)
        t2 = any(cx.tags(v) & goal_tags for v in p.x2)
        first_is_goal = t1 if t1 != t2 else (in1 == "+" and in2 != "+") or (in1 == in2 and i < j)
        (gi, xg), (ci, xc) = ((i, p.x1), (j, p.x2)) if first_is_goal else ((j, p.x2), (i, p.x1))
        eg = _Cand(
            "eroding_goals",
            {
                "gap": hub,
                "goal": cx.pick_state(reversed(xg), "goal"),
                "corrective_action": cx.pick(xc, "corrective_action"),
                "pressure_to_lower_goal": cx.pick(xg, "pressure_to_lower_goal"),
            },
            (ci, gi),
        )
        if eg.roles["goal"] == eg.roles["pressure_to_lower_goal"] and len(xg) > 1:
            eg.roles["goal"] = xg[-1]
        eg.hint = 0.5 if out1 == out2 else 0.0
        if cx.own_delay(ci, gi):
            eg.evidence += 1
        yield eg
        # escalation: activity A is the party that acts when the relative position (A vs B) falls
        a_tags = {"activity_a"}
        ta1 = any(cx.tags(v) & a_tags for v in p.x1)
        ta2 = any(cx.tags(v) & a_tags for v in p.x2)
        first_is_a = ta1 if ta1 != ta2 else (out1 == "-" and out2 != "-") or (out1 == out2 and i < j)
        (ai, xa), (bi, xb) = ((i, p.x1), (j, p.x2)) if first_is_a else ((j, p.x2), (i, p.x1))
        esc = _Cand(
            "escalation",
            {
                "activity_a": cx.pick(xa, "activity_a"),
                "activity_b": cx.pick(xb, "activity_b"),
                "relative_position": hub,
            },
            (ai, bi),
        )
        esc.hint = 0.5 if out1 != out2 else 0.0
        if cx.own_delay(ai, bi) or cx.own_delay(bi, ai):  # escalation has its delays on either side
            esc.evidence += 1
        yield esc


def _success_to_the_successful(cx: _Context) -> Iterable[_Cand]:
    for i, j in itertools.combinations(cx.of("R"), 2):
        p = cx.pairs.get((i, j))
        if p is None or not p.x1 or not p.x2:
            continue
        hub = p.arc[-1]
        out1, out2 = cx.signs[(hub, p.x1[0])], cx.signs[(hub, p.x2[0])]
        if {out1, out2} != {"+", "-"}:
            continue  # the allocation must favour one party at the other's expense
        (ai, xa), (bi, xb) = ((i, p.x1), (j, p.x2)) if out1 == "+" else ((j, p.x2), (i, p.x1))
        yield _Cand(
            "success_to_the_successful",
            {
                "success_a": cx.pick(reversed(xa), "success_a"),
                "success_b": cx.pick(reversed(xb), "success_b"),
                "allocation": hub,
            },
            (ai, bi),
        )


def _shifting_the_burden(cx: _Context) -> Iterable[_Cand]:
    for r in cx.of("R"):
        bs = [b for b in cx.nbrs[r] if cx.loops[b].polarity == "B"]
        for b1, b2 in itertools.permutations(bs, 2):
            p1, p2 = cx.pairs[(b1, r)], cx.pairs[(b2, r)]
            if len(p1.arc) < 2 or len(p2.arc) < 2 or p1.arc[0] != p2.arc[-1]:
                continue
            if (b1, b2) not in cx.pairs:
                continue
            rv = cx.loops[r].variables
            side = _between(rv, p1.arc[-1], p2.arc[0])
            if not side or set(side) & (cx.vs[b1] | cx.vs[b2]):
                continue
            # in a stock-flow model the fundamental solution may sit after the side effect on R3's own arc
            # (side effect -> erosion -> capacity -> ...): tags first, then a stock, then where R3 joins B2
            fundamental = (
                cx.pick_state((*side[1:], *p2.arc[:-1]), "fundamental_solution")
                if any("fundamental_solution" in cx.tags(v) or cx.kind.get(v) == "stock" for v in side[1:])
                else cx.pick_state(p2.arc[:-1], "fundamental_solution")
            )
            before = side[: side.index(fundamental)] if fundamental in side else side
            roles: dict[str, str | None] = {
                "problem_symptom": p1.arc[0],
                "symptomatic_solution": p1.arc[-1],
                "fundamental_solution": fundamental,
                "side_effect": cx.pick(before, "side_effect"),
            }
            c = _Cand("shifting_the_burden", roles, (b1, b2, r))
            if cx.own_delay(b2, b1):
                c.evidence += 1
            else:
                c.notes.append("no delay mark on the fundamental solution's loop")
            for tag, where in _INTERVENOR_TAGS.items():
                if any(tag in cx.tags(roles[w]) for w in where) or (
                    tag == "intervenor" and any(tag in cx.tags(v) for v in side)
                ):
                    c.variant = "to_the_intervenor"
            yield c


def _between(seq: tuple[str, ...], start: str, end: str) -> tuple[str, ...]:
    n = len(seq)
    i = seq.index(start)
    out: list[str] = []
    for k in range(1, n):
        v = seq[(i + k) % n]
        if v == end:
            return tuple(out)
        out.append(v)
    return ()


def _tragedy_of_the_commons(cx: _Context) -> Iterable[_Cand]:
    for i, j in itertools.combinations(cx.of("B"), 2):
        p = cx.pairs.get((i, j))
        if p is None or not p.x1 or not p.x2 or set(p.x1) & set(p.x2):
            continue
        # a commons: both parties add to the total the same way and the resource feeds back to both the same way
        if (
            cx.signs[(p.x1[-1], p.arc[0])] != cx.signs[(p.x2[-1], p.arc[0])]
            or cx.signs[(p.arc[-1], p.x1[0])] != cx.signs[(p.arc[-1], p.x2[0])]
        ):
            continue
        common = set(p.arc)

        def own(b, x, other, common=common):
            """Return a party's own R loop: on one arc with its B loop through its activity, apart from the commons."""
            return [
                r
                for r in cx.by_var.get(x[-1], ())
                if cx.loops[r].polarity == "R" and not cx.vs[r] & (common | set(other)) and (r, b) in cx.pairs
            ]

        ra, rb = own(i, p.x1, p.x2), own(j, p.x2, p.x1)
        members = cx.vs[i] | cx.vs[j]
        limit = cx.outside(p.arc, members, "resource_limit") or (p.arc[-1] if len(p.arc) > 1 else None)
        for a, b in itertools.product(ra, rb):
            if cx.vs[a] & cx.vs[b]:
                continue
            (ia, xa, loop_a), (ib, xb, loop_b) = sorted(  # A: the party tagged activity_a, else by name
                [(i, p.x1, a), (j, p.x2, b)],
                key=lambda t: (not any("activity_a" in cx.tags(v) for v in t[1]), t[1][-1]),
            )
            yield _Cand(
                "tragedy_of_the_commons",
                {
                    "activity_a": cx.pick(reversed(xa), "activity_a"),
                    "activity_b": cx.pick(reversed(xb), "activity_b"),
                    "total_activity": p.arc[0],
                    "resource_limit": limit,
                },
                (loop_a, ia, loop_b, ib),
            )


def _growth_and_underinvestment(cx: _Context) -> Iterable[_Cand]:
    for r in cx.of("R"):
        for bl in cx.nbrs[r]:
            if cx.loops[bl].polarity != "B":
                continue
            plr = cx.pairs[(r, bl)]
            if not plr.x2:
                continue
            growing = (
                cx.pick(plr.x1, "growing_action") if plr.x1 else (plr.arc[0] if len(plr.arc) > 1 else None)
            )
            if growing is None:
                continue
            for bi in cx.nbrs[bl]:
                if bi == r or cx.loops[bi].polarity != "B" or cx.vs[bi] & cx.vs[r]:
                    continue
                pi = cx.pairs[(bl, bi)]
                x = pi.x2
                if len(x) < 2:
                    continue
                members = set().union(*(cx.loops[k].variables for k in (r, bl, bi)))
                capacity = cx.pick_state(reversed(x), "capacity")
                investment = cx.pick([v for v in reversed(x) if v != capacity], "investment")
                c = _Cand(
                    "growth_and_underinvestment",
                    {
                        "growing_action": growing,
                        "performance": pi.arc[-1],
                        "capacity": capacity,
                        "investment": investment,
                        "performance_standard": cx.outside(x, members, "performance_standard"),
                    },
                    (r, bl, bi),
                )
                if cx.own_delay(bi, bl):
                    c.evidence += 1
                else:
                    c.notes.append("no delay mark on the capacity investment loop")
                yield c


_DETECTORS = {
    "fixes_that_fail": _fixes_that_fail,
    "shifting_the_burden": _shifting_the_burden,
    "limits_to_growth": _limits_to_growth,
    "eroding_goals": _two_balancing,
    "escalation": _two_balancing,
    "success_to_the_successful": _success_to_the_successful,
    "tragedy_of_the_commons": _tragedy_of_the_commons,
    "growth_and_underinvestment": _growth_and_underinvestment,
}


# -------------------------------------------------------------------- scoring, ranking
def _tag_evidence(cx: _Context, c: _Cand) -> tuple[int, int]:
    """Role tags that agree with the match, and variables of the match tagged with another role."""
    if not cx.role_tagged:
        return 0, 0
    agree = sum(1 for role, v in c.roles.items() if v and role in cx.tags(v))
    assigned: dict[str, set[str]] = defaultdict(set)
    for role, v in c.roles.items():
        if v:
            assigned[v].add(role)
    conflict = 0
    roles = ARCHETYPES[c.kind].roles
    for v, wanted in cx.role_tagged.items():
        if v in assigned:
            conflict += not wanted & assigned[v]  # tagged for another role
        elif any(v in cx.vs[k] for k in c.loops):
            # on the match's loops, tagged for a role of this archetype that went to a variable without the tag
            conflict += any(r in wanted and c.roles.get(r) and r not in cx.tags(c.roles[r]) for r in roles)
    return agree, conflict


def archetypes(
    cld: CausalLoopDiagram,
    *,
    kinds: Iterable[str] | None = None,
    length_bound: int | str | None = "auto",
    max_loops: int = 100_000,
    deduplicate: bool = True,
    drains: bool = False,
    budget: int = 200,
    results: Any = None,
) -> ArchetypeMatches:
    """Detect systems archetypes, ranked, with their roles filled.

    Parameters
    ----------
    cld
        A :class:`CausalLoopDiagram`, or a Model (turned into one with
        ``m.cld()``; pass the model to rank by behaviour from ``results``).
    kinds
        Only these archetypes (default: all of :data:`KINDS`).
    length_bound
        Only use loops with at most this many links; None: every loop;
        ``"auto"`` (default): every loop when there are at most ``budget``,
        otherwise the shortest ones up to the longest length that keeps
        within ``budget`` loops, plus the loops the model file names (see
        :func:`detection_loops`).  Archetypes are small structures, and the
        number of loop combinations grows fast with the number of loops.
    max_loops
        Refuse diagrams with more loops than this (pass ``length_bound``).
        Detection itself refuses more than ``10 * budget`` loops.
    deduplicate
        Merge matches of one kind filling the same roles, keep one kind per
        set of loops, and drop matches contained in a higher-ranked one.
    drains
        Also use first-order drains of stock-flow models (a stock and its own
        outflow, ``stock -> outflow -> stock``): every stock that empties
        in proportion to itself has one, and they would pair with any loop
        through the stock.  Off by default, except for drains the model file
        names as loops.
    results
        For a behavioural ranking of the findings: a
        :class:`~trafficsys.analysis.dominance.LoopDominance`
        (``ts.loop_dominance(m, r)``).  It ranks the grouped findings, never
        changes which matches are detected.  To rank by a run directly, use
        ``ts.archetypes(m, results=r)`` (:mod:`trafficsys.analysis.archetype_ranking`),
        which checks the signs against the run and scores its loops.

    Returns
    -------
    ArchetypeMatches
        A list of :class:`ArchetypeMatch`, best first, whose ``.findings``
        groups the matches that share one structure into ranked
        :class:`~trafficsys.cld.findings.ArchetypeFinding` objects;
        ``.summary()`` tabulates the top findings, and its ``repr`` is a
        screen-sized summary.

    Raises
    ------
    ModelError
        For an unknown kind, too many loops, or ``results`` that are not loop
        dominance given with a diagram rather than the model.

    Examples
    --------
    >>> cld = CausalLoopDiagram.from_edges(
    ...     [("problem", "fix", "+"), ("fix", "problem", "-"), ("fix", "consequence", "+"),
    ...      ("consequence", "problem", "+")], delays=[("fix", "consequence")])
    >>> [(m.kind, m.roles["fix"]) for m in archetypes(cld)]
    [('fixes_that_fail', 'fix')]
    >>> archetypes(cld).findings[0].roles["problem"]
    ('problem',)
    """
    from .findings import ArchetypeMatches

    model = cld if not isinstance(cld, CausalLoopDiagram) and hasattr(cld, "cld") else None
    dominance = _dominance(model, results)
    cld = _as_cld(cld)
    wanted = tuple(KINDS if kinds is None else [kinds] if isinstance(kinds, str) else kinds)
    for k in wanted:
        if k not in ARCHETYPES:
            raise ModelError(f"unknown archetype '{k}'; known: {', '.join(KINDS)}")
    used, _, _ = detection_loops(cld, length_bound, budget=budget, max_loops=max_loops)
    if len(used) > 10 * budget:
        raise ModelError(
            f"{len(used)} loops are too many to combine into archetypes (the combinations grow "
            f"with the square and the cube of the loop count); pass length_bound='auto' (the "
            f"default), a number such as length_bound=10, or a larger budget=",
            file=cld.file,
        )
    cx = _Context(cld, used, drains)
    cands: list[_Cand] = []
    for detector in dict.fromkeys(_DETECTORS[k] for k in wanted):
        for c in detector(cx):
            filled = [v for v in c.roles.values() if v]
            if c.kind in wanted and len(set(filled)) == len(filled):  # one variable, one role
                cands.append(c)
    scored = []
    for c in cands:
        agree, conflict = _tag_evidence(cx, c)
        length = sum(cx.loops[k].length for k in c.loops)
        named = sum(1 for k in c.loops if cx.loops[k].name)  # loops the modeller drew on purpose
        primary = 10 * len(c.loops) + 3 * (agree - conflict) + c.evidence + named
        scored.append((primary, primary + c.hint - 0.01 * length, c))
    scored.sort(key=lambda t: (-t[1], t[2].kind, sorted(t[2].loops)))
    if deduplicate:
        scored = _deduplicate(scored)
    out = []
    for _primary, score, c, amb in ((*t[:3], t[3] if len(t) > 3 else ()) for t in scored):
        notes = list(c.notes)
        if amb:
            notes.append(
                f'the same loops also fit {", ".join(amb)}: add role tags (role = "...") or delay '
                "marks to tell them apart"
            )
        out.append(
            ArchetypeMatch(
                c.kind,
                dict(c.roles),
                tuple(cx.loops[k] for k in c.loops),
                round(score, 3),
                c.variant,
                tuple(amb),
                tuple(notes),
                c.evidence > 0,
            )
        )
    return ArchetypeMatches(out, cld, dominance)


def _is_dominance(results: Any) -> bool:
    return hasattr(results, "relative") and hasattr(results, "loops")


def _dominance(model: Any, results: Any) -> Any:
    """Return the loop dominance to rank by: None, or a LoopDominance (``ts.archetypes`` scores raw runs)."""
    if results is None or _is_dominance(results):
        return results
    if model is None:
        raise ModelError(
            "to rank archetypes by loop dominance from simulation results, pass the model rather "
            "than its diagram (ts.archetypes(m, results=r)), or pass the loop dominance itself "
            "(results=ts.loop_dominance(m, r))"
        )
    raise ModelError(
        "trafficsys.cld.archetypes reads structure only: rank by behaviour with "
        "ts.archetypes(m, results=r), which scores the run, or pass results=ts.loop_dominance(m, r)"
    )


def detection_loops(
    cld: CausalLoopDiagram,
    length_bound: int | str | None = "auto",
    *,
    budget: int = 200,
    max_loops: int = 100_000,
) -> tuple[list[Loop], int | None, int | None]:
    """Return the loops archetype detection uses: ``(loops, length bound used, number of loops in all)``.

    With ``length_bound="auto"``: every loop when there are at most
    ``budget``; otherwise the shortest loops, up to the longest length that
    keeps within ``budget``, plus every loop the model file names.  Loop ids
    are those of the full enumeration (a length-bounded enumeration numbers
    the same loops the same way, since ids follow length).  The total is None
    when there are more than ``max_loops`` loops.
    """
    cld = _as_cld(cld)
    if length_bound != "auto":
        if isinstance(length_bound, str):
            raise ModelError(
                f"length_bound must be a whole number of at least 1, None or 'auto', got {length_bound!r}",
                file=cld.file,
            )
        return _loops(cld, length_bound, max_loops=max_loops), length_bound, None
    try:
        every = _loops(cld, max_loops=max_loops)
    except ModelError:
        every = None
    if every is not None and not every.complete:  # too many to hold: only a summary came back
        every = None
    if every is not None and len(every) <= budget:
        return every, None, len(every)
    if every is None:
        bound = 1
        while _held(_loops(cld, bound + 1, max_loops=max_loops)) <= budget:
            bound += 1
        return _loops(cld, bound, max_loops=max_loops), bound, None
    lengths = sorted(lp.length for lp in every)
    bound = lengths[budget] - 1 if lengths[budget] > lengths[0] else lengths[0]
    return [lp for lp in every if lp.length <= bound or lp.name], bound, len(every)


def _held(found) -> float:
    """Return the number of loops in a complete listing; infinite for a summary of too many to hold."""
    return len(found) if getattr(found, "complete", True) else float("inf")


def _deduplicate(scored: list[tuple]) -> list[tuple]:
    kept: list[tuple] = []
    seen_roles: set[tuple] = set()
    by_loops: dict[frozenset, int] = {}
    containing: dict[int, list[frozenset]] = defaultdict(list)  # loop -> kept loop sets holding it
    for primary, score, c in scored:
        key = (c.kind, tuple(sorted((k, v or "") for k, v in c.roles.items())))
        if key in seen_roles:
            continue
        seen_roles.add(key)
        loopset = frozenset(c.loops)
        if loopset in by_loops:
            idx = by_loops[loopset]
            p0, s0, c0, amb = kept[idx]
            if abs(primary - p0) < 1e-9 and c.kind != c0.kind and c.kind not in amb:
                kept[idx] = (p0, s0, c0, (*amb, c.kind))
            continue
        first = next(iter(loopset))
        if any(loopset < other for other in containing.get(first, ())):
            continue
        by_loops[loopset] = len(kept)
        for k in loopset:
            containing[k].append(loopset)
        kept.append((primary, score, c, ()))
    return kept
