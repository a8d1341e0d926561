"""One self-contained HTML report of a model: structure, sources, loops, archetypes, strategies, dominance, blocks.

Every figure is embedded as a base64 PNG and the styles are inline, so the
file opens anywhere (a browser, an e-mail attachment, an offline laptop in a
workshop) without fetching anything.  Each section says what it shows and how
to get the same numbers from Python or the command line; a section that does
not apply to a model (no strategies to compare, no target for the blocks) says
why instead of disappearing.
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ModelError
from ..io.output import write_text
from ..model.elements import Kind

__all__ = ["ReportOptions", "build_report", "write_report"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.88rem; }
th, td { border: 1px solid #d4d4d4; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
table.sources td:nth-child(5) { overflow-wrap: anywhere; }
table.wide { width: 100%; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; display: block; margin: 0.8rem 0; }
.diagram { overflow-x: auto; } .diagram img { max-width: none; }
.note { color: #555; font-size: 0.9rem; } code { background: #f4f4f4; padding: 0 0.2rem; }
nav ul { columns: 2; } details { margin: 0.5rem 0; }
"""


@dataclass
class ReportOptions:
    """What the report runs, with sizes small enough for a report made in a minute or two.

    Attributes
    ----------
    compare_n
        Sampled futures of the strategy comparison (common random numbers).
    blocks_n
        Sampled futures of the systemic-blocks analysis (0 leaves it out).
    seed
        Seed of both samples.
    scenario
        Scenario whose run the loop dominance scores (None: the base model).
    progress
        Progress bar over the sections (None: when standard error is a terminal).
    """

    compare_n: int = 200
    blocks_n: int = 30
    seed: int = 1
    scenario: str | None = None
    progress: bool | None = None


def _e(x: Any) -> str:
    return html.escape(str(x))


#: a diagram's PNG is made at the screen's 96 pixels to the inch and shown at that size (scrolled
#: sideways when wider than the page): shrunk to the page's width, the labels of a 60-variable
#: diagram drew at 6-7 pixels and could not be zoomed, the PNG having no more detail to show
_SCREEN_DPI = 96


def _png(fig: Any, dpi: int = 90, *, diagram: bool = False) -> str:
    """Return the figure as an inline ``<img>`` (base64 PNG) and close it.

    A ``diagram`` is drawn at the screen's resolution and shown at its own size in a box that
    scrolls sideways, so its labels read at the size they were laid out for.
    """
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_SCREEN_DPI if diagram else dpi)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    img = f'<img alt="figure" src="data:image/png;base64,{data}">'
    return f'<div class="diagram">{img}</div>' if diagram else img


def _num(v: float) -> str:
    """Format a number: thousands separators for big ones, three significant digits for the rest."""
    if v != v:
        return ""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _table(df: Any, *, index: bool = False, cls: str = "") -> str:
    out = df.to_html(index=index, border=0, classes=cls or None, na_rep="", escape=True, float_format=_num)
    # long model names may break after an underscore (<wbr>), and nowhere else: a narrow column then
    # wraps `initial_cases_under_` / `investigation`, not `initial_cases_und` / `er_investigation`, and
    # numbers and units stay whole (the tags pandas writes have no underscore in them)
    return out.replace("_", "_<wbr>")


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


def _note(text: str) -> str:
    return f'<p class="note">{text}</p>'


def _counts(m: Any) -> str:
    words = {
        Kind.STOCK: "stocks",
        Kind.FLOW: "flows",
        Kind.AUX: "auxiliaries",
        Kind.CONSTANT: "constants",
        Kind.LOOKUP: "graphical functions",
    }
    return ", ".join(f"{len(m.names(k))} {w}" for k, w in words.items() if m.names(k))


