"""The equation AST: a small set of frozen node types.

Every equation, whatever file it came from, becomes a tree of these nodes.  The
engine compiles them to numpy, the printer turns them back into XMILE text, and
the polarity analysis reads them.  Nothing else is ever executed.

Names in :class:`Name` and :class:`Call` are canonical (see
:func:`trafficsys.model.names.canonical`); builtin function names are upper
case (``"SMTH1"``), calls of graphical functions keep the lookup's canonical
name (lower case).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = [
    "Expr",
    "Num",
    "Name",
    "Subscript",
    "Unary",
    "Binary",
    "If",
    "Call",
    "UNARY_OPS",
    "BINARY_OPS",
    "TIME_NAMES",
    "children",
    "walk",
    "names",
    "calls",
    "literal_value",
    "live_names",
    "map_children",
]

#: Unary operators: arithmetic negation and plus, logical NOT.
UNARY_OPS = ("-", "+", "not")
#: Binary operators in the spelling the AST uses (XMILE spelling on print).
BINARY_OPS = ("+", "-", "*", "/", "^", "mod", "=", "<>", "<", "<=", ">", ">=", "and", "or")
#: Names with a fixed meaning in every model.
TIME_NAMES = ("time", "dt", "starttime", "stoptime")


@dataclass(frozen=True, slots=True)
class Num:
    """A numeric literal."""

    value: float


@dataclass(frozen=True, slots=True)
class Name:
    """A reference to a variable (or to ``time``, ``dt``...), canonical name."""

    name: str


@dataclass(frozen=True, slots=True)
class Subscript:
    """An arrayed reference ``name[i, j]``; each index is an expression or a dimension element name."""

    name: str
    indices: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Unary:
    """``op operand`` with ``op`` one of :data:`UNARY_OPS`."""

    op: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    """``left op right`` with ``op`` one of :data:`BINARY_OPS`."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class If:
    """``IF cond THEN then ELSE orelse``."""

    cond: Expr
    then: Expr
    orelse: Expr


@dataclass(frozen=True, slots=True)
class Call:
    """A call: a builtin (upper-case ``func``) or a graphical function (canonical name)."""

    func: str
    args: tuple[Expr, ...]


Expr = Num | Name | Subscript | Unary | Binary | If | Call


def children(node: Expr) -> tuple[Expr, ...]:
    """Return the direct sub-expressions of ``node``."""
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, If):
        return (node.cond, node.then, node.orelse)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Subscript):
        return node.indices
    return ()


def walk(node: Expr) -> Iterator[Expr]:
    """Yield ``node`` and every node below it, depth first (iteratively: no recursion limit)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


def names(node: Expr) -> set[str]:
    """Canonical names of the variables ``node`` refers to (excluding time names and calls)."""
    out: set[str] = set()
    for n in walk(node):
        if isinstance(n, Name) and n.name not in TIME_NAMES:
            out.add(n.name)
        elif isinstance(n, Subscript):
            out.add(n.name)
    return out


def calls(node: Expr) -> set[str]:
    """Return the function names called anywhere in ``node``."""
    return {n.func for n in walk(node) if isinstance(n, Call)}


def live_names(node: Expr) -> set[str]:
    """Return the variables and graphical functions ``node`` reads at every step.

    Like :func:`names` plus called lookup tables, but inputs read only through
    ``INIT(...)`` are left out: they act once, at the start, and carry no
    feedback.
    """
    live: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Call) and n.func == "INIT":
            continue
        if isinstance(n, (Name, Subscript)) and n.name not in TIME_NAMES:
            live.add(n.name)
        elif isinstance(n, Call) and not n.func.isupper():
            live.add(n.func)
        stack.extend(children(n))
    return live


def map_children(node: Expr, f: Callable[[Expr], Expr]) -> Expr:
    """Return ``node`` rebuilt with ``f`` applied to each direct sub-expression.

    Leaves (numbers, names) come back unchanged.  With a recursive ``f`` this is
    the one way the project rewrites trees (renaming, substitution, macro
    expansion).
    """
    if isinstance(node, Unary):
        return Unary(node.op, f(node.operand))
    if isinstance(node, Binary):
        return Binary(node.op, f(node.left), f(node.right))
    if isinstance(node, If):
        return If(f(node.cond), f(node.then), f(node.orelse))
    if isinstance(node, Call):
        return Call(node.func, tuple(f(a) for a in node.args))
    if isinstance(node, Subscript):
        return Subscript(node.name, tuple(f(i) for i in node.indices))
    return node


def literal_value(node: Expr) -> float | None:
    """Return the number ``node`` spells (signs included: ``-(+2)`` is -2.0), or None."""
    sign = 1.0
    while isinstance(node, Unary) and node.op in ("-", "+"):
        sign = -sign if node.op == "-" else sign
        node = node.operand
    return sign * node.value if isinstance(node, Num) else None
