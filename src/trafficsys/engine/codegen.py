"""Generate Python/numpy source for a lowered model: the whole time loop in one function.

Only our own validated AST reaches this module, and only the node kinds of
:mod:`trafficsys.model.ast` are translated; every identifier in the generated
source is mangled (``v12``, ``_L3``), so no user text appears in it.

Two flavours of the same program are generated:

``"scalar"``
    one run on Python floats.  numpy's per-call overhead (about a microsecond)
    would dominate a single small run; Python float arithmetic costs a few
    tens of nanoseconds, so one run is roughly 20 times faster this way.
``"vector"``
    any number of runs at once; every variable is an array along the run axis
    (or a scalar when it does not vary between runs).

``"kernel"``
    the scalar program inside a loop over runs, for numba (see
    :mod:`~trafficsys.engine.kernel`): each run's state in local variables,
    only what is saved or needed computed, saves written into a preallocated
    array.  Its arithmetic is the scalar one; its builtins are the compiled
    ones of :mod:`~trafficsys.engine.kernel_runtime`.

The first two give identical numbers, to the last bit: ``+ - * /`` are IEEE
operations in both, and the transcendental functions (``EXP``, ``LN``,
``^``...) call the same numpy ufuncs in both (numpy's SIMD ``exp`` differs from
the C library's in the last bit, so ``math.exp`` is not used).  Graphical
functions in scalar mode reproduce ``numpy.interp``'s arithmetic exactly.
"""

from __future__ import annotations

import math
import operator
import re
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import UnsupportedFeatureError
from ..model import ast
from ..model.ast import Binary, Call, If, Name, Num, Unary
from . import runtime as _runtime
from .lower import DISC, FLOW, HSTOCK, PIPE, STOCK, Plan
from .methods import Method
from .runtime import (
    RANDOM_BUILTINS,
    SCIPY_DRAWS,
    _s_fmod,
    _s_mod,
    _s_pipe,
    _s_pulse,
    _s_pulse_train,
    _s_quantum,
    _s_ramp,
    _s_round,
    _s_safediv,
    _s_sign,
    _s_step,
    _s_trunc,
    _scalar_lookup,
    _scalar_pow,
    _scalar_ufunc,
    _v_any,
    _v_fmod,
    _v_pipe,
    _v_pos,
    _v_pow,
    _v_pulse,
    _v_pulse_train,
    _v_quantum,
    _v_ramp,
    _v_round,
    _v_safediv,
    _v_sign,
    _v_step,
    _vector_lookup,
)

__all__ = ["Emitter", "KernelUnsupported", "generate", "helpers", "ledger_from_saves", "TIME_EPS"]

#: relative tolerance (in DTs) of clock comparisons in STEP and PULSE, so that a
#: step at t = 0.3 fires at the step whose time is 3 * 0.1 = 0.30000000000000004
TIME_EPS = 1e-6


class KernelUnsupported(Exception):
    """A construct the compiled kernel does not handle; the numpy path runs the model instead."""


