"""``trafficsys compare``: every strategy over the same Monte Carlo sample (the main job)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from ..io.output import check_output, figure_suffixes, png_text, refuse_existing, save_figure, write_csv
from ..model.names import suggest
from ._args import MODEL_HELP, add_force, check_outputs, whole

__all__ = ["add_arguments", "run", "DEFAULT_FIGURE"]

#: the figure written when no --figure is given, in the current folder
DEFAULT_FIGURE = "compare.png"
#: the PNG metadata entry marking a default figure as written by this command (so a re-run may replace it)
_MARK = ("Creator", "trafficsys compare")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``trafficsys compare``."""
    parser.add_argument(
        "model", nargs="?", help=MODEL_HELP + " with the strategies of models/strategies.toml"
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        metavar="NAME",
        help="strategies to compare (default: all; the baseline is always included)",
    )
    parser.add_argument(
        "--strategies",
        metavar="FILE",
        action="append",
        default=[],
        help="a TOML file of your own strategies ([scenarios.NAME] tables with a .set table, as "
        "models/strategies.toml), compared beside the model's; may be repeated",
    )
    parser.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="a what-if: give a constant this value (or equation) in every strategy; it is then "
        "no longer sampled. May be repeated",
    )
    parser.add_argument(
        "--case",
        metavar="NAME",
        help="a sensitivity case the model ships (the reference model: unverified_at_zero, its "
        "unmeasured survivor-led effects at zero)",
    )
    parser.add_argument("--metrics", nargs="+", metavar="NAME", help="indicators to report (default: all)")
    parser.add_argument(
        "--n",
        "--runs",
        dest="n",
        type=int,
        default=1000,
        metavar="N",
        help="sampled futures per strategy (default 1000)",
    )
    parser.add_argument(
        "--seed", type=whole, default=1, metavar="SEED", help="seed of the sample (default 1)"
    )
    parser.add_argument(
        "--sampler", choices=["lhs", "random", "sobol"], default="lhs", help="sampling design (default lhs)"
    )
    parser.add_argument(
        "--figure",
        metavar="PNG",
        help=f"write the comparison figure here ('none' to skip); default {DEFAULT_FIGURE} in the "
        f"current folder, which replaces a {DEFAULT_FIGURE} an earlier 'trafficsys compare' wrote "
        "but no other file without --force",
    )
    parser.add_argument(
        "--csv", metavar="FILE", help="also write the summary table (median, interval) as CSV"
    )
    add_force(parser)
    parser.add_argument(
        "--drivers",
        nargs=2,
        metavar=("A", "B"),
        help="also list the uncertain constants that decide whether strategy A beats B",
    )


def run(args: argparse.Namespace) -> int:
    """Run the comparison, print the table, write the figure."""
    import trafficsys as ts

    t0 = time.perf_counter()
    figure = args.figure or DEFAULT_FIGURE
    figure = None if figure.lower() == "none" else figure
    check_outputs(csv=args.csv, force=args.force)
    _check_figure(figure, explicit=args.figure is not None, force=args.force)
    model = ts.load(args.model) if args.model else ts.load_default()
    added: list[str] = []
    for path in args.strategies:
        from ..io import merge_scenarios

        before = set(model.scenarios)
        merge_scenarios(model, path)
        added += [s for s in model.scenarios if s not in before and s not in added]
    what_if = _parse_set(args.set)
    if not model.scenarios:
        print(
            "trafficsys compare: the model defines no scenarios ([scenarios.NAME] tables) to compare",
            file=sys.stderr,
        )
        return 2
    for name in args.drivers or ():  # before the long run, not after it
        if name not in model.scenarios:
            raise ts.ModelError(
                f"--drivers: no strategy '{name}'{suggest(name, model.scenarios)}; defined: "
                f"{', '.join(model.scenarios)}",
                file=model.file,
            )
    if args.drivers and args.drivers[0] == args.drivers[1]:
        raise ts.ModelError(f"--drivers needs two different strategies, got '{args.drivers[0]}' twice")
    from ..progress import wanted

    names = args.scenarios
    if names is not None and added:  # the strategies of a --strategies file are compared even when not listed
        names = list(dict.fromkeys([*names, *added]))
    # on a terminal, a bar per strategy even when its runs fit in one chunk; silent in pipes and logs
    c = ts.compare(
        model,
        names,
        metrics=args.metrics,
        n=args.n,
        seed=args.seed,
        sampler=args.sampler,
        settings=what_if or None,
        case=args.case,
        progress=wanted(None),
    )
    print(c)
    if args.drivers:
        a, b = args.drivers
        print(
            f"\nWhat decides whether {a} beats {b} on {c.primary} (Spearman rank correlation of the paired "
            f"difference; share of futures {a} wins with the constant in its lowest / highest quarter):"
        )
        print(c.drivers(a, b, top=8).round(3).to_string())
    if args.csv:
        write_csv(c.to_pandas(), args.csv, index=False)
        print(f"\nwrote {args.csv}")
    if figure:
        import matplotlib

        matplotlib.use("Agg")
        fig = c.figure()
        save_figure(
            fig, figure, dpi=110, **({"metadata": dict([_MARK])} if figure.lower().endswith(".png") else {})
        )
        print(f"wrote {figure}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


def _parse_set(items: list[str]) -> dict[str, float | str]:
    from .run import _parse_set as parse

    return parse(items)


def _check_figure(figure: str | None, *, explicit: bool, force: bool) -> None:
    """Apply the overwrite rule to the figure: an existing file needs --force, unless it is our own default figure."""
    if figure is None:
        return
    check_output(figure, suffixes=figure_suffixes(), what="figure", example=".png")
    if force or not os.path.lexists(figure):
        return
    if not explicit and png_text(figure, _MARK[0]) == _MARK[1]:
        return  # the figure an earlier run wrote by default: running the quick start again refreshes it
    if explicit:
        refuse_existing(figure)
    refuse_existing(
        figure,
        advice="it was not written by trafficsys compare, so it is left alone: pass --force "
        "to replace it, --figure PATH to write the figure elsewhere, or --figure none",
    )
