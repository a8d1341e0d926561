"""The front door: :func:`simulate`, and :class:`Simulation` for stepping a run by hand."""

from __future__ import annotations

import math
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .. import limits
from ..errors import ModelError, SimulationError
from ..model.elements import Constant, Scenario
from ..model.model import Model
from ..model.names import canonical
from . import kernel
from .codegen import ledger_from_saves
from .compiled import CompiledModel, compile_model
from .lower import STOCK
from .methods import Method, get_method
from .results import Results

__all__ = ["simulate", "Simulation", "StepSizeWarning", "Timing", "prepare", "execute", "make_results", "dataset"]

Params = Mapping[str, Any]


class StepSizeWarning(UserWarning):
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
        raise ModelError(f"the save period {saveper!r} is not a multiple of DT {dt!r}; choose saveper = k * dt",
                         file=m.file)
    span = (stop - start) / dt
    if not math.isfinite(span):  # the span or the number of steps overflows a double
        raise ModelError(f"a run from {start!r} to {stop!r} in steps of DT {dt!r} has too many steps to count; "
                         "increase DT or shorten the run", file=m.file)
    limits.check("steps", math.floor(span + 1e-9) if math.isfinite(span) else span, "the run",
                 "increase DT or shorten the run", file=m.file)
    nsteps = int(math.floor(span + 1e-9))
    return Timing(start, stop, dt, every, nsteps)


def _as_model(model: Any) -> Model:
    if isinstance(model, Model):
        return model
    raise ModelError(f"simulate needs a trafficsys Model, got {type(model).__name__}; load one with ts.load(path)")


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
        raise ModelError(f"{what}: '{name}' must be a number or an array of numbers (one per run), got {shown}",
                         variable=name, file=file) from None


def _check_params(params: Any) -> None:
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of constant name -> value, e.g. {{'raid_intensity': 0.1}}, "
                        f"got {type(params).__name__}")


def prepare(model: Model, scenario: Any = None, params: Params | None = None) -> Prepared:
    """Apply the scenario and ``params``, compile, and resolve constants to the compiled order."""
    m = _as_model(model)
    _check_params(params)
    from ..model.arrays import flatten, is_arrayed

    if is_arrayed(m):  # the engine is scalar: arrayed variables become name[elem] scalars
        m = flatten(m)
    sc_name = scenario if isinstance(scenario, str) else (scenario.name if isinstance(scenario, Scenario) else
                                                           (None if scenario is None else "custom"))
    m = m.with_scenario(scenario)
    numeric: dict[str, Any] = {}
    equations: dict[str, str] = {}
    for name, value in (params or {}).items():
        if name not in m:
            from ..model.validate import suggest

            raise ModelError(f"params: the model has no variable '{name}'{suggest(canonical(name), m.names())}",
                             variable=name, file=m.file)
        if isinstance(value, str):
            equations[name] = value
            continue
        e = m[name]
        if not isinstance(e, Constant):
            raise ModelError(f"params can set constants only; '{e.name}' is a {e.kind.value} (give it an "
                             "equation as a string to override it over time)", variable=e.name, file=m.file)
        numeric[canonical(name)] = _numbers(value, e.name, m.file)
    if equations:
        m = m.with_scenario(equations)
    cm = compile_model(m)
    fixed = {k: v for k, v in numeric.items() if k in cm.plan.structural}
    if fixed:  # e.g. a DELAYN order: part of the compiled structure, so it cannot vary between runs
        for k, v in fixed.items():
            if np.ndim(v) and np.unique(np.asarray(v, dtype=float)).size > 1:
                raise ModelError("this constant sets the order of a SMTHN/DELAYN/DELAY_N (the number of hidden "
                                 "stocks; a DELAY N delay time shorter than order * DT lowers it), "
                                 "so it must be the same in every run; give one number", variable=k, file=m.file)
        m = m.with_scenario({k: float(np.asarray(v, dtype=float).reshape(-1)[0]) for k, v in fixed.items()})
        cm = compile_model(m)
    n = 1
    arrays = {}
    for k, v in numeric.items():
        a = np.asarray(v, dtype=float)
        if a.ndim > 1:
            raise ModelError(f"params['{k}'] must be a number or a 1-D array (one value per run), got shape "
                             f"{a.shape}", variable=k, file=m.file)
        if a.ndim == 1:
            if n != 1 and a.size != n and a.size != 1:
                raise ModelError(f"params arrays must all have the same length (one value per run); "
                                 f"'{k}' has {a.size}, others {n}", variable=k, file=m.file)
            if a.size != 1:
                n = a.size
            arrays[k] = a
        numeric[k] = a
    limits.check("runs", n, "the ensemble (one run per element of the params arrays)", "pass shorter arrays",
                 file=m.file)
    values = []
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
            values.append(float(els[c].value))  # type: ignore[union-attr]
    bad = [c for c, v in zip(cm.constants, values)
           if not (math.isfinite(v) if isinstance(v, float) else np.all(np.isfinite(v)))]
    if bad:
        raise ModelError("a constant's value is not finite (NaN or infinity); give it a number",
                         variable=m[bad[0]].name, file=m.file)
    return Prepared(m, cm, values, n, varied, sc_name)


