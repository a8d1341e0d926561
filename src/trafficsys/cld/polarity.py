"""Link polarity from the structure of an equation (sign analysis over the AST).

The polarity of a link ``x -> z`` is the sign of the partial derivative
``∂z/∂x`` (Richardson 1995).  This module bounds that sign without numbers:
every sub-expression gets the set of signs its *value* can take and the set of
signs its *derivative* with respect to ``x`` can take, each a subset of
``{-1, 0, +1}``, combined by the rules of arithmetic:

* sums add derivative signs (``+`` plus ``-`` can be anything);
* ``a * b`` has derivative ``a'b + ab'``, so it needs the sign of the other
  factor; ``a / b`` has ``(a'b - ab') / b²``;
* the sign of a variable's value comes from what is declared: a
  ``non_negative`` stock or flow is ``>= 0``, a constant has the signs of its
  value and range, a lookup the signs of its y values, an auxiliary the sign
  of its equation;
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
from collections.abc import Iterable

from ..model import ast
from ..model.builtins import BuiltinKind, lookup_builtin
from ..model.elements import Aux, Constant, Extrapolation, Flow, Lookup, Stock
from ..model.model import Model

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


def _span(values: Iterable[float]) -> SignSet:
    vals = list(values)
    if not vals:
        return ALL
    lo, hi = min(vals), max(vals)
    return frozenset(s for s, ok in ((-1, lo < 0), (0, lo <= 0 <= hi), (1, hi > 0)) if ok)


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


def _lookup_values(table: Lookup) -> SignSet:
    vals = _span(table.ys)
    if table.extrapolation is Extrapolation.EXTRAPOLATE and len(table.ys) > 1:
        if table.ys[0] != table.ys[1] or table.ys[-1] != table.ys[-2]:
            return ALL
    return vals


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
        self._values: dict[str, SignSet] = {}
        self._busy: set[str] = set()

    # ------------------------------------------------------------------ values
    def value(self, name: str) -> SignSet:
        """The signs the value of variable ``name`` can take."""
        if name == "time":
            return NONNEG if self.m.start >= 0 else ALL
        if name == "dt":
            return POS
        if name in ("starttime", "stoptime"):
            return frozenset({_sign(self.m.start if name == "starttime" else self.m.stop)})
        if name in self._values:
            return self._values[name]
        if name not in self.m or name in self._busy:
            return ALL
        self._busy.add(name)
        try:
            out = self._value_of(name)
        finally:
            self._busy.discard(name)
        self._values[name] = out
        return out

    def _value_of(self, name: str) -> SignSet:
        e = self.m[name]
        if isinstance(e, Constant):
            return _span([e.value, *(e.range or ())])
        if isinstance(e, Stock):
            return NONNEG if e.non_negative else ALL
        if isinstance(e, Lookup):
            return _lookup_values(e)
        if isinstance(e, (Flow, Aux)):
            tree = self.m.ast(name)
            v = self.expr_value(tree) if tree is not None else ALL
            if isinstance(e, Flow) and e.non_negative:
                v = frozenset((v & NONNEG) | ZERO) if v & NONNEG else ZERO
            return v
        return ALL

    def expr_value(self, n: ast.Expr) -> SignSet:
        """The signs the value of expression ``n`` can take."""
        if isinstance(n, ast.Num):
            return frozenset({_sign(n.value)})
        if isinstance(n, (ast.Name, ast.Subscript)):
            return self.value(n.name)
        if isinstance(n, ast.Unary):
            v = self.expr_value(n.operand)
            if n.op == "-":
                return _neg(v)
            return NONNEG if n.op == "not" else v
        if isinstance(n, ast.Binary):
            a, b = self.expr_value(n.left), self.expr_value(n.right)
            op = n.op
            if op == "+":
                return _add(a, b)
            if op == "-":
                return _add(a, _neg(b))
            if op == "*":
                return _mul(a, b)
            if op == "/":
                return _mul(a, _inv(b))
            if op == "^":
                if a <= NONNEG:
                    return a if ZERO not in a else NONNEG
                return ALL
            if op == "mod":
                return NONNEG if (a <= NONNEG and b <= POS) else ALL
            return NONNEG  # comparisons and logic give 0 or 1
        if isinstance(n, ast.If):
            return _union(self.expr_value(n.then), self.expr_value(n.orelse))
        if isinstance(n, ast.Call):
            return self._call_value(n)
        return ALL

    def _call_value(self, n: ast.Call) -> SignSet:
        f = n.func
        args = [self.expr_value(a) for a in n.args]
        table = self._table(n)
        if table is not None:
            return _lookup_values(table)
        if f in ("MIN", "MAX"):
            pick = min if f == "MIN" else max
            return frozenset(pick(c) for c in itertools.product(*args)) if args else ALL
        if f in ("EXP", "PI", "SIZE"):
            return POS
        if f in ("SQRT", "ABS", "STDDEV", "ARCCOS"):
            return NONNEG if f != "ABS" or ZERO in args[0] else POS
        if f in ("INT", "ROUND", "STEP", "PULSE"):
            return _union(args[0], ZERO)
        if f == "RAMP":
            return _union(args[0], ZERO)
        if f in ("ARCTAN", "ARCSIN", "INIT", "SUM", "MEAN"):
            return _union(*args)
        if f in ("SMTH1", "SMTH3", "DELAY1", "DELAY3", "DELAY", "PREVIOUS"):
            return _union(args[0], *args[2:]) if f != "PREVIOUS" else _union(*args)
        if f in ("SMTHN", "DELAYN"):
            return _union(args[0], *args[3:])
        if f == "SAFEDIV":
            return _union(_mul(args[0], _inv(args[1])), args[2] if len(args) > 2 else ZERO)
        return ALL

    def _table(self, n: ast.Call) -> Lookup | None:
        """The graphical function a call applies (``table(x)`` or ``LOOKUP(table, x)``)."""
        name = n.func
        if n.func == "LOOKUP" and n.args and isinstance(n.args[0], ast.Name):
            name = n.args[0].name
        elif n.func.isupper():
            return None
        e = self.m[name] if name in self.m else None
        return e if isinstance(e, Lookup) else None

    # -------------------------------------------------------------- derivatives
    def expr_derivative(self, n: ast.Expr, x: str) -> SignSet:
        """The signs of ``∂n/∂x`` over every state the declared signs allow."""
        if x not in _mentions(n):
            return ZERO
        if isinstance(n, (ast.Name, ast.Subscript)):
            return POS if n.name == x else ZERO
        if isinstance(n, ast.Unary):
            d = self.expr_derivative(n.operand, x)
            return d if n.op == "+" else _neg(d)
        if isinstance(n, ast.Binary):
            return self._binary_derivative(n, x)
        if isinstance(n, ast.If):
            jump = ZERO
            dc = self.expr_derivative(n.cond, x)
            if dc != ZERO:
                jump = _mul(dc, _add(self.expr_value(n.then), _neg(self.expr_value(n.orelse))))
            return _union(self.expr_derivative(n.then, x), self.expr_derivative(n.orelse, x), jump)
        if isinstance(n, ast.Call):
            return self._call_derivative(n, x)
        return ALL

    def _binary_derivative(self, n: ast.Binary, x: str) -> SignSet:
        op = n.op
        da, db = self.expr_derivative(n.left, x), self.expr_derivative(n.right, x)
        if op == "+":
            return _add(da, db)
        if op in ("-",):
            return _add(da, _neg(db))
        va, vb = self.expr_value(n.left), self.expr_value(n.right)
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

    def _call_derivative(self, n: ast.Call, x: str) -> SignSet:
        f = n.func
        table = self._table(n)
        if table is not None:
            arg = n.args[-1]
            return _mul(lookup_monotonicity(table), self.expr_derivative(arg, x))
        ds = [self.expr_derivative(a, x) for a in n.args]
        if f in ("MIN", "MAX"):
            return _union(*ds)  # only one argument is active at a time
        if f in ("MEAN", "SUM"):
            out = ZERO
            for d in ds:
                out = _add(out, d)
            return out
        if f == "ABS":
            return _mul(self.expr_value(n.args[0]), ds[0])
        if f == "SAFEDIV":
            va, vb = self.expr_value(n.args[0]), self.expr_value(n.args[1])
            d = _add(_mul(ds[0], _inv(vb)), _neg(_mul(va, ds[1])))
            return _union(d, ds[2]) if len(ds) > 2 else d
        b = lookup_builtin(f)
        if b is None:
            return ALL
        if b.kind is BuiltinKind.INIT:
            return ZERO  # read once at the start: not a causal link
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
        """The sign set of ``∂target/∂source`` from ``target``'s equation."""
        tree = self.m.ast(target)
        if tree is None:
            return ZERO
        return self.expr_derivative(tree, source)

    def polarity(self, source: str, target: str) -> str:
        """``+``, ``-``, ``?`` (or ``0`` when the source has no effect) for ``source -> target``."""
        return to_polarity(self.derivative(source, target))

    def delayed(self, source: str, target: str) -> bool:
        """True when ``source`` reaches ``target`` through a stateful builtin (``SMTH1``, ``DELAY3``...)."""
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
    """The structural polarity of the link ``source -> target`` of model ``m``.

    See :class:`SignAnalysis`.  Returns ``+``, ``-``, ``?``, or ``0`` when
    ``target``'s equation does not depend on ``source`` causally.
    """
    from ..model.names import canonical

    return SignAnalysis(m).polarity(canonical(source), canonical(target))
