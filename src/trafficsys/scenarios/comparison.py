"""Compare strategies under uncertainty with common random numbers.

:func:`compare` draws one Monte Carlo sample of a model's uncertain constants
and runs every strategy on that same sample, so that sample *i* is the same
possible world in every strategy and the paired differences measure the
strategies, not the luck of the draw.  :class:`Comparison` reports each
indicator's median and interval, the probability that each strategy beats each
other, the uncertain constants that decide it, and says plainly when a ranking
is not robust.

References
----------
Lempert, R. J., Popper, S. W. & Bankes, S. C. (2003). *Shaping the Next One
Hundred Years: New Methods for Quantitative, Long-Term Policy Analysis*. RAND
(robust decision making: which futures make a strategy fail).
Kővári, A. & Pruyt, E. (2014). Prostitution and human trafficking: a model-based
exploration and policy analysis. *IJSDA* 3(4) (exploratory modelling of a
trafficking model under deep uncertainty).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..model.elements import Scenario
from ..model.names import canonical, suggest
from .metrics import Metric, comparison_defaults, indicators

__all__ = ["compare", "Comparison", "uncertain_constants", "ROBUST", "INTERVAL"]

#: a ranking is called robust when the best strategy beats each other one in at least this share of futures
ROBUST = 0.9
#: the reported interval (5th and 95th percentiles)
INTERVAL = (5.0, 95.0)


def uncertain_constants(model, scenarios: Sequence[str] = ()) -> list[str]:
    """Return the constants :func:`compare` samples.

    Every constant with a range of non-zero width, except policy levers (role
    ``"policy"``), structural switches (role ``"structure"``: set, not sampled)
    and the constants any of ``scenarios`` sets: a strategy's levers are
    choices, not uncertainties; nor the initial values a model's spin-up
    derives from each future (:mod:`trafficsys.engine.spinup`).  The elements of an arrayed
    constant are named one by one (``x[e]``), unless it is sampled ``as_one``.
    """
    return [inp.name for inp in _uncertain_inputs(model, scenarios)]


def _uncertain_inputs(model, scenarios: Sequence[str] = (), names: Sequence[str] | None = None):
    from ..engine.sampling import uncertain_inputs
    from ..engine.spinup import spinup_spec

    spec = spinup_spec(model)
    fixed: set[str] = set(spec.derived()) if spec is not None else set()
    for s in scenarios:
        if s in model.scenarios:
            fixed |= {canonical(k) for k in model.scenarios[s].overrides}
    if names is not None:
        return uncertain_inputs(model, names)
    skip = [canonical(c.name) for c in model.constants if c.role in ("policy", "structure")] + sorted(fixed)
    return uncertain_inputs(model, exclude=skip, nonzero_width=True)


def _named_strategies(model, scenarios):
    """Turn settings given as mappings or Scenario objects into named strategies of a copy of the model."""
    if scenarios is None:
        return model, None
    items = list(scenarios.items()) if isinstance(scenarios, Mapping) else [(None, s) for s in scenarios]
    if all(isinstance(s, str) for _, s in items) and not isinstance(scenarios, Mapping):
        return model, scenarios
    model = model.copy()
    names: list[str] = []
    custom = 0
    for key, s in items:
        if s is None or isinstance(s, str):
            name = str(key if s is None else s)
            if key is not None and s is not None and s != key and s in model.scenarios:
                # {"mine": "survivor_led"}: a strategy of the model under another name
                model.scenarios[str(key)] = Scenario(str(key), model.scenarios[s].set, model.scenarios[s].doc)
                name = str(key)
            names.append(name)
            continue
        if isinstance(s, Scenario):
            sc = s if key is None else Scenario(str(key), s.set, s.doc)
        elif isinstance(s, Mapping):
            if key is None:
                custom += 1
                key = f"custom_{custom}"
            sc = Scenario(str(key), tuple(s.items()), doc="settings given to compare")
        else:
            raise ModelError(
                f"a strategy must be a name, a Scenario or a mapping of settings, got {type(s).__name__}",
                file=model.file,
            )
        for k, _ in sc.set:
            if k not in model:
                raise ModelError(
                    f"strategy '{sc.name}' sets '{k}', which the model does not define"
                    f"{suggest(k, model.names())}",
                    file=model.file,
                    variable=k,
                )
        model.scenarios[sc.name] = sc
        names.append(sc.name)
    return model, names


def compare(
    model,
    scenarios: Sequence[str] | None = None,
    metrics: Sequence[str | Metric] | None = None,
    n: int = 1000,
    seed: int | np.random.Generator | None = None,
    sampler: str = "lhs",
    *,
    reference: str | None = None,
    primary: str | None = None,
    uncertain: Sequence[str] | None = None,
    method: str | None = None,
    saveper: float = 1.0,
    trajectories: Sequence[str] | str | None = None,
    executor: Any = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    settings: Mapping[str, float | str] | None = None,
    case: str | None = None,
) -> Comparison:
    """Run every strategy over the same Monte Carlo sample and compare their indicators.

    Parameters
    ----------
    model
        A :class:`~trafficsys.Model` with the strategies as named scenarios
        (``ts.load_default()`` merges ``models/strategies.toml``).
    scenarios
        The strategies to compare; default: all of ``model.scenarios``.  Each
        is a strategy's name, a :class:`~trafficsys.Scenario`, or a mapping of
        settings (constant -> number or equation), named ``custom_1``,
        ``custom_2``...; a mapping of name -> settings (or -> None for a
        strategy of the model) names them.  Levers a strategy leaves unset keep
        the model's values.  The ``reference`` is added first when the model has it.
    metrics
        Names of the indicators the model declares (``[metadata.indicators]``,
        read by :func:`~trafficsys.scenarios.metrics.indicators`) or
        :class:`~trafficsys.scenarios.metrics.Metric` objects; default: every
        indicator the model declares.
    n
        Number of sampled futures (Monte Carlo runs per strategy).
    seed
        Seed (int, Generator or None) of the sample.
    sampler
        ``"lhs"`` (default), ``"random"`` or ``"sobol"``.
    reference
        The strategy the others are measured against (paired differences, and
        indicators such as a cost per harm averted); default: the model's
        ``[metadata.compare] reference``, else the first strategy.
    primary
        The metric the headline ranking, the pairwise probabilities and the
        deciding constants are about (all are available for any metric);
        default: the model's ``[metadata.compare] primary``, else the first metric.
    uncertain
        Constants to sample; default :func:`uncertain_constants`.
    method
        Integration method (default: the model's).
    saveper
        Save period of the trajectories kept for plots.
    trajectories
        Variables whose time paths are kept (for fan charts); ``"all"`` keeps
        every variable's; default: the model's ``[metadata.compare]
        trajectories``, else its stocks.  Only these and the metrics' variables
        are saved while the strategies run.
    executor, chunk_size, progress
        As for :func:`~trafficsys.engine.ensemble.run_ensemble`, the ensemble
        door every strategy's runs go through.

    settings
        A what-if applied under every strategy (constant -> number or
        equation); those constants are then not sampled.  A strategy that sets
        one itself keeps its own value (said in :attr:`Comparison.notes`).
    case
        A sensitivity case the model ships in its metadata (``[metadata.cases.NAME]``
        with a ``settings`` table and a ``doc``), applied as ``settings``.

    Returns
    -------
    Comparison

    Raises
    ------
    ModelError
        An unknown strategy or metric, fewer than two strategies, or no
        metrics given for a model that declares no indicators.

    Notes
    -----
    Common random numbers: the sampled constants are drawn once and the same
    arrays are passed to every strategy, so run *i* of every strategy sees the
    same values (:attr:`Comparison.samples`).  The probability that A beats B
    is the share of runs in which A's value is better than B's in that same
    run (ties count one half).

    Examples
    --------
    >>> import trafficsys as ts
    >>> m = ts.load_default()
    >>> c = ts.compare(m, ["baseline", "survivor_led"], n=20, seed=1)
    >>> c.samples.shape[0]
    20
    """
    from ..engine.sampling import run_count

    if isinstance(scenarios, str):  # one name, not its letters
        scenarios = [scenarios]
    model, scenarios = _named_strategies(model, scenarios)
    declared = comparison_defaults(model)
    reference = declared.get("reference") if reference is None else reference
    primary = declared.get("primary") if primary is None else primary
    if trajectories is None:
        trajectories = declared.get("trajectories") or [s.name for s in model.stocks]
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    names = list(model.scenarios) if scenarios is None else [str(s) for s in scenarios]
    for s in names:
        if s not in model.scenarios:
            raise ModelError(
                f"no strategy '{s}'{suggest(s, model.scenarios)}; defined: "
                f"{', '.join(model.scenarios) or 'none'}",
                file=model.file,
            )
    if reference is not None and reference in model.scenarios and reference not in names:
        names.insert(0, reference)
    if reference is None or reference not in names:
        reference = names[0] if names else None
    names = list(dict.fromkeys(names))
    if len(names) < 2:
        raise ModelError("compare needs at least two strategies", file=model.file)
    n = run_count(n)
    if n < 2:
        raise ModelError(f"compare needs n >= 2 sampled futures, got {n}", file=model.file)

    available = indicators(model)
    if metrics is None and not available:
        raise ModelError(
            "the model declares no indicators to compare the strategies on: pass metrics=[Metric(...)] "
            "(trafficsys.scenarios.Metric), or declare them in the model file's [metadata.indicators] "
            "(see trafficsys.scenarios.metrics)",
            file=model.file,
        )
    chosen: list[Metric] = []
    for mt in list(available) if metrics is None else metrics:
        if isinstance(mt, Metric):
            chosen.append(mt)
            continue
        if mt not in available:
            raise ModelError(
                f"no metric '{mt}'{suggest(mt, available)}; the model declares: "
                f"{', '.join(available) or 'none ([metadata.indicators])'}",
                file=model.file,
            )
        chosen.append(available[mt])
    chosen = [mt for mt in chosen if all(v in model for v in mt.needs)]
    if not chosen:
        raise ModelError(
            "none of the requested metrics applies to this model (their variables are missing)",
            file=model.file,
        )
    if primary not in [mt.name for mt in chosen]:
        primary = chosen[0].name

    from ..engine.ensemble import run_ensemble
    from ..engine.sampling import check_memory, input_params, sample_inputs

    model, what_if, notes = _what_if(model, names, settings, case)
    inputs = _uncertain_inputs(model, names, None if uncertain is None else list(uncertain))
    inputs = [inp for inp in inputs if inp.name not in {canonical(k) for k in what_if}]
    nsave = int((model.specs.stop - model.specs.start) / saveper) + 1 if saveper > 0 else 1
    needed = sorted({v for mt in chosen for v in mt.needs})
    if isinstance(trajectories, str) and trajectories == "all":
        keep = None
    else:
        keep = [
            canonical(v)
            for v in ([trajectories] if isinstance(trajectories, str) else trajectories)
            if v in model
        ]
    constants = {canonical(c.name) for c in model.constants}
    saved = (
        None
        if keep is None
        else sorted({canonical(v) for v in needed if canonical(v) not in constants} | set(keep))
    )
    check_memory(
        8.0 * n * (len(inputs) + nsave * (len(model) if saved is None else len(saved) + 1)),
        f"comparing strategies over {n:,} futures",
        "use fewer futures (n)",
        model.file,
    )
    X = sample_inputs(model, inputs, n, seed, sampler)
    samples = input_params(inputs, X)
    from ..engine.run import check_settings
    from ..engine.spinup import spin_up

    # each future starts at the rest state of its own status quo, when the model asks (its metadata)
    started = {**samples, **spin_up(model, samples, n, method=method)} if samples else {}

    from ..engine.sampling import noise_seed

    noise = noise_seed(seed)  # once: every strategy's run i draws the same random numbers
    finals: dict[str, dict[str, np.ndarray]] = {}
    paths: dict[str, dict[str, np.ndarray]] = {}
    residuals: dict[str, float] = {}
    time = None
    for s in names:
        r = run_ensemble(
            model,
            started or None,
            scenario=s,
            method=method,
            saveper=saveper,
            n=n,
            variables=saved if saved else None,
            executor=executor,
            chunk_size=chunk_size,
            progress=progress,
            desc=f"compare {s}",
            seed=noise,
        )
        check_settings(model, s, None, r, stacklevel=3)
        ds = r.ds
        finals[s] = {
            v: np.broadcast_to(
                ds[canonical(v)].values[-1] if "time" in ds[canonical(v)].dims else ds[canonical(v)].values,
                (n,),
            ).astype(float)
            for v in needed
        }
        paths[s] = {
            v: np.broadcast_to(ds[v].values, (ds.sizes["time"], n)).astype(float)
            for v in (keep if keep is not None else list(r.variables))
        }
        residuals[s] = _people_residual(model, r)
        time = np.asarray(ds["time"].values, dtype=float)

    values: dict[str, dict[str, np.ndarray]] = {}
    for mt in chosen:
        ref = finals.get(reference) if reference is not None else None
        values[mt.name] = {
            s: np.asarray(mt.compute(finals[s], None if s == reference else ref), dtype=float) for s in names
        }
    sample_frame = pd.DataFrame(X, columns=[canonical(inp.name) for inp in inputs])
    sample_frame.index.name = "run"
    return Comparison(
        model_name=model.name,
        strategies=names,
        reference=reference,
        primary=primary,
        metrics={mt.name: mt for mt in chosen},
        values=values,
        samples=sample_frame,
        n=int(n),
        seed=seed if isinstance(seed, (int, type(None))) else None,
        sampler=sampler,
        time=time,
        trajectories=paths,
        ledger_residual=residuals,
        docs={s: model.scenarios[s].doc for s in names},
        notes=notes,
        panels=[str(x) for x in declared.get("figure", [])],
    )


def _what_if(model, names: list[str], settings, case):
    """Apply a case's and the caller's settings under every strategy; return the notes the comparison prints."""
    from ..model.settings import check_ranges

    notes: list[str] = []
    what_if: dict[str, float | str] = {}
    cases = model.metadata.get("cases") if isinstance(model.metadata.get("cases"), dict) else {}
    if case is not None:
        if case not in cases:
            raise ModelError(
                f"no sensitivity case '{case}'; the model defines: {', '.join(cases) or 'none'}",
                file=model.file,
            )
        what_if.update(dict(cases[case].get("settings", {})))
        notes.append(
            f"sensitivity case '{case}': {' '.join(str(cases[case].get('doc', '')).split())} ("
            + ", ".join(f"{k} = {v}" for k, v in what_if.items())
            + ")"
        )
    if settings:
        what_if.update(dict(settings))
        notes.append("what-if under every strategy: " + ", ".join(f"{k} = {v}" for k, v in settings.items()))
    for k in what_if:
        if k not in model:
            raise ModelError(
                f"settings: the model does not define '{k}'{suggest(k, model.names())}",
                file=model.file,
                variable=k,
            )
        by = [s for s in names if canonical(k) in {canonical(x) for x, _ in model.scenarios[s].set}]
        if by:
            notes.append(f"{k}: set by {', '.join(by)} themselves, whose own values win there")
    if what_if:
        check_ranges(model, what_if, "settings", stacklevel=4)
        model = model.with_scenario(what_if)
    unverified = model.metadata.get("unverified")
    if isinstance(unverified, dict) and unverified.get("constants"):
        names_u = [str(x) for x in unverified["constants"]]
        text = " ".join(str(unverified.get("note", "")).split())
        at_zero = all(isinstance(what_if.get(x), (int, float)) for x in names_u)
        if not at_zero:
            notes.append(
                f"{len(names_u)} effect sizes no source measures enter this comparison, each sampled "
                f"from zero: {', '.join(names_u)}. {text}".strip()
            )
    return model, what_if, notes


def _people_residual(model, r) -> float:
    """Largest relative conservation residual over the model's person stocks (0 if no ledger)."""
    led = getattr(r, "ledger", None)
    if led is None or "residual" not in getattr(led, "data_vars", {}):
        return float("nan")
    raw = led.variables  # numpy rows by position: xarray's label lookups import dask when it is installed
    row = {str(k): i for i, k in enumerate(raw["stock"].values)}
    residual, initial = np.asarray(raw["residual"].values), np.asarray(raw["initial"].values)
    worst = 0.0
    for st in model.stocks:
        key = canonical(st.name)
        if not st.non_negative or (st.units or "").strip().lower() not in ("person", "people", "persons"):
            continue
        if key not in row:
            continue
        res = np.abs(residual[row[key]])
        scale = np.maximum(np.abs(initial[row[key]]), 1.0)
        worst = max(worst, float(np.max(res / scale)))
    return worst


@dataclass
class Comparison:
    """The result of :func:`compare`.

    Attributes
    ----------
    strategies
        Strategy names, the reference first.
    reference
        The strategy relative measures are taken against.
    primary
        The metric of the headline ranking.
    metrics
        Name -> :class:`~trafficsys.scenarios.metrics.Metric`.
    values
        Metric -> strategy -> array of ``n`` values (run *i* is the same sampled
        future in every strategy).
    samples
        The sampled uncertain constants, one row per run (the same for every strategy).
    time, trajectories
        Saved times and strategy -> variable -> ``(time, run)`` arrays.
    ledger_residual
        Strategy -> largest relative conservation residual of the person stocks.
    """

    model_name: str
    strategies: list[str]
    reference: str | None
    primary: str
    metrics: dict[str, Metric]
    values: dict[str, dict[str, np.ndarray]]
    samples: pd.DataFrame
    n: int
    seed: int | None = None
    sampler: str = "lhs"
    time: np.ndarray | None = None
    trajectories: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    ledger_residual: dict[str, float] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)
    #: what the reader must know to read the comparison: what-ifs, sensitivity case, unverified effects
    notes: list[str] = field(default_factory=list)
    #: the metrics the comparison figure shows first (the model's ``[metadata.compare] figure``)
    panels: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- numbers
    def frame(self, metric: str | None = None) -> pd.DataFrame:
        """One metric's values: a DataFrame with one row per run and one column per strategy."""
        metric = self._metric(metric)
        df = pd.DataFrame({s: self.values[metric][s] for s in self.strategies})
        df.index.name = "run"
        return df

    def to_pandas(self) -> pd.DataFrame:
        """Tidy summary: one row per (metric, strategy) with median, interval and label."""
        lo_q, hi_q = INTERVAL
        rows = []
        for name, mt in self.metrics.items():
            for s in self.strategies:
                v = self.values[name][s]
                finite = v[~np.isnan(v)]
                if finite.size == 0:
                    med = lo = hi = np.nan
                else:
                    # Infinite values (no exploitation-year averted) cannot be interpolated.
                    if np.all(np.isfinite(finite)):
                        med, lo, hi = np.percentile(finite, [50, lo_q, hi_q])
                    else:
                        med, lo, hi = np.percentile(finite, [50, lo_q, hi_q], method="nearest")
                rows.append(
                    {
                        "metric": name,
                        "strategy": s,
                        "median": med,
                        f"p{lo_q:g}": lo,
                        f"p{hi_q:g}": hi,
                        "mean": float(np.mean(finite))
                        if finite.size and np.all(np.isfinite(finite))
                        else np.nan,
                        "units": mt.units,
                        "better": mt.better,
                        "label": mt.label,
                    }
                )
        return pd.DataFrame(rows)

    @property
    def table(self) -> pd.DataFrame:
        """Medians and intervals, indexed by (metric, strategy)."""
        return self.to_pandas().set_index(["metric", "strategy"])

    def prob_beats(self, metric: str | None = None) -> pd.DataFrame:
        """P(row strategy beats column strategy) on ``metric``, over the paired runs.

        Ties count one half; runs where either value is undefined (NaN) are left
        out (the reference has no cost per harm averted against itself).
        """
        metric = self._metric(metric)
        mt = self.metrics[metric]
        out = pd.DataFrame(np.nan, index=self.strategies, columns=self.strategies)
        for a in self.strategies:
            for b in self.strategies:
                if a == b:
                    continue
                out.loc[a, b] = _p_beats(self.values[metric][a], self.values[metric][b], mt)
        out.index.name = "P(row beats column)"
        return out

    def ranking(self, metric: str | None = None) -> list[str]:
        """Strategies from best to worst by median (strategies without values last)."""
        metric = self._metric(metric)
        mt = self.metrics[metric]

        def key(s: str) -> float:
            v = self.values[metric][s]
            v = v[~np.isnan(v)]
            if v.size == 0:
                return np.inf
            return -mt.sign() * float(np.median(v))

        return sorted(self.strategies, key=key)

    def drivers(self, a: str, b: str, metric: str | None = None, top: int | None = 5) -> pd.DataFrame:
        """Which uncertain constants decide whether ``a`` beats ``b``.

        For the paired difference (positive where ``a`` is better), each
        sampled constant's Spearman rank correlation with it, and the share of
        futures in which ``a`` wins when the constant is in its lowest and in
        its highest quarter.  Sorted by the absolute correlation.  The quarters
        show the *regions* of the uncertain constants where ``a`` comes out
        ahead.
        """
        from scipy.stats import rankdata

        metric = self._metric(metric)
        mt = self.metrics[metric]
        self._strategy(a)
        self._strategy(b)
        if a == b:
            raise ModelError(f"drivers compares two different strategies; got '{a}' twice")
        va, vb = self.values[metric][a], self.values[metric][b]
        ok = ~(np.isnan(va) | np.isnan(vb))
        if self.samples.empty or ok.sum() < 3:
            return pd.DataFrame(columns=["spearman", "win_low_quarter", "win_high_quarter"])
        with np.errstate(invalid="ignore"):
            d = mt.sign() * (va - vb)
        d = np.where(np.isnan(d) & ok, 0.0, d)[ok]  # inf - inf: a tie
        wins = (_better(va, vb, mt) + 0.5 * (va == vb))[ok]
        x = self.samples.to_numpy()[ok]
        rd = rankdata(d)
        rx = rankdata(x, axis=0)
        rd = (rd - rd.mean()) / (rd.std() or 1.0)
        sx = rx.std(axis=0)
        rx = (rx - rx.mean(axis=0)) / np.where(sx > 0, sx, 1.0)
        rho = (rx * rd[:, None]).mean(axis=0)
        q1, q3 = np.percentile(x, [25, 75], axis=0)
        low = np.array([wins[x[:, j] <= q1[j]].mean() for j in range(x.shape[1])])
        high = np.array([wins[x[:, j] >= q3[j]].mean() for j in range(x.shape[1])])
        df = pd.DataFrame(
            {"spearman": rho, "win_low_quarter": low, "win_high_quarter": high}, index=self.samples.columns
        )
        df.index.name = "constant"
        df = df.reindex(df["spearman"].abs().sort_values(ascending=False).index)
        return df if top is None else df.head(top)

    def paired_difference(self, metric: str | None = None) -> pd.DataFrame:
        """Each strategy minus the reference in the same sampled future: median and interval.

        Positive values in ``improvement`` are better (the sign follows the
        metric's ``better``); the spread the strategies share cancels out.
        """
        metric = self._metric(metric)
        mt = self.metrics[metric]
        rows: dict[str, dict[str, float]] = {}
        if self.reference is None:
            return pd.DataFrame()
        ref = self.values[metric][self.reference]
        for s in self.strategies:
            if s == self.reference:
                continue
            with np.errstate(invalid="ignore"):
                d = mt.sign() * (self.values[metric][s] - ref)
            d = d[np.isfinite(d)]
            if d.size == 0:
                continue
            med, lo, hi = np.percentile(d, [50, *INTERVAL])
            rows[s] = {
                "improvement_median": med,
                f"p{INTERVAL[0]:g}": lo,
                f"p{INTERVAL[1]:g}": hi,
                "share_improved": float(np.mean(d > 0)),
            }
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = f"vs {self.reference}"
        return out

    def robustness(self, metric: str | None = None) -> str:
        """Say in a plain sentence whether the best strategy on ``metric`` is robustly best."""
        metric = self._metric(metric)
        mt = self.metrics[metric]
        order = [s for s in self.ranking(metric) if not np.all(np.isnan(self.values[metric][s]))]
        if len(order) < 2:
            return f"{mt.label}: not enough strategies with values to rank."
        best = order[0]
        p = self.prob_beats(metric)
        worst_rival = min(order[1:], key=lambda s: p.loc[best, s])
        pw = p.loc[best, worst_rival]
        if pw >= ROBUST:
            # never round a share up: 99.6% is "at least 99%", only 1.0 is "every one"
            share = "every one" if pw == 1.0 else f"at least {np.floor(pw * 100):.0f}%"
            return (
                f"{mt.label}: {best} is best in every pairing, beating each other strategy in {share} "
                f"of the {self.n} sampled futures (closest: {worst_rival})."
            )
        drv = self.drivers(best, worst_rival, metric, top=3)
        names = ", ".join(f"{k} ({'+' if r > 0 else '-'})" for k, r in drv["spearman"].items())
        return (
            f"{mt.label}: the ranking is NOT robust. {best} has the best median but beats {worst_rival} in "
            f"only {pw:.0%} of the {self.n} sampled futures; the constants that decide it: {names or 'none'} "
            f"(+ means higher values favour {best})."
        )

    # ---------------------------------------------------------------- display
    def summary_frame(self) -> pd.DataFrame:
        """Readable table: one row per metric, one column per strategy, 'median [p5, p95]' cells."""
        t = self.table
        lo, hi = f"p{INTERVAL[0]:g}", f"p{INTERVAL[1]:g}"
        data = {}
        for s in self.strategies:
            col = []
            for name in self.metrics:
                row = t.loc[(name, s)]
                col.append(_cell(row["median"], row[lo], row[hi]))
            data[s] = col
        idx = [f"{name} ({'v' if mt.better == 'lower' else '^'})" for name, mt in self.metrics.items()]
        return pd.DataFrame(data, index=idx)

    def __str__(self) -> str:
        lines = [
            f"Strategy comparison: {self.model_name}, {self.n} sampled futures (seed {self.seed}, "
            f"{self.sampler}), common random numbers; cells are median [{INTERVAL[0]:g}th, "
            f"{INTERVAL[1]:g}th percentile]; (v) lower is better, (^) higher is better."
        ]
        frame = self.summary_frame()
        with pd.option_context("display.width", 250, "display.max_columns", None, "display.max_colwidth", 40):
            lines.append(frame.to_string())
        lines.append("")
        for name, mt in self.metrics.items():
            lines.append(f"  {name}: {mt.label} [{mt.units}]")
        lines += [f"  {mt.note}" for mt in self.metrics.values() if mt.note]
        lines.append("")
        if self.reference is not None:
            pdiff = self.paired_difference(self.primary)
            lines.append(
                f"Improvement over {self.reference} on {self.primary}, paired by sampled future "
                f"(median [{INTERVAL[0]:g}th, {INTERVAL[1]:g}th]; share of futures improved):"
            )
            for s, row in pdiff.iterrows():
                lines.append(
                    f"  {s:32s} {_cell(row['improvement_median'], row.iloc[1], row.iloc[2]):28s} "
                    f"{row['share_improved']:.0%}"
                )
            lines.append("")
        p = self.prob_beats(self.primary)
        lines.append(f"P(row beats column) on {self.primary}:")
        lines.append(p.rename_axis(None).map(lambda x: "" if np.isnan(x) else f"{x:.2f}").to_string())
        lines.append("")
        lines.append("Robustness:")
        for name in self.metrics:
            lines.append("  " + self.robustness(name))
        if self.notes:
            lines.append("")
            lines.append("Read with care:")
            lines += [f"  {x}" for x in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Strategy comparison</b>: {html.escape(self.model_name)}, {self.n} sampled futures, "
            f"common random numbers; cells are median [{INTERVAL[0]:g}th, {INTERVAL[1]:g}th percentile].</p>"
        )
        paired = ""
        if self.reference is not None:
            pdiff = self.paired_difference(self.primary)
            rows = "".join(
                f"<tr><td>{html.escape(s)}</td><td>{_cell(r['improvement_median'], r.iloc[1], r.iloc[2])}"
                f"</td><td>{r['share_improved']:.0%}</td></tr>"
                for s, r in pdiff.iterrows()
            )
            paired = (
                f"<p>Improvement over {html.escape(self.reference)} on {html.escape(self.primary)} in the same "
                f"future (positive is better):</p><table><thead><tr><th>strategy</th><th>median [p5, p95]"
                f"</th><th>futures improved</th></tr></thead><tbody>{rows}</tbody></table>"
            )
        body = paired + self.summary_frame().to_html()
        p = self.prob_beats(self.primary).to_html(float_format=lambda x: f"{x:.2f}", na_rep="")
        rob = "".join(f"<li>{html.escape(self.robustness(n))}</li>" for n in self.metrics)
        return (
            head
            + body
            + f"<p>P(row beats column) on {html.escape(self.primary)}</p>"
            + p
            + f"<ul>{rob}</ul><p>Everything: <code>.to_pandas()</code>, <code>.paired_difference(metric)</code>, "
            "<code>.prob_beats(metric)</code>, <code>.drivers(a, b)</code>; figures: <code>.plot()</code>, "
            "<code>.figure()</code>.</p>"
        )

    def __repr__(self) -> str:
        return (
            f"<Comparison {self.model_name}: {len(self.strategies)} strategies x {self.n} futures, "
            f"{len(self.metrics)} metrics>"
        )

    def plot(self, ax: Any = None, metric: str | None = None, *, kind: str = "paired"):
        """Draw one metric; returns the Axes.

        ``kind="paired"`` (default): each strategy's improvement over the
        reference in the same sampled future, with the share of futures
        improved (:func:`~trafficsys.plot.compare.plot_paired`).
        ``kind="levels"``: each strategy's own median and 5-95% interval
        (:func:`~trafficsys.plot.compare.plot_metric`); these overlap because
        the futures' spread is shared, so read them beside the paired view.
        """
        from ..plot.compare import plot_metric, plot_paired

        if kind not in ("paired", "levels"):
            raise ModelError(f"kind must be 'paired' or 'levels', got {kind!r}")
        metric = self._metric(metric)
        return plot_paired(self, metric, ax=ax) if kind == "paired" else plot_metric(self, metric, ax=ax)

    def figure(self, path: str | None = None):
        """Draw the multi-panel comparison figure (fan chart, indicators, pairwise); save it when ``path`` is given."""
        from ..plot.compare import comparison_figure

        return comparison_figure(self, path)

    # ---------------------------------------------------------------- helpers
    def _strategy(self, name: str) -> str:
        if name not in self.strategies:
            raise ModelError(
                f"no strategy '{name}' in this comparison{suggest(str(name), self.strategies)}; "
                f"compared: {', '.join(self.strategies)}"
            )
        return name

    def _metric(self, metric: str | None) -> str:
        metric = self.primary if metric is None else metric
        if metric not in self.metrics:
            raise ModelError(f"no metric '{metric}' in this comparison; available: {', '.join(self.metrics)}")
        return metric


def _better(a: np.ndarray, b: np.ndarray, mt: Metric) -> np.ndarray:
    return (a > b) if mt.better == "higher" else (a < b)


def _p_beats(a: np.ndarray, b: np.ndarray, mt: Metric) -> float:
    ok = ~(np.isnan(a) | np.isnan(b))
    if not ok.any():
        return float("nan")
    a, b = a[ok], b[ok]
    return float(np.mean(_better(a, b, mt) + 0.5 * (a == b)))


def _fmt(x: float) -> str:
    if np.isnan(x):
        return "n/a"
    if np.isinf(x):
        return "none" if x > 0 else "-inf"
    ax = abs(x)
    if ax >= 1e6:
        return f"{x / 1e6:.3g}M"
    if ax >= 1e4:
        return f"{x / 1e3:.3g}k"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 0.01 or ax == 0:
        return f"{x:.2g}" if ax < 1 else f"{x:.3g}"
    return "<0.01" if x > 0 else ">-0.01"


def _cell(med: float, lo: float, hi: float) -> str:
    if np.isnan(med):
        return "n/a"
    return f"{_fmt(med)} [{_fmt(lo)}, {_fmt(hi)}]"