def _check_dt(cm: CompiledModel, timing: Timing, file: str | None) -> None:
    tcs = cm.plan.time_constants
    if not tcs:
        return
    where, tau = min(tcs, key=lambda x: x[1])
    if timing.dt > tau / 2:
        warnings.warn(
            f"{file + ': ' if file else ''}DT = {timing.dt:g} is more than half the shortest first-order "
            f"time constant ({tau:g}, {where}); Euler results will be inaccurate or oscillate. Use "
            f"dt <= {tau / 4:g} (or method='rk4')", StepSizeWarning, stacklevel=3)


def _vector_params(P: list[Any], n: int) -> list[Any]:
    return [v if isinstance(v, np.ndarray) else np.float64(v) for v in P]


def execute(prep: Prepared, method: Method, timing: Timing, *, mode: str | None = None,
            locate: bool = True, run_offset: int = 0, out: np.ndarray | None = None,
            backend: str | None = None) -> tuple[np.ndarray, tuple, tuple, tuple]:
    """Run a prepared model; return ``(out, initial_states, final_states, accumulators)``.

    ``out`` has shape ``(nsave, nrecorded, n)``; pass one (a view into a larger
    array) to have the run write its saved values there directly
    (:func:`new_output` makes one laid out as the compiled kernel writes).
    Non-finite values raise :class:`~trafficsys.errors.SimulationError` naming
    the variable, the run (``run_offset`` added) and the time where they first
    appeared.  ``backend``: see :func:`~trafficsys.engine.kernel.choose`;
    ``mode`` picks the numpy flavour (``"scalar"``, ``"vector"``) when numpy runs.
    """
    cm, n = prep.cm, prep.n
    if kernel.choose(backend, cm, method, prep.record, n) == "numba":
        return _execute_kernel(prep, method, timing, locate=locate, run_offset=run_offset, out=out)
    if mode is None:
        mode = "scalar" if n == 1 and not prep.varied else "vector"
    nrec = len(prep.saved)
    zeros = (0.0,) * cm.n_acc
    if out is None or out.shape != (timing.nsave, nrec, n):
        # a single run keeps its saves as bytes (plus a Python object each) before one array is made
        per_save = 8.0 * nrec * n + (64 if mode == "scalar" else 0)
        limits.check_memory(2 * per_save * timing.nsave if mode == "scalar" else per_save * timing.nsave,
                            f"saving {nrec} variables at {timing.nsave:,} times for {n:,} run(s)",
                            "use fewer runs, save fewer variables (variables=[...]) or save less often (saveper)",
                            prep.model.file)
    # saving every flow at every step, the ledger is summed from the saves rather than in the loop
    where = cm.saved_flows(method, timing.every, prep.record)
    if mode == "scalar":
        init, run, _ = cm.functions(method, "scalar", prep.record, where is None)
        recs: list[bytes] = [b""] * timing.nsave
        try:
            with np.errstate(all="ignore"):
                S0 = init(prep.P, timing.start, timing.dt, timing.stop)
                _check_initial(prep, S0)
                S, A = run(prep.P, S0, zeros, 0, timing.nsteps, timing.start, timing.dt, timing.stop,
                           timing.every, recs)
            out = _unpack(recs, nrec)
        except (ArithmeticError, ValueError):
            # Python floats raise where numpy returns inf/NaN: redo in numpy to say where it happened
            return execute(prep, method, timing, mode="vector", locate=locate, run_offset=run_offset, out=out)
    else:
        init, run, _ = cm.functions(method, "vector", prep.record, where is None)
        P = _vector_params(prep.P, n)
        if out is None or out.shape != (timing.nsave, nrec, n):
            out = np.empty((timing.nsave, nrec, n))
        try:
            with np.errstate(all="ignore"):
                S0 = init(P, timing.start, timing.dt, timing.stop)
                _check_initial(prep, S0)
                S, A = run(P, S0, zeros, 0, timing.nsteps, timing.start, timing.dt, timing.stop,
                           timing.every, out)
        except (ArithmeticError, ValueError) as e:
            raise SimulationError(f"arithmetic error in the equations ({e}); check divisions by constants "
                                  "that are zero", file=prep.model.file) from None
    if not np.isfinite(out).all():
        if locate:
            _locate(prep, method, timing, out, run_offset)
        raise SimulationError("a variable became NaN or infinite", file=prep.model.file)
    if where is not None:
        steps = out[:timing.nsteps]
        net, gross = ledger_from_saves(steps[:, where[0], :], steps[:, where[1], :], timing.dt)
        A = tuple(net) + tuple(gross) if mode == "vector" else tuple(net[:, 0].tolist() + gross[:, 0].tolist())
    return out, S0, S, A


