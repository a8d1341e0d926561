"""Model validation: names, stock-flow structure, algebraic loops, ranges, units.

:func:`validate` runs every rule and collects every problem before raising, so
a modeller sees the whole list at once.  It raises the *first* problem found
(rules run in the order below), with the others listed in its message and
kept in its ``errors`` attribute.  The exception's type is the first
problem's type, so ``except UnknownVariableError`` still works.

Rules, in order:

1. time settings: ``dt > 0``, ``stop > start``, a known method
   (:class:`~trafficsys.errors.StructureError`);
2. every equation parses, builtins get the right number of arguments
   (:class:`~trafficsys.errors.ParseError`, :class:`~trafficsys.errors.ArityError`);
3. every name used is defined, with a did-you-mean and the column
   (:class:`~trafficsys.errors.UnknownVariableError`); only graphical functions
   are called like functions and a graphical function without an input is
   only called, never used as a value (:class:`~trafficsys.errors.StructureError`);
4. stocks list flows; every flow drains at most one stock and fills at most
   one, and is attached to some stock (:class:`~trafficsys.errors.StructureError`);
5. graphical functions have matching, non-decreasing, finite points;
6. constants lie inside their declared ``range``, which has ``low <= high``,
   and their distribution fits it (:class:`~trafficsys.errors.RangeError`);
7. scenarios, named loops and sectors refer to defined variables (a variable
   in one sector at most); arrayed variables use
   declared dimensions, and per-element equations name one element of each;
8. no algebraic loop: a cycle of equations with no stock and no delay or
   smooth on it (:class:`~trafficsys.errors.AlgebraicLoopError`, every
   variable on the cycle named in causal order);
9. units (:mod:`trafficsys.model.units`), when ``units=True``
   (:class:`~trafficsys.errors.UnitsError`).

Duplicate names never get this far: :meth:`Model.add` refuses them.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import networkx as nx

from ..errors import (
    AlgebraicLoopError,
    ModelError,
    ParseError,
    RangeError,
    StructureError,
    UnknownVariableError,
)
from . import ast
from .builtins import BUILTINS, TABLE_CALLS, BuiltinKind
from .elements import Constant, Flow, Lookup, Stock
from .names import canonical, suggest

if TYPE_CHECKING:
    from .model import Model

__all__ = ["validate", "suggest", "instant_dependencies", "MAX_LISTED"]

#: How many further problems a combined error lists in its message.
MAX_LISTED = 20
_METHODS = ("euler", "rk4")
#: Stateful builtins whose output responds to their first argument in the same instant.
#: stateful builtins whose output responds at once to some arguments (their indices)
_INSTANT_STATEFUL = {"TREND": (0,), "FORCST": (0,), "SAMPLE_IF_TRUE": (0, 1)}
#: builtins with arguments read only while the initial values are computed (their indices)
_INITIAL_ONLY = {"ACTIVE_INITIAL": (1,)}


def validate(model: Model, *, units: bool = True) -> list[str]:
    """Check a model; raise on errors, return warnings.

    Parameters
    ----------
    model
        The model.
    units
        Also run the dimensional units check.

    Returns
    -------
    list of str
        Warnings (variables without units, a save period that is not a
        multiple of ``dt``...).

    Raises
    ------
    ModelError
        The first problem found, of its own subclass (see the module
        docstring for the rules and their order).  When there are more, its
        message lists them and its ``errors`` attribute holds them all.

    Examples
    --------
    >>> from trafficsys import Model
    >>> m = Model("demo", time_units="year")
    >>> _ = m.constant("k", 0.1, units="1/year")
    >>> _ = m.stock("x", 100, outflows=["loss"], units="person")
    >>> _ = m.flow("loss", "k * y", units="person/year")
    >>> validate(m)
    Traceback (most recent call last):
    ...
    trafficsys.errors.UnknownVariableError: variable 'loss': its equation uses 'y', which is not defined; define it or fix the spelling (column 5)
        k * y
            ^
    """
    errors: list[ModelError] = []
    warnings: list[str] = []
    if len(model) == 0 and not model.links and not model.cld_variables:
        warnings.append(
            "the model defines no variables and no causal links (an empty file?); "
            "see docs/model-format.md for the tables a model file holds"
        )
    _check_specs(model, errors, warnings)
    trees = _parse_all(model, errors)
    extra = _check_arrays(model, errors)
    _check_names(model, trees, errors, extra)
    _check_structure(model, errors)
    _check_lookups(model, errors)
    _check_ranges(model, errors)
    _check_scenarios(model, errors)
    _check_loops(model, errors)
    _check_sectors(model, errors)
    _check_algebraic_loops(model, trees, errors)
    if units:
        from .units import check_units

        warnings += check_units(model, errors)
    _raise(errors)
    return warnings


# ---------------------------------------------------------------- reporting
def _body(e: ModelError) -> str:
    """Return the error's text without its ``in FILE variable 'x':`` prefix."""
    full = str(e)
    prefix = ModelError.__str__(e)[: -len(e.message)] if e.message else ModelError.__str__(e)
    return full[len(prefix) :] if full.startswith(prefix) else full


