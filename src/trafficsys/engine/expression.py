"""Evaluate one expression on arrays of recorded values, with the engine's own numerics.

Loop dominance re-evaluates equations with one input moved, the systemic
blocks re-evaluate the terms of a constraint, and the numeric polarity check
takes finite differences: each needs an equation's value on arrays of
recorded values ``(time, run)``.  :func:`evaluate` compiles the expression with
the engine's code generator (:class:`~trafficsys.engine.codegen.Emitter`, in
vector mode) into one small function whose builtins are those of
:mod:`~trafficsys.engine.runtime`, so that an analysis and a simulation never
disagree about what ``ROUND``, ``STEP`` or ``PULSE`` mean.  Nothing from a
model file is executed: only our validated AST is translated, with mangled
identifiers (as for the simulation itself).

Stateful builtins (``SMTH1``, ``DELAY3``...) have hidden stocks: their value
cannot be recomputed from inputs at one instant, and they raise
:class:`~trafficsys.errors.UnsupportedFeatureError` (callers handle them).
"""

from __future__ import annotations

import threading
import types
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ModelError, UnsupportedFeatureError
from ..model import ast
from ..model.builtins import BUILTINS, TABLE_CALLS, BuiltinKind
from ..model.elements import Lookup
from .codegen import TIME_EPS, Emitter, helpers
from .runtime import vector_lookup

__all__ = ["evaluate", "interpolate_lookup", "STATEFUL_CALLS"]

#: builtins with internal state: their value cannot be recomputed from inputs at one instant
STATEFUL_CALLS = frozenset(
    name for name, b in BUILTINS.items() if b.kind in (BuiltinKind.STATEFUL, BuiltinKind.INIT)
)

_CACHE: OrderedDict[Any, Any] = OrderedDict()
_CACHE_SIZE = 512
_LOCK = threading.Lock()


def interpolate_lookup(table: Lookup, x: Any) -> np.ndarray:
    """Apply a graphical function to ``x`` (the engine's interpolation and extrapolation rules)."""
    return np.asarray(vector_lookup(table)(np.asarray(x, dtype=float)), dtype=float)


def _prepare(node: ast.Expr, lookups: Mapping[str, Lookup], variable: str | None) -> ast.Expr:
    """Return ``node`` in the form the emitter compiles, refusing arrays and stateful builtins.

    ``LOOKUP(t, x)`` becomes ``t(x)``, and ``ACTIVE_INITIAL`` its active
    equation (the one the recorded run used after the start).
    """

    def post(n: ast.Expr) -> ast.Expr:
        if isinstance(n, ast.Subscript):
            raise UnsupportedFeatureError(
                f"arrayed reference {n.name!r} cannot be re-evaluated from recorded values; flatten the model "
                "(trafficsys.model.arrays.flatten) so that each element is a variable",
                variable=variable,
            )
        if not isinstance(n, ast.Call):
            return n
        if n.func in STATEFUL_CALLS:
            raise UnsupportedFeatureError(
                f"{n.func}(...) cannot be re-evaluated from recorded values (it keeps internal state)",
                variable=variable,
            )
        if n.func in TABLE_CALLS:
            table = n.args[0]
            if not isinstance(table, ast.Name) or table.name not in lookups:
                raise UnsupportedFeatureError(
                    f"{n.func}'s first argument must be the name of a graphical function", variable=variable
                )
            if n.func != "LOOKUP":
                return ast.Call(n.func, (ast.Call(table.name, ()), *n.args[1:]))
            return ast.Call(table.name, n.args[1:])
        if n.func == "ACTIVE_INITIAL":
            return n.args[0]
        return n

    return ast.transform(node, post)


def _compile(
    tree: ast.Expr,
    deps: tuple[str, ...],
    has_pi: bool,
    tables: tuple[tuple[str, Lookup], ...],
    variable: str | None,
):
    idx = {d: f"E[{i}]" for i, d in enumerate(deps)}
    table_ids = {name: f"_L{i}" for i, (name, _) in enumerate(tables)}
    em = Emitter("vector", idx.__getitem__, table_ids, has_pi_var=has_pi, variable=variable or "")
    source = f"def _ev(E, T, DT, T0, T1):\n    EPS = DT * {TIME_EPS!r}\n    return {em(tree)}\n"
    key = (source, tables)  # the source, not the tree: hashing a deep tree would recurse
    with _LOCK:
        got = _CACHE.get(key)
        if got is not None:
            _CACHE.move_to_end(key)
            return got
    ns = helpers("vector", types.SimpleNamespace(tables=dict(tables)), table_ids)  # type: ignore[arg-type]
    # compiled-ast: generated from our validated AST with mangled identifiers only; the function is
    # built from its compiled code object, nothing is run but its definition
    module = compile(source, "<trafficsys expression>", "exec")  # compiled-ast
    code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    fn = types.FunctionType(code, ns)
    with _LOCK:
        _CACHE[key] = fn
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return fn


def evaluate(
    node: ast.Expr,
    env: Mapping[str, Any],
    *,
    time: Any,
    dt: float,
    start: float | None = None,
    stop: float | None = None,
    lookups: Mapping[str, Lookup] | None = None,
    variable: str | None = None,
) -> np.ndarray:
    """Value of ``node`` given each referenced variable's values in ``env``.

    Parameters
    ----------
    node
        A parsed equation (canonical names).
    env
        Canonical name -> array; all arrays broadcast together (``(time, run)``).
    time
        The clock, broadcastable against the arrays (``(time, 1)``).
    dt
        The model's time step (the value of ``DT``).
    start, stop
        The run's start and stop times (``STARTTIME``, ``STOPTIME``, and
        ``PULSE``'s default first time); default: the smallest and largest ``time``.
    lookups
        Graphical functions by canonical name, for calls ``table(x)`` and ``LOOKUP(table, x)``.
    variable
        The variable the equation defines (for error messages).

    Returns
    -------
    numpy.ndarray
        The value, with the numerics of a simulation (:mod:`~trafficsys.engine.runtime`).

    Raises
    ------
    UnsupportedFeatureError
        For stateful builtins and arrayed references, which need the engine's state.
    ModelError
        When ``env`` lacks a variable the expression reads.

    Examples
    --------
    >>> import numpy as np
    >>> from trafficsys.model.parser import parse
    >>> evaluate(parse("ROUND(x) + STEP(10, 2)"), {"x": np.array([2.5, -2.5])}, time=np.array([1.0, 2.0]), dt=1.0)
    array([3., 7.])
    """
    lookups = lookups or {}
    tree = _prepare(node, lookups, variable)
    has_pi = "pi" in env
    deps = tuple(sorted(n for n in ast.names(tree) if has_pi or n != "pi"))
    missing = [d for d in deps if d not in env]
    if missing:
        raise ModelError(f"evaluating this equation needs values for {', '.join(missing)}", variable=variable)
    used = sorted(f for f in ast.calls(tree) if f in lookups)
    fn = _compile(tree, deps, has_pi, tuple((f, lookups[f]) for f in used), variable)
    t = np.asarray(time, dtype=float)
    t0 = float(start) if start is not None else (float(np.min(t)) if t.size else 0.0)
    t1 = float(stop) if stop is not None else (float(np.max(t)) if t.size else t0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = fn([np.asarray(env[d], dtype=float) for d in deps], t, float(dt), t0, t1)
    return np.asarray(out, dtype=float)