def new_output(nsave: int, nrec: int, n: int) -> np.ndarray:
    """Return an empty ``(nsave, nrec, n)`` array laid out as the kernel writes (variable, run, save).

    The kernel fills it in place; each variable's ``(time, run)`` block is a
    contiguous transposed view, as xarray keeps it.
    """
    return np.empty((nrec, n, nsave)).transpose(2, 0, 1)


def _execute_kernel(prep: Prepared, method: Method, timing: Timing, *, locate: bool, run_offset: int,
                    out: np.ndarray | None) -> tuple[np.ndarray, tuple, tuple, tuple]:
    cm, n = prep.cm, prep.n
    nrec = len(prep.saved)
    k = kernel.get_kernel(cm, method, prep.record)
    shape = (timing.nsave, nrec, n)
    native = None
    if out is not None and out.shape == shape:
        t = out.transpose(1, 2, 0)
        native = t if t.flags.c_contiguous else None
    if native is None:
        if out is None or out.shape != shape:
            limits.check_memory(8.0 * nrec * n * timing.nsave,
                                f"saving {nrec} variables at {timing.nsave:,} times for {n:,} run(s)",
                                "use fewer runs, save fewer variables (variables=[...]) or save less often "
                                "(saveper)", prep.model.file)
        native = np.empty((nrec, n, timing.nsave))
    P = np.empty((len(prep.P), n))
    for i, v in enumerate(prep.P):
        P[i] = v
    S0, SF, ACC, BAD = k.run(P, n, timing.start, timing.dt, timing.stop, timing.nsteps, timing.every, native)
    view = native.transpose(2, 0, 1)
    if out is not None and out.shape == shape and not np.shares_memory(out, native):
        out[...] = view
        view = out
    S0t = tuple(S0[:, i] for i in range(S0.shape[1]))
    _check_initial(prep, S0t)
    if np.isnan(BAD).any():
        if locate:
            _locate(prep, method, timing, view, run_offset)
        raise SimulationError("a variable became NaN or infinite", file=prep.model.file)
    return (view, S0t, tuple(SF[:, i] for i in range(SF.shape[1])),
            tuple(ACC[:, i] for i in range(ACC.shape[1])))


def _unpack(recs: list[bytes], nrec: int) -> np.ndarray:
    """Return the saves of a scalar run (the bytes of ``nrec`` doubles each) as a writable (saves, nrec, 1) array."""
    return np.frombuffer(bytearray().join(recs), dtype=float).reshape(len(recs), nrec, 1)


def _check_initial(prep: Prepared, S0: tuple) -> None:
    cm = prep.cm
    for name, v in zip(cm.states, S0):
        if isinstance(v, float) and not v < 0.0:  # the usual case, without numpy
            continue
        node = cm.plan.nodes[name]
        if node.role == STOCK and node.non_negative and np.any(np.asarray(v) < 0):
            runs = np.nonzero(np.atleast_1d(np.asarray(v) < 0))[0]
            raise SimulationError(
                f"the initial value {float(np.atleast_1d(v)[runs[0]]):g} of this non-negative stock is below "
                "zero; give it an initial value >= 0 (or declare it non_negative=False)",
                variable=cm.plan.display[name], run=int(runs[0]), time=prep.model.specs.start,
                file=prep.model.file)


