"""``trafficsys report``: one self-contained HTML file with the model's structure, sources and analyses."""

from __future__ import annotations

import argparse
import time

from ..errors import FileFormatError
from ..model.names import suggest
from ._args import MODEL_HELP, add_force, check_outputs, whole

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE.html",
        default="report.html",
        help="the HTML file to write (default report.html in the current folder)",
    )
    parser.add_argument(
        "--n",
        "--runs",
        dest="n",
        type=whole,
        default=200,
        metavar="N",
        help="sampled futures of the strategy comparison (default 200)",
    )
    parser.add_argument(
        "--blocks-n",
        type=whole,
        default=30,
        metavar="N",
        help="sampled futures of the systemic-blocks analysis (default 30; 0 leaves it out)",
    )
    parser.add_argument(
        "--seed", type=whole, default=1, metavar="SEED", help="seed of the samples (default 1)"
    )
    parser.add_argument(
        "--scenario",
        metavar="S",
        help="scenario whose run the loop dominance scores (default: the base model)",
    )
    add_force(parser)


def run(args: argparse.Namespace) -> int:
    """Build and write the report."""
    import trafficsys as ts

    from ..plot.report import ReportOptions, write_report

    if not args.output.lower().endswith((".html", ".htm")):
        raise FileFormatError("the report is an HTML file; give a name ending in .html", file=args.output)
    check_outputs(other=args.output, force=args.force)
    t0 = time.perf_counter()
    m = ts.load(args.model) if args.model else ts.load_default()
    if args.scenario and args.scenario not in m.scenarios:
        raise ts.ModelError(
            f"--scenario: no scenario '{args.scenario}'{suggest(args.scenario, m.scenarios)}; "
            f"defined: {', '.join(m.scenarios) or 'none'}",
            file=m.file,
        )
    if args.n == 1:
        raise ts.ModelError("--n must be 0 or at least 2 sampled futures to compare strategies")
    opts = ReportOptions(compare_n=args.n, blocks_n=args.blocks_n, seed=args.seed, scenario=args.scenario)
    write_report(m, args.output, opts)
    print(
        f"wrote {args.output} ({time.perf_counter() - t0:.0f} s); open it in a browser, it needs no network"
    )
    return 0
