"""Loop dominance over time: the Loops that Matter method (LTM).

For every link in a feedback loop, at every saved time, the *link score*
measures how much of the change in the link's target came from the change in
its source, with the link's polarity:

``LS(x -> z) = |Δ_x z / Δz| * sign(Δ_x z / Δx)``

where ``Δz = z(t) - z(t - Δt)``, ``Δx = x(t) - x(t - Δt)`` and ``Δ_x z`` is the
change of ``z`` computed from its equation with ``x`` at its current value and
every other input at its previous value (ceteris paribus).  Links from a flow
to a stock use the corrected rule of Schoenberg, Hayward & Eberlein (2023):
``LS(f -> S) = ±|Δf / Δnet(S)|`` with ``net(S)`` the sum of the stock's
inflows minus its outflows (``+`` for an inflow, ``-`` for an outflow); the
2020 rule used the flow's *value*, which made the scores depend on how flows
are split.  A *loop score* is the product of its link scores, and a loop's
*relative score* is its loop score divided by the sum of the absolute loop
scores of all loops in its *cycle partition* (the stocks that reach each
other through feedback).  A relative score lies in ``[-1, 1]``: its sign is
the loop's polarity (reinforcing ``+``, balancing ``-``), its size the share
of the partition's behaviour the loop explains.

Conventions
-----------
* **Zero changes.** A link score is 0 when its source or its target does not
  change over the step (``Δx = 0`` or ``Δz = 0``): the link carried nothing,
  and nothing is divided by zero.  A partition whose loop scores are all 0 at
  a time has relative scores 0 and no dominant loop then.
* **Time labels.** The score over ``[t - Δt, t]`` is reported at ``t`` (as
  Simlin does; Stella labels the same number ``t - Δt``).  The first saved
  time has no previous value and scores 0.  Scores are computed on the saved
  steps: save every ``dt`` (``saveper = dt``) for scores of the integration
  step itself.
* **Hidden stocks.** A variable defined by a stateful builtin (``SMTH1``,
  ``DELAY3``...) counts as a stock for cycle partitions.  A variable defined
  by a smooth or a material delay alone, ``z = SMTH1(u, T)``, is scored as one
  first-order stage with its own balancing adjustment loop ``z -> z``: the
  link into it scores ``LS(x -> u) · |Δu / (Δu - Δz)|`` and its internal loop
  ``-|Δz / (Δu - Δz)|``, exactly the scores of the explicit stock-and-flow
  structure for ``SMTH1``/``DELAY1`` (an approximation that lumps the stages
  of third- and n-th order ones).  Simlin scores such a module by its
  composite path but leaves its internal loop out of the loop list, so its
  relative scores differ from ours (and from the explicit structure's) on
  models with smooths.  Any other link into an equation that calls
  a stateful builtin scores as a unit transfer ``sign(Δz)·sign(Δx)`` (the
  approximation Simlin uses for black boxes).
* **Dominance.** Within a partition, the dominant loop at a time is the one
  with the largest absolute relative score.

References
----------
Schoenberg, W., Davidsen, P., Eberlein, R. (2020). Understanding model
behavior using the Loops that Matter method. System Dynamics Review 36(2),
158-190. https://doi.org/10.1002/sdr.1658

Schoenberg, W., Hayward, J., Eberlein, R. (2023). Improving Loops that
Matter. System Dynamics Review 39(2), 140-151. https://doi.org/10.1002/sdr.1728
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np

from ..cld.loop_search import Loop, graph_cycles, loop_order, loop_polarity, match_named_loops, rotate_loop
from ..engine.expression import STATEFUL_CALLS, evaluate, interpolate_lookup
from ..errors import ModelError, UnsupportedFeatureError
from ..model import ast
from ..model.elements import Constant, Flow, Kind, Lookup, Stock
from ..model.model import Model
from ..model.names import canonical
from .dominance import LoopDominance, LoopInfo

#: LoopDominance and LoopInfo live in :mod:`trafficsys.analysis.dominance` (importable from here too)
__all__ = ["LoopInfo", "LoopDominance", "loop_dominance", "feedback_graph", "cycle_partitions"]


# --------------------------------------------------------------------------- structure
def _is_stateful(m: Model, name: str) -> bool:
    e = m[name]
    if isinstance(e, (Stock, Constant)):
        return False
    tree = m.ast(name)
    return tree is not None and bool(ast.calls(tree) & STATEFUL_CALLS)


#: stateful builtins scored as one first-order stage: the first argument is the input
_STAGES = frozenset({"SMTH1", "SMTH3", "SMTHN", "DELAY1", "DELAY3", "DELAYN", "DELAY_N"})


def _stage_input(m: Model, name: str) -> ast.Expr | None:
    """Return the input expression when ``name`` is defined by a smooth or material delay alone, else None."""
    e = m[name]
    if isinstance(e, (Stock, Constant)):
        return None
    tree = m.ast(name)
    if isinstance(tree, ast.Call) and tree.func in _STAGES and tree.args:
        inner = tree.args[0]
        if not (ast.calls(inner) & STATEFUL_CALLS):
            return inner
    return None


def feedback_graph(m: Model) -> nx.DiGraph:
    """Return the dependency graph of ``m`` without the edges that cannot carry feedback.

    Edges into a stock's initial value, and edges from inputs only read through
    ``INIT(...)``, act once at the start, so they are dropped.  Node attribute
    ``state`` is True for stocks and for variables defined by a stateful
    builtin (hidden stocks).
    """
    g = m.graph()
    drop = [(a, b) for a, b, via in g.edges(data="via") if via == "initial"]
    for name in m.names():
        tree = m.ast(name) if not isinstance(m[name], (Stock, Constant)) else None
        if tree is None:
            continue
        live = ast.live_names(tree)
        drop += [
            (a, name) for a in g.predecessors(name) if a not in live and g[a][name].get("via") == "equation"
        ]
    g.remove_edges_from(drop)
    for name in g.nodes:
        g.nodes[name]["state"] = isinstance(m[name], Stock) or _is_stateful(m, name)
        if _stage_input(m, name) is not None:
            g.add_edge(name, name, via="internal")  # the hidden stock's own adjustment loop
    return g


def cycle_partitions(g: nx.DiGraph) -> list[tuple[str, ...]]:
    """Return the groups of state variables linked by feedback (strongly connected components).

    Every feedback loop lies inside exactly one partition; relative loop scores
    are normalised within a partition.  Returns the state variables of each
    partition that contains a loop, in a stable order.
    """
    parts = []
    for comp in nx.strongly_connected_components(g):
        if len(comp) == 1:
            (n,) = comp
            if not g.has_edge(n, n):
                continue
        order = [n for n in g.nodes if n in comp]
        parts.append(tuple(n for n in order if g.nodes[n].get("state")) or tuple(order))
    parts.sort(key=lambda p: list(g.nodes).index(p[0]))
    return parts


_STRUCTURE_CACHE: OrderedDict[Any, Any] = OrderedDict()


def _structure_cached(m: Model, what: tuple, compute: Callable[[], Any]) -> Any:
    """Return ``compute()`` for ``m``'s structure and constants, cached.

    Loops and their ids are the same for every run of a model: an ensemble's
    dominance after a single run's reuses them.
    """
    from ..engine.compiled import structure_key

    try:
        # named loops and annotated links name and sign the loops: part of the key with the structure
        key = (
            what,
            structure_key(m),
            tuple((c.name, c.value) for c in m.constants),
            tuple(sorted((name, tuple(nl.variables)) for name, nl in m.loops.items())),
            tuple(repr(lk) for lk in m.links),
        )
        hash(key)
    except TypeError:  # pragma: no cover - an element that cannot be hashed: compute every time
        return compute()
    got = _STRUCTURE_CACHE.get(key)
    if got is None:
        got = compute()
        _STRUCTURE_CACHE[key] = got
        while len(_STRUCTURE_CACHE) > 16:
            _STRUCTURE_CACHE.popitem(last=False)
    _STRUCTURE_CACHE.move_to_end(key)
    return got


def _enumerate_loops(g: nx.DiGraph, max_loops: int, length_bound: int | None) -> list[tuple[str, ...]]:
    found = list(itertools.islice(graph_cycles(g, length_bound), max_loops + 1))
    if len(found) > max_loops:
        raise ModelError(
            f"the model has more than {max_loops} feedback loops; pass max_loops=... to score more, "
            f"length_bound=... to keep only short loops, or loops=[...] to score chosen loops"
        )
    found.sort(key=loop_order)
    return found


def _diagram(m: Model, ds: Any, *, confirm: bool) -> Any:
    """Return the model's causal-loop diagram (signs checked against ``ds`` when ``confirm``), or None.

    Nothing is simulated: the signs are checked against the results being scored.
    """
    from .polarities import confirm_polarities

    try:
        cld = m.cld()
        return confirm_polarities(cld, m, ds) if confirm else cld
    except ModelError:  # the diagram is optional here: without it, loops get ids by polarity
        return None


def _link_sign(cld: Any, a: str, b: str) -> tuple[str, bool]:
    """Return the sign and delay mark of ``a -> b``; a hidden stock's own adjustment loop is ``-``, delayed."""
    if cld is not None and cld.has_link(a, b):
        lk = cld.link(a, b)
        return lk.polarity, bool(lk.delay)
    return ("-", True) if a == b else ("?", False)


