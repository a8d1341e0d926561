"""Print an AST back to XMILE expression text.

The printer writes the fewest parentheses that keep the tree: for every tree
``t`` the parser produces, ``parse(to_xmile(t)) == t`` (a hypothesis property in
the tests).  ``IF`` expressions inside operators are always bracketed for the
reader's sake.
"""

from __future__ import annotations

from . import ast
from .builtins import lookup_builtin
from .names import is_plain_identifier, quote

__all__ = ["to_xmile"]

_PREC = {
    "or": 1,
    "and": 2,
    "=": 3,
    "<>": 3,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "mod": 6,
    "^": 8,
}
_UNARY_PREC = 7
_ATOM = 9
_SPELL = {"and": "AND", "or": "OR", "mod": "MOD", "not": "NOT "}
_KEYWORDS = {"if", "then", "else", "and", "or", "not", "mod"}


def _name(name: str) -> str:
    if name == "*":
        return "*"
    # a variable of a module, flattened, is named ``module.variable``: quoted, it is one name to every reader
    # (bare, XMILE reads the dot as a reference into a module instance, which the flat file does not have)
    if (
        "." not in name
        and is_plain_identifier(name)
        and name.lower() not in _KEYWORDS
        and not name[0].isdigit()
    ):
        return name
    return quote(name)


def _function_name(name: str) -> str:
    # a graphical function whose name is also a builtin's ("step", "smooth"...) must be
    # quoted, or it would read back as the builtin
    if lookup_builtin(name) is not None or name == "if_then_else":
        return quote(name)
    return _name(name)


def _num(v: float) -> str:
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"cannot print non-finite number {v}")
    if float(v).is_integer() and abs(v) < 1e15:
        text = str(int(v))
    else:
        text = repr(float(v))
    return f"({text})" if v < 0 else text


def _prec(node: ast.Expr) -> int:
    if isinstance(node, ast.Binary):
        return _PREC[node.op]
    if isinstance(node, ast.Unary):
        return _UNARY_PREC
    if isinstance(node, ast.If):
        return 0
    return _ATOM


def to_xmile(node: ast.Expr) -> str:
    """Return XMILE text for ``node``.

    One bottom-up pass without recursion (:func:`~trafficsys.model.ast.fold`),
    so a sum of thousands of terms prints like a short one.

    Examples
    --------
    >>> from trafficsys.model.parser import parse
    >>> to_xmile(parse("(a + b) * -c ^ 2"))
    '(a + b) * -c ^ 2'
    """
    return ast.fold(node, _print)


def _print(node: ast.Expr, kids: list[str]) -> str:
    """Text of ``node`` given the text of its children."""
    if isinstance(node, ast.Num):
        return _num(node.value)
    if isinstance(node, ast.Name):
        return _name(node.name)
    if isinstance(node, ast.Subscript):
        return f"{_name(node.name)}[{', '.join(kids)}]"
    if isinstance(node, ast.Call):
        func = node.func if node.func.isupper() else _function_name(node.func)
        return f"{func}({', '.join(kids)})"
    if isinstance(node, ast.If):
        c, a, b = kids
        return f"IF {_wrap_if(node.cond, c)} THEN {_wrap_if(node.then, a)} ELSE {b}"
    if isinstance(node, ast.Unary):
        inner = kids[0]
        # "- -x" would lex fine, but "--x" reads badly; operands of lower precedence need brackets.
        if _prec(node.operand) < _UNARY_PREC:
            inner = f"({inner})"
        op = _SPELL.get(node.op, node.op)
        return f"{op}{inner}"
    if isinstance(node, ast.Binary):
        p = _PREC[node.op]
        left, right = kids
        lp, rp = _prec(node.left), _prec(node.right)
        if node.op == "^":
            # ^ is right-associative and binds tighter than unary signs: the left
            # operand must be an atom; the right one may be an atom, another power,
            # or a chain of unary signs on one of those.
            if lp < _ATOM:
                left = f"({left})"
            if not _exponent_form(node.right):
                right = f"({right})"
        else:
            if lp < p:
                left = f"({left})"
            if rp <= p:
                right = f"({right})"
        op = _SPELL.get(node.op, node.op)
        return f"{left} {op} {right}"
    raise TypeError(f"not an AST node: {node!r}")


def _wrap_if(node: ast.Expr, text: str) -> str:
    return f"({text})" if isinstance(node, ast.If) else text


def _exponent_form(node: ast.Expr) -> bool:
    while isinstance(node, ast.Unary) and node.op in ("+", "-"):
        node = node.operand
    return _prec(node) == _ATOM or (isinstance(node, ast.Binary) and node.op == "^")
