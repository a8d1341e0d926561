"""``trafficsys dominance``: which feedback loops drive behaviour when (Loops that Matter)."""

from __future__ import annotations

import argparse

import numpy as np

from ..errors import ModelError
from ..io.output import save_figure, write_csv
from ._args import MODEL_HELP, add_force, check_outputs, span, whole

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument("--scenario", help="scenario to simulate (default: the base case)")
    parser.add_argument(
        "--runs",
        type=whole,
        default=0,
        metavar="N",
        help="also run an N-run Monte Carlo sample over the constants' ranges and print the "
        "share of runs in which each loop dominates",
    )
    parser.add_argument(
        "--seed", type=whole, default=1, metavar="SEED", help="seed of the Monte Carlo sample (default 1)"
    )
    parser.add_argument(
        "--window",
        type=span,
        default=None,
        metavar="W",
        help="time window over which scores are averaged before naming the dominant loop "
        "(default: 1/20 of the run; 0: every saved step)",
    )
    parser.add_argument(
        "--top",
        type=whole,
        default=12,
        metavar="N",
        help="list the N most influential loops (default 12; 0 lists all)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also list loops alone in their partition (their relative score is always 1)",
    )
    parser.add_argument("--csv", metavar="FILE", help="write the tidy table (time x loop) to a CSV file")
    parser.add_argument(
        "--plot",
        "--figure",
        dest="plot",
        metavar="FILE.png",
        help="save a figure of the relative loop scores",
    )
    add_force(parser)


def _wrapped(text: str, indent: int, width: int = 110) -> str:
    """Wrap a loop's variable list at its arrows, continuation lines indented under the first."""
    import textwrap

    lines = textwrap.wrap(text, width - indent, break_long_words=False, break_on_hyphens=False)
    return ("\n" + " " * indent).join(lines)


def _load(path):
    import trafficsys as ts

    return ts.load(path) if path else ts.load_default()


LONG = 8  #: loops of more variables are described by the stocks they pass through


def _short(text: str, variables, states) -> str:
    """Describe a loop: its name, or its variables; a long loop by its length and the stocks it passes through."""
    if text and " -> " not in text:
        return text  # the model's name for the loop
    if len(variables) <= LONG:
        return " -> ".join(variables)
    through = [v for v in variables if v in states]
    return f"{len(variables)} variables through {len(through)} stocks: {', '.join(through)}"


def _stocks(names, limit: int = 8) -> str:
    return ", ".join(names) if len(names) <= limit else f"{', '.join(names[:limit])}... ({len(names)} in all)"


