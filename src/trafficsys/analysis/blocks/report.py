"""The result types of :func:`~trafficsys.analysis.blocks.find_blocks`: Block, BlocksReport, BlocksComparison."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Evidence", "LeverEffect", "Block", "BlocksReport", "BlocksComparison", "KINDS"]

#: Block kinds: id -> (title, what it means)
KINDS: dict[str, tuple[str, str]] = {
    "capacity_ceiling": (
        "Capacity ceiling",
        "the target's causal path runs through a constraint that binds for much of the run",
    ),
    "policy_resistance": (
        "Policy resistance",
        "a balancing loop compensates for a lever, so the target moves much less than the "
        "lever's direct effect",
    ),
    "delay_attrition": ("Delay attrition", "a long delay before the outcome lets a decay drain the pipeline"),
    "congestion": ("Congestion", "more upstream effort lowers the target (a negative total effect)"),
    "burden_shift": (
        "Shifting the burden to the intervenor",
        "a non-state actor's fix substitutes for the duty bearer's own capacity, which erodes",
    ),
    "eroded_cooperation": (
        "Eroded cooperation",
        "the target depends on a stock (trust, cooperation) that other actions deplete",
    ),
    "missing_accountability": (
        "Missing accountability",
        "no feedback loop carries the outcome back to the duty bearer's resources, or the loop never matters",
    ),
    "disconnected_lever": (
        "Disconnected lever",
        "a lever has no causal path to the target, or every path is cut by a saturated constraint",
    ),
}


def _fmt(x: Any) -> str:
    if isinstance(x, str):
        return x
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    x = float(x)
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e5 or a < 1e-3:
        return f"{x:.3g}"
    if a >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.0f}%"


@dataclasses.dataclass(frozen=True)
class Evidence:
    """One named number behind a block.

    Attributes
    ----------
    name
        What the number is (``"share of time binding"``...).
    value
        Its value: the median over the sampled futures (or a fixed number,
        or text for a structural fact).
    holds
        The share of sampled futures in which the block's criterion holds for
        this piece of evidence (NaN for a structural fact, true in every future).
    unit
        Units of ``value`` (``"year"``, ``""`` for a ratio...).
    """

    name: str
    value: float | str
    holds: float = float("nan")
    unit: str = ""

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit and not isinstance(self.value, str) else ""
        holds = f" (holds in {_pct(self.holds)} of futures)" if np.isfinite(self.holds) else ""
        return f"{self.name}: {_fmt(self.value)}{unit}{holds}"


@dataclasses.dataclass(frozen=True)
class LeverEffect:
    """A lever and its effect on the target.

    Attributes
    ----------
    name
        The constant.
    value
        Its value in the scenario.
    elasticity
        Median over futures of the percentage change of the target per
        percent change of the lever (NaN when the lever's value is 0).
    effect
        Median change of the target when the lever moves across its declared
        range width, at the current operating point (derivative x width).
    share_positive
        Share of futures in which raising the lever raises the target.
    actor
        Who controls the lever, when the model's role tags say so.
    """

    name: str
    value: float
    elasticity: float
    effect: float
    share_positive: float
    actor: str | None = None

    def __str__(self) -> str:
        who = f" [{self.actor}]" if self.actor else ""
        return (
            f"{self.name}{who} = {_fmt(self.value)}: elasticity {_fmt(self.elasticity)}, "
            f"effect over its range {_fmt(self.effect)}, raises the target in {_pct(self.share_positive)} "
            "of futures"
        )


@dataclasses.dataclass
class Block:
    """One systemic block to the target.

    Attributes
    ----------
    kind
        One of :data:`KINDS`.
    severity
        ``prevalence x strength`` (see the docs, ``docs/blocks.md``): the
        share of futures in which the block holds times its kind's strength,
        a number in [0, 1]; structural findings without a behavioural
        magnitude have a fixed strength (0.4 or 0.3, documented per kind).
    variables
        Where the block sits (canonical names).
    loops
        The loops involved, each ``{"id", "name", "polarity", "variables",
        "dominance", "dominates"}`` (dominance: time-mean absolute relative
        loop score; dominates: share of time the loop dominates its partition).
    evidence
        Named numbers (:class:`Evidence`), each with the share of futures in which it holds.
    levers
        The levers that act on the block, with their effect on the target (:class:`LeverEffect`).
    confidence
        The share of the block's evidence that rests on cited figures rather
        than on constants whose source is an assumption (1 = all cited, 0 =
        all assumed); see :attr:`assumptions`.
    explanation
        One or two plain sentences with the numbers.
    prevalence
        The share of sampled futures in which the block holds.
    strength
        The kind's magnitude in [0, 1] (median over futures).
    assumptions
        Assumption-sourced constants the evidence rests on most (largest first).
    """

    kind: str
    severity: float
    variables: list[str]
    loops: list[dict[str, Any]]
    evidence: dict[str, Evidence]
    levers: list[LeverEffect]
    confidence: float
    explanation: str
    prevalence: float = float("nan")
    strength: float = float("nan")
    assumptions: list[str] = dataclasses.field(default_factory=list)

    @property
    def title(self) -> str:
        """Readable name of the kind."""
        return KINDS[self.kind][0]

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """What identifies the block across scenarios: its kind and its first variables."""
        return self.kind, tuple(self.variables[:3])

    def plot(self, ax: Any = None):
        """Share of futures in which each piece of evidence holds (see :func:`trafficsys.plot.blocks.plot_block_evidence`)."""
        from ...plot.blocks import plot_block_evidence

        return plot_block_evidence(self, ax=ax)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON)."""
        d = dataclasses.asdict(self)
        d["evidence"] = {k: dataclasses.asdict(v) for k, v in self.evidence.items()}
        return d

    def __str__(self) -> str:
        lines = [
            f"{self.title} [{self.kind}] severity {self.severity:.2f}, confidence {self.confidence:.2f}: "
            f"{', '.join(self.variables)}",
            f"  {self.explanation}",
        ]
        lines += [f"  - {e}" for e in self.evidence.values()]
        if self.loops:
            lines.append(
                "  loops: "
                + "; ".join(
                    f"{lp['id']}{' ' + lp['name'] if lp['name'] else ''} ({lp['polarity']}, dominance "
                    f"{_fmt(lp['dominance'])})"
                    for lp in self.loops
                )
            )
        if self.levers:
            lines += [f"  lever {lv}" for lv in self.levers[:4]]
        if self.assumptions:
            lines.append("  rests on assumptions: " + ", ".join(self.assumptions[:5]))
        return "\n".join(lines)


@dataclasses.dataclass
class BlocksReport:
    """The systemic blocks to one target, ranked by severity (:func:`~trafficsys.analysis.blocks.find_blocks`).

    Attributes
    ----------
    blocks
        The blocks, most severe first.
    target, scenario, n, seed
        What was analysed.
    levers
        Every lever's effect on the target (:class:`LeverEffect`), largest first.
    not_assessed
        What could not be assessed and why (e.g. no duty-bearer resource in
        the model; too many loops to score).
    at_rest
        True when nothing changes in the runs: there is no behaviour to explain.
    candidates
        Findings that hold in some futures but fewer than the reporting
        threshold (kept for inspection, not ranked).
    """

    blocks: list[Block]
    target: str
    scenario: Any
    n: int
    seed: Any
    levers: list[LeverEffect]
    not_assessed: list[str]
    at_rest: bool = False
    candidates: list[Block] = dataclasses.field(default_factory=list)
    model_name: str = ""
    min_share: float = 0.5
    _model: Any = dataclasses.field(default=None, repr=False)
    _options: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.blocks)

    def __iter__(self):
        return iter(self.blocks)

    def __getitem__(self, i: int) -> Block:
        return self.blocks[i]

    def kinds(self) -> list[str]:
        """Return the kinds found, in rank order."""
        return [b.kind for b in self.blocks]

    def to_pandas(self):
        """One row per block: rank, kind, severity, prevalence, strength, confidence, variables, explanation."""
        import pandas as pd

        rows = [
            {
                "rank": i + 1,
                "kind": b.kind,
                "severity": b.severity,
                "prevalence": b.prevalence,
                "strength": b.strength,
                "confidence": b.confidence,
                "variables": ", ".join(b.variables),
                "explanation": b.explanation,
            }
            for i, b in enumerate(self.blocks)
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "rank",
                "kind",
                "severity",
                "prevalence",
                "strength",
                "confidence",
                "variables",
                "explanation",
            ],
        ).set_index("rank")

    def _heading(self) -> str:
        scen = (
            self.scenario if isinstance(self.scenario, str) else ("custom" if self.scenario else "baseline")
        )
        return (
            f"Systemic blocks to '{self.target}' in {self.model_name or 'the model'} "
            f"(scenario: {scen}; {self.n} sampled futures, seed {self.seed})"
        )

    def to_markdown(self) -> str:
        """Return the report as Markdown: the ranked table, each block's evidence, the levers, what was not assessed."""
        out = [f"# {self._heading()}", ""]
        if self.at_rest:
            out += [
                "Nothing changes in these runs (every stock stays at its initial value), so there is no "
                "behaviour whose blocks could be ranked; only structural findings are listed.",
                "",
            ]
        if self.blocks:
            out += [
                "| rank | block | severity | holds in | confidence | where |",
                "| --- | --- | --- | --- | --- | --- |",
            ]
            for i, b in enumerate(self.blocks, 1):
                out.append(
                    f"| {i} | {b.title} (`{b.kind}`) | {b.severity:.2f} | {_pct(b.prevalence)} | "
                    f"{b.confidence:.2f} | {', '.join(f'`{v}`' for v in b.variables[:5])} |"
                )
            out.append("")
            for i, b in enumerate(self.blocks, 1):
                out += [f"## {i}. {b.title}: {', '.join(b.variables[:4])}", "", b.explanation, ""]
                out += [f"- {e}" for e in b.evidence.values()]
                for lp in b.loops:
                    out.append(
                        f"- loop {lp['id']}{' (' + lp['name'] + ')' if lp['name'] else ''}, "
                        f"{lp['polarity']}: {' -> '.join(lp['variables'])}; dominance "
                        f"{_fmt(lp['dominance'])}"
                    )
                for lv in b.levers[:5]:
                    out.append(f"- lever {lv}")
                if b.assumptions:
                    out.append(f"- rests on assumptions: {', '.join(f'`{a}`' for a in b.assumptions[:6])}")
                out.append("")
        else:
            out += ["No systemic block holds in most sampled futures.", ""]
        if self.levers:
            out += [
                "## Levers",
                "",
                "| lever | actor | value | elasticity | effect over its range | raises the target in |",
                "| --- | --- | --- | --- | --- | --- |",
            ]
            for lv in self.levers:
                out.append(
                    f"| `{lv.name}` | {lv.actor or ''} | {_fmt(lv.value)} | {_fmt(lv.elasticity)} | "
                    f"{_fmt(lv.effect)} | {_pct(lv.share_positive)} |"
                )
            out.append("")
        if self.not_assessed:
            out += ["## Not assessed", ""] + [f"- {x}" for x in self.not_assessed] + [""]
        return "\n".join(out)

    def __repr__(self) -> str:
        lines = [self._heading()]
        if self.at_rest:
            lines.append("  the runs are at rest: no behaviour to rank (structural findings only)")
        for i, b in enumerate(self.blocks[:10], 1):
            lines.append(
                f"{i:>3}. {b.kind:<22} severity {b.severity:.2f}  holds {_pct(b.prevalence):>4}  "
                f"confidence {b.confidence:.2f}  {', '.join(b.variables[:4])}"
            )
        if len(self.blocks) > 10:
            lines.append(f"  ... and {len(self.blocks) - 10} more")
        if not self.blocks:
            lines.append("  no systemic block holds in most sampled futures")
        if self.not_assessed:
            lines.append(f"  not assessed: {len(self.not_assessed)} item(s); see .not_assessed")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{i}</td><td title='{e(KINDS[b.kind][1])}'>{e(b.title)}</td><td>{b.severity:.2f}</td>"
            f"<td>{_pct(b.prevalence)}</td><td>{b.confidence:.2f}</td><td>{e(', '.join(b.variables[:5]))}</td>"
            f"<td>{e(b.explanation)}</td></tr>"
            for i, b in enumerate(self.blocks[:20], 1)
        )
        more = f"<p>... and {len(self.blocks) - 20} more</p>" if len(self.blocks) > 20 else ""
        rest = (
            "<p><b>At rest</b>: nothing changes in the runs; no behaviour to rank.</p>"
            if self.at_rest
            else ""
        )
        na = (
            (
                "<details><summary>Not assessed</summary><ul>"
                + "".join(f"<li>{e(x)}</li>" for x in self.not_assessed)
                + "</ul></details>"
            )
            if self.not_assessed
            else ""
        )
        return (
            f"<div><b>{e(self._heading())}</b>{rest}<table><thead><tr><th>#</th><th>block</th>"
            "<th>severity</th><th>holds in</th><th>confidence</th><th>where</th><th>why</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{more}{na}</div>"
        )

    def plot(self, ax: Any = None, *, top: int = 12):
        """Severity and prevalence of the ``top`` blocks (see :func:`trafficsys.plot.blocks.plot_blocks`)."""
        from ...plot.blocks import plot_blocks

        return plot_blocks(self, ax=ax, top=top)

    def compare_scenarios(self, scenarios: Sequence[str | None]) -> BlocksComparison:
        """Find the blocks under each scenario (same target, levers, sample size and seed) and compare.

        Parameters
        ----------
        scenarios
            Scenario names of the model (``None`` for the base model).

        Returns
        -------
        BlocksComparison
            Severity of each block per scenario, with whether it eases or
            deepens against this report's scenario.
        """
        from . import find_blocks

        if isinstance(scenarios, str):
            scenarios = [scenarios]
        reports = {self._label(self.scenario): self}
        for sc in scenarios:
            label = self._label(sc)
            if label in reports:
                continue
            reports[label] = find_blocks(
                self._model, self.target, scenario=sc, n=self.n, seed=self.seed, **self._options
            )
        return BlocksComparison(self._label(self.scenario), reports)

    @staticmethod
    def _label(scenario: Any) -> str:
        if scenario is None:
            return "base"
        return scenario if isinstance(scenario, str) else "custom"


