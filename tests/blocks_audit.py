"""Recompute every number a blocks report states, from plain runs of the model.

``audit(model, report)`` rebuilds the sampled futures the report used, runs the
model plainly (``ts.simulate``; model copies with an auxiliary added to expose a
MIN argument, a saturating form or a term, or with a loop link frozen), and
recomputes each numeric piece of evidence of each block by its documented
definition, without the detectors' code.  It returns one row per evidence item:
``(block kind, evidence key, reported value, recomputed value)``; an item it
does not know how to recompute raises, so a new kind of evidence cannot pass
unchecked.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

import trafficsys as ts
from trafficsys.analysis.blocks.context import REL_STEP
from trafficsys.engine import as_generator, sample_constants
from trafficsys.engine.spinup import spinup_spec
from trafficsys.model import ast
from trafficsys.model.elements import Stock
from trafficsys.model.names import canonical
from trafficsys.model.printer import to_xmile

#: the detectors' documented thresholds (docs/blocks.md)
PLATEAU = 0.2
DOMINANCE_RUNS = 12


class NotAudited(AssertionError):
    """An evidence item the audit has no independent computation for."""


# ----------------------------------------------------------------------------- plain runs
class Plain:
    """The report's futures run plainly, with the helpers each recomputation needs."""

    def __init__(self, model: ts.Model, report):
        self.report = report
        scen = report.scenario
        self.m = model.with_scenario(scen) if scen is not None else model
        levers = {canonical(lv.name) for lv in report.levers}
        fixed = set(levers)
        if isinstance(scen, str):
            fixed |= {canonical(k) for k in model.scenarios[scen].overrides}
        elif isinstance(scen, dict):
            fixed |= {canonical(k) for k in scen}
        # switches are set, not sampled; a model's spin-up derives its initial values from each future
        fixed |= {canonical(c.name) for c in self.m.constants if c.role and "structure" in c.role}
        spec = spinup_spec(model)
        fixed |= set(spec.derived()) if spec is not None else set()
        names = [
            canonical(c.name)
            for c in self.m.constants
            if c.range is not None and c.range[1] > c.range[0] and canonical(c.name) not in fixed
        ]
        self.n = report.n
        self.sample = (
            sample_constants(self.m, self.n, as_generator(report.seed), names=names) if names else {}
        )
        if spec is not None and self.sample:  # the status quo run to rest, each future on its own
            at_rest = ts.simulate(
                model, scenario=spec.scenario, params=self.sample, stop=model.specs.start + spec.years
            ).ds.isel(time=-1)
            self.sample.update(
                {c: np.asarray(at_rest[s].values, dtype=float) for c, s in spec.initial.items()}
            )
        self.target = canonical(report.target)
        self.ds = self.run(self.m)
        self.t = np.asarray(self.ds["time"].values, dtype=float)
        g = self.m.graph()
        self.graph = nx.DiGraph([(a, b) for a, b, d in g.edges(data=True) if d.get("via") != "initial"])
        self.graph.add_nodes_from(g.nodes)

    def run(self, m, extra=None, repeat=1):
        params = {k: np.tile(v, repeat) for k, v in self.sample.items()}
        for k, v in (extra or {}).items():
            params[k] = np.asarray(v, dtype=float)
        return ts.simulate(m, params=params or None).ds

    def series(self, name, ds=None):
        ds = self.ds if ds is None else ds
        da = ds[name]
        if "time" not in da.dims:
            return np.broadcast_to(
                np.atleast_1d(da.values), (ds.sizes["time"], np.atleast_1d(da.values).size)
            )
        a = da.transpose("time", ...).values
        return a if a.ndim == 2 else a[:, None]

    def integral(self, a):
        return np.trapezoid(a, self.t, axis=0)

    def metric(self, name, ds=None, m=None):
        """The target's measure: a stock's final value, anything else's time-mean."""
        a = self.series(name, ds)
        if isinstance((m or self.m)[name], Stock):
            return a[-1]
        return np.trapezoid(a, self.t, axis=0) / (self.t[-1] - self.t[0])

    def with_aux(self, exprs: dict[str, ast.Expr], m=None):
        """A copy of the model with each expression exposed as an auxiliary."""
        m2 = (m or self.m).copy()
        for k, node in exprs.items():
            m2.aux(k, to_xmile(node))
        return m2

    def response(self, lever, *, m=None, watch=(), rel=REL_STEP, extra=None):
        """Central difference of the target (and watched metrics) to a constant, per future."""
        m = m or self.m
        v = float(m[lever].value)
        h = abs(v) * rel if v != 0 else (np.diff(m[lever].range)[0] * rel if m[lever].range else rel)
        values = np.concatenate([np.full(self.n, v + h), np.full(self.n, v - h)])
        ext = {k: np.tile(np.asarray(x, dtype=float), 2) for k, x in (extra or {}).items()}
        ds = self.run(m, {lever: values, **ext}, repeat=2)
        y = self.metric(self.target, ds, m)
        d = (y[: self.n] - y[self.n :]) / (2 * h)
        base = 0.5 * (y[: self.n] + y[self.n :])
        with np.errstate(divide="ignore", invalid="ignore"):
            el = np.where(base != 0, d * v / base, np.nan)
        w = {}
        for name in watch:
            mw = self.metric(name, ds, m)
            w[name] = (mw[: self.n], mw[self.n :], h)
        return d, el, w

    def levers_reaching(self, names):
        names = set(names)
        return [
            canonical(lv.name)
            for lv in self.report.levers
            if (nx.descendants(self.graph, canonical(lv.name)) | {canonical(lv.name)}) & names
        ]