_CMP = {"=": "==", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_NUMBER = re.compile(r"\(?-?[0-9][0-9.e+-]*\)?|\(?-?inf\)?")
_UFUNCS = {
    "EXP": "exp",
    "LN": "log",
    "LOG10": "log10",
    "SQRT": "sqrt",
    "SIN": "sin",
    "COS": "cos",
    "TAN": "tan",
    "ARCSIN": "arcsin",
    "ARCCOS": "arccos",
    "ARCTAN": "arctan",
    "SINH": "sinh",
    "COSH": "cosh",
    "TANH": "tanh",
}
#: builtins whose value depends on their arguments only (not on the clock or on history)
_PURE = frozenset(_UFUNCS) | {
    "ABS",
    "INT",
    "ROUND",
    "MIN",
    "MAX",
    "MEAN",
    "MOD",
    "PI",
    "SAFEDIV",
    "POWER",
    "LOG",
    "SIGN",
    "INF",
    "GAMMA_LN",
}


class Emitter:
    """Translate one AST to a Python expression string for ``mode`` (``"scalar"`` or ``"vector"``).

    ``names`` maps canonical variable names to local identifiers; ``tables``
    maps graphical-function names to the identifier of their helper.

    With ``invariant`` (a predicate: does this sub-expression depend only on
    constants?) and ``hoisted`` (source -> name, shared by one function), every
    largest invariant sub-expression is emitted as a name and its source is
    recorded in ``hoisted``, to be computed once before the time loop.  A
    sub-expression evaluated only under a condition (a branch of ``IF``, the
    right operand of ``AND``/``OR``) is left in place, so that hoisting never
    evaluates something the equation would not have (a division by zero in an
    unused branch).
    """

    def __init__(
        self,
        mode: str,
        names: Callable[[str], str],
        tables: dict[str, str],
        *,
        has_pi_var: bool = False,
        variable: str = "",
        file: str | None = None,
        invariant: Callable[[ast.Expr], bool] | None = None,
        hoisted: dict[str, str] | None = None,
        seeded: bool = False,
    ):
        self.mode = mode
        self.seeded = seeded  # the generated function has the run's seed (SEED) and the step number (k)
        self.names = names
        self.tables = tables
        self.has_pi_var = has_pi_var
        self.variable = variable
        self.file = file
        self.temp = 0
        self.invariant = invariant
        self.hoisted = hoisted
        self.guard = 0  # > 0 inside a sub-expression that is evaluated only under a condition

    def __call__(self, e: ast.Expr, cond: bool = False) -> str:
        return self.emit(e, cond)

    def emit(self, e: ast.Expr, cond: bool = False) -> str:
        """Return the source of ``e``; ``cond`` asks for a truth value rather than 1.0 / 0.0.

        The tree is walked with an explicit stack, so a sum of thousands of
        terms (``SUM`` over a large dimension) emits like a short one, and
        chains of one operator come out flat (:class:`_Chain`), never as
        thousands of nested brackets, which Python cannot compile.
        """
        out: list[str | _Chain] = []
        stack: list[tuple[bool, ast.Expr, bool, int]] = [(False, e, cond, self.guard)]
        while stack:
            build, n, c, g = stack.pop()
            if build:
                k = len(ast.children(n))
                kids = out[len(out) - k :]
                del out[len(out) - k :]
                out.append(self._build(n, kids, c))
                continue
            if (
                self.invariant is not None
                and not g
                and not isinstance(n, (Num, Name))
                and not (isinstance(n, Call) and not n.args and n.func in self.tables)
                and self.invariant(n)
            ):
                out.append(self._hoist(n, c))
                continue
            if isinstance(n, (Num, Name)):
                out.append(self._leaf(n))
                continue
            if not isinstance(n, (Unary, Binary, If, Call)):
                raise UnsupportedFeatureError(
                    f"cannot compile a {type(n).__name__} node: flatten arrays first",
                    variable=self.variable,
                    file=self.file,
                )
            stack.append((True, n, c, g))
            stack.extend((False, x, xc, xg) for x, xc, xg in reversed(_operands(n, g)))
        text = self._text(out[0])
        if _bracket_depth(text) > MAX_BRACKETS:
            raise UnsupportedFeatureError(
                f"the equation nests too deeply to compile (more than {MAX_BRACKETS} levels of brackets in "
                "the generated code); split it into auxiliaries",
                variable=self.variable,
                file=self.file,
            )
        return text

    def _text(self, v: str | _Chain) -> str:
        return v.render(self.mode) if isinstance(v, _Chain) else v

    def _leaf(self, e: Num | Name) -> str:
        if isinstance(e, Num):
            x = float(e.value)
            if not math.isfinite(x):
                raise UnsupportedFeatureError(
                    f"number {x!r} is not finite", variable=self.variable, file=self.file
                )
            return f"({x!r})" if x < 0 or (x == 0 and math.copysign(1, x) < 0) else repr(x)
        n = e.name
        if n == "time":
            return "T"
        if n == "dt":
            return "DT"
        if n == "starttime":
            return "T0"
        if n == "stoptime":
            return "T1"
        if n == "pi" and not self.has_pi_var:
            return repr(math.pi)
        return self.names(n)

    def _build(self, e: ast.Expr, kids: list[str | _Chain], cond: bool) -> str | _Chain:
        """Source of ``e`` from the source of its operands (a chain stays open for its parent to extend)."""
        v = self.mode == "vector"
        if isinstance(e, Unary):
            x = self._text(kids[0])
            if e.op == "-":
                return f"(-{x})"
            if e.op == "+":
                return x
            s = f"_not({x})" if v else f"(({x}) == 0)"
            return s if cond else f"({s} * 1.0)"
        if isinstance(e, Binary):
            op = e.op
            kind = _CHAIN_KIND.get(op)
            if kind is not None:
                left = kids[0]
                if isinstance(left, _Chain) and left.kind == kind:
                    left.add(op, self._text(kids[1]), cond)
                    return left
                return _Chain(kind, self._text(left), op, self._text(kids[1]), cond)
            left, right = self._text(kids[0]), self._text(kids[1])
            if op in _CMP:
                s = f"({left} {_CMP[op]} {right})"
                return s if cond else f"({s} * 1.0)"
            if op == "^":
                return f"_pow({left}, {right})"
            return f"_mod({left}, {right})"
        if isinstance(e, If):
            c, a, b = (self._text(k) for k in kids)
            if self.mode == "kernel":  # both branches, as the vector flavour: no branch for numba to compile
                return f"_ite({c}, {a}, {b})"
            return f"_where({c}, {a}, {b})" if v else f"({a} if {c} else {b})"
        assert isinstance(e, Call)
        return self.call(e, [self._text(k) for k in kids])

    def _hoist(self, e: ast.Expr, cond: bool) -> str:
        assert self.hoisted is not None
        saved, self.invariant = self.invariant, None
        try:
            src = self.emit(e, cond)
        finally:
            self.invariant = saved
        if not any(isinstance(x, (Name, Call)) for x in ast.walk(e)):
            return src  # literals only: CPython folds the arithmetic itself
        return self.hoisted.setdefault(src, f"_h{len(self.hoisted)}")

    def call(self, e: Call, args: list[str]) -> str:
        """Source of the call ``e`` given the source of its arguments."""
        f = e.func
        if not f.isupper():
            if f not in self.tables:
                raise UnsupportedFeatureError(
                    f"'{f}' is not a graphical function", variable=self.variable, file=self.file
                )
            if not args and e.args == ():  # the table itself, for LOOKUP_FORWARD(table, x)...
                return self.tables[f]
            if len(args) != 1:
                raise UnsupportedFeatureError(
                    f"graphical function '{f}' takes one argument, got {len(args)}",
                    variable=self.variable,
                    file=self.file,
                )
            return f"{self.tables[f]}({args[0]})"
        if f in _UFUNCS:
            return f"_{_UFUNCS[f]}({args[0]})"
        if f in _TABLE_FUNCTIONS:  # (the table's helper, arguments...): its points are <helper>X, <helper>Y
            t = args[0]
            return f"{_TABLE_FUNCTIONS[f]}({', '.join(args[1:])}, {t}X, {t}Y)"
        if f in RANDOM_BUILTINS:
            if not self.seeded:
                raise UnsupportedFeatureError(
                    f"{f}(...) draws a random number at each step of a run; it cannot be re-evaluated from "
                    "recorded values (read its value from the results)",
                    variable=self.variable,
                    file=self.file,
                )
            if self.mode == "kernel" and f in SCIPY_DRAWS:
                raise KernelUnsupported(f"{f} (drawn through scipy's distributions)")
            suffix, nargs = RANDOM_BUILTINS[f]
            dist, s2, site = args[:nargs], args[nargs], args[nargs + 1]
            return f"_r_{suffix}(SEED, {site}, k, {s2}{''.join(', ' + a for a in dist)})"
        if f == "ABS":
            return f"_abs({args[0]})"
        if f == "INT":
            return f"_floor({args[0]})"
        if f == "INTEGER":
            return f"_trunc({args[0]})"
        if f == "ROUND":
            return f"_round({args[0]})"
        if f in ("MIN", "MAX"):
            if len(args) == 1:
                raise UnsupportedFeatureError(
                    f"{f} of one argument reduces an array: flatten arrays first",
                    variable=self.variable,
                    file=self.file,
                )
            if len(args) > CHAIN_INLINE:  # nested calls would be too deep for Python's compiler
                if self.mode == "kernel":
                    raise KernelUnsupported(f"{f} of more than {CHAIN_INLINE} arguments")
                return f"{'_vmin' if f == 'MIN' else '_vmax'}(({', '.join(args)},))"
            if self.mode == "kernel":  # the inline choice below, as a compiled function (no := in numba)
                fn = "_min2" if f == "MIN" else "_max2"
                out = args[0]
                for a in args[1:]:
                    out = f"{fn}({out}, {a})"
                return out
            if self.mode == "vector":
                fn = "_minimum" if f == "MIN" else "_maximum"
                out = args[0]
                for a in args[1:]:
                    out = f"{fn}({out}, {a})"
                return out
            # Python's max(a, b) is `b if b > a else a`; written out, without the call
            cmp = ">" if f == "MAX" else "<"
            out = args[0]
            for a in args[1:]:
                self.temp += 1
                # a name or a number is read twice; anything else once, into a temporary
                t1, t2 = (out, out) if _simple(out) else (f"(_m{self.temp}a := {out})", f"_m{self.temp}a")
                u1, u2 = (a, a) if _simple(a) else (f"(_m{self.temp}b := {a})", f"_m{self.temp}b")
                out = f"({u2} if {u1} {cmp} {t1} else {t2})"
            return out
        if f == "MEAN":
            total = _Chain("+", args[0], "+", args[1], False) if len(args) > 1 else None
            for a in args[2:]:
                total.add("+", a, False)  # type: ignore[union-attr]
            return f"({total.render(self.mode) if total else args[0]} / {float(len(args))!r})"
        if f == "MOD":
            return f"_mod({args[0]}, {args[1]})"
        if f == "MODULO":
            return f"_fmod({args[0]}, {args[1]})"
        if f == "QUANTUM":
            return f"_quantum({args[0]}, {args[1]})"
        if f in ("_VSORT_ORDER", "_VRANK"):  # (position, direction, elements...)
            fn = "_vsort_order" if f == "_VSORT_ORDER" else "_vrank"
            return f"{fn}({args[0]}, {args[1]}, ({', '.join(args[2:])},))"
        if f == "_VPICK":  # (0-based index, elements...)
            return f"_vpick({args[0]}, ({', '.join(args[1:])},))"
        if f == "_VSELECT":  # (missing, action, error action, n, n selections, n expressions)
            k = int(float(args[3]))
            sel, expr = args[4 : 4 + k], args[4 + k :]
            return (
                f"_vselect_check({args[0]}, {args[1]}, {args[2]}, ({', '.join(sel)},), ({', '.join(expr)},))"
            )
        if f == "_ALLOC_PRIORITY":  # (position, width, supply, n, n requests, n priorities)
            k = int(float(args[3]))
            req, pri = args[4 : 4 + k], args[4 + k :]
            return (
                f"_alloc_priority({args[0]}, {args[1]}, {args[2]}, ({', '.join(req)},), ({', '.join(pri)},))"
            )
        if f == "PI":
            return repr(math.pi)
        if f == "INF":
            return "INF"
        if f == "POWER":
            return f"_pow({args[0]}, {args[1]})"
        if f == "LOG":
            return f"_log10({args[0]})" if len(args) == 1 else f"(_log({args[0]}) / _log({args[1]}))"
        if f == "SIGN":
            return f"_sign({args[0]})"
        if f == "GAMMA_LN":
            return f"_gammaln({args[0]})"
        if f == "_VLOOKUP":  # (x, xmin, xmax, mode, n, the vector)
            if self.mode == "kernel":
                raise KernelUnsupported("VECTOR LOOKUP")
            return f"_vlookup({args[0]}, {args[1]}, {args[2]}, {args[3]}, ({', '.join(args[5:])},))"
        if f == "_INVERT":  # (row, column, size, elements row by row)
            return f"_invert({args[0]}, {args[1]}, {args[2]}, ({', '.join(args[3:])},))"
        if f == "PULSE_TRAIN":
            return f"_pulse_train(T, DT, {args[0]}, {args[1]}, {args[2]}, {args[3]})"
        if f == "SAFEDIV":
            return f"_safediv({args[0]}, {args[1]}, {args[2] if len(args) > 2 else '0.0'})"
        if f == "STEP":
            return f"_stepf(T, EPS, {args[0]}, {args[1]})"
        if f == "RAMP":
            return f"_ramp(T, {args[0]}, {args[1]}, {args[2] if len(args) > 2 else 'INF'})"
        if f == "_PIPE":  # lowered pipeline DELAY: (history, delay time, initial value)
            if self.mode == "kernel":
                raise KernelUnsupported("a pipeline DELAY (its input history is a growing list)")
            return f"_pipe({args[0]}, k, {args[1]}, DT, {args[2]})"
        if f == "_PIPEMAT":  # lowered DELAY MATERIAL: (input history, delay-time history, initial, missing)
            if self.mode == "kernel":
                raise KernelUnsupported("a DELAY MATERIAL (its histories are growing lists)")
            return f"_pipe_material({args[0]}, {args[1]}, k, DT, {args[2]}, {args[3]})"
        if f == "PULSE":
            first = args[1] if len(args) > 1 else "T0"
            every = args[2] if len(args) > 2 else "0.0"
            return f"_pulse(T, DT, EPS, {args[0]}, {first}, {every})"
        raise UnsupportedFeatureError(
            f"builtin {f} is not supported by the engine", variable=self.variable, file=self.file
        )


#: longest chain of one operator written inline; longer ones go through _fold (CPython's compiler
#: recurses once per operator of a chain and fails somewhere between 1,000 and 3,000)
CHAIN_INLINE = 64
#: longer chains are left to numpy: Python's compiler recurses once per operator of the kernel's source,
#: and a chain must keep its left-to-right order (the same bits as numpy's fold)
KERNEL_CHAIN_TERMS = 500
#: deepest bracket nesting of one generated expression (CPython's tokenizer stops at 200; the
#: statement around the expression adds a few)
MAX_BRACKETS = 180
_CHAIN_KIND = ast.CHAIN_KIND  # operators whose left-nested chains are written flat


def _bracket_depth(text: str) -> int:
    """Deepest nesting of brackets in generated source (which holds no string literals but ``_fold``'s)."""
    depth = top = 0
    for ch in text:
        if ch in "([":
            depth += 1
            top = depth if depth > top else top
        elif ch in ")]":
            depth -= 1
    return top


def _operands(n: ast.Expr, guard: int) -> list[tuple[ast.Expr, bool, int]]:
    """Return the operands of ``n``, each with its context: (node, wanted as a truth value, guard level)."""
    if isinstance(n, Unary):
        return [(n.operand, n.op == "not", guard)]
    if isinstance(n, Binary):
        if n.op in ("and", "or"):  # short-circuit: the right operand is evaluated only sometimes
            return [(n.left, True, guard), (n.right, True, guard + 1)]
        return [(n.left, False, guard), (n.right, False, guard)]
    if isinstance(n, If):
        return [(n.cond, True, guard), (n.then, False, guard + 1), (n.orelse, False, guard + 1)]
    return [(a, False, guard) for a in ast.children(n)]


class _Chain:
    """A left-nested chain of one kind of operator, ``((a + b) - c) + d``, kept open while it grows.

    Rendered flat, ``(a + b - c + d)``, which Python evaluates in the same
    order, so the result is the same to the last bit; past
    :data:`CHAIN_INLINE` operands through ``_fold`` (arithmetic, and logic in
    vector mode), a loop doing the same operations in the same order.  Scalar
    AND / OR stay inline: Python's ``and`` is flat and keeps short-circuiting.
    """

    __slots__ = ("kind", "terms", "ops", "cond")

    def __init__(self, kind: str, first: str, op: str, second: str, cond: bool):
        self.kind, self.terms, self.ops, self.cond = kind, [first, second], [op], cond

    def add(self, op: str, term: str, cond: bool) -> None:
        self.terms.append(term)
        self.ops.append(op)
        self.cond = cond

    def render(self, mode: str) -> str:
        terms, ops = self.terms, self.ops
        if self.kind in ("and", "or"):
            if mode == "vector":
                if len(terms) > CHAIN_INLINE:
                    s = f"_fold({self.kind[0] * len(ops)!r}, ({', '.join(terms)},))"
                else:
                    s = terms[0]
                    for t in terms[1:]:
                        s = f"_{self.kind}({s}, {t})"
                return s if self.cond else f"({s} * 1.0)"
            if mode == "kernel":  # both sides, as the vector flavour (on truth values & and | are and, or)
                s = "(" + (" & " if self.kind == "and" else " | ").join(f"(({t}) != 0)" for t in terms) + ")"
                return s if self.cond else f"({s} * 1.0)"
            s = "(" + f" {self.kind} ".join(f"({t}) != 0" for t in terms) + ")"
            return s if self.cond else f"({s} * 1.0)"
        if len(terms) > CHAIN_INLINE:
            if mode == "kernel" and len(terms) > KERNEL_CHAIN_TERMS:
                raise KernelUnsupported(f"a sum or product of {len(terms):,} terms")
            if mode == "kernel":  # groups of CHAIN_INLINE, left to right: the same order, shallow nesting
                s = terms[0]
                for i in range(1, len(terms), CHAIN_INLINE):
                    s = (
                        "("
                        + " ".join(
                            [s]
                            + [
                                f"{op} {t}"
                                for op, t in zip(
                                    ops[i - 1 : i - 1 + CHAIN_INLINE], terms[i : i + CHAIN_INLINE]
                                )
                            ]
                        )
                        + ")"
                    )
                return s
            return f"_fold({''.join(ops)!r}, ({', '.join(terms)},))"
        parts = [terms[0]]
        for op, t in zip(ops, terms[1:]):
            parts += [op, t]
        return "(" + " ".join(parts) + ")"


#: the arithmetic of a flattened chain, by operator (AND ``a`` and OR ``o`` only in vector mode)
_CHAIN_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "a": np.logical_and,
    "o": np.logical_or,
}