def _locate(prep: Prepared, method: Method, timing: Timing, out: np.ndarray, run_offset: int) -> None:
    """Find the first time, run and variable where a non-finite value appeared; raise SimulationError."""
    bad = ~np.isfinite(out)
    j = int(np.argmax(bad.any(axis=(1, 2))))
    run = int(np.argmax(bad[j].any(axis=0)))
    cm = prep.cm
    P1 = [v[run] if isinstance(v, np.ndarray) else v for v in prep.P]
    one = Prepared(prep.model, cm, P1, 1, [], prep.scenario)
    fine = Timing(timing.start, timing.stop, timing.dt, 1, min(timing.nsteps, j * timing.every))
    init, step, _ = cm.functions(method, "vector")
    full = np.empty((fine.nsave, len(cm.recorded), 1))
    with np.errstate(all="ignore"):
        S0 = init(_vector_params(one.P, 1), fine.start, fine.dt, fine.stop)
        step(_vector_params(one.P, 1), S0, (0.0,) * cm.n_acc, 0, fine.nsteps, fine.start, fine.dt,
             fine.stop, 1, full)
    fbad = ~np.isfinite(full[:, :, 0])
    k = int(np.argmax(fbad.any(axis=1))) if fbad.any() else j * timing.every
    bad_vars = {cm.recorded[i] for i in np.nonzero(fbad[k])[0]} if fbad.any() else {
        prep.saved[i] for i in np.nonzero(bad[j, :, run])[0]}
    order = [s for s in cm.states if s in bad_vars] + [v for v in cm.plan.step_order if v in bad_vars]
    name = order[0] if order else sorted(bad_vars)[0]
    t = timing.start + k * timing.dt
    value = full[k, cm.recorded.index(name), 0] if fbad.any() else out[j, prep.saved.index(name), run]
    raise SimulationError(
        f"became {value} at time {t:g} (run {run + run_offset}); look for a division by zero, a LN or SQRT "
        "of a non-positive value, or exponential growth that overflows, in this variable's equation or "
        "its inputs", variable=cm.plan.display.get(name, name), time=t, run=run + run_offset,
        file=prep.model.file)


_KIND = {"stock": "stock", "flow": "flow", "aux": "aux", "lookupvar": "lookup"}


def _attrs(cm: CompiledModel, m: Model) -> dict[str, dict[str, str]]:
    """Per variable the attributes of its results (units, doc, kind), cached on the compiled model.

    Units and docs are part of the structure key (:func:`~trafficsys.engine.compiled.structure_key`),
    so every model sharing ``cm`` has the same ones.
    """
    got = cm.result_attrs
    if got is None:
        els = dict(zip(m.names(), m.elements()))  # canonical name -> element, without re-normalising
        got = {name: {"units": els[name].units or "", "doc": els[name].doc, "kind": _KIND[cm.plan.nodes[name].role]}
               for name in cm.recorded}
        got.update({c: {"units": els[c].units or "", "doc": els[c].doc, "kind": "constant"} for c in cm.constants})
        cm.result_attrs = got
    return got


def make_results(prep: Prepared, method: Method, timing: Timing, out: np.ndarray, S0: tuple, S: tuple,
                 A: tuple, nsave: int | None = None) -> Results:
    """Wrap raw outputs into :class:`Results` (the Dataset and the ledger)."""
    cm, m, n = prep.cm, prep.model, prep.n
    nsave = out.shape[0] if nsave is None else nsave
    times = timing.times(nsave)
    runs = np.arange(n)
    data = {}
    attrs = _attrs(cm, m)
    block = np.asarray(out[:nsave], dtype=float)
    var = _variable
    for i, name in enumerate(prep.saved):
        data[name] = var(("time", "run"), block[:, i, :], attrs[name])
    # the constants, one row per constant of a (constants, runs) block: each run's own copy of its values
    if n == 1:
        consts = np.array(prep.P, dtype=float).reshape(len(prep.P), 1)
    else:
        consts = np.empty((len(prep.P), n))
        for i, v in enumerate(prep.P):
            consts[i] = v
    for i, c in enumerate(cm.constants):
        data[c] = var(("run",), consts[i], attrs[c])
    ds_attrs = {"model": m.name, "scenario": prep.scenario or "", "method": method.name, "dt": timing.dt,
                "start": timing.start, "stop": timing.stop, "saveper": timing.saveper,
                "time_units": m.specs.time_units, "varied": ",".join(prep.varied)}
    ds = dataset(data, {"time": times, "run": runs}, ds_attrs)
    return Results(ds, m, ledger(prep, S0, S, A))


