"""Monte Carlo ensembles: sample the declared uncertainty, run vectorised chunks, anywhere."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

import numpy as np

from .. import limits
from ..errors import ModelError
from ..model.model import Model
from ..model.names import canonical
from .methods import Method, get_method
from .results import Results
from .sampling import check_memory, run_count, sample_constants
from .simulate import Prepared, Timing, _check_dt, _check_params, _timing, execute, make_results, prepare

__all__ = ["monte_carlo", "run_chunk"]

#: memory a chunk's saved values may take when sent back by an executor, in bytes (chunk_size=None)
CHUNK_BYTES = 256 * 2**20
#: runs per in-process chunk (chunk_size=None): its temporaries (one array per equation) stay a few MB
CHUNK_RUNS = 10_000


def run_chunk(model: Model, params: Mapping[str, Any], method: Method, timing: Timing,
              offset: int, record: tuple[str, ...] | None = None, out: np.ndarray | None = None,
              lim: limits.Limits | None = None
              ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Run one chunk of an ensemble (a module-level function, so executors can pickle it).

    In-process, ``out`` is the chunk's slice of the ensemble's array, written in place.
    ``lim`` are the caller's resource limits, applied in the worker.
    """
    with limits.applied(lim):
        return _run_chunk(model, params, method, timing, offset, record, out)


def _run_chunk(model, params, method, timing, offset, record, out):
    prep = prepare(model, None, params)
    prep.record = record
    n = len(next(iter(params.values()))) if params else 1
    if prep.n != n:  # every array was given per run, so this only happens with no varied constant
        prep.n = n
    out, S0, S, A = execute(prep, method, timing, mode="vector", run_offset=offset, out=out)

    def full(xs):  # (pipeline-delay histories are lists: the ledger does not need them)
        return [np.zeros(n) if isinstance(x, list) else np.broadcast_to(np.asarray(x, dtype=float), (n,)).copy()
                for x in xs]
    if out.shape[2] != n:
        out = np.broadcast_to(out, out.shape[:2] + (n,)).copy()
    return out, full(S0), full(S), full(A)


