"""Sensitivity of model outputs to constants: elasticities, Morris screening, Sobol indices.

Every method builds one ensemble (a run per sampled parameter set) and runs
it through the ensemble door (:func:`trafficsys.engine.ensemble.run_ensemble`:
vectorised chunks, any executor, progress), then
reduces each run to one number with an output *metric*: ``"x"`` (final value
of ``x``), ``"max(x)"``, ``"min(x)"``, ``"mean(x)"``, ``"integral(x)"``,
``"x@5"`` (``x`` at time 5) or any function of the results returning one
number per run.

``sensitivity(m, metric, method=...)`` is the front door; :data:`METHODS` is
the registry.  A new method is a function ``f(m, metric, *, constants,
scenario, seed, **options) -> SensitivityResult`` whose table has one row per
input (index: the constant's name; ``x[e]`` for an element of an arrayed
constant, which is an input of its own unless the constant is sampled
``as_one``) and whose first column is the measure plotted by
:meth:`SensitivityResult.plot`.

References
----------
Morris, M. D. (1991). Factorial sampling plans for preliminary computational
experiments. Technometrics 33(2), 161-174.

Saltelli, A. et al. (2010). Variance based sensitivity analysis of model
output. Computer Physics Communications 181(2), 259-270.

Herman, J., Usher, W. (2017). SALib: an open-source Python library for
sensitivity analysis. Journal of Open Source Software 2(9), 97.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine.sampling import input_params
from ..errors import ModelError, SimulationError
from ..model.model import Model
from ._common import Outcome, constants_with_ranges, int_seed, metric_label, metric_values, run_ensemble

#: options every method passes to the ensemble door (:func:`trafficsys.engine.ensemble.run_ensemble`)
ENSEMBLE_OPTIONS = ("executor", "chunk_size", "progress", "method")


def _door(options: dict[str, Any]) -> dict[str, Any]:
    bad = sorted(set(options) - set(ENSEMBLE_OPTIONS))
    if bad:
        raise ModelError(f"unknown option {bad[0]!r}; the ensemble options are {', '.join(ENSEMBLE_OPTIONS)}")
    return options


__all__ = ["SensitivityResult", "elasticities", "morris", "sobol", "sensitivity", "METHODS"]


@dataclass
class SensitivityResult:
    """The sensitivity of one output metric to the model's constants.

    Attributes
    ----------
    method
        ``"elasticity"``, ``"morris"`` or ``"sobol"``.
    metric
        The output metric's label.
    table
        ``pandas.DataFrame`` with one row per constant; its first column is the
        headline measure (``elasticity``, ``mu_star``, ``ST``).
    runs
        How many simulation runs the analysis used.
    """

    method: str
    metric: str
    table: Any
    runs: int
    extra: dict = field(default_factory=dict)

    def to_pandas(self):
        """Return the table (one row per constant)."""
        return self.table

    def ranked(self):
        """Return the table sorted by the absolute value of the headline measure, largest first."""
        col = self.table.columns[0]
        return self.table.reindex(self.table[col].abs().sort_values(ascending=False).index)

    def plot(self, ax=None, **kwargs):
        """Tornado (elasticities) or bar chart (Morris, Sobol); returns the Axes."""
        from ..plot.sensitivity import plot_sensitivity

        return plot_sensitivity(self, ax=ax, **kwargs)

    def __repr__(self) -> str:
        return f"<SensitivityResult {self.method} of {self.metric!r}: {len(self.table)} constants, {self.runs} runs>"

    def _repr_html_(self) -> str:
        return (
            f"<p>{self.method} sensitivity of <code>{self.metric}</code> ({self.runs} runs)</p>"
            + self.ranked().to_html(float_format=lambda v: f"{v:.4g}")
        )


def elasticities(
    m: Model,
    metric: Outcome,
    *,
    constants: Sequence[str] | None = None,
    scenario: Any = None,
    rel_step: float = 1e-4,
    seed: Any = None,
    **ensemble: Any,
) -> SensitivityResult:
    """One-at-a-time elasticities of a metric to every constant, in one vectorised ensemble.

    The elasticity ``(∂M/∂c) · c / M`` is the percentage change of the metric
    per percent change of the constant, estimated by central differences
    (steps of ``rel_step · |c|``; ``rel_step`` itself when ``c = 0``, where
    the elasticity is undefined and reported as NaN with the derivative).

    Parameters
    ----------
    m
        The model.
    metric
        The output metric (see the module docstring).
    constants
        Constants to perturb; default: every constant.
    scenario
        Scenario to apply first.
    rel_step
        Relative size of the perturbation.
    seed
        Unused (deterministic); accepted for a uniform signature.

    Returns
    -------
    SensitivityResult
        Table columns ``elasticity, derivative, value, base``.

    Examples
    --------
    >>> import trafficsys as ts
    >>> m = ts.Model("decay", stop=10, dt=0.25)
    >>> _ = m.constant("k", 0.1); _ = m.stock("x", 100, outflows=["loss"]); _ = m.flow("loss", "k * x")
    >>> elasticities(m, "x").table.round(3)      # final x = 100 (1 - k dt)^40
              elasticity  derivative  value    base
    constant
    k             -1.026    -372.546    0.1  36.323
    """
    import pandas as pd

    chosen = (
        constants_with_ranges(m, constants, need_range=False)
        if constants is not None
        else constants_with_ranges(m, None, need_range=False)
    )
    if not chosen:
        raise ModelError("the model has no constants to perturb", file=m.file)
    base = np.array([c.constant.value for c in chosen])
    h = np.where(base != 0, np.abs(base) * rel_step, rel_step)
    n = len(chosen)
    # run 0: base; runs 1..n: +h; runs n+1..2n: -h
    grid = np.tile(base, (2 * n + 1, 1))
    grid[1 + np.arange(n), np.arange(n)] += h
    grid[1 + n + np.arange(n), np.arange(n)] -= h
    ds = run_ensemble(m, input_params(chosen, grid), scenario=scenario, **_door(ensemble))
    y = metric_values(ds, metric, model=m)
    y0 = y[0]
    deriv = (y[1 : n + 1] - y[n + 1 :]) / (2 * h)
    with np.errstate(divide="ignore", invalid="ignore"):
        elast = np.where((base != 0) & (y0 != 0), deriv * base / (y0 if y0 != 0 else 1.0), np.nan)
    table = pd.DataFrame(
        {"elasticity": elast, "derivative": deriv, "value": base, "base": y0},
        index=pd.Index([c.name for c in chosen], name="constant"),
    )
    return SensitivityResult("elasticity", metric_label(metric), table, len(grid))


def _problem(chosen) -> dict:
    return {
        "num_vars": len(chosen),
        "names": [c.name for c in chosen],
        "bounds": [list(c.range) for c in chosen],
    }  # inputs: constants, or elements of arrayed ones


def _run_sample(m, chosen, X, metric, scenario, ensemble):
    try:
        ds = run_ensemble(m, input_params(chosen, X), scenario=scenario, **_door(ensemble))
    except SimulationError as e:
        where = ""
        if e.run is not None and 0 <= e.run < len(X):
            where = " with " + ", ".join(f"{c.name}={X[e.run, i]:g}" for i, c in enumerate(chosen))
        raise SimulationError(
            f"{e.message}{where}; narrow the constants' ranges so that every sampled combination runs",
            variable=e.variable,
            time=e.time,
            run=e.run,
            file=e.file,
        ) from e
    y = metric_values(ds, metric, model=m)
    if not np.all(np.isfinite(y)):
        bad = int(np.argmax(~np.isfinite(y)))
        raise ModelError(
            f"metric {metric_label(metric)!r} is not finite in run {bad} "
            f"({', '.join(f'{c.name}={X[bad, i]:g}' for i, c in enumerate(chosen))}); "
            f"narrow the constants' ranges or pick a metric defined everywhere"
        )
    return y


def morris(
    m: Model,
    metric: Outcome,
    *,
    constants: Sequence[str] | None = None,
    scenario: Any = None,
    trajectories: int = 50,
    levels: int = 4,
    seed: Any = None,
    **ensemble: Any,
) -> SensitivityResult:
    """Morris elementary-effects screening over the constants' declared ranges (SALib).

    Returns
    -------
    SensitivityResult
        Table columns ``mu_star, mu, sigma, mu_star_conf`` (one row per
        constant); ``mu_star`` ranks influence, ``sigma`` flags interactions
        and non-linearity.
    """
    import pandas as pd
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    chosen = constants_with_ranges(m, constants)
    problem = _problem(chosen)
    s = int_seed(seed)
    X = morris_sample.sample(problem, trajectories, num_levels=levels, seed=s)
    y = _run_sample(m, chosen, X, metric, scenario, ensemble)
    res = morris_analyze.analyze(problem, X, y, num_levels=levels, seed=s)
    table = pd.DataFrame(
        {k: np.asarray(res[k], dtype=float) for k in ("mu_star", "mu", "sigma", "mu_star_conf")},
        index=pd.Index(problem["names"], name="constant"),
    )
    return SensitivityResult("morris", metric_label(metric), table, len(X))


def sobol(
    m: Model,
    metric: Outcome,
    *,
    constants: Sequence[str] | None = None,
    scenario: Any = None,
    n: int = 1024,
    second_order: bool = False,
    seed: Any = None,
    **ensemble: Any,
) -> SensitivityResult:
    """Sobol first-order and total indices over the constants' declared ranges (SALib, Saltelli sampling).

    The constants are sampled uniformly over their ranges; ``n`` (a power of
    2) base samples make ``n · (k + 2)`` runs for ``k`` constants
    (``n · (2k + 2)`` with ``second_order``).

    Returns
    -------
    SensitivityResult
        Table columns ``ST, S1, ST_conf, S1_conf``; ``extra["S2"]`` holds the
        second-order indices when asked for.
    """
    import pandas as pd
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    chosen = constants_with_ranges(m, constants)
    problem = _problem(chosen)
    s = int_seed(seed)
    X = sobol_sample.sample(problem, n, calc_second_order=second_order, seed=s)
    y = _run_sample(m, chosen, X, metric, scenario, ensemble)
    res = sobol_analyze.analyze(problem, y, calc_second_order=second_order, seed=s)
    table = pd.DataFrame(
        {k: np.asarray(res[k], dtype=float) for k in ("ST", "S1", "ST_conf", "S1_conf")},
        index=pd.Index(problem["names"], name="constant"),
    )
    extra = {}
    if second_order:
        extra["S2"] = pd.DataFrame(res["S2"], index=problem["names"], columns=problem["names"])
    return SensitivityResult("sobol", metric_label(metric), table, len(X), extra)


#: method name -> implementation (see the module docstring for the contract)
METHODS: dict[str, Callable[..., SensitivityResult]] = {
    "elasticity": elasticities,
    "morris": morris,
    "sobol": sobol,
}


def sensitivity(
    m: Model,
    metric: Outcome,
    method: str = "elasticity",
    *,
    constants: Sequence[str] | None = None,
    scenario: Any = None,
    seed: Any = None,
    **options: Any,
) -> SensitivityResult:
    """Sensitivity of an output metric to the model's constants: the front door.

    Parameters
    ----------
    m
        The model.
    metric
        ``"x"`` (final value), ``"max(x)"``, ``"mean(x)"``, ``"x@5"``... or a
        function of the results returning one number per run.
    method
        ``"elasticity"`` (local, every constant), ``"morris"`` (screening over
        declared ranges) or ``"sobol"`` (variance decomposition over declared
        ranges); see :data:`METHODS`.
    constants
        Which constants; default every constant (elasticity) or every
        constant with a declared range (Morris, Sobol).
    scenario
        A scenario to apply first.
    seed
        Seed for the sampling methods (one seed policy: None, int or Generator).
    **options
        Passed to the method (``rel_step``, ``trajectories``, ``levels``, ``n``, ``second_order``),
        and to the ensemble door (``executor``, ``chunk_size``, ``progress``, ``method``:
        see :func:`~trafficsys.engine.ensemble.run_ensemble`).

    Returns
    -------
    SensitivityResult

    Examples
    --------
    >>> import trafficsys as ts
    >>> m = ts.load_default()                                     # doctest: +SKIP
    >>> ts.sensitivity(m, "max(in_exploitation)", "morris").ranked()  # doctest: +SKIP
    """
    try:
        fn = METHODS[method]
    except KeyError:
        raise ModelError(f"unknown sensitivity method {method!r}; use one of {', '.join(METHODS)}") from None
    return fn(m, metric, constants=constants, scenario=scenario, seed=seed, **options)