@dataclasses.dataclass
class BlocksComparison:
    """Blocks per scenario against a reference (:meth:`BlocksReport.compare_scenarios`).

    Attributes
    ----------
    reference
        The scenario the others are compared with.
    reports
        Scenario -> :class:`BlocksReport`.
    """

    reference: str
    reports: dict[str, BlocksReport]
    #: a change of severity smaller than this is "unchanged"
    tolerance: float = 0.05

    def to_pandas(self):
        """One row per block found in any scenario: severity per scenario and the verdict against the reference."""
        import pandas as pd

        keys: dict[tuple, Block] = {}
        for rep in self.reports.values():
            for b in rep.blocks:
                keys.setdefault(b.key, b)
        rows = []
        for key, b in keys.items():
            row: dict[str, Any] = {"kind": b.kind, "variables": ", ".join(key[1])}
            sev = {}
            for label, rep in self.reports.items():
                found = [x for x in rep.blocks if x.key == key]
                sev[label] = found[0].severity if found else 0.0
                row[label] = sev[label]
            ref = sev[self.reference]
            for label in self.reports:
                if label == self.reference:
                    continue
                d = sev[label] - ref
                row[f"{label} vs {self.reference}"] = (
                    "gone"
                    if ref > 0 and sev[label] == 0
                    else "new"
                    if ref == 0 and sev[label] > 0
                    else "eases"
                    if d <= -self.tolerance
                    else "deepens"
                    if d >= self.tolerance
                    else "unchanged"
                )
            rows.append(row)
        df = pd.DataFrame(rows)
        if len(df):
            df = df.sort_values(self.reference, ascending=False).reset_index(drop=True)
        return df

    def to_markdown(self) -> str:
        """Return the comparison as a Markdown table."""
        df = self.to_pandas()
        if df.empty:
            return "No block holds in most futures under any of these scenarios.\n"
        cols = list(df.columns)
        out = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
        for _, r in df.iterrows():
            out.append(
                "| "
                + " | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols)
                + " |"
            )
        return "\n".join(out) + "\n"

    def __repr__(self) -> str:
        df = self.to_pandas()
        if df.empty:
            return "BlocksComparison: no block holds in most futures under any scenario"
        return f"Blocks by scenario (reference: {self.reference})\n" + df.to_string(
            float_format=lambda x: f"{x:.2f}", max_colwidth=40
        )

    def _repr_html_(self) -> str:
        df = self.to_pandas()
        return f"<b>Blocks by scenario (reference: {html.escape(self.reference)})</b>" + df.to_html(
            float_format=lambda x: f"{x:.2f}", index=False
        )
