"""``trafficsys loops``: the feedback loops of a model or causal-loop diagram, with their polarity."""

from __future__ import annotations

import argparse
import os
import textwrap

from ..errors import ModelError
from ..io.output import atomic_path, save_figure
from ..model.names import suggest
from ._args import MODEL_HELP, add_force, check_outputs, positive_whole

__all__ = ["add_arguments", "run", "load_cld", "SUMMARY_ABOVE"]

#: beyond this many loops, the default listing is a summary
SUMMARY_ABOVE = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("model", nargs="?", help=MODEL_HELP.replace("model file", "model or CLD file"))
    parser.add_argument("--through", metavar="VAR", help="only loops through this variable")
    parser.add_argument(
        "--length-bound", type=positive_whole, metavar="N", help="only loops of at most N links"
    )
    parser.add_argument(
        "--independent",
        action="store_true",
        help="only the shortest independent loop set (Oliva 2004): a compact summary for big models",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help=f"list every loop even when there are more than {SUMMARY_ABOVE} (by default a big "
        "model shows its named loops and the independent loop set)",
    )
    parser.add_argument(
        "--max-loops",
        type=positive_whole,
        default=100_000,
        metavar="N",
        help="stop with an error beyond N loops (default 100000)",
    )
    parser.add_argument(
        "--structure-only",
        action="store_true",
        help="infer link polarities from the equations only, without simulating the model",
    )
    parser.add_argument("--links", action="store_true", help="also list every causal link with its polarity")
    parser.add_argument("--csv", metavar="FILE", help="write the loop table to a CSV file")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="draw the causal-loop diagram to FILE (.png, .svg, .pdf...); with --loop or --sector "
        "only that part (a big model is unreadable whole)",
    )
    parser.add_argument(
        "--loop",
        action="append",
        metavar="NAME",
        help="with --plot: draw only the variables on this loop (an id such as R1, or the name "
        "the model file gives it); repeat for several loops",
    )
    parser.add_argument(
        "--sector", metavar="NAME", help="with --plot: draw only this sector of the model file"
    )
    parser.add_argument(
        "--highlight",
        action="append",
        metavar="NAME",
        help="with --plot: emphasise this loop (id or name) or variable; repeat for several",
    )
    parser.add_argument(
        "--layout",
        choices=["auto", "networkx", "dot", "neato", "fdp", "circo"],
        default="auto",
        help="with --plot: how to place the variables (default auto: Graphviz when installed, else networkx)",
    )
    add_force(parser)


def load_cld(path: str | None, structure_only: bool = False):
    """Return the model at ``path`` (or the reference model) and its causal-loop diagram.

    Unless ``structure_only``, the link signs derived from the equations are
    checked against the model's base run (:func:`~trafficsys.analysis.confirm_polarities`);
    a model that does not simulate keeps its structural signs.
    """
    from ..io import load, load_default

    m = load(path) if path else load_default()
    cld = m.cld()
    if structure_only or not len(m):
        return m, cld
    from ..analysis.polarities import confirm_polarities
    from ..engine import simulate

    try:
        results = simulate(m)
    except ModelError:
        return m, cld
    return m, confirm_polarities(cld, m, results)


def _path(lp) -> str:
    marks = ["" if not d else " ||" for d in lp.delays]
    parts = [f"{v} -({s}{mark})->" for v, s, mark in zip(lp.variables, lp.signs, marks)]
    return " ".join(parts) + f" {lp.variables[0]}"


