"""Step a run by hand: :class:`Simulation` (workshops, notebooks, games)."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from ..errors import ModelError, SimulationError
from ..model.model import Model
from ..model.names import canonical
from .execute import _check_initial, _unpack, _vector_params
from .methods import Method, get_method
from .prepare import Params, Prepared, _as_model, _check_dt, _numbers, _timing, prepare
from .results import Results, make_results

__all__ = ["Simulation"]


class Simulation:
    """A run you step through by hand (workshops, notebooks, games).

    Parameters are those of :func:`simulate`.  Between steps, :meth:`set`
    changes constants; a run stepped without changes equals :func:`simulate`
    to the last bit.

    Examples
    --------
    >>> import trafficsys as ts
    >>> m = ts.Model("decay", stop=10, dt=1)
    >>> _ = m.constant("k", 0.1)
    >>> _ = m.stock("x", initial=100, outflows=["loss"])
    >>> _ = m.flow("loss", "k * x")
    >>> sim = ts.Simulation(m)
    >>> sim.step(until=5)
    >>> sim.set(k=0.5)
    >>> sim.step(until=6)
    >>> round(sim.state["x"], 4)
    29.5245
    """

    def __init__(
        self,
        model: Model,
        scenario: Any = None,
        params: Params | None = None,
        method: str | Method | None = None,
    ):
        m = _as_model(model)
        self.method = get_method(method, default=m.specs.method)
        self._prep = prepare(m, scenario, params)
        self.timing = _timing(self._prep.model, None, None, None, None)
        _check_dt(self._prep.cm, self.timing, m.file)
        cm = self._prep.cm
        self._mode = "scalar" if self._prep.n == 1 and not self._prep.varied else "vector"
        self._P = list(self._prep.P) if self._mode == "scalar" else _vector_params(self._prep.P, self._prep.n)
        self._init, self._run, _ = cm.functions(self.method, self._mode)
        self._k = 0
        self._A: tuple = (0.0,) * cm.n_acc
        self._rec: list[bytes] = [b""] * self.timing.nsave  # scalar mode: save j's values as bytes
        self._out = (
            None if self._mode == "scalar" else np.empty((self.timing.nsave, len(cm.recorded), self._prep.n))
        )
        t = self.timing
        with np.errstate(all="ignore"):
            try:
                self._S0 = self._init(self._P, t.start, t.dt, t.stop)
            except (ArithmeticError, ValueError) as e:
                raise SimulationError(f"the initial values cannot be computed ({e})", file=m.file) from None
        _check_initial(self._prep, self._S0)
        self._S = self._S0
        self._advance(0)

    @property
    def model(self) -> Model:
        """The model being run (scenario applied)."""
        return self._prep.model

    @property
    def time(self) -> float:
        """The current simulation time."""
        return self.timing.start + self._k * self.timing.dt

    @property
    def done(self) -> bool:
        """True when the run reached its stop time."""
        return self._k >= self.timing.nsteps

    def _advance(self, k1: int) -> None:
        t = self.timing
        out = self._rec if self._mode == "scalar" else self._out
        with np.errstate(all="ignore"):
            try:
                self._S, self._A = self._run(
                    self._P, self._S, self._A, self._k, k1, t.start, t.dt, t.stop, t.every, out
                )
            except (ArithmeticError, ValueError) as e:
                raise SimulationError(
                    f"arithmetic error between time {self.time:g} and {t.start + k1 * t.dt:g} ({e})",
                    time=self.time,
                    file=self.model.file,
                ) from None
        self._k = k1
        self._check_finite()

    def _check_finite(self) -> None:
        for name, v in zip(self._prep.cm.states, self._S):
            if isinstance(v, list):  # a pipeline delay's input history
                continue
            a = np.asarray(v)
            if not np.isfinite(a).all():
                run = int(np.argmax(~np.isfinite(np.atleast_1d(a))))
                node = self._prep.cm.plan.nodes[name]
                raise SimulationError(
                    f"became {np.atleast_1d(a)[run]} by time {self.time:g} (run {run})",
                    variable=self._prep.cm.plan.display.get(node.owner, node.owner),
                    time=self.time,
                    run=run,
                    file=self.model.file,
                )

    def step(self, until: float | None = None) -> None:
        """Advance to time ``until`` (default: one DT); stops at the model's stop time."""
        t = self.timing
        if until is None:
            k1 = self._k + 1
        else:
            if (
                isinstance(until, (bool, np.bool_))
                or not isinstance(until, (int, float, np.integer, np.floating))
                or not math.isfinite(until)
            ):
                raise ModelError(
                    f"step(until=...) needs a finite time (a number), got {until!r}", file=self.model.file
                )
            k1 = int(math.floor((float(until) - t.start) / t.dt + 1e-9))
            if k1 < self._k:
                raise ModelError(
                    f"cannot step back to time {until:g}: the run is at {self.time:g}", file=self.model.file
                )
        self._advance(min(k1, t.nsteps))

    def run(self) -> Results:
        """Run to the stop time and return the results."""
        self._advance(self.timing.nsteps)
        return self.results

    def set(self, **params: Any) -> None:
        """Change constants from the current time on (``sim.set(raid_intensity=0.2)``)."""
        cm = self._prep.cm
        for name, value in params.items():
            key = canonical(name)
            if key not in cm.constants:
                e = self.model[name] if name in self.model else None
                what = f"is a {e.kind.value}" if e is not None else "does not exist"
                raise ModelError(
                    f"only constants can be set while stepping; '{name}' {what}",
                    variable=name,
                    file=self.model.file,
                )
            a = _numbers(value, name, self.model.file, what="set")
            if not np.isfinite(a).all():
                raise ModelError(
                    "set: the value is not finite (NaN or infinity); give a number",
                    variable=name,
                    file=self.model.file,
                )
            if self._mode == "scalar":
                if a.size != 1:
                    raise ModelError(
                        "this run has one run; set a number, not an array",
                        variable=name,
                        file=self.model.file,
                    )
                v: Any = float(a.reshape(-1)[0])
            else:
                if a.ndim == 0 or a.size == 1:
                    v = np.full(self._prep.n, float(a.reshape(-1)[0]))
                elif a.shape == (self._prep.n,):
                    v = a.copy()
                else:
                    raise ModelError(
                        f"expected a number or {self._prep.n} values (one per run), got shape {a.shape}",
                        variable=name,
                        file=self.model.file,
                    )
            self._P[cm.constants.index(key)] = v
        self._advance(self._k)  # recompute what is saved at the current time with the new values

    @property
    def state(self) -> dict[str, Any]:
        """Every saved variable's value at the current time (floats, or arrays over runs)."""
        t = self.timing
        cm = self._prep.cm
        if self._mode == "scalar":
            got: dict[int, bytes] = {}
            with np.errstate(all="ignore"):
                self._run(self._P, self._S, self._A, self._k, self._k, t.start, t.dt, t.stop, 1, got)
            return dict(zip(cm.recorded, struct.unpack(f"{len(cm.recorded)}d", got[self._k])))
        buf = np.empty((self._k + 1, len(cm.recorded), self._prep.n))
        with np.errstate(all="ignore"):
            self._run(self._P, self._S, self._A, self._k, self._k, t.start, t.dt, t.stop, 1, buf)
        return {name: buf[self._k, i].copy() for i, name in enumerate(cm.recorded)}

    @property
    def results(self) -> Results:
        """The results saved so far."""
        nsave = self._k // self.timing.every + 1
        if self._mode == "scalar":
            out = _unpack(self._rec[:nsave], len(self._prep.cm.recorded))
        else:
            assert self._out is not None  # the vector flavour keeps its saves in one array
            out = self._out[:nsave]
        prep = Prepared(
            self._prep.model,
            self._prep.cm,
            list(self._P),
            self._prep.n,
            self._prep.varied,
            self._prep.scenario,
        )
        return make_results(prep, self.method, self.timing, out, self._S0, self._S, self._A, nsave)

    def __repr__(self) -> str:
        return f"<Simulation {self.model.name!r} at time {self.time:g} of {self.timing.stop:g}>"