def _raise(errors: list[ModelError]) -> None:
    if not errors:
        return
    first = errors[0]
    if len(errors) > 1:
        rest = errors[1:]
        lines = [f"  - {str(e).splitlines()[0]}" for e in rest[:MAX_LISTED]]
        if len(rest) > MAX_LISTED:
            lines.append(f"  - ... and {len(rest) - MAX_LISTED} more")
        text = _body(first)
        if isinstance(first, ParseError):
            first.column = None  # the caret line is already in ``text``
        first.message = f"{text}\n{len(rest)} more problem(s) in this model:\n" + "\n".join(lines)
        first.args = (first.message,)
    first.errors = list(errors)  # type: ignore[attr-defined]
    raise first


def _display(model: Model, key: str) -> str:
    return model[key].name if key in model else key


def _locate(text: str, name: str) -> int | None:
    """1-based column of the first use of canonical ``name`` in ``text`` (any spelling)."""
    parts = [re.escape(p) for p in name.split("_") if p]
    if not parts:
        return None
    pattern = r'(?<![\w.$])"?' + r"[\s_]+".join(parts) + r'"?(?![\w$])'
    m = re.search(pattern, text, re.IGNORECASE)
    return m.start() + 1 if m else None


def _caret(text: str, column: int | None) -> str:
    if column is None or "\n" in text or len(text) > 200:
        return f" (column {column})" if column else ""
    return f" (column {column})\n    {text}\n    {' ' * (column - 1)}^"


def _what(e) -> str:
    if isinstance(e, Stock):
        return "its initial value"
    if isinstance(e, Lookup):
        return "its input"
    return "its equation"


# ------------------------------------------------------------------- rules
#: most steps whose number a run can count exactly (the engine has its own, smaller limit)
MAX_COUNTABLE_STEPS = 2.0**53


def _check_specs(model: Model, errors: list[ModelError], warnings: list[str]) -> None:
    s = model.specs

    def bad(msg: str) -> None:
        errors.append(StructureError(msg, file=model.file))

    if not all(math.isfinite(v) for v in (s.start, s.stop, s.dt)):
        bad(f"start, stop and dt must be finite numbers (got {s.start}, {s.stop}, {s.dt})")
        return
    if s.dt <= 0:
        bad(f"dt is {s.dt:g}; the time step must be positive, e.g. dt = 0.125")
    if s.stop <= s.start:
        bad(f"stop ({s.stop:g}) must come after start ({s.start:g})")
    elif s.dt > 0:
        steps = (s.stop - s.start) / s.dt  # inf when the span or the ratio overflows
        if not math.isfinite(steps) or steps > MAX_COUNTABLE_STEPS:
            bad(
                f"a run from {s.start:g} to {s.stop:g} in steps of dt = {s.dt:g} has "
                f"{'too many' if not math.isfinite(steps) else f'{steps:.3g}'} steps to count; "
                "use a larger dt or a shorter span"
            )
    if s.method.lower() not in _METHODS:
        bad(
            f"unknown integration method '{s.method}'{suggest(s.method.lower(), _METHODS)}; "
            f"use one of {', '.join(_METHODS)}"
        )
    if s.saveper is not None:
        if not s.saveper > 0:
            bad(f"saveper is {s.saveper:g}; the save period must be positive")
        elif s.dt > 0 and abs(s.saveper / s.dt - round(s.saveper / s.dt)) > 1e-9:
            warnings.append(
                f"saveper ({s.saveper:g}) is not a multiple of dt ({s.dt:g}); "
                "saved times fall on the nearest step"
            )


