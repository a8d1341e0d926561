"""Model files: ``load``/``save`` dispatch by suffix, and the shipped models.

=================================  ===========================================
suffix                             reader / writer
=================================  ===========================================
``.toml``                          :mod:`trafficsys.io.toml_io` (read and write)
``.xmile .stmx .itmx .xml``        :mod:`trafficsys.io.xmile` (read and write)
``.mdl``                           :mod:`trafficsys.io.vensim` (read, our own grammar)
=================================  ===========================================
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from ..errors import FileFormatError, UnknownVariableError
from ..io.output import check_output, refuse_existing
from ..model.model import Model
from ..model.names import suggest
from .resources import DEFAULT_MODEL, STRATEGIES_FILE, model_path, models_dir
from .toml_io import read_toml, write_toml

__all__ = [
    "load",
    "save",
    "load_default",
    "read_toml",
    "write_toml",
    "models_dir",
    "model_path",
    "READERS",
    "WRITERS",
    "merge_scenarios",
    # interoperability (loaded on first use; pysd and pydot are imported only when called)
    "read_xmile",
    "write_xmile",
    "read_vensim",
    "read_vensim_cld",
    "to_pysd",
    "pysd_frame",
    "causal_graph",
    "to_graphml",
    "to_dot",
    "to_kumu",
    "to_mermaid",
    "write_graph",
]

_LAZY = {
    "read_xmile": "xmile",
    "write_xmile": "xmile",
    "read_vensim": "vensim",
    "read_vensim_cld": "vensim",
    "to_pysd": "pysd_bridge",
    "pysd_frame": "pysd_bridge",
    "causal_graph": "graph",
    "to_graphml": "graph",
    "to_dot": "graph",
    "to_kumu": "graph",
    "to_mermaid": "graph",
    "write_graph": "graph",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trafficsys.io' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


#: suffix -> (module, function) reading a model file
READERS = {
    ".toml": ("trafficsys.io.toml_io", "read_toml"),
    ".xmile": ("trafficsys.io.xmile", "read_xmile"),
    ".stmx": ("trafficsys.io.xmile", "read_xmile"),
    ".itmx": ("trafficsys.io.xmile", "read_xmile"),
    ".xml": ("trafficsys.io.xmile", "read_xmile"),
    ".mdl": ("trafficsys.io.vensim", "read_vensim"),
}
#: suffix -> (module, function) writing a model file
WRITERS = {
    ".toml": ("trafficsys.io.toml_io", "write_toml"),
    ".xmile": ("trafficsys.io.xmile", "write_xmile"),
    ".stmx": ("trafficsys.io.xmile", "write_xmile"),
    ".itmx": ("trafficsys.io.xmile", "write_xmile"),
    ".xml": ("trafficsys.io.xmile", "write_xmile"),
}


def _handler(table: dict, path: Path, verb: str):
    suffix = path.suffix.lower()
    if suffix not in table:
        raise FileFormatError(
            f"cannot {verb} a '{suffix or '(no suffix)'}' file; use one of {', '.join(table)}",
            file=str(path),
        )
    module, func = table[suffix]
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as e:
        if module.startswith("trafficsys."):
            raise  # our own reader or writer failed to import: a bug to see, not a missing format
        raise FileFormatError(
            f"{verb}ing '{suffix}' files needs {module}.{func}, which is not available ({e})",
            file=str(path),
        ) from e


def load(path: str | os.PathLike, *, validate: bool = False, macros=None, data=None) -> Model:
    """Read a model file; the format follows the suffix.

    Parameters
    ----------
    path
        A ``.toml``, ``.xmile``/``.stmx``/``.itmx``/``.xml`` or ``.mdl`` file.
    validate
        Also run :meth:`Model.validate` (names, structure, algebraic loops,
        ranges, units) and raise its first error.  Off by default: reading only
        checks the file's structure and equation syntax (the engine checks
        names, structure and algebraic loops again when it compiles).
    macros
        XMILE and Vensim files: a file (or a list) of macro definitions the
        model calls but does not define, a macro library.  An XMILE model takes
        XMILE files (``<macro>`` elements) and Vensim ``.mdl`` files
        (``:MACRO:`` blocks); a Vensim model takes ``.mdl`` files.
    data
        Vensim files: a data file (or a list) whose time series fill the
        model's data variables (``x :INTERPOLATE:`` and other equations
        without a right-hand side), as Vensim's *Data source* setting does; a
        ``.tab``/``.csv`` table or an ``.xlsx`` sheet, time down the rows or
        across the columns (:mod:`trafficsys.io.datafile`).

    Returns
    -------
    Model
        With ``model.file`` set to ``path``.

    Raises
    ------
    FileFormatError
        Unknown suffix, missing, too large or malformed file.
    ModelError
        Any other problem in the file (a :class:`~trafficsys.errors.ParseError`
        for a bad equation...).

    Notes
    -----
    Companion files (``macros``, ``data``) are looked for from the current
    folder, then from the model's folder, and must lie in the model's folder
    or below it (:mod:`trafficsys.io.companion`).

    Examples
    --------
    >>> import trafficsys as ts
    >>> m = ts.load(ts.io.model_path("examples/exploitation_exit.toml"))
    >>> m.name
    'exploitation_exit'
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"load needs the path of a model file (str or pathlib.Path), got {type(path).__name__}"
        )
    p = Path(path)
    if p.is_dir():
        raise FileFormatError(
            f"this is a folder, not a model file; give the path of a file inside it ({', '.join(READERS)})",
            file=str(p),
        )
    reader = _handler(READERS, p, "read")
    if not p.is_file():
        where = "" if p.is_absolute() else f" (relative paths start from the current folder, {Path.cwd()})"
        raise FileFormatError(f"no such file; check the name and the folder{where}", file=str(p))
    options = {k: v for k, v in (("macros", macros), ("data", data)) if v is not None}
    if options:
        taken = {".xmile": {"macros"}, ".stmx": {"macros"}, ".itmx": {"macros"}, ".xml": {"macros"}}.get(
            p.suffix.lower(), {"macros", "data"} if p.suffix.lower() == ".mdl" else set()
        )
        extra = sorted(set(options) - taken)
        if extra:
            raise FileFormatError(
                f"{' and '.join(f'{k}=' for k in extra)} does not apply to a '{p.suffix}' file "
                "(macros= is for XMILE and Vensim models, data= for Vensim models)",
                file=str(p),
            )
    model = reader(p, **options)
    if model.file is None:
        model.file = str(p)
    if validate:
        model.validate()
    return model


