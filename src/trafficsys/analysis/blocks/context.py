"""What every block detector reads: the structure around the target, a sampled ensemble, lever responses.

:class:`Context` is built once per report.  Structure comes from the model's
dependency graph and its causal-loop diagram (signed links, loops); behaviour
from one ensemble over a Monte Carlo sample of the uncertain constants (the
levers held at the scenario's values); response from perturbation runs that
share that sample (common random numbers), so a difference between two runs
of the same future is the lever's effect and nothing else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import networkx as nx
import numpy as np

from ...errors import ModelError, StructureError, UnknownVariableError
from ...model import ast
from ...model.elements import Aux, Constant, Element, Flow, Lookup, Stock
from ...model.model import Model
from ...model.names import canonical, suggest

__all__ = ["Context", "LeverResponse", "policy_levers", "is_assumption", "of_kind", "REL_STEP"]

E = TypeVar("E", bound=Element)


def of_kind(element: Element, kind: type[E]) -> E:
    """Return ``element`` as a ``kind`` (a lever is a Constant, a stock a Stock), or raise naming it."""
    if not isinstance(element, kind):
        raise ModelError(
            f"'{element.name}' is a {element.kind.value}, not a {kind.__name__.lower()}",
            variable=element.name,
        )
    return element


#: relative size of a lever's perturbation (each side of a central difference)
REL_STEP = 0.05


def policy_levers(m: Model) -> list[str]:
    """Return the model's policy constants: those whose ``role`` carries the tag ``policy``."""
    from ...cld.diagram import role_tags

    return [canonical(c.name) for c in m.constants if "policy" in role_tags(c.role)]


def is_assumption(c: Constant) -> bool:
    """Return True when a constant's value rests on an assumption rather than a cited figure."""
    source = (c.source or "").strip().lower()
    return not source or "assumption" in source


def actor_of(c: Constant) -> str | None:
    """Return who controls a lever when the model says so: a role tag other than ``policy``."""
    from ...cld.diagram import role_tags

    others = sorted(role_tags(c.role) - {"policy"})
    return ", ".join(others) or None


@dataclasses.dataclass
class LeverResponse:
    """The target's response to one lever, per sampled future (central differences).

    Attributes
    ----------
    lever
        Canonical name.
    value
        The lever's value in the scenario.
    step
        The perturbation ``h`` (each side).
    derivative
        ``(y(v + h) - y(v - h)) / 2h`` per future.
    elasticity
        ``derivative * v / y`` per future (NaN where ``v`` or ``y`` is 0).
    effect
        The change of the target per unit of the lever's declared range width
        (``derivative * (hi - lo)``; per unit of the value when there is no range).
    watched
        Time-means (final values for stocks) of the watched variables at
        ``v + h`` and ``v - h``: name -> (plus, minus), arrays per future.
    """

    lever: str
    value: float
    step: float
    derivative: np.ndarray
    elasticity: np.ndarray
    effect: np.ndarray
    watched: dict[str, tuple[np.ndarray, np.ndarray]]