# ------------------------------------------------------------------------------------------- sections
def _overview(m: Any, opts: ReportOptions) -> str:
    from .. import __version__

    consts = m.constants
    assumed = sum(1 for c in consts if (c.source or "").lower().startswith("assumption"))
    parts = [
        f"<p>{_e(m.doc)}</p>" if getattr(m, "doc", "") else "",
        f"<p>{_e(_counts(m))}; from {m.start:g} to {m.stop:g} {_e(m.time_units)} in steps of {m.dt:g}.</p>",
        f"<p>{len(consts)} constants, {assumed} of them sourced as assumptions; "
        f"{len(m.scenarios)} scenario(s){': ' + _e(', '.join(m.scenarios)) if m.scenarios else ''}.</p>",
        _note(
            f"Written by trafficsys {_e(__version__)} on {time.strftime('%Y-%m-%d %H:%M')}; comparison "
            f"over {opts.compare_n} sampled futures, blocks over {opts.blocks_n}, seed {opts.seed}. "
            "The numbers are what the model says under its stated assumptions, not a forecast."
        ),
    ]
    return "".join(parts)


def _structure(m: Any, cld: Any) -> str:
    parts = []
    # the diagrams, where this version of the package draws them (cld.plot, m.plot_stock_flow)
    if hasattr(cld, "plot"):
        named = list(cld.named_loops)
        try:
            ax = cld.plot(loops=named) if named else cld.plot()
            what = "the variables on the loops the model names" if named else "the whole diagram"
            parts.append(f"<h3>Causal-loop diagram: {what}</h3>" + _png(ax.figure, diagram=True))
        except ModelError as exc:  # e.g. a layout program missing: say so, keep the rest of the report
            parts.append(_note(f"The causal-loop diagram could not be drawn here: {_e(exc)}"))
    if hasattr(m, "plot_stock_flow"):
        sectors = list(getattr(m, "sectors", {}) or {})
        try:
            if sectors:
                for name in sectors:
                    ax = m.plot_stock_flow(sector=name)
                    parts.append(
                        f"<details><summary>Stocks and flows: sector {_e(name)}</summary>"
                        + _png(ax.figure, diagram=True)
                        + "</details>"
                    )
            elif len(m) <= 60:
                parts.append("<h3>Stocks and flows</h3>" + _png(m.plot_stock_flow().figure, diagram=True))
        except ModelError as exc:
            parts.append(_note(f"The stock-flow diagram could not be drawn here: {_e(exc)}"))
    pol = [lk.polarity for lk in cld.links]
    parts.append(
        f"<p>The causal-loop diagram derived from the equations: {len(cld.variables)} variables and "
        f"{len(pol)} causal links ({pol.count('+')} positive, {pol.count('-')} negative, "
        f"{pol.count('?')} of unknown sign; {sum(lk.delay for lk in cld.links)} delayed).</p>"
    )
    rows = []
    for s in m.stocks:
        rows.append(
            {
                "stock": s.name,
                "units": s.units or "",
                "initial": m.equation_text(s.name) or "",
                "inflows": ", ".join(s.inflows),
                "outflows": ", ".join(s.outflows),
                "never negative": "yes" if getattr(s, "non_negative", False) else "",
                "doc": s.doc,
            }
        )
    import pandas as pd

    parts.append("<h3>Stocks and their flows</h3>")
    parts.append(_table(pd.DataFrame(rows), cls="wide"))
    parts.append(
        _note(
            "Every variable with its equation: <code>m.to_pandas()</code>; the model file is the "
            "source of truth (<code>trafficsys export</code> writes it as TOML or XMILE)."
        )
    )
    return "".join(parts)


def _sources(m: Any) -> str:
    df = m.to_pandas("constant").reset_index()
    df = df[["name", "equation", "units", "range", "source", "role"]].rename(columns={"equation": "value"})
    return _note(
        "Each constant's value, units, the range the Monte Carlo samples, and its source: a citation, "
        "a calibration, or <i>assumption</i> with the reasoning. Policy levers (role "
        "<code>policy</code>) are choices and are not sampled."
    ) + _table(df, cls="wide sources")