def med(a):
    a = np.asarray(a, dtype=float)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else float("nan")


# ----------------------------------------------------------------------------- per kind
def _constraint(p: Plain, var: str):
    """The MIN call or saturating form in ``var``'s equation (the audit handles one per variable)."""
    from trafficsys.analysis.blocks.detectors import min_of_if, saturating_inputs

    fixed = {canonical(c.name) for c in p.m.constants}
    tree = p.m.ast(var)
    mins = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.func == "MIN" and len(n.args) >= 2]
    mins += [_IfMin(n, pair) for n in ast.walk(tree) if isinstance(n, ast.If) and (pair := min_of_if(n))]
    forms = [(n, saturating_inputs(n, fixed)) for n in ast.walk(tree)]
    forms = [(n, xs) for n, xs in forms if xs]
    if len(mins) + len(forms) != 1:
        raise NotAudited(f"'{var}' holds {len(mins)} MIN calls and {len(forms)} saturating forms")
    return ("min", mins[0], None) if mins else ("form", forms[0][0], forms[0][1])


class _IfMin:
    """A MIN written as a condition: its two arguments, and the IF node to replace."""

    def __init__(self, node, pair):
        self.node, self.args = node, tuple(pair)


def _multiplied(p: Plain, var: str, node_match, k: str):
    """A copy of the model with the matched node of ``var`` multiplied by a new constant ``k`` (= 1)."""
    from trafficsys.analysis.blocks.context import replace_in, with_equation

    tree = replace_in(p.m.ast(var), node_match, lambda n: ast.Binary("*", n, ast.Name(k)))
    m2 = with_equation(p.m, var, tree)
    m2.constant(k, 1.0)
    return m2