class Context:
    """The shared inputs of the detectors (built by :func:`~trafficsys.analysis.blocks.find_blocks`)."""

    def __init__(
        self,
        model: Model,
        target: str,
        levers: Sequence[str] | None,
        scenario: Any,
        n: int,
        seed: Any,
        *,
        dominance_runs: int = 12,
    ):
        from ...engine import as_generator, sample_constants
        from ...model.arrays import flatten, is_arrayed

        if not isinstance(model, Model):
            raise ModelError(
                f"find_blocks needs a Model (ts.load(path) gives one), not {type(model).__name__}"
            )
        model.validate()
        if is_arrayed(model):
            model = flatten(model)
        self.file = model.file
        self.base_model = model
        self.scenario = scenario
        m = model.with_scenario(scenario) if scenario is not None else model
        self.m = m
        self.target = self._target(target)
        self.levers = self._levers(levers)
        self.n = int(n)
        if self.n < 1:
            raise ModelError(f"n must be a positive number of sampled futures, not {n}", file=self.file)
        self.seed = seed
        self.rng = as_generator(seed)
        self.time_settings = m.specs

        # ---- structure
        g = m.graph()
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(g.nodes(data=True))
        self.graph.add_edges_from((a, b, d) for a, b, d in g.edges(data=True) if d.get("via") != "initial")
        self.upstream = nx.ancestors(self.graph, self.target) | {self.target}
        self.reaching = [lv for lv in self.levers if lv in self.upstream]
        self.unreached = [lv for lv in self.levers if lv not in self.upstream]
        if self.levers and not self.reaching:
            raise ModelError(
                f"no lever has a causal path to the target '{self.target}' (levers: {', '.join(self.levers)}); "
                "choose a target downstream of the levers, or pass levers=[...] that influence it",
                file=self.file,
                variable=self.target,
            )
        from ...cld.derive import from_model
        from ..polarities import confirm_polarities

        self.cld = from_model(m)  # replaced below by the signs observed in the runs
        self.loops: list[Any] | None
        try:
            self.loops = self.cld.loops()
        except ModelError as e:  # too many loops to list: loop-based kinds are not assessed
            self.loops = None
            self.loop_note = str(e)
        else:
            self.loop_note = ""
            census = getattr(self.loops, "census", None)
            if census is not None and not getattr(self.loops, "complete", True):
                # too many loops to hold: loop-based kinds are not assessed on a partial list
                self.loops = None
                self.loop_note = f"the model has {census.describe()}, too many to assess loop by loop"
        if self.loops is not None and not self.loops:
            raise StructureError(
                "the model has no feedback loops, so there are no systemic blocks to find in its structure "
                "(policy resistance, burden shifting and missing accountability all need feedback); "
                "add the feedback the system has, or study the levers with ts.sensitivity",
                file=self.file,
            )
        self.material = self._material_upstream()

        # ---- behaviour: one ensemble over the uncertain constants, levers fixed; as in ts.compare,
        # structural switches are set, not sampled, and where the model asks for a spin-up each future
        # starts at the rest state of its own status quo (its initial values derived, not sampled)
        from ...cld.diagram import role_tags
        from ...engine.spinup import spin_up, spinup_spec

        spec = spinup_spec(model)
        fixed = set(self.levers) | {canonical(k) for k in _scenario_keys(m, scenario)}
        fixed |= {canonical(c.name) for c in m.constants if "structure" in role_tags(c.role)}
        fixed |= set(spec.derived()) if spec is not None else set()
        uncertain = [
            canonical(c.name)
            for c in m.constants
            if c.range is not None and c.range[1] > c.range[0] and canonical(c.name) not in fixed
        ]
        self.uncertain = uncertain
        if uncertain:
            self.sample = sample_constants(m, self.n, self.rng, names=uncertain)
            if spec is not None:
                self.sample.update(spin_up(model, self.sample, self.n))
        else:
            self.sample = {}
            self.n = 1
        self.results = self.simulate(self.sample)
        self.ds = self.results.ds
        self.time = np.asarray(self.ds["time"].values, dtype=float)
        self.y = self.metric(self.target)
        self.at_rest = self._at_rest()
        self.sign_note = ""
        if not self.at_rest:  # resolve links whose sign the structure leaves open ('?') from the runs
            try:
                observed = self.ds.isel(run=slice(0, min(self.n, 8))) if "run" in self.ds.dims else self.ds
                self.cld = confirm_polarities(from_model(m), m, observed)
            except (ModelError, ValueError) as e:  # the numeric sign check failed: keep the structural signs
                self.sign_note = (
                    f"link signs from the equations only (the check against the runs failed: {e})"
                )
        self._lever_cache: dict[tuple[str, tuple[str, ...]], LeverResponse] = {}
        self._env: dict[str, np.ndarray] | None = None
        self.lookups = {canonical(e.name): e for e in m if isinstance(e, Lookup)}
        self.not_assessed: list[str] = []  #: what the detectors could not assess, and why
        self.dominance_runs = max(1, min(self.n, dominance_runs))
        self._dominance: dict[frozenset, dict[str, Any]] | None = None
        self.dominance_note = ""

    # ------------------------------------------------------------------ inputs
    def _target(self, target: str) -> str:
        if not isinstance(target, str) or not target.strip():
            raise ModelError(
                "give the target: the outcome variable whose blocks to find, e.g. target='cases_convicted'",
                file=self.file,
            )
        if target not in self.m:
            raise UnknownVariableError(
                f"the target '{target}' is not a variable of the model{suggest(target, self.m.names())}; "
                "choose a stock (an accumulated outcome), flow or auxiliary",
                file=self.file,
                variable=target,
            )
        e = self.m[target]
        if isinstance(e, (Constant, Lookup)):
            raise ModelError(
                f"the target is a {e.kind.value}, which nothing in the model changes; choose a "
                "stock (an accumulated outcome), a flow or an auxiliary",
                file=self.file,
                variable=target,
            )
        return canonical(target)

    def _levers(self, levers: Sequence[str] | None) -> list[str]:
        if levers is None:
            found = policy_levers(self.m)
            if not found:
                raise ModelError(
                    'the model tags no constant as a policy lever (role = "policy"); tag the '
                    "levers in the model, or pass levers=[...]",
                    file=self.file,
                )
            return found
        if isinstance(levers, str):
            levers = [levers]
        out = []
        for name in levers:
            if name not in self.m:
                raise UnknownVariableError(
                    f"the lever '{name}' is not a variable of the model{suggest(name, self.m.names())}; "
                    f"{self._lever_hint()}",
                    file=self.file,
                    variable=name,
                )
            e = self.m[name]
            if not isinstance(e, Constant) and isinstance(self.base_model[name], Constant):
                continue  # the scenario sets it over time: no longer a lever to perturb
            if not isinstance(e, Constant):
                raise ModelError(
                    f"a lever must be a constant the programme sets; '{name}' is a {e.kind.value}; "
                    f"{self._lever_hint()}",
                    file=self.file,
                    variable=name,
                )
            out.append(canonical(name))
        if not out:
            raise ModelError(
                "levers is empty; pass at least one constant, or None for the model's policy levers",
                file=self.file,
            )
        return out

    def _lever_hint(self) -> str:
        """Say what to pass instead of a wrong lever: the model's policy levers, or how to name one."""
        found = policy_levers(self.m)
        if not found:
            return "pass the names of constants the programme sets"
        shown = ", ".join(found[:6]) + (f" and {len(found) - 6} more" if len(found) > 6 else "")
        return f"pass constants the programme sets, or leave the levers out to use the model's policy levers ({shown})"

    # --------------------------------------------------------------- structure
    def is_stock(self, name: str) -> bool:
        stocks = self.__dict__.get("_stock_names")
        if stocks is None:  # asked hundreds of thousands of times by the loop scans: a set, built once
            stocks = self.__dict__["_stock_names"] = frozenset(canonical(s.name) for s in self.m.stocks)
        return name in stocks or canonical(name) in stocks

    def _material_upstream(self) -> set[str]:
        """Stocks from which people or material flow, through stocks and flows, into the target."""
        m = self.m
        stocks = {canonical(s.name): s for s in m.stocks}
        into: dict[str, list[str]] = {}  # flow -> stocks it fills
        for key, s in stocks.items():
            for f in s.inflows:
                into.setdefault(canonical(f), []).append(key)
        out: set[str] = set()
        frontier: list[str] = []
        if self.target in stocks:
            frontier.append(self.target)
        else:  # a flow target: the stocks it drains feed it
            frontier += [k for k, s in stocks.items() if self.target in {canonical(f) for f in s.outflows}]
        while frontier:
            key = frontier.pop()
            if key in out:
                continue
            out.add(key)
            for f in stocks[key].inflows:
                for k, src in stocks.items():
                    if canonical(f) in {canonical(x) for x in src.outflows}:
                        frontier.append(k)
        return out

    def outflows(self, stock: str) -> list[str]:
        return [canonical(f) for f in of_kind(self.m[stock], Stock).outflows]

    def inflows(self, stock: str) -> list[str]:
        return [canonical(f) for f in of_kind(self.m[stock], Stock).inflows]

    def filled_by(self, flow: str) -> list[str]:
        return [canonical(s.name) for s in self.m.stocks if flow in {canonical(f) for f in s.inflows}]

    def on_paths(self, source: str, sink: str | None = None) -> set[str]:
        """Variables on some causal path from ``source`` to ``sink`` (default: the target), both included."""
        sink = sink or self.target
        if source == sink:
            return {source}
        down = nx.descendants(self.graph, source) | {source}
        up = nx.ancestors(self.graph, sink) | {sink}
        both = down & up
        return both if source in both and sink in both else set()

    def forward(self, source: str, sink: str | None = None) -> tuple[set[str], set[tuple[str, str]]]:
        """Variables and links on the simple causal paths ``source -> sink`` (the direct routes, no loop)."""
        nodes: set[str] = set()
        links: set[tuple[str, str]] = set()
        for path, _ in self.signed_paths(source, sink):
            nodes.update(path)
            links.update(zip(path, path[1:]))
        return nodes, links

    def signed_paths(self, source: str, sink: str | None = None, *, cutoff: int = 14, limit: int = 400):
        """Return the simple causal paths ``source -> sink`` with their polarity (``+``, ``-`` or ``?``), shortest first."""
        sink = sink or self.target
        nodes = self.on_paths(source, sink)
        if not nodes:
            return []
        sub = self.graph.subgraph(nodes)
        out: list[tuple[tuple[str, ...], str]] = []
        for path in nx.shortest_simple_paths(sub, source, sink):
            if len(path) - 1 > cutoff or len(out) >= limit:
                break
            sign = 1
            for a, b in zip(path, path[1:]):
                p = self.cld.polarity(a, b) if self.cld.has_link(a, b) else "?"
                sign = 0 if p not in "+-" or sign == 0 else (sign if p == "+" else -sign)
            out.append((tuple(path), "+" if sign > 0 else "-" if sign < 0 else "?"))
        return out

    # ---------------------------------------------------------------- behaviour
    def simulate(
        self, params: Mapping[str, Any], model: Model | None = None, variables: Sequence[str] | None = None
    ):
        import warnings

        from ...engine import simulate
        from ...model.settings import BudgetWarning

        with (
            warnings.catch_warnings()
        ):  # a lever's response run raises one share on purpose: not a user setting
            warnings.simplefilter("ignore", BudgetWarning)
            return simulate(model or self.m, params=dict(params) or None, variables=variables)

    def series(self, name: str, ds: Any = None) -> np.ndarray:
        """Values ``(time, run)`` of a saved variable (constants broadcast over time)."""
        ds = self.ds if ds is None else ds
        key = self.m[name].name if name in self.m else name
        da = ds[key] if key in ds else ds[name]
        a = np.asarray(da.values, dtype=float)
        if "time" not in da.dims:
            a = np.broadcast_to(a.reshape(1, -1), (ds.sizes["time"], a.size if a.ndim else 1))
        if a.ndim == 1:
            a = a[:, None]
        if "time" in da.dims and "run" in da.dims and da.dims[0] == "run":
            a = a.T
        return a

    def metric(self, name: str, ds: Any = None) -> np.ndarray:
        """One number per run: the final value of a stock, the time-mean of anything else."""
        a = self.series(name, ds)
        return a[-1] if self.is_stock(name) else _time_mean(a, self.time_of(ds))

    def time_of(self, ds: Any = None) -> np.ndarray:
        ds = self.ds if ds is None else ds
        return np.asarray(ds["time"].values, dtype=float)

    def integral(self, name: str) -> np.ndarray:
        """Return the time integral of a saved series per run (trapezoid over the saved times)."""
        return _integral(self.series(name), self.time)

    def time_mean(self, name: str) -> np.ndarray:
        """Return the time-mean of a saved variable per run."""
        return _time_mean(self.series(name), self.time)

    def env(self) -> dict[str, np.ndarray]:
        """Every saved variable as ``(time, run)`` arrays (canonical names) for evaluating expressions."""
        if self._env is not None:
            return self._env
        out = {}
        for e in self.m:
            key = canonical(e.name)
            if isinstance(e, Lookup):
                continue
            try:
                out[key] = self.series(key)
            except KeyError:
                continue
        self._env = out
        return out

    def _at_rest(self) -> bool:
        for s in self.m.stocks:
            x = self.series(canonical(s.name))
            scale = max(float(np.nanmax(np.abs(x))), 1e-12)
            if float(np.nanmax(np.abs(x - x[:1]))) > 1e-9 * scale:
                return False
        return True

    def params_for(self, extra: Mapping[str, Any] | None = None, repeat: int = 1) -> dict[str, np.ndarray]:
        """Return the sample tiled ``repeat`` times (run ``k * n + i`` is future ``i``), plus ``extra`` per run."""
        out = {k: np.tile(v, repeat) for k, v in self.sample.items()}
        for k, v in (extra or {}).items():
            a = np.asarray(v, dtype=float)
            out[k] = np.tile(a, repeat) if a.size == self.n else np.broadcast_to(a, (self.n * repeat,)).copy()
        return out

    def step_of(self, lever: str, model: Model | None = None) -> float:
        c = of_kind((model or self.m)[lever], Constant)
        v = float(c.value)
        if v != 0:
            return abs(v) * REL_STEP
        if c.range is not None and c.range[1] > c.range[0]:
            return (c.range[1] - c.range[0]) * REL_STEP
        return REL_STEP

    def response(
        self,
        lever: str,
        watch: Sequence[str] = (),
        model: Model | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> LeverResponse:
        """Measure the target's (and watched variables') response to ``lever`` in every future."""
        key = (lever, tuple(sorted(watch)))
        if model is None and extra is None and key in self._lever_cache:
            return self._lever_cache[key]
        m = model or self.m
        c = of_kind(m[lever], Constant)
        v = float(c.value)
        h = self.step_of(lever, m)
        values = np.concatenate([np.full(self.n, v + h), np.full(self.n, v - h)])
        params = self.params_for(extra, repeat=2)
        params[lever] = values
        keep = sorted({self.target, *watch})
        r = self.simulate(params, model=m, variables=[m[k].name for k in keep])
        y = self.metric(self.target, r.ds)
        plus, minus = y[: self.n], y[self.n :]
        deriv = (plus - minus) / (2 * h)
        base = 0.5 * (plus + minus)
        with np.errstate(divide="ignore", invalid="ignore"):
            elast = np.where((v != 0) & (base != 0), deriv * v / np.where(base != 0, base, 1.0), np.nan)
        width = (
            (c.range[1] - c.range[0]) if c.range is not None and c.range[1] > c.range[0] else (abs(v) or 1.0)
        )
        watched = {}
        for w in watch:
            mw = self.metric(w, r.ds)
            watched[w] = (mw[: self.n], mw[self.n :])
        out = LeverResponse(lever, v, h, deriv, elast, deriv * width, watched)
        if model is None and extra is None:
            self._lever_cache[key] = out
        return out

    # ---------------------------------------------------------------- dominance
    def dominance(self) -> dict[frozenset, dict[str, Any]]:
        """Loop -> ``{"id", "name", "polarity", "mean", "peak", "share"}`` over the first futures.

        ``mean`` is the time-mean of the absolute relative loop score (Loops
        that Matter), ``peak`` its largest value over time, ``share`` the share
        of time the loop dominates its partition; each averaged over up to
        ``dominance_runs`` futures.  Empty (with :attr:`dominance_note`) when
        the model's loops cannot all be scored.
        """
        if self._dominance is not None:
            return self._dominance
        from ..ltm import loop_dominance

        self._dominance = {}
        if self.at_rest:
            self.dominance_note = "the runs are at rest: no loop drives any change"
            return self._dominance
        ds = self.ds.isel(run=slice(0, self.dominance_runs)) if "run" in self.ds.dims else self.ds
        try:
            d = loop_dominance(self.m, ds)
        except ModelError as e:
            self.dominance_note = f"loop dominance not computed: {e}"
            return self._dominance
        rel = np.abs(np.asarray(d.relative.transpose("time", "run", "loop").values, dtype=float))
        rel = np.nan_to_num(rel)
        dom = {}
        for k, lp in enumerate(d.loops):
            dominates = d._dominates(k)
            dom[frozenset(lp.variables)] = {
                "id": lp.id,
                "name": lp.name,
                "polarity": lp.polarity,
                "mean": float(rel[:, :, k].mean()),
                "peak": float(rel[:, :, k].mean(axis=1).max()),
                "share": float(np.mean(dominates)) if lp.competing else float("nan"),
                "competing": lp.competing,
                "variables": lp.variables,
            }
        self._dominance = dom
        return dom

    def loop_summary(
        self,
        variables: Sequence[str],
        *,
        polarity: str | None = None,
        top: int = 3,
        loops: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Return the loops through ``variables`` (or ``loops``), most dominant first, as plain dicts."""
        dom = self.dominance()
        if loops is not None:
            chosen = list(loops)
        else:
            listed = self.loops or []
            by_var = self.__dict__.get("_loops_by_variable")
            if by_var is None:  # which loops pass through each variable, indexed once
                by_var = {}
                for k, lp in enumerate(listed):
                    for v in lp.variables:
                        by_var.setdefault(v, []).append(k)
                self.__dict__["_loops_by_variable"] = by_var
            idx = sorted({k for v in variables for k in by_var.get(v, ())})
            chosen = [lp for lp in (listed[k] for k in idx) if polarity is None or lp.polarity == polarity]

        def key(lp):
            info = dom.get(frozenset(lp.variables), {})
            d = info.get("mean", float("nan"))
            return (-(d if d == d else -1), len(lp.variables))

        rows = []
        for lp in sorted(chosen, key=key)[:top]:
            info = dom.get(frozenset(lp.variables), {})
            rows.append(
                {
                    "id": lp.id,
                    "name": lp.name or "",
                    "polarity": lp.polarity,
                    "variables": list(lp.variables),
                    "dominance": info.get("mean", float("nan")),
                    "dominates": info.get("share", float("nan")),
                }
            )
        return rows


def _scenario_keys(m: Model, scenario: Any) -> list[str]:
    if scenario is None:
        return []
    if isinstance(scenario, str):
        return list(m.scenarios[scenario].overrides) if scenario in m.scenarios else []
    if isinstance(scenario, Mapping):
        return list(scenario)
    return list(getattr(scenario, "overrides", {}))


def _integral(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    if len(t) < 2:
        return np.zeros(a.shape[1:])
    dt = np.diff(t)[:, None]
    return np.sum(0.5 * (a[1:] + a[:-1]) * dt, axis=0)


def _time_mean(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    if len(t) < 2:
        return a[0]
    return _integral(a, t) / (t[-1] - t[0])


def replace_in(node: ast.Expr, match, new) -> ast.Expr:
    """Return ``node`` with every sub-expression for which ``match(sub)`` holds replaced by ``new(sub)``."""
    if match(node):
        return new(node)
    return ast.map_children(node, lambda c: replace_in(c, match, new))


def with_equation(m: Model, name: str, tree: ast.Expr) -> Model:
    """Return a copy of ``m`` whose variable ``name`` has the equation ``tree``."""
    from ...model.printer import to_xmile

    out = m.copy()
    e = out[name]
    if not isinstance(e, (Flow, Aux)):
        raise ModelError("only flows and auxiliaries can be rewritten", variable=name, file=m.file)
    out.add(dataclasses.replace(e, equation=to_xmile(tree)), replace=True)
    return out


def fresh_name(m: Model, stem: str) -> str:
    """Return a constant name not yet in ``m``."""
    k = 1
    while f"{stem}_{k}" in m:
        k += 1
    return f"{stem}_{k}"
