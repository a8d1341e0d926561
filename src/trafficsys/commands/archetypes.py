"""``trafficsys archetypes``: systems archetypes in a model's causal structure, grouped into findings."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from ..errors import ModelError
from ._args import MODEL_HELP, check_outputs, positive_whole, whole

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    from ..cld.archetype_search import KINDS

    parser.add_argument("model", nargs="?", help=MODEL_HELP.replace("model file", "model or CLD file"))
    parser.add_argument(
        "--kind",
        action="append",
        choices=KINDS,
        metavar="KIND",
        help=f"only this archetype (repeatable): {', '.join(KINDS)}",
    )
    parser.add_argument(
        "--top",
        type=whole,
        default=10,
        metavar="N",
        help="show the N best findings (or matches with --matches; default 10; 0 shows all)",
    )
    parser.add_argument(
        "--matches",
        action="store_true",
        help="list the individual matches instead of the findings (a finding groups the matches "
        "that share an archetype's core loops and core roles)",
    )
    parser.add_argument(
        "--dominance",
        action="store_true",
        help="simulate the model and rank the findings by loop dominance (Loops that Matter) "
        "after the role tags",
    )
    parser.add_argument(
        "--scenario", help="with --dominance: the scenario to simulate (default: the base case)"
    )
    parser.add_argument(
        "--length-bound",
        type=positive_whole,
        metavar="N",
        help="only use loops of at most N links (default: all loops, or for big models the "
        "shortest 200 or so plus the named ones)",
    )
    parser.add_argument(
        "--all", action="store_true", help="do not de-duplicate: also show matches contained in larger ones"
    )
    parser.add_argument(
        "--csv", metavar="FILE", help="write every finding (or match, with --matches) to a CSV file"
    )
    parser.add_argument(
        "--structure-only",
        action="store_true",
        help="infer link polarities from the equations only, without simulating the model",
    )


def run(args: argparse.Namespace) -> int:
    """Detect the archetypes and print the findings (or the matches)."""
    from ..cld import archetypes
    from ..cld.archetype_search import detection_loops
    from .loops import load_cld

    check_outputs(csv=args.csv)
    if args.scenario and not args.dominance:
        raise ModelError(
            "--scenario only applies with --dominance (the scenario whose run ranks the findings)"
        )
    m, cld = load_cld(args.model, args.structure_only)
    bound = args.length_bound or "auto"
    used, used_bound, total = detection_loops(cld, bound)
    dominance = None
    if args.dominance:
        import trafficsys as ts

        dominance = ts.loop_dominance(m, ts.simulate(m, scenario=args.scenario))
    found = archetypes(cld, kinds=args.kind, length_bound=bound, deduplicate=not args.all, results=dominance)
    if used_bound is not None and total is not None and total > len(used):
        scope = (
            f"{total} feedback loops; detection used {len(used)} of them (those of at most "
            f"{used_bound} links, plus the named loops; --length-bound N to choose)"
        )
    else:
        scope = f"{len(used)} feedback loops" + (f" of at most {used_bound} links" if used_bound else "")
    if args.matches:
        _print_matches(m, scope, found, args.top)
    else:
        _print_findings(m, scope, found, args.top, args.scenario)
    if args.csv:
        table = found.to_pandas() if args.matches else found.findings.to_pandas()
        table.to_csv(args.csv, index=False)
        print(f"\nwrote {args.csv}")
    return 0


def _loops_of(items) -> None:
    print("Loops:")
    shown = {lp.id: lp for a in items for lp in a.loops}
    for lp in sorted(
        shown.values(), key=lambda lp: (lp.polarity, int(lp.id[1:]) if lp.id[1:].isdigit() else 0)
    ):
        print(f"  {lp}")


def _label(lp) -> str:
    return f"{lp.id} ({lp.name})" if lp.name else lp.id


def _wrap(label: str, text: str) -> None:
    print(f"    {label}: " + f"\n    {' ' * (len(label) + 2)}".join(textwrap.wrap(text, 96 - len(label))))


def _print_findings(m, scope: str, found, top: int, scenario: str | None) -> None:
    findings = found.findings
    n = top or len(findings)
    print(
        f"Model '{m.name}': {scope}; {len(found)} archetype match(es) in {len(findings)} finding(s)"
        + (f", showing the best {n} (--top N to choose, 0 for all)" if len(findings) > n else "")
    )
    how = (
        "role tags, then loop dominance" + (f" (scenario {scenario})" if scenario else " (base run)")
        if findings.behavioural
        else "role tags, then structure (--dominance to rank by loop dominance)"
    )
    print(
        f"A finding groups the matches that share an archetype's core loops and core roles; ranked by {how}; "
        "--matches lists the matches.\n"
    )
    if not findings:
        print(
            "  No archetype found. Archetypes are combinations of loops that share variables;"
            " see docs/archetypes.md for the signatures."
        )
        return
    if len(findings) > n:
        table = findings.by_kind()
        w = max(len(k) for k in table["kind"])
        print(f"  {'archetype':<{w}}  {'matches':>7}  {'findings':>8}  {'best rank':>9}")
        for row in table.itertuples():
            print(f"  {row.kind:<{w}}  {row.matches:>7}  {row.findings:>8}  {row.best_rank:>9}")
        print("\nThe best findings, with their roles (--kind KIND for one archetype, --top N for more):\n")
    for f in findings[:n]:
        amb = f"   (or: {', '.join(f.ambiguous_with)})" if f.ambiguous_with else ""
        beh = f", behaviour {100 * f.behaviour:.2g}%" if f.behaviour is not None else ""
        print(
            f"{f.rank:>2}. {f.title}{amb}   [{f.kind}, score {f.score:.1f}{beh}; {f.n_matches} match"
            f"{'es' if f.n_matches != 1 else ''}]"
        )
        print(f"    core loops: {', '.join(_label(lp) for lp in f.core_loops)}")
        paths = f.path_loops
        if paths:
            listed = ", ".join(_label(lp) for lp in paths[:8]) + (
                f" and {len(paths) - 8} more" if len(paths) > 8 else ""
            )
            _wrap("via", listed)
        w = max(len(r) for r in f.roles)
        for role, vs in f.roles.items():
            shown = " | ".join(vs[:4]) + (f" | ... ({len(vs) - 4} more)" if len(vs) > 4 else "")
            print(f"    {role:<{w}}  {shown if vs else '-- (not in the diagram)'}")
        _wrap("why", f.rank_reason)
        for note in f.best.notes:
            _wrap("note", note)
        print()
    _loops_of([f.best for f in findings[:n]])


def _print_matches(m, scope: str, found, top: int) -> None:
    top = top or len(found)
    print(
        f"Model '{m.name}': {scope}; {len(found)} archetype match(es)"
        + (f", showing the best {top} (--top N to choose, 0 for all)" if len(found) > top else "")
        + "\n"
    )
    if not found:
        print(
            "  No archetype found. Archetypes are combinations of loops that share variables;"
            " see docs/archetypes.md for the signatures."
        )
        return
    if len(found) > top:
        _summary(found)
    for rank, a in enumerate(found[:top], 1):
        amb = f"   (or: {', '.join(a.ambiguous_with)})" if a.ambiguous_with else ""
        print(f"{rank:>2}. {a.title}{amb}   [{a.kind}, score {a.score:g}]")
        print(f"    loops: {', '.join(_label(lp) for lp in a.loops)}")
        w = max(len(r) for r in a.roles)
        for role, var in a.roles.items():
            print(f"    {role:<{w}}  {var if var else '-- (not in the diagram)'}")
        for note in a.notes:
            print("    note: " + "\n          ".join(textwrap.wrap(note, 96)))
        print()
    _loops_of(found[:top])


def _summary(found) -> None:
    """One line per archetype: how many matches, the best one's score and loops (``found`` is ranked)."""
    best: dict[str, Any] = {}
    count: dict[str, int] = {}
    for a in found:
        key = a.title
        count[key] = count.get(key, 0) + 1
        best.setdefault(key, a)
    w = max(len(k) for k in best)
    print(f"  {'archetype':<{w}}  {'matches':>7}  {'best':>6}  best match's loops")
    for key, a in best.items():
        loops = ", ".join(_label(lp) for lp in a.loops)
        print(f"  {key:<{w}}  {count[key]:>7}  {a.score:>6.4g}  {loops}")
    print("\nThe best matches, with their roles (--kind KIND for one archetype, --top N for more):\n")
