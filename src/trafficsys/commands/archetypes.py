"""``trafficsys archetypes``: systems archetypes in a model's causal structure, with their roles."""

from __future__ import annotations

import argparse
import textwrap

from ._args import MODEL_HELP, positive_whole, whole

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    from ..cld.archetypes import KINDS

    parser.add_argument("model", nargs="?", help=MODEL_HELP.replace("model file", "model or CLD file"))
    parser.add_argument("--kind", action="append", choices=KINDS, metavar="KIND",
                        help=f"only this archetype (repeatable): {', '.join(KINDS)}")
    parser.add_argument("--top", type=whole, default=10, metavar="N",
                        help="show the N best matches (default 10; 0 shows all)")
    parser.add_argument("--length-bound", type=positive_whole, metavar="N",
                        help="only use loops of at most N links (default: all loops, or for big models the "
                             "shortest 200 or so plus the named ones)")
    parser.add_argument("--all", action="store_true",
                        help="do not de-duplicate: also show matches contained in larger ones")
    parser.add_argument("--structure-only", action="store_true",
                        help="infer link polarities from the equations only, without simulating the model")


def run(args: argparse.Namespace) -> int:
    """Detect and print the archetypes."""
    from ..cld import archetypes
    from ..cld.archetypes import detection_loops
    from .loops import load_cld

    m, cld = load_cld(args.model, args.structure_only)
    bound = args.length_bound or "auto"
    used, used_bound, total = detection_loops(cld, bound)
    found = archetypes(cld, kinds=args.kind, length_bound=bound, deduplicate=not args.all)
    if used_bound is not None and total is not None and total > len(used):
        scope = (f"{total} feedback loops; detection used {len(used)} of them (those of at most "
                 f"{used_bound} links, plus the named loops; --length-bound N to choose)")
    else:
        scope = f"{len(used)} feedback loops" + (f" of at most {used_bound} links" if used_bound else "")
    top = args.top or len(found)
    print(f"Model '{m.name}': {scope}; {len(found)} archetype match(es)"
          + (f", showing the best {top} (--top N to choose, 0 for all)" if len(found) > top else "") + "\n")
    if not found:
        print("  No archetype found. Archetypes are combinations of loops that share variables;"
              " see docs/archetypes.md for the signatures.")
        return 0
    if len(found) > top:
        _summary(found)
    for rank, a in enumerate(found[:top], 1):
        amb = f"   (or: {', '.join(a.ambiguous_with)})" if a.ambiguous_with else ""
        print(f"{rank:>2}. {a.title}{amb}   [{a.kind}, score {a.score:g}]")
        print(f"    loops: {', '.join(f'{lp.id} ({lp.name})' if lp.name else lp.id for lp in a.loops)}")
        w = max(len(r) for r in a.roles)
        for role, var in a.roles.items():
            print(f"    {role:<{w}}  {var if var else '-- (not in the diagram)'}")
        for note in a.notes:
            print("    note: " + "\n          ".join(textwrap.wrap(note, 96)))
        print()
    print("Loops:")
    shown = {lp.id: lp for a in found[:top] for lp in a.loops}
    for lp in sorted(shown.values(), key=lambda lp: (lp.polarity, int(lp.id[1:]) if lp.id[1:].isdigit() else 0)):
        print(f"  {lp}")
    return 0


def _summary(found) -> None:
    """One line per archetype: how many matches, the best one's score and loops (``found`` is ranked)."""
    best: dict[str, object] = {}
    count: dict[str, int] = {}
    for a in found:
        key = a.title
        count[key] = count.get(key, 0) + 1
        best.setdefault(key, a)
    w = max(len(k) for k in best)
    print(f"  {'archetype':<{w}}  {'matches':>7}  {'best':>6}  best match's loops")
    for key, a in best.items():
        loops = ", ".join(f"{lp.id} ({lp.name})" if lp.name else lp.id for lp in a.loops)
        print(f"  {key:<{w}}  {count[key]:>7}  {a.score:>6.4g}  {loops}")
    print("\nThe best matches, with their roles (--kind KIND for one archetype, --top N for more):\n")
