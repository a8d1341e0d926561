"""``trafficsys compare``: every strategy over the same Monte Carlo sample (the main job)."""

from __future__ import annotations

import argparse
import sys
import time

from ._args import MODEL_HELP, check_outputs, whole

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``trafficsys compare``."""
    parser.add_argument("model", nargs="?", help=MODEL_HELP + " with the strategies of models/strategies.toml")
    parser.add_argument("--scenarios", nargs="+", metavar="NAME",
                        help="strategies to compare (default: all; the baseline is always included)")
    parser.add_argument("--metrics", nargs="+", metavar="NAME", help="indicators to report (default: all)")
    parser.add_argument("--n", "--runs", dest="n", type=int, default=1000, metavar="N",
                        help="sampled futures per strategy (default 1000)")
    parser.add_argument("--seed", type=whole, default=1, metavar="SEED", help="seed of the sample (default 1)")
    parser.add_argument("--sampler", choices=["lhs", "random", "sobol"], default="lhs",
                        help="sampling design (default lhs)")
    parser.add_argument("--figure", default="compare.png", metavar="PNG",
                        help="write the comparison figure here (default compare.png; 'none' to skip)")
    parser.add_argument("--csv", metavar="FILE", help="also write the summary table (median, interval) as CSV")
    parser.add_argument("--drivers", nargs=2, metavar=("A", "B"),
                        help="also list the uncertain constants that decide whether strategy A beats B")


def run(args: argparse.Namespace) -> int:
    """Run the comparison, print the table, write the figure."""
    import trafficsys as ts

    t0 = time.perf_counter()
    figure = args.figure if args.figure and args.figure.lower() != "none" else None
    check_outputs(csv=args.csv, figure=figure)
    model = ts.load(args.model) if args.model else ts.load_default()
    if not model.scenarios:
        print("trafficsys compare: the model defines no scenarios ([scenarios.NAME] tables) to compare",
              file=sys.stderr)
        return 2
    for name in args.drivers or ():  # before the long run, not after it
        if name not in model.scenarios:
            from ..model.validate import suggest

            raise ts.ModelError(f"--drivers: no strategy '{name}'{suggest(name, model.scenarios)}; defined: "
                                f"{', '.join(model.scenarios)}", file=model.file)
    if args.drivers and args.drivers[0] == args.drivers[1]:
        raise ts.ModelError(f"--drivers needs two different strategies, got '{args.drivers[0]}' twice")
    c = ts.compare(model, args.scenarios, metrics=args.metrics, n=args.n, seed=args.seed, sampler=args.sampler)
    print(c)
    if args.drivers:
        a, b = args.drivers
        print(f"\nWhat decides whether {a} beats {b} on {c.primary} (Spearman rank correlation of the paired "
              f"difference; share of futures {a} wins with the constant in its lowest / highest quarter):")
        print(c.drivers(a, b, top=8).round(3).to_string())
    if args.csv:
        c.to_pandas().to_csv(args.csv, index=False)
        print(f"\nwrote {args.csv}")
    if figure:
        import matplotlib

        matplotlib.use("Agg")
        c.figure(figure)
        print(f"wrote {figure}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0
