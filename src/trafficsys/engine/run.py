"""The front door: :func:`simulate`.

A run is four steps, each a module of its own: :mod:`~trafficsys.engine.prepare`
(time settings, scenario, parameters, compile), :mod:`~trafficsys.engine.execute`
(the compiled kernel or the numpy code), :mod:`~trafficsys.engine.results`
(the Dataset and the ledger), and :mod:`~trafficsys.engine.stepping` for a run
stepped by hand.  Their public names are importable from here as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model.elements import Scenario
from ..model.model import Model
from .execute import _check_initial, _execute_kernel, _locate, _unpack, _vector_params, execute, new_output
from .methods import Method, get_method
from .prepare import (
    Params,
    Prepared,
    StepSizeWarning,
    Timing,
    _as_model,
    _check_dt,
    _check_params,
    _numbers,
    _timing,
    prepare,
)
from .results import Results, _direct_variable, _variable, dataset, ledger, make_results
from .sampling import noise_seed
from .stepping import Simulation

__all__ = [
    "simulate",
    "Simulation",
    "StepSizeWarning",
    "Timing",
    "prepare",
    "execute",
    "make_results",
    "dataset",
    "new_output",
    "check_settings",
]

# names other modules and tests reach through this one
_REEXPORTED = (
    Params,
    Prepared,
    _check_dt,
    _check_params,
    _numbers,
    _check_initial,
    _execute_kernel,
    _locate,
    _unpack,
    _vector_params,
    _direct_variable,
    _variable,
    ledger,
)


def simulate(
    model: Model,
    scenario: str | Scenario | Mapping[str, Any] | None = None,
    params: Params | None = None,
    method: str | Method | None = None,
    *,
    start: float | None = None,
    stop: float | None = None,
    dt: float | None = None,
    saveper: float | None = None,
    variables: Any = None,
    backend: str | None = None,
    seed: Any = None,
) -> Results:
    """Simulate a model: one run, or one run per element of the arrays in ``params``.

    Parameters
    ----------
    model
        The model.
    scenario
        A scenario name from ``model.scenarios``, a :class:`~trafficsys.model.Scenario`, or a
        dict of overrides (numbers, or equation text for time-varying policies).
    params
        Constant name -> number or 1-D array.  Arrays (all the same length ``n``)
        make ``n`` runs at once, vectorised (no Python loop over runs); a
        string value is an equation that replaces the constant over time.
    method
        ``"euler"`` (default: the model's) or ``"rk4"``, or any
        :class:`~trafficsys.engine.methods.Method`.
    start, stop, dt, saveper
        Override the model's time settings for this run.
    variables
        Save only these variables over time (default: all); constants are
        always saved per run.  Saves memory in large ensembles.
    backend
        ``"auto"`` (default; ``$TRAFFICSYS_BACKEND`` when set), ``"numba"``
        or ``"numpy"``.  ``"numba"`` runs the model's compiled kernel
        (:mod:`~trafficsys.engine.kernel`: compiled once per model structure,
        cached on disk); ``"numpy"`` the generated numpy code.  Both give the
        same results (to the last bit, or 1e-12 relative where a
        transcendental function is involved).  ``"auto"`` takes the kernel
        when numba is installed, the model has nothing it lacks (pipeline
        ``DELAY``), and it is expected to finish first.
    seed
        Seed of the random functions (``NORMAL``, ``RANDOM_UNIFORM``...): an
        integer, a numpy Generator, or None (seed 0: a model with random
        functions gives the same run each time).  Run ``i`` of an ensemble
        draws from its own stream, the same for the same ``seed`` in every
        scenario (:func:`~trafficsys.engine.sampling.noise_seed`).

    Returns
    -------
    Results
        ``r.ds`` is an xarray Dataset over ``(time, run)``; ``r.ledger`` the
        conservation ledger.

    Raises
    ------
    SimulationError
        When a value becomes NaN or infinite (naming variable, run and time),
        or a non-negative stock starts below zero.
    ModelError
        For unknown names, algebraic loops, bad parameters or time settings.

    Warns
    -----
    StepSizeWarning
        When DT is more than half the shortest first-order time constant found.

    Notes
    -----
    Euler follows the system dynamics convention (Vensim, Stella, PySD):
    auxiliaries and flows are computed from the stocks at time ``t``, stocks
    move to ``t + DT``, and the values saved at a time are those computed from
    the stocks at that time.  Non-negative stocks limit their outflows to what
    they hold (XMILE 1.0, section 3.7.1): the limited flow is the value both
    stocks see, so nothing is created or lost (see ``r.ledger``).

    Examples
    --------
    >>> import numpy as np, trafficsys as ts
    >>> m = ts.Model("growth", stop=10, dt=0.5)
    >>> _ = m.constant("rate", 0.1)
    >>> _ = m.stock("x", initial=1, inflows=["gain"])
    >>> _ = m.flow("gain", "rate * x")
    >>> r = ts.simulate(m, params={"rate": np.linspace(0, 0.2, 5)})
    >>> r.ds["x"].sizes["run"]
    5
    """
    m = _as_model(model)
    meth = get_method(method, default=m.specs.method)
    timing = _timing(
        m, start, stop, dt, saveper
    )  # before compiling: a run over the steps limit is refused at once
    prep = prepare(m, scenario, params, seed=noise_seed(seed))
    prep.record = prep.cm.resolve_record(variables)
    _check_dt(prep.cm, timing, m.file)
    out, S0, S, A = execute(prep, meth, timing, backend=backend)
    r = make_results(prep, meth, timing, out, S0, S, A)
    check_settings(m, scenario, params, r, stacklevel=3)
    return r


def check_settings(
    model: Model, scenario: Any, params: Params | None, results: Results | None = None, stacklevel: int = 2
) -> None:
    """Warn about values set outside their declared ranges and budget shares that do not sum to 1.

    See :mod:`trafficsys.model.settings` (``RangeWarning``, ``BudgetWarning``).
    """
    from ..model.settings import budget_shares, check_budget_shares, check_ranges

    over: Mapping[str, Any] | None = None
    if isinstance(scenario, str) and scenario in model.scenarios:
        over = model.scenarios[scenario].overrides
    elif isinstance(scenario, Scenario):
        over = scenario.overrides
    elif isinstance(scenario, Mapping):
        over = scenario
    check_ranges(
        model,
        over,
        "scenario" if not isinstance(scenario, str) else f"scenario '{scenario}'",
        stacklevel=stacklevel + 1,
    )
    check_ranges(model, params, "params", stacklevel=stacklevel + 1)
    shares = budget_shares(model)
    if results is not None and shares and all(s in results.ds.variables for s in shares):
        where = (
            "the run"
            if scenario is None
            else f"scenario {scenario if isinstance(scenario, str) else ''}".strip()
        )
        check_budget_shares(
            model, {s: results.ds.variables[s].values for s in shares}, where, stacklevel=stacklevel + 1
        )