def _public_variable(dims: tuple[str, ...], values: np.ndarray, attrs: dict) -> xr.Variable:
    return xr.Variable(dims, values, attrs, fastpath=True)


def _direct_variable(dims: tuple[str, ...], values: np.ndarray, attrs: dict) -> xr.Variable:
    # xarray.Variable(..., fastpath=True) costs about 2 microseconds, several hundred of them a run
    # of a large model; a Variable is exactly these four slots (checked once, by _choose_variable)
    v = _new_variable(xr.Variable)
    v._dims = dims
    v._data = values
    v._attrs = dict(attrs)
    v._encoding = None
    return v


_new_variable = object.__new__


def _choose_variable():
    """Return the direct constructor if it builds what xarray's does (the same slots, an identical Variable)."""
    try:
        slots = {s for c in xr.Variable.__mro__ for s in c.__dict__.get("__slots__", ())}
        if slots != {"_dims", "_data", "_attrs", "_encoding"}:
            return _public_variable
        a = np.arange(6.0).reshape(3, 2)
        fast, ref = _direct_variable(("time", "run"), a, {"k": "v"}), xr.Variable(("time", "run"), a, {"k": "v"})
        one = _direct_variable(("run",), a[0], {})
        if fast.identical(ref) and type(fast) is type(ref) and fast.encoding == {} and one.attrs == {}:
            return _direct_variable
    except Exception:  # pragma: no cover - only if xarray's internals change
        pass
    return _public_variable  # pragma: no cover


_variable = _choose_variable()


def dataset(data: dict[str, xr.Variable], coords: dict[str, np.ndarray], attrs: dict) -> xr.Dataset:
    """Build a Dataset of variables that are already aligned on ``coords``.

    ``xarray.Dataset(...)`` merges and aligns every variable, which costs more
    than a whole run of a small model when there are hundreds of variables;
    ours are aligned by construction, so they are assembled directly.  Falls
    back to the public constructor if xarray's internals change.
    """
    try:
        from xarray.core.indexes import PandasIndex

        variables: dict[str, xr.Variable] = {}
        indexes = {}
        for name, values in coords.items():
            index = PandasIndex(values, name)
            variables.update(index.create_variables())
            indexes[name] = index
        dims = {name: len(values) for name, values in coords.items()}
        shapes: dict[tuple, tuple] = {}
        for name, var in data.items():
            d = var.dims
            want = shapes.get(d)
            if want is None:
                want = shapes[d] = tuple(dims[x] for x in d)
            if var.shape != want or name in variables:
                raise ValueError(name)
            variables[name] = var
        return xr.Dataset._construct_direct(variables, set(coords), dims, dict(attrs), indexes)
    except Exception:  # pragma: no cover - only if xarray's internals change
        return xr.Dataset(data, coords=coords, attrs=attrs)


def ledger(prep: Prepared, S0: tuple, S: tuple, A: tuple) -> Any:
    """Return a function building the conservation ledger over ``(stock, run)`` (see :class:`Results`)."""
    cm, n = prep.cm, prep.n
    idx = {s: i for i, s in enumerate(cm.states)}
    k = len(cm.acc_flows)
    acc = dict(zip(cm.acc_flows, A[:k]))
    gross = dict(acc, **dict(zip(cm.gross_flows, A[k:])))  # a uniflow's gross amount is its net amount
    src = {f: s for s in cm.stocks for f in cm.plan.nodes[s].outflows}
    dst = {f: s for s in cm.stocks for f in cm.plan.nodes[s].inflows}
    stocks = list(cm.stocks)
    S0 = tuple(S0)
    S = tuple(S)

    def build() -> xr.Dataset:
        def arr(x):
            return np.broadcast_to(np.asarray(x, dtype=float), (n,))

        def total(flows, amounts=acc):
            out = np.zeros(n)
            for f in flows:
                out = out + arr(amounts[f])
            return out

        rows: dict[str, list[np.ndarray]] = {k: [] for k in (
            "initial", "inflows", "outflows", "boundary_inflows", "boundary_outflows", "turnover", "final")}
        for s in stocks:
            node = cm.plan.nodes[s]
            rows["initial"].append(arr(S0[idx[s]]))
            rows["final"].append(arr(S[idx[s]]))
            rows["inflows"].append(total(node.inflows))
            rows["outflows"].append(total(node.outflows))
            rows["boundary_inflows"].append(total([f for f in node.inflows if f not in src]))
            rows["boundary_outflows"].append(total([f for f in node.outflows if f not in dst]))
            rows["turnover"].append(total(node.inflows + node.outflows, gross))
        data = {k: np.array(v, dtype=float).reshape(len(stocks), n) for k, v in rows.items()}
        data["residual"] = data["final"] - (data["initial"] + data["inflows"] - data["outflows"])
        return xr.Dataset({k: (("stock", "run"), v) for k, v in data.items()},
                          coords={"stock": stocks, "run": np.arange(n)})

    return build


