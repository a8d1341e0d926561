"""``trafficsys export``: write a model as TOML or XMILE, or its causal graph for other tools."""

from __future__ import annotations

import argparse
import os

from ..errors import FileFormatError
from ..io.output import check_output, refuse_existing
from ._args import MODEL_HELP

__all__ = ["add_arguments", "run", "FORMATS"]

#: suffix -> what it is, for --help and the summary line
FORMATS = {
    ".toml": "trafficsys model file",
    ".xmile": "XMILE model (Stella, PySD, Simlin)",
    ".stmx": "XMILE model (Stella)",
    ".graphml": "causal graph, GraphML (Gephi, yEd, Cytoscape)",
    ".dot": "causal graph, Graphviz DOT",
    ".json": "causal graph, Kumu blueprint JSON",
    ".mmd": "causal graph, Mermaid flowchart (Markdown docs)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument(
        "--to",
        required=True,
        metavar="OUT",
        help="output file; the suffix picks the format: "
        + ", ".join(f"{k} ({v})" for k, v in FORMATS.items()),
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace OUT if it exists (without it, an existing "
        "file is refused before any work; the file is replaced in one step, never left half written)",
    )


def run(args: argparse.Namespace) -> int:
    """Load the model and write it in the format of ``--to``'s suffix."""
    import trafficsys as ts

    from ..io.graph import GRAPH_FORMATS, causal_graph, write_graph

    out = args.to
    if os.path.isdir(out):
        check_output(out, example=".xmile")  # says it is a folder
    suffix = os.path.splitext(out)[1].lower()
    if not suffix and os.path.basename(out).lower() in FORMATS:
        raise FileFormatError(
            f"give the file a name before the suffix, e.g. model{os.path.basename(out)}", file=out
        )
    if suffix not in FORMATS and suffix not in GRAPH_FORMATS:
        raise FileFormatError(
            f"unknown output format '{suffix or out}'; use one of {', '.join(FORMATS)}", file=out
        )
    check_output(out)
    if not args.force:
        refuse_existing(out)
    m = ts.load(args.model) if args.model else ts.load_default()
    if suffix in GRAPH_FORMATS:
        write_graph(m, out)
        g = causal_graph(m)
        print(
            f"wrote {out}: {FORMATS.get(suffix, 'causal graph')}, {g.number_of_nodes()} variables, "
            f"{g.number_of_edges()} links"
        )
    else:
        ts.save(m, out)
        print(
            f"wrote {out}: {FORMATS[suffix]}, {len(m)} variables "
            f"({len(m.stocks)} stock{'' if len(m.stocks) == 1 else 's'}), t = {m.start:g}..{m.stop:g} {m.time_units}"
        )
    return 0
