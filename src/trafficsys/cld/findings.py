"""Archetype findings: the matches that share one structure, grouped and ranked for reading.

In a stock-flow model, one archetype usually closes through many routes: the
fix and the problem stay the same while the reinforcing loop that makes the
fix fail runs through any of a dozen side paths.  Detection
(:func:`trafficsys.cld.archetype_search.archetypes`) reports each route as its own
:class:`~trafficsys.cld.archetype_search.ArchetypeMatch` (1,625 on the reference
model); a *finding* is one structure with its routes listed under it.

Grouping
--------
Each archetype has *core loops*, the loops that carry its defining roles, and
*core roles*, the variables where those loops meet or split (:data:`CORE`).
The other loops of a match are *path loops*: the route through which the
archetype closes.  Two matches are **one finding** when they have

* the same kind and the same variant (``to_the_intervenor`` or none),
* the same core loops (as a set of loops), and
* the same variable in each core role.

The matches of a finding then differ only in their path loops and in the
roles read along those paths (a side effect, an unintended consequence, a
growing action) or from outside the loops (a limiting condition).  Eroding
goals, escalation and success to the successful are two loops around one hub
with no path loop: each of their findings is one match.  Every match belongs
to exactly one finding, so ``sum(f.n_matches for f in findings)`` is the
number of matches.

Ranking
-------
Findings are ranked by, in order:

1. **role tags**: the number of the finding's roles that agree with the
   model's ``role`` tags minus the number that disagree (a finding whose roles
   the modeller tagged ranks first, and says so);
2. **behaviour**, when loop dominance is given: the mean absolute relative
   loop score (Loops that Matter) of the loops of its best match;
3. the **structural score** (see :func:`group_archetypes`).

References
----------
Schoenberg, W., Davidsen, P., Eberlein, R. (2020). Understanding model
behavior using the Loops that Matter method. System Dynamics Review 36(2),
158-190. https://doi.org/10.1002/sdr.1658
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, SupportsIndex, overload

from .diagram import CausalLoopDiagram, role_tags
from .loop_search import Loop

if TYPE_CHECKING:  # pragma: no cover
    from .archetype_search import ArchetypeMatch

__all__ = [
    "Core",
    "CORE",
    "ROLE_ALIASES",
    "ArchetypeFinding",
    "ArchetypeFindings",
    "ArchetypeMatches",
    "group_archetypes",
    "loop_activity",
]


@dataclass(frozen=True)
class Core:
    """What stays fixed across the matches of one finding.

    Attributes
    ----------
    loops
        Positions, in :attr:`ArchetypeMatch.loops`, of the core loops.
    roles
        The core roles.
    paths
        What the other (path) loops are, in words.
    """

    loops: tuple[int, ...]
    roles: tuple[str, ...]
    paths: str = ""


#: kind -> its core loops and roles (positions follow the order in which each detector lists its loops)
CORE: dict[str, Core] = {
    "fixes_that_fail": Core(
        (0,), ("problem", "fix"), "the reinforcing loop through the unintended consequence"
    ),
    "shifting_the_burden": Core(
        (0, 1),
        ("problem_symptom", "symptomatic_solution"),
        "the reinforcing loop through the side effect (R3)",
    ),
    "limits_to_growth": Core((1,), ("performance", "slowing_action"), "the growth loop"),
    "eroding_goals": Core((0, 1), ("gap", "goal", "corrective_action", "pressure_to_lower_goal")),
    "escalation": Core((0, 1), ("relative_position", "activity_a", "activity_b")),
    "success_to_the_successful": Core((0, 1), ("allocation", "success_a", "success_b")),
    "tragedy_of_the_commons": Core(
        (1, 3), ("total_activity", "activity_a", "activity_b"), "each party's own growth loop"
    ),
    "growth_and_underinvestment": Core(
        (2,), ("performance", "capacity", "investment"), "the growth loop and the limit loop"
    ),
}

#: role tags that mean the same thing in two archetypes: a shifting the burden's symptomatic loop is a
#: fix (Kim 1992), so a variable tagged ``symptomatic_solution`` agrees with the role ``fix``
ROLE_ALIASES: dict[str, str] = {
    "problem": "problem_symptom",
    "problem_symptom": "problem",
    "fix": "symptomatic_solution",
    "symptomatic_solution": "fix",
    "unintended_consequence": "side_effect",
    "side_effect": "unintended_consequence",
}


def _known_roles() -> frozenset[str]:
    from .archetype_search import ARCHETYPES

    return frozenset(r for a in ARCHETYPES.values() for r in a.roles)


# ------------------------------------------------------------------------------ finding
@dataclass(frozen=True)
class ArchetypeFinding:
    """One archetype structure, with the matches (routes) that realise it.

    Attributes
    ----------
    kind
        The archetype's id (see :data:`trafficsys.cld.archetype_search.KINDS`).
    roles
        Role -> the variables that fill it: one for a core role, and for a
        role read along a path, every variable that fills it in some match,
        best match first (``()`` when no match has one, e.g. no limiting
        condition in the diagram).
    core_loops
        The loops every match of the finding shares.
    matches
        Its :class:`ArchetypeMatch` objects, best first (by behaviour when
        given, then role tags, then the match's own score).
    score
        Structural score (see :func:`group_archetypes`); higher is better.
    tags_agree
        ``(role, variable)`` pairs of the best match whose variable carries
        that role (or its alias in :data:`ROLE_ALIASES`) as a ``role`` tag.
    tags_conflict
        ``(role, variable)`` pairs of the best match that disagree with the
        tags: the variable is tagged with other archetype roles only, or it
        is untagged while another variable on the match's loops carries the
        role's tag (the modeller put the role elsewhere).
    behaviour
        Mean absolute relative loop score of the best match's loops, over time
        and runs (a share of the behaviour of their cycle partition, in
        ``[0, 1]``); None without loop dominance, or when none of its loops
        was scored.
    loop_behaviour
        Loop id -> that loop's mean absolute relative score, for the scored
        loops of the finding.
    reasons
        Plain phrases saying why the finding ranks where it does.
    rank
        Its position, 1 for the first.
    """

    kind: str
    roles: dict[str, tuple[str, ...]]
    core_loops: tuple[Loop, ...]
    matches: tuple[ArchetypeMatch, ...]
    score: float
    tags_agree: tuple[tuple[str, str], ...] = ()
    tags_conflict: tuple[tuple[str, str], ...] = ()
    behaviour: float | None = None
    loop_behaviour: dict[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    rank: int = 0

    # ---------------------------------------------------------------- derived
    @property
    def best(self) -> ArchetypeMatch:
        """The best match."""
        return self.matches[0]

    @property
    def n_matches(self) -> int:
        """How many matches the finding groups."""
        return len(self.matches)

    @property
    def variant(self) -> str | None:
        """``"to_the_intervenor"`` for the saviour form of shifting the burden, else None."""
        return self.best.variant

    @property
    def title(self) -> str:
        """Readable name of the archetype (with its variant)."""
        return self.best.title

    @property
    def ambiguous_with(self) -> tuple[str, ...]:
        """Other archetypes the best match fits as well (see :attr:`ArchetypeMatch.ambiguous_with`)."""
        return self.best.ambiguous_with

    @property
    def core_roles(self) -> dict[str, str | None]:
        """Core role -> its variable."""
        return {r: (self.roles[r][0] if self.roles.get(r) else None) for r in CORE[self.kind].roles}

    @property
    def loops(self) -> tuple[Loop, ...]:
        """Every loop of the finding, each once: the core loops, then the path loops."""
        return (*self.core_loops, *self.path_loops)

    @property
    def path_loops(self) -> tuple[Loop, ...]:
        """The loops its matches differ in, best match first."""
        core = {lp.id for lp in self.core_loops}
        seen: dict[str, Loop] = {}
        for m in self.matches:
            for lp in m.loops:
                if lp.id not in core:
                    seen.setdefault(lp.id, lp)
        return tuple(seen.values())

    @property
    def loop_ids(self) -> tuple[str, ...]:
        """The ids of :attr:`loops`."""
        return tuple(lp.id for lp in self.loops)

    @property
    def rank_reason(self) -> str:
        """The reasons as one sentence."""
        return "; ".join(self.reasons)

    def role(self, name: str) -> str | None:
        """Return the (best match's) variable in role ``name``, or None."""
        vs = self.roles.get(name, ())
        return vs[0] if vs else None

    def describe(self, width: int = 3) -> str:
        """Roles as ``role=var`` pairs; a role with several variables shows ``width`` of them and a count."""
        parts = []
        for r, vs in self.roles.items():
            if not vs:
                continue
            shown = "|".join(vs[:width]) + (f"|+{len(vs) - width}" if len(vs) > width else "")
            parts.append(f"{r}={shown}")
        return ", ".join(parts)

    def __str__(self) -> str:
        amb = f" [or {', '.join(self.ambiguous_with)}]" if self.ambiguous_with else ""
        core = " ".join(lp.id for lp in self.core_loops)
        paths = [lp.id for lp in self.path_loops]
        via = f" via {' '.join(paths[:6])}{' ...' if len(paths) > 6 else ''}" if paths else ""
        return (
            f"{self.title}{amb}: {self.describe()}; loops {core}{via} "
            f"({self.n_matches} match{'es' if self.n_matches != 1 else ''})"
        )

    def __repr__(self) -> str:
        return f"<ArchetypeFinding #{self.rank} {self}>"


# ------------------------------------------------------------------------------ behaviour
def loop_activity(dominance: Any, loops: Iterable[Loop]) -> dict[str, float]:
    """Mean absolute relative loop score of each loop, over time and runs.

    Parameters
    ----------
    dominance
        A :class:`~trafficsys.analysis.dominance.LoopDominance` (from
        ``ts.loop_dominance(m, results)``), or a mapping loop id -> score
        computed elsewhere (used as given).
    loops
        The diagram's loops to look up.  A loop is found in the dominance by
        its links (loop dominance may start a loop at another variable).

    Returns
    -------
    dict
        Loop id -> score, for the loops that loop dominance scored *and* that
        compete with other loops in their cycle partition (a loop alone in
        its partition scores ±1 by construction, which says nothing).  Loops
        it left out because they never reached its ``min_contribution``
        score 0.
    """
    loops = list(loops)
    if isinstance(dominance, Mapping):
        return {lp.id: float(dominance[lp.id]) for lp in loops if lp.id in dominance}
    import numpy as np

    mean = np.abs(np.asarray(dominance.relative.transpose("time", "run", "loop").values)).mean(axis=(0, 1))
    by_links = {frozenset(info.links): k for k, info in enumerate(dominance.loops)}
    dropped = getattr(dominance, "omitted", 0) > 0
    out: dict[str, float] = {}
    for lp in loops:
        k = by_links.get(frozenset(lp.links))
        if k is None:
            if dropped:
                out[lp.id] = 0.0
            continue
        if dominance.loops[k].competing:
            out[lp.id] = float(mean[k])
    return out


def _match_behaviour(m: ArchetypeMatch, activity: Mapping[str, float]) -> float | None:
    scored = [activity[lp.id] for lp in m.loops if lp.id in activity]
    return sum(scored) / len(scored) if scored else None


# ------------------------------------------------------------------------------ grouping
def _tag_check(m: ArchetypeMatch, tags: Mapping[str, frozenset[str]], known: frozenset[str]):
    """Roles that agree with the role tags, roles that disagree, and why each disagrees."""
    agree, conflict, why = [], [], []
    on_loops = {v for lp in m.loops for v in lp.variables}
    for role, v in m.roles.items():
        if not v:
            continue
        accepted = {role, ROLE_ALIASES.get(role)}
        t = tags.get(v, frozenset()) & known
        if t & accepted:
            agree.append((role, v))
        elif t:  # tagged for other roles only
            conflict.append((role, v))
            why.append(f"{v} is tagged {'/'.join(sorted(t))} but plays {role}")
        else:  # untagged, while a variable on the loops carries this role's tag
            displaced = sorted(u for u in on_loops if u != v and tags.get(u, frozenset()) & accepted)
            if displaced:
                conflict.append((role, v))
                why.append(
                    f"{displaced[0]} is tagged {role if role in tags[displaced[0]] else ROLE_ALIASES[role]}"
                    f" but {role} goes to {v}"
                )
    return tuple(agree), tuple(conflict), tuple(why)


def _key(m: ArchetypeMatch) -> tuple:
    core = CORE[m.kind]
    return (
        m.kind,
        m.variant,
        frozenset(m.loops[i].id for i in core.loops if i < len(m.loops)),
        tuple(m.roles.get(r) for r in core.roles),
    )


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if x >= 0.001 else f"{100 * x:.2g}%"


def group_archetypes(
    matches: Iterable[ArchetypeMatch],
    cld: CausalLoopDiagram | None = None,
    *,
    dominance: Any = None,
) -> ArchetypeFindings:
    """Group archetype matches that share one structure into findings, and rank them.

    Parameters
    ----------
    matches
        Archetype matches, as :func:`~trafficsys.cld.archetype_search.archetypes` returns them.
    cld
        The diagram they were found in, for its ``role`` tags (without it, no
        tag counts).
    dominance
        Loop dominance for a behavioural ranking: a
        :class:`~trafficsys.analysis.dominance.LoopDominance` or a mapping loop id ->
        score (see :func:`loop_activity`).

    Returns
    -------
    ArchetypeFindings
        Best first.

    Notes
    -----
    The grouping is defined in the module docstring (:mod:`trafficsys.cld.findings`).
    The structural score of a finding is read off its best match:

    ======================================================  ==================
    each role that agrees with a role tag                     +3
    each role that disagrees (see ``tags_conflict``)          -3
    each loop the model file names                            +1
    a delay where the archetype has it                        +1
    compactness: 10 / mean number of links per loop           up to +5
    the same loops also fit another archetype                 -1
    more routes: 0.25 per doubling of the number of matches   -0.25 log2(n)
    ======================================================  ==================

    Short loops come first because a loop's score is the product of its link
    scores: a short loop is less diluted and more likely to carry behaviour,
    and easier to read.  Many routes mean the core sits on a hub that many
    loops cross, a less specific statement than one route.

    The ranking is: role-tag agreement (agreeing minus conflicting tags),
    then, with ``dominance``, the behaviour (mean absolute relative loop
    score of the best match's loops; findings with no scored loop last),
    then the structural score.

    Examples
    --------
    >>> from trafficsys.cld import CausalLoopDiagram, archetypes
    >>> cld = CausalLoopDiagram.from_edges(
    ...     [("problem", "fix", "+"), ("fix", "problem", "-"), ("fix", "harm", "+"), ("harm", "problem", "+"),
    ...      ("fix", "debt", "+"), ("debt", "problem", "+")])
    >>> [f"{f.kind} {f.n_matches} {f.roles['unintended_consequence']}" for f in group_archetypes(archetypes(cld), cld)]
    ["fixes_that_fail 2 ('debt', 'harm')"]
    """
    known = _known_roles()
    matches = list(matches)
    tags: dict[str, frozenset[str]] = {}
    if cld is not None:
        tags = {v: role_tags(info.get("role")) for v, info in cld.variables.items() if info.get("role")}
    activity: dict[str, float] = {}
    if dominance is not None:
        every = {lp.id: lp for m in matches for lp in m.loops}
        activity = loop_activity(dominance, every.values())

    groups: dict[tuple, list[ArchetypeMatch]] = {}
    for m in matches:
        groups.setdefault(_key(m), []).append(m)

    findings = []
    for ms in groups.values():
        checked = {id(m): _tag_check(m, tags, known) for m in ms}
        behaviour = {id(m): _match_behaviour(m, activity) for m in ms}

        def order(m, checked=checked, behaviour=behaviour):
            agree, conflict, _ = checked[id(m)]
            b = behaviour[id(m)]
            return (-(len(agree) - len(conflict)), -(b if b is not None else -1.0), -m.score)

        ms = sorted(ms, key=order)  # stable: ties keep detection's order
        findings.append(_finding(ms, checked[id(ms[0])], behaviour[id(ms[0])], activity))

    def rank(f: ArchetypeFinding):
        return (
            -(len(f.tags_agree) - len(f.tags_conflict)),
            -(f.behaviour if f.behaviour is not None else -1.0) if dominance is not None else 0.0,
            -f.score,
            f.kind,
            f.loop_ids,
        )

    findings.sort(key=rank)
    out = ArchetypeFindings(_with_rank(f, i) for i, f in enumerate(findings, 1))
    out.n_matches = len(matches)
    out.behavioural = dominance is not None
    return out


def _with_rank(f: ArchetypeFinding, rank: int) -> ArchetypeFinding:
    from dataclasses import replace

    return replace(f, rank=rank)


def _finding(
    ms: list[ArchetypeMatch], checked, behaviour: float | None, activity: Mapping[str, float]
) -> ArchetypeFinding:
    best = ms[0]
    core = CORE[best.kind]
    agree, conflict, conflict_why = checked
    roles: dict[str, tuple[str, ...]] = {}
    for r in best.roles:
        roles[r] = tuple(dict.fromkeys(str(m.roles[r]) for m in ms if m.roles.get(r)))
    core_loops = tuple(best.loops[i] for i in core.loops if i < len(best.loops))
    lengths = [lp.length for lp in best.loops]
    mean_length = sum(lengths) / len(lengths)
    named = [lp for lp in best.loops if lp.name]
    score = (
        3 * (len(agree) - len(conflict))
        + len(named)
        + (1 if best.delay_as_expected else 0)
        + 10 / mean_length
        - (1 if best.ambiguous_with else 0)
        - 0.25 * math.log2(len(ms))
    )

    reasons = []
    if agree:
        reasons.append(
            "roles agree with the model's role tags: " + ", ".join(f"{v} as {r}" for r, v in agree)
        )
    if conflict:
        reasons.append("role tags disagree: " + ", ".join(conflict_why))
    if behaviour is not None:
        scored = [(lp.id, activity[lp.id]) for lp in best.loops if lp.id in activity]
        reasons.append(
            f"its loops carry {_pct(behaviour)} of their partition's loop activity on average ("
            + ", ".join(f"{i} {_pct(s)}" for i, s in scored)
            + ")"
        )
    if named:
        reasons.append(
            f"{len(named)} named loop{'s' if len(named) > 1 else ''} ("
            + ", ".join(lp.name or "" for lp in named)
            + ")"
        )
    reasons.append(f"loops of {', '.join(map(str, lengths))} links")
    if best.delay_as_expected:
        reasons.append("a delay where the archetype has it")
    if len(ms) > 1:
        reasons.append(f"{len(ms)} matches that differ in {core.paths or 'their other loops'}")
    if best.ambiguous_with:
        reasons.append(f"the same loops also fit {', '.join(best.ambiguous_with)}")
    loop_behaviour = {lp.id: activity[lp.id] for m in ms for lp in m.loops if lp.id in activity}
    return ArchetypeFinding(
        best.kind,
        roles,
        core_loops,
        tuple(ms),
        round(score, 3),
        agree,
        conflict,
        behaviour,
        loop_behaviour,
        tuple(reasons),
    )


# ------------------------------------------------------------------------------ lists
class ArchetypeFindings(list):
    """Ranked :class:`ArchetypeFinding` objects, with screen-sized views.

    A plain ``list`` otherwise; slicing gives an ``ArchetypeFindings``.
    ``repr()`` and ``_repr_html_()`` show the first ``show`` findings and a
    "... and K more" line; :meth:`summary` and :meth:`to_pandas` give tables.
    """

    #: how many findings the text and HTML views show
    show = 8
    #: the number of matches grouped (set by :func:`group_archetypes`)
    n_matches: int = 0
    #: True when ranked with loop dominance
    behavioural: bool = False

    @overload
    def __getitem__(self, i: SupportsIndex) -> ArchetypeFinding: ...

    @overload
    def __getitem__(self, i: slice) -> ArchetypeFindings: ...

    def __getitem__(self, i):
        out = super().__getitem__(i)
        if not isinstance(i, slice):
            return out
        sliced = ArchetypeFindings(out)
        sliced.n_matches = sum(f.n_matches for f in sliced)
        sliced.behavioural = self.behavioural
        return sliced

    def of_kind(self, kind: str) -> ArchetypeFindings:
        """Return the findings of one archetype, in rank order."""
        out = ArchetypeFindings(f for f in self if f.kind == kind)
        out.n_matches = sum(f.n_matches for f in out)
        out.behavioural = self.behavioural
        return out

    def to_pandas(self):
        """One row per finding (every finding): rank, kind, title, roles, loops, matches, score, behaviour, why."""
        import pandas as pd

        cols = [
            "rank",
            "kind",
            "title",
            "roles",
            "core_loops",
            "path_loops",
            "matches",
            "score",
            "behaviour",
            "why",
        ]
        rows = [
            {
                "rank": f.rank,
                "kind": f.kind,
                "title": f.title,
                "roles": f.describe(),
                "core_loops": " ".join(lp.id for lp in f.core_loops),
                "path_loops": " ".join(lp.id for lp in f.path_loops),
                "matches": f.n_matches,
                "score": f.score,
                "behaviour": f.behaviour,
                "why": f.rank_reason,
            }
            for f in self
        ]
        df = pd.DataFrame(rows, columns=cols)
        return df if self.behavioural else df.drop(columns="behaviour")

    def summary(self, n: int = 10):
        """Return the top ``n`` findings as a table (``df.attrs["more"]``: how many are not shown).

        Returns
        -------
        pandas.DataFrame
            Columns as :meth:`to_pandas`, path loops clipped to a few ids.
        """
        df = self[:n].to_pandas()
        df["path_loops"] = df["path_loops"].map(lambda s: _clip_ids(s, 6))
        df["why"] = df["why"].map(lambda s: _clip(s, 200))
        df.attrs["more"] = max(len(self) - n, 0)
        return df

    def by_kind(self):
        """Count matches and findings per archetype, with the best finding's rank."""
        import pandas as pd

        count, matches, best = Counter(), Counter(), {}
        for f in self:
            count[f.kind] += 1
            matches[f.kind] += f.n_matches
            best.setdefault(f.kind, f.rank)
        return pd.DataFrame(
            [
                {"kind": k, "matches": matches[k], "findings": count[k], "best_rank": best[k]}
                for k in sorted(count, key=best.__getitem__)
            ],
            columns=["kind", "matches", "findings", "best_rank"],
        )

    def headline(self) -> str:
        """One line: how many matches in how many findings, and how they are ranked."""
        how = (
            "role tags, then loop dominance, then structure"
            if self.behavioural
            else "role tags, then structure"
        )
        return (
            f"{self.n_matches:,} archetype match{'es' if self.n_matches != 1 else ''} in {len(self):,} "
            f"finding{'s' if len(self) != 1 else ''} (matches sharing core loops and core roles), "
            f"ranked by {how}"
        )

    def _lines(self) -> list[str]:
        lines = []
        for f in list.__iter__(self[: self.show]):
            amb = f"  (or: {', '.join(f.ambiguous_with)})" if f.ambiguous_with else ""
            beh = f"; behaviour {_pct(f.behaviour)}" if f.behaviour is not None else ""
            lines.append(
                f"{f.rank:>3}. {f.title}{amb}  [score {f.score:.1f}{beh}; "
                f"{f.n_matches} match{'es' if f.n_matches != 1 else ''}]"
            )
            lines.append(f"     {_clip(f.describe(), 150)}")
            core = ", ".join(_loop_label(lp) for lp in f.core_loops)
            paths = [_loop_label(lp) for lp in f.path_loops]
            via = f"; via {', '.join(paths[:4])}" + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")
            lines.append("     " + _clip(f"loops {core}{via if paths else ''}", 150))
            lines.append("     " + _clip(f"why: {f.rank_reason}", 150))
        return lines

    def __repr__(self) -> str:
        lines = [self.headline(), *self._lines()]
        if len(self) > self.show:
            lines.append(
                f"  ... and {len(self) - self.show:,} more findings (.summary(n), .to_pandas(), "
                "or index the list)"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [f"<p><b>{html.escape(self.headline())}</b></p>"]
        if self:
            parts.append(
                self.summary(self.show).to_html(index=False, border=0, float_format=lambda x: f"{x:.3g}")
            )
        if len(self) > self.show:
            parts.append(
                f"<p>... and {len(self) - self.show:,} more findings (<code>.summary(n)</code>, "
                "<code>.to_pandas()</code>)</p>"
            )
        return "\n".join(parts)


class ArchetypeMatches(list):
    """The archetype matches :func:`~trafficsys.cld.archetype_search.archetypes` returns, best first.

    A plain ``list`` of :class:`ArchetypeMatch` (iterate, index, ``len``,
    compare with a list: the contract of ``ts.archetypes``), with the grouped
    view on top:

    * :attr:`findings`: the matches grouped into :class:`ArchetypeFinding`
      objects and ranked (see :mod:`trafficsys.cld.findings`);
    * :meth:`summary`: the top findings as a table;
    * ``repr()`` / ``_repr_html_()``: the counts per archetype and the top
      findings, a screen at most.

    Slicing gives an ``ArchetypeMatches`` with the same diagram and dominance.
    """

    def __init__(
        self,
        matches: Iterable[ArchetypeMatch] = (),
        cld: CausalLoopDiagram | None = None,
        dominance: Any = None,
    ):
        super().__init__(matches)
        self.cld = cld
        self.dominance = dominance
        self._cache: tuple[tuple[int, ...], ArchetypeFindings] | None = None

    @overload
    def __getitem__(self, i: SupportsIndex) -> ArchetypeMatch: ...

    @overload
    def __getitem__(self, i: slice) -> ArchetypeMatches: ...

    def __getitem__(self, i):
        out = super().__getitem__(i)
        return ArchetypeMatches(out, self.cld, self.dominance) if isinstance(i, slice) else out

    @property
    def findings(self) -> ArchetypeFindings:
        """The matches grouped into ranked findings (recomputed if the list changed)."""
        key = tuple(map(id, self))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, group_archetypes(self, self.cld, dominance=self.dominance))
        return self._cache[1]

    def summary(self, n: int = 10):
        """Return the top ``n`` findings as a table: see :meth:`ArchetypeFindings.summary`."""
        return self.findings.summary(n)

    def by_kind(self):
        """Count matches and findings per archetype: see :meth:`ArchetypeFindings.by_kind`."""
        return self.findings.by_kind()

    def to_pandas(self):
        """One row per match: rank, kind, title, roles, loops, score, ambiguous_with."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "rank": i,
                    "kind": m.kind,
                    "title": m.title,
                    "roles": ", ".join(f"{r}={v}" for r, v in m.roles.items() if v),
                    "loops": " ".join(m.loop_ids),
                    "score": m.score,
                    "ambiguous_with": " ".join(m.ambiguous_with),
                }
                for i, m in enumerate(self, 1)
            ],
            columns=["rank", "kind", "title", "roles", "loops", "score", "ambiguous_with"],
        )

    def __repr__(self) -> str:
        if not self:
            return "no archetype match (archetypes are combinations of loops that share variables)"
        f = self.findings
        counts = ", ".join(f"{row.kind} {row.matches}/{row.findings}" for row in f.by_kind().itertuples())
        return "\n".join(
            [f.headline(), f"  matches/findings per archetype: {counts}", *f._lines()]
            + (
                [
                    f"  ... and {len(f) - f.show:,} more findings (.findings, .summary(n), .to_pandas() for the "
                    f"{len(self):,} matches)"
                ]
                if len(f) > f.show
                else []
            )
        )

    def _repr_html_(self) -> str:
        if not self:
            return f"<p>{html.escape(repr(self))}</p>"
        f = self.findings
        return "\n".join(
            [f._repr_html_(), "<p>Per archetype:</p>", f.by_kind().to_html(index=False, border=0)]
        )


def _loop_label(lp: Loop) -> str:
    return f"{lp.id} ({lp.name})" if lp.name else lp.id


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _clip_ids(ids: str, n: int) -> str:
    parts = ids.split()
    return " ".join(parts[:n]) + (f" +{len(parts) - n}" if len(parts) > n else "")
