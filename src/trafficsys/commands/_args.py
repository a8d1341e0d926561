"""Shared pieces of the subcommands' arguments: the model argument's help and checked number types.

The number types turn a bad option value (``--runs -3``, ``--window nan``)
into argparse's usual one-line error before anything is loaded or simulated.
"""

from __future__ import annotations

import argparse
import math

from ..io.output import check_output, figure_suffixes, refuse_existing

__all__ = [
    "MODEL_HELP",
    "FORCE_HELP",
    "whole",
    "positive_whole",
    "span",
    "positive_span",
    "check_outputs",
    "add_force",
]

#: help of the optional MODEL argument, the same for every subcommand
MODEL_HELP = "model file (.toml, .xmile, .stmx, .itmx or Vensim .mdl); default: the reference model"
#: help of --force, the same for every subcommand that writes files (the rule: docs/limits.md)
FORCE_HELP = (
    "replace output files that exist (without it, an existing file is refused before any work; "
    "files are replaced in one step, never left half written)"
)


def add_force(parser: argparse.ArgumentParser) -> None:
    """Add ``--force``, the one way a command may replace an existing file."""
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def whole(text: str) -> int:
    """Read a whole number >= 0."""
    return _whole(text, 0)


def positive_whole(text: str) -> int:
    """Read a whole number >= 1."""
    return _whole(text, 1)


def _span(text: str, positive: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise argparse.ArgumentTypeError(
            f"must be a {'positive' if positive else 'non-negative'} number of time units, got {text!r}"
        )
    return value


def span(text: str) -> float:
    """Read a finite time span >= 0."""
    return _span(text, False)


def positive_span(text: str) -> float:
    """Read a finite time span > 0."""
    return _span(text, True)


def check_outputs(
    *, csv: str | None = None, figure: str | None = None, other: str | None = None, force: bool = False
) -> None:
    """Check output paths before the work that fills them (raises FileFormatError).

    Without ``force``, an existing file is refused: the command line never
    replaces a file it was not told to (``docs/limits.md``).
    """
    if csv:
        check_output(csv, what="CSV file", example=".csv")
    if figure:
        check_output(figure, suffixes=figure_suffixes(), what="figure", example=".png")
    if other:
        check_output(other)
    if not force:
        for path in (csv, figure, other):
            if path:
                refuse_existing(path)
