"""One detector per block kind.

Each detector reads the :class:`~.context.Context` (structure, the sampled
ensemble, lever responses) and returns :class:`Finding` objects: where the
block sits, its evidence, a per-future strength and whether it holds in each
future.  Detection never looks at variable names: only at the equations'
structure (MIN, graphical functions, stocks and their flows, loops and their
polarity, archetype roles), the runs and the responses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import networkx as nx
import numpy as np

from ...errors import ModelError
from ...model import ast
from ...model.elements import Aux, Constant, Flow, Lookup, Stock
from ...model.names import canonical
from .context import Context, _integral, fresh_name, of_kind, replace_in, with_equation
from .report import Evidence

__all__ = ["Finding", "DETECTORS", "BINDING", "RESISTANCE", "ATTRITION", "DECLINE", "IDLE_LOOP"]

#: a constraint is a ceiling in a future when it binds at least this share of the time
BINDING = 0.5
#: a loop resists a lever in a future when it absorbs at least this share of the lever's direct effect
RESISTANCE = 0.3
#: a pipeline suffers attrition in a future when at least this share of what leaves it is lost
ATTRITION = 0.3
#: a stock is eroded in a future when it ends at least this share below its initial value
DECLINE = 0.1
#: a loop "never matters" when its absolute relative loop score never reaches this
IDLE_LOOP = 0.05
#: a lever's elasticity below this (in absolute value) counts as no effect
NO_EFFECT = 1e-3


@dataclasses.dataclass
class Finding:
    """A block candidate before ranking (see :class:`~.report.Block` for the fields)."""

    kind: str
    variables: list[str]
    evidence: dict[str, Evidence]
    strength: np.ndarray  # per future, in [0, 1]
    holds: np.ndarray  # per future, bool
    explanation: str
    levers: list[str] = dataclasses.field(default_factory=list)
    loops: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    structural: bool = False  # no behavioural magnitude: fixed strength


def _med(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else float("nan")


def _share(mask: np.ndarray) -> float:
    return float(np.mean(np.asarray(mask, dtype=bool))) if np.size(mask) else float("nan")


def _levers_reaching(ctx: Context, names: Iterable[str]) -> list[str]:
    names = set(names)
    out = []
    for lv in ctx.reaching:
        down = nx.descendants(ctx.graph, lv) | {lv}
        if down & names:
            out.append(lv)
    return out


def _ordered(ctx: Context, names: Iterable[str]) -> list[str]:
    """Names in model order (stable output)."""
    names = set(names)
    return [k for k in ctx.m.names() if k in names]


# =============================================================================== capacity ceiling
@dataclasses.dataclass
class _Site:
    variable: str  # the variable whose equation holds the constraint
    node: Any  # the MIN call, graphical-function call or saturating form (None for a lookup variable)
    kind: str  # "min", "lookup" or "form"
    args: list[Any]  # MIN arguments (AST); for a lookup: [input]; for a form: [the form]
    table: Lookup | None = None
    inputs: frozenset[str] = frozenset()  # for a form: the variables it saturates in


#: a saturating form is "on its plateau" when a 1% rise of its input raises it by less than this share of 1%
PLATEAU_ELASTICITY = 0.2


def _signed_terms(node: Any, sign: int = 1) -> list[tuple[int, Any]]:
    """Split a sum into its terms with their signs: ``a - b + c`` -> ``[(+1, a), (-1, b), (+1, c)]``."""
    if isinstance(node, ast.Binary) and node.op in "+-":
        right = -sign if node.op == "-" else sign
        return _signed_terms(node.left, sign) + _signed_terms(node.right, right)
    if isinstance(node, ast.Unary) and node.op == "-":
        return _signed_terms(node.operand, -sign)
    return [(sign, node)]


def saturating_inputs(node: Any, fixed: set[str]) -> frozenset[str]:
    """Return the variables a saturating algebraic form saturates in, or an empty set if ``node`` is not one.

    Recognised (``k`` any expression of constants, ``x`` anything that varies):
    ``x / (x + k)`` (and ``x / (k + x)``, with factors in the numerator), ``1 - EXP(-x / k)``
    (any argument of EXP that varies). Shares such as ``a / (a + b)`` with ``b``
    varying are not saturation and are not recognised.
    """
    if isinstance(node, ast.Binary) and node.op == "/":
        xs = ast.names(node.left) - fixed
        terms = [t for _, t in _signed_terms(node.right)]
        if xs and len(terms) >= 2 and all(sgn > 0 for sgn, _ in _signed_terms(node.right)):
            holds_x = [t for t in terms if xs <= ast.names(t)]
            fixed_terms = [t for t in terms if not (ast.names(t) - fixed)]
            if holds_x and fixed_terms and len(holds_x) + len(fixed_terms) == len(terms):
                return frozenset(xs)
    if (
        isinstance(node, ast.Binary)
        and node.op == "-"
        and ast.literal_value(node.left) == 1
        and isinstance(node.right, ast.Call)
        and node.right.func == "EXP"
        and len(node.right.args) == 1
    ):
        xs = ast.names(node.right.args[0]) - fixed
        if xs:
            return frozenset(xs)
    return frozenset()


def constraint_sites(ctx: Context) -> list[_Site]:
    """MIN calls and graphical functions in the equations upstream of the target."""
    lookups = ctx.lookups
    fixed = {canonical(c.name) for c in ctx.m.constants}
    sites: list[_Site] = []
    for v in _ordered(ctx, ctx.upstream):
        e = ctx.m[v]
        if isinstance(e, Lookup):
            if e.input is not None:
                sites.append(_Site(v, None, "lookup", [ctx.m.ast(v)], e))
            continue
        if isinstance(e, (Constant, Stock)):
            continue
        tree = ctx.m.ast(v)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.func == "MIN" and len(node.args) >= 2:
                sites.append(_Site(v, node, "min", list(node.args)))
            elif isinstance(node, ast.If) and (pair := min_of_if(node)):
                sites.append(_Site(v, node, "min", list(pair)))
            elif isinstance(node, ast.Call) and node.func in lookups and len(node.args) == 1:
                sites.append(_Site(v, node, "lookup", [node.args[0]], lookups[node.func]))
            else:
                xs = saturating_inputs(node, fixed)
                if xs:
                    sites.append(_Site(v, node, "form", [node], inputs=xs))
    return sites


def min_of_if(node: Any) -> tuple[Any, Any] | None:
    """Return ``(x, y)`` when ``node`` is a MIN written as a condition (``IF x > y THEN y ELSE x``), else None."""
    c = node.cond
    if not (isinstance(c, ast.Binary) and c.op in (">", ">=", "<", "<=")):
        return None
    x, y = c.left, c.right
    small, large = (y, x) if c.op in (">", ">=") else (x, y)  # the branch taken when the condition holds
    if node.then == small and node.orelse == large:
        return (x, y)
    return None


def _form_elasticity(ctx: Context, site: _Site) -> np.ndarray:
    """Return the elasticity ``(time, run)`` of a saturating form to its inputs, from the saved runs."""
    h = 0.01
    bumped = replace_in(
        site.node,
        lambda n: isinstance(n, ast.Name) and n.name in site.inputs,
        lambda n: ast.Binary("*", n, ast.Num(1.0 + h)),
    )
    y0 = _evaluate(ctx, site.node, site.variable)
    y1 = _evaluate(ctx, bumped, site.variable)
    with np.errstate(divide="ignore", invalid="ignore"):
        el = np.log(np.abs(y1) / np.abs(y0)) / np.log1p(h)
    return np.where((np.abs(y0) > 0) & np.isfinite(el), el, np.nan)


def _evaluate(ctx: Context, node: Any, variable: str) -> np.ndarray:
    from ...engine.expression import evaluate

    env = ctx.env()
    shape = next(iter(env.values())).shape if env else (len(ctx.time), ctx.n)
    out = evaluate(
        node,
        env,
        time=ctx.time[:, None],
        dt=ctx.time_settings.dt,
        start=ctx.time_settings.start,
        stop=ctx.time_settings.stop,
        lookups=ctx.lookups,
        variable=variable,
    )
    return np.broadcast_to(np.asarray(out, dtype=float), shape)


def _multiplier_model(ctx: Context, site: _Site, arg_index: int):
    """Return a copy of the model with the constraint's capacity term multiplied by a new constant (1 = as is)."""
    k = fresh_name(ctx.m, "blocks_capacity_multiplier")
    mult = ast.Name(k)
    if site.node is None:  # a graphical function that is a variable: scale it where it is used
        m2 = ctx.m.copy()
        for user in ctx.graph.successors(site.variable):
            e = m2[user]
            if not isinstance(e, (Flow, Aux)):
                continue
            tree = replace_in(
                _tree(m2, user),
                lambda n: isinstance(n, ast.Name) and n.name == site.variable,
                lambda n: ast.Binary("*", n, mult),
            )
            m2 = with_equation(m2, user, tree)
    else:

        def new(n):
            if site.kind in ("lookup", "form"):
                return ast.Binary("*", n, mult)
            args = site.args if isinstance(n, ast.If) else n.args  # a MIN written as IF becomes a MIN call
            return ast.Call(
                "MIN", tuple(ast.Binary("*", a, mult) if i == arg_index else a for i, a in enumerate(args))
            )

        tree = replace_in(_tree(ctx.m, site.variable), lambda n: n is site.node, new)
        m2 = with_equation(ctx.m, site.variable, tree)
    m2.constant(k, 1.0, doc="capacity multiplier added by find_blocks")
    return m2, k