def _s_fold(ops: str, terms: tuple):
    """Apply ``ops`` (a string of ``+ - * /``) left to right over ``terms``: a long chain, unrolled."""
    acc = terms[0]
    for op, x in zip(ops, terms[1:]):
        acc = _CHAIN_OPS[op](acc, x)
    return acc


#: vector mode folds the same way; its chains of AND (``a``) and OR (``o``) are evaluated whole
_v_fold = _s_fold


def _s_extreme(pick_max: bool):
    """MIN / MAX of many arguments, with the choice the inline form makes (``b if b > a else a``)."""

    def f(args):
        out = args[0]
        for a in args[1:]:
            if (a > out) if pick_max else (a < out):
                out = a
        return out

    return f


def _v_extreme(fn):
    def f(args):
        out = args[0]
        for a in args[1:]:
            out = fn(out, a)
        return out

    return f


# --------------------------------------------------------------------- helpers
#: Vensim's other uses of a graphical function -> the runtime function (``_s``/``_v`` + name in numpy)
_TABLE_FUNCTIONS = {
    "LOOKUP_FORWARD": "_lforward",
    "LOOKUP_BACKWARD": "_lbackward",
    "LOOKUP_SLOPE": "_lslope",
    "LOOKUP_EXTRAPOLATE": "_lextrapolate",
    "LOOKUP_INVERT": "_linvert",
    "LOOKUP_AREA": "_larea",
}
#: the vector functions of flattened arrays (runtime ``_s`` + name, ``_v`` + name; the kernel's own name)
_VECTOR_FUNCTIONS = (
    "_vsort_order",
    "_vrank",
    "_vpick",
    "_vselect_check",
    "_alloc_priority",
    "_invert",
    "_gammaln",
    "_vlookup",
)


