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
from ..model.model import Model

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
        model = flatten(model)
    folder = os.fspath(directory) if directory is not None else tempfile.mkdtemp(prefix="trafficsys-pysd-")
    os.makedirs(folder, exist_ok=True)
    safe = "".join(ch if ch.isalnum() else "_" for ch in model.name) or "model"
    path = os.path.join(folder, f"{safe}.xmile")
    write_xmile(model, path)
    return pysd.read_xmile(path)


def pysd_frame(model: Model, *, saveper: float | None = None, directory: str | os.PathLike | None = None):
    """Run ``model`` in PySD, saving every ``saveper`` (default: the model's); canonical column names.

    Returns
    -------
    pandas.DataFrame
        Index: time; one column per model variable (canonical name).
    """
    import numpy as np

    from ..model.names import canonical

    pm = to_pysd(model, directory)
    sp = model.specs
    every = sp.save_every if saveper is None else float(saveper)
    n = int(round((sp.stop - sp.start) / every))
    times = sp.start + every * np.arange(n + 1)
    df = pm.run(return_timestamps=list(times))
    df.columns = [canonical(str(c)) for c in df.columns]
    keep = [c for c in df.columns if c in model]
    return df[keep]