def _tree(m, name: str) -> ast.Expr:
    """Return the equation of ``name`` (a flow or auxiliary) as a tree."""
    tree = m.ast(name)
    if tree is None:
        raise ModelError(f"'{name}' has no equation to rewrite", variable=name)
    return tree


def _table(site: _Site) -> Lookup:
    """Return the graphical function of a lookup site."""
    if site.table is None:
        raise ModelError(
            f"the constraint in '{site.variable}' has no graphical function", variable=site.variable
        )
    return site.table


def _lookup_saturation(table: Lookup, x: np.ndarray) -> np.ndarray:
    """Return True where a graphical function sits on its upper plateau (near its largest value, flat)."""
    from ...engine.expression import interpolate_lookup

    xs = np.asarray(table.xs, dtype=float)
    ys = np.asarray(table.ys, dtype=float)
    if len(xs) < 2 or ys.max() == ys.min():
        return np.zeros_like(x, dtype=bool)
    span = xs[-1] - xs[0]
    mean_slope = abs(ys.max() - ys.min()) / span
    h = 0.01 * span
    y = interpolate_lookup(table, x)
    slope = np.abs(interpolate_lookup(table, x + h) - interpolate_lookup(table, x - h)) / (2 * h)
    top = y >= ys.max() - 0.05 * (ys.max() - ys.min())
    return top & (slope <= 0.1 * mean_slope)


