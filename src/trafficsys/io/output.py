"""Output files: check a path before the work that fills it, and write every file atomically.

A mistyped output path (a missing folder, a folder given instead of a file, a
figure suffix matplotlib cannot write, an existing file the command line may
not replace) should fail at once with a
:class:`~trafficsys.errors.FileFormatError` naming the file, not after a long
Monte Carlo with an ``OSError`` from deep inside pandas or PIL.

Every file trafficsys writes goes through :func:`atomic_path`: the content is
written to a temporary file in the target's folder and renamed over the target
(:func:`os.replace`) only when complete, so a full disk or a crash leaves the
previous file intact and no temporary file behind.  The overwrite rule is in
``docs/limits.md``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import FileFormatError

__all__ = [
    "check_output",
    "figure_suffixes",
    "save_figure",
    "atomic_path",
    "write_text",
    "write_csv",
    "refuse_existing",
    "png_text",
]


def figure_suffixes() -> list[str]:
    """Return the suffixes matplotlib can write a figure to (``.png``, ``.pdf``, ``.svg``...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted("." + s for s in FigureCanvasBase.get_supported_filetypes())


def check_output(
    path: str | os.PathLike, *, suffixes: list[str] | None = None, what: str = "file", example: str = ""
) -> None:
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
        raise FileFormatError(
            f"this is a folder; give the name of the output {what} inside it, e.g. {p / example}", file=name
        )
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise FileFormatError(
            f"cannot write a {what} with the suffix '{p.suffix or '(none)'}'; "
            f"use one of {', '.join(suffixes)}",
            file=name,
        )
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise FileFormatError(
            f"the folder '{parent}' does not exist; create it first or choose another path", file=name
        )
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise FileFormatError("no permission to write here; choose another path", file=name)


def refuse_existing(path: str | os.PathLike, *, option: str = "--force", advice: str | None = None) -> None:
    """Raise :class:`FileFormatError` if ``path`` exists: the command line's overwrite rule.

    ``option`` is what the message tells the user to pass to replace it;
    ``advice`` replaces the whole suggestion.
    """
    p = Path(os.fspath(path))
    if p.exists() or p.is_symlink():
        raise FileFormatError(
            f"the file exists; {advice or f'pass {option} to replace it, or choose another path'}",
            file=str(p),
        )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on failure delete it.

    Write the whole content to the yielded path inside the ``with`` block.  The
    target is replaced in one step (:func:`os.replace`), keeping the old file's
    permissions, so readers see either the old or the new file, never a part;
    a symbolic link is followed and its target replaced.  An ``OSError``
    becomes a :class:`FileFormatError` naming ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = pathlib.Path(tmp).write_text("done")
    >>> target.read_text()
    'done'
    """
    name = os.fspath(path)
    real = os.path.realpath(name) if os.path.islink(name) else name
    folder, base = os.path.split(real)
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
    try:
        mode = os.stat(real).st_mode & 0o7777 if os.path.exists(real) else None
        os.close(
            os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        )  # the umask applies, as for open()
        if mode is not None:
            os.chmod(tmp, mode)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FileFormatError(f"cannot write the file: {e.strerror or e}", file=name) from None
    try:
        yield tmp
        os.replace(tmp, real)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise FileFormatError(
                f"cannot write the file: {e.strerror or e}; the previous file, if any, is unchanged",
                file=name,
            ) from None
        raise


def png_text(path: str | os.PathLike, key: str) -> str | None:
    """Return the ``tEXt`` entry ``key`` of a PNG file (read before the image data), or None.

    Commands mark the files they write by default (``metadata={key: ...}`` in
    ``savefig``) and read the mark back to know a file is theirs to replace.
    """
    import struct

    try:
        with open(path, "rb") as fh:
            if fh.read(8) != b"\x89PNG\r\n\x1a\n":
                return None
            for _ in range(64):  # the text chunks matplotlib writes come first
                head = fh.read(8)
                if len(head) < 8:
                    return None
                length, kind = struct.unpack(">I4s", head)
                if kind in (b"IDAT", b"IEND") or length > 1 << 16:
                    return None
                data = fh.read(length)
                fh.read(4)  # CRC
                if kind == b"tEXt" and b"\x00" in data:
                    k, v = data.split(b"\x00", 1)
                    if k.decode("latin-1") == key:
                        return v.decode("latin-1")
    except OSError:
        return None
    return None


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def write_csv(frame: Any, path: str | os.PathLike, **kwargs: Any) -> None:
    """``frame.to_csv(path, **kwargs)`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **kwargs)


def save_figure(fig: Any, path: str | os.PathLike, **kwargs: Any) -> None:
    """``fig.savefig(path, **kwargs)`` atomically, after :func:`check_output`; write errors become FileFormatError."""
    check_output(path, suffixes=figure_suffixes(), what="figure", example=".png")
    kwargs.setdefault(
        "format", Path(os.fspath(path)).suffix.lower().lstrip(".")
    )  # the temporary name has none
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kwargs)