def run(args: argparse.Namespace) -> int:
    """Print the loop table."""
    from ..cld import LoopList, independent_loops, loops, loops_through
    from ..cld.loop_search import named_loop_notes

    if (args.loop or args.sector or args.highlight or args.layout != "auto") and not args.plot:
        raise ModelError("--loop, --sector, --highlight and --layout shape the drawing: add --plot FILE")
    check_outputs(csv=args.csv, figure=args.plot, force=args.force)
    if args.plot and args.csv and os.path.abspath(args.plot) == os.path.abspath(args.csv):
        raise ModelError("--plot and --csv name the same file; give each its own path")
    m, cld = load_cld(args.model, args.structure_only)
    if args.sector and args.sector not in getattr(m, "sectors", {}):
        have = (
            ", ".join(m.sectors) if getattr(m, "sectors", None) else "none: the file has no [sectors] tables"
        )
        raise ModelError(
            f"--sector: no sector '{args.sector}'{suggest(args.sector, m.sectors)}; its sectors: {have}",
            file=m.file,
        )
    if args.independent:
        found = independent_loops(cld, max_loops=args.max_loops)
        what = "shortest independent loop set (Oliva 2004)"
    elif args.through:
        found = loops_through(cld, args.through, args.length_bound, max_loops=args.max_loops)
        what = f"loops through {args.through}"
    else:
        found = loops(cld, args.length_bound, max_loops=args.max_loops)
        what = "feedback loops" + (f" of at most {args.length_bound} links" if args.length_bound else "")
    pol = {p: sum(lp.polarity == p for lp in found) for p in "RB?"}
    print(
        f"Model '{m.name}': {len(cld.variables)} variables, {len(cld.links)} causal links "
        f"({sum(lk.delay for lk in cld.links)} delayed)"
    )
    census = getattr(found, "census", None) if not getattr(found, "complete", True) else None
    if census is not None:  # too many loops to hold: their counts, and the independent set listed
        print(f"{census.describe()} (counted, not held: more than --max-loops {args.max_loops:,})")
        table = census.summary()
        print("  by length:  " + ", ".join(f"{n} links: {int(t):,}" for n, t in table["total"].items()))
        print(
            f"Listing the shortest independent loop set (Oliva 2004; {len(found)} loops: every link on a loop "
            "is on one of them). `trafficsys dominance` finds the loops that matter by searching the runs."
        )
    else:
        print(
            f"{len(found)} {what}: {pol['R']} reinforcing (R), {pol['B']} balancing (B), {pol['?']} unknown (?)"
        )
    if census is None and len(found) > SUMMARY_ABOVE and not (args.all or args.independent or args.csv):
        named = [lp for lp in found if lp.name]
        sils = independent_loops(cld, max_loops=args.max_loops)
        keep = {lp.id for lp in sils} | {lp.id for lp in named}
        found = LoopList(
            [lp for lp in found if lp.id in keep] + [lp for lp in sils if lp.id not in {f.id for f in found}]
        )
        print(
            f"Showing the {len(named)} named loops and the shortest independent loop set ({len(sils)} loops, "
            f"Oliva 2004): {len(found)} loops; --all lists every loop, --csv FILE writes them all."
        )
    print()
    if found:
        w = max(len(lp.id) for lp in found)
        nw = max([len(lp.name or "") for lp in found] + [4])
        print(
            f"  {'id':<{w}}  {'pol':<3}  {'len':>3}  {'delays':>6}  {'name':<{nw}}  path  (-(s)->: link sign; ||: delay)"
        )
        for lp in found:
            lines = textwrap.wrap(_path(lp), 100) or [""]
            print(
                f"  {lp.id:<{w}}  {lp.polarity:<3}  {lp.length:>3}  {sum(lp.delays):>6}  {lp.name or '-':<{nw}}  "
                f"{lines[0]}"
            )
            for extra in lines[1:]:
                print(" " * (w + nw + 26) + extra)
    else:
        print("  (no feedback loops)")
    if args.links:
        print("\nCausal links:")
        for lk in cld.links:
            print(
                f"  {lk.source} -> {lk.target}  {lk.polarity}{'  (delay)' if lk.delay else ''}"
                f"{'  ' + lk.note if lk.note else ''}"
            )
    resolved = [n for n in cld.notes if n.structural == "?" and n.polarity in "+-"]
    notes = [n.message for n in cld.notes if n not in resolved] + named_loop_notes(cld, args.length_bound)
    if resolved and not args.links:
        notes.append(
            f"{len(resolved)} links have no sign from their equation's structure but a single sign over "
            f"the simulated run, which is used (e.g. {resolved[0].source} -> {resolved[0].target}: "
            f"'{resolved[0].polarity}'); --links lists them"
        )
    elif resolved:
        notes += [n.message for n in resolved]
    if notes:
        print("\nNotes:")
        for n in notes:
            print("  - " + "\n    ".join(textwrap.wrap(n, 100)))
    if args.csv:
        import csv

        with atomic_path(args.csv) as tmp, open(tmp, "w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow(["id", "name", "polarity", "length", "delays", "variables", "signs"])
            for lp in found:
                wr.writerow(
                    [
                        lp.id,
                        lp.name or "",
                        lp.polarity,
                        lp.length,
                        sum(lp.delays),
                        " ".join(lp.variables),
                        " ".join(lp.signs),
                    ]
                )
        print(f"\nwrote {args.csv}")
    if args.plot:
        _plot(cld, args)
    return 0


def _plot(cld, args: argparse.Namespace) -> None:
    """Draw the diagram (or the chosen loops or sector) to ``args.plot``, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = cld.plot(loops=args.loop, sector=args.sector, highlight=args.highlight, layout=args.layout)
    save_figure(ax.figure, args.plot, dpi=100)
    plt.close(ax.figure)
    drawn = sum(1 for t in ax.texts if (t.get_gid() or "").startswith("variable:"))
    print(f"\nwrote {args.plot} ({drawn} variables)")
    if drawn > 60 and not (args.loop or args.sector):
        print("  a diagram this big is hard to read whole: --loop NAME or --sector NAME draws a part")