def _parse_all(model: Model, errors: list[ModelError]) -> dict[str, ast.Expr]:
    trees: dict[str, ast.Expr] = {}
    for key in model.names():
        if isinstance(model[key], Constant):
            continue
        try:
            tree = model.ast(key)
        except ParseError as e:
            errors.append(e)
            continue
        if tree is not None:
            trees[key] = tree
    return trees


def _lookup_table_refs(tree: ast.Expr) -> set[int]:
    """``id`` of Name nodes that are the table argument of ``LOOKUP(table, x)``."""
    return {
        id(n.args[0])
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and n.func in TABLE_CALLS and n.args and isinstance(n.args[0], ast.Name)
    }


def _check_arrays(model: Model, errors: list[ModelError]) -> list[tuple[str, str, ast.Expr]]:
    """Check dimensions and per-element keys; parse per-element equations.

    Returns ``(variable key, equation text, tree)`` for each per-element equation
    that parses, for the name checks.
    """
    from .arrays import check_sizes
    from .parser import parse

    dims = getattr(model, "dimensions", {})
    out = []
    if dims:
        check_sizes(model)  # before anything walks the elements: a 10^9-element array is refused at once
    for e in model:
        ok = True
        for d in e.dimensions:
            if canonical(d) not in dims:
                ok = False
                errors.append(
                    UnknownVariableError(
                        f"its dimension '{d}' is not declared{suggest(canonical(d), dims)}; declare it under "
                        "[dimensions]",
                        file=model.file,
                        variable=e.name,
                    )
                )
        for key, text in e.per_element:
            parts = [canonical(p) for p in key.split(",")]
            if ok and (
                len(parts) != len(e.dimensions)
                or any(p not in dims[canonical(d)] for p, d in zip(parts, e.dimensions))
            ):
                errors.append(
                    StructureError(
                        f"per-element equation '{key}' does not name one element of each of its dimensions "
                        f"({', '.join(e.dimensions) or 'none'})",
                        file=model.file,
                        variable=e.name,
                    )
                )
                continue
            try:
                tree = parse(text, variable=f"{e.name}[{key}]", file=model.file)
            except ParseError as err:
                errors.append(err)
                continue
            out.append((canonical(e.name), text, tree))
    return out


def _check_names(
    model: Model,
    trees: dict[str, ast.Expr],
    errors: list[ModelError],
    extra: Sequence[tuple[str, str, ast.Expr]] = (),
) -> None:
    defined = model.names()
    lookups = [k for k in defined if isinstance(model[k], Lookup)]
    items = [(key, model.equation_text(key) or "", tree) for key, tree in trees.items()] + list(extra)
    for key, text, tree in items:
        e = model[key]
        table_refs = _lookup_table_refs(tree)
        # a bare name as an array index may be a dimension or element name (arrays are
        # expanded to scalar variables before compiling), so it is not a variable reference
        indices = {
            id(i)
            for n in ast.walk(tree)
            if isinstance(n, ast.Subscript)
            for i in n.indices
            if isinstance(i, ast.Name)
        }
        reported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Name, ast.Subscript)):
                n = node.name
                if n in ast.TIME_NAMES or n == "*" or n in reported:
                    continue
                if n not in model:
                    if isinstance(node, ast.Name) and (n == "pi" or id(node) in indices):
                        continue  # bare pi is the constant when no variable is called pi
                    reported.add(n)
                    errors.append(
                        UnknownVariableError(
                            f"{_what(e)} uses '{n}', which is not defined{suggest(n, defined)}; "
                            f"define it or fix the spelling{_caret(text, _locate(text, n))}",
                            file=model.file,
                            variable=e.name,
                        )
                    )
                elif (
                    isinstance(model[n], Lookup)
                    and model[n].input is None  # type: ignore[attr-defined]
                    and id(node) not in table_refs
                ):
                    reported.add(n)
                    errors.append(
                        StructureError(
                            f"{_what(e)} uses the graphical function '{_display(model, n)}' as a value, but it "
                            f"has no input; call it with one, {_display(model, n)}(x), or give it an input"
                            f"{_caret(text, _locate(text, n))}",
                            file=model.file,
                            variable=e.name,
                        )
                    )
            elif isinstance(node, ast.Call):
                f = node.func
                if f.isupper() or f in reported:
                    if f in TABLE_CALLS and node.args and isinstance(node.args[0], ast.Name):
                        t = node.args[0].name
                        if t in model and not isinstance(model[t], Lookup):
                            errors.append(
                                StructureError(
                                    f"{f}'s first argument '{_display(model, t)}' is not a graphical "
                                    f"function{_caret(text, _locate(text, t))}",
                                    file=model.file,
                                    variable=e.name,
                                )
                            )
                    continue
                if f not in model:
                    reported.add(f)
                    close = difflib.get_close_matches(f, [*lookups, *(b.lower() for b in BUILTINS)], 1, 0.6)
                    hint = ""
                    if close:
                        hint = f"; did you mean '{close[0] if close[0] in lookups else close[0].upper()}'?"
                    errors.append(
                        UnknownVariableError(
                            f"{_what(e)} calls '{f}(...)', which is neither a builtin function nor a "
                            f"graphical function{hint}{_caret(text, _locate(text, f))}",
                            file=model.file,
                            variable=e.name,
                        )
                    )
                elif not isinstance(model[f], Lookup):
                    reported.add(f)
                    kind = model[f].kind.value
                    errors.append(
                        StructureError(
                            f"{_what(e)} calls '{_display(model, f)}' like a function, but it is a {kind}; "
                            f"only graphical functions (lookups) can be called"
                            f"{_caret(text, _locate(text, f))}",
                            file=model.file,
                            variable=e.name,
                        )
                    )


