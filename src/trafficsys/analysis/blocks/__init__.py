"""Systemic blocks to an outcome: ``find_blocks`` (the front door) and its report.

A *block* is a feature of the system that keeps an outcome (convictions,
orders shipped...) from responding to effort: a capacity that binds, a
balancing loop that compensates, a pipeline that leaks while it waits, effort
that congests, a fix that erodes the duty bearer's own capacity, cooperation
that other actions deplete, no loop that holds the duty bearer to account, a
lever that reaches nothing.  Each kind has a detector (:mod:`.detectors`)
that reads structure (paths, loops, archetype roles), behaviour (a Monte
Carlo ensemble: binding constraints, loop dominance) and response
(perturbation and loop-cut runs on the same sampled futures).  Detection
reads equations and runs, never variable names.

See ``docs/blocks.md`` for each kind's criterion, evidence and limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import ModelError
from ...model.elements import Constant
from ...model.model import Model
from ...model.names import canonical
from .context import Context, actor_of, is_assumption, of_kind, policy_levers
from .detectors import DETECTORS, STRUCTURAL_WEIGHT, Finding
from .report import KINDS, Block, BlocksComparison, BlocksReport, Evidence, LeverEffect

__all__ = [
    "find_blocks",
    "Block",
    "BlocksReport",
    "BlocksComparison",
    "Evidence",
    "LeverEffect",
    "KINDS",
    "policy_levers",
]


def find_blocks(
    m: Model,
    target: str,
    levers: Sequence[str] | None = None,
    scenario: Any = None,
    n: int = 200,
    seed: Any = None,
    *,
    kinds: Sequence[str] | None = None,
    min_share: float = 0.5,
    min_strength: float = 0.05,
    dominance_runs: int = 12,
    progress: bool | None = None,
) -> BlocksReport:
    """Find and rank the systemic blocks that keep ``target`` from responding to the levers.

    Parameters
    ----------
    m
        The model.
    target
        The outcome: a stock (its final value is used, e.g. an accumulated
        count of convictions), a flow or an auxiliary (its time-mean).
    levers
        Constants the programme sets.  Default: the model's policy constants
        (``role = "policy"``).
    scenario
        Scenario to analyse (name, :class:`~trafficsys.model.Scenario` or dict).
    n
        Number of sampled futures: every constant with a declared range,
        other than the levers and what the scenario fixes, is sampled (Latin
        hypercube), and every run that compares (perturbations, loop cuts)
        reuses the same futures.
    seed
        Seed of the sample; the same seed gives the same report.
    kinds
        Only these block kinds (default: all of :data:`KINDS`).
    min_share
        A finding is reported as a block when it holds in at least this share
        of the futures; findings that hold in fewer are kept in
        ``report.candidates``.
    min_strength
        Likewise, a finding whose strength (its kind's magnitude in [0, 1]) is
        below this is a candidate, not a block: a loop that absorbs 1% of a
        lever's effect holds everywhere but blocks nothing.
    dominance_runs
        Futures used for loop dominance (Loops that Matter).
    progress
        Show a progress bar (the sampled runs, then each kind of block and
        the levers) on standard error; default: only when it is a terminal.

    Returns
    -------
    BlocksReport
        ``report.blocks`` ranked by severity; ``report.to_markdown()``;
        ``report.compare_scenarios([...])``.

    Raises
    ------
    UnknownVariableError
        For a target or lever that is not in the model.
    ModelError
        For a target that is a constant, a lever that is not a constant, a
        model that tags no policy lever (pass ``levers``), a target that no
        lever reaches, or a model without feedback loops.

    Examples
    --------
    >>> import trafficsys as ts
    >>> m = ts.Model("clinic", stop=10, dt=0.25)
    >>> _ = m.constant("referral_effort", 1.0, range=(0.5, 2), role="policy", source="assumption: scale")
    >>> _ = m.constant("capacity", 50, range=(40, 60), source="assumption: beds")
    >>> _ = m.stock("waiting", 100, inflows=["referrals"], outflows=["treated"])
    >>> _ = m.flow("referrals", "80 * referral_effort")
    >>> _ = m.flow("treated", "MIN(waiting / 0.5, capacity)")
    >>> _ = m.stock("recovered", 0, inflows=["treated"])
    >>> rep = find_blocks(m, "recovered", n=20, seed=1)
    >>> rep.blocks[0].kind
    'capacity_ceiling'
    """
    chosen = list(KINDS) if kinds is None else [canonical(k) for k in kinds]
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise ModelError(f"unknown block kind(s) {', '.join(unknown)}; choose from {', '.join(KINDS)}")
    from ...progress import progress_bar

    bar = progress_bar(len(chosen) + 2, f"blocks to {target}", progress)
    bar.set_postfix_str(f"{n} sampled futures")
    ctx = Context(m, target, levers, scenario, n, seed, dominance_runs=dominance_runs)
    bar.update(1)
    if ctx.dominance_note:
        ctx.not_assessed.append(ctx.dominance_note)
    if ctx.loops is None:
        ctx.not_assessed.append(f"loops: {ctx.loop_note}")
    if ctx.sign_note:
        ctx.not_assessed.append(ctx.sign_note)
    findings: list[Finding] = []
    behavioural = not ctx.at_rest
    for kind in chosen:
        bar.set_postfix_str(kind)
        if behavioural or kind in ("disconnected_lever", "missing_accountability"):
            findings += DETECTORS[kind](ctx)
        bar.update(1)
    if not behavioural:
        ctx.not_assessed.insert(
            0,
            "behaviour: nothing changes in the runs (every stock stays at its initial "
            "value), so no binding, dominance or response can be measured; only "
            "structural findings are listed",
        )
    if ctx.dominance_note and ctx.dominance_note not in ctx.not_assessed:
        ctx.not_assessed.append(ctx.dominance_note)

    bar.set_postfix_str("levers")
    lever_effects = sorted(
        (_lever_effect(ctx, lv) for lv in ctx.reaching),
        key=lambda e: -abs(e.elasticity) if np.isfinite(e.elasticity) else 0.0,
    )
    bar.update(1)
    bar.close()
    unreached = [of_kind(ctx.m[lv], Constant) for lv in ctx.unreached]
    lever_effects += [
        LeverEffect(lv, float(c.value), 0.0, 0.0, 0.0, actor_of(c)) for lv, c in zip(ctx.unreached, unreached)
    ]
    by_name = {e.name: e for e in lever_effects}
    blocks: list[Block] = []
    candidates: list[Block] = []
    for f in findings:
        b = _block(ctx, f, by_name)
        (blocks if b.prevalence >= min_share and b.strength >= min_strength else candidates).append(b)
    blocks.sort(key=lambda b: (-b.severity, b.kind, b.variables))
    candidates.sort(key=lambda b: (-b.severity, b.kind, b.variables))
    return BlocksReport(
        blocks,
        ctx.target,
        scenario,
        ctx.n,
        seed,
        lever_effects,
        list(dict.fromkeys(ctx.not_assessed)),
        ctx.at_rest,
        candidates,
        m.name,
        min_share,
        _model=m,
        _options={
            "levers": levers,
            "kinds": kinds,
            "min_share": min_share,
            "min_strength": min_strength,
            "dominance_runs": dominance_runs,
        },
    )


def _lever_effect(ctx: Context, lever: str) -> LeverEffect:
    r = ctx.response(lever) if not ctx.at_rest else None
    c = of_kind(ctx.m[lever], Constant)
    if r is None:
        return LeverEffect(lever, float(c.value), 0.0, 0.0, 0.0, actor_of(c))
    el = r.elasticity
    med = float(np.median(el[np.isfinite(el)])) if np.any(np.isfinite(el)) else float("nan")
    return LeverEffect(
        lever, float(c.value), med, float(np.median(r.effect)), float(np.mean(r.derivative > 0)), actor_of(c)
    )


def _block(ctx: Context, f: Finding, levers: dict[str, LeverEffect]) -> Block:
    holds = np.asarray(f.holds, dtype=bool)
    prevalence = float(holds.mean()) if holds.size else 0.0
    strength_f = np.clip(np.nan_to_num(np.asarray(f.strength, dtype=float)), 0.0, 1.0)
    if f.structural:
        strength = float(np.median(strength_f)) * STRUCTURAL_WEIGHT.get(f.kind, 0.4)
    else:
        strength = float(np.median(strength_f[holds])) if holds.any() else float(np.median(strength_f))
    confidence, assumed = _confidence(ctx, f, strength_f * holds)
    return Block(
        f.kind,
        round(prevalence * strength, 6),
        list(f.variables),
        f.loops,
        f.evidence,
        [levers[lv] for lv in f.levers if lv in levers],
        confidence,
        f.explanation,
        prevalence,
        strength,
        assumed,
    )


def _confidence(ctx: Context, f: Finding, per_future: np.ndarray) -> tuple[float, list[str]]:
    """Share of the evidence that rests on cited figures; the assumption-sourced constants it rests on most.

    When the block's strength varies across the sampled futures, each sampled
    constant's weight is its squared rank correlation with the strength (how
    much of the variation it explains); otherwise every constant upstream of
    the block's variables weighs the same.  Initial values a spin-up derives
    from the sampled constants are not weighed: they carry those constants'
    variation, not uncertainty of their own.
    """
    import networkx as nx

    consts = {canonical(c.name): c for c in ctx.m.constants}
    weights: dict[str, float] = {}
    if len(ctx.sample) and ctx.n > 2 and np.ptp(per_future) > 0:
        ranks = _ranks(per_future)
        for (
            name
        ) in ctx.uncertain:  # the sampled constants, not the initial values a spin-up derives from them
            values = ctx.sample.get(name)
            if values is None or np.ptp(values) == 0:
                continue
            rho = np.corrcoef(ranks, _ranks(values))[0, 1]
            if np.isfinite(rho):
                weights[name] = float(rho) ** 2
        total = sum(weights.values())
        if total < 0.05:  # the sample explains almost nothing: fall back to structure
            weights = {}
    if not weights:
        up: set[str] = set()
        for v in f.variables:
            if v in ctx.graph:
                up |= nx.ancestors(ctx.graph, v) | {v}
        weights = {k: 1.0 for k in up if k in consts and k not in ctx.levers}
    if not weights:
        return 1.0, []
    total = sum(weights.values())
    assumed = {k: w for k, w in weights.items() if is_assumption(consts[k])}
    ranked = sorted(assumed, key=lambda k: -assumed[k])
    return round(1.0 - sum(assumed.values()) / total, 3), ranked[:8]


def _ranks(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(a)