# ------------------------------------------------------------------------------ data
def _dataset(results: Any):
    import pandas as pd
    import xarray as xr

    ds = getattr(results, "ds", results)
    if isinstance(ds, pd.DataFrame):
        ds = xr.Dataset.from_dataframe(ds.rename_axis("time"))
    if not isinstance(ds, xr.Dataset):
        raise ModelError(
            f"loop_dominance needs simulation results (ts.simulate(...)), an xarray Dataset or a pandas "
            f"DataFrame indexed by time; got {type(results).__name__}"
        )
    if "run" not in ds.dims:
        ds = ds.expand_dims(run=[0])
    return ds


def _with_every_variable(given: Model, m: Model, ds):
    """Return ``ds``, or the same runs re-run with every variable saved if ``ds`` lacks some.

    An ensemble that saved only its stocks (the default of ``ts.monte_carlo``)
    is re-run.  The engine's results hold every constant's value per run, so the runs are
    reproduced exactly, through the ensemble door, with the same scenario, method and save period.
    """
    wanted = [
        n
        for n in m.names()
        if not isinstance(el := m[n], Constant) and not (isinstance(el, Lookup) and el.input is None)
    ]
    if all(n in ds or m[n].name in ds for n in wanted):
        return ds
    attrs = ds.attrs
    if "method" not in attrs or "saveper" not in attrs:  # not the engine's results: nothing to re-run
        return ds
    from ..engine.ensemble import run_ensemble

    scenario = attrs.get("scenario") or None
    base = given.with_scenario(scenario) if scenario in given.scenarios else given
    flat = m if base is given else _flatten(base)
    params = {
        c: np.asarray(ds[c].values, dtype=float)
        for c in flat.names(Kind.CONSTANT)
        if c in ds and "time" not in ds[c].dims
    }
    r = run_ensemble(
        base, params, method=attrs["method"], saveper=float(attrs["saveper"]), n=ds.sizes.get("run", 1)
    )
    return _dataset(r)