def _check_structure(model: Model, errors: list[ModelError]) -> None:
    flows = [k for k in model.names() if isinstance(model[k], Flow)]
    fills: dict[str, list[str]] = {}
    drains: dict[str, list[str]] = {}
    for s in model.stocks:
        seen: dict[str, str] = {}
        for side, names, table in (("inflow", s.inflows, fills), ("outflow", s.outflows, drains)):
            for raw in names:
                f = canonical(raw)
                if f not in model:
                    errors.append(
                        UnknownVariableError(
                            f"stock '{s.name}' lists '{raw}' as an {side}, but no flow has that name"
                            f"{suggest(f, flows)}; define the flow or fix the spelling",
                            file=model.file,
                            variable=s.name,
                        )
                    )
                    continue
                target = model[f]
                if not isinstance(target, Flow):
                    errors.append(
                        StructureError(
                            f"stock '{s.name}' lists '{target.name}' as an {side}, but it is a "
                            f"{target.kind.value}, not a flow; declare it under [flows]",
                            file=model.file,
                            variable=s.name,
                        )
                    )
                    continue
                if f in seen:
                    errors.append(
                        StructureError(
                            f"stock '{s.name}' lists flow '{target.name}' twice (as {seen[f]} and as {side}); "
                            "a flow enters or leaves a stock once",
                            file=model.file,
                            variable=s.name,
                        )
                    )
                    continue
                seen[f] = side
                table.setdefault(f, []).append(s.name)
    for f in flows:
        name = model[f].name
        for table, verb in ((fills, "fills"), (drains, "drains")):
            stocks = table.get(f, [])
            if len(stocks) > 1:
                errors.append(
                    StructureError(
                        f"flow '{name}' {verb} {len(stocks)} stocks ({', '.join(repr(s) for s in stocks)}); "
                        f"a flow {verb} at most one stock: split it into one flow per stock",
                        file=model.file,
                        variable=name,
                    )
                )
        if f not in fills and f not in drains:
            errors.append(
                StructureError(
                    f"flow '{name}' is attached to no stock; list it in a stock's inflows or outflows, "
                    "or make it an auxiliary",
                    file=model.file,
                    variable=name,
                )
            )


def _check_lookups(model: Model, errors: list[ModelError]) -> None:
    for e in model:
        if not isinstance(e, Lookup):
            continue
        msg = None
        if not e.xs or len(e.xs) != len(e.ys):
            msg = f"needs at least one point and as many x as y values (got {len(e.xs)} x, {len(e.ys)} y)"
        elif not all(math.isfinite(v) for v in (*e.xs, *e.ys)):
            msg = "has a point that is not a finite number"
        else:
            for i in range(1, len(e.xs)):
                if e.xs[i] < e.xs[i - 1]:
                    msg = (
                        f"x values must not decrease, but point {i + 1} has x = {e.xs[i]:g} after "
                        f"x = {e.xs[i - 1]:g}; sort the points by x"
                    )
                    break
        if msg:
            errors.append(StructureError(f"graphical function {msg}", file=model.file, variable=e.name))