def capacity_ceiling(ctx: Context) -> list[Finding]:
    out = []
    for site in constraint_sites(ctx):
        try:
            values = [_evaluate(ctx, a, site.variable) for a in site.args]
        except Exception as e:  # noqa: BLE001 - stateful or unsupported parts: this site cannot be assessed
            ctx.not_assessed.append(
                f"the constraint in '{site.variable}' could not be re-evaluated from the "
                f"saved runs ({type(e).__name__}: {str(e)[:120]})"
            )
            continue
        if site.kind == "min":
            stack = np.stack(values)
            low = stack.min(axis=0)
            binds = np.abs(stack - low) <= 1e-9 * np.maximum(1.0, np.abs(low))
            ties = binds.all(axis=0)
            share = (binds & ~ties).mean(axis=1)  # (arg, run): time share each argument alone binds
            c = int(np.argmax(np.median(share, axis=1)))
            names_c = ast.names(site.args[c])
            others = [a for i, a in enumerate(site.args) if i != c]
            other_names = set().union(*(ast.names(a) for a in others)) if others else set()
            if not other_names - {canonical(x.name) for x in ctx.m.constants}:
                continue  # MIN of a variable and fixed numbers only: a bound, not demand against capacity
            up_levers = [
                lv for lv in _levers_reaching(ctx, other_names) if lv not in _levers_reaching(ctx, names_c)
            ]
            bind_c = share[c]
            demand = np.min(np.stack([values[i] for i in range(len(values)) if i != c]), axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(
                    binds[c] & ~ties, demand / np.where(values[c] != 0, values[c], np.nan), np.nan
                )
            excess = np.array(
                [
                    np.nanmean(ratio[:, r]) if np.any(np.isfinite(ratio[:, r])) else np.nan
                    for r in range(ratio.shape[1])
                ]
            )
            term = f"MIN argument {c + 1} ({_short(site.args[c])})"
        elif site.kind == "form":
            form_el = _form_elasticity(ctx, site)
            sat = np.nan_to_num(form_el, nan=1.0) < PLATEAU_ELASTICITY
            bind_c = sat.mean(axis=0)
            up_levers = _levers_reaching(ctx, site.inputs)
            excess = np.full(ctx.n, np.nan)
            term = f"saturating form {_short(site.node, 80)}, on its plateau,"
            c = 0
        else:
            x = values[0]
            sat = _lookup_saturation(_table(site), x)
            bind_c = sat.mean(axis=0)
            up_levers = _levers_reaching(ctx, ast.names(site.args[0]))
            excess = np.full(ctx.n, np.nan)
            term = f"graphical function '{_table(site).name}' on its upper plateau"
            c = 0
        if _med(bind_c) < 0.05:
            continue
        m2, k = _multiplier_model(ctx, site, c)
        cap = ctx.response(k, model=m2)
        cap_el = cap.elasticity
        up = {lv: ctx.response(lv).elasticity for lv in up_levers}
        best_up = np.max(np.abs(np.stack(list(up.values()))), axis=0) if up else np.full(ctx.n, np.nan)
        holds = (bind_c >= BINDING) & (np.nan_to_num(cap_el) > 0.02)
        ev = {
            "share of time binding": Evidence(
                "share of time binding", _med(bind_c), _share(bind_c >= BINDING)
            ),
            "target elasticity to capacity": Evidence(
                "target elasticity to this capacity", _med(cap_el), _share(np.nan_to_num(cap_el) > 0.02)
            ),
        }
        if site.kind == "form":
            ev["form elasticity"] = Evidence(
                f"elasticity of the form to {', '.join(sorted(site.inputs))} (1 = proportional, 0 = flat)",
                _med(np.nanmedian(form_el, axis=0)),
            )
        if np.any(np.isfinite(excess)):
            ev["demand over capacity"] = Evidence(
                "demand over capacity while binding", _med(excess), _share(np.nan_to_num(excess) > 1)
            )
        if up:
            ev["best upstream lever elasticity"] = Evidence(
                "largest upstream lever elasticity", _med(best_up), _share(np.nan_to_num(cap_el) > best_up)
            )
        if site.kind == "min":
            cap_names = sorted(ast.names(site.args[c]))
        elif site.kind == "form":
            cap_names = sorted(ast.names(site.node) - site.inputs)
        else:
            cap_names = [canonical(_table(site).name)]
        where = [site.variable] + [v for v in _ordered(ctx, cap_names) if v != site.variable]
        up_txt = (
            f", against {_med(best_up):.2f} for the strongest upstream lever"
            if up and np.isfinite(_med(best_up))
            else ""
        )
        expl = (
            f"The path to '{ctx.target}' runs through '{site.variable}', where the {term} binds "
            f"{100 * _med(bind_c):.0f}% of the time (median future; a ceiling in {100 * _share(holds):.0f}% "
            f"of futures). A 1% larger capacity there raises the target by {_med(cap_el):.2f}%{up_txt}."
        )
        out.append(
            Finding(
                "capacity_ceiling",
                where,
                ev,
                np.clip(bind_c, 0, 1),
                holds,
                expl,
                levers=_levers_reaching(ctx, [site.variable]),
                loops=ctx.loop_summary([site.variable]),
            )
        )
    return _merge_by_variable(out)


def _short(node: Any, limit: int = 40) -> str:
    from ...model.printer import to_xmile

    text = to_xmile(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _merge_by_variable(found: list[Finding]) -> list[Finding]:
    best: dict[str, Finding] = {}
    for f in found:
        key = f.variables[0]
        if key not in best or _med(f.strength) * _share(f.holds) > _med(best[key].strength) * _share(
            best[key].holds
        ):
            best[key] = f
    return list(best.values())


# =============================================================================== policy resistance
def _is_drain(ctx: Context, lp) -> bool:
    """Tell whether a loop is a stock and one of its own outflows: first-order outflow, not compensation."""
    if len(lp.variables) != 2:
        return False
    a, b = lp.variables
    for s, f in ((a, b), (b, a)):
        if ctx.is_stock(s) and f in ctx.outflows(s):
            return True
    return False


def _self_regulation(ctx: Context, lp, forward: set[str]) -> bool:
    """Tell whether a loop is one stock that drains itself, or that regulates itself away from the lever's path.

    Neither is another part of the system compensating for the lever: a
    stock's own outflow (through auxiliaries or not) and a stock's own
    goal-seeking inflow are how every stock behaves.
    """
    stocks = [v for v in lp.variables if ctx.is_stock(v)]
    if len(stocks) != 1:
        return False
    s = stocks[0]
    i = lp.variables.index(s)
    entering = lp.variables[i - 1]
    if entering in ctx.outflows(s):
        return True
    return not any(v in forward for v in lp.variables if v != s and v not in ctx.inflows(s) + ctx.outflows(s))


def _cut_link(ctx: Context, lp, forward: set[str], flinks: set[tuple[str, str]]) -> tuple[str, str] | None:
    """Choose a link of the loop to cut: an equation link off the lever's forward path, nearest the path."""
    links = lp.links
    best = None
    for a, b in links:
        if ctx.is_stock(b) and a in ctx.inflows(b) + ctx.outflows(b):
            continue  # a flow into its stock: not an equation reference
        if (a, b) in flinks:
            continue  # on the lever's own path to the target
        e = ctx.m[b]
        if not isinstance(e, (Flow, Aux)):
            continue
        score = 0 if a in forward else 1
        if best is None or score < best[0]:
            best = (score, (a, b))
    return best[1] if best else None


def policy_resistance(ctx: Context, *, max_cuts: int = 8) -> list[Finding]:
    if ctx.loops is None:
        ctx.not_assessed.append(
            "policy resistance: the model's loops could not be listed (" + ctx.loop_note + ")"
        )
        return []
    dom = ctx.dominance()
    candidates: dict[tuple[str, str], dict[str, Any]] = {}
    for lv in ctx.reaching:
        forward, flinks = ctx.forward(lv)
        if len(forward) < 2:
            continue
        for lp in ctx.loops:
            if lp.polarity not in ("B", "?", "U") or _is_drain(ctx, lp) or not (set(lp.variables) & forward):
                continue
            if _self_regulation(ctx, lp, forward):
                continue
            cut = _cut_link(ctx, lp, forward, flinks)
            if cut is None:
                continue
            weight = dom.get(frozenset(lp.variables), {}).get("mean", 0.0) if dom else 1.0 / lp.length
            c = candidates.setdefault(cut, {"weight": 0.0, "loops": [], "levers": set()})
            c["weight"] += weight
            c["loops"].append(lp)
            c["levers"].add(lv)
    ranked = sorted(candidates.items(), key=lambda kv: -kv[1]["weight"])[:max_cuts]
    out = []
    for (a, b), info in ranked:
        levers = sorted(info["levers"], key=lambda lv: -abs(_med(ctx.response(lv).elasticity)))
        lv = levers[0]
        intact = ctx.response(lv)
        if _med(np.abs(intact.derivative)) == 0 and not np.any(intact.derivative):
            continue
        frozen = fresh_name(ctx.m, "blocks_frozen")
        tree = replace_in(
            _tree(ctx.m, b),
            lambda n, a=a: isinstance(n, ast.Name) and n.name == a,
            lambda n, f=frozen: ast.Name(f),
        )
        m2 = with_equation(ctx.m, b, tree)
        m2.constant(frozen, 0.0, doc="a loop link frozen by find_blocks")
        severed = ctx.response(lv, model=m2, extra={frozen: ctx.time_mean(a)})
        with np.errstate(divide="ignore", invalid="ignore"):
            resist = 1.0 - intact.derivative / severed.derivative
        valid = np.abs(severed.derivative) > 1e-12
        resist = np.where(valid, resist, np.nan)
        same_sign = np.sign(intact.derivative) == np.sign(severed.derivative)
        holds = (
            valid & (np.nan_to_num(resist) >= RESISTANCE) & (same_sign | (np.abs(intact.derivative) < 1e-12))
        )
        strength = np.clip(np.nan_to_num(resist), 0, 1)
        loops = ctx.loop_summary([], loops=info["loops"], top=3)
        top = loops[0] if loops else None
        ev = {
            "effect intact": Evidence(
                f"target change per unit of '{lv}', loop intact", _med(intact.derivative)
            ),
            "effect loop cut": Evidence(
                f"target change per unit of '{lv}', loop cut at {a} -> {b}", _med(severed.derivative)
            ),
            "share absorbed": Evidence(
                "share of the direct effect the loop absorbs", _med(resist), _share(holds)
            ),
        }
        if top is not None:
            ev["loop dominance"] = Evidence(
                f"dominance of {top['id']} (mean |relative loop score|)", top["dominance"]
            )
        where = _ordered(ctx, {a, b} | (set(top["variables"]) if top else set()))
        name = f" ({top['id']}{' ' + top['name'] if top and top['name'] else ''})" if top else ""
        expl = (
            f"Raising '{lv}' moves '{ctx.target}' {_med(intact.derivative):.3g} per unit, against "
            f"{_med(severed.derivative):.3g} with the balancing loop{name} cut at {a} -> {b}: the loop absorbs "
            f"{100 * _med(resist):.0f}% of the lever's direct effect (median future; at least "
            f"{100 * RESISTANCE:.0f}% in {100 * _share(holds):.0f}% of futures)."
        )
        out.append(Finding("policy_resistance", where, ev, strength, holds, expl, levers=levers, loops=loops))
    return out


# =============================================================================== delay attrition
def delay_attrition(ctx: Context) -> list[Finding]:
    out = []
    targets = ctx.material
    target_flows = {ctx.target} if not ctx.is_stock(ctx.target) else set(ctx.inflows(ctx.target))
    for s in _ordered(ctx, ctx.material - {ctx.target}):
        progress, loss = [], []
        for f in ctx.outflows(s):
            if f in target_flows or set(ctx.filled_by(f)) & targets:
                progress.append(f)
            elif s in ctx.m.dependencies(f):  # a decay of what the stock holds, not a share of the outcome
                loss.append(f)
        if not progress or not loss:
            continue
        stock_time = ctx.integral(s)
        moved = sum(ctx.integral(f) for f in progress)
        lost = sum(ctx.integral(f) for f in loss)
        with np.errstate(divide="ignore", invalid="ignore"):
            share_lost = np.where(moved + lost > 0, lost / (moved + lost), np.nan)
            delay = np.where(moved > 0, stock_time / moved, np.inf)
            decay = np.where(lost > 0, stock_time / lost, np.inf)
        holds = np.nan_to_num(share_lost) >= ATTRITION
        units = ctx.time_settings.time_units
        ev = {
            "share lost": Evidence(
                "share of what leaves the pipeline that is lost", _med(share_lost), _share(holds)
            ),
            "delay": Evidence(
                "mean time to the outcome (stock-time / outcome flow)", _med(delay), unit=units
            ),
            "decay time": Evidence("mean time to loss (stock-time / loss flow)", _med(decay), unit=units),
            "delay over decay time": Evidence(
                "delay / decay time", _med(delay / decay), _share(delay / decay >= 0.43)
            ),
        }
        expl = (
            f"'{s}' holds the pipeline to '{ctx.target}' for {_med(delay):.3g} {units} on average while "
            f"it loses its contents through {', '.join(loss)} every {_med(decay):.3g} {units}: "
            f"{100 * _med(share_lost):.0f}% of what leaves is lost before the outcome (median future; "
            f"over {100 * ATTRITION:.0f}% in {100 * _share(holds):.0f}% of futures)."
        )
        out.append(
            Finding(
                "delay_attrition",
                [s, *loss, *progress],
                ev,
                np.clip(np.nan_to_num(share_lost), 0, 1),
                holds,
                expl,
                levers=_levers_reaching(ctx, [s, *loss, *progress]),
                loops=ctx.loop_summary([s]),
            )
        )
    return out


# =============================================================================== congestion
def congestion(ctx: Context) -> list[Finding]:
    out = []
    for lv in ctx.reaching:
        r = ctx.response(lv)
        neg = r.derivative < -1e-12 * np.maximum(1.0, np.abs(ctx.y))
        if _share(neg) < 0.05:
            continue
        paths = ctx.signed_paths(lv)
        pos = [p for p, sgn in paths if sgn == "+"]
        negp = [p for p, sgn in paths if sgn == "-"] or [p for p, sgn in paths if sgn == "?"]
        if not pos or not negp:
            continue  # only one kind of path: the lever is harmful by design, not congested
        path = negp[0]
        if np.any(np.isfinite(r.elasticity)):
            el, key = r.elasticity, "elasticity"
            size = Evidence(f"elasticity of the target to '{lv}'", _med(el), _share(neg))
            said = f"elasticity {_med(el):.2f}"
        else:  # a lever at zero has no elasticity: the target's relative change for a tenth of its range
            with np.errstate(divide="ignore", invalid="ignore"):
                el = np.where(ctx.y != 0, r.effect / 10 / np.where(ctx.y != 0, ctx.y, 1.0), np.nan)
            key = "relative effect per tenth of range"
            size = Evidence(
                f"relative change of the target when '{lv}' rises by a tenth of its range (at 0 it has no "
                "elasticity)",
                _med(el),
                _share(neg),
            )
            said = f"{100 * _med(el):+.1f}% for a tenth of its range"
        strength = np.clip(np.abs(np.nan_to_num(el)), 0, 1) * neg
        ev = {
            key: size,
            "effect over range": Evidence(
                f"target change across the range of '{lv}'", _med(r.effect), _share(neg)
            ),
            "helping path": Evidence("a positive path", " -> ".join(pos[0])),
            "harming path": Evidence("the negative path that carries it", " -> ".join(path)),
        }
        mid = [v for v in path[1:-1]]
        feeds = " -> ".join(pos[0][1:-1]) or "a direct link"
        through = " -> ".join(mid) or "a direct link"
        if _med(el) < 0:
            expl = (
                f"More '{lv}' lowers '{ctx.target}' ({said}, negative in "
                f"{100 * _share(neg):.0f}% of futures) although it feeds the target through "
                f"{feeds}: the negative path through {through} outweighs it."
            )
        else:  # it helps in most futures: say where it harms, and that the median is positive
            expl = (
                f"In {100 * _share(neg):.0f}% of futures more '{lv}' lowers '{ctx.target}' although it feeds "
                f"the target through {feeds}: there the negative path through {through} outweighs it. In "
                f"the others it raises the target (over all futures, {said})."
            )
        out.append(
            Finding(
                "congestion", mid or [lv], ev, strength, neg, expl, levers=[lv], loops=ctx.loop_summary(mid)
            )
        )
    return out


# =============================================================================== burden shift
def burden_shift(ctx: Context) -> list[Finding]:
    from ...cld.archetype_search import archetypes

    try:
        matches = archetypes(ctx.cld)
    except ModelError as e:
        ctx.not_assessed.append(f"burden shifting: archetypes could not be searched ({e})")
        return []
    from ...cld.diagram import role_tags

    # where the model tags who intervenes and who bears the duty, a match must agree with the tags
    tags = {k: role_tags(ctx.m[k].role) for k in ctx.m.names()}
    fix_tagged = {k for k, t in tags.items() if t & _FIX_TAGS}
    duty_tagged = {k for k, t in tags.items() if t & _DUTY_TAGS}
    seen = set()
    out = []
    # every fix and fundamental solution is watched in one response run per lever (not one per pair)
    watch = sorted(
        {
            v
            for mt in matches
            if mt.kind == "shifting_the_burden"
            for k, v in mt.roles.items()
            if v and k in ("symptomatic_solution", "fundamental_solution")
        }
    )
    for mt in matches:
        if mt.kind != "shifting_the_burden":
            continue
        roles = {k: v for k, v in mt.roles.items() if v}
        fix, fundamental = roles.get("symptomatic_solution"), roles.get("fundamental_solution")
        if not fix or not fundamental or not (set(roles.values()) & ctx.upstream):
            continue
        if (fix_tagged or duty_tagged) and fix not in fix_tagged and fundamental not in duty_tagged:
            continue  # roles the model's own tags contradict (neither the fix nor the capacity is tagged)
        key = (fix, fundamental)
        if key in seen:
            continue
        seen.add(key)
        fix_levers = [lv for lv in ctx.reaching if fix in (nx.descendants(ctx.graph, lv) | {lv})]
        ev = {"roles": Evidence("archetype roles", ", ".join(f"{k}={v}" for k, v in roles.items()))}
        if fix_tagged or duty_tagged:
            agree = [
                r
                for r, v, t in (
                    ("symptomatic_solution", fix, fix_tagged),
                    ("fundamental_solution", fundamental, duty_tagged),
                )
                if v in t
            ]
            ev["tags"] = Evidence("roles the model's tags confirm", ", ".join(agree))
        if mt.variant == "to_the_intervenor":
            ev["variant"] = Evidence("variant", "to the intervenor (role tags)")
        if not fix_levers:
            holds = np.ones(ctx.n, dtype=bool)
            expl = (
                f"On the path to '{ctx.target}' the structure shifts the burden: '{fix}' relieves the symptom "
                "and, through "
                f"{roles.get('side_effect') or 'a side effect'}, erodes '{fundamental}'. No lever acts on the "
                "fix, so its size is not measured."
            )
            out.append(
                Finding(
                    "burden_shift",
                    [fix, fundamental],
                    ev,
                    np.full(ctx.n, 0.3),
                    holds,
                    expl,
                    loops=ctx.loop_summary([], loops=list(mt.loops)),
                    structural=True,
                )
            )
            continue
        # the shift is driven by a lever that raises the fix: one that reaches it only to lower it is not one
        raises = {x: _raises(ctx, x, fix, watch) for x in fix_levers}
        up = [x for x in fix_levers if _share(raises[x]) > 0.5]
        if not up:
            ctx.not_assessed.append(
                f"burden shifting through '{fix}': no lever raises it in most futures (the levers that reach "
                "it lower it), so a shift of the burden to it is not measured"
            )
            continue
        lv = max(up, key=lambda x: abs(_med(ctx.response(x).derivative)))
        r = ctx.response(lv, watch=watch)
        plus, minus = r.watched[fundamental]
        cross = (plus - minus) / (2 * r.step)
        base = 0.5 * (plus + minus)
        with np.errstate(divide="ignore", invalid="ignore"):
            cross_el = np.where(base != 0, cross * r.value / base, np.nan)
        # per future: the lever raises the fix and lowers the fundamental solution
        holds = raises[lv] & (cross < -1e-12 * np.maximum(1.0, np.abs(base)))
        scan = _scan(ctx, lv, fundamental)
        ev["cross effect"] = Evidence(
            f"elasticity of '{fundamental}' to '{lv}'", _med(cross_el), _share(holds)
        )
        lost = scan.get("lost", float("nan"))
        ev["capacity lost"] = Evidence(
            f"share of '{fundamental}' lost at the current '{lv}' against its lowest value", lost
        )
        if scan.get("threshold") is not None:
            ev["relief threshold"] = Evidence(
                f"'{lv}' below which '{fundamental}' recovers", scan["threshold"]
            )
        side = roles.get("side_effect")
        if side:
            sat = _saturation_share(ctx, side)
            if sat is not None:
                ev["side effect saturated"] = Evidence(
                    f"share of time the side effect '{side}' is saturated", _med(sat), _share(sat >= BINDING)
                )
        strength = (
            np.full(ctx.n, float(np.clip(np.nan_to_num(lost), 0, 1)))
            if np.isfinite(lost)
            else np.clip(np.abs(np.nan_to_num(cross_el)), 0, 1)
        )
        thr = (
            f"; it starts to recover only below {lv} = {scan['threshold']:.3g}"
            if scan.get("threshold") is not None
            else ""
        )
        expl = (
            f"On the path to '{ctx.target}', '{fix}' (raised by '{lv}') substitutes for the duty bearer's own "
            f"'{fundamental}': more of it "
            f"lowers '{fundamental}' in {100 * _share(holds):.0f}% of futures (elasticity {_med(cross_el):.2f}), "
            f"and at today's setting {100 * np.nan_to_num(lost):.0f}% of '{fundamental}' is lost{thr}."
        )
        out.append(
            Finding(
                "burden_shift",
                [fundamental, fix, *(v for v in [side] if v)],
                ev,
                strength,
                holds,
                expl,
                levers=[lv],
                loops=ctx.loop_summary([], loops=list(mt.loops)),
            )
        )
    # one finding per lever and duty-bearer capacity: the archetype's other matches are routes of the same shift
    best: dict[tuple, Finding] = {}
    for f in out:
        key = (tuple(f.levers), f.variables[0])
        if key not in best or _med(f.strength) * _share(f.holds) > _med(best[key].strength) * _share(
            best[key].holds
        ):
            best[key] = f
    return list(best.values())


def _raises(ctx: Context, lever: str, var: str, watch: Sequence[str]) -> np.ndarray:
    """Say, per future, whether raising ``lever`` raises ``var`` (its time-mean; a stock: its final value)."""
    r = ctx.response(lever, watch=watch)
    plus, minus = r.watched[var]
    return (plus - minus) > 1e-12 * np.maximum(1.0, np.abs(0.5 * (plus + minus)))


def _scan(ctx: Context, lever: str, watch: str, points: int = 11) -> dict[str, Any]:
    """Sweep a lever over its range in the first sampled future; how ``watch`` responds."""
    c = of_kind(ctx.m[lever], Constant)
    if c.range is None or not c.range[1] > c.range[0]:
        return {}
    grid = np.linspace(c.range[0], c.range[1], points)
    cache = ctx.__dict__.setdefault("_scans", {})
    if (lever, points) not in cache:  # one sweep per lever, every variable saved: each watch reads it
        params = {k: np.full(points, v[0]) for k, v in ctx.sample.items()}
        params[lever] = grid
        cache[(lever, points)] = ctx.simulate(params).ds
    w = ctx.metric(watch, cache[(lever, points)])
    now = float(np.interp(c.value, grid, w))
    best = float(np.max(w))
    out: dict[str, Any] = {"grid": grid, "values": w}
    out["lost"] = 0.0 if best <= 0 else max(0.0, 1.0 - now / best)
    below = grid < c.value
    rec = [g for g, x in zip(grid[below], w[below]) if x > now * 1.05 + 1e-12]
    out["threshold"] = float(max(rec)) if rec else None
    return out


def _saturation_share(ctx: Context, variable: str) -> np.ndarray | None:
    for site in constraint_sites(ctx):
        if site.variable != variable or site.kind == "min":
            continue
        try:
            if site.kind == "form":
                return (np.nan_to_num(_form_elasticity(ctx, site), nan=1.0) < PLATEAU_ELASTICITY).mean(axis=0)
            x = _evaluate(ctx, site.args[0], variable)
        except Exception:  # noqa: BLE001
            return None
        return _lookup_saturation(_table(site), x).mean(axis=0)
    return None


# =============================================================================== eroded cooperation
def _info_only(ctx: Context, s: str) -> bool:
    """Return True when some causal path from stock ``s`` to the target avoids its own flows (information)."""
    own = set(ctx.outflows(s)) | set(ctx.inflows(s))
    return any(v in ctx.upstream and v not in own for v in ctx.graph.successors(s))


def eroded_cooperation(ctx: Context) -> list[Finding]:
    out = []
    consts = {canonical(c.name) for c in ctx.m.constants}
    for s in _ordered(ctx, (v for v in ctx.upstream if ctx.is_stock(v))):
        if s == ctx.target or s in ctx.material or not _info_only(ctx, s):
            continue
        outs = ctx.outflows(s)
        drivers: dict[str, list[str]] = {}
        amounts: dict[str, np.ndarray] = {}  # depleting flow (or "term in net flow") -> integral per run
        for f in outs:
            if ctx.filled_by(f):
                continue  # moves what the stock holds into another stock (people leaving care): not erosion
            d = {x for x in ctx.m.dependencies(f) if x != s and x not in consts and x in ctx.m}
            d |= {x for x in ctx.m.dependencies(f) if x in ctx.levers}
            if d:
                drivers[f] = sorted(d)
                amounts[f] = ctx.integral(f)
        # a net flow into the stock (``trust_change = rebuilding - damage``): its negative terms deplete it
        depletion_terms: list[np.ndarray] = []
        for f in ctx.inflows(s):
            tree = ctx.m.ast(f)
            terms = [t for sgn, t in _signed_terms(tree) if sgn < 0] if tree is not None else []
            for t in terms:
                try:
                    amount = _integral(np.abs(_evaluate(ctx, t, f)), ctx.time)
                except Exception:  # noqa: BLE001 - a stateful term: this part of the balance is not assessed
                    continue
                depletion_terms.append(amount)
                names = ast.names(t)
                d = {x for x in names if x != s and x not in consts and x in ctx.m} | (
                    names & set(ctx.levers)
                )
                if d:
                    key = f"{f} (term {_short(t)})" if len(terms) > 1 else f
                    drivers[key] = sorted(d)
                    amounts[key] = amount
        if not drivers:
            continue
        x = ctx.series(s)
        start = x[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            decline = np.where(start > 0, 1.0 - x[-1] / start, 0.0)
        total_out = sum(ctx.integral(f) for f in outs) + sum(depletion_terms)
        driven = sum(amounts.values())
        with np.errstate(divide="ignore", invalid="ignore"):
            driven_share = np.where(total_out > 0, driven / total_out, 0.0)
        holds = (decline >= DECLINE) & (driven_share >= 0.25)
        sign = _path_sign(ctx, s)
        if sign == "-":
            continue  # the target rises as this stock falls: its depletion is not a block
        ev = {
            "decline": Evidence(
                f"fall of '{s}' over the run (1 - final / initial)", _med(decline), _share(decline >= DECLINE)
            ),
            "driven share": Evidence(
                "share of its outflow driven by other parts of the system",
                _med(driven_share),
                _share(driven_share >= 0.25),
            ),
        }
        for f, driven_by in drivers.items():
            share = np.where(total_out > 0, amounts[f] / np.where(total_out > 0, total_out, 1), 0.0)
            ev[f"depleting flow {f}"] = Evidence(
                f"'{f}' (driven by {', '.join(driven_by)}): share of the outflow", _med(share)
            )
        flows = ", ".join(drivers)
        all_drivers = sorted({x for d in drivers.values() for x in d})
        expl = (
            f"'{ctx.target}' depends on '{s}', which {', '.join(all_drivers)} deplete through {flows}: it ends "
            f"{100 * _med(decline):.0f}% below its initial value (median future; eroded by at least "
            f"{100 * DECLINE:.0f}% in {100 * _share(holds):.0f}% of futures)."
        )
        flow_names = list(dict.fromkeys(f.split(" ")[0] for f in drivers))
        out.append(
            Finding(
                "eroded_cooperation",
                [s, *flow_names],
                ev,
                np.clip(decline, 0, 1),
                holds,
                expl,
                levers=_levers_reaching(ctx, flow_names),
                loops=ctx.loop_summary([s]),
            )
        )
    return out


def _path_sign(ctx: Context, s: str) -> str:
    signs = {sgn for _, sgn in ctx.signed_paths(s, limit=50)}
    if signs == {"-"}:
        return "-"
    return "+" if "+" in signs else "?"


# =============================================================================== missing accountability
_DUTY_TAGS = {"duty_bearer", "host_capability", "fundamental_solution", "state_capacity"}
_FIX_TAGS = {"symptomatic_solution", "intervenor"}


def missing_accountability(ctx: Context) -> list[Finding]:
    from ...cld.diagram import role_tags

    tagged = [
        k
        for k in ctx.m.names()
        if k in ctx.upstream
        and role_tags(ctx.m[k].role) & _DUTY_TAGS
        and not isinstance(ctx.m[k], Constant)
        and k != ctx.target
    ]
    resources = tagged
    how = "tagged by the model's roles"
    if not resources:
        # no role tags: the resources are the capacities a lever builds (stocks on the target's path that
        # a lever fills without passing through another stock, and that the outcome does not flow through)
        resources = [
            k
            for k in _ordered(ctx, ctx.upstream)
            if ctx.is_stock(k) and k != ctx.target and k not in ctx.material and _funded(ctx, k)
        ]
        how = "the capacity stocks a lever builds (the model tags no duty bearer)"
        if not resources:
            ctx.not_assessed.append(
                "missing accountability: no variable on the target's path is tagged as the duty bearer's resource "
                '(role = "duty_bearer", "host_capability" or "fundamental_solution") and no lever builds a '
                "capacity stock on it; tag the capacity the state is accountable for"
            )
            return []
    outcomes = {ctx.target} | {k for k in ctx.m.names() if "outcome" in role_tags(ctx.m[k].role)}
    if ctx.is_stock(ctx.target):  # an accumulated outcome: the flows that make it are the outcome too
        outcomes |= set(ctx.inflows(ctx.target))
    dom = ctx.dominance()
    absent, idle = [], []
    evid = {}
    for res in resources:
        back = [o for o in outcomes if res in nx.descendants(ctx.graph, o)]
        if not back:
            absent.append(res)
            evid[f"path to {res}"] = Evidence(f"causal path from '{ctx.target}' back to '{res}'", "none")
            continue
        loops = [lp for lp in (ctx.loops or []) if res in lp.variables and set(lp.variables) & outcomes]
        peaks = [dom.get(frozenset(lp.variables), {}).get("peak", float("nan")) for lp in loops]
        peaks = [p for p in peaks if np.isfinite(p)]
        if peaks and max(peaks) < IDLE_LOOP:
            idle.append(res)
            evid[f"loop through {res}"] = Evidence(
                f"largest |relative loop score| of the {len(loops)} loop(s) from the outcome to '{res}'",
                max(peaks),
            )
    if not absent and not idle:
        return []
    where = absent + idle
    parts = []
    if absent:
        parts.append(f"nothing carries '{ctx.target}' back to {', '.join(repr(r) for r in absent)}")
    if idle:
        parts.append(
            f"the loops back to {', '.join(repr(r) for r in idle)} never reach a relative loop score "
            f"of {IDLE_LOOP}"
        )
    expl = (
        f"No working accountability loop: {'; '.join(parts)} (duty-bearer resources: {how}), so the outcome "
        "never changes the resources that produce it."
    )
    holds = np.ones(ctx.n, dtype=bool)
    return [
        Finding(
            "missing_accountability",
            where,
            evid,
            np.full(ctx.n, 1.0),
            holds,
            expl,
            levers=_levers_reaching(ctx, where),
            loops=ctx.loop_summary(where),
            structural=True,
        )
    ]


def _funded(ctx: Context, s: str) -> bool:
    """Return True when a lever builds stock ``s`` up: raising it raises an inflow, through no other stock."""
    for f in ctx.inflows(s):
        for lv in ctx.levers:
            if lv not in ctx.graph or f not in nx.descendants(ctx.graph, lv):
                continue
            for path, sign in ctx.signed_paths(lv, f, cutoff=8, limit=20):
                if sign == "+" and not any(ctx.is_stock(v) for v in path[1:-1]):
                    return True
    return False


# =============================================================================== disconnected lever
def disconnected_lever(ctx: Context) -> list[Finding]:
    out = []
    if ctx.unreached:
        ev = {
            f"path from {lv}": Evidence(f"causal path from '{lv}' to '{ctx.target}'", "none")
            for lv in ctx.unreached
        }
        expl = (
            f"{', '.join(repr(x) for x in ctx.unreached)} {'has' if len(ctx.unreached) == 1 else 'have'} no "
            f"causal path to '{ctx.target}': money or effort put there cannot move it."
        )
        out.append(
            Finding(
                "disconnected_lever",
                list(ctx.unreached),
                ev,
                np.ones(ctx.n),
                np.ones(ctx.n, bool),
                expl,
                levers=list(ctx.unreached),
                structural=True,
            )
        )
    if ctx.at_rest:
        return out
    for lv in ctx.reaching:
        r = ctx.response(lv)
        scale = np.maximum(np.abs(ctx.y), 1e-12)
        none = np.abs(r.derivative * max(abs(r.value), r.step)) <= NO_EFFECT * scale
        if _share(none) < 0.05:
            continue
        ev = {
            "no effect": Evidence(
                f"share of futures where '{lv}' does not move the target", _share(none), _share(none)
            ),
            "elasticity": Evidence(f"elasticity of the target to '{lv}'", _med(r.elasticity)),
        }
        expl = (
            f"'{lv}' reaches '{ctx.target}' on paper, but in {100 * _share(none):.0f}% of futures it does not "
            "move it: every path is cut by a saturated constraint."
        )
        out.append(Finding("disconnected_lever", [lv], ev, none.astype(float), none, expl, levers=[lv]))
    return out


DETECTORS: dict[str, Callable[[Context], list[Finding]]] = {
    "capacity_ceiling": capacity_ceiling,
    "policy_resistance": policy_resistance,
    "delay_attrition": delay_attrition,
    "congestion": congestion,
    "burden_shift": burden_shift,
    "eroded_cooperation": eroded_cooperation,
    "missing_accountability": missing_accountability,
    "disconnected_lever": disconnected_lever,
}

#: strength of findings that rest on structure alone (ranked below behavioural blocks that hold in most futures)
STRUCTURAL_WEIGHT = {"missing_accountability": 0.4, "disconnected_lever": 0.3, "burden_shift": 1.0}
