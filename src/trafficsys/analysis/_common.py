"""Shared plumbing of the analyses: running ensembles, reading output metrics, seeds."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ModelError
from ..model.elements import Constant
from ..model.model import Model
from ..model.names import canonical

__all__ = ["Outcome", "rng", "run_ensemble", "metric_values", "metric_label", "constants_with_ranges"]

#: what a sensitivity analysis measures in each run: ``"x"`` (final value of x), ``"max(x)"``,
#: ``"min(x)"``, ``"mean(x)"``, ``"final(x)"``, ``"initial(x)"``, ``"x@5"`` (x at time 5), or a
#: function of the results returning one number per run (a comparison's indicator is the other
#: idea, :class:`trafficsys.scenarios.Metric`)
Outcome = str | Callable[[Any], Any]

_REDUCERS = {
    "final": lambda a: a.isel(time=-1),
    "initial": lambda a: a.isel(time=0),
    "max": lambda a: a.max("time"),
    "min": lambda a: a.min("time"),
    "mean": lambda a: a.mean("time"),
    "integral": lambda a: a.integrate("time"),
}
_CALL = re.compile(r"^\s*(\w+)\s*\(\s*(.+?)\s*\)\s*$")
_AT = re.compile(r"^\s*(.+?)\s*@\s*([-+0-9.eE]+)\s*$")


def rng(seed: int | np.random.Generator | None = None) -> np.random.Generator:
    """Return a Generator from None, an int or a Generator (the one seed policy: :func:`trafficsys.engine.as_generator`)."""
    from ..engine import as_generator

    return as_generator(seed)


def int_seed(seed: int | np.random.Generator | None) -> int:
    """Return an integer seed for libraries that want one (SALib), drawn from :func:`rng`."""
    return int(rng(seed).integers(0, 2**31 - 1))


def run_ensemble(
    m: Model,
    params: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    *,
    scenario: Any = None,
    **kwargs: Any,
):
    """Run ``m`` once per element of the ``params`` arrays through the ensemble door; return its Dataset (time, run).

    ``kwargs`` go to :func:`trafficsys.engine.ensemble.run_ensemble` (``executor``,
    ``chunk_size``, ``progress``, ``variables``, ``saveper``, ``method``).
    """
    from ..engine.ensemble import run_ensemble as door

    params = {k: np.asarray(v, dtype=float) for k, v in (params or {}).items()}
    return door(m, params or None, scenario=scenario, **kwargs).ds


def metric_label(metric: Outcome) -> str:
    """Return a short label for tables and plots."""
    return metric if isinstance(metric, str) else getattr(metric, "__name__", "metric")


def metric_values(ds: Any, metric: Outcome, *, model: Model | None = None) -> np.ndarray:
    """One number per run: the metric evaluated on an ensemble's results."""
    if callable(metric):
        out = np.asarray(metric(ds), dtype=float)
        return out.reshape(-1) if out.ndim else out.reshape(1)
    text = metric
    at = _AT.match(text)
    reducer: Callable
    if at:
        text, when = at.group(1), float(at.group(2))

        def reducer(a):
            return a.interp(time=when)
    else:
        call = _CALL.match(text)
        if call:
            fn, text = call.group(1).lower(), call.group(2)
            if fn not in _REDUCERS:
                raise ModelError(
                    f"metric {metric!r}: unknown summary {fn!r}; use one of "
                    f"{', '.join(_REDUCERS)}, 'x@time' or a function of the results"
                )
            reducer = _REDUCERS[fn]
        else:
            reducer = _REDUCERS["final"]
    name = _resolve(ds, text, model)
    da = ds[name]
    if "time" not in da.dims:
        out = da
    else:
        out = reducer(da)
    values = np.asarray(out.values, dtype=float).reshape(-1)
    return values


def _resolve(ds: Any, text: str, model: Model | None) -> str:
    if text in ds:
        return text
    if model is not None and text in model and model[text].name in ds:
        return model[text].name
    key = canonical(text)
    for name in ds.data_vars:
        if canonical(str(name)) == key:
            return str(name)
    raise ModelError(
        f"metric {text!r}: the results have no such variable; "
        f"choose one of {', '.join(map(str, list(ds.data_vars)[:12]))}...",
        variable=text,
    )


def constants_with_ranges(m: Model, names: Sequence[str] | None = None, *, need_range: bool = True) -> list:
    """Return the inputs to vary: ``names`` (checked) or every constant with a declared range.

    Each is an :class:`~trafficsys.engine.sampling.UncertainInput`: a scalar
    constant, an element of an arrayed constant (``x[e]``), or a whole arrayed
    constant sampled ``as_one``.
    """
    from ..engine.sampling import uncertain_inputs

    if names is None:  # a range of zero width fixes the constant: nothing to vary
        chosen = uncertain_inputs(m, need_range=need_range, nonzero_width=True)
        if not chosen:
            raise ModelError(
                "no constant has a declared range; declare range=(low, high) on the constants "
                "to vary, or name them",
                file=m.file,
            )
        return chosen
    out = []
    for n in names:
        e = m[n] if (n in m or "[" not in n) else None
        if e is not None and not isinstance(e, Constant):
            raise ModelError(
                f"'{n}' is a {e.kind.value}, not a constant: only constants can be varied",
                variable=n,
                file=m.file,
            )
        got = uncertain_inputs(m, [n], need_range=False)
        for inp in got:
            r = inp.range
            if need_range and (r is None or not r[1] > r[0]):
                raise ModelError(
                    f"this constant has no range to vary over ({r}); give it range=(low, high) "
                    f"with low < high",
                    variable=inp.name,
                    file=m.file,
                )
        out += got
    return out