def run(args: argparse.Namespace) -> int:
    """Simulate, score the loops and print the dominance tables."""
    import trafficsys as ts

    from ..analysis import loop_dominance

    check_outputs(csv=args.csv, figure=args.plot, force=args.force)
    m = _load(args.model)
    results = ts.simulate(m, scenario=args.scenario)
    dom = loop_dominance(m, results)
    where = f" (scenario {args.scenario})" if args.scenario else ""
    print(
        f"Loop dominance (Loops that Matter) for model '{m.name}'{where}, "
        f"t = {m.start:g}..{m.stop:g} {m.time_units}"
    )
    competing = dom.competing
    variables = {lp.id: lp.variables for lp in dom.loops}
    states = {v for part in dom.partitions for v in part}
    # A smooth or delay scored as a stage brings its own one-variable adjustment loop,
    # which `trafficsys loops` (equations only) does not list: say so, or the counts disagree.
    internal = sum(1 for lp in dom.loops if len(lp.variables) == 1)
    note = (
        (
            f" ({internal} of them the internal adjustment loop{'s' if internal != 1 else ''} of "
            f"smoothing or delay functions)"
        )
        if internal
        else ""
    )
    if dom.method == "strongest_path":
        share = dom.explained.values
        print(
            f"Too many loops to list: {len(dom.loops)} loops that matter found by the strongest-path search "
            f"(Eberlein & Schoenberg 2020) at {min(len(dom.time), 200)} of the {len(dom.time)} saved times. They make up "
            f"{100 * float(np.median(share)):.0f}% of the loop activity (median over the times searched; at least "
            f"{100 * float(np.quantile(share, 0.1)):.0f}% at 9 times in 10), the rest being loops not found, "
            f"estimated by sampling; relative scores below are shares of the found loops' activity only."
        )
        recovered = float(dom.explained.attrs.get("recovered", 1.0))
        if recovered < 0.5:
            seen = f"{100 * recovered:.0f}%" if recovered >= 0.01 else "under 1%"
            print(
                f"Caution: the sampling recovers only {seen} of the found loops' own (known) "
                f"activity, so it likely misses much of the activity of loops not found too: read that share "
                f"as an upper bound."
            )
    print(
        f"{len(dom.loops)} feedback loops{note}, {len(competing)} competing with others in "
        f"{len({lp.partition for lp in competing})} cycle partition(s)\n"
    )

    ranking = dom.ranking()
    if not args.all:
        ranking = ranking[ranking["competing"]]
    if ranking.empty:
        print("No loop competes with another: each loop is alone in its partition and explains all of it.")
    else:
        shown = ranking if args.top <= 0 else ranking.head(args.top)
        print("Loops, most influential first (mean |relative score|; share of time dominant):")
        print(f"  {'loop':<7}{'pol':<5}{'part':<6}{'mean|rel|':>10}{'dominant':>10}  name or variables")
        for row in shown.itertuples():
            print(
                f"  {row.loop:<7}{row.polarity:<5}{row.partition:<6}{row.mean_abs_relative:>10.2f}"
                f"{row.share_dominant:>9.0%}  {_wrapped(_short(row.name, variables[row.loop], states), 39)}"
            )
        if len(shown) < len(ranking):
            print(f"  ... and {len(ranking) - len(shown)} more (--top 0 lists them all)")
        named = ranking[ranking["name"] != ""]
        if len(named):
            print("\nLoops the model names (rank among all loops):")
            for rank, row in zip(named.index, named.itertuples()):
                print(
                    f"  {row.loop:<7}{row.polarity:<5}{row.partition:<6}{row.mean_abs_relative:>10.2f}"
                    f"{row.share_dominant:>9.0%}  {row.name} (#{rank + 1})"
                )
        periods = dom.periods(window=args.window, include_alone=args.all)
        for p, part in periods.groupby("partition"):
            print(f"\nDominant loop per period, partition {p} (stocks: {_stocks(dom.partitions[p])}):")
            print(f"  {'from':>8}{'to':>9}  {'loop':<7}{'pol':<5}{'mean rel':>9}  name or variables")
            for row in part.itertuples():
                print(
                    f"  {row.start:>8g}{row.end:>9g}  {row.loop:<7}{row.polarity:<5}{row.mean_relative:>9.2f}"
                    f"  {_short(row.name, variables[row.loop], states)}"
                )

    if args.runs:
        from ..progress import progress_bar

        # on a terminal: a bar over the two long stages (silent in pipes and logs)
        with progress_bar(2, f"dominance over {args.runs:,} runs") as bar:
            bar.set_postfix_str("Monte Carlo")
            # every variable: loop scores read each link's ends
            mc = ts.monte_carlo(m, n=args.runs, seed=args.seed, scenario=args.scenario, variables="all")
            bar.update(1)
            bar.set_postfix_str("loop scores")
            ens = loop_dominance(m, mc)
            bar.update(1)
        shares = ens.shares(window=args.window, include_alone=args.all)
        print(f"\nShare of {args.runs} Monte Carlo runs in which each loop dominates (time windows):")
        if shares.empty:
            print("  (no competing loops)")
        else:
            width = min(args.top if args.top > 0 else len(shares.columns), 8)
            ranked = shares.mean().sort_values(ascending=False).index
            table = shares[ranked[:width]].copy()
            if len(ranked) > width:
                table["others"] = shares[ranked[width:]].sum(axis=1)
            print(table.to_string(float_format=lambda v: f"{v:.0%}"))
            if ens.omitted:
                print(
                    f"  ({ens.omitted} loops never reached 1% of their partition in any run and were dropped)"
                )
            try:
                drivers = ens.drivers()
            except ModelError:
                drivers = None
            if drivers is not None and len(drivers.columns):
                print(
                    "\nWhich uncertain constants make the leading loops dominate (Spearman rank correlation "
                    "with the share of time dominant, strongest 5):"
                )
                for lp in list(ranked[: min(width, 3)]):
                    col = drivers[lp].dropna()
                    top = col.reindex(col.abs().sort_values(ascending=False).index)[:5]
                    print(f"  {lp}: " + ", ".join(f"{k} {v:+.2f}" for k, v in top.items()))
    if args.csv:
        write_csv(dom.to_pandas(), args.csv, index=False)
        print(f"\nwrote {args.csv}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = dom.plot()
        save_figure(ax.figure, args.plot, dpi=120, bbox_inches="tight")
        print(f"wrote {args.plot}")
    return 0