def helpers(mode: str, plan: Plan, table_ids: dict[str, str]) -> dict[str, object]:
    """Build the namespace the generated functions run in."""
    ns: dict[str, object] = {"INF": math.inf, "_F": np.float64, "_asarray": np.asarray}
    if mode == "vector":
        ns.update(
            _where=np.where,
            _and=np.logical_and,
            _or=np.logical_or,
            _not=np.logical_not,
            _pow=_v_pow,
            _mod=np.mod,
            _abs=np.abs,
            _floor=np.floor,
            _round=_v_round,
            _trunc=np.trunc,
            _fmod=_v_fmod,
            _quantum=_v_quantum,
            _minimum=np.minimum,
            _maximum=np.maximum,
            _safediv=_v_safediv,
            _stepf=_v_step,
            _ramp=_v_ramp,
            _pulse=_v_pulse,
            _pulse_train=_v_pulse_train,
            _sign=_v_sign,
            _pos=_v_pos,
            _any=_v_any,
            _pipe=_v_pipe,
            _pipe_material=_runtime._v_pipe_material,
            _fold=_v_fold,
            _vmin=_v_extreme(np.minimum),
            _vmax=_v_extreme(np.maximum),
        )
        for fn in _UFUNCS.values():
            ns["_" + fn] = getattr(np, fn)
        for suffix, _ in RANDOM_BUILTINS.values():
            ns["_r_" + suffix] = getattr(_runtime, "_v_r_" + suffix)
        for fn in (*_VECTOR_FUNCTIONS, *_TABLE_FUNCTIONS.values()):
            ns[fn] = getattr(_runtime, "_v" + fn)
        for t, ident in table_ids.items():
            ns[ident] = _vector_lookup(plan.tables[t])
            ns[ident + "X"] = np.asarray(plan.tables[t].xs, dtype=float)
            ns[ident + "Y"] = np.asarray(plan.tables[t].ys, dtype=float)
    else:
        ns.update(
            _pow=_scalar_pow,
            _mod=_s_mod,
            _abs=abs,
            _floor=math.floor,
            _round=_s_round,
            _trunc=_s_trunc,
            _fmod=_s_fmod,
            _quantum=_s_quantum,
            _safediv=_s_safediv,
            _stepf=_s_step,
            _ramp=_s_ramp,
            _pulse=_s_pulse,
            _pipe=_s_pipe,
            _pipe_material=_runtime._s_pipe_material,
            _pulse_train=_s_pulse_train,
            _sign=_s_sign,
            _fold=_s_fold,
            _vmin=_s_extreme(False),
            _vmax=_s_extreme(True),
        )
        for fn in _UFUNCS.values():
            ns["_" + fn] = _scalar_ufunc(getattr(np, fn))
        for suffix, _ in RANDOM_BUILTINS.values():
            ns["_r_" + suffix] = getattr(_runtime, "_s_r_" + suffix)
        for fn in (*_VECTOR_FUNCTIONS, *_TABLE_FUNCTIONS.values()):
            ns[fn] = getattr(_runtime, "_s" + fn)
        for t, ident in table_ids.items():
            ns[ident] = _scalar_lookup(plan.tables[t])
            ns[ident + "X"] = np.asarray(plan.tables[t].xs, dtype=float)
            ns[ident + "Y"] = np.asarray(plan.tables[t].ys, dtype=float)
    return ns


