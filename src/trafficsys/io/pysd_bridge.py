"""The PySD bridge: run any trafficsys model in PySD, through our own XMILE.

PySD is the project's oracle.  Checking our engine against it takes two lines::

    pm = ts.io.to_pysd(m)                    # a runnable pysd model
    pm.run(return_timestamps=...)            # a pandas DataFrame

The model goes out through :func:`trafficsys.io.xmile.write_xmile` (arrayed
models are flattened first: PySD reads no arrays from XMILE), into a working
folder where PySD writes the Python it translates to.
"""

from __future__ import annotations

import os
import tempfile

from ..errors import UnsupportedFeatureError
from ..model.elements import Aux, Flow, Lookup, Stock
from ..model.model import Model
from ..model.names import canonical
from .pysd_guard import inert_doc, translating

__all__ = ["to_pysd", "pysd_frame"]


def to_pysd(model: Model, directory: str | os.PathLike | None = None):
    """Translate ``model`` into a runnable PySD model (via XMILE).

    Parameters
    ----------
    model
        Any trafficsys model.
    directory
        Where to write ``<name>.xmile`` and PySD's ``.py`` translation; a new
        temporary folder when not given.

    Returns
    -------
    pysd.py_backend.model.Model
        Call ``.run(...)`` on it.

    Raises
    ------
    UnsupportedFeatureError
        When PySD is not installed.

    Examples
    --------
    >>> import trafficsys as ts                                 # doctest: +SKIP
    >>> pm = to_pysd(ts.load("models/examples/exploitation_exit.toml"))  # doctest: +SKIP
    >>> pm.run().iloc[-1]["in_exploitation"]                    # doctest: +SKIP
    """
    try:
        import pysd
    except ImportError:  # pragma: no cover - pysd is in the [pysd] and [test] extras
        raise UnsupportedFeatureError("the PySD bridge needs PySD: pip install 'trafficsys[pysd]'") from None
    from ..model.arrays import flatten, is_arrayed
    from .xmile import write_xmile

    if is_arrayed(model):
        model, _ = _pysd_names(flatten(model))
    model = _inert_docs(model)
    folder = os.fspath(directory) if directory is not None else tempfile.mkdtemp(prefix="trafficsys-pysd-")
    os.makedirs(folder, exist_ok=True)
    safe = "".join(ch if ch.isalnum() else "_" for ch in model.name) or "model"
    path = os.path.join(folder, f"{safe}.xmile")
    write_xmile(model, path)
    with translating():  # PySD's XMILE translator evaluates numbers with Python's eval: literals only
        return pysd.read_xmile(path)


def _inert_docs(model: Model) -> Model:
    """Return a copy of ``model`` whose docs cannot end the triple-quoted strings PySD writes them into."""
    import dataclasses

    out = None
    for e in model:
        doc = getattr(e, "doc", "")
        if doc and inert_doc(doc) != doc:
            out = out or model.copy()
            out.add(dataclasses.replace(e, doc=inert_doc(doc)), replace=True)
    return out or model


def pysd_frame(model: Model, *, saveper: float | None = None, directory: str | os.PathLike | None = None):
    """Run ``model`` in PySD, saving every ``saveper`` (default: the model's); canonical column names.

    Returns
    -------
    pandas.DataFrame
        Index: time; one column per model variable (canonical name).
    """
    import numpy as np

    from ..model.arrays import flatten, is_arrayed

    back: dict[str, str] = {}
    if is_arrayed(model):
        model, back = _pysd_names(flatten(model))
    pm = to_pysd(model, directory)
    sp = model.specs
    every = sp.save_every if saveper is None else float(saveper)
    n = int(round((sp.stop - sp.start) / every))
    times = sp.start + every * np.arange(n + 1)
    df = pm.run(return_timestamps=list(times))
    df.columns = [canonical(str(c)) for c in df.columns]
    keep = [c for c in df.columns if c in model]
    return df[keep].rename(columns=back)


def _pysd_names(model: Model) -> tuple[Model, dict[str, str]]:
    """Rename flattened ``x[a,b]`` variables to ``x_a_b``: PySD reads brackets as subscripts.

    Returns the renamed model and the map from new canonical names back to the old ones.
    """
    import dataclasses

    from ..model import ast
    from ..model.parser import parse
    from ..model.printer import to_xmile

    taken = {canonical(e.name) for e in model}
    new: dict[str, str] = {}
    for e in model:
        if "[" not in e.name:
            continue
        base = canonical(canonical(e.name).replace("[", "_").replace(",", "_").replace("]", ""))
        cand, i = base, 2
        while cand in taken:
            cand, i = f"{base}_{i}", i + 1
        taken.add(cand)
        new[canonical(e.name)] = cand
    if not new:
        return model, {}

    def rename(n):
        if isinstance(n, ast.Name) and n.name in new:
            return ast.Name(new[n.name])
        if isinstance(n, ast.Call) and n.func in new:
            return ast.Call(new[n.func], n.args)
        return n

    def text(t):
        return to_xmile(ast.transform(parse(t), rename))

    out = model.with_elements()
    for e in model:
        key = canonical(e.name)
        name = new.get(key, e.name)
        if isinstance(e, Stock):
            e = dataclasses.replace(
                e,
                name=name,
                initial=text(e.initial),
                inflows=tuple(new.get(canonical(f), f) for f in e.inflows),
                outflows=tuple(new.get(canonical(f), f) for f in e.outflows),
            )
        elif isinstance(e, (Flow, Aux)):
            e = dataclasses.replace(e, name=name, equation=text(e.equation))
        elif isinstance(e, Lookup):
            e = dataclasses.replace(e, name=name, input=None if e.input is None else text(e.input))
        else:
            e = dataclasses.replace(e, name=name)
        out.add(e)
    return out, {v: k for k, v in new.items()}
