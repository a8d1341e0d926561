"""Fit constants to observed series: bounded non-linear least squares.

``calibrate(m, data, params=[...])`` adjusts the named constants, within their
declared ranges, so that the simulated series match the observations, using
:func:`scipy.optimize.least_squares` (trust-region reflective).  Each
Jacobian is one vectorised ensemble (a run per perturbed constant), so a fit
costs a few dozen simulation calls whatever the number of constants.

Residuals of each observed variable are divided by that variable's standard
deviation in the data (or by the ``weights`` given), so series in different
units count alike.  The parameter covariance is ``s² (JᵀJ)⁻¹`` with ``J`` the
Jacobian of the scaled residuals at the optimum and ``s²`` the residual
variance (sum of squares over ``n - p``): the usual asymptotic standard errors,
valid when residuals are independent with constant variance and the fit is
not at a range bound.

References
----------
Sterman, J. D. (2000). Business Dynamics, ch. 21 (model calibration).

Oliva, R. (2003). Model calibration as a testing strategy for system dynamics
models. European Journal of Operational Research 151(3), 552-568.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ModelError, SimulationError
from ..model.arrays import canonical_key
from ..model.elements import Constant
from ..model.model import Model
from ..model.names import canonical
from ..scenarios.metrics import comparison_defaults
from ._common import run_ensemble

__all__ = ["CalibrationResult", "calibrate"]

#: scaled residual given to every observation of a run that failed (NaN or infinity)
_FAILED = 1e3


class CalibrationResult:
    """A fitted model with its fit statistics.

    Attributes
    ----------
    model
        A copy of the model with the calibrated constant values.
    params
        ``pandas.DataFrame`` indexed by constant: ``value, stderr, low, high,
        initial, range_low, range_high, at_bound`` (``low``/``high``: 95 %
        confidence interval).
    correlation
        Correlation matrix of the estimates (``pandas.DataFrame``).
    residuals
        ``pandas.DataFrame`` of simulated minus observed values, indexed by
        the observation times (unscaled, in each variable's units).
    fit
        Per observed variable: ``rmse``, ``r2``, ``n``.
    success, message, nfev
        What the optimiser reported.
    """

    def __init__(self, model, params, correlation, residuals, fitted, fit, success, message, nfev, cost):
        self.model: Model = model
        self.params = params
        self.correlation = correlation
        self.residuals = residuals
        self.fitted = fitted
        self.fit = fit
        self.success = success
        self.message = message
        self.nfev = nfev
        self.cost = cost
        self.jacobian: np.ndarray | None = None  #: Jacobian of the scaled residuals at the optimum
        self.local = None  #: the LocalData the fit read, when data was a local-data file

    @property
    def values(self) -> dict[str, float]:
        """The calibrated values, ``{constant: value}``."""
        return {k: float(v) for k, v in self.params["value"].items()}

    def to_pandas(self):
        """Return the parameter table."""
        return self.params

    def identifiability(self, max_relative_sd: float = 0.5, max_correlation: float = 0.95):
        """Say for each fitted constant whether the data pin it down.

        Residuals scaled by the data's stated uncertainty (a local-data file's
        tolerances, or the ``weights``) have unit variance, so the estimates'
        covariance is ``(JᵀJ)⁻¹`` without the residual variance: what the data
        *could* tell, even when the fit is exact.  A constant is identified
        when its standard deviation is below ``max_relative_sd`` of its value,
        no other estimate is correlated with it beyond ``max_correlation``, and
        it is not at a range bound.

        Returns
        -------
        pandas.DataFrame
            Per constant: ``value, sd, relative_sd, most_correlated, correlation, at_bound, identified, why``.
        """
        import pandas as pd

        J = getattr(self, "jacobian", None)
        names = list(self.params.index)
        p = len(names)
        cov = np.full((p, p), np.nan)
        if J is not None:
            try:
                cov = np.linalg.inv(J.T @ J)
            except np.linalg.LinAlgError:
                pass
        sd = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.all(np.isfinite(cov)) else np.full(p, np.inf)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / np.outer(sd, sd)
        rows = {}
        for i, name in enumerate(names):
            v = float(self.params["value"].iloc[i])
            rel = float(sd[i] / abs(v)) if v != 0 else float("inf")
            others = [
                (abs(corr[i, j]), names[j], corr[i, j])
                for j in range(p)
                if j != i and np.isfinite(corr[i, j])
            ]
            top = max(others) if others else (0.0, "", 0.0)
            bound = bool(self.params["at_bound"].iloc[i])
            why = []
            if not rel < max_relative_sd:
                why.append(f"sd {rel:.0%} of the value")
            if top[0] > max_correlation:
                why.append(f"correlated {top[2]:+.2f} with {top[1]}")
            if bound:
                why.append("at a range bound")
            rows[name] = {
                "value": v,
                "sd": float(sd[i]),
                "relative_sd": rel,
                "most_correlated": top[1],
                "correlation": float(top[2]),
                "at_bound": bound,
                "identified": not why,
                "why": "; ".join(why) or "the data pin it down",
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    def plot(self, ax=None, data=None):
        """Observed points and the calibrated trajectories, one panel per variable; returns the Axes."""
        import matplotlib.pyplot as plt

        names = list(self.fitted.columns)
        if ax is None:
            _, axes = plt.subplots(len(names), 1, figsize=(7, 2.6 * len(names)), squeeze=False)
            axes = axes[:, 0]
        else:
            axes = np.atleast_1d(ax)
        observed = self.fitted - self.residuals
        for a, name in zip(axes, names):
            a.plot(observed.index, observed[name], "o", ms=3, color="0.3", label="observed")
            a.plot(self.fitted.index, self.fitted[name], "-", color="C0", label="calibrated model")
            a.set_ylabel(name)
            r2 = float(self.fit.loc[name, "r2"])
            # R² compares with the observed variance: a published figure that is one value has none
            r2_text = (
                f"R² {r2:.3f}" if np.isfinite(r2) else "R² undefined (the observed figure does not vary)"
            )
            a.set_title(f"{name}: RMSE {self.fit.loc[name, 'rmse']:.3g}, {r2_text}", fontsize=9)
            a.legend(fontsize=8)
        units = self.model.time_units
        axes[-1].set_xlabel("time" if units in ("", "time") else f"time ({units})")
        axes[0].figure.tight_layout()
        return axes if len(axes) > 1 else axes[0]

    def __repr__(self) -> str:
        vals = ", ".join(
            f"{k}={v:.4g}±{s:.2g}"
            for k, v, s in zip(self.params.index, self.params["value"], self.params["stderr"])
        )
        return f"<CalibrationResult {vals}; {'converged' if self.success else 'NOT converged'}>"

    def _repr_html_(self) -> str:
        return (
            f"<p>{'Converged' if self.success else 'Did not converge'}: {self.message}</p>"
            + self.params.to_html(float_format=lambda v: f"{v:.4g}")
            + self.fit.to_html()
        )


def _observations(data: Any, m: Model):
    """Observed series as a DataFrame (time index, one column per model variable)."""
    import pandas as pd

    if isinstance(data, pd.Series):
        if not data.name:
            raise ModelError("a Series of observations needs a name: the model variable it measures")
        data = data.to_frame()
    elif isinstance(data, Mapping):
        data = pd.DataFrame({k: pd.Series(v) for k, v in data.items()})
    elif not isinstance(data, pd.DataFrame):
        raise ModelError(
            f"calibration data must be a pandas DataFrame indexed by time, a named Series or a "
            f"dict of Series; got {type(data).__name__}"
        )
    data = data.sort_index()
    for col in data.columns:
        if str(col) not in m:
            raise ModelError(
                f"data column {col!r} is not a model variable; rename it to the variable it measures",
                file=m.file,
                variable=str(col),
            )
    t = np.asarray(data.index, dtype=float)
    if t.min() < m.start - 1e-9 or t.max() > m.stop + 1e-9:
        raise ModelError(
            f"observations span t={t.min():g}..{t.max():g} but the model runs "
            f"t={m.start:g}..{m.stop:g}; change the model's start/stop or trim the data",
            file=m.file,
        )
    return data.astype(float)


def calibrate(
    m: Model,
    data: Any,
    params: Sequence[str] | None = None,
    *,
    weights: Mapping[str, float] | None = None,
    scenario: Any = None,
    loss: str = "linear",
    max_nfev: int | None = 200,
    ensemble: Mapping[str, Any] | None = None,
) -> CalibrationResult:
    """Fit constants to observed series within their declared ranges.

    Parameters
    ----------
    m
        The model; its current constant values are the starting point.
    data
        Observations: a DataFrame indexed by time with one column per model
        variable (NaN where not observed), a named Series, or a dict of Series;
        or the path of a local-data TOML file (:mod:`trafficsys.io.localdata`):
        its local values and ranges are applied to the model, its targets are
        the observations, weighted by their tolerances, and its ``[fit]``
        constants are the default ``params``; the calibrated model's fitted
        constants then keep ranges of value +- 2 sd.
    params
        Names of the constants to fit.  A constant with a ``range`` stays in
        it; one without is unbounded.  An arrayed constant is fitted element
        by element (``x[e]`` in the results), or as one value for every
        element when it is sampled ``as_one``; ``"x[e]"`` fits one element.
    weights
        Scale of each observed variable's residuals (default: its standard
        deviation in the data).
    scenario
        A scenario to apply before fitting.
    loss
        ``scipy.optimize.least_squares`` loss (``"linear"``, ``"soft_l1"``,
        ``"huber"``...); standard errors assume ``"linear"``.
    max_nfev
        Budget of residual evaluations.
    ensemble
        Options of the ensemble door the trial runs go through
        (``executor``, ``chunk_size``, ``progress``: see
        :func:`~trafficsys.engine.ensemble.run_ensemble`).

    Returns
    -------
    CalibrationResult
        ``.model`` (calibrated copy), ``.params`` (values, standard errors,
        95 % intervals), ``.residuals``, ``.fit`` (RMSE, R² per variable).

    Raises
    ------
    ModelError
        For unknown variables, non-constants, starting values outside their
        ranges, or observations outside the simulated period.

    Examples
    --------
    >>> import pandas as pd
    >>> import trafficsys as ts
    >>> m = ts.Model("decay", stop=10, dt=0.25)
    >>> _ = m.constant("k", 0.1, range=(0.01, 1))
    >>> _ = m.stock("x", 100, outflows=["loss"]); _ = m.flow("loss", "k * x")
    >>> observed = pd.Series([100, 74, 55, 41, 30, 22], index=[0, 2, 4, 6, 8, 10], name="x")
    >>> fit = ts.calibrate(m, observed, params=["k"])
    >>> fit
    <CalibrationResult k=0.1472±0.00044; converged>
    >>> fit.model["k"].value == fit.values["k"]
    True
    """
    import pandas as pd
    from scipy import stats
    from scipy.optimize import least_squares

    local = None
    if isinstance(data, (str, os.PathLike)):
        from ..io.localdata import read_local_data

        local = read_local_data(data)
        m = local.apply(m)
        data = local.data()
        weights = {**local.weights(), **(weights or {})}
        params = local.fit if params is None else params
        if scenario is None:  # the strategy the figures were observed under; else the model's reference
            observed = local.scenario or comparison_defaults(m).get("reference")
            scenario = observed if observed in m.scenarios else None
    if isinstance(params, str):
        params = [params]
    if not params:
        raise ModelError("name at least one constant to calibrate: params=[...]", file=m.file)
    from ..engine.sampling import input_params, uncertain_inputs

    for name in params:
        e = m[name] if (name in m or "[" not in name) else None
        if e is not None and not isinstance(e, Constant):
            raise ModelError(
                f"only constants can be calibrated; '{name}' is a {e.kind.value}", variable=name, file=m.file
            )
    # an arrayed constant is fitted element by element (or as one value, when it is sampled as one)
    inputs = uncertain_inputs(m, list(params), need_range=False)
    consts = [inp.constant for inp in inputs]
    base = m.with_scenario(scenario)
    from ..model.arrays import flatten

    obs = _observations(data, flatten(base))  # element series of arrays are named x[e]
    cols = [str(c) for c in obs.columns]
    t_obs = np.asarray(obs.index, dtype=float)
    y_obs = obs.values
    mask = np.isfinite(y_obs)
    if mask.sum() <= len(consts):
        raise ModelError(
            f"{mask.sum()} observations cannot determine {len(consts)} constants; give more data"
        )
    scale = np.array([(weights or {}).get(c, np.nanstd(obs[c].values) or 1.0) for c in cols])

    lo = np.array([c.range[0] if c.range else -np.inf for c in consts])
    hi = np.array([c.range[1] if c.range else np.inf for c in consts])
    x0 = np.array([c.value for c in consts], dtype=float)
    for c, v, a, b in zip(consts, x0, lo, hi):
        if not a <= v <= b:
            raise ModelError(
                f"starting value {v:g} is outside the range [{a:g}, {b:g}]; set a value inside "
                f"the range before calibrating",
                variable=c.name,
                file=m.file,
            )
    x0 = np.clip(x0, lo, hi)

    def simulate(X: np.ndarray) -> np.ndarray:
        """Return the simulated observations for each row of X: array (rows, times, variables)."""
        ds = run_ensemble(base, input_params(inputs, X), **(ensemble or {}))
        out = np.empty((X.shape[0], len(t_obs), len(cols)))
        times = np.asarray(ds["time"].values, dtype=float)
        for j, col in enumerate(cols):
            name = col if col in ds else canonical(col)
            arr = np.asarray(ds[name].transpose("time", ...).values, dtype=float).reshape(len(times), -1)
            arr = np.broadcast_to(arr, (len(times), X.shape[0]))
            for r in range(X.shape[0]):
                out[r, :, j] = np.interp(t_obs, times, arr[:, r])
        return out

    def residual_rows(X: np.ndarray) -> np.ndarray:
        try:
            sim = simulate(X)
        except SimulationError:
            # some parameter set blows the model up: score the rows one by one, failures as a bad fit
            if len(X) == 1:
                return np.full((1, int(mask.sum())), _FAILED)
            return np.vstack([residual_rows(X[i : i + 1]) for i in range(len(X))])
        res = (sim - y_obs[None]) / scale[None, None, :]
        return res[:, mask]

    def fun(x):
        r = residual_rows(x[None, :])[0]
        return np.where(np.isfinite(r), r, _FAILED)

    def jac(x):
        h = np.maximum(np.abs(x), 1e-3) * 1e-6
        step_up = np.where(x + h <= hi, h, -h)  # step inwards at an upper bound
        X = np.tile(x, (len(x) + 1, 1))
        X[1 + np.arange(len(x)), np.arange(len(x))] += step_up
        R = residual_rows(X)
        return ((R[1:] - R[0]) / step_up[:, None]).T

    try:
        simulate(x0[None, :])
    except SimulationError as e:
        raise ModelError(
            f"the model fails at the starting values ({', '.join(f'{c.name}={v:g}' for c, v in zip(consts, x0))}): "
            f"{e}; start the calibration from values where the model runs",
            file=m.file,
        ) from e
    sol = least_squares(fun, x0, jac=jac, bounds=(lo, hi), loss=loss, max_nfev=max_nfev, x_scale="jac")
    n, p = int(mask.sum()), len(consts)
    J = jac(sol.x)
    dof = max(n - p, 1)
    s2 = float(np.sum(sol.fun**2) / dof)
    try:
        cov = s2 * np.linalg.inv(J.T @ J)
    except np.linalg.LinAlgError:
        cov = np.full((p, p), np.nan)
    stderr = np.sqrt(np.clip(np.diag(cov), 0, None))
    tq = float(stats.t.ppf(0.975, dof))
    names = [inp.name for inp in inputs]
    at_bound = np.isclose(sol.x, lo) | np.isclose(sol.x, hi)
    table = pd.DataFrame(
        {
            "value": sol.x,
            "stderr": stderr,
            "low": sol.x - tq * stderr,
            "high": sol.x + tq * stderr,
            "initial": x0,
            "range_low": lo,
            "range_high": hi,
            "at_bound": at_bound,
        },
        index=pd.Index(names, name="constant"),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(stderr, stderr)
    fitted = simulate(sol.x[None, :])[0]
    resid = fitted - y_obs
    fit_rows = {}
    for j, col in enumerate(cols):
        ok = mask[:, j]
        err = resid[ok, j]
        yo = y_obs[ok, j]
        ss_tot = float(np.sum((yo - yo.mean()) ** 2))
        fit_rows[col] = {
            "rmse": float(np.sqrt(np.mean(err**2))),
            "r2": 1 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else np.nan,
            "n": int(ok.sum()),
        }
    calibrated = _with_values(base, inputs, sol.x)
    index = pd.Index(t_obs, name="time")
    res = CalibrationResult(
        calibrated,
        table,
        pd.DataFrame(corr, index=names, columns=names),
        pd.DataFrame(np.where(mask, resid, np.nan), index=index, columns=cols),
        pd.DataFrame(fitted, index=index, columns=cols),
        pd.DataFrame.from_dict(fit_rows, orient="index"),
        bool(sol.success),
        str(sol.message),
        int(sol.nfev),
        float(sol.cost),
    )
    res.jacobian = J
    res.local = local
    if local is not None:  # the adapted model samples the fitted constants only as far as the figures allow
        res.model = local.narrowed(res)
    return res


def _with_values(model: Model, inputs: Sequence[Any], values: Sequence[float]) -> Model:
    """Return a copy of ``model`` with each input set to its value (elements through ``per_element``)."""
    out = model.copy()
    per: dict[str, dict[str, str]] = {}
    for inp, v in zip(inputs, values):
        if inp.name in model and not model[inp.name].dimensions:
            out.add(dataclasses.replace(model[inp.name], value=float(v)), replace=True)  # type: ignore[call-arg]
            continue
        base = inp.targets[0].split("[", 1)[0]
        for t in inp.targets:  # "x[a,b]" -> element key "a,b"
            per.setdefault(base, {})[t[len(base) + 1 : -1]] = repr(float(v))
    for base, values_of in per.items():
        e = model[base]
        known = {canonical_key(k): k for k, _ in e.per_element}
        merged = dict(e.per_element)
        for key, text in values_of.items():
            merged[known.get(key, key)] = text
        out.add(dataclasses.replace(e, per_element=tuple(merged.items())), replace=True)
    return out
