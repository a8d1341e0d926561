"""``trafficsys blocks``: the systemic blocks that keep an outcome from responding to the levers."""

from __future__ import annotations

import argparse
import textwrap

from ..errors import ModelError
from ..io.output import write_text
from ._args import MODEL_HELP, add_force, check_outputs, positive_whole

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument(
        "--target",
        metavar="VAR",
        help="the outcome (a stock such as cases_convicted, a flow or an auxiliary); default: the "
        "model's metadata 'target' when it names one",
    )
    parser.add_argument(
        "--scenario", metavar="S", help="analyse this scenario of the model (default: the base model)"
    )
    parser.add_argument(
        "--levers",
        metavar="A,B",
        help='comma-separated constants to treat as levers (default: the constants tagged role = "policy")',
    )
    parser.add_argument(
        "--n",
        "--runs",
        dest="n",
        type=positive_whole,
        default=200,
        metavar="N",
        help="sampled futures (default 200)",
    )
    parser.add_argument("--seed", type=int, default=1, metavar="K", help="seed of the sample (default 1)")
    parser.add_argument(
        "--compare",
        metavar="S1,S2",
        help="also find the blocks under these scenarios and show which ease or deepen",
    )
    parser.add_argument(
        "--top",
        type=positive_whole,
        default=10,
        metavar="N",
        help="show the N most severe blocks (default 10; the Markdown report has them all)",
    )
    parser.add_argument("--markdown", metavar="FILE", help="write the full report as Markdown")
    add_force(parser)


def run(args: argparse.Namespace) -> int:
    """Print the ranked blocks with their explanations and numbers."""
    import trafficsys as ts

    check_outputs(other=args.markdown, force=args.force)
    m = ts.load(args.model) if args.model else ts.load_default()
    target = args.target or m.metadata.get("target")
    if not target:
        raise ModelError(
            "give the outcome with --target VAR (e.g. --target cases_convicted); the model's "
            "metadata names no default target",
            file=m.file,
        )
    levers = [x.strip() for x in args.levers.split(",") if x.strip()] if args.levers else None
    rep = ts.find_blocks(m, target, levers=levers, scenario=args.scenario, n=args.n, seed=args.seed)
    print(repr(rep).splitlines()[0])
    print()
    if not rep.blocks:
        print("  No systemic block holds in most sampled futures.")
    for i, b in enumerate(rep.blocks[: args.top], 1):
        print(
            f"{i:>2}. {b.title} [{b.kind}]  severity {b.severity:.2f}  holds in {100 * b.prevalence:.0f}% of "
            f"futures  confidence {b.confidence:.2f}"
        )
        print(textwrap.fill(b.explanation, 100, initial_indent="    ", subsequent_indent="    "))
        for e in list(b.evidence.values())[:5]:
            print(textwrap.fill(f"- {e}", 100, initial_indent="    ", subsequent_indent="      "))
        if b.assumptions:
            print(
                textwrap.fill(
                    "rests on assumptions: " + ", ".join(b.assumptions[:5]),
                    100,
                    initial_indent="    ",
                    subsequent_indent="      ",
                )
            )
        print()
    if len(rep.blocks) > args.top:
        print(
            f"  ... and {len(rep.blocks) - args.top} more (--top N shows more; --markdown FILE writes all)\n"
        )
    if rep.levers:
        print("Levers (elasticity of the target; share of futures in which raising the lever raises it):")
        for lv in rep.levers:
            who = f" [{lv.actor}]" if lv.actor else ""
            el = "n/a" if lv.elasticity != lv.elasticity else f"{lv.elasticity:+.3f}"
            print(f"  {lv.name}{who}: {el}  ({100 * lv.share_positive:.0f}%)")
    if rep.not_assessed:
        print("\nNot assessed:")
        for x in rep.not_assessed:
            print(textwrap.fill(x, 100, initial_indent="  - ", subsequent_indent="    "))
    text = rep.to_markdown()
    if args.compare:
        cmp = rep.compare_scenarios([s.strip() for s in args.compare.split(",") if s.strip()])
        print("\nBlocks by scenario (severity; against the analysed scenario):")
        print(repr(cmp).split("\n", 1)[1] if "\n" in repr(cmp) else repr(cmp))
        text += "\n## Blocks by scenario\n\n" + cmp.to_markdown()
    if args.markdown:
        write_text(args.markdown, text)
        print(f"\nwrote {args.markdown}")
    return 0
