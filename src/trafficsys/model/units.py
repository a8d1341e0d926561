"""Dimensional analysis of equations.

Unit strings
------------
A unit string is a product and quotient of unit words with integer powers::

    person        person/year      1/year       USD/person      person*year
    person/year^2                  USD/(person*year)            dimensionless

* Words are case-insensitive; spaces and underscores inside a word are the
  same (``"Degrees Fahrenheit"``).  A word ending in ``s`` (longer than three
  letters, not ending in ``ss``) is read as its singular, and ``people`` as
  ``person``, so ``persons``, ``people`` and ``person`` agree, as do
  ``years`` and ``year``.  There are no conversions: ``month`` and ``year``
  are unrelated units.
* ``dimensionless``, ``dmnl``, ``unitless``, ``1`` and the empty string mean
  no unit.
* ``*`` and ``/`` associate to the left (``a/b/c`` is ``a/(b*c)``); ``^``
  takes an integer, possibly negative (``year^-1``).

Inference rules
---------------
Each equation's units are inferred from its AST:

* ``+``, ``-``, ``MIN``, ``MAX``, ``MOD``, comparisons and the two branches of
  ``IF`` need equal units; comparisons and logic give dimensionless results.
* ``*`` and ``/`` combine units; ``^`` raises to a literal exponent.
* A number is a wildcard: it takes whatever units its place needs
  (``x + 1`` is fine) and is dimensionless in a product (``2 * x`` has the
  units of ``x``).
* A variable without declared units is *unknown*: nothing involving it is
  checked (validation lists such variables as a warning).
* ``EXP``, ``LN``, ``LOG10`` and the trigonometric functions need
  dimensionless arguments (``BUILTINS[...].dimensionless``).
* ``TIME``, ``STARTTIME``, ``STOPTIME`` and ``DT`` have the model's time
  units; smoothing and delay times, ``STEP``/``RAMP``/``PULSE`` times have
  time units.  ``SMTH*``/``DELAY*``/``FORCST``/``PREVIOUS``/``INIT`` have the
  units of their input, ``TREND`` has 1/time, ``RAMP`` has slope*time,
  ``PULSE`` has volume/time, ``STEP`` has the units of its height (a literal
  slope, volume or height is a wildcard, as any number).
* A graphical function returns its declared units.

A model whose ``time_units`` is left at the default ``"time"`` has unknown
time units, so the per-time checks are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from ..errors import UnitsError
from . import ast
from .builtins import BUILTINS, BuiltinKind
from .elements import Constant, Lookup, Stock
from .printer import to_xmile

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "Unit",
    "DIMENSIONLESS",
    "NUMBER",
    "UNKNOWN",
    "parse_units",
    "infer",
    "check_units",
]

_MAX_UNIT_LENGTH = 200
_DIMENSIONLESS_WORDS = frozenset({"", "1", "dimensionless", "dmnl", "unitless"})
_ALIASES = {"people": "person"}


@dataclass(frozen=True)
class Unit:
    """A unit: base words with rational exponents, e.g. ``person/year`` = ``{person: 1, year: -1}``.

    Examples
    --------
    >>> parse_units("person/year") * parse_units("year")
    Unit('person')
    >>> str(parse_units("USD/(person*year)"))
    'usd/(person*year)'
    """

    dims: tuple[tuple[str, Fraction], ...] = ()

    @classmethod
    def of(cls, mapping: dict[str, Fraction]) -> Unit:
        """Build a unit from ``{word: exponent}`` (zero exponents dropped)."""
        return cls(tuple(sorted((k, Fraction(v)) for k, v in mapping.items() if v != 0)))

    def __mul__(self, other: Unit) -> Unit:
        d = dict(self.dims)
        for k, v in other.dims:
            d[k] = d.get(k, Fraction(0)) + v
        return Unit.of(d)

    def __truediv__(self, other: Unit) -> Unit:
        return self * other**-1

    def __pow__(self, power: Fraction | int) -> Unit:
        p = Fraction(power)
        return Unit.of({k: v * p for k, v in self.dims})

    @property
    def dimensionless(self) -> bool:
        """True for no unit at all."""
        return not self.dims

    def __str__(self) -> str:
        if not self.dims:
            return "dimensionless"

        def term(k: str, v: Fraction) -> str:
            v = abs(v)
            if v == 1:
                return k
            return f"{k}^{v}" if v.denominator == 1 else f"{k}^({v})"

        num = [term(k, v) for k, v in self.dims if v > 0]
        den = [term(k, v) for k, v in self.dims if v < 0]
        top = "*".join(num) or "1"
        if not den:
            return top
        bottom = den[0] if len(den) == 1 else "(" + "*".join(den) + ")"
        return f"{top}/{bottom}"

    def __repr__(self) -> str:
        return f"Unit({str(self)!r})"


#: No unit.
DIMENSIONLESS = Unit()


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The units of a number literal: matches anything, dimensionless in products.
NUMBER = _Marker("NUMBER")
#: Units that cannot be known (a variable without declared units): nothing is checked.
UNKNOWN = _Marker("UNKNOWN")

Inferred = Unit | _Marker

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+)|(?P<word>[A-Za-z_$%€£][\w$%€£ .-]*[\w$%€£.]|[A-Za-z_$%€£])|(?P<op>[*/^()]))"
)


def _word(raw: str) -> str:
    w = re.sub(r"[\s_]+", "_", raw.strip()).lower()
    w = _ALIASES.get(w, w)
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    return w


def parse_units(text: str) -> Unit:
    """Read a unit string (see the module docstring for the syntax).

    Raises
    ------
    ValueError
        When the string cannot be read; the message says where.

    Examples
    --------
    >>> parse_units("People / Years")
    Unit('person/year')
    >>> parse_units("1/year^2") == parse_units("year^-2")
    True
    """
    if not isinstance(text, str) or len(text) > _MAX_UNIT_LENGTH:
        raise ValueError("units must be text of at most 200 characters")
    s = text.strip()
    if s.lower() in _DIMENSIONLESS_WORDS:
        return DIMENSIONLESS
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unexpected {s[pos]!r} at column {pos + 1}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(s) and s[pos].isspace():
            pos += 1
    parser = _UnitParser(tokens, s)
    unit = parser.expr(0)
    if parser.i != len(tokens):
        raise ValueError(f"unexpected {tokens[parser.i][1]!r}")
    return unit


class _UnitParser:
    def __init__(self, tokens: list[tuple[str, str]], text: str):
        self.tokens, self.text, self.i = tokens, text, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ValueError("the units end too early")
        self.i += 1
        return tok

    def expr(self, depth: int) -> Unit:
        if depth > 20:
            raise ValueError("brackets nest too deeply")
        unit = self.power(depth)
        while (tok := self.peek()) is not None and tok[1] in "*/":
            self.take()
            rhs = self.power(depth)
            unit = unit * rhs if tok[1] == "*" else unit / rhs
        return unit

    def power(self, depth: int) -> Unit:
        base = self.atom(depth)
        tok = self.peek()
        if tok is not None and tok[1] == "^":
            self.take()
            kind, value = self.take()
            if kind != "num":
                raise ValueError(f"a power needs an integer, got {value!r}")
            return base ** int(value)
        return base

    def atom(self, depth: int) -> Unit:
        kind, value = self.take()
        if kind == "num":
            if int(value) != 1:
                raise ValueError(f"the only number allowed as a unit is 1, got {value}")
            return DIMENSIONLESS
        if kind == "word":
            w = _word(value)
            return DIMENSIONLESS if w in _DIMENSIONLESS_WORDS else Unit.of({w: Fraction(1)})
        if value == "(":
            unit = self.expr(depth + 1)
            if self.take()[1] != ")":
                raise ValueError("a closing bracket is missing")
            return unit
        raise ValueError(f"unexpected {value!r}")


# ------------------------------------------------------------------ inference
class _Context:
    """What inference needs from the model: declared units and the time unit."""

    def __init__(self, model: Model):
        self.model = model
        self.time: Inferred = UNKNOWN
        tu = model.specs.time_units
        if tu and tu.strip().lower() != "time":
            try:
                self.time = parse_units(tu)
            except ValueError:
                self.time = UNKNOWN
        self.declared: dict[str, Inferred] = {}
        self.unreadable: dict[str, str] = {}
        for e in model:
            key = _canon(e.name)
            if e.units is None:
                self.declared[key] = UNKNOWN
                continue
            try:
                self.declared[key] = parse_units(e.units)
            except ValueError as err:
                self.declared[key] = UNKNOWN
                self.unreadable[e.name] = f"{e.units!r} ({err})"

    def of(self, name: str) -> Inferred:
        return self.declared.get(name, UNKNOWN)


def _canon(name: str) -> str:
    from .names import canonical

    return canonical(name)


def _show(u: Inferred) -> str:
    return str(u) if isinstance(u, Unit) else "a number"


class _Mismatch(Exception):
    def __init__(self, message: str):
        self.message = message


def _same(a: Inferred, b: Inferred, what: str, na: ast.Expr, nb: ast.Expr) -> Inferred:
    """Units of ``a`` and ``b`` must agree (numbers and unknowns agree with anything)."""
    if isinstance(a, Unit) and isinstance(b, Unit):
        if a != b:
            raise _Mismatch(
                f"{what} needs equal units, but '{to_xmile(na)}' is {a} and '{to_xmile(nb)}' is {b}"
            )
        return a
    if isinstance(a, Unit):
        return a
    if isinstance(b, Unit):
        return b
    return UNKNOWN if UNKNOWN in (a, b) else NUMBER


def _need(u: Inferred, want: Inferred, what: str, node: ast.Expr) -> None:
    if isinstance(u, Unit) and isinstance(want, Unit) and u != want:
        need = "dimensionless" if want.dimensionless else f"in {want}"
        raise _Mismatch(f"{what} must be {need}, but '{to_xmile(node)}' is {u}")


def _mul(a: Inferred, b: Inferred, div: bool = False) -> Inferred:
    if UNKNOWN in (a, b):
        return UNKNOWN
    ua = DIMENSIONLESS if a is NUMBER else a
    ub = DIMENSIONLESS if b is NUMBER else b
    if a is NUMBER and b is NUMBER:
        return NUMBER
    assert isinstance(ua, Unit) and isinstance(ub, Unit)
    return ua / ub if div else ua * ub


def _infer(node: ast.Expr, ctx: _Context) -> Inferred:
    """Units of ``node``: one bottom-up pass (:func:`~trafficsys.model.ast.fold`, no recursion)."""
    # an index names an element or a position, not a quantity: subscripts are not descended into
    return ast.fold(
        node,
        lambda n, kids: _infer_node(n, kids, ctx),
        lambda n: ctx.of(n.name) if isinstance(n, ast.Subscript) else None,
    )


def _infer_node(node: ast.Expr, kids: list[Inferred], ctx: _Context) -> Inferred:
    if isinstance(node, ast.Num):
        return NUMBER
    if isinstance(node, ast.Name):
        if node.name in ("time", "starttime", "stoptime", "dt"):
            return ctx.time
        return ctx.of(node.name)
    if isinstance(node, ast.Subscript):
        return ctx.of(node.name)
    if isinstance(node, ast.Unary):
        inner = kids[0]
        return DIMENSIONLESS if node.op == "not" else inner
    if isinstance(node, ast.If):
        return _same(kids[1], kids[2], "IF THEN ELSE", node.then, node.orelse)
    if isinstance(node, ast.Binary):
        op = node.op
        left, right = kids
        if op in ("+", "-"):
            return _same(left, right, f"'{op}'", node.left, node.right)
        if op == "mod":
            _same(left, right, "MOD", node.left, node.right)
            return left
        if op in ("=", "<>", "<", "<=", ">", ">="):
            _same(left, right, f"the comparison '{op}'", node.left, node.right)
            return DIMENSIONLESS
        if op in ("and", "or"):
            return DIMENSIONLESS
        if op == "*":
            return _mul(left, right)
        if op == "/":
            return _mul(left, right, div=True)
        if op == "^":
            return _power(left, right, node.right)
    if isinstance(node, ast.Call):
        return _call(node, ctx, kids)
    return UNKNOWN


def _power(left: Inferred, right: Inferred, exponent: ast.Expr) -> Inferred:
    """Units of ``left ^ right`` (and of ``POWER(left, right)``)."""
    _need(right, DIMENSIONLESS, "an exponent", exponent)
    if left is NUMBER or left is UNKNOWN:
        return left
    assert isinstance(left, Unit)
    if left.dimensionless:
        return left
    value = ast.literal_value(exponent)
    if value is None:
        return UNKNOWN  # a unit raised to a variable power cannot be known
    return left ** Fraction(value).limit_denominator(1000)


def _call(node: ast.Call, ctx: _Context, args: list[Inferred]) -> Inferred:
    f = node.func
    b = BUILTINS.get(f)
    if b is None:  # a graphical function called as f(x)
        return ctx.of(f)
    for i in b.dimensionless:
        if i < len(args):
            _need(args[i], DIMENSIONLESS, f"the argument of {f}", node.args[i])
    if b.dimensionless:
        return DIMENSIONLESS
    t = ctx.time

    def times(*idx: int) -> None:
        for i in idx:
            if i < len(args):
                _need(args[i], t, f"argument {i + 1} of {f} (a time)", node.args[i])

    def init(i: int, like: Inferred, what: str = "the initial value") -> None:
        if i < len(args):
            _same(like, args[i], f"{f}'s input and {what}", node.args[0], node.args[i])

    if f in ("ABS", "INT", "INTEGER", "ROUND", "INIT", "SUM", "STDDEV"):
        return args[0]
    if f == "SQRT":
        a = args[0]
        return a ** Fraction(1, 2) if isinstance(a, Unit) else a
    if f in ("MIN", "MAX", "MEAN"):
        out = args[0]
        for i in range(1, len(args)):
            out = _same(out, args[i], f, node.args[0], node.args[i])
        return out
    if f == "ACTIVE_INITIAL":
        return _same(
            args[0], args[1], "ACTIVE INITIAL's active and initial equations", node.args[0], node.args[1]
        )
    if f == "SAMPLE_IF_TRUE":
        init(2, args[1])
        return args[1]
    if f == "PROD":
        # a product of n values has the n-th power of their units: only a pure number stays known
        return (
            args[0]
            if args[0] is NUMBER or (isinstance(args[0], Unit) and args[0] == DIMENSIONLESS)
            else UNKNOWN
        )
    if f in ("MOD", "MODULO", "QUANTUM"):
        return _same(args[0], args[1], f, node.args[0], node.args[1])
    if f in ("PI", "SIZE", "SIGN"):
        return DIMENSIONLESS
    if f == "INF":
        return NUMBER
    if f == "POWER":
        return _power(args[0], args[1], node.args[1])
    if f == "PULSE_TRAIN":
        times(0, 1, 2, 3)
        return DIMENSIONLESS
    if f == "SAFEDIV":
        q = _mul(args[0], args[1], div=True)
        if len(args) > 2:
            q = _same(q, args[2], "SAFEDIV's quotient and fallback", node, node.args[2])
        return q
    if f == "STEP":
        times(1)
        return args[0]
    # A literal slope or volume is a wildcard like any number: it takes the
    # units its place needs (``0.3 + RAMP(-0.05, 0, 5)`` is a dimensionless share).
    if f == "RAMP":
        times(1, 2)
        return NUMBER if args[0] is NUMBER else _mul(args[0], t)
    if f == "PULSE":
        times(1, 2)
        return NUMBER if args[0] is NUMBER else _mul(args[0], t, div=True)
    if f == "DELAY_MATERIAL":
        times(1)
        init(2, args[0])
        init(3, args[0], "the missing value")
        return args[0]
    if f in ("SMTH1", "SMTH3", "DELAY1", "DELAY3", "DELAY", "DELAY_FIXED"):
        times(1)
        init(2, args[0])
        return args[0]
    if f in ("SMTHN", "DELAYN"):
        times(1)
        _need(args[2], DIMENSIONLESS, f"the order of {f}", node.args[2])
        init(3, args[0])
        return args[0]
    if f in ("DELAY_N", "SMOOTH_N"):  # Vensim's argument order: input, delay time, initial value, order
        times(1)
        _need(args[3], DIMENSIONLESS, f"the order of {f}", node.args[3])
        init(2, args[0])
        return args[0]
    if f == "TREND":
        times(1)
        rate = _mul(NUMBER, t, div=True)
        if len(args) > 2:
            _same(rate, args[2], "TREND's initial trend (1/time)", node, node.args[2])
        return rate
    if f == "FORCST":
        times(1, 2)
        return args[0]
    if f == "NPV":  # the stream accumulated over time
        init(2, _mul(args[0], t), "the initial value (stream x time)")
        return _mul(args[0], t) if args[0] is not NUMBER else NUMBER
    if f == "PREVIOUS":
        init(1, args[0])
        return args[0]
    if f in ("VECTOR_SORT_ORDER", "VECTOR_RANK"):
        return DIMENSIONLESS
    if f in ("VECTOR_REORDER", "VECTOR_ELM_MAP"):
        return args[0]
    if f == "ALLOCATE_BY_PRIORITY":
        return _same(
            args[0], args[4], "ALLOCATE BY PRIORITY's request and supply", node.args[0], node.args[4]
        )
    if b.kind is BuiltinKind.RANDOM:  # the draw has the units of its bounds, mean, shift and stretch
        values = {
            "RANDOM": 2,
            "NORMAL": 2,
            "LOGNORMAL": 0,
            "EXPRND": 1,
            "POISSON": 1,
            "RANDOM_0_1": 0,
            "RANDOM_UNIFORM": 2,
            "RANDOM_NORMAL": 4,
            "RANDOM_EXPONENTIAL": 4,
            "RANDOM_TRIANGULAR": 5,
            "RANDOM_POISSON": 2,
            "RANDOM_GAMMA": 2,
            "RANDOM_BETA": 2,
            "RANDOM_BINOMIAL": 2,
            "RANDOM_NEGATIVE_BINOMIAL": 2,
        }.get(f, 0)
        if values == 0:
            return DIMENSIONLESS if f == "RANDOM_0_1" else UNKNOWN
        out = args[0]
        for i in range(1, values):
            out = _same(out, args[i], f, node.args[0], node.args[i])
        return out
    if f in ("LOOKUP_SLOPE", "LOOKUP_INVERT", "LOOKUP_AREA"):
        return UNKNOWN  # a ratio, an input, an integral: units of the table's input, which a table lacks
    if f in ("LOOKUP", "LOOKUP_FORWARD", "LOOKUP_BACKWARD", "LOOKUP_EXTRAPOLATE"):
        first = node.args[0]
        return ctx.of(first.name) if isinstance(first, (ast.Name, ast.Subscript)) else UNKNOWN
    if b.kind is BuiltinKind.STATEFUL:
        return args[0] if args else UNKNOWN
    return UNKNOWN


def infer(model: Model, name: str) -> Unit | None:
    """Infer the units of ``name``'s equation (a stock's initial value) from the units it uses.

    Returns
    -------
    Unit or None
        None when the units cannot be known (a variable without units on the
        way) or the equation is a plain number.

    Raises
    ------
    UnitsError
        When the equation itself mixes units (``a + b`` with ``a`` in person
        and ``b`` in person/year...).
    """
    tree = model.ast(name)
    if tree is None:
        return None
    e = model[name]
    try:
        u = _infer(tree, _Context(model))
    except _Mismatch as m:
        raise UnitsError(m.message, file=model.file, variable=e.name) from None
    return u if isinstance(u, Unit) else None


def check_units(model: Model, errors: list | None = None) -> list[str]:
    """Check every equation's units and every flow against its stocks.

    Parameters
    ----------
    model
        The model.
    errors
        When given, :class:`UnitsError` s are appended to it instead of raised
        (validation collects every problem before raising).

    Returns
    -------
    list of str
        Warnings: variables without units, unit strings that could not be read.

    Raises
    ------
    UnitsError
        The first inconsistency, when ``errors`` is None.
    """
    ctx = _Context(model)
    found: list[UnitsError] = []
    warnings: list[str] = []

    def fail(message: str, variable: str) -> None:
        found.append(UnitsError(message, file=model.file, variable=variable))

    for name, text in ctx.unreadable.items():
        warnings.append(f"units of '{name}' not understood, not checked: {text}")
    inferred: dict[str, Inferred] = {}
    for e in model:
        key = _canon(e.name)
        if isinstance(e, Constant) or (isinstance(e, Lookup) and e.input is None):
            continue
        try:
            tree = model.ast(key)
        except Exception:  # parse errors are reported by validation's own rule
            continue
        if tree is None:
            continue
        try:
            u = _infer(tree, ctx)
        except _Mismatch as m:
            fail(m.message, e.name)
            continue
        inferred[key] = u
        declared = ctx.of(key)
        if isinstance(e, Lookup):
            continue  # the input's units are the x axis's, which are not declared
        if isinstance(u, Unit) and isinstance(declared, Unit) and u != declared:
            what = "initial value" if isinstance(e, Stock) else "equation"
            fail(
                f"its units are declared as {declared} but its {what} '{_short(model, key)}' "
                f"has units {u}; fix the units or the equation",
                e.name,
            )

    # flows against their stocks
    time = ctx.time
    for s in model.stocks:
        su = ctx.of(_canon(s.name))
        if not isinstance(su, Unit) or not isinstance(time, Unit):
            continue
        want = su / time
        for side, flows in (("inflow", s.inflows), ("outflow", s.outflows)):
            for f in flows:
                fk = _canon(f)
                if fk not in model:
                    continue
                fu = ctx.of(fk)
                if isinstance(fu, Unit) and fu != want:
                    fail(
                        f"it is an {side} of stock '{s.name}' ({su}), so its units must be "
                        f"{want} (stock units per {time}), but they are {fu}",
                        model[fk].name,
                    )

    missing = [e.name for e in model if e.units is None]
    if missing and len(missing) < len(model):
        shown = ", ".join(missing[:12]) + (f" and {len(missing) - 12} more" if len(missing) > 12 else "")
        warnings.append(
            f"{len(missing)} variable(s) have no units, so equations using them are not checked: {shown}"
        )
    elif missing:
        warnings.append("no variable declares units: the units check did nothing")
    if found:
        if errors is None:
            raise found[0]
        errors.extend(found)
    return warnings


def _short(model: Model, key: str) -> str:
    text = model.equation_text(key) or ""
    return text if len(text) <= 80 else text[:77] + "..."
