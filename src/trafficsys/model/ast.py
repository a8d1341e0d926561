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

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

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
    "with_children",
    "fold",
    "transform",
    "depth",
    "nesting",
    "CHAIN_KIND",
]

#: Unary operators: arithmetic negation and plus, logical NOT.
UNARY_OPS = ("-", "+", "not")
#: Binary operators in the spelling the AST uses (XMILE spelling on print).
BINARY_OPS = ("+", "-", "*", "/", "^", "mod", "=", "<>", "<", "<=", ">", ">=", "and", "or")
#: Operators whose left-nested chains (``a + b - c + d``) are one level of nesting, not many:
#: the value is the kind of chain (operators of one precedence level, or one logical operator).
CHAIN_KIND = {"+": "+", "-": "+", "*": "*", "/": "*", "and": "and", "or": "or"}
#: Names with a fixed meaning in every model.
TIME_NAMES = ("time", "dt", "starttime", "stoptime")


def _leaf_key(n: Expr) -> tuple:
    """Return the fields of ``n`` other than its sub-expressions."""
    if isinstance(n, Num):
        return (Num, n.value)
    if isinstance(n, (Name, Subscript)):
        return (type(n), n.name)
    if isinstance(n, (Unary, Binary)):
        return (type(n), n.op)
    if isinstance(n, Call):
        return (Call, n.func)
    return (type(n),)


class _Node:
    """Equality and hashing by value, computed without recursion (trees can be thousands deep)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Node):
            return NotImplemented
        stack = [(self, other)]
        while stack:
            a, b = stack.pop()
            if a is b:
                continue
            if type(a) is not type(b) or _leaf_key(a) != _leaf_key(b):  # type: ignore[arg-type]
                return False
            ka, kb = children(a), children(b)  # type: ignore[arg-type]
            if len(ka) != len(kb):
                return False
            stack.extend(zip(ka, kb))
        return True

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return fold(self, lambda n, kids: hash((_leaf_key(n), *kids)))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, eq=False)
class Num(_Node):
    """A numeric literal."""

    value: float


@dataclass(frozen=True, slots=True, eq=False)
class Name(_Node):
    """A reference to a variable (or to ``time``, ``dt``...), canonical name."""

    name: str


@dataclass(frozen=True, slots=True, eq=False)
class Subscript(_Node):
    """An arrayed reference ``name[i, j]``; each index is an expression or a dimension element name."""

    name: str
    indices: tuple[Expr, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Unary(_Node):
    """``op operand`` with ``op`` one of :data:`UNARY_OPS`."""

    op: str
    operand: Expr


@dataclass(frozen=True, slots=True, eq=False)
class Binary(_Node):
    """``left op right`` with ``op`` one of :data:`BINARY_OPS`."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True, eq=False)
class If(_Node):
    """``IF cond THEN then ELSE orelse``."""

    cond: Expr
    then: Expr
    orelse: Expr


@dataclass(frozen=True, slots=True, eq=False)
class Call(_Node):
    """A call: a builtin (upper-case ``func``) or a graphical function (canonical name)."""

    func: str
    args: tuple[Expr, ...]


Expr = Num | Name | Subscript | Unary | Binary | If | Call
T = TypeVar("T")


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

    Leaves (numbers, names) come back unchanged.  To rewrite a whole tree use
    :func:`transform`, which does not recurse (trees can be thousands deep).
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


def with_children(node: Expr, kids: Sequence[Expr]) -> Expr:
    """Return ``node`` with its direct sub-expressions replaced by ``kids`` (``node`` itself if none changed)."""
    old = children(node)
    if len(old) == len(kids) and all(a is b for a, b in zip(old, kids)):
        return node
    if isinstance(node, Unary):
        return Unary(node.op, kids[0])
    if isinstance(node, Binary):
        return Binary(node.op, kids[0], kids[1])
    if isinstance(node, If):
        return If(kids[0], kids[1], kids[2])
    if isinstance(node, Call):
        return Call(node.func, tuple(kids))
    if isinstance(node, Subscript):
        return Subscript(node.name, tuple(kids))
    return node