def _flatten(m: Model) -> Model:
    from ..model.arrays import flatten

    return flatten(m)


class _Values:
    """Each variable's recorded values as a ``(time, run)`` array."""

    def __init__(self, m: Model, ds):
        self.m = m
        self.ds = ds
        self.time = np.asarray(ds["time"].values, dtype=float)
        self.nrun = ds.sizes["run"]
        self._cache: dict[str, np.ndarray] = {}
        self._equations: dict[str, tuple[Any, Any, bool, list[str]]] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self._cache:
            return self._cache[name]
        shape = (len(self.time), self.nrun)
        key = (
            next((k for k in (name, self.m[name].name) if k in self.ds), None)
            if name in self.m
            else (name if name in self.ds else None)
        )
        if key is not None:
            # the bare variable: ds[key] would build a DataArray, which looks through every variable of
            # the dataset for its coordinates (thousands in a flattened arrayed model)
            da = self.ds.variables[key]
            dims = [d for d in ("time", "run") if d in da.dims]
            extra = [d for d in da.dims if d not in ("time", "run")]
            if extra:
                raise ModelError(
                    f"arrayed variable (dimensions {extra}) is not supported by loop dominance",
                    variable=name,
                    file=self.m.file,
                )
            arr = np.asarray(da.transpose(*dims).values, dtype=float)
            if dims == ["run"]:
                arr = arr[None, :]
            elif dims == ["time"]:
                arr = arr[:, None]
            value = (
                np.ascontiguousarray(np.broadcast_to(arr, shape))
                if arr.shape == shape
                else np.broadcast_to(arr, shape)
            )
        elif name in self.m and isinstance(const := self.m[name], Constant):
            value = np.full(shape, const.value)
        else:
            raise ModelError(
                "the results do not hold this variable's values; simulate with every variable saved "
                "(the default of ts.simulate) before asking for loop dominance",
                variable=name,
                file=self.m.file,
            )
        self._cache[name] = value
        return value

    def diff(self, name: str) -> np.ndarray:
        """Change over each saved step, ``(time - 1, run)``, cached."""
        key = "\0diff:" + name
        if key not in self._cache:
            self._cache[key] = np.diff(self[name], axis=0)
        return self._cache[key]

    def equation(self, name: str) -> tuple[Any, Any, bool, list[str]]:
        """Return the equation of a variable as link scores read it, cached (each of its inputs asks).

        ``(tree, stage input or None, stateful?, inputs)``.
        """
        got = self._equations.get(name)
        if got is None:
            got = self._equations[name] = (
                self.m.ast(name),
                _stage_input(self.m, name),
                _is_stateful(self.m, name),
                list(self.m.dependencies(name)),
            )
        return got

    def net_diff(self, stock: Stock) -> np.ndarray:
        """Change over each saved step of a stock's net flow (inflows minus outflows), cached."""
        key = "\0net:" + stock.name
        if key not in self._cache:
            net = np.zeros((len(self.time) - 1, self.nrun))
            for f in stock.inflows:
                net += self.diff(canonical(f))
            for f in stock.outflows:
                net -= self.diff(canonical(f))
            self._cache[key] = net
        return self._cache[key]


