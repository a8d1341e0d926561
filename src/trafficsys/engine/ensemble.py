"""The one ensemble door: many runs of one model, in chunks, in-process or on any executor.

Every ensemble of trafficsys goes through :func:`run_ensemble`: Monte Carlo
(:func:`~trafficsys.engine.monte_carlo`), strategy comparison
(:func:`~trafficsys.compare`), sensitivity analysis, calibration, and the
ensembles behind loop dominance.  So every one of them gets the same

* **names**: a parameter may be a scalar constant, an element of an arrayed
  constant (``"exit_rate[north]"``), or a whole arrayed constant (its values
  then set every element);
* **memory check and chunking**: the output is estimated before anything
  runs; runs are split into chunks whose working memory stays under a budget
  (default a quarter of the memory available), and an ensemble whose saved
  values could not be held is refused with a message saying how to save less;
* **executors**: chunks go to any :class:`concurrent.futures.Executor`
  (``ProcessPoolExecutor``, ``dask.distributed.Client(...).get_executor()``,
  Ray's...); nothing home-made distributes work;
* **progress**: a tqdm bar when stderr is a terminal and there are several chunks.

Each run's arithmetic does not depend on which chunk it is in, so the results
are the same, to the last bit, whatever the chunking or the executor.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from .. import limits
from ..errors import ModelError
from ..model.elements import Constant
from ..model.model import Model
from ..model.names import canonical
from .kernel import choose
from .methods import Method, get_method
from .prepare import seed_values
from .results import Results
from .run import Prepared, Timing, _check_dt, _check_params, _timing, execute, make_results, prepare
from .sampling import check_memory, noise_seed

__all__ = ["run_ensemble", "run_chunk", "expand_params", "memory_budget", "CHUNK_BYTES", "CHUNK_RUNS"]

#: memory a chunk's saved values may take when sent back by an executor, in bytes (chunk_size=None)
CHUNK_BYTES = 256 * 2**20
#: most runs per in-process chunk (chunk_size=None): its temporaries (one array per equation) stay a few MB
CHUNK_RUNS = 10_000


def memory_budget() -> float:
    """Working memory one chunk may use: a quarter of the memory available (256 MB when unknown)."""
    avail = limits.available_memory()
    return avail / 4 if avail else float(CHUNK_BYTES)


def run_chunk(
    model: Model,
    params: Mapping[str, Any],
    method: Method,
    timing: Timing,
    offset: int,
    record: tuple[str, ...] | None = None,
    out: np.ndarray | None = None,
    lim: limits.Limits | None = None,
    seed: int = 0,
    backend: str | None = None,
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Run one chunk of an ensemble (a module-level function, so executors can pickle it).

    In-process, ``out`` is the chunk's slice of the ensemble's array, written in place.
    ``lim`` are the caller's resource limits, applied in the worker; ``seed``
    the ensemble's seed of random functions (the chunk's first run is run ``offset``);
    ``backend`` the one chosen for the whole ensemble (so every chunk takes the same path).
    """
    with limits.applied(lim):
        return _run_chunk(model, params, method, timing, offset, record, out, seed, backend)


def _run_chunk(model, params, method, timing, offset, record, out, seed=0, backend=None):
    prep = prepare(model, None, params, seed=seed, first_run=offset)
    prep.record = record
    n = max((len(v) for v in params.values() if np.ndim(v) == 1), default=1)
    if prep.n != n:  # every array was given per run, so this only happens with no varied constant
        prep.n = n
        if prep.cm.plan.seeded:
            prep.P[-1] = seed_values(seed, offset, n)
    out, S0, S, A = execute(prep, method, timing, mode="vector", run_offset=offset, out=out, backend=backend)

    def full(xs):  # (pipeline-delay histories are lists: the ledger does not need them)
        return [
            np.zeros(n) if isinstance(x, list) else np.broadcast_to(np.asarray(x, dtype=float), (n,)).copy()
            for x in xs
        ]

    if out.shape[2] != n:
        out = np.broadcast_to(out, out.shape[:2] + (n,)).copy()
    return out, full(S0), full(S), full(A)


