"""Monte Carlo ensembles: sample the declared uncertainty, run vectorised chunks, anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

import numpy as np

from ..errors import ModelError
from ..model.model import Model
from ..model.names import canonical
from .ensemble import expand_params, run_chunk, run_ensemble
from .methods import Method, get_method
from .results import Results
from .run import _check_params, _timing
from .sampling import check_memory, noise_seed, run_count, sample_constants

__all__ = ["monte_carlo", "run_chunk"]


def monte_carlo(
    model: Model,
    n: int,
    seed: int | np.random.Generator | None = None,
    scenario: Any = None,
    sampler: str = "lhs",
    executor: Executor | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    method: str | Method | None = None,
    samples: Mapping[str, np.ndarray] | None = None,
    variables: Any = None,
    policy: bool = False,
    spinup: bool | None = None,
) -> Results:
    """Run ``n`` futures sampled from the model's declared uncertainty.

    Every constant with a ``range`` is sampled (:func:`~trafficsys.engine.sample_constants`),
    each element of an arrayed constant on its own unless it is sampled
    ``as_one``, except policy levers (``role = "policy"``: choices, not
    uncertainties, as in :func:`~trafficsys.compare`), structural switches
    (``role = "structure"``) and those the ``scenario`` or ``params`` fix.  The runs are vectorised
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
        Runs per chunk; default: see :func:`~trafficsys.engine.ensemble.run_ensemble`
        (the one ensemble door, which this function goes through).
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
        Variables saved over time: default the stocks (what the result's
        ledger and fan charts need; every constant is kept per run anyway),
        ``"all"`` for every variable, or a list.  The memory a large ensemble
        needs is ``times x variables x n x 8`` bytes.

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
        Over ``(time, run)``; the sampled values are data variables over ``run``
        (an element of an arrayed constant as ``x[e]``);
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
    check_memory(
        8.0 * n * _timing(base, None, None, None, None).nsave,
        f"a Monte Carlo of {n:,} runs",
        "use fewer runs (n) or save less often (saveper)",
        model.file,
    )
    fixed = {canonical(k) for k in (params or {})}
    if not policy:  # levers and budgets are what a strategy chooses, not what the future holds
        fixed |= {canonical(c.name) for c in base.constants if c.role in ("policy", "structure")}
    from .spinup import spinup_spec

    spec = spinup_spec(model) if spinup is not False else None
    if spinup and spec is None:
        raise ModelError(
            "spinup=True needs a [metadata.spinup] table in the model (see trafficsys.engine.spinup)",
            file=model.file,
        )
    if spec is not None:
        fixed |= set(spec.derived())
    if scenario is not None:
        sc = (
            model.scenarios[scenario].overrides
            if isinstance(scenario, str)
            else (scenario.overrides if hasattr(scenario, "overrides") else dict(scenario))
        )
        fixed |= {canonical(k) for k in sc}
    if samples is None:
        samples = sample_constants(base, n, seed, sampler, exclude=sorted(fixed))
    else:
        samples = {k: np.asarray(v, dtype=float) for k, v in expand_params(base, samples).items()}
        for k, v in samples.items():
            if v.shape != (n,):
                raise ModelError(f"samples['{k}'] must have {n} values, got shape {v.shape}", variable=k)
    all_params: dict[str, Any] = dict(samples)
    for k, v in expand_params(base, params).items():
        if isinstance(v, str):
            all_params[k] = v
            continue
        a = np.asarray(v, dtype=float)
        if a.ndim == 1 and len(a) != n:
            raise ModelError(
                f"params['{k}'] has {len(a)} values; expected {n} (one per run) or a number", variable=k
            )
        all_params[k] = a
    if spec is not None:  # each future starts at the rest state of its own status quo
        from .spinup import spin_up

        all_params.update(spin_up(base, all_params, n, method=meth))
    if variables is None:
        variables = default_variables(base)
    elif variables == "all":
        variables = None
    r = run_ensemble(
        base,
        all_params,
        method=meth,
        variables=variables,
        n=n,
        executor=executor,
        chunk_size=chunk_size,
        progress=progress,
        desc=f"monte carlo {model.name}",
        seed=noise_seed(seed),
    )
    if scenario is not None:
        r.ds.attrs["scenario"] = (
            scenario if isinstance(scenario, str) else getattr(scenario, "name", "custom")
        )
    r.ds.attrs.update(
        {
            "sampler": sampler,
            "seed": seed if isinstance(seed, (int, type(None))) else "generator",
            "n": n,
            "sampled": ",".join(sorted(samples)),
        }
    )
    if r.ds.attrs["seed"] is None:
        r.ds.attrs["seed"] = "none"
    from .run import check_settings

    check_settings(
        model, scenario, {k: v for k, v in (params or {}).items() if np.ndim(v) == 0}, r, stacklevel=3
    )
    return r


def default_variables(model: Model) -> list[str] | None:
    """Return what an ensemble saves over time by default: the stocks (every constant is kept per run).

    ``variables="all"`` saves every variable; an analysis that needs more
    (loop dominance re-runs for the variables on its loops) asks for it.
    """
    from ..model.arrays import flatten, is_arrayed

    flat = flatten(model) if is_arrayed(model) else model
    return [canonical(s.name) for s in flat.stocks] or None
