"""Evaluate one equation's AST on arrays of recorded values (no code generation).

Loops that Matter re-evaluates each equation with one input at its current
value and every other input at its previous value.  The recorded trajectories
are arrays ``(time, run)``, so the re-evaluation is one vectorised pass over
the whole run per link.  This module interprets the validated AST node by node
(nothing is compiled or executed); it covers the instantaneous part of the
equation language: arithmetic, logic, ``IF``, the pure builtins, the clock
functions (``STEP``, ``RAMP``, ``PULSE``) and graphical functions.  Stateful
builtins (``SMTH1``, ``DELAY3``...) have hidden stocks and are handled by the
caller (see :mod:`trafficsys.analysis.ltm`).

Whole equations are re-evaluated with the engine's compiled
:meth:`~trafficsys.engine.CompiledModel.evaluate` when the model compiles
(the same numerics as the simulation); this interpreter evaluates the input
expressions of smooths and delays, and whole equations of recorded data whose
model the engine cannot compile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..errors import UnsupportedFeatureError
from ..model import ast
from ..model.elements import Extrapolation, Lookup

__all__ = ["evaluate", "interpolate_lookup", "STATEFUL_CALLS"]

#: builtins with internal state: their value cannot be recomputed from inputs at one instant
STATEFUL_CALLS = frozenset(
    {"SMTH1", "SMTH3", "SMTHN", "DELAY1", "DELAY3", "DELAYN", "DELAY_N", "DELAY", "TREND", "FORCST", "PREVIOUS", "INIT",
     "SAMPLE_IF_TRUE"}
)


def interpolate_lookup(table: Lookup, x: np.ndarray) -> np.ndarray:
    """Apply a graphical function to ``x`` with its extrapolation rule (XMILE 1.0, 3.1.4)."""
    xs = np.asarray(table.xs, dtype=float)
    ys = np.asarray(table.ys, dtype=float)
    x = np.asarray(x, dtype=float)
    if table.extrapolation is Extrapolation.DISCRETE:
        idx = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 1)
        return ys[idx]
    out = np.interp(x, xs, ys)
    if table.extrapolation is Extrapolation.EXTRAPOLATE and len(xs) > 1:
        lo_slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        hi_slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        out = np.where(x < xs[0], ys[0] + (x - xs[0]) * lo_slope, out)
        out = np.where(x > xs[-1], ys[-1] + (x - xs[-1]) * hi_slope, out)
    return out


def _minmax(fn: Callable, args: list[np.ndarray]) -> np.ndarray:
    out = args[0]
    for a in args[1:]:
        out = fn(out, a)
    return out


def _safediv(a, b, default=0.0):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, default, a / np.where(b == 0, 1.0, b))


_PURE: dict[str, Callable[..., np.ndarray]] = {
    "ABS": np.abs,
    "EXP": np.exp,
    "LN": np.log,
    "LOG10": np.log10,
    "SQRT": np.sqrt,
    "INT": np.floor,
    "INTEGER": np.trunc,
    "ROUND": np.round,
    "SIN": np.sin,
    "COS": np.cos,
    "TAN": np.tan,
    "ARCSIN": np.arcsin,
    "ARCCOS": np.arccos,
    "ARCTAN": np.arctan,
    "MOD": np.mod,
    "MODULO": np.fmod,
    "QUANTUM": lambda x, q: np.where(q > 0, q * np.trunc(x / np.where(q > 0, q, 1.0)), x),
    "ACTIVE_INITIAL": lambda active, initial: active,  # the recorded run: the active equation
    "SAFEDIV": _safediv,
    "MIN": lambda *a: _minmax(np.minimum, list(a)),
    "MAX": lambda *a: _minmax(np.maximum, list(a)),
    "MEAN": lambda *a: sum(a) / len(a),
    "PI": lambda: np.asarray(np.pi),
}

_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "^": np.power,
    "mod": np.mod,
    "=": lambda a, b: (a == b).astype(float),
    "<>": lambda a, b: (a != b).astype(float),
    "<": lambda a, b: (a < b).astype(float),
    "<=": lambda a, b: (a <= b).astype(float),
    ">": lambda a, b: (a > b).astype(float),
    ">=": lambda a, b: (a >= b).astype(float),
    "and": lambda a, b: ((a != 0) & (b != 0)).astype(float),
    "or": lambda a, b: ((a != 0) | (b != 0)).astype(float),
}


def evaluate(
    node: ast.Expr,
    env: Mapping[str, np.ndarray],
    *,
    time: np.ndarray,
    dt: float,
    lookups: Mapping[str, Lookup] | None = None,
    variable: str | None = None,
) -> np.ndarray:
    """Value of ``node`` given each referenced variable's values in ``env``.

    Parameters
    ----------
    node
        A parsed equation.
    env
        Canonical name -> array; all arrays broadcast together (``(time, run)``).
    time
        The clock, broadcastable against the arrays (``(time, 1)``).
    dt
        The model's time step (the value of ``DT``).
    lookups
        Graphical functions by canonical name, for calls ``table(x)``.
    variable
        The variable the equation defines (for error messages).

    Raises
    ------
    UnsupportedFeatureError
        For stateful builtins and arrays, which need the engine's state.
    """
    lookups = lookups or {}

    def leaf(n: ast.Expr) -> np.ndarray | None:
        if isinstance(n, ast.Subscript):
            raise UnsupportedFeatureError(
                f"arrayed reference {n.name!r} is not supported by loop dominance analysis yet",
                variable=variable,
            )
        return None

    def ev(n: ast.Expr, args: list[np.ndarray]) -> np.ndarray:
        if isinstance(n, ast.Num):
            return np.asarray(n.value, dtype=float)
        if isinstance(n, ast.Name):
            if n.name == "time":
                return time
            if n.name == "dt":
                return np.asarray(dt)
            if n.name in lookups and n.name not in env:  # the table named by LOOKUP(table, x): not a value
                return np.asarray(np.nan)
            return env[n.name]
        if isinstance(n, ast.Unary):
            v = args[0]
            if n.op == "-":
                return -v
            if n.op == "not":
                return (v == 0).astype(float)
            return v
        if isinstance(n, ast.Binary):
            return _BINARY[n.op](args[0], args[1])
        if isinstance(n, ast.If):
            return np.where(args[0] != 0, args[1], args[2])
        assert isinstance(n, ast.Call)
        return call(n, args)

    def call(n: ast.Call, args: list[np.ndarray]) -> np.ndarray:
        f = n.func
        if f in _PURE:
            return _PURE[f](*args)
        if f == "LOOKUP" or f in lookups:
            if f == "LOOKUP":
                table = lookups[n.args[0].name]  # type: ignore[union-attr]
                x = args[1]
            else:
                table, x = lookups[f], args[0]
            return interpolate_lookup(table, x)
        if f == "STEP":
            height, start = args
            return np.where(time >= start, height, 0.0)
        if f == "RAMP":
            slope, start = args[0], args[1]
            t = time if len(args) < 3 else np.minimum(time, args[2])
            return np.where(time > start, slope * (t - start), 0.0)
        if f == "PULSE":
            volume = args[0]
            first = args[1] if len(args) > 1 else np.asarray(0.0)
            interval = args[2] if len(args) > 2 else np.asarray(0.0)
            since = time - first
            with np.errstate(divide="ignore", invalid="ignore"):
                phase = np.where(interval > 0, np.mod(since, np.where(interval > 0, interval, 1.0)), since)
            hit = (since >= 0) & (np.abs(phase) < dt * (1 - 1e-9))
            return np.where(hit, volume / dt, 0.0)
        raise UnsupportedFeatureError(
            f"{f}(...) cannot be re-evaluated from recorded values (it keeps internal state)",
            variable=variable,
        )

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(ast.fold(node, ev, leaf), dtype=float)