def expand_params(model: Model, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``params`` with every whole arrayed constant replaced by its elements (``x`` -> ``x[e1]``, ``x[e2]``...).

    A value given for an arrayed constant (a number, or one value per run)
    sets each of its elements; names are canonical.  Equations (text) are
    kept as given, for :meth:`~trafficsys.Model.with_scenario`.
    """
    out: dict[str, Any] = {}
    dims = getattr(model, "dimensions", {}) or {}
    for name, value in (params or {}).items():
        e = model[name] if name in model else None
        if isinstance(e, Constant) and e.dimensions and not isinstance(value, str):
            from ..model.arrays import element_names

            keys = element_names(
                canonical(e.name),
                tuple(canonical(d) for d in e.dimensions),
                {canonical(k): tuple(canonical(x) for x in v) for k, v in dims.items()},
            )
            for k in keys:
                out[k] = value
        else:
            out[name if isinstance(value, str) else canonical(name)] = value
    return out


def run_ensemble(
    model: Model,
    params: Mapping[str, Any] | None = None,
    *,
    scenario: Any = None,
    method: str | Method | None = None,
    variables: Sequence[str] | str | None = None,
    saveper: float | None = None,
    n: int | None = None,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    desc: str | None = None,
    seed: Any = None,
    backend: str | None = None,
) -> Results:
    """Run one model many times: a run per element of the ``params`` arrays.

    Parameters
    ----------
    model
        The model (arrayed or not).
    params
        Constant name -> a number (every run), an array of one value per run,
        or equation text (every run).  Names may be elements of arrayed
        constants (``"x[north]"``) or whole arrayed constants (every element).
    scenario
        A scenario applied first (name, :class:`~trafficsys.model.elements.Scenario` or mapping).
    method
        Integration method (default: the model's).
    variables
        Save only these variables over time (default: all).  The memory an
        ensemble needs is ``times x variables x runs x 8`` bytes.
    saveper
        Save period (default: the model's).
    n
        Number of runs; default: the length of the ``params`` arrays (1 when none).
    executor
        Any :class:`concurrent.futures.Executor`; None runs in-process.
    chunk_size
        Runs per chunk.  Default: in-process, as many as keep a chunk's working
        memory (one array per equation and stage) under :func:`memory_budget`,
        at most 10,000; with an executor, a quarter of the runs, at most as
        many as fit in 256 MB of saved values.
    progress
        Show a tqdm bar; default: only when stderr is a terminal and there are several chunks.
    desc
        Label of the progress bar.
    seed
        Seed of the random functions (see :func:`~trafficsys.engine.sampling.noise_seed`):
        run ``i`` draws the same numbers for the same ``seed`` in every scenario.
    backend
        ``"auto"``, ``"numba"`` or ``"numpy"`` (None: ``$TRAFFICSYS_BACKEND``, else
        auto), chosen once for the whole ensemble by its number of runs
        (:func:`~trafficsys.engine.kernel.choose`), whatever its chunks.

    Returns
    -------
    Results
        Over ``(time, run)``.

    Raises
    ------
    ModelError
        Unknown names, arrays of different lengths, or an ensemble whose saved
        values would not fit in memory (the message says how to save less).

    Examples
    --------
    >>> import numpy as np, trafficsys as ts
    >>> m = ts.Model("decay", stop=2, dt=0.5)
    >>> _ = m.constant("k", 0.1); _ = m.stock("x", 100, outflows=["loss"]); _ = m.flow("loss", "k * x")
    >>> run_ensemble(m, {"k": np.linspace(0.1, 0.5, 7)}, chunk_size=3).ds["x"].shape
    (5, 7)
    """
    if not isinstance(model, Model):
        raise ModelError(f"an ensemble needs a trafficsys Model, got {type(model).__name__}")
    _check_params(params)
    seed = noise_seed(seed)  # once: every chunk numbers its runs from the same base
    meth = get_method(method, default=model.specs.method)
    base = model.with_scenario(scenario)
    given = expand_params(base, params)
    equations = {k: v for k, v in given.items() if isinstance(v, str)}
    if equations:
        base = base.with_scenario(equations)
    arrays: dict[str, np.ndarray] = {}
    fixed: dict[str, Any] = {}
    for k, v in given.items():
        if isinstance(v, str):
            continue
        a = np.asarray(v, dtype=float) if not isinstance(v, np.ndarray) else v
        if a.ndim == 1 and a.size > 1 or (a.ndim == 1 and n is not None and n > 1):
            arrays[k] = a
        else:
            fixed[k] = v
    sizes = {len(a) for a in arrays.values()}
    if len(sizes) > 1 and n is None:
        raise ModelError(
            "params arrays must all have the same length (one value per run); got "
            + ", ".join(f"'{k}' {len(a)}" for k, a in arrays.items()),
            file=model.file,
        )
    if n is None:
        n = sizes.pop() if sizes else 1
    for k, a in arrays.items():
        if a.ndim != 1 or len(a) != n:
            raise ModelError(
                f"params['{k}'] has {a.size} values; expected {n} (one per run) or a number",
                variable=k,
                file=model.file,
            )
    timing = _timing(base, None, None, None, saveper)
    # before compiling anything: at least one variable is saved at every saved time, for every run
    check_memory(
        8.0 * n * timing.nsave,
        f"an ensemble of {n:,} runs",
        "use fewer runs or save less often (saveper)",
        model.file,
    )
    # one in-process preparation: validates, compiles, resolves names and timing
    whole = prepare(base, None, {**fixed, **{k: a[:1] for k, a in arrays.items()}})
    whole.record = record = whole.cm.resolve_record(variables)
    timing = _timing(whole.model, None, None, None, saveper)
    _check_dt(whole.cm, timing, model.file)
    nsaved = len(whole.saved)
    check_memory(
        8.0 * n * (timing.nsave * nsaved + 2 * len(whole.cm.states)),
        f"saving {nsaved} variables at {timing.nsave:,} times for {n:,} runs",
        "use fewer runs, save fewer variables (variables=[...]) or save less often (saveper)",
        model.file,
    )
    if chunk_size is None:
        if executor is None:
            # a chunk's temporaries: one array per equation and stage, plus its accumulators
            per_run = 8.0 * (len(whole.cm.plan.nodes) * (meth.stages + 1) + whole.cm.n_acc)
            chunk_size = int(min(n, CHUNK_RUNS, max(1, memory_budget() // per_run)))
        else:
            per_run = timing.nsave * max(1, nsaved) * 8
            chunk_size = max(1, min(-(-n // 4), CHUNK_BYTES // per_run))
    chunk_size = max(1, int(chunk_size))
    # the path is chosen for the whole ensemble, not per chunk; numba from the environment may still fall back
    chosen = choose(backend, whole.cm, meth, record, n)
    bounds = [(a, min(a + chunk_size, n)) for a in range(0, n, chunk_size)]
    if not arrays:  # nothing varies: still n identical runs
        c0 = whole.cm.constants[0] if whole.cm.constants else None
        if c0 is not None:
            arrays = {c0: np.full(n, float(np.asarray(whole.P[0]).reshape(-1)[0]))}
    per_chunk = [
        ({**fixed, **{k: np.ascontiguousarray(v[a:b]) for k, v in arrays.items()}}, a, b) for a, b in bounds
    ]

    show = progress if progress is not None else (len(per_chunk) > 1 and sys.stderr.isatty())
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, unit="run", desc=desc or f"ensemble {model.name}")
    out = np.empty((timing.nsave, nsaved, n))
    S0 = [np.empty(n) for _ in whole.cm.states]
    S = [np.empty(n) for _ in whole.cm.states]
    A = [np.empty(n) for _ in range(whole.cm.n_acc)]

    def store(res, a):
        o, s0, s, acc = res
        b = a + o.shape[2]
        if not np.shares_memory(o, out):
            out[:, :, a:b] = o
        for dst, src in ((S0, s0), (S, s), (A, acc)):
            for i, v in enumerate(src):
                dst[i][a:b] = v
        if bar is not None:
            bar.update(b - a)

    try:
        if executor is None:
            for p, lo, hi in per_chunk:
                store(
                    run_chunk(
                        whole.model, p, meth, timing, lo, record, out[:, :, lo:hi], seed=seed, backend=chosen
                    ),
                    lo,
                )
        else:
            lim = limits.current()  # the caller's limits travel with each chunk
            futures = [
                (
                    executor.submit(
                        run_chunk, whole.model, p, meth, timing, lo, record, None, lim, seed, chosen
                    ),
                    lo,
                )
                for p, lo, _ in per_chunk
            ]
            for f, lo in futures:
                store(f.result(), lo)
    finally:
        if bar is not None:
            bar.close()
    P_full: list[Any] = []
    varied = []
    for c, v in zip(whole.cm.constants, whole.P):
        if c in arrays and n == 1:  # one run: its constants are numbers, as simulate gives them
            P_full.append(float(arrays[c][0]))
        elif c in arrays:
            P_full.append(np.asarray(arrays[c], dtype=float))
            varied.append(c)
        else:
            P_full.append(v)
    sc = (
        whole.scenario
        if scenario is None
        else (scenario if isinstance(scenario, str) else getattr(scenario, "name", "custom"))
    )
    prep = Prepared(whole.model, whole.cm, P_full, n, varied, sc, record)
    return make_results(prep, meth, timing, out, tuple(S0), tuple(S), tuple(A))