def _loops(m: Any, cld: Any, loops: Sequence[Any]) -> str:
    import pandas as pd

    counts = loops.counts() if hasattr(loops, "counts") else {}
    head = (
        f"<p>{len(loops):,} feedback loops: {counts.get('R', 0):,} reinforcing, {counts.get('B', 0):,} "
        f"balancing, {counts.get('?', 0):,} of unknown polarity.</p>"
    )
    named = [lp for lp in loops if lp.name]
    if not named:
        return head + _note(
            "The model names no loops (<code>[loops.NAME]</code> in the model file); "
            "<code>trafficsys loops</code> lists them all."
        )
    rows = []
    for lp in named:
        nl = cld.named_loops.get(lp.name)
        rows.append(
            {
                "name": lp.name,
                "loop": lp.id,
                "polarity (from the equations)": lp.polarity,
                "declared": (nl.polarity or "") if nl else "",
                "links": lp.length,
                "what it says": nl.doc if nl else "",
            }
        )
    return (
        head
        + "<h3>The loops the model names</h3>"
        + _table(pd.DataFrame(rows), cls="wide")
        + _note("Every loop: <code>m.cld().loops().to_pandas()</code> or <code>trafficsys loops</code>.")
    )


def _archetypes(cld: Any) -> str:
    from ..cld import archetypes

    matches = archetypes(cld, drains=True)
    findings = matches.findings
    if not len(findings):
        return _note("No systems archetype was found in the diagram.")
    df = findings.summary(8)
    keep = [c for c in ("rank", "title", "roles", "core_loops", "matches", "why") if c in df.columns]
    more = df.attrs.get("more", 0)
    return (
        f"<p>{_e(findings.headline())}</p>"
        + _table(df[keep], cls="wide")
        + (_note(f"... and {more} more findings.") if more else "")
        + _note(
            "All of them: <code>ts.archetypes(m.cld(), drains=True).findings.to_pandas()</code> or "
            "<code>trafficsys archetypes</code>."
        )
    )


def _comparison(m: Any, opts: ReportOptions) -> str:
    from ..scenarios import compare

    if not opts.compare_n:
        return _note("Left out of this report (<code>--n 0</code>).")
    if len(m.scenarios) < 2:
        return _note(
            "The model defines fewer than two scenarios, so there are no strategies to compare "
            "(<code>[scenarios.NAME]</code> tables in the model file)."
        )
    c = compare(m, n=opts.compare_n, seed=opts.seed, progress=False)
    parts = [
        _note(
            f"Every strategy runs on the same {c.n} sampled futures (common random numbers), so the "
            f"difference from {_e(c.reference)} in each future measures the strategy, not the luck of "
            "the draw. The chart leads with those paired differences and the share of futures in which "
            "each strategy does better."
        )
    ]
    parts.append(_png(c.plot().figure))
    if c.reference is not None:
        pdiff = c.paired_difference(c.primary)
        pdiff["share_improved"] = pdiff["share_improved"].map(lambda x: f"{x:.0%}")
        pdiff = pdiff.reset_index()
        parts.append(f"<h3>Improvement over {_e(c.reference)} on {_e(c.primary)}, same future</h3>")
        parts.append(_table(pdiff))
    parts.append("<h3>Each strategy's own levels (median [5th, 95th percentile])</h3>")
    parts.append(_table(c.summary_frame(), index=True))
    parts.append(
        "<h3>Is the ranking robust?</h3><ul>"
        + "".join(f"<li>{_e(c.robustness(name))}</li>" for name in c.metrics)
        + "</ul>"
    )
    parts.append(
        "<details><summary>The full comparison figure</summary>" + _png(c.figure(), dpi=70) + "</details>"
    )
    parts.append(
        _note(
            f"Reproduce: <code>trafficsys compare --n {c.n} --seed {opts.seed}</code> or "
            f"<code>ts.compare(m, n={c.n}, seed={opts.seed})</code>."
        )
    )
    return "".join(parts)


def _dominance(m: Any, opts: ReportOptions) -> str:
    from ..analysis import loop_dominance
    from ..engine import simulate

    dom = loop_dominance(m, simulate(m, scenario=opts.scenario))
    if not dom.competing:
        return _note("No loop competes with another: each loop is alone in its partition.")
    where = f" in scenario {_e(opts.scenario)}" if opts.scenario else " in the base run"
    parts = [
        _note(
            f"Which feedback loops drive the behaviour{where}, and when (Loops that Matter): the "
            "strongest loops as lines, reinforcing in warm colours and balancing in cool ones; the grey "
            "band is every other loop together."
        ),
        _png(dom.plot().figure),
    ]
    ranking = dom.ranking()
    ranking = ranking[ranking["competing"]].head(12)
    cols = ["loop", "polarity", "name", "mean_abs_relative", "share_dominant", "variables"]
    ranking = ranking[cols].assign(
        variables=ranking["variables"].map(lambda v: v if len(v) < 160 else v[:157] + "...")
    )
    parts.append("<h3>The most influential loops</h3>" + _table(ranking, cls="wide"))
    parts.append(
        _note(
            "Every loop: <code>ts.loop_dominance(m, ts.simulate(m)).ranking()</code> or "
            "<code>trafficsys dominance</code>."
        )
    )
    return "".join(parts)


