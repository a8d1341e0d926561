"""Run a prepared model: the compiled kernel or the generated numpy code, into one array of saves."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from .. import limits
from ..errors import SimulationError
from . import kernel
from .codegen import ledger_from_saves
from .lower import STOCK
from .methods import Method
from .prepare import Prepared, Timing

__all__ = ["BUDGET_SHARE", "execute", "memory_budget", "new_output"]


def _vector_params(P: list[Any], n: int) -> list[Any]:
    return [v if isinstance(v, np.ndarray) else np.float64(v) for v in P]


def execute(
    prep: Prepared,
    method: Method,
    timing: Timing,
    *,
    mode: str | None = None,
    locate: bool = True,
    run_offset: int = 0,
    out: np.ndarray | None = None,
    backend: str | None = None,
) -> tuple[np.ndarray, tuple, tuple, tuple]:
    """Run a prepared model; return ``(out, initial_states, final_states, accumulators)``.

    ``out`` has shape ``(nsave, nrecorded, n)``; pass one (a view into a larger
    array) to have the run write its saved values there directly
    (:func:`new_output` makes one laid out as the compiled kernel writes).
    Non-finite values raise :class:`~trafficsys.errors.SimulationError` naming
    the variable, the run (``run_offset`` added) and the time where they first
    appeared.  ``backend``: see :func:`~trafficsys.engine.kernel.choose`;
    ``mode`` picks the numpy flavour (``"scalar"``, ``"vector"``) when numpy runs.

    The size of the saves is estimated first: more than the memory limit
    (what is available) raises :class:`~trafficsys.errors.LimitError` saying
    how to save less; saves and working arrays above :func:`memory_budget`
    make the numpy path run the ensemble in chunks of runs.
    """
    cm, n = prep.cm, prep.n
    nrec = len(prep.saved)
    nbytes = 8.0 * nrec * n * timing.nsave
    if (out is None or out.shape != (timing.nsave, nrec, n)) and (nbytes > 2**24 or limits.current().memory):
        # before anything runs: can the saves be held? (16 MiB or less always can, unless a limit says less)
        limits.check_memory(
            nbytes,
            f"saving {nrec} variables at {timing.nsave:,} times for {n:,} run(s)",
            "save fewer variables (variables=[...]), save less often (saveper=...) or use fewer runs",
            prep.model.file,
        )
    if kernel.choose(backend, cm, method, prep.record, n) == "numba":
        return _execute_kernel(prep, method, timing, locate=locate, run_offset=run_offset, out=out)
    if mode is None:
        mode = "scalar" if n == 1 and not prep.varied else "vector"
    chunk = _chunk_runs(prep, timing) if mode == "vector" else n
    if chunk < n:
        return _execute_chunks(prep, method, timing, chunk, locate=locate, run_offset=run_offset, out=out)
    zeros = (0.0,) * cm.n_acc
    if out is None or out.shape != (timing.nsave, nrec, n):
        # a single run keeps its saves as bytes (plus a Python object each) before one array is made
        per_save = 8.0 * nrec * n + (64 if mode == "scalar" else 0)
        limits.check_memory(
            2 * per_save * timing.nsave if mode == "scalar" else per_save * timing.nsave,
            f"saving {nrec} variables at {timing.nsave:,} times for {n:,} run(s)",
            "save fewer variables (variables=[...]), save less often (saveper=...) or use fewer runs",
            prep.model.file,
        )
    # saving every flow at every step, the ledger is summed from the saves rather than in the loop
    where = cm.saved_flows(method, timing.every, prep.record)
    if mode == "scalar":
        init, run, _ = cm.functions(method, "scalar", prep.record, where is None)
        recs: list[bytes] = [b""] * timing.nsave
        try:
            with np.errstate(all="ignore"):
                S0 = init(prep.P, timing.start, timing.dt, timing.stop)
                _check_initial(prep, S0)
                S, A = run(
                    prep.P,
                    S0,
                    zeros,
                    0,
                    timing.nsteps,
                    timing.start,
                    timing.dt,
                    timing.stop,
                    timing.every,
                    recs,
                )
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
                S, A = run(
                    P, S0, zeros, 0, timing.nsteps, timing.start, timing.dt, timing.stop, timing.every, out
                )
        except (ArithmeticError, ValueError) as e:
            raise SimulationError(
                f"arithmetic error in the equations ({e}); check divisions by constants that are zero",
                file=prep.model.file,
            ) from None
    if not np.isfinite(out).all():
        if locate:
            _locate(prep, method, timing, out, run_offset)
        raise SimulationError("a variable became NaN or infinite", file=prep.model.file)
    if where is not None:
        steps = out[: timing.nsteps]
        net, gross = ledger_from_saves(steps[:, where[0], :], steps[:, where[1], :], timing.dt)
        A = (
            tuple(net) + tuple(gross)
            if mode == "vector"
            else tuple(net[:, 0].tolist() + gross[:, 0].tolist())
        )
    return out, S0, S, A


#: the share of physical memory an ensemble's saves and working arrays may take before the numpy path
#: runs it in chunks of runs (the kernel's working memory is a few numbers per run)
BUDGET_SHARE = 0.25


def memory_budget() -> float:
    """Return the bytes an ensemble may use before it runs in chunks.

    ``$TRAFFICSYS_MEMORY_BUDGET`` (bytes) when set, else :data:`BUDGET_SHARE`
    of physical memory (infinite if unknown).  Above what can be held at all
    (:func:`trafficsys.limits.check_memory`) a run is refused instead.
    """
    env = os.environ.get("TRAFFICSYS_MEMORY_BUDGET", "").strip()
    if env:
        return float(env)
    try:
        return BUDGET_SHARE * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return math.inf


def _chunk_runs(prep: Prepared, timing: Timing) -> int:
    """Return the runs per chunk of the numpy path: all, unless saves and temporaries exceed the budget."""
    n = prep.n
    saves = 8.0 * len(prep.saved) * timing.nsave * n
    per_run = (
        8.0 * 3 * (len(prep.cm.plan.step_order) + len(prep.cm.states) + len(prep.P))
    )  # arrays per equation
    budget = memory_budget()
    if saves + per_run * n <= budget:
        return n
    return int(max(MIN_CHUNK, min(n, (budget - saves) // per_run if budget > saves else MIN_CHUNK)))


#: the fewest runs a chunk of the numpy path holds (fewer would spend the time in numpy's per-call cost)
MIN_CHUNK = 1024


def _execute_chunks(
    prep: Prepared,
    method: Method,
    timing: Timing,
    chunk: int,
    *,
    locate: bool,
    run_offset: int,
    out: np.ndarray | None,
) -> tuple[np.ndarray, tuple, tuple, tuple]:
    """Run the ensemble ``chunk`` runs at a time into one array of saves (each run's numbers unchanged)."""
    n = prep.n
    if out is None or out.shape != (timing.nsave, len(prep.saved), n):
        out = np.empty((timing.nsave, len(prep.saved), n))
    parts = []
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        P = [v[a:b] if isinstance(v, np.ndarray) else v for v in prep.P]
        part = Prepared(prep.model, prep.cm, P, b - a, prep.varied, prep.scenario, prep.record)
        parts.append(
            execute(
                part,
                method,
                timing,
                mode="vector",
                locate=locate,
                run_offset=run_offset + a,
                out=out[:, :, a:b],
                backend="numpy",
            )[1:]
        )

    def joined(i: int) -> tuple:
        return tuple(
            np.concatenate(
                [
                    np.broadcast_to(np.asarray(p[i][j], dtype=float), (min(n, a + chunk) - a,))
                    for p, a in zip(parts, range(0, n, chunk))
                ]
            )
            if not isinstance(parts[0][i][j], list)
            else parts[-1][i][j]
            for j in range(len(parts[0][i]))
        )

    return out, joined(0), joined(1), joined(2)


def new_output(nsave: int, nrec: int, n: int) -> np.ndarray:
    """Return an empty ``(nsave, nrec, n)`` array laid out as the kernel writes: run, save, variable.

    Each run writes one contiguous stream (its saves one after another), the
    fastest layout to fill; a variable's ``(time, run)`` block is a strided view.
    Slices of runs (``out[:, :, a:b]``) keep that layout, so chunks of an
    ensemble are written in place.
    """
    return np.empty((n, nsave, nrec)).transpose(1, 2, 0)


def _execute_kernel(
    prep: Prepared, method: Method, timing: Timing, *, locate: bool, run_offset: int, out: np.ndarray | None
) -> tuple[np.ndarray, tuple, tuple, tuple]:
    cm, n = prep.cm, prep.n
    nrec = len(prep.saved)
    k = kernel.get_kernel(cm, method, prep.record)
    shape = (timing.nsave, nrec, n)
    native = None
    if out is not None and out.shape == shape:
        t = out.transpose(2, 0, 1)
        native = t if t.flags.c_contiguous else None
    if native is None:  # (execute checked that the saves fit)
        native = np.empty((n, timing.nsave, nrec))
    P = np.empty((len(prep.P), n))
    for i, v in enumerate(prep.P):
        P[i] = v
    S0, SF, ACC, BAD = k.run(P, n, timing.start, timing.dt, timing.stop, timing.nsteps, timing.every, native)
    view = native.transpose(1, 2, 0)
    if out is not None and out.shape == shape and not np.shares_memory(out, native):
        out[...] = view
        view = out
    S0t = tuple(S0[:, i] for i in range(S0.shape[1]))
    nn = _non_negative(cm)
    if nn and (S0[:, nn] < 0.0).any():
        _check_initial(prep, S0t)
    if np.isnan(BAD).any():
        if locate:
            _locate(prep, method, timing, view, run_offset)
        raise SimulationError("a variable became NaN or infinite", file=prep.model.file)
    return (
        view,
        S0t,
        tuple(SF[:, i] for i in range(SF.shape[1])),
        tuple(ACC[:, i] for i in range(ACC.shape[1])),
    )


def _unpack(recs: list[bytes], nrec: int) -> np.ndarray:
    """Return the saves of a scalar run (the bytes of ``nrec`` doubles each) as a writable (saves, nrec, 1) array."""
    return np.frombuffer(bytearray().join(recs), dtype=float).reshape(len(recs), nrec, 1)


def _non_negative(cm: Any) -> list[int]:
    """Positions of the non-negative user stocks among the states (cached on the compiled model)."""
    got = cm._code.get("non-negative states")
    if got is None:
        got = [
            i
            for i, s in enumerate(cm.states)
            if cm.plan.nodes[s].role == STOCK and cm.plan.nodes[s].non_negative
        ]
        cm._code["non-negative states"] = got
    return got


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
                variable=cm.plan.display[name],
                run=int(runs[0]),
                time=prep.model.specs.start,
                file=prep.model.file,
            )


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
        step(
            _vector_params(one.P, 1),
            S0,
            (0.0,) * cm.n_acc,
            0,
            fine.nsteps,
            fine.start,
            fine.dt,
            fine.stop,
            1,
            full,
        )
    fbad = ~np.isfinite(full[:, :, 0])
    k = int(np.argmax(fbad.any(axis=1))) if fbad.any() else j * timing.every
    bad_vars = (
        {cm.recorded[i] for i in np.nonzero(fbad[k])[0]}
        if fbad.any()
        else {prep.saved[i] for i in np.nonzero(bad[j, :, run])[0]}
    )
    order = [s for s in cm.states if s in bad_vars] + [v for v in cm.plan.step_order if v in bad_vars]
    name = order[0] if order else sorted(bad_vars)[0]
    t = timing.start + k * timing.dt
    value = full[k, cm.recorded.index(name), 0] if fbad.any() else out[j, prep.saved.index(name), run]
    raise SimulationError(
        f"became {value} at time {t:g} (run {run + run_offset}); look for a division by zero, a LN or SQRT "
        "of a non-positive value, or exponential growth that overflows, in this variable's equation or "
        "its inputs",
        variable=cm.plan.display.get(name, name),
        time=t,
        run=run + run_offset,
        file=prep.model.file,
    )
