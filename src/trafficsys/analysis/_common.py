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

__all__ = ["Metric", "rng", "run_ensemble", "metric_values", "metric_label", "constants_with_ranges"]

#: an output metric: ``"x"`` (final value of x), ``"max(x)"``, ``"min(x)"``, ``"mean(x)"``,
#: ``"final(x)"``, ``"initial(x)"``, ``"x@5"`` (x at time 5), or a function of the results
#: returning one number per run
Metric = str | Callable[[Any], Any]

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


def run_ensemble(m: Model, params: Mapping[str, Sequence[float] | np.ndarray] | None = None, *,
                 scenario: Any = None, **kwargs: Any):
    """Simulate ``m`` with one run per element of the ``params`` arrays; return an ``xarray.Dataset`` (time, run)."""
    from ..engine import simulate

    params = {k: np.asarray(v, dtype=float) for k, v in (params or {}).items()}
    import warnings

    from ..model.settings import BudgetWarning

    with warnings.catch_warnings():  # sampled shares are an analysis design, not a user's budget
        warnings.simplefilter("ignore", BudgetWarning)
        results = simulate(m, scenario=scenario, params=params or None, **kwargs)
    ds: Any = getattr(results, "ds", results)
    if "run" not in ds.dims:
        ds = ds.expand_dims(run=[0])
    return ds


def metric_label(metric: Metric) -> str:
    """Return a short label for tables and plots."""
    return metric if isinstance(metric, str) else getattr(metric, "__name__", "metric")


def metric_values(ds: Any, metric: Metric, *, model: Model | None = None) -> np.ndarray:
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
                raise ModelError(f"metric {metric!r}: unknown summary {fn!r}; use one of "
                                 f"{', '.join(_REDUCERS)}, 'x@time' or a function of the results")
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
    raise ModelError(f"metric {text!r}: the results have no such variable; "
                     f"choose one of {', '.join(map(str, list(ds.data_vars)[:12]))}...", variable=text)


def constants_with_ranges(m: Model, names: Sequence[str] | None = None, *, need_range: bool = True) -> list[Constant]:
    """Return the constants to vary: ``names`` (checked) or every constant with a declared range."""
    if names is None:  # a range of zero width fixes the constant: nothing to vary
        chosen = [c for c in m.constants if (c.range is not None and c.range[1] > c.range[0]) or not need_range]
        if not chosen:
            raise ModelError("no constant has a declared range; declare range=(low, high) on the constants "
                             "to vary, or name them", file=m.file)
        return chosen
    out = []
    for n in names:
        e = m[n]
        if not isinstance(e, Constant):
            raise ModelError(f"'{n}' is a {e.kind.value}, not a constant: only constants can be varied",
                             variable=n, file=m.file)
        if need_range and (e.range is None or not e.range[1] > e.range[0]):
            raise ModelError(f"this constant has no range to vary over ({e.range}); give it range=(low, high) "
                             f"with low < high", variable=n, file=m.file)
        out.append(e)
    return out