def _ratio_score(partial: np.ndarray, dz: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """``|partial/dz| * sign(partial/dx)``, 0 where ``dz`` or ``dx`` is 0 (the zero-change convention).

    Computed as ``partial * sign(dx) / |dz|``: the same number in fewer passes over the arrays.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        num = partial * np.sign(dx)
        out = np.zeros(np.broadcast_shapes(num.shape, dz.shape))
        np.divide(num, np.abs(dz), out=out, where=dz != 0)
    if not np.isfinite(out).all():
        out[~np.isfinite(out)] = 0.0
    return out


def _link_score(
    m: Model, values: _Values, source: str, target: str, lookups: Mapping[str, Lookup], compiled: Any = None
) -> np.ndarray:
    """Return the link score series ``(time, run)`` of ``source -> target``."""
    e = m[target]
    dt = m.dt
    x = values[source]
    dx = values.diff(source)
    if isinstance(e, Stock):
        sign = (source in map(canonical, e.inflows)) - (source in map(canonical, e.outflows))
        score = np.abs(_ratio_score(dx, values.net_diff(e), dx))
        if sign < 0:
            score = -score
    else:
        z = values[target]
        dz = values.diff(target)
        tree, stage_input, stateful, inputs = values.equation(target)
        assert tree is not None
        if stage_input is not None:
            # a smooth/delay: input u -> hidden stock z, with its own adjustment loop z -> z
            deps = ast.names(stage_input)
            u = np.broadcast_to(
                evaluate(
                    stage_input,
                    {d: values[d] for d in deps},
                    time=values.time[:, None],
                    dt=dt,
                    start=m.start,
                    stop=m.stop,
                    lookups=lookups,
                    variable=target,
                ),
                z.shape,
            )
            du = np.diff(u, axis=0)
            gap = du - dz
            if source == target:
                score = -np.abs(_ratio_score(dz, gap, dz))
            else:
                env = {d: (x[1:] if d == source else values[d][:-1]) for d in deps}
                new = evaluate(
                    stage_input,
                    env,
                    time=values.time[:-1, None],
                    dt=dt,
                    start=m.start,
                    stop=m.stop,
                    lookups=lookups,
                    variable=target,
                )
                to_input = _ratio_score(np.broadcast_to(new, du.shape) - u[:-1], du, dx)
                score = to_input * np.abs(_ratio_score(du, gap, du))
        elif stateful:
            score = np.where((dx == 0) | (dz == 0), 0.0, np.sign(dz) * np.sign(dx))
        else:
            # tables only called as functions have no recorded values; everything else is an input
            env = {
                d: (x[1:] if d == source else values[d][:-1])
                for d in inputs
                if not (d in lookups and lookups[d].input is None)
            }
            t_prev = values.time[:-1, None]
            new = None
            if compiled is not None:  # the engine's own numerics for the equation
                try:
                    new = compiled.evaluate(target, env, time=t_prev)
                except UnsupportedFeatureError:  # e.g. ACTIVE_INITIAL lowered to a hidden initial value
                    new = None
            if new is None:
                new = evaluate(
                    tree,
                    env,
                    time=t_prev,
                    dt=dt,
                    start=m.start,
                    stop=m.stop,
                    lookups=lookups,
                    variable=target,
                )
                if isinstance(e, Lookup):
                    new = interpolate_lookup(e, new)
                if isinstance(e, Flow) and e.non_negative:
                    new = np.maximum(new, 0.0)
            new = np.broadcast_to(new, dz.shape)
            score = _ratio_score(new - z[:-1], dz, dx)
    out = np.empty((score.shape[0] + 1, x.shape[1]))
    out[0] = 0.0
    out[1:] = score
    return out


def _compiled(m: Model) -> Any:
    """Return the engine's compiled form of ``m`` (for re-evaluating equations), or None when it cannot compile."""
    from ..engine import compile_model

    try:
        return compile_model(m)
    except ModelError:  # e.g. scores of recorded data for a model the engine rejects
        return None


# ------------------------------------------------------------------------ front door
#: the log of a zero link score: far below any product of real scores (each log is within +-710),
#: so a loop through a zero link has exp(log) == 0, and is recognised by its log below half this
_ZERO_LOG = -1e6
#: the largest loop score kept (larger products are clipped, as before they would overflow)
_LOG_MAX = float(np.log(1e300))


class _LoopScorer:
    """Loop and relative loop scores of many (time, run) columns at once, in log space.

    A loop score is the product of its link scores: here ``exp(log|links| @ M)``
    with ``M`` the links x loops incidence matrix, its sign the parity of the
    negative links on the loop (``[links < 0] @ M``, exact small integers), and a
    loop through a zero link exactly 0.  Two matrix products score every loop in
    every run and at every time without a Python loop over runs or loops, and
    relative scores are taken in log space (``exp(log - max)`` over the
    partition), so products too large for a double still rank correctly.

    Arrays are laid out (column, loop), the loops of each partition side by
    side, so that every reduction over a partition reads contiguous memory.
    """

    def __init__(
        self,
        links: np.ndarray,
        loop_edges: Sequence[Sequence[int]],
        groups: Mapping[int, list[int]],
        npart: int,
        max_bytes: float,
    ):
        L, E = len(loop_edges), links.shape[0]
        self.max_bytes = max_bytes
        self.keep = False
        self.order = np.asarray([k for members in groups.values() for k in members], dtype=np.intp)
        self.where = np.empty(L, dtype=np.intp)  # loop -> its column in the (column, loop) arrays
        self.where[self.order] = np.arange(L)
        self.M = np.zeros((E, L))
        for k, idx in enumerate(loop_edges):
            self.M[idx, self.where[k]] = 1.0  # a simple cycle passes each link once
        self.M32 = self.M.astype(np.float32)
        a = np.abs(links.T)
        self.log = np.full_like(a, _ZERO_LOG)
        np.log(a, out=self.log, where=a > 0)
        self.neg = np.ascontiguousarray(links.T < 0, dtype=np.float32)
        self.spans: list[tuple[int, slice]] = []
        at = 0
        for p, members in groups.items():
            self.spans.append((p, slice(at, at + len(members))))
            at += len(members)
        self.part_of = np.empty(L, dtype=np.intp)
        for p, sl in self.spans:
            self.part_of[self.order[sl]] = p
        C = links.shape[1]
        self.top = np.full((npart, C), _ZERO_LOG)  # per partition and column: the largest log score
        self.total = np.ones((npart, C))  # and the sum of exp(log - top) over its loops

    def logs(self, cs: slice, cols: Any = slice(None)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return log|score|, odd sign and non-zero, (column, loop), for columns ``cs`` of loop columns ``cols``."""
        lg = self.log[cs] @ self.M[:, cols]
        odd = np.fmod(self.neg[cs] @ self.M32[:, cols], 2) > 0.5
        return lg, odd, lg > _ZERO_LOG / 2

    def normalise(self, cs: slice, lg: np.ndarray, dominant: np.ndarray) -> np.ndarray:
        """Return |relative score| (column, loop); record each partition's normaliser and dominant loop."""
        absrel = np.empty_like(lg)
        for p, sl in self.spans:
            block, out = lg[:, sl], absrel[:, sl]
            top = block.max(axis=1)
            live = top > _ZERO_LOG / 2  # some loop of the partition scores non-zero
            np.subtract(block, top[:, None], out=out)
            with np.errstate(under="ignore"):  # a loop far below the partition's largest scores 0
                np.exp(out, out=out)
            total = out.sum(axis=1)
            out /= total[:, None]
            out[~live] = 0.0
            self.top[p, cs], self.total[p, cs] = top, total
            dominant[p, cs] = np.where(live, self.order[sl][np.argmax(block, axis=1)], -1)
        return absrel

    def scores(self, lg: np.ndarray, odd: np.ndarray) -> np.ndarray:
        """Return the signed loop scores from their logs (clipped at 1e300)."""
        with np.errstate(under="ignore"):  # a loop through a zero link scores exactly 0
            sc = np.exp(np.minimum(lg, _LOG_MAX))
        return np.where(odd, -sc, sc)

    def statistics(self) -> tuple[np.ndarray, ...]:
        """Pass 1 over blocks of columns: every loop's statistics, each partition's dominant loop.

        Returns, per loop (its own order), positive?, negative?, the sum and
        the max of |relative score|; per partition and column the dominant loop (-1: none).
        """
        L, C = self.M.shape[1], self.log.shape[0]
        npart = self.top.shape[0]
        self.keep = (2 * L + self.M.shape[0]) * C * 8 <= self.max_bytes
        if self.keep:  # everything fits: keep the series for pass 2
            self.all_scores, self.all_rel = np.empty((C, L)), np.empty((C, L))
        cols = max(1, int(self.max_bytes // max(1, 8 * 4 * L)))
        pos, neg = np.zeros(L, bool), np.zeros(L, bool)
        sum_abs, max_abs = np.zeros(L), np.zeros(L)
        dom = np.full((npart, C), -1, dtype=np.int32)
        for c0 in range(0, C, cols):
            cs = slice(c0, min(c0 + cols, C))
            lg, odd, nz = self.logs(cs)
            pos |= (nz & ~odd).any(axis=0)
            neg |= (nz & odd).any(axis=0)
            absrel = self.normalise(cs, lg, dom)
            sum_abs += absrel.sum(axis=0)
            if L:
                np.maximum(max_abs, absrel.max(axis=0), out=max_abs)
            if self.keep:
                self.all_rel[cs] = np.where(odd, -absrel, absrel)
                self.all_scores[cs] = self.scores(lg, odd)
        # back from the scorer's loop order (partitions side by side) to the loops' own
        return (*(x[self.where] for x in (pos, neg, sum_abs, max_abs)), dom)

    def series(self, loops: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Pass 2: scores and relative scores (column, loop) of ``loops`` (the loops' own indices)."""
        C = self.log.shape[0]
        if self.keep:
            at = self.where[np.asarray(loops, dtype=np.intp)]
            return self.all_scores[:, at], self.all_rel[:, at]
        scores, rel = np.empty((C, len(loops))), np.empty((C, len(loops)))
        cols = max(1, int(self.max_bytes // max(1, 8 * 4 * max(len(loops), 1))))
        for c0 in range(0, C, cols):
            cs = slice(c0, min(c0 + cols, C))
            scores[cs], rel[cs] = self.kept(cs, loops)
        return scores, rel

    def kept(self, cs: slice, loops: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Return scores and relative scores (column, loop) of ``loops`` over columns ``cs`` (after :meth:`normalise`)."""
        index = np.asarray(loops, dtype=np.intp)
        lg, odd, nz = self.logs(cs, self.where[index])
        p = self.part_of[index]
        top, total = self.top[:, cs].T[:, p], self.total[:, cs].T[:, p]
        with np.errstate(under="ignore"):
            rel = np.where(top > _ZERO_LOG / 2, np.exp(lg - top) / total, 0.0)
        return self.scores(lg, odd), np.where(odd, -rel, rel)


#: which loop scorer serves: "auto" (compiled where numba imports, else numpy), "numba" or "numpy"
SCORER = "auto"


def _scorer(
    links: np.ndarray,
    loop_edges: Sequence[Sequence[int]],
    groups: Mapping[int, list[int]],
    npart: int,
    max_bytes: float,
):
    from . import _loop_kernel

    if SCORER == "numba" or (SCORER == "auto" and _loop_kernel.available()):
        return _loop_kernel.TrieScorer(links, loop_edges, groups, npart)
    return _LoopScorer(links, loop_edges, groups, npart, max_bytes)


def loop_dominance(
    m: Model,
    results: Any,
    *,
    loops: Iterable[Sequence[str]] | None = None,
    max_loops: int = 10_000,
    length_bound: int | None = None,
    max_bytes: float = 4e8,
    min_contribution: float = 0.01,
    discovery: str = "auto",
    discovery_times: int = 200,
    discovery_runs: int = 8,
) -> LoopDominance:
    """Loop dominance over time by the Loops that Matter method.

    Parameters
    ----------
    m
        The model that produced ``results``.
    results
        Its simulation results (``ts.simulate``, ``ts.monte_carlo``), an
        ``xarray.Dataset`` with dimensions ``(time, run)`` or a DataFrame
        indexed by time.  Every variable on the loops must be recorded.
    loops
        Loops to score, each a sequence of variable names in causal order.
        Default: every feedback loop of the model (all loops of a partition
        are needed for meaningful relative scores).
    max_loops
        Refuse to enumerate more loops than this.
    length_bound
        Only loops with at most this many variables.
    max_bytes
        Memory budget for the score arrays.  When every loop's series for
        every run would not fit, the runs are scored in chunks (twice: the
        scores of all loops are needed for each relative score) and only the
        loops that matter are kept: those whose absolute relative score
        reaches ``min_contribution`` at some time in some run, and every loop
        that ever dominates (``.omitted`` counts the others).
    min_contribution
        See ``max_bytes``.
    discovery
        How the loops are found when ``loops`` is not given: ``"all"`` lists
        every loop (refused above ``max_loops``); ``"strongest_path"`` finds the
        loops that matter from the link scores of the runs (the strongest-path
        search of Eberlein & Schoenberg 2020, :mod:`trafficsys.analysis.discovery`)
        without listing the others; ``"auto"`` (default) lists every loop when
        there are at most ``max_loops`` and searches otherwise.  The result's
        ``method`` says which was used; after a search, ``found_at`` gives the
        times each loop was found and ``explained`` the share of the stocks'
        changes that runs through the found loops only, at the times searched
        (estimated by sampling loops, see
        :func:`trafficsys.analysis.discovery.explained_share`).
    discovery_times, discovery_runs
        The search runs at up to this many saved times (evenly spaced) in each
        of the first ``discovery_runs`` runs; the loops found are pooled.

    Returns
    -------
    LoopDominance
        Scores per time and run; ``.to_pandas()`` gives the tidy table,
        ``.intervals()`` the dominant loop per period, ``.shares()`` the share
        of runs each loop dominates.

    Raises
    ------
    ModelError
        When the results lack a variable on a loop, or a named loop is not a
        feedback loop of the model.

    Notes
    -----
    See the module docstring (:mod:`trafficsys.analysis.ltm`) for the
    formulas and the conventions for zero changes and time labels.

    Examples
    --------
    >>> import trafficsys as ts
    >>> m = ts.Model("logistic", stop=20, dt=0.25)
    >>> _ = m.constant("r", 0.5); _ = m.constant("k", 1000)
    >>> _ = m.stock("pop", 10, inflows=["births"], outflows=["deaths"])
    >>> _ = m.flow("births", "r * pop"); _ = m.flow("deaths", "r * pop * pop / k")
    >>> d = ts.loop_dominance(m, ts.simulate(m))
    >>> d.intervals()[["start", "end", "loop", "polarity"]]
       start   end loop polarity
    0   0.25   9.5   R1        R
    1   9.75  20.0   B1        B
    """
    import xarray as xr

    from ..model.arrays import flatten

    t_begin = time.perf_counter()
    timings: dict[str, float] = {}
    given = m
    m = flatten(m)  # arrayed models are scored element by element, as the engine runs them
    ds = _with_every_variable(given, m, _dataset(results))
    g = feedback_graph(m)
    if discovery not in ("auto", "all", "strongest_path"):
        raise ModelError(
            f"discovery must be 'auto', 'all' or 'strongest_path', not {discovery!r}", file=m.file
        )
    found_at: dict[tuple[str, ...], list[int]] | None = None
    search = None
    method = "given"
    if loops is None:
        cycles = None
        if discovery in ("auto", "all"):
            try:
                cycles = _structure_cached(
                    m,
                    ("loops", max_loops, length_bound),
                    lambda: _enumerate_loops(g, max_loops, length_bound),
                )
                method = "all"
            except ModelError:
                if discovery == "all":
                    raise
        if cycles is None:
            t_search = time.perf_counter()
            found_at, search = _discover(m, ds, g, length_bound, discovery_times, discovery_runs)
            timings["discovery"] = time.perf_counter() - t_search
            cycles = sorted(found_at, key=loop_order)
            method = "strongest_path"
    else:
        cycles = []
        for lp in loops:
            chain = [canonical(v) for v in getattr(lp, "variables", lp)]
            for a, b in zip(chain, chain[1:] + chain[:1]):
                if not g.has_edge(a, b):
                    raise ModelError(
                        f"loop {' -> '.join(chain)}: '{b}' does not depend on '{a}' "
                        f"(through an equation or a flow); give variables in causal order",
                        file=m.file,
                    )
            cycles.append(rotate_loop(chain))
    if not cycles:
        raise ModelError(
            "the model has no feedback loops (no closed chain of causes through a stock), so "
            "there is no loop dominance to score; `trafficsys loops` lists the loops a model has",
            file=m.file,
        )
    partitions = cycle_partitions(g)
    part_of = {n: i for i, p in enumerate(partitions) for n in p}
    # a component's other variables join its stocks' partition (one lookup per component)
    for comp in nx.strongly_connected_components(g):
        p = next((part_of[n] for n in comp if n in part_of), None)
        if p is not None:
            for other in comp:
                part_of.setdefault(other, p)

    lookups: dict[str, Lookup] = {name: m[name] for name in m.names(Kind.LOOKUP)}  # type: ignore[misc]
    compiled = _compiled(m)
    edges = sorted({lk for c in cycles for lk in zip(c, c[1:] + c[:1])})
    edge_index = {e: i for i, e in enumerate(edges)}
    loop_edges = [[edge_index[e] for e in zip(c, c[1:] + c[:1])] for c in cycles]
    loop_part = [part_of[c[0]] for c in cycles]
    groups = {p: [k for k, q in enumerate(loop_part) if q == p] for p in sorted(set(loop_part))}
    T, R, L = ds.sizes["time"], ds.sizes["run"], len(cycles)
    E, P = len(edges), len(partitions)
    # link scores of every run (links x time x run: small beside the loops' arrays), run chunks within budget
    links_all = np.empty((E, T, R))
    done = 0  # runs whose link scores are known already: the search computed them
    if search is not None and len(search[4]) == T:  # the search scored every link at every time
        searched = {e: i for i, e in enumerate(search[0])}
        done = len(search[3])  # the search's runs are the first ones
        rows = np.asarray([searched[e] for e in edges], dtype=np.intp)
        if done == R:
            np.take(search[1], rows, axis=0, out=links_all)
        else:
            links_all[:, :, :done] = search[1][rows]
    run_chunk = max(1, int(max_bytes // max(1, 8 * T * (E + 16))))
    for start in range(done, R, run_chunk):
        runs = slice(start, min(start + run_chunk, R))
        values = _Values(m, ds.isel(run=runs))
        for i, e in enumerate(edges):
            links_all[i, :, runs] = _link_score(m, values, e[0], e[1], lookups, compiled)  # type: ignore[arg-type]
    if not np.isfinite(links_all).all():  # (one pass to check: scores are finite but where products overflow)
        np.nan_to_num(links_all, copy=False, nan=0.0, posinf=1e300, neginf=-1e300)
    scorer = _scorer(links_all.reshape(E, T * R), loop_edges, groups, P, max_bytes)
    # pass 1: every loop's statistics, each partition's normaliser and dominant loop
    pos, neg, sum_abs, max_abs, dom_all = scorer.statistics()
    mean_abs = sum_abs / max(T * R, 1)
    dom_all = dom_all.reshape(P, T, R)
    if (2 * L + E) * T * R * 8 <= max_bytes:
        kept = list(range(L))
    else:  # too big to keep every loop's series: keep the loops that matter
        ever_dominant = set(np.unique(dom_all[dom_all >= 0]).tolist())
        kept = [k for k in range(L) if max_abs[k] >= min_contribution or k in ever_dominant]

    # the causal-loop diagram's loops need every loop listed (not after a search); its signs are checked
    # against these results, so its loops are cached with the structure and the signs found
    cld = _diagram(m, ds, confirm=method == "all")
    listed: dict[frozenset, Loop] = {}
    if method == "all" and cld is not None:
        link_signs = tuple((lk.source, lk.target, lk.polarity, lk.delay) for lk in cld.links)
        listed = dict(
            _structure_cached(
                m, ("diagram loops", link_signs), lambda: {frozenset(lp.links): lp for lp in cld.loops()}
            )
        )
    on_diagram = [listed.get(frozenset(zip(c, c[1:] + c[:1]))) for c in cycles]
    # the loops the diagram does not list are named by the same rule, among the names it has not used
    taken_names = {lp.name for lp in on_diagram if lp is not None and lp.name}
    rest = [k for k, lp in enumerate(on_diagram) if lp is None]
    names, _ = match_named_loops(
        {n: nl for n, nl in m.loops.items() if nl.name not in taken_names}, [cycles[k] for k in rest]
    )
    names = {rest[i]: name for i, name in names.items()}
    counts = {p: len(members) for p, members in groups.items()}
    infos: dict[int, LoopInfo] = {}
    used: dict[str, int] = {}
    taken = {known.id for known in listed.values()}
    for k, c in enumerate(cycles):
        pol = "R" if pos[k] and not neg[k] else "B" if neg[k] and not pos[k] else "U"
        known = on_diagram[k]
        if known is not None and not (pos[k] or neg[k]) and known.polarity in ("R", "B"):
            pol = known.polarity  # never active in these runs: keep the structural polarity
        if known is not None and known.polarity == pol:
            lid = known.id  # the causal-loop diagram's id for this loop
        else:
            used[pol] = used.get(pol, 0) + 1
            lid = f"{pol}{used[pol]}"
            while lid in taken:
                used[pol] += 1
                lid = f"{pol}{used[pol]}"
        taken.add(lid)
        if known is None:
            signs, delays = zip(*(_link_sign(cld, a, b) for a, b in zip(c, c[1:] + c[:1])))
            known = Loop(lid, loop_polarity(signs), tuple(c), tuple(signs), tuple(delays), names.get(k))
        infos[k] = LoopInfo(known, lid, pol, loop_part[k], counts[loop_part[k]] > 1)

    # competing loops first, each partition's loops by mean |relative score|
    order = sorted(kept, key=lambda k: (not infos[k].competing, infos[k].partition, -mean_abs[k]))
    position = np.full(L + 1, -1, dtype=np.int32)
    position[np.asarray(order, dtype=int)] = np.arange(len(order))
    dom_index = position[dom_all]  # -1 stays -1 (index L)
    used_edges = sorted({i for k in order for i in loop_edges[k]})
    links = links_all if len(used_edges) == E else links_all[used_edges]  # (no copy when every link is kept)
    # pass 2: the kept loops' series, against the normalisers of pass 1
    scores, rel = scorer.series(order)
    scores, rel = scores.reshape(T, R, len(order)), rel.reshape(T, R, len(order))
    infos_list = [infos[k] for k in order]
    edges = [edges[i] for i in used_edges]
    values = _Values(m, ds)
    sampled = {}
    for const in m.constants:
        if const.name in ds or canonical(const.name) in ds:
            v = values[canonical(const.name)]
            if v.shape[1] > 1 and np.ptp(v[0]) > 0:
                sampled[const.name] = np.array(v[0])
    coords = {"time": values.time, "run": ds["run"].values}
    loop_ids = [lp.id for lp in infos_list]
    link_labels = [f"{a} -> {b}" for a, b in edges]
    order3 = ("time", "run")
    result = LoopDominance(
        infos_list,
        partitions,
        xr.DataArray(links, dims=("link", *order3), coords={**coords, "link": link_labels}).transpose(
            *order3, "link"
        ),
        xr.DataArray(scores, dims=(*order3, "loop"), coords={**coords, "loop": loop_ids}),
        xr.DataArray(rel, dims=(*order3, "loop"), coords={**coords, "loop": loop_ids}),
        dom_index,
    )
    result.sampled = sampled
    result.omitted = L - len(order)
    result.time_units = m.time_units
    result.method = method
    if found_at is not None:
        result.found_at = {infos[k].id: [float(values.time[i]) for i in found_at[cycles[k]]] for k in order}
        t_share = time.perf_counter()
        result.explained = _explained(search, g, part_of, [cycles[k] for k in order], result)
        timings["explained"] = time.perf_counter() - t_share
    timings["scoring"] = time.perf_counter() - t_begin - sum(timings.values())
    result.timings = timings
    return result


def _discover(m: Model, ds, g: nx.DiGraph, length_bound: int | None, n_times: int, n_runs: int):
    """Loops found by the strongest-path search on the link scores of the runs (cycle -> time indices)."""
    from .discovery import sample_indices, strongest_path_loops

    comp = {n: i for i, c in enumerate(nx.strongly_connected_components(g)) for n in c}
    edges = [(a, b) for a, b in g.edges if comp[a] == comp[b]]
    values = _Values(m, ds)
    lookups: dict[str, Lookup] = {name: m[name] for name in m.names(Kind.LOOKUP)}  # type: ignore[misc]
    compiled = _compiled(m)
    T, R = len(values.time), values.nrun
    runs = list(range(min(R, n_runs)))
    # a link's score at a time reads the values then and one step before: the search's times and the
    # steps before them are all it needs (a long run saves thousands of times, the search reads 200)
    times = sample_indices(T, n_times)
    take = np.unique(np.concatenate([times, times[times > 0] - 1]))
    sub_ds = ds if len(runs) == R else ds.isel(run=runs)
    sub = _Values(m, sub_ds if len(take) == T else sub_ds.isel(time=take))
    scores = np.empty((len(edges), len(take), len(runs)))
    for i, (a, b) in enumerate(edges):
        scores[i] = _link_score(m, sub, a, b, lookups, compiled)
    at = np.searchsorted(take, times)  # where the search's times are among those taken
    starts = [n for n in g.nodes if g.nodes[n].get("state")]
    found = strongest_path_loops(g, edges, scores, starts, times=list(at), rotate=rotate_loop)
    found = {c: [int(take[j]) for j in ts] for c, ts in found.items()}
    # the links' scores at the search's times (all of them when it searched every saved time)
    search = (edges, scores if len(take) == len(times) else scores[:, at], starts, runs, times)
    if length_bound is not None:
        found = {c: t for c, t in found.items() if len(c) <= length_bound}
    if not found:  # nothing moves along any loop: keep each state's shortest loop, never found active
        for st in starts:
            paths = [nx.shortest_path(g, w, st) for w in g.successors(st) if nx.has_path(g, w, st)]
            if paths:
                c = rotate_loop([st, *min(paths, key=len)[:-1]]) if min(paths, key=len)[0] != st else (st,)
                if length_bound is None or len(c) <= length_bound:
                    found.setdefault(c, [])
    return found, search


def _explained(search, g, part_of, cycles, result):
    """Share of each partition's loop-score mass that the kept loops make up: (time, run, partition).

    ``sum |score|`` of the kept loops over that plus the estimated mass of the loops not found
    (:func:`trafficsys.analysis.discovery.explained_share`), at the times and in the runs searched (the
    link scores the search computed); 1 where no loop is active.
    """
    import xarray as xr

    from .discovery import explained_share

    edges, scores, starts, runs, times = search
    starts = [s for s in starts if s in part_of]
    missed, total, error = explained_share(g, edges, scores, cycles, starts, standard_error=True)
    kept = np.abs(result.loop_scores.isel(time=times, run=runs).values)  # (time, run, loop)
    P = len(result.partitions)
    share = np.ones((P, *kept.shape[:2]))
    spread = np.zeros_like(share)
    known = seen = 0.0
    for p in range(P):
        mass = kept[:, :, [k for k, lp in enumerate(result.loops) if lp.partition == p]].sum(axis=2)
        mine = [i for i, s in enumerate(starts) if part_of[s] == p]
        lost = missed[mine].sum(axis=0)
        whole = mass + lost
        share[p] = np.where(whole > 0, mass / np.where(whole > 0, whole, 1.0), 1.0)
        # the share's standard error from the missed mass's (independent walks from each stock):
        # d share / d lost = -mass / whole**2
        lost_error = np.sqrt((error[mine] ** 2).sum(axis=0))
        spread[p] = np.where(whole > 0, mass * lost_error / np.where(whole > 0, whole, 1.0) ** 2, 0.0)
        known += float(mass.sum())
        seen += float((total[mine] - missed[mine]).sum())
    out = xr.DataArray(
        share,
        dims=("partition", "time", "run"),
        coords={
            "time": result.relative["time"].values[times],
            "run": result.relative["run"].values[runs],
            "partition": np.arange(P),
        },
    ).transpose("time", "run", "partition")
    # the sampler's check on itself: the found loops' activity as the walks estimate it, over its known value
    out.attrs["recovered"] = seen / known if known > 0 else 1.0
    # and the sampling's precision: the median (over times, runs and partitions) standard error of the share
    out.attrs["standard_error"] = float(np.median(spread))
    return out