def _check_ranges(model: Model, errors: list[ModelError]) -> None:
    for c in model.constants:

        def bad(msg: str, c=c) -> None:
            errors.append(RangeError(msg, file=model.file, variable=c.name))

        if not math.isfinite(c.value):
            bad(f"value {c.value} is not a finite number")
        if c.range is None:
            if (
                c.distribution is not None
                and c.distribution.kind != "uniform"
                and c.distribution.param("mean") is None
            ):
                bad(f"a {c.distribution.kind} distribution needs a range = [low, high]")
            continue
        lo, hi = c.range
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad(f"range [{lo}, {hi}] must be finite numbers")
            continue
        if lo > hi:
            bad(f"range [{lo:g}, {hi:g}] has low > high; write it as [{hi:g}, {lo:g}]")
            continue
        if not lo <= c.value <= hi:
            bad(
                f"value {c.value:g} lies outside its declared range [{lo:g}, {hi:g}]; "
                "widen the range or correct the value"
            )
        d = c.distribution
        if d is None:
            continue
        kind = d.kind
        if kind not in ("uniform", "triangular", "normal", "lognormal", "loguniform"):
            bad(f"unknown distribution '{kind}'; use uniform, triangular, normal, lognormal or loguniform")
        elif kind == "triangular":
            mode = d.param("mode", c.value)
            if mode is not None and not lo <= mode <= hi:
                bad(f"triangular mode {mode:g} lies outside the range [{lo:g}, {hi:g}]")
        elif kind in ("normal", "lognormal"):
            sd = d.param("sd")
            if sd is not None and not sd > 0:
                bad(f"{kind} sd must be positive, got {sd:g}")
        elif kind == "loguniform" and not lo > 0:
            bad(f"a loguniform range must be positive, got [{lo:g}, {hi:g}]")


def _check_scenarios(model: Model, errors: list[ModelError]) -> None:
    from .parser import parse

    names = model.names()
    for sc in model.scenarios.values():
        for raw, value in sc.set:
            key = canonical(raw)
            where = f"scenario '{sc.name}'"
            if key not in model:
                errors.append(
                    UnknownVariableError(
                        f"{where} sets '{raw}', which is not defined{suggest(key, names)}",
                        file=model.file,
                        variable=raw,
                    )
                )
                continue
            target = model[key]
            if isinstance(target, (Stock, Lookup)):
                errors.append(
                    StructureError(
                        f"{where} sets the {target.kind.value} '{target.name}'; scenarios set constants "
                        "(or auxiliaries) only",
                        file=model.file,
                        variable=target.name,
                    )
                )
                continue
            if isinstance(value, str):
                try:
                    tree = parse(value, variable=f"{target.name} in {where}", file=model.file)
                except ParseError as e:
                    errors.append(e)
                    continue
                for n in sorted(ast.names(tree)):
                    if n not in model and n != "pi":
                        errors.append(
                            UnknownVariableError(
                                f"{where} sets '{target.name}' to '{value}', which uses '{n}', not defined"
                                f"{suggest(n, names)}",
                                file=model.file,
                                variable=target.name,
                            )
                        )


def _check_loops(model: Model, errors: list[ModelError]) -> None:
    known = set(model.names()) | set(model.cld_variables)
    for lk in model.links:
        known |= {lk.source, lk.target}
    for lp in model.loops.values():
        if not lp.variables:
            errors.append(StructureError(f"named loop '{lp.name}' lists no variables", file=model.file))
        if lp.polarity not in (None, "R", "B"):
            errors.append(
                StructureError(
                    f"named loop '{lp.name}' has polarity {lp.polarity!r}; use 'R' or 'B'", file=model.file
                )
            )
        for v in lp.variables:
            if canonical(v) not in known:
                errors.append(
                    UnknownVariableError(
                        f"named loop '{lp.name}' lists '{v}', which is not defined{suggest(canonical(v), known)}",
                        file=model.file,
                        variable=v,
                    )
                )


