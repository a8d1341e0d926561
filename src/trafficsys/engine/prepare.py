"""Prepare a run: resolve time settings, apply the scenario and parameters, compile, order the constants."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from .. import limits
from ..errors import ModelError, ModelWarning
from ..model.elements import Constant, Scenario
from ..model.model import Model
from ..model.names import canonical, suggest
from .compiled import CompiledModel, compile_model

__all__ = ["Params", "Prepared", "StepSizeWarning", "Timing", "prepare"]

Params = Mapping[str, Any]


class StepSizeWarning(ModelWarning):
    """DT is too large for the fastest first-order time constant: Euler results may be wrong.

    A first-order process with time constant ``tau`` is integrated stably and
    reasonably accurately by Euler only when ``DT <= tau / 2``.
    """


@dataclass(frozen=True)
class Timing:
    """Resolved time settings of a run."""

    start: float
    stop: float
    dt: float
    every: int  #: save every this many steps
    nsteps: int

    @property
    def nsave(self) -> int:
        return self.nsteps // self.every + 1

    @property
    def saveper(self) -> float:
        return self.dt * self.every

    def times(self, upto: int | None = None) -> np.ndarray:
        n = self.nsave if upto is None else upto
        return self.start + self.dt * self.every * np.arange(n)


def _timing(m: Model, start, stop, dt, saveper) -> Timing:
    s = m.specs
    start = s.start if start is None else float(start)
    stop = s.stop if stop is None else float(stop)
    dt = s.dt if dt is None else float(dt)
    saveper = (s.saveper if s.saveper is not None else dt) if saveper is None else float(saveper)
    if not (math.isfinite(dt) and dt > 0):
        raise ModelError(f"DT must be a positive number, got {dt!r}; set dt=... on the model", file=m.file)
    if not (math.isfinite(start) and math.isfinite(stop)) or stop < start:
        raise ModelError(f"the run must have start <= stop, got start={start!r} stop={stop!r}", file=m.file)
    ratio = saveper / dt
    every = max(1, int(round(ratio)))
    if abs(ratio - every) > 1e-6 * max(1.0, ratio):
        raise ModelError(
            f"the save period {saveper!r} is not a multiple of DT {dt!r}; choose saveper = k * dt",
            file=m.file,
        )
    span = (stop - start) / dt
    if not math.isfinite(span):  # the span or the number of steps overflows a double
        raise ModelError(
            f"a run from {start!r} to {stop!r} in steps of DT {dt!r} has too many steps to count; "
            "increase DT or shorten the run",
            file=m.file,
        )
    limits.check(
        "steps",
        math.floor(span + 1e-9) if math.isfinite(span) else span,
        "the run",
        "increase DT or shorten the run",
        file=m.file,
    )
    nsteps = int(math.floor(span + 1e-9))
    return Timing(start, stop, dt, every, nsteps)


def _as_model(model: Any) -> Model:
    if isinstance(model, Model):
        return model
    raise ModelError(
        f"simulate needs a trafficsys Model, got {type(model).__name__}; load one with ts.load(path)"
    )


@dataclass
class Prepared:
    """A model ready to run: scenario and equation overrides applied, compiled, parameters resolved."""

    model: Model
    cm: CompiledModel
    P: list[Any]  #: one value per constant (float, or array of length n)
    n: int
    varied: list[str]  #: constants given per run
    scenario: str | None
    record: tuple[str, ...] | None = None  #: variables saved (None: all)

    @property
    def saved(self) -> list[str]:
        """Canonical names of the variables saved over time."""
        return list(self.cm.recorded if self.record is None else self.record)


def _numbers(value: Any, name: str, file: str | None, what: str = "params") -> np.ndarray:
    """``value`` as a float array, or a ModelError naming the variable (None, text, nested lists...)."""
    try:
        if value is None or isinstance(value, (bool, np.bool_)):
            raise TypeError
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ModelError(
            f"{what}: '{name}' must be a number or an array of numbers (one per run), got {shown}",
            variable=name,
            file=file,
        ) from None


def _check_params(params: Any) -> None:
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(
            f"params must be a mapping of constant name -> value, e.g. {{'raid_intensity': 0.1}}, "
            f"got {type(params).__name__}"
        )


def prepare(
    model: Model, scenario: Any = None, params: Params | None = None, *, seed: Any = None, first_run: int = 0
) -> Prepared:
    """Apply the scenario and ``params``, compile, and resolve constants to the compiled order.

    A model that draws random numbers gets, after its constants, each run's
    seed (:func:`~trafficsys.engine.sampling.run_seeds` of ``seed``, runs
    numbered from ``first_run``).
    """
    m = _as_model(model)
    _check_params(params)
    from ..model.arrays import flatten, is_arrayed

    if is_arrayed(m):  # the engine is scalar: arrayed variables become name[elem] scalars
        m = flatten(m)
    sc_name = (
        scenario
        if isinstance(scenario, str)
        else (scenario.name if isinstance(scenario, Scenario) else (None if scenario is None else "custom"))
    )
    m = m.with_scenario(scenario)
    numeric: dict[str, Any] = {}
    equations: dict[str, str] = {}
    for name, value in (params or {}).items():
        if name not in m:
            raise ModelError(
                f"params: the model has no variable '{name}'{suggest(canonical(name), m.names())}",
                variable=name,
                file=m.file,
            )
        if isinstance(value, str):
            equations[name] = value
            continue
        e = m[name]
        if not isinstance(e, Constant):
            raise ModelError(
                f"params can set constants only; '{e.name}' is a {e.kind.value} (give it an "
                "equation as a string to override it over time)",
                variable=e.name,
                file=m.file,
            )
        numeric[canonical(name)] = _numbers(value, e.name, m.file)
    if equations:
        m = m.with_scenario(equations)
    cm = compile_model(m)
    fixed = {k: v for k, v in numeric.items() if k in cm.plan.structural}
    if fixed:  # e.g. a DELAYN order: part of the compiled structure, so it cannot vary between runs
        for k, v in fixed.items():
            if np.ndim(v) and np.unique(np.asarray(v, dtype=float)).size > 1:
                raise ModelError(
                    "this constant sets the order of a SMTHN/DELAYN/DELAY_N (the number of hidden "
                    "stocks; a DELAY N delay time shorter than order * DT lowers it), "
                    "so it must be the same in every run; give one number",
                    variable=k,
                    file=m.file,
                )
        m = m.with_scenario({k: float(np.asarray(v, dtype=float).reshape(-1)[0]) for k, v in fixed.items()})
        cm = compile_model(m)
    n = 1
    arrays = {}
    for k, v in numeric.items():
        a = np.asarray(v, dtype=float)
        if a.ndim > 1:
            raise ModelError(
                f"params['{k}'] must be a number or a 1-D array (one value per run), got shape {a.shape}",
                variable=k,
                file=m.file,
            )
        if a.ndim == 1:
            if n != 1 and a.size != n and a.size != 1:
                raise ModelError(
                    f"params arrays must all have the same length (one value per run); "
                    f"'{k}' has {a.size}, others {n}",
                    variable=k,
                    file=m.file,
                )
            if a.size != 1:
                n = a.size
            arrays[k] = a
        numeric[k] = a
    limits.check(
        "runs",
        n,
        "the ensemble (one run per element of the params arrays)",
        "pass shorter arrays",
        file=m.file,
    )
    values: list[Any] = []  # a number, or an array of one value per run
    varied = []
    els = dict(zip(m.names(), m.elements()))
    for c in cm.constants:
        if c in numeric:
            a = numeric[c]
            if a.ndim == 1 and a.size > 1:
                values.append(np.ascontiguousarray(a))
                varied.append(c)
            elif a.ndim == 1 and n > 1:
                values.append(np.full(n, float(a[0])))
                varied.append(c)
            else:
                values.append(float(a.reshape(-1)[0]))
        else:
            values.append(float(cast(Constant, els[c]).value))
    bad = [
        c
        for c, v in zip(cm.constants, values)
        if not (math.isfinite(v) if isinstance(v, float) else np.all(np.isfinite(v)))
    ]
    if bad:
        raise ModelError(
            "a constant's value is not finite (NaN or infinity); give it a number",
            variable=m[bad[0]].name,
            file=m.file,
        )
    if cm.plan.seeded:
        values.append(seed_values(seed, first_run, n))
    return Prepared(m, cm, values, n, varied, sc_name)


def seed_values(seed: Any, first_run: int, n: int) -> Any:
    """Return the entry of ``Prepared.P`` holding the runs' seeds: a number for one run, else one per run."""
    from .sampling import run_seeds

    s = run_seeds(seed, first_run, n)
    return float(s[0]) if n == 1 else s


def _check_dt(cm: CompiledModel, timing: Timing, file: str | None) -> None:
    tcs = cm.plan.time_constants
    if not tcs:
        return
    where, tau = min(tcs, key=lambda x: x[1])
    if timing.dt > tau / 2:
        warnings.warn(
            f"{file + ': ' if file else ''}DT = {timing.dt:g} is more than half the shortest first-order "
            f"time constant ({tau:g}, {where}); Euler results will be inaccurate or oscillate. Use "
            f"dt <= {tau / 4:g} (or method='rk4')",
            StepSizeWarning,
            stacklevel=3,
        )
