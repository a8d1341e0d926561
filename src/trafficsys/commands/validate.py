"""``trafficsys validate``: check a model file before simulating it.

Loads the model (default: the reference model shipped in the package), runs
:meth:`trafficsys.Model.validate` (names, stock-flow structure, graphical
functions, constant ranges, scenarios, named loops, algebraic loops and, unless
``--no-units``, dimensional units), prints its warnings, then either a one-line
summary starting ``OK:`` or every problem found.  Exit status 0 when the model
is valid (warnings allowed), 1 when it has errors or cannot be read.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ModelError
from ..model.elements import Kind
from ._args import MODEL_HELP

__all__ = ["add_arguments", "run", "summary"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument(
        "--no-units",
        action="store_true",
        help="skip the dimensional units check (names, structure, ranges and loops are still checked)",
    )


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def summary(model) -> str:
    """Return a one-line count of a model's variables by kind, scenarios and named loops.

    Parameters
    ----------
    model : trafficsys.Model
        The model.

    Returns
    -------
    str
        For example ``"12 variables: 2 stocks, 4 flows, 1 auxiliary, 5 constants,
        0 graphical functions; 1 scenario, 0 named loops"``, followed by the
        size of the hand-drawn causal-loop diagram when the file has one.
    """
    count = {k: len(model.names(k)) for k in Kind}
    parts = [
        _plural(count[Kind.STOCK], "stock"),
        _plural(count[Kind.FLOW], "flow"),
        _plural(count[Kind.AUX], "auxiliary", "auxiliaries"),
        _plural(count[Kind.CONSTANT], "constant"),
        _plural(count[Kind.LOOKUP], "graphical function"),
    ]
    extra = [_plural(len(model.scenarios), "scenario"), _plural(len(model.loops), "named loop")]
    dims = getattr(model, "dimensions", {})
    if dims:
        extra.append(_plural(len(dims), "dimension"))
    text = f"{_plural(len(model), 'variable')}: {', '.join(parts)}; {', '.join(extra)}"
    if model.links or model.cld_variables:
        drawn = (
            {lk.source for lk in model.links} | {lk.target for lk in model.links} | set(model.cld_variables)
        )
        text += (
            f"; hand-drawn causal-loop diagram: {_plural(len(drawn), 'variable')}, "
            f"{_plural(len(model.links), 'link')}"
        )
    return text


def run(args: argparse.Namespace) -> int:
    """Validate the model and print the outcome; return 0 if valid, 1 otherwise."""
    import trafficsys as ts

    where = args.model or "the reference model"
    try:
        model = ts.load(args.model) if args.model else ts.load_default()
    except ModelError as e:
        print(f"error: cannot read {where}:\n{e}", file=sys.stderr)
        return 1
    label = f"model '{model.name}'" + (f" ({model.file})" if model.file else "")
    try:
        warnings = model.validate(units=not args.no_units)
    except ModelError as e:
        problems = getattr(e, "errors", None) or [e]
        print(f"{label}: {_plural(len(problems), 'error')}", file=sys.stderr)
        print(f"error: {e}", file=sys.stderr)
        return 1
    for w in warnings:
        print(f"warning: {w}")
    if args.no_units:
        units = "units not checked (--no-units)"
    elif any(getattr(e, "units", None) for e in model.elements()):
        units = "units consistent"
    else:
        units = "no units declared"
    warned = f", {_plural(len(warnings), 'warning')}" if warnings else ""
    print(f"OK: {label}: {summary(model)}; {units}{warned}")
    return 0
