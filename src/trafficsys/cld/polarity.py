"""Link polarity from the structure of an equation (sign analysis over the AST).

The polarity of a link ``x -> z`` is the sign of the partial derivative
``∂z/∂x`` (Richardson 1995).  This module bounds that sign without
simulating: every sub-expression gets bounds on its *value* (interval
arithmetic, so ``1 - share`` is known to be ``>= 0`` when ``share`` is a
``MIN(1, ...)`` of non-negative terms) and the set of signs its *derivative*
with respect to ``x`` can take, a subset of ``{-1, 0, +1}``, combined by the
rules of arithmetic:

* sums add derivative signs (``+`` plus ``-`` can be anything);
* ``a * b`` has derivative ``a'b + ab'``, so it needs the sign of the other
  factor; ``a / b`` has ``(a'b - ab') / b²``;
* the bounds of a variable's value come from what is declared: a
  ``non_negative`` stock or flow is ``>= 0``, a constant lies within its
  value and range, a lookup within its y values, an auxiliary within the
  bounds of its equation;
* monotone builtins pass the argument's derivative through their
  monotonicity (:meth:`trafficsys.model.builtins.Builtin.sign`); ``MIN`` and
  ``MAX`` take the union of their arguments' derivatives (only one argument is
  active at a time); a graphical function multiplies by its own
  monotonicity (a decreasing table gives ``-``; a table that rises and falls
  gives ``?``);
* ``IF c THEN a ELSE b`` can follow either branch, so it takes the union of
  both branches' derivatives plus the jump when ``x`` moves the condition:
  branches that disagree make the link ``?``.

The result is sound but cautious: ``+`` means ``∂z/∂x >= 0`` wherever the
declared signs hold, ``?`` means the structure alone cannot tell.
:func:`trafficsys.cld.derive.from_model` then checks each sign numerically
over the simulated operating range.

References
----------
Richardson, G. P. (1995). Loop polarity, loop dominance, and the concept of
dominant polarity. System Dynamics Review 11(1), 67-88.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

from ..model import ast
from ..model.builtins import BuiltinKind, lookup_builtin
from ..model.elements import Aux, Constant, Extrapolation, Flow, Lookup, Stock
from ..model.model import Model
from ..model.names import canonical

__all__ = ["SignSet", "SignAnalysis", "link_polarity", "to_polarity", "ALL", "POS", "NEG", "ZERO", "NONNEG"]

SignSet = frozenset
ALL: SignSet = frozenset({-1, 0, 1})
POS: SignSet = frozenset({1})
NEG: SignSet = frozenset({-1})
ZERO: SignSet = frozenset({0})
NONNEG: SignSet = frozenset({0, 1})


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


def _neg(a: SignSet) -> SignSet:
    return frozenset(-s for s in a)


def _add(a: SignSet, b: SignSet) -> SignSet:
    out: set[int] = set()
    for x, y in itertools.product(a, b):
        if x == 0 or y == 0 or x == y:
            out.add(x or y)
        else:
            return ALL
    return frozenset(out)


def _mul(a: SignSet, b: SignSet) -> SignSet:
    return frozenset(x * y for x, y in itertools.product(a, b))


def _inv(a: SignSet) -> SignSet:
    nz = a - ZERO
    return frozenset(nz) if nz else ALL


def _union(*sets: SignSet) -> SignSet:
    return frozenset().union(*sets)


Interval = tuple
INF = math.inf
FULL: Interval = (-INF, INF)


def _signs(b: Interval) -> SignSet:
    lo, hi = b
    if lo != lo or hi != hi:  # nan: know nothing
        return ALL
    return frozenset(s for s, ok in ((-1, lo < 0), (0, lo <= 0 <= hi), (1, hi > 0)) if ok) or ALL


def _hull(*bs: Interval) -> Interval:
    return (min(b[0] for b in bs), max(b[1] for b in bs))


def _mul1(x: float, y: float) -> float:
    if x == 0 or y == 0:
        return 0.0  # a bound of 0 times an unbounded one: the product is still 0 there
    return x * y


def _imul(a: Interval, b: Interval) -> Interval:
    ps = [_mul1(x, y) for x in a for y in b]
    return (min(ps), max(ps))


def _idiv(a: Interval, b: Interval) -> Interval:
    lo, hi = b
    if lo > 0 or hi < 0:
        inv = (1 / hi, 1 / lo)
    elif lo == 0 and hi > 0:
        inv = (1 / hi, INF)
    elif hi == 0 and lo < 0:
        inv = (-INF, 1 / lo)
    else:
        return FULL if a != (0.0, 0.0) else a
    return _imul(a, inv)


def _ipow(a: Interval, b: Interval) -> Interval:
    if b[0] == b[1] and a[0] >= 0:
        c = b[0]
        try:
            ends = [
                a[0] ** c if (a[0] > 0 or c > 0) else (0.0 if c > 0 else INF),
                a[1] ** c if a[1] < INF else (INF if c > 0 else 0.0),
            ]
        except (OverflowError, ZeroDivisionError):
            return (0.0, INF)
        return (min(ends), max(ends)) if c != 0 else (1.0, 1.0)
    if a[0] > 0:
        return (0.0, INF)
    return FULL


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def _lookup_bounds(table: Lookup) -> Interval:
    lo, hi = min(table.ys), max(table.ys)
    if table.extrapolation is Extrapolation.EXTRAPOLATE and len(table.ys) > 1:
        if table.ys[1] != table.ys[0]:
            lo, hi = (-INF, hi) if table.ys[1] > table.ys[0] else (lo, INF)
        if table.ys[-1] != table.ys[-2]:
            lo, hi = (lo, INF) if table.ys[-1] > table.ys[-2] else (-INF, hi)
    return (lo, hi)


def to_polarity(d: SignSet) -> str:
    """``+``, ``-``, ``?`` from a derivative sign set (``0`` when it is always zero)."""
    nz = d - ZERO
    if not nz:
        return "0"
    if nz == POS:
        return "+"
    if nz == NEG:
        return "-"
    return "?"


def lookup_monotonicity(table: Lookup) -> SignSet:
    """Signs of the slopes of a graphical function (``{1}`` rising, ``{-1}`` falling...)."""
    ys = table.ys
    slopes = {_sign(b - a) for a, b in zip(ys, ys[1:])}
    return frozenset(slopes) if slopes else ZERO


class _Signs(NamedTuple):
    """What the derivative pass knows of one sub-expression."""

    mentions: bool  #: the sub-expression depends on the variable differentiated by
    bounds: Interval
    deriv: SignSet


class SignAnalysis:
    """Value and derivative signs of a model's equations (cached per model).

    Examples
    --------
    >>> m = Model("m")
    >>> _ = m.constant("k", 0.2, range=(0.1, 0.5))
    >>> _ = m.stock("x", 10, outflows=["out"], non_negative=True)
    >>> _ = m.flow("out", "k * x")
    >>> SignAnalysis(m).polarity("x", "out"), SignAnalysis(m).polarity("k", "out")
    ('+', '+')
    """

    def __init__(self, m: Model):
        self.m = m
        self._values: dict[str, Interval] = {}
        self._busy: set[str] = set()

    # ------------------------------------------------------------------ values
    def value(self, name: str) -> SignSet:
        """Return the signs the value of variable ``name`` can take."""
        return _signs(self.bounds(name))

    def bounds(self, name: str) -> Interval:
        """Bounds ``(low, high)`` on the value of variable ``name`` (may be infinite)."""
        if name == "time":
            return (self.m.start, self.m.stop)
        if name == "dt":
            return (self.m.dt, self.m.dt)
        if name in ("starttime", "stoptime"):
            v = self.m.start if name == "starttime" else self.m.stop
            return (v, v)
        if name in self._values:
            return self._values[name]
        if name not in self.m or name in self._busy:
            return FULL
        self._busy.add(name)
        try:
            out = self._bounds_of(name)
        finally:
            self._busy.discard(name)
        self._values[name] = out
        return out

    def _bounds_of(self, name: str) -> Interval:
        e = self.m[name]
        if isinstance(e, Constant):
            vals = [e.value, *(e.range or ())]
            return (min(vals), max(vals))
        if isinstance(e, Stock):
            return (0.0, INF) if e.non_negative else FULL
        if isinstance(e, Lookup):
            return _lookup_bounds(e)
        if isinstance(e, (Flow, Aux)):
            tree = self.m.ast(name)
            b = self.expr_bounds(tree) if tree is not None else FULL
            if isinstance(e, Flow) and e.non_negative:
                b = (max(b[0], 0.0), max(b[1], 0.0))
            return b
        return FULL

    def expr_value(self, n: ast.Expr) -> SignSet:
        """Return the signs the value of expression ``n`` can take."""
        return _signs(self.expr_bounds(n))

    def expr_bounds(self, n: ast.Expr) -> Interval:
        """Bounds on the value of expression ``n`` (interval arithmetic: sound, perhaps loose)."""
        return ast.fold(n, self._node_bounds, self._leaf_bounds)

    def _leaf_bounds(self, n: ast.Expr) -> Interval | None:
        # a subscripted variable's bounds are the variable's; its indices are not values
        return self.bounds(n.name) if isinstance(n, (ast.Name, ast.Subscript)) else None

    def _node_bounds(self, n: ast.Expr, kids: list[Interval]) -> Interval:
        """Bounds of ``n`` from the bounds of its operands."""
        if isinstance(n, ast.Num):
            return (n.value, n.value)
        if isinstance(n, ast.Unary):
            lo, hi = kids[0]
            if n.op == "-":
                return (-hi, -lo)
            return (0.0, 1.0) if n.op == "not" else (lo, hi)
        if isinstance(n, ast.Binary):
            a, b = kids
            op = n.op
            if op == "+":
                return (a[0] + b[0], a[1] + b[1])
            if op == "-":
                return (a[0] - b[1], a[1] - b[0])
            if op == "*":
                return _imul(a, b)
            if op == "/":
                return _idiv(a, b)
            if op == "^":
                return _ipow(a, b)
            if op == "mod":
                return (0.0, b[1]) if (a[0] >= 0 and b[0] > 0) else FULL
            return (0.0, 1.0)  # comparisons and logic give 0 or 1
        if isinstance(n, ast.If):
            return _hull(kids[1], kids[2])
        if isinstance(n, ast.Call):
            return self._call_bounds(n, kids)
        return FULL

    def _call_bounds(self, n: ast.Call, args: list[Interval]) -> Interval:
        f = n.func
        table = self._table(n)
        if table is not None:
            return _lookup_bounds(table)
        if f in ("MIN", "MAX") and args:
            pick = min if f == "MIN" else max
            return (pick(a[0] for a in args), pick(a[1] for a in args))
        if f == "EXP":
            return (_exp(args[0][0]), _exp(args[0][1]))
        if f == "SQRT":
            return (math.sqrt(max(args[0][0], 0.0)), math.sqrt(max(args[0][1], 0.0)))
        if f == "ABS":
            lo, hi = args[0]
            return (0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))
        if f in ("LN", "LOG10"):
            log = math.log if f == "LN" else math.log10
            lo, hi = args[0]
            return (log(lo) if lo > 0 else -INF, log(hi) if hi > 0 else -INF)
        if f == "PI":
            return (math.pi, math.pi)
        if f in ("SIN", "COS"):
            return (-1.0, 1.0)
        if f == "ARCTAN":
            return (-math.pi / 2, math.pi / 2)
        if f == "ARCCOS":
            return (0.0, math.pi)
        if f == "ARCSIN":
            return (-math.pi / 2, math.pi / 2)
        if f in ("INT", "INTEGER", "ROUND"):
            return (
                math.floor(args[0][0]) if math.isfinite(args[0][0]) else -INF,
                math.ceil(args[0][1]) if math.isfinite(args[0][1]) else INF,
            )
        if f == "STEP":
            return _hull(args[0], (0.0, 0.0))
        if f == "PULSE":
            return _hull(_imul(args[0], (1 / self.m.dt, 1 / self.m.dt)), (0.0, 0.0))
        if f == "RAMP":
            return _hull(_imul(args[0], (0.0, max(self.m.stop - self.m.start, 0.0))), (0.0, 0.0))
        if f in ("INIT", "MEAN"):
            return _hull(*args)
        if f == "SUM":
            return (args[0][0], INF) if args[0][0] >= 0 else FULL
        if f in ("SMTH1", "SMTH3", "DELAY1", "DELAY3", "DELAY", "DELAY_FIXED"):
            return _hull(args[0], *args[2:])  # a smooth or delay stays within its input and initial value
        if f in ("SMTHN", "DELAYN"):
            return _hull(args[0], *args[3:])
        if f == "NPV":
            return FULL
        if f == "DELAY_MATERIAL":  # a sum of what leaves together: beyond the input's range when it bunches
            return FULL
        if f in ("DELAY_N", "SMOOTH_N"):
            return _hull(args[0], args[2])
        if f == "PREVIOUS":
            return _hull(*args)
        if f == "SAMPLE_IF_TRUE":
            return _hull(args[1], args[2])
        if f == "ACTIVE_INITIAL":
            return _hull(*args)
        if f == "QUANTUM":
            return _hull(args[0], (0.0, 0.0))  # truncation toward zero, or x itself
        if f == "SAFEDIV":
            return _hull(_idiv(args[0], args[1]), args[2] if len(args) > 2 else (0.0, 0.0))
        if f == "SIZE":
            return (1.0, INF)
        if f == "STDDEV":
            return (0.0, INF)
        return FULL

    def _table(self, n: ast.Call) -> Lookup | None:
        """Return the graphical function a call applies (``table(x)`` or ``LOOKUP(table, x)``)."""
        name = n.func
        if n.func == "LOOKUP" and n.args and isinstance(n.args[0], ast.Name):
            name = n.args[0].name
        elif n.func.isupper():
            return None
        e = self.m[name] if name in self.m else None
        return e if isinstance(e, Lookup) else None

    # -------------------------------------------------------------- derivatives
    def expr_derivative(self, n: ast.Expr, x: str) -> SignSet:
        """Return the signs of ``∂n/∂x`` over every state the declared signs allow.

        One bottom-up pass (no recursion) carrying, per sub-expression, whether
        it mentions ``x``, the bounds of its value and its derivative sign set.
        """

        def leaf(m: ast.Expr) -> _Signs | None:
            if isinstance(m, (ast.Name, ast.Subscript)):
                hit = m.name == x
                return _Signs(hit, self.bounds(m.name), POS if hit else ZERO)
            return None

        def combine(m: ast.Expr, kids: list[_Signs]) -> _Signs:
            b = self._node_bounds(m, [k.bounds for k in kids])
            hit = any(k.mentions for k in kids) or (isinstance(m, ast.Call) and m.func == x)
            if not hit:  # nothing below depends on x
                return _Signs(False, b, ZERO)
            return _Signs(True, b, self._node_derivative(m, kids))

        return ast.fold(n, combine, leaf).deriv

    def _node_derivative(self, n: ast.Expr, kids: list[_Signs]) -> SignSet:
        """Return the derivative signs of ``n`` (which mentions x) from its operands' values and derivatives."""
        if isinstance(n, ast.Unary):
            d = kids[0].deriv
            return d if n.op == "+" else _neg(d)
        if isinstance(n, ast.Binary):
            return self._binary_derivative(n, *kids)
        if isinstance(n, ast.If):
            c, a, b = kids
            jump = ZERO
            if c.deriv != ZERO:
                jump = _mul(c.deriv, _add(_signs(a.bounds), _neg(_signs(b.bounds))))
            return _union(a.deriv, b.deriv, jump)
        if isinstance(n, ast.Call):
            return self._call_derivative(n, kids)
        return ALL

    def _binary_derivative(self, n: ast.Binary, left: _Signs, right: _Signs) -> SignSet:
        op = n.op
        da, db = left.deriv, right.deriv
        if op == "+":
            return _add(da, db)
        if op in ("-",):
            return _add(da, _neg(db))
        va, vb = _signs(left.bounds), _signs(right.bounds)
        if op == "*":
            return _add(_mul(da, vb), _mul(va, db))
        if op == "/":
            return _add(_mul(da, _inv(vb)), _neg(_mul(va, db)))
        if op == "^":
            out = ZERO
            if da != ZERO:
                if not va <= NONNEG:
                    return ALL
                out = _mul(vb, da)  # b * a^(b-1) * a', with a^(b-1) >= 0
            if db != ZERO:
                if isinstance(n.left, ast.Num) and n.left.value > 0:
                    out = _add(out, _mul(frozenset({_sign(n.left.value - 1)}), db))  # a^b ln(a) b'
                else:
                    return ALL
            return out
        if op in (">", ">="):
            return _add(da, _neg(db))
        if op in ("<", "<="):
            return _add(db, _neg(da))
        if op in ("and", "or"):
            return _add(da, db)
        return ALL  # =, <>, mod: not monotone

    def _call_derivative(self, n: ast.Call, kids: list[_Signs]) -> SignSet:
        f = n.func
        table = self._table(n)
        if table is not None:
            return _mul(lookup_monotonicity(table), kids[-1].deriv)
        ds = [k.deriv for k in kids]
        if f in ("MIN", "MAX"):
            return _union(*ds)  # only one argument is active at a time
        if f in ("MEAN", "SUM"):
            out = ZERO
            for d in ds:
                out = _add(out, d)
            return out
        if f == "ABS":
            return _mul(_signs(kids[0].bounds), ds[0])
        if f == "SAFEDIV":
            va, vb = _signs(kids[0].bounds), _signs(kids[1].bounds)
            d = _add(_mul(ds[0], _inv(vb)), _neg(_mul(va, ds[1])))
            return _union(d, ds[2]) if len(ds) > 2 else d
        b = lookup_builtin(f)
        if b is None:
            return ALL
        if b.kind is BuiltinKind.INIT:
            return ZERO  # read once at the start: not a causal link
        if f == "ACTIVE_INITIAL":
            return ds[0]  # the initial equation is read once, before the run
        out = ZERO
        for i, d in enumerate(ds):
            if d == ZERO:
                continue
            s = b.sign(i)
            if s == 0:
                return ALL
            out = _add(out, _mul(frozenset({s}), d))
        return out

    # ------------------------------------------------------------------- links
    def derivative(self, source: str, target: str) -> SignSet:
        """Return the sign set of ``∂target/∂source`` from ``target``'s equation."""
        tree = self.m.ast(target)
        if tree is None:
            return ZERO
        return self.expr_derivative(tree, source)

    def polarity(self, source: str, target: str) -> str:
        """``+``, ``-``, ``?`` (or ``0`` when the source has no effect) for ``source -> target``."""
        return to_polarity(self.derivative(source, target))

    def delayed(self, source: str, target: str) -> bool:
        """Return True when ``source`` reaches ``target`` through a stateful builtin (``SMTH1``, ``DELAY3``...)."""
        tree = self.m.ast(target)
        if tree is None:
            return False
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                b = lookup_builtin(node.func) if node.func.isupper() else None
                if b is not None and b.kind is BuiltinKind.STATEFUL and source in _mentions(node):
                    return True
        return False


def _mentions(n: ast.Expr) -> set[str]:
    return ast.names(n) | {c for c in ast.calls(n) if not c.isupper()}


def link_polarity(m: Model, source: str, target: str) -> str:
    """Return the structural polarity of the link ``source -> target`` of model ``m``.

    See :class:`SignAnalysis`.  Returns ``+``, ``-``, ``?``, or ``0`` when
    ``target``'s equation does not depend on ``source`` causally.
    """
    return SignAnalysis(m).polarity(canonical(source), canonical(target))
