"""Files a model is read with: a macro library, a data file (``ts.load(path, macros=..., data=...)``).

A companion file is found the way Vensim finds the files a model names: a
relative path is taken from the current folder when a file is there, else from
the model's folder (where both hold the name, the model folder's file).  Either way it must lie in the model's folder or below it,
like the files ``GET XLS``/``GET DATA`` read, so that a model and what it is
run with travel together as one folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import FileFormatError

__all__ = ["companion_paths", "resolve"]


def resolve(model_path: str | os.PathLike, given: str | os.PathLike, what: str) -> Path:
    """Return the file ``given`` names for the model at ``model_path``, checked to lie in the model's folder.

    Raises
    ------
    FileFormatError
        The file does not exist, is a folder, or lies outside the model's folder.
    """
    if not isinstance(given, (str, os.PathLike)):
        raise TypeError(f"the {what} must be a path (str or pathlib.Path), got {type(given).__name__}")
    root = Path(model_path).resolve().parent
    p = Path(given)
    candidates = [p] if p.is_absolute() else [Path.cwd() / p, root / p]
    existing = [c.resolve() for c in candidates if c.exists()]
    # a name both folders hold is the model folder's file: the only one it may read
    found = next((c for c in existing if root in c.parents), existing[0] if existing else None)
    if found is None:
        raise FileFormatError(
            f"no such {what}; a relative path is looked for in the current folder, then in the "
            f"model's folder ({root})",
            file=str(p),
        )
    target = found.resolve()
    if target.is_dir():
        raise FileFormatError(f"this is a folder, not a {what}; give the path of a file", file=str(p))
    if root not in target.parents:
        raise FileFormatError(
            f"the {what} lies outside the model's folder ({root}); a model reads only files in its own "
            "folder or below it (as Vensim's GET DATA does here): copy the file next to the model",
            file=str(p),
        )
    return target


def companion_paths(
    model_path: str | os.PathLike, given: str | os.PathLike | list | tuple | None, what: str
) -> list[Path]:
    """Return the files of an option that takes one path or several (None: no file)."""
    if given is None:
        return []
    items = list(given) if isinstance(given, (list, tuple)) else [given]
    return [resolve(model_path, g, what) for g in items]