# --------------------------------------------------------------------- program
class _Program:
    def __init__(
        self,
        plan: Plan,
        method: Method,
        mode: str,
        file: str | None,
        record: tuple[str, ...] | None = None,
        ledger: bool = True,
    ):
        self.plan = plan
        self.ledger = ledger
        self.record = list(plan.recorded if record is None else record)
        self.method = method
        self.mode = mode
        self.file = file
        self.ids = {name: f"v{i}" for i, name in enumerate(plan.nodes)}
        self.table_ids = {name: f"_L{i}" for i, name in enumerate(plan.tables)}
        self.has_pi = "pi" in plan.nodes
        self.lines: list[str] = []
        nodes = plan.nodes
        self.user_stocks = [n for n in plan.states if nodes[n].role == STOCK]
        self.hstocks = [n for n in plan.states if nodes[n].role == HSTOCK]
        self.discs = [n for n in plan.states if nodes[n].role == DISC]
        self.pipes = [n for n in plan.states if nodes[n].role == PIPE]
        self.acc_flows, self.gross_flows = accumulated(plan)
        self.nn_order = self._nonneg_order()
        # loop invariants of _run: computed once per call, before the time loop (each call reads P
        # afresh, so Simulation.set between steps is seen); the emitters of the loop fill `hoisted`
        self.hoist = False
        self.hoisted: dict[str, str] = {}
        self._inv: dict[int, tuple[ast.Expr, bool]] = {}
        self.inv_names = set(plan.constants) | {"dt", "starttime", "stoptime"}
        if not self.has_pi:
            self.inv_names.add("pi")
        self.inv_nodes = []
        for n in plan.step_order:
            if self.invariant(nodes[n].body):
                self.inv_nodes.append(n)
                self.inv_names.add(n)
        self.rescaled = self._rescaled()

    def invariant(self, e: ast.Expr) -> bool:
        """Return True if ``e`` has the same value at every step of a run: constants, DT, pure functions."""
        memo = self._inv  # by identity, holding the node so that its id is not reused; hashing a
        # deep tree by value would cost its whole size at every level

        def known(n: ast.Expr) -> bool | None:
            got = memo.get(id(n))
            return None if got is None else got[1]

        def combine(n: ast.Expr, kids: list[bool]) -> bool:
            if isinstance(n, Num):
                got = True
            elif isinstance(n, Name):
                got = n.name in self.inv_names
            elif isinstance(n, Call) and not (n.func in _PURE or n.func in self.table_ids):
                got = False  # the clock (STEP, RAMP, PULSE) and the pipeline delay's history
            else:
                got = all(kids)
            memo[id(n)] = (n, got)
            return got

        return ast.fold(e, combine, known)

    def _rescaled(self) -> set[str]:
        """Flows the loop assigns more than once a step: limited drains; with several stages, all of a ledger."""
        nodes = self.plan.nodes
        out = {f for s in self.nn_order for f in nodes[s].outflows}
        out |= {f for s in self.nn_order for f in nodes[s].inflows if not nodes[f].uniflow}
        if self.method.stages > 1:
            out |= set(self.acc_flows)
        return out

    def _nonneg_order(self) -> list[str]:
        import networkx as nx

        nodes = self.plan.nodes
        nn = [s for s in self.user_stocks if nodes[s].non_negative]
        g = nx.DiGraph()
        g.add_nodes_from(nn)
        dest = {f: s for s in self.user_stocks for f in nodes[s].inflows}
        for s in nn:
            for f in nodes[s].outflows:
                d = dest.get(f)
                if d in g and d != s:
                    g.add_edge(s, d)
        pos = {s: i for i, s in enumerate(nn)}
        cond = nx.condensation(g)
        order: list[str] = []
        for c in nx.lexicographical_topological_sort(
            cond, key=lambda c: min(pos[s] for s in cond.nodes[c]["members"])
        ):
            order.extend(sorted(cond.nodes[c]["members"], key=pos.__getitem__))
        return order

    def emitter(self, stage_names: bool, variable: str) -> Emitter:
        ids = self.ids
        states = set(self.plan.states)
        names: Callable[[str], str]
        if stage_names:

            def names(n: str) -> str:
                return ids[n] + "_s" if n in states and self.plan.nodes[n].role in (STOCK, HSTOCK) else ids[n]
        else:
            names = ids.__getitem__
        return Emitter(
            self.mode,
            names,
            self.table_ids,
            has_pi_var=self.has_pi,
            variable=self.plan.display.get(variable, variable),
            file=self.file,
            invariant=self.invariant if self.hoist else None,
            hoisted=self.hoisted,
            seeded=self.plan.seeded,
        )

    def w(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    # -- pieces ----------------------------------------------------------
    def constants(self, ind: int) -> None:
        for i, c in enumerate(self.plan.constants):
            self.w(ind, f"{self.ids[c]} = P[{i}]")
        if self.plan.seeded:  # the run's seed follows the constants
            self.w(ind, f"SEED = P[{len(self.plan.constants)}]")

    def equation(self, n: str, stage: bool, e: ast.Expr | None = None) -> str:
        """Source of ``n``'s value from ``e`` (default: its equation), a uniflow cut at zero."""
        node = self.plan.nodes[n]
        expr = self.emitter(stage, node.owner)(node.body if e is None else e)
        if node.role == FLOW and node.uniflow:
            expr = (
                f"_pos({expr})"
                if self.mode == "vector"
                else f"_clampneg({expr})"
                if self.mode == "kernel"
                else _clamp(expr)
            )
        return expr

    def aux_block(self, ind: int, stage: bool, only: set[str] | None = None) -> None:
        inv = set(self.inv_nodes) if self.hoist else set()
        for n in self.plan.step_order:
            if only is not None and n not in only:
                continue
            if n in inv:  # computed before the loop; a flow the loop rescales is restored each step
                if n in self.rescaled:
                    self.w(ind, f"{self.ids[n]} = I{self.ids[n]}")
                continue
            self.w(ind, f"{self.ids[n]} = {self.equation(n, stage)}")

    def invariants(self, ind: int, only: set[str] | None = None) -> list[str]:
        """Lines computing the loop invariants (after the constants are read)."""
        lines = []
        for n in self.inv_nodes:
            if only is not None and n not in only:
                continue
            v = self.ids[n]
            saved, self.hoist = self.hoist, False  # an invariant equation is computed whole
            expr = self.equation(n, False)
            self.hoist = saved
            if n in self.rescaled:
                lines += [f"I{v} = {expr}", f"{v} = I{v}"]
            else:
                lines.append(f"{v} = {expr}")
        lines += [f"{name} = {src}" for src, name in self.hoisted.items()]
        return ["    " * ind + x for x in lines]

    def limit_block(self, ind: int) -> None:
        nodes = self.plan.nodes
        nn = set(self.nn_order)
        src = {f: s for s in self.user_stocks for f in nodes[s].outflows}
        dst = {f: s for s in self.user_stocks for f in nodes[s].inflows}
        done: set[str] = set()
        vec = self.mode == "vector"

        kern = self.mode == "kernel"  # the same arithmetic through functions: no branches to compile

        def pos(x):
            return f"_pos({x})" if vec else f"_posv({x})" if kern else f"({x} if {x} > 0.0 else 0.0)"

        def neg(x):
            return f"_pos(-{x})" if vec else f"_negv({x})" if kern else f"(-{x} if {x} < 0.0 else 0.0)"

        for s in self.nn_order:
            node = nodes[s]
            drains: list[tuple[str, str]] = []  # (flow, "out" | "in")
            fills: list[str] = []
            for f in node.outflows:
                fid = self.ids[f]
                uni = nodes[f].uniflow
                drains.append((f, "out"))
                other = dst.get(f)
                if not uni and (other is None or other not in nn or other in done):
                    fills.append(neg(fid))
            for f in node.inflows:
                fid = self.ids[f]
                uni = nodes[f].uniflow
                if not uni:
                    drains.append((f, "in"))
                other = src.get(f)
                if other is None or other not in nn or other in done:
                    fills.append(fid if uni else pos(fid))
            done.add(s)
            if not drains:
                continue
            terms = []
            for f, d in drains:
                fid = self.ids[f]
                if d == "out":
                    terms.append(fid if nodes[f].uniflow else pos(fid))
                else:
                    terms.append(neg(fid))
            sid = self.ids[s]
            # the stock is >= 0 and fills are >= 0, so what is available is >= 0 too
            avail = f"{sid} + DT * ({' + '.join(fills)})" if fills else sid
            self.w(ind, f"_nd = DT * ({' + '.join(terms)})")
            self.w(ind, f"_av = {avail}")
            # limited runs get _sc = _av / _nd, the others exactly 1, so skipping the scaling when no run
            # is limited gives the same bits (and the scalar code does the same per run)
            if kern:  # _sc is exactly 1.0 when not limited, and x * 1.0 is x to the last bit
                self.w(ind, "_sc = _limit(_nd, _av)")
                for f, d in drains:
                    fid = self.ids[f]
                    if d == "out" and nodes[f].uniflow:
                        self.w(ind, f"{fid} = {fid} * _sc")
                    else:
                        self.w(ind, f"{fid} = {'_scalepos' if d == 'out' else '_scaleneg'}({fid}, _sc)")
                continue
            if vec:
                self.w(ind, "_lim = _nd > _av")
                self.w(ind, "if _any(_lim):")
                self.w(ind + 1, "_sc = _where(_lim, _av / _where(_lim, _nd, 1.0), 1.0)")
            else:
                self.w(ind, "if _nd > _av:")
                self.w(ind + 1, "_sc = _av / _nd")
            for f, d in drains:
                fid = self.ids[f]
                if d == "out" and nodes[f].uniflow:
                    self.w(ind + 1, f"{fid} = {fid} * _sc")
                elif d == "out":
                    self.w(
                        ind + 1,
                        f"{fid} = _where({fid} > 0.0, {fid} * _sc, {fid})"
                        if vec
                        else f"if {fid} > 0.0: {fid} = {fid} * _sc",
                    )
                else:
                    self.w(
                        ind + 1,
                        f"{fid} = _where({fid} < 0.0, {fid} * _sc, {fid})"
                        if vec
                        else f"if {fid} < 0.0: {fid} = {fid} * _sc",
                    )

    def net(self, s: str, fmt: Callable[[str], str]) -> str:
        node = self.plan.nodes[s]
        ins = " + ".join(fmt(f) for f in node.inflows) or "0.0"
        outs = " + ".join(fmt(f) for f in node.outflows)
        return f"({ins}) - ({outs})" if outs else f"({ins})"

    # -- functions -------------------------------------------------------
    def init_function(self) -> None:
        nodes = self.plan.nodes
        self.w(0, "def _init(P, T0, DT, T1):")
        self.w(1, "T = _F(T0)" if self.mode == "vector" else "T = T0")
        self.w(1, f"EPS = DT * {TIME_EPS!r}")
        self.w(1, "k = 0")
        self.constants(1)
        states = set(self.plan.states)
        for n in self.plan.init_order:
            node = nodes[n]
            if node.role == PIPE:
                self.w(1, f"{self.ids[n]} = []")
                continue
            e = node.init if n in states or node.init is not None else node.expr
            self.w(1, f"{self.ids[n]} = {self.equation(n, False, e)}")
        self.w(1, f"return ({''.join(self.ids[s] + ', ' for s in self.plan.states)})")

    def run_function(self) -> None:
        plan, nodes, ids, m = self.plan, self.plan.nodes, self.ids, self.method
        vec = self.mode == "vector"
        st = plan.states
        # per flow the net amount moved (A); per biflow also the gross amount (G, both directions)
        accs = [f"A{i}" for i in range(len(self.acc_flows))] + [f"G{i}" for i in range(len(self.gross_flows))]
        if not self.ledger:  # the caller sums the saved flows itself (see ledger_from_saves)
            accs = []
        self.w(0, "def _run(P, S, ACC, k0, k1, T0, DT, T1, every, out):")
        self.w(1, f"EPS = DT * {TIME_EPS!r}")
        self.constants(1)
        if st:
            self.w(1, f"({''.join(ids[s] + ', ' for s in st)}) = S")
        if accs:
            self.w(1, f"({''.join(a + ', ' for a in accs)}) = ACC")
        self.w(1, "k = k0")
        pre = len(self.lines)
        self.hoist = True
        self.w(1, "while True:")
        self.w(2, "T = _F(T0 + k * DT)" if vec else "T = T0 + k * DT")
        self.aux_block(2, False)
        self.limit_block(2)
        self.w(2, "if k % every == 0:")
        rec = [ids[n] for n in self.record]
        if vec:
            self.w(3, "j = k // every")
            for i, r in enumerate(rec):
                self.w(3, f"out[j, {i}] = {r}")
            if not rec:
                self.w(3, "pass")
        else:  # the bytes of the saved values: no float objects kept, one copy into numpy at the end
            self.w(3, f"out[k // every] = _pack({', '.join(rec)})")
        self.w(2, "if k >= k1:")
        self.w(3, "break")
        # discrete states: their next value, from this step's stage-0 values
        for d in self.discs:
            self.w(2, f"N{ids[d]} = {self.emitter(False, nodes[d].owner)(nodes[d].body)}")
        for d in self.pipes:  # a re-run of step k (stepping) replaces its entry
            x = self.emitter(False, nodes[d].owner)(nodes[d].body)
            self.w(2, f"del {ids[d]}[k:]")
            self.w(2, f"{ids[d]}.append({x})")
        ns = m.stages
        flow_ids = {f: ids[f] for f in self.acc_flows}
        if ns == 1:
            for h in self.hstocks:
                self.w(2, f"D{ids[h]} = {self.emitter(False, nodes[h].owner)(nodes[h].body)}")
        else:
            self.stage_copy(2, 0)
            for i in range(1, ns):
                self.w(
                    2,
                    f"T = _F(T0 + k * DT + {m.c[i]!r} * DT)" if vec else f"T = T0 + k * DT + {m.c[i]!r} * DT",
                )
                for s in self.user_stocks + self.hstocks:
                    comb = " + ".join(f"{m.a[i][j]!r} * D{ids[s]}_{j}" for j in range(i) if m.a[i][j] != 0)
                    self.w(2, f"{ids[s]}_s = {ids[s]} + DT * ({comb})" if comb else f"{ids[s]}_s = {ids[s]}")
                self.aux_block(2, True)
                self.limit_block(2)
                self.stage_copy(2, i)
            for f in self.acc_flows:
                comb = " + ".join(f"{m.b[j]!r} * F{ids[f]}_{j}" for j in range(ns) if m.b[j] != 0)
                self.w(2, f"{ids[f]} = {comb}")
            for h in self.hstocks:
                comb = " + ".join(f"{m.b[j]!r} * D{ids[h]}_{j}" for j in range(ns) if m.b[j] != 0)
                self.w(2, f"D{ids[h]} = {comb}")
        # the update: flows (limited, weighted) move material; the same value leaves and arrives
        for s in self.user_stocks:
            self.w(2, f"{ids[s]} = {ids[s]} + DT * ({self.net(s, flow_ids.__getitem__)})")
            if nodes[s].non_negative:  # the limit makes it >= 0 up to rounding dust
                sid = ids[s]
                self.w(
                    2,
                    f"if _any({sid} < 0.0): {sid} = _maximum({sid}, 0.0)"
                    if vec
                    else f"if {sid} < 0.0: {sid} = 0.0",
                )
        for i, f in enumerate(self.acc_flows if self.ledger else ()):
            self.w(2, f"A{i} = A{i} + DT * {ids[f]}")
        for i, f in enumerate(self.gross_flows if self.ledger else ()):
            x = ids[f]
            self.w(
                2,
                f"G{i} = G{i} + DT * _abs({x})"
                if vec
                else f"G{i} = G{i} + DT * ({x} if {x} >= 0.0 else -{x})",
            )
        for h in self.hstocks:
            self.w(2, f"{ids[h]} = {ids[h]} + DT * D{ids[h]}")
        for d in self.discs:
            self.w(2, f"{ids[d]} = N{ids[d]}")
        self.w(2, "k += 1")
        self.w(
            1,
            f"return ({''.join(ids[s] + ', ' for s in st)}), "
            + (f"({''.join(a + ', ' for a in accs)})" if self.ledger else "ACC"),
        )
        self.hoist = False
        self.lines[pre:pre] = self.invariants(1)

    # -- the kernel -------------------------------------------------------
    def closure(self, roots: set[str]) -> set[str]:
        """Return the step-order nodes ``roots`` read, directly or through other nodes, and the roots."""
        steps = set(self.plan.step_order)
        out: set[str] = set()
        todo = [r for r in roots if r in steps]
        while todo:
            n = todo.pop()
            if n in out:
                continue
            out.add(n)
            todo.extend(d for d in self.plan.deps(n) if d in steps and d not in out)
        return out

    def init_closure(self) -> set[str]:
        """Return the nodes whose initial equations the states' initial values read, and the states."""
        nodes = self.plan.nodes
        states = set(self.plan.states)
        out: set[str] = set()
        todo = list(states)
        while todo:
            n = todo.pop()
            if n in out or n not in nodes or nodes[n].role == "const":
                continue
            out.add(n)
            node = nodes[n]
            e = node.init if n in states or node.init is not None else node.expr
            if e is not None:
                todo.extend(d for d in _refs_of(e) if d not in out)
        return out

    def kernel_sets(self) -> tuple[set[str], set[str], set[str]]:
        """Return ``(dynamic, early, late)``: the nodes the update needs, and the saved-only ones.

        ``early`` are computed with the dynamic part, before the limits;
        ``late`` after them, only at the steps that save.

        A saved-only node reading a flow the limits rescale sees the flow before the limit, as in the
        other flavours, so it and what it reads are computed with the dynamic part.
        """
        roots = set(self.acc_flows)
        for s in self.hstocks + self.discs + self.pipes:
            roots |= self.plan.deps(s)
        dyn = self.closure(roots)
        saved = self.closure(set(self.record)) - dyn
        early = self.closure({n for n in saved if self.plan.deps(n) & self.rescaled}) & saved
        return dyn, early, saved - early

    def kernel_function(self) -> None:
        """``_kernel``: every run of the ensemble, in parallel, time inside (see :mod:`..kernel`)."""
        plan, nodes, ids, m = self.plan, self.plan.nodes, self.ids, self.method
        if self.pipes:
            raise KernelUnsupported("a pipeline DELAY (its input history is a growing list)")
        st = plan.states
        dyn, early, late = self.kernel_sets()
        step0 = dyn | early
        self.w(0, "@njit(cache=_CACHE, error_model='numpy', nogil=True)")
        self.w(0, "def _kernel(P, r0, r1, T0, DT, T1, nsteps, every, out, S0, SF, ACC, BAD):")
        self.w(1, f"EPS = DT * {TIME_EPS!r}")
        self.w(1, "for r in range(r0, r1):")
        ind = 2
        for i, c in enumerate(plan.constants):
            self.w(ind, f"{ids[c]} = P[{i}, r]")
        if plan.seeded:
            self.w(ind, f"SEED = P[{len(plan.constants)}, r]")
        # the initial values, as _init computes them (only those the states need)
        self.w(ind, "T = T0")
        self.w(ind, "k = 0")
        states = set(st)
        init_needed = self.init_closure()
        for n in plan.init_order:
            if n not in init_needed:
                continue
            node = nodes[n]
            e = node.init if n in states or node.init is not None else node.expr
            self.w(ind, f"{ids[n]} = {self.equation(n, False, e)}")
        for i, s in enumerate(st):
            self.w(ind, f"S0[r, {i}] = {ids[s]}")
        accs = [f"A{i}" for i in range(len(self.acc_flows))] + [f"G{i}" for i in range(len(self.gross_flows))]
        for a in accs:
            self.w(ind, f"{a} = 0.0")
        self.w(ind, "bad = 0.0")
        self.w(ind, "j = 0")
        self.w(ind, "nxt = 0")
        pre = len(self.lines)
        self.hoist = True
        self.w(ind, "while True:")
        i2 = ind + 1
        self.w(i2, "T = T0 + k * DT")
        self.aux_block(i2, False, step0)
        self.limit_block(i2)
        self.w(i2, "if k == nxt:")  # a save (the next save step counted, not a division per step)
        self.w(i2 + 1, "nxt = nxt + every")
        self.aux_block(i2 + 1, False, late)
        for i, name in enumerate(self.record):
            v = ids[name]
            self.w(i2 + 1, f"out[r, j, {i}] = {v}")
        self.w(i2 + 1, "j = j + 1")
        # x * 0.0 is 0.0 for a finite x, NaN for an infinite or NaN one: bad stays 0.0 while all are finite
        for i in range(0, len(self.record), 32):
            terms = " + ".join(ids[x] + " * 0.0" for x in self.record[i : i + 32])
            self.w(i2 + 1, f"bad = bad + ({terms})")
        self.w(i2, "if k >= nsteps:")
        self.w(i2 + 1, "break")
        for d in self.discs:
            self.w(i2, f"N{ids[d]} = {self.emitter(False, nodes[d].owner)(nodes[d].body)}")
        ns = m.stages
        flow_ids = {f: ids[f] for f in self.acc_flows}
        if ns == 1:
            for h in self.hstocks:
                self.w(i2, f"D{ids[h]} = {self.emitter(False, nodes[h].owner)(nodes[h].body)}")
        else:
            self.stage_copy(i2, 0)
            for i in range(1, ns):
                self.w(i2, f"T = T0 + k * DT + {m.c[i]!r} * DT")
                for s in self.user_stocks + self.hstocks:
                    comb = " + ".join(f"{m.a[i][j]!r} * D{ids[s]}_{j}" for j in range(i) if m.a[i][j] != 0)
                    self.w(i2, f"{ids[s]}_s = {ids[s]} + DT * ({comb})" if comb else f"{ids[s]}_s = {ids[s]}")
                self.aux_block(i2, True, dyn)
                self.limit_block(i2)
                self.stage_copy(i2, i)
            for f in self.acc_flows:
                comb = " + ".join(f"{m.b[j]!r} * F{ids[f]}_{j}" for j in range(ns) if m.b[j] != 0)
                self.w(i2, f"{ids[f]} = {comb}")
            for h in self.hstocks:
                comb = " + ".join(f"{m.b[j]!r} * D{ids[h]}_{j}" for j in range(ns) if m.b[j] != 0)
                self.w(i2, f"D{ids[h]} = {comb}")
        for s in self.user_stocks:
            self.w(i2, f"{ids[s]} = {ids[s]} + DT * ({self.net(s, flow_ids.__getitem__)})")
            if nodes[s].non_negative:
                self.w(i2, f"{ids[s]} = _clampneg({ids[s]})")
        for i, f in enumerate(self.acc_flows):
            self.w(i2, f"A{i} = A{i} + DT * {ids[f]}")
        for i, f in enumerate(self.gross_flows):
            self.w(i2, f"G{i} = G{i} + DT * _gabs({ids[f]})")
        for h in self.hstocks:
            self.w(i2, f"{ids[h]} = {ids[h]} + DT * D{ids[h]}")
        for d in self.discs:
            self.w(i2, f"{ids[d]} = N{ids[d]}")
        self.w(i2, "k += 1")
        for i, s in enumerate(st):
            self.w(ind, f"SF[r, {i}] = {ids[s]}")
        for i, a in enumerate(accs):
            self.w(ind, f"ACC[r, {i}] = {a}")
        self.w(ind, "BAD[r] = bad")
        self.hoist = False
        self.lines[pre:pre] = self.invariants(ind, step0 | late)

    def stage_copy(self, ind: int, j: int) -> None:
        ids, nodes = self.ids, self.plan.nodes
        for f in self.acc_flows:
            self.w(ind, f"F{ids[f]}_{j} = {ids[f]}")
        for s in self.user_stocks:
            self.w(ind, f"D{ids[s]}_{j} = {self.net(s, lambda f: 'F' + ids[f] + '_' + str(j))}")
        for h in self.hstocks:
            em = self.emitter(j > 0, nodes[h].owner)
            self.w(ind, f"D{ids[h]}_{j} = {em(nodes[h].body)}")


def _refs_of(e: ast.Expr) -> set[str]:
    """Names and graphical functions ``e`` reads."""
    return ast.names(e) | {c for c in ast.calls(e) if not c.isupper()}


def _simple(x: str) -> bool:
    """Return True if the source ``x`` is a name or a number (evaluating it twice costs nothing)."""
    return x.isidentifier() or _NUMBER.fullmatch(x) is not None


def _clamp(x: str) -> str:
    """Scalar source of ``x`` cut at zero below (a uniflow)."""
    return f"(0.0 if {x} < 0.0 else {x})" if _simple(x) else f"(0.0 if (_t := {x}) < 0.0 else _t)"


def accumulated(plan: Plan) -> tuple[list[str], list[str]]:
    """Return the flows a run accumulates for the ledger: every flow of a stock, then the biflows among them.

    A run carries the net amount each flow moved and, for biflows, the gross
    amount (both directions); a uniflow's gross amount is its net amount.
    """
    flows: list[str] = []
    for s in plan.states:
        node = plan.nodes[s]
        if node.role == STOCK:
            flows += [f for f in node.inflows + node.outflows if f not in flows]
    return flows, [f for f in flows if not plan.nodes[f].uniflow]


def generate(
    plan: Plan,
    method: Method,
    mode: str,
    file: str | None = None,
    record: tuple[str, ...] | None = None,
    ledger: bool = True,
) -> tuple[str, dict[str, object]]:
    """Source of ``_init`` and ``_run`` for ``plan`` and the namespace they need.

    ``record`` lists the variables saved (default: every user variable).
    ``ledger=False`` leaves out the ledger's accumulators (``_run`` returns
    ``ACC`` as given): for runs that save every flow at every step, whose
    caller sums the saves instead (:func:`ledger_from_saves`).  The
    vector ``_run`` writes save ``j`` into ``out[j, i]`` (an array of shape
    (saves, variables, runs)); the scalar one assigns ``out[j]`` the bytes of
    the saved values as native doubles (``out`` a list or a dict).
    """
    p = _Program(plan, method, mode, file, record, ledger)
    p.init_function()
    p.w(0, "")
    p.run_function()
    ns = helpers(mode, plan, p.table_ids)
    if mode == "scalar":
        ns["_maximum"] = max
        ns["_pack"] = struct.Struct(f"{len(p.record)}d").pack  # native doubles, as numpy's float64
    return "\n".join(p.lines) + "\n", ns


def ledger_from_saves(flows: np.ndarray, gross: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the ledger's accumulators from the flows saved at steps ``0 .. nsteps - 1``, to the last bit.

    ``flows`` and ``gross`` have shape (steps, flows, runs).  The loop's
    accumulator is ``A = A + DT * f`` from ``A = 0.0``, step after step; this
    adds the same terms in the same order, one step at a time into one
    (flows, runs) array, so no cumulative array of the whole run is built
    (``np.add.accumulate`` over the saves took half the time of a large
    ensemble).  A gross amount adds ``DT * |f|``: ``|-0.0|`` differs from the
    loop's ``-0.0`` only in the sign of a zero term, which ``0.0 + x`` erases.
    """

    def total(x: np.ndarray, gross: bool) -> np.ndarray:
        acc = np.zeros(x.shape[1:])
        term = np.empty(x.shape[1:])
        for k in range(x.shape[0]):
            if gross:
                np.abs(x[k], out=term)
                np.multiply(dt, term, out=term)
            else:
                np.multiply(dt, x[k], out=term)
            np.add(acc, term, out=acc)
        return acc

    return total(flows, False), total(gross, True)
