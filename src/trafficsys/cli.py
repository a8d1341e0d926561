"""The ``trafficsys`` command line.

Each subcommand lives in its own module under :mod:`trafficsys.commands`, which
provides ``add_arguments(parser)`` and ``run(args) -> int``.  With no model
argument, every subcommand uses the reference model shipped in the package.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import ModelError, ModelWarning

__all__ = ["main", "COMMANDS"]

#: subcommand -> one-line help
COMMANDS = {
    "run": "simulate one scenario and print a table of key variables",
    "compare": "compare strategies over a Monte Carlo sample (the main job)",
    "loops": "list the feedback loops with their polarity",
    "archetypes": "detect systems archetypes in the causal structure",
    "dominance": "which loops drive behaviour when (Loops that Matter)",
    "blocks": "find the systemic blocks that keep an outcome from responding to the levers",
    "calibrate": "fit the model to a place's published figures (a local-data file) and say what they pin down",
    "export": "write the model as TOML, XMILE, GraphML, DOT, Kumu JSON or Mermaid",
    "report": "write one self-contained HTML report: structure, sources, loops, archetypes, strategies, blocks",
    "validate": "check a model file: names, structure, ranges, algebraic loops, units",
    "workshop": "serve the workshop simulator for trainers: teams play rounds, then a debrief",
}


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, with every command's help starting on its name's line.

    argparse measures the command names two columns short of where it prints
    them, so longer names (``archetypes``, ``dominance``) pushed their help
    onto the next line, out of line with the others.
    """

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction) and action.choices:
            longest = max(len(name) for name in action.choices)
            self._action_max_length = max(self._action_max_length, self._current_indent + 2 + longest)


def _limit(text: str) -> tuple[str, int | None]:
    from .limits import parse_assignment

    try:
        return parse_assignment(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="trafficsys",
        formatter_class=_HelpFormatter,
        description="Systems thinking for anti-trafficking programmes: simulate, compare and "
        "analyse intervention strategies. With no MODEL, commands use the reference "
        "anti-trafficking ecosystem model shipped with the package.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"trafficsys {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of an error instead of one line"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as e:
            if (e.name or "").startswith("trafficsys"):
                raise  # our own module is missing: a broken installation, not an optional extra
            continue  # a command whose optional dependency is not installed
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        # also after the command (`trafficsys run --debug`); SUPPRESS keeps the top-level value when absent
        p.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the full traceback of an error instead of one line",
        )
        p.add_argument(
            "--limit",
            action="append",
            type=_limit,
            default=[],
            metavar="NAME=VALUE",
            help="raise a resource limit for this command, e.g. --limit steps=1e8 or --limit memory=64G "
            "(repeatable; the limits and their defaults: docs/limits.md)",
        )
        p.set_defaults(_module=module)
    return parser


def _notes_for(warnings, categories: tuple[type[Warning], ...], command: str) -> None:
    """Show the library's warnings about the user's values as one-line notes on stderr, each once."""
    shown: set[str] = set()
    plain = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, categories):
            return plain(message, category, filename, lineno, file, line)
        text = str(message)
        if text not in shown:
            shown.add(text)
            print(f"trafficsys {command}: note: {text}", file=sys.stderr)

    warnings.simplefilter("always", categories[0])
    for c in categories[1:]:
        warnings.simplefilter("always", c)
    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``trafficsys`` script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    import warnings

    from . import limits

    try:
        with limits.override(**dict(getattr(args, "limit", None) or [])), warnings.catch_warnings():
            _notes_for(warnings, (ModelWarning,), args.command)
            return int(args._module.run(args) or 0)
    except ModelError as e:
        if args.debug:
            raise
        print(f"trafficsys {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (`trafficsys loops | head`); before OSError, its base
        import os

        # point stdout at /dev/null so the interpreter's final flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # reading or writing a file failed (a full disk, a permission changed meanwhile...)
        where = f" {e.filename}" if e.filename else ""
        print(
            f"trafficsys {args.command}: error: cannot read or write{where}: {e.strerror or e}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except Exception as e:  # anything else is our bug, not the user's: say so in one line
        if args.debug:
            raise
        from . import __version__

        print(
            f"trafficsys {args.command}: internal error: {type(e).__name__}: {e}. This is a bug in "
            f"trafficsys {__version__}; please report it to the trafficsys issue tracker with the command "
            "line and the model file (run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