def fold(
    node: Expr, combine: Callable[[Expr, list[T]], T], prune: Callable[[Expr], T | None] | None = None
) -> T:
    """Return ``combine(node, [values of its children])``, computed bottom-up without recursion.

    Every pass over a whole expression goes through here (or :func:`walk` or
    :func:`transform`): the parser accepts sums of thousands of terms, whose
    trees are thousands of levels deep, so a recursive pass would hit Python's
    recursion limit.

    Parameters
    ----------
    node
        The expression.
    combine
        Called once per node, children before parents, with the values of the
        node's children in order.
    prune
        Optional; called on a node before its children.  A result other than
        None is that node's value, and its children are not visited.

    Returns
    -------
    The value of ``node``.

    Examples
    --------
    >>> from trafficsys.model.parser import parse
    >>> fold(parse("a + b * 2"), lambda n, kids: 1 + sum(kids))  # count the nodes
    5
    """
    values: list = []
    stack: list[tuple[Expr, bool]] = [(node, False)]
    while stack:
        n, ready = stack.pop()
        if ready:
            k = len(children(n))
            kids = values[len(values) - k :]
            del values[len(values) - k :]
            values.append(combine(n, kids))
            continue
        if prune is not None:
            v = prune(n)
            if v is not None:
                values.append(v)
                continue
        inputs = children(n)
        if not inputs:
            values.append(combine(n, []))
            continue
        stack.append((n, True))
        stack.extend((c, False) for c in reversed(inputs))
    return values[0]


def transform(
    node: Expr,
    post: Callable[[Expr], Expr] | None = None,
    *,
    pre: Callable[[Expr], Expr | None] | None = None,
) -> Expr:
    """Rebuild ``node`` bottom-up without recursion (see :func:`fold`).

    ``pre(n)``, when given and not None, replaces ``n`` whole (its children are
    not visited); otherwise ``n`` is rebuilt from its transformed children and
    ``post`` (default: identity) is applied to the result.  Unchanged subtrees
    are shared, not copied.

    Examples
    --------
    >>> from trafficsys.model.parser import parse
    >>> from trafficsys.model.printer import to_xmile
    >>> to_xmile(transform(parse("a + b * a"), lambda n: Name("c") if n == Name("a") else n))
    'c + b * c'
    """

    def combine(n: Expr, kids: list[Expr]) -> Expr:
        n = with_children(n, kids)
        return post(n) if post is not None else n

    return fold(node, combine, pre)


def depth(node: Expr) -> int:
    """Return the number of levels of ``node`` (a leaf has one), counted without recursion."""
    return fold(node, lambda n, kids: 1 + max(kids, default=0))


def nesting(node: Expr) -> int:
    """Return how deeply ``node`` nests, counting a chain of one operator kind as one level.

    ``a + b + ... + z`` has nesting 2 however many terms it has (the chain and
    its leaves); ``a ^ (b ^ c)`` and ``-(-x)`` nest one level per operator.
    The parser bounds this number, and every pass over a tree is iterative, so
    any expression the parser accepts can be analysed and compiled.

    Examples
    --------
    >>> from trafficsys.model.parser import parse
    >>> nesting(parse("a + b - c + d")), nesting(parse("a ^ b ^ c"))
    (2, 3)
    """

    def combine(n: Expr, kids: list[int]) -> int:
        if isinstance(n, Binary) and n.op in CHAIN_KIND:
            left = n.left
            same = isinstance(left, Binary) and CHAIN_KIND.get(left.op) == CHAIN_KIND[n.op]
            # the left operand continues this chain: its level is this one's
            return max(kids[0] if same else kids[0] + 1, kids[1] + 1)
        return 1 + max(kids, default=0)

    return fold(node, combine)


def literal_value(node: Expr) -> float | None:
    """Return the number ``node`` spells (signs included: ``-(+2)`` is -2.0), or None."""
    sign = 1.0
    while isinstance(node, Unary) and node.op in ("-", "+"):
        sign = -sign if node.op == "-" else sign
        node = node.operand
    return sign * node.value if isinstance(node, Num) else None