def _check_sectors(model: Model, errors: list[ModelError]) -> None:
    known = set(model.names()) | set(model.cld_variables)
    for lk in model.links:
        known |= {lk.source, lk.target}
    first: dict[str, str] = {}
    for sc in getattr(model, "sectors", {}).values():
        if not sc.variables:
            errors.append(StructureError(f"sector '{sc.name}' lists no variables", file=model.file))
        for v in sc.variables:
            key = canonical(v)
            if key not in known:
                errors.append(
                    UnknownVariableError(
                        f"sector '{sc.name}' lists '{v}', which is not defined{suggest(key, known)}",
                        file=model.file,
                        variable=v,
                    )
                )
            elif key in first and first[key] != sc.name:
                errors.append(
                    StructureError(
                        f"'{v}' is listed in sectors '{first[key]}' and '{sc.name}'; a variable belongs to one "
                        "sector: remove it from one of them",
                        file=model.file,
                        variable=v,
                    )
                )
            first.setdefault(key, sc.name)


def instant_dependencies(tree: ast.Expr, owner: str | None = None) -> set[str]:
    """Names (and called graphical functions) an equation needs *in the same instant*.

    Arguments of stateful builtins (``SMTH1``, ``DELAY3``, ``PREVIOUS``...) and
    of ``INIT`` do not count: their output comes from internal state.  ``TREND``
    and ``FORCST`` respond to their input at once, so their first argument does;
    ``SAMPLE_IF_TRUE`` to its condition and input, except that the ``owner``'s
    own name there is the value it holds from before (see the engine's
    lowering), not a need of itself.  The initial equation of
    ``ACTIVE_INITIAL`` is read only before the run.
    """
    out: set[str] = set()
    stack: list[tuple[ast.Expr, bool]] = [(tree, False)]
    while stack:
        n, sampled = stack.pop()
        if isinstance(n, ast.Name):
            if n.name not in ast.TIME_NAMES and not (sampled and n.name == owner):
                out.add(n.name)
            continue
        if isinstance(n, ast.Subscript) and not (sampled and n.name == owner):
            out.add(n.name)
        if isinstance(n, ast.Call):
            b = BUILTINS.get(n.func)
            if b is None and not n.func.isupper():
                out.add(n.func)  # a graphical function
            elif b is not None and b.kind in (BuiltinKind.STATEFUL, BuiltinKind.INIT):
                inner = sampled or n.func == "SAMPLE_IF_TRUE"
                stack.extend((n.args[i], inner) for i in _INSTANT_STATEFUL.get(n.func, ()) if i < len(n.args))
                continue
            elif n.func in _INITIAL_ONLY:
                stack.extend((a, sampled) for i, a in enumerate(n.args) if i not in _INITIAL_ONLY[n.func])
                continue
        stack.extend((c, sampled) for c in ast.children(n))
    return out


def _check_algebraic_loops(model: Model, trees: dict[str, ast.Expr], errors: list[ModelError]) -> None:
    g = nx.DiGraph()
    order = {k: i for i, k in enumerate(model.names())}
    for key, tree in trees.items():
        if isinstance(model[key], Stock):
            continue  # a stock's value is its state: it breaks every loop through it
        for d in instant_dependencies(tree, key):
            if d in order and not isinstance(model[d], Stock):
                g.add_edge(d, key)
    for comp in sorted(nx.strongly_connected_components(g), key=lambda c: min(order[v] for v in c)):
        if len(comp) == 1:
            (v,) = comp
            if not g.has_edge(v, v):
                continue
            cycle = [v]
        else:
            edges = nx.find_cycle(g.subgraph(comp))
            cycle = [u for u, _ in edges]
        start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
        cycle = cycle[start:] + cycle[:start]
        shown = [_display(model, v) for v in cycle]
        path = " -> ".join(shown + [shown[0]])
        extra = f" ({len(comp)} variables are entangled in all)" if len(comp) > len(cycle) else ""
        errors.append(
            AlgebraicLoopError(
                f"algebraic loop {path}{extra}: each is computed from the one before it in the same instant, "
                "so none can be computed first; put a stock or a delay (SMTH1, DELAY1) on the loop, or "
                "remove one of the links",
                cycle=shown,
                file=model.file,
            )
        )
