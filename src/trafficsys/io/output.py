"""Output files: check a path can be written before the work that fills it, and save figures.

A mistyped output path (a missing folder, a folder given instead of a file, a
figure suffix matplotlib cannot write) should fail at once with a
:class:`~trafficsys.errors.FileFormatError` naming the file, not after a long
Monte Carlo with an ``OSError`` from deep inside pandas or PIL.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import FileFormatError

__all__ = ["check_output", "figure_suffixes", "save_figure"]


def figure_suffixes() -> list[str]:
    """Return the suffixes matplotlib can write a figure to (``.png``, ``.pdf``, ``.svg``...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted("." + s for s in FigureCanvasBase.get_supported_filetypes())


def check_output(path: str | os.PathLike, *, suffixes: list[str] | None = None, what: str = "file",
                 example: str = "") -> None:
    """Raise :class:`FileFormatError` unless ``path`` can be written as a ``what``.

    Checks that ``path`` is not a folder, that its folder exists and is
    writable, that an existing file there is writable and, when ``suffixes`` is
    given, that the suffix is one of them.  ``example`` is the suffix the
    messages suggest (default: the first of ``suffixes``).
    """
    p = Path(os.fspath(path))
    name = str(p)
    example = "out" + (example or (suffixes[0] if suffixes else ""))
    if p.is_dir():
        raise FileFormatError(f"this is a folder; give the name of the output {what} inside it, e.g. "
                              f"{p / example}", file=name)
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise FileFormatError(f"cannot write a {what} with the suffix '{p.suffix or '(none)'}'; "
                              f"use one of {', '.join(suffixes)}", file=name)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise FileFormatError(f"the folder '{parent}' does not exist; create it first or choose another path",
                              file=name)
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise FileFormatError("no permission to write here; choose another path", file=name)


def save_figure(fig: Any, path: str | os.PathLike, **kwargs: Any) -> None:
    """``fig.savefig(path, **kwargs)`` after :func:`check_output`; write errors become FileFormatError."""
    check_output(path, suffixes=figure_suffixes(), what="figure", example=".png")
    try:
        fig.savefig(path, **kwargs)
    except OSError as e:
        raise FileFormatError(f"cannot write the figure: {e.strerror or e}", file=os.fspath(path)) from None