def audit_capacity_ceiling(p: Plain, b):
    var = b.variables[0]
    kind, node, inputs = _constraint(p, var)
    out = {}
    if kind == "min":
        args = {f"audit_arg_{i}": a for i, a in enumerate(node.args)}
        ds = p.run(p.with_aux(args))
        vals = np.stack([p.series(k, ds) for k in args])
        low = vals.min(axis=0)
        binds = np.abs(vals - low) <= 1e-9 * np.maximum(1.0, np.abs(low))
        alone = binds & ~binds.all(axis=0)
        share = alone.mean(axis=1)
        c = int(np.argmax(np.median(share, axis=1)))
        out["share of time binding"] = med(share[c])
        others = np.min(np.delete(vals, c, axis=0), axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(alone[c], others / vals[c], np.nan)
        out["demand over capacity"] = med(
            [np.nanmean(r) if np.isfinite(r).any() else np.nan for r in ratio.T]
        )
        if isinstance(node, _IfMin):  # scale the capacity in the condition and in the branches
            m2 = _multiplied(p, var, lambda n: n == node.args[c], "audit_capacity")
        else:
            target_node = node.args[c]
            m2 = _multiplied(p, var, lambda n: n is target_node, "audit_capacity")
        cap_names = ast.names(node.args[c])
        other_names = set().union(*(ast.names(a) for i, a in enumerate(node.args) if i != c))
        up = [lv for lv in p.levers_reaching(other_names) if lv not in p.levers_reaching(cap_names)]
    else:
        h = 0.01
        bumped = ast.transform(
            node,
            lambda n: (
                ast.Binary("*", n, ast.Num(1 + h)) if isinstance(n, ast.Name) and n.name in inputs else n
            ),
        )
        ds = p.run(p.with_aux({"audit_form": node, "audit_form_bumped": bumped}))
        y0, y1 = p.series("audit_form", ds), p.series("audit_form_bumped", ds)
        with np.errstate(divide="ignore", invalid="ignore"):
            el = np.where(np.abs(y0) > 0, np.log(np.abs(y1) / np.abs(y0)) / np.log1p(h), np.nan)
        out["share of time binding"] = med((np.nan_to_num(el, nan=1.0) < PLATEAU).mean(axis=0))
        out["form elasticity"] = med(np.nanmedian(el, axis=0))
        m2 = _multiplied(p, var, lambda n: n is node, "audit_capacity")
        up = p.levers_reaching(inputs)
    _, cap_el, _ = p.response("audit_capacity", m=m2)
    out["target elasticity to capacity"] = med(cap_el)
    if up:
        best = np.max(np.abs(np.stack([p.response(lv)[1] for lv in up])), axis=0)
        out["best upstream lever elasticity"] = med(best)
    return out


def audit_congestion(p: Plain, b):
    lv = b.levers[0].name if b.levers else None
    d, el, _ = p.response(lv)
    c = p.m[lv]
    width = c.range[1] - c.range[0] if c.range and c.range[1] > c.range[0] else abs(c.value) or 1.0
    y = p.metric(p.target)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(y != 0, d * width / 10 / y, np.nan)
    return {
        "elasticity": med(el),
        "effect over range": med(d * width),
        "relative effect per tenth of range": med(relative),
    }


def audit_disconnected_lever(p: Plain, b):
    out = {}
    for key in b.evidence:
        if key.startswith("path from "):
            lv = key[len("path from ") :]
            out[key] = "none" if not (lv in p.graph and p.target in nx.descendants(p.graph, lv)) else "a path"
    if "elasticity" in b.evidence:
        lv = b.variables[0]
        d, el, _ = p.response(lv)
        c = p.m[lv]
        h = abs(c.value) * REL_STEP if c.value else REL_STEP
        y = p.metric(p.target)
        none = np.abs(d * max(abs(c.value), h)) <= 1e-3 * np.maximum(np.abs(y), 1e-12)
        out["elasticity"] = med(el)
        out["no effect"] = float(np.mean(none))
    return out


def audit_delay_attrition(p: Plain, b):
    s = b.variables[0]
    outs = [canonical(f) for f in p.m[s].outflows]
    target_flows = (
        {canonical(f) for f in p.m[p.target].inflows} if isinstance(p.m[p.target], Stock) else {p.target}
    )
    # the stocks from which material flows, through flows, into the target
    feeds = {canonical(x.name): {canonical(f) for f in x.inflows} for x in p.m.stocks}
    drains = {canonical(x.name): {canonical(f) for f in x.outflows} for x in p.m.stocks}
    material, todo = (
        set(),
        [p.target] if p.target in feeds else [k for k, o in drains.items() if p.target in o],
    )
    while todo:
        k = todo.pop()
        if k not in material:
            material.add(k)
            todo += [src for src, o in drains.items() if o & feeds[k]]
    fills = {f for k in material for f in feeds[k]}
    lost_flows = [f for f in outs if f not in target_flows and f not in fills and s in p.m.dependencies(f)]
    moved_flows = [f for f in outs if f in target_flows or f in fills]
    st = p.integral(p.series(s))
    moved = sum(p.integral(p.series(f)) for f in moved_flows)
    lost = sum(p.integral(p.series(f)) for f in lost_flows)
    with np.errstate(divide="ignore", invalid="ignore"):
        delay = np.where(moved > 0, st / moved, np.inf)
        decay = np.where(lost > 0, st / lost, np.inf)
        return {
            "share lost": med(lost / (moved + lost)),
            "delay": med(delay),
            "decay time": med(decay),
            "delay over decay time": med(delay / decay),
        }


def audit_eroded_cooperation(p: Plain, b):
    s = b.variables[0]
    x = p.series(s)
    out = {"decline": med(1 - x[-1] / x[0])}
    stock = p.m[s]
    amounts = {}
    total = sum(p.integral(p.series(canonical(f))) for f in stock.outflows)
    for f in (canonical(x) for x in stock.inflows):  # negative terms of a net inflow
        from trafficsys.analysis.blocks.detectors import _signed_terms

        terms = [t for sgn, t in _signed_terms(p.m.ast(f)) if sgn < 0]
        if terms:
            ds = p.run(p.with_aux({f"audit_term_{i}": t for i, t in enumerate(terms)}))
            for i, t in enumerate(terms):
                a = p.integral(np.abs(p.series(f"audit_term_{i}", ds)))
                total = total + a
                key = f"{f} (term {_short(t)})" if len(terms) > 1 else f
                amounts[key] = a
    for key in b.evidence:
        if key.startswith("depleting flow "):
            f = key[len("depleting flow ") :]
            a = amounts[f] if f in amounts else p.integral(p.series(f))
            out[key] = med(a / total)
    driven = sum(
        (
            amounts[k[len("depleting flow ") :]]
            if k[len("depleting flow ") :] in amounts
            else p.integral(p.series(k[len("depleting flow ") :]))
        )
        for k in b.evidence
        if k.startswith("depleting flow ")
    )
    out["driven share"] = med(driven / total)
    return out


def _short(node, limit=40):
    text = to_xmile(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dominance(p: Plain):
    if not hasattr(p, "_dom"):
        ds = p.ds.isel(run=slice(0, min(p.n, DOMINANCE_RUNS))) if "run" in p.ds.dims else p.ds
        d = ts.loop_dominance(p.m, ds)
        rel = np.nan_to_num(np.abs(d.relative.transpose("time", "run", "loop").values))
        p._dom = {frozenset(lp.variables): (lp, rel[:, :, k]) for k, lp in enumerate(d.loops)}
    return p._dom


def audit_missing_accountability(p: Plain, b):
    out = {}
    outcomes = {p.target} | (set(p.m[p.target].inflows) if isinstance(p.m[p.target], Stock) else set())
    from trafficsys.cld.diagram import role_tags

    outcomes |= {k for k in p.m.names() if "outcome" in role_tags(p.m[k].role)}
    for key in b.evidence:
        if key.startswith("path to "):
            res = key[len("path to ") :]
            out[key] = (
                "none"
                if not any(res in nx.descendants(p.graph, o) for o in outcomes if o in p.graph)
                else "a path"
            )
        elif key.startswith("loop through "):
            res = key[len("loop through ") :]
            peaks = [
                rel.mean(axis=1).max()
                for vs, (lp, rel) in _dominance(p).items()
                if res in vs and vs & outcomes
            ]
            out[key] = float(max(peaks))
            out[key + " (count)"] = len(peaks)
    return out


def audit_policy_resistance(p: Plain, b):
    from trafficsys.analysis.blocks.context import replace_in, with_equation

    ev = b.evidence
    cut_key = ev["effect loop cut"].name  # "... loop cut at a -> b"
    a, c = cut_key.rsplit(" at ", 1)[1].split(" -> ")
    lv = b.levers[0].name
    d_intact, _, _ = p.response(lv)
    frozen = "audit_frozen"
    tree = replace_in(
        p.m.ast(c), lambda n: isinstance(n, ast.Name) and n.name == a, lambda n: ast.Name(frozen)
    )
    m2 = with_equation(p.m, c, tree)
    m2.constant(frozen, 0.0)
    a_mean = np.trapezoid(p.series(a), p.t, axis=0) / (p.t[-1] - p.t[0])
    d_cut, _, _ = p.response(lv, m=m2, extra={frozen: a_mean})
    with np.errstate(divide="ignore", invalid="ignore"):
        absorbed = np.where(np.abs(d_cut) > 1e-12, 1 - d_intact / d_cut, np.nan)
    out = {"effect intact": med(d_intact), "effect loop cut": med(d_cut), "share absorbed": med(absorbed)}
    if "loop dominance" in ev:
        top = b.loops[0]
        _, rel = _dominance(p)[frozenset(top["variables"])]
        out["loop dominance"] = float(rel.mean())
    return out


def audit_burden_shift(p: Plain, b):
    ev = b.evidence
    out = {}
    if "cross effect" not in ev:
        return out
    fundamental = b.variables[0]
    lv = b.levers[0].name
    _, _, w = p.response(lv, watch=[fundamental])
    plus, minus, h = w[fundamental]
    v = float(p.m[lv].value)
    with np.errstate(divide="ignore", invalid="ignore"):
        base = 0.5 * (plus + minus)
        out["cross effect"] = med(np.where(base != 0, (plus - minus) / (2 * h) * v / base, np.nan))
    # the sweep over the lever's range in the first future
    lo, hi = p.m[lv].range
    grid = np.linspace(lo, hi, 11)
    params = {k: np.full(11, x[0]) for k, x in p.sample.items()}
    params[lv] = grid
    ds = ts.simulate(p.m, params=params).ds
    wv = p.metric(fundamental, ds)
    now = float(np.interp(v, grid, wv))
    out["capacity lost"] = 0.0 if wv.max() <= 0 else max(0.0, 1 - now / float(wv.max()))
    if "relief threshold" in ev:
        rec = [g for g, x in zip(grid[grid < v], wv[grid < v]) if x > now * 1.05 + 1e-12]
        out["relief threshold"] = float(max(rec))
    if "side effect saturated" in ev:
        raise NotAudited("side effect saturation")
    return out


AUDITS = {
    "capacity_ceiling": audit_capacity_ceiling,
    "congestion": audit_congestion,
    "disconnected_lever": audit_disconnected_lever,
    "delay_attrition": audit_delay_attrition,
    "eroded_cooperation": audit_eroded_cooperation,
    "missing_accountability": audit_missing_accountability,
    "policy_resistance": audit_policy_resistance,
    "burden_shift": audit_burden_shift,
}

#: evidence that names rather than measures (paths, roles): checked for what it names, not recomputed
TEXT = {"helping path", "harming path", "roles", "tags", "variant"}


def audit(model: ts.Model, report) -> list[tuple[str, str, object, object]]:
    """Every evidence item of every block: (kind, key, reported, recomputed)."""
    p = Plain(model, report)
    rows = []
    for b in report.blocks:
        again = AUDITS[b.kind](p, b)
        for key, e in b.evidence.items():
            if key in TEXT:
                continue
            if key not in again:
                raise NotAudited(f"{b.kind}: evidence '{key}' has no independent computation")
            rows.append((b.kind, key, e.value, again[key]))
        for key in again:
            if key.endswith(" (count)"):
                n_loops = int(b.evidence[key[: -len(" (count)")]].name.split(" of the ")[1].split(" ")[0])
                rows.append((b.kind, key, n_loops, again[key]))
    return rows