def monte_carlo(model: Model, n: int, seed: int | np.random.Generator | None = None, scenario: Any = None,
                sampler: str = "lhs", executor: Executor | None = None, chunk_size: int | None = None,
                progress: bool | None = None, params: Mapping[str, Any] | None = None, *,
                method: str | Method | None = None, samples: Mapping[str, np.ndarray] | None = None,
                variables: Any = None, policy: bool = False, spinup: bool | None = None) -> Results:
    """Run ``n`` futures sampled from the model's declared uncertainty.

    Every constant with a ``range`` is sampled (:func:`~trafficsys.engine.sample_constants`),
    except policy levers (``role = "policy"``: choices, not uncertainties, as in
    :func:`~trafficsys.compare`), structural switches (``role = "structure"``) and those the ``scenario`` or ``params`` fix.  The runs are vectorised
    in chunks whose saved values stay within a memory budget, and the chunks
    can be spread over any :class:`concurrent.futures.Executor`.

    Parameters
    ----------
    model
        The model.
    n
        Number of runs.
    seed
        Seed (int, Generator or None).  Same seed, same numbers, whatever the
        chunking or the executor: the whole sample is drawn first, and each run's
        arithmetic does not depend on which chunk it is in.
    scenario
        As for :func:`~trafficsys.engine.simulate`.
    sampler
        ``"lhs"`` (default), ``"random"`` or ``"sobol"``.
    executor
        Any ``concurrent.futures.Executor`` (``ProcessPoolExecutor``,
        ``dask.distributed.Client(...).get_executor()``...); None runs in-process.
    chunk_size
        Runs per chunk.  Default: 10,000 in-process (the saved values are
        written straight into the result; a chunk's temporaries take about
        ``equations x chunk x 8`` bytes); with an executor, a quarter of the
        runs, at most as many as fit in 256 MB of saved values.
    progress
        Show a tqdm bar; default: only when stderr is a terminal and there are several chunks.
    params
        Fixed overrides (numbers, arrays of length ``n``, or equations), applied to every run.
    method
        Integration method.
    samples
        Use this sample (constant -> array of ``n``) instead of drawing one
        (common random numbers across strategies).
    variables
        Save only these variables over time (default: all); the memory a
        large ensemble needs is ``times x variables x n x 8`` bytes.
    policy
        Also sample the policy levers (``role = "policy"``) over their ranges;
        default False.
    spinup
        Start each future at the rest state of its own status quo
        (:mod:`~trafficsys.engine.spinup`); default: when the model's metadata
        asks for it.  The initial-value constants it sets are then not sampled.

    Returns
    -------
    Results
        Over ``(time, run)``; the sampled values are data variables over ``run``;
        ``ds.attrs`` records ``seed``, ``sampler`` and ``n``.

    Examples
    --------
    >>> import trafficsys as ts
    >>> m = ts.Model("decay", stop=5, dt=0.5)
    >>> _ = m.constant("k", 0.1, range=(0.05, 0.2))
    >>> _ = m.stock("x", initial=100, outflows=["loss"])
    >>> _ = m.flow("loss", "k * x")
    >>> mc = ts.monte_carlo(m, n=100, seed=1)
    >>> mc.ds["x"].shape
    (11, 100)
    """
    if not isinstance(model, Model):
        raise ModelError(f"monte_carlo needs a trafficsys Model, got {type(model).__name__}")
    n = run_count(n)
    _check_params(params)
    meth = get_method(method, default=model.specs.method)
    base = model.with_scenario(scenario)
    # before drawing anything: at least one variable is saved at every saved time, for every run
    check_memory(8.0 * n * _timing(base, None, None, None, None).nsave,
                 f"a Monte Carlo of {n:,} runs", "use fewer runs (n) or save less often (saveper)", model.file)
    fixed = {canonical(k) for k in (params or {})}
    if not policy:  # levers and budgets are what a strategy chooses, not what the future holds
        fixed |= {canonical(c.name) for c in base.constants if c.role in ("policy", "structure")}
    from .spinup import spinup_spec

    spec = spinup_spec(model) if spinup is not False else None
    if spinup and spec is None:
        raise ModelError("spinup=True needs a [metadata.spinup] table in the model (see trafficsys.engine.spinup)",
                         file=model.file)
    if spec is not None:
        fixed |= set(spec.derived())
    if scenario is not None:
        sc = model.scenarios[scenario].overrides if isinstance(scenario, str) else (
            scenario.overrides if hasattr(scenario, "overrides") else dict(scenario))
        fixed |= {canonical(k) for k in sc}
    if samples is None:
        samples = sample_constants(base, n, seed, sampler, exclude=sorted(fixed))
    else:
        samples = {canonical(k): np.asarray(v, dtype=float) for k, v in samples.items()}
        for k, v in samples.items():
            if v.shape != (n,):
                raise ModelError(f"samples['{k}'] must have {n} values, got shape {v.shape}", variable=k)
    all_params: dict[str, Any] = dict(samples)
    equations = {k: v for k, v in (params or {}).items() if isinstance(v, str)}
    for k, v in (params or {}).items():
        if not isinstance(v, str):
            a = np.asarray(v, dtype=float)
            all_params[canonical(k)] = np.full(n, float(a)) if a.ndim == 0 else a
    if equations:
        base = base.with_scenario(equations)
    for k, v in list(all_params.items()):
        if np.ndim(v) == 1 and len(v) != n:
            raise ModelError(f"params['{k}'] has {len(v)} values; expected {n} (one per run) or a number",
                             variable=k)
    if spec is not None:  # each future starts at the rest state of its own status quo
        from .spinup import spin_up

        all_params.update(spin_up(base, all_params, n, method=meth))
    # one in-process preparation: validates, compiles, resolves names and timing
    whole = prepare(base, None, {k: np.asarray(v)[:1] for k, v in all_params.items()})
    whole.record = record = whole.cm.resolve_record(variables)
    timing = _timing(whole.model, None, None, None, None)
    _check_dt(whole.cm, timing, model.file)
    per_run = timing.nsave * max(1, len(whole.saved)) * 8
    if chunk_size is None:
        if executor is None:
            chunk_size = min(n, CHUNK_RUNS)
        else:
            chunk_size = max(1, min(-(-n // 4), CHUNK_BYTES // per_run))
    chunk_size = max(1, int(chunk_size))
    bounds = [(a, min(a + chunk_size, n)) for a in range(0, n, chunk_size)]
    arrays = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)) for k, v in all_params.items()}
    if not arrays:  # nothing uncertain: still n identical runs
        c0 = whole.cm.constants[0] if whole.cm.constants else None
        if c0 is not None:
            arrays = {c0: np.full(n, float(whole.P[0]))}
    jobs = [({k: np.ascontiguousarray(v[a:b]) for k, v in arrays.items()}, a) for a, b in bounds]

    show = progress if progress is not None else (len(jobs) > 1 and sys.stderr.isatty())
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, unit="run", desc=f"monte carlo {model.name}")
    check_memory(8.0 * n * (timing.nsave * len(whole.saved) + 2 * len(whole.cm.states)),
                 f"saving {len(whole.saved)} variables at {timing.nsave:,} times for {n:,} runs",
                 "use fewer runs (n), save fewer variables (variables=[...]) or save less often (saveper)",
                 model.file)
    out = np.empty((timing.nsave, len(whole.saved), n))
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
            for p, a in jobs:
                size = len(next(iter(p.values())))
                store(run_chunk(whole.model, p, meth, timing, a, record, out[:, :, a:a + size]), a)
        else:
            lim = limits.current()  # the caller's limits travel with each chunk
            futures = [(executor.submit(run_chunk, whole.model, p, meth, timing, a, record, None, lim), a)
                       for p, a in jobs]
            for f, a in futures:
                store(f.result(), a)
    finally:
        if bar is not None:
            bar.close()
    P_full = []
    varied = []
    for c, v in zip(whole.cm.constants, whole.P):
        if c in arrays:
            P_full.append(np.asarray(arrays[c], dtype=float))
            varied.append(c)
        else:
            P_full.append(v)
    prep = Prepared(whole.model, whole.cm, P_full, n, varied, whole.scenario if scenario is None else (
        scenario if isinstance(scenario, str) else getattr(scenario, "name", "custom")), record)
    r = make_results(prep, meth, timing, out, tuple(S0), tuple(S), tuple(A))
    r.ds.attrs.update({"sampler": sampler, "seed": seed if isinstance(seed, (int, type(None))) else "generator",
                       "n": n, "sampled": ",".join(sorted(samples))})
    if r.ds.attrs["seed"] is None:
        r.ds.attrs["seed"] = "none"
    from .simulate import check_settings

    check_settings(model, scenario, {k: v for k, v in (params or {}).items() if np.ndim(v) == 0}, r, stacklevel=3)
    return r
