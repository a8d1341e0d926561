"""Spin-up: start each sampled future where its own status quo keeps it.

A model whose initial stocks are calibrated to rest at the point values is no
longer at rest when its rates are sampled: the runs then show drift toward
each future's own equilibrium, not the effect of a strategy.  A model asks for
a spin-up in its metadata::

    [metadata.spinup]
    scenario = "status_quo"   # the strategy each future settles under (its own values when absent)
    years = 150               # how long it runs
    [metadata.spinup.initial]  # initial-value constant -> the stock it starts
    initial_trafficker_network = "trafficker_network"

:func:`spin_up` runs that scenario for ``years`` with each future's constants
and returns the final stocks as the initial-value constants of the same
futures.  :func:`~trafficsys.monte_carlo` and :func:`~trafficsys.compare` do
it for every sample when the model asks; a single point-value run does not
(the shipped initial values are that run's own rest state).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ModelError
from ..model.names import canonical

__all__ = ["SpinUp", "spinup_spec", "spin_up"]


@dataclass(frozen=True)
class SpinUp:
    """A model's spin-up: the status-quo scenario, its length, and initial constant -> stock."""

    scenario: str | None
    years: float
    initial: dict[str, str]

    def derived(self) -> list[str]:
        """Initial-value constants the spin-up sets (so they are not sampled)."""
        return list(self.initial)


def spinup_spec(model) -> SpinUp | None:
    """Read the model's ``[metadata.spinup]`` (None when it has none)."""
    spec = model.metadata.get("spinup") if isinstance(getattr(model, "metadata", None), dict) else None
    if not spec:
        return None
    if not isinstance(spec, Mapping) or not isinstance(spec.get("initial"), Mapping):
        raise ModelError(
            "metadata 'spinup' must be a table with 'years' and an 'initial' table "
            "(initial-value constant -> stock)",
            file=model.file,
        )
    years = spec.get("years", 100)
    if not isinstance(years, (int, float)) or not years > 0:
        raise ModelError(f"metadata spinup.years must be a positive number, got {years!r}", file=model.file)
    initial = {canonical(str(k)): canonical(str(v)) for k, v in spec["initial"].items()}
    for const, stock in initial.items():
        for name in (const, stock):
            if name not in model:
                raise ModelError(
                    f"metadata spinup.initial names '{name}', which the model does not define",
                    file=model.file,
                    variable=name,
                )
    scenario = spec.get("scenario")
    if scenario is not None and scenario not in model.scenarios:
        scenario = None  # the model without its strategies: its own values are the status quo
    return SpinUp(scenario, float(years), initial)


def spin_up(model, params: Mapping[str, Any], n: int, *, method=None) -> dict[str, np.ndarray]:
    """Run each future's status quo to rest; return its final stocks as initial-value constants.

    Parameters
    ----------
    model
        A model with ``[metadata.spinup]`` (otherwise nothing is done and ``{}`` is returned).
    params
        The futures' constants (name -> number or array of ``n``), as they will be run.
    n
        Number of futures.
    method
        Integration method (default: the model's).

    Returns
    -------
    dict
        Initial-value constant -> array of ``n`` (one per future).
    """
    from .run import simulate

    spec = spinup_spec(model)
    if spec is None:
        return {}
    given = {k: v for k, v in params.items() if canonical(k) not in spec.initial}
    arrays = {k: v for k, v in given.items() if not isinstance(v, str)}
    equations = {k: v for k, v in given.items() if isinstance(v, str)}
    base = model.with_scenario(equations) if equations else model
    start = base.specs.start
    r = simulate(
        base,
        scenario=spec.scenario,
        params=arrays or None,
        method=method,
        start=start,
        stop=start + spec.years,
        saveper=spec.years,
        variables=sorted(set(spec.initial.values())),
    )
    out = {}
    for const, stock in spec.initial.items():
        v = np.asarray(r.ds[stock].values[-1], dtype=float).reshape(-1)
        out[const] = np.broadcast_to(v, (n,)).copy() if v.size in (1, n) else v
    return out