def _blocks(m: Any, opts: ReportOptions) -> str:
    from ..analysis import find_blocks

    target = m.metadata.get("target") if isinstance(getattr(m, "metadata", None), dict) else None
    if not opts.blocks_n:
        return _note("Left out of this report (<code>--blocks-n 0</code>).")
    if not target:
        return _note(
            "The model's metadata names no target outcome, so the blocks analysis was not run "
            "(<code>trafficsys blocks --target VAR</code>)."
        )
    rep = find_blocks(m, target, n=opts.blocks_n, seed=opts.seed, progress=False)
    parts = [
        _note(
            f"What keeps <code>{_e(target)}</code> from responding to the policy levers, ranked by "
            f"severity over {rep.n} sampled futures."
        ),
        _png(rep.plot().figure),
    ]
    if rep.blocks:
        df = rep.to_pandas().reset_index()[
            ["rank", "kind", "severity", "prevalence", "confidence", "variables", "explanation"]
        ]
        parts.append(_table(df, cls="wide"))
    if rep.not_assessed:
        parts.append(
            "<details><summary>Not assessed</summary><ul>"
            + "".join(f"<li>{_e(x)}</li>" for x in rep.not_assessed)
            + "</ul></details>"
        )
    parts.append(
        _note(
            f"Reproduce: <code>trafficsys blocks --n {rep.n} --seed {opts.seed}</code>; more futures "
            "give steadier shares."
        )
    )
    return "".join(parts)


# ------------------------------------------------------------------------------------------- assembly
def build_report(m: Any, options: ReportOptions | None = None) -> str:
    """Run the analyses and return the report as one HTML document (figures embedded, nothing fetched).

    Parameters
    ----------
    m
        The model.
    options
        Sizes of the samples, the seed, the scenario for loop dominance
        (:class:`ReportOptions`).

    Returns
    -------
    str
        The HTML text.
    """
    import matplotlib

    matplotlib.use("Agg")
    from ..progress import progress_bar

    opts = options or ReportOptions()
    cld = m.cld()
    loops = cld.loops()
    sections: list[tuple[str, str, Callable[[], str]]] = [
        ("overview", "The model", lambda: _overview(m, opts)),
        ("structure", "Structure", lambda: _structure(m, cld)),
        ("sources", "Constants and their sources", lambda: _sources(m)),
        ("loops", "Feedback loops", lambda: _loops(m, cld, loops)),
        ("archetypes", "Systems archetypes", lambda: _archetypes(cld)),
        ("comparison", "Strategies compared under uncertainty", lambda: _comparison(m, opts)),
        ("dominance", "Loop dominance", lambda: _dominance(m, opts)),
        ("blocks", "Systemic blocks", lambda: _blocks(m, opts)),
    ]
    body = []
    with progress_bar(len(sections), f"report {m.name}", opts.progress, unit="section") as bar:
        for anchor, title, make in sections:
            bar.set_postfix_str(anchor)
            body.append(_section(anchor, title, make()))
            bar.update(1)
    nav = (
        "<nav><ul>" + "".join(f'<li><a href="#{a}">{_e(t)}</a></li>' for a, t, _ in sections) + "</ul></nav>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(m.name)}: trafficsys report</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(m.name)}</h1>{nav}{''.join(body)}</body></html>\n"
    )


def write_report(m: Any, path: str, options: ReportOptions | None = None) -> str:
    """Build the report (:func:`build_report`) and write it to ``path`` atomically; returns the path."""
    write_text(path, build_report(m, options))
    return path
