"""Where the shipped models live.

An installed wheel carries the repository's top-level ``models/`` folder as
``trafficsys/models`` (``pyproject.toml`` force-includes it).  In a source or
editable checkout that folder does not exist inside the package, so the
repository's own ``models/`` is used instead.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import FileFormatError

__all__ = ["models_dir", "model_path", "DEFAULT_MODEL", "STRATEGIES_FILE"]

#: The reference ecosystem model, relative to :func:`models_dir`.
DEFAULT_MODEL = "anti_trafficking_ecosystem.toml"
#: Named strategies merged into the default model when present (same folder).
STRATEGIES_FILE = "strategies.toml"

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # .../trafficsys


def models_dir() -> Path:
    """Return the folder holding the shipped models.

    Returns
    -------
    Path
        ``trafficsys/models`` inside an installed package, or the repository's
        ``models/`` in a source checkout.

    Raises
    ------
    FileFormatError
        When neither folder exists (a broken installation).
    """
    candidates = [_PACKAGE_ROOT / "models", _PACKAGE_ROOT.parent.parent / "models"]
    for c in candidates:
        if c.is_dir():
            return c
    raise FileFormatError(
        "the shipped models folder is missing (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); reinstall trafficsys with `pip install .` from the repository"
    )


def model_path(name: str) -> Path:
    """Return the path of the shipped model file ``name`` (e.g. ``"examples/exploitation_exit.toml"``).

    Raises
    ------
    FileFormatError
        When the shipped file does not exist; the message lists what does.
    """
    root = models_dir()
    path = (root / name).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        shipped = sorted(str(p.relative_to(root)) for p in root.rglob("*.toml"))
        raise FileFormatError(
            f"no shipped model '{name}' in {root}; shipped models: {', '.join(shipped) or 'none'}"
        )
    return path