def simulate(model: Model, scenario: str | Scenario | Mapping[str, Any] | None = None,
             params: Params | None = None, method: str | Method | None = None, *, start: float | None = None,
             stop: float | None = None, dt: float | None = None, saveper: float | None = None,
             variables: Any = None, backend: str | None = None) -> Results:
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
    timing = _timing(m, start, stop, dt, saveper)  # before compiling: a run over the steps limit is refused at once
    prep = prepare(m, scenario, params)
    prep.record = prep.cm.resolve_record(variables)
    _check_dt(prep.cm, timing, m.file)
    out, S0, S, A = execute(prep, meth, timing, backend=backend)
    return make_results(prep, meth, timing, out, S0, S, A)


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

    def __init__(self, model: Model, scenario: Any = None, params: Params | None = None,
                 method: str | Method | None = None):
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
        self._out = None if self._mode == "scalar" else np.empty((self.timing.nsave, len(cm.recorded), self._prep.n))
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
                self._S, self._A = self._run(self._P, self._S, self._A, self._k, k1, t.start, t.dt, t.stop,
                                             t.every, out)
            except (ArithmeticError, ValueError) as e:
                raise SimulationError(f"arithmetic error between time {self.time:g} and "
                                      f"{t.start + k1 * t.dt:g} ({e})", time=self.time,
                                      file=self.model.file) from None
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
                raise SimulationError(f"became {np.atleast_1d(a)[run]} by time {self.time:g} (run {run})",
                                      variable=self._prep.cm.plan.display.get(node.owner, node.owner),
                                      time=self.time, run=run, file=self.model.file)

    def step(self, until: float | None = None) -> None:
        """Advance to time ``until`` (default: one DT); stops at the model's stop time."""
        t = self.timing
        if until is None:
            k1 = self._k + 1
        else:
            if isinstance(until, (bool, np.bool_)) or not isinstance(until, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(until):
                raise ModelError(f"step(until=...) needs a finite time (a number), got {until!r}",
                                 file=self.model.file)
            k1 = int(math.floor((float(until) - t.start) / t.dt + 1e-9))
            if k1 < self._k:
                raise ModelError(f"cannot step back to time {until:g}: the run is at {self.time:g}",
                                 file=self.model.file)
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
                raise ModelError(f"only constants can be set while stepping; '{name}' {what}",
                                 variable=name, file=self.model.file)
            a = _numbers(value, name, self.model.file, what="set")
            if not np.isfinite(a).all():
                raise ModelError("set: the value is not finite (NaN or infinity); give a number",
                                 variable=name, file=self.model.file)
            if self._mode == "scalar":
                if a.size != 1:
                    raise ModelError("this run has one run; set a number, not an array", variable=name,
                                     file=self.model.file)
                v: Any = float(a.reshape(-1)[0])
            else:
                if a.ndim == 0 or a.size == 1:
                    v = np.full(self._prep.n, float(a.reshape(-1)[0]))
                elif a.shape == (self._prep.n,):
                    v = a.copy()
                else:
                    raise ModelError(f"expected a number or {self._prep.n} values (one per run), got shape "
                                     f"{a.shape}", variable=name, file=self.model.file)
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
            out = self._out[:nsave]
        prep = Prepared(self._prep.model, self._prep.cm, list(self._P), self._prep.n, self._prep.varied,
                        self._prep.scenario)
        return make_results(prep, self.method, self.timing, out, self._S0, self._S, self._A, nsave)

    def __repr__(self) -> str:
        return f"<Simulation {self.model.name!r} at time {self.time:g} of {self.timing.stop:g}>"