def save(model: Model, path: str | os.PathLike, *, overwrite: bool = True) -> None:
    """Write ``model`` to ``path``; the format follows the suffix (``.toml``, ``.xmile``...).

    The file is written to a temporary file beside ``path`` and renamed over it
    when complete: a failed write (a full disk) leaves the previous file intact.

    Parameters
    ----------
    model
        The model.
    path
        Where to write; the suffix picks the format.
    overwrite
        Replace an existing file (default, as an explicit call asks); with
        ``False`` an existing file is refused (see ``docs/limits.md``).

    Raises
    ------
    FileFormatError
        For a suffix no writer handles, or a path that cannot be written (a
        missing folder, a folder, no permission, an existing file with
        ``overwrite=False``, a full disk).
    """
    p = Path(path)
    writer = _handler(WRITERS, p, "write")
    check_output(p, what="model file")
    if not overwrite:
        refuse_existing(p, option="overwrite=True")
    try:
        writer(model, p)
    except OSError as e:
        raise FileFormatError(f"cannot write the file: {e.strerror or e}", file=str(p)) from None


def load_default(*, strategies: bool = True) -> Model:
    """Load the reference anti-trafficking ecosystem model shipped with the package.

    Parameters
    ----------
    strategies
        Merge the ``[scenarios]`` of ``strategies.toml`` (same folder), when it
        exists, into the model's scenarios.

    Returns
    -------
    Model
    """
    path = model_path(DEFAULT_MODEL)
    model = load(path)
    strat = path.parent / STRATEGIES_FILE
    if strategies and strat.is_file():
        merge_scenarios(model, strat)
    return model


def merge_scenarios(model: Model, path: str | os.PathLike) -> Model:
    """Add the ``[scenarios]`` of the TOML file ``path`` to ``model`` (in place; returned).

    The file may hold only ``[scenarios.*]`` tables (and a ``[model]`` table,
    ignored).  A scenario overriding a name the model lacks is an error naming
    the scenario and the file.
    """
    from .toml_io import read_scenarios

    for sc in read_scenarios(path):
        for name, _ in sc.set:
            if name not in model:
                raise UnknownVariableError(
                    f"scenario '{sc.name}' sets '{name}', which the model "
                    f"'{model.name}' does not define{suggest(name, model.names())}",
                    file=str(path),
                    variable=name,
                )
        model.scenarios[sc.name] = sc
    return model
