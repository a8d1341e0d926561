"""Parse XMILE 1.0 expressions into the AST of :mod:`trafficsys.model.ast`.

The grammar is a real LALR grammar (lark).  Operator precedence follows the
XMILE 1.0 specification (section 3.3.1), tightest first::

    ( ) [ ]   ^   unary + - NOT   * / MOD   + -   < <= > >=   = <>   AND   OR

so ``-2^2`` is ``-(2^2) = -4`` (as Stella and Vensim compute it).  Binary
operators associate to the left except ``^``, which associates to the right
(``a^b^c = a^(b^c)``, as in mathematics and in the canonical outputs of the
SDXorg ``arithmetics_exp`` test model).  ``IF c THEN a ELSE b`` may stand wherever an
operand may; its ELSE branch extends as far right as it can.

Anything that goes wrong raises :class:`~trafficsys.errors.ParseError` (or its
subclass :class:`~trafficsys.errors.ArityError`) with the column of the
problem.  Input is bounded (:data:`MAX_LENGTH` characters, :data:`MAX_DEPTH`
levels of nesting) so that hostile text fails fast instead of exhausting the
stack or the clock.
"""

from __future__ import annotations

import functools
import math

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from .. import limits as _limits
from ..errors import ArityError, ParseError
from . import ast
from .builtins import ALIASES, lookup_builtin
from .names import canonical, unescape

__all__ = ["parse", "numeric_literal", "check_depth", "MAX_LENGTH", "MAX_DEPTH", "MAX_NESTING", "KEYWORDS"]

#: Longest equation accepted by default, in characters (the limit in force: ``limits.current().expression_length``).
MAX_LENGTH = _limits.DEFAULTS.expression_length
#: Deepest nesting of parentheses, brackets, calls and unary operators accepted.
MAX_DEPTH = 100
#: Deepest nesting of operators accepted (:func:`~trafficsys.model.ast.nesting`: a chain such as
#: ``a + b + c`` counts once); a little above MAX_DEPTH so that MAX_DEPTH nested IFs, each with its
#: condition, still pass.
MAX_NESTING = MAX_DEPTH + 20
#: Words that cannot be bare variable names (quote them: ``"if"``).
KEYWORDS = frozenset({"if", "then", "else", "and", "or", "not", "mod"})

_GRAMMAR = r"""
?start: expr

?expr: or_expr

?or_expr: or_expr OR and_expr   -> binary
        | and_expr
?and_expr: and_expr AND eq_expr -> binary
         | eq_expr
?eq_expr: eq_expr EQ_OP rel_expr -> binary
        | rel_expr
?rel_expr: rel_expr REL_OP sum   -> binary
         | sum
?sum: sum ADD_OP product        -> binary
    | product
?product: product MUL_OP unary  -> binary
        | product MOD unary     -> binary
        | unary
?unary: UNARY_OP unary          -> unary
      | NOT unary               -> unary
      | power
?power: atom "^" exponent      -> power
      | atom
?exponent: power
         | UNARY_OP exponent    -> unary
?atom: NUMBER                   -> number
     | name
     | name "(" [args] ")"      -> call
     | name "[" args "]"        -> subscript
     | "(" expr ")"
     | "IF"i expr "THEN"i expr "ELSE"i expr -> if_expr
     | MOD "(" args ")"         -> mod_call
     | STAR                     -> star
args: expr ("," expr)*
name: NAME | QNAME

OR.2: /or\b/i
AND.2: /and\b/i
NOT.2: /not\b/i
MOD.2: /mod\b/i
EQ_OP.3: "=" | "<>"
REL_OP: "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/"
UNARY_OP: "+" | "-"
STAR: "*"
NUMBER: /(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/
NAME.1: /(?!(if|then|else|and|or|not|mod)\b)[^\W\d][\w$]*(\.[^\W\d][\w$]*)*/i
QNAME: /"(?:[^"\\\n]|\\.)*"/

%import common.WS
%ignore WS
"""


@functools.cache
def _lark() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False, propagate_positions=True)


class _ToAst(Transformer):
    """Turn lark's parse tree into AST nodes (non-recursive driver below)."""

    def number(self, items):
        value = float(items[0])
        if not math.isfinite(value):
            raise ParseError(f"number {items[0]!s} is too large", column=items[0].column)
        return ast.Num(value)

    def name(self, items):
        tok: Token = items[0]
        text = str(tok)
        if text.startswith('"'):
            name = canonical('"' + unescape(text[1:-1]) + '"')
            if not name:
                raise ParseError("empty quoted name", column=tok.column)
            return _NameTok(name, tok.column, quoted=True)
        return _NameTok(canonical(text), tok.column, quoted=False)

    def star(self, items):
        return ast.Name("*")

    @v_args(meta=True)
    def call(self, meta, items):
        nt: _NameTok = items[0]
        args = tuple(items[1]) if len(items) > 1 and items[1] is not None else ()
        if not nt.quoted:
            key = nt.name.upper()
            if key in ("IF_THEN_ELSE",):
                if len(args) != 3:
                    raise ArityError(f"IF_THEN_ELSE takes 3 arguments, got {len(args)}", column=nt.column)
                return ast.If(*args)
            b = lookup_builtin(key)
            if b is not None:
                if len(args) < b.min_args or (b.max_args is not None and len(args) > b.max_args):
                    raise ArityError(
                        f"{b.name} takes {b.arity_text} argument{'s' if b.max_args != 1 else ''}, "
                        f"got {len(args)}",
                        column=nt.column,
                    )
                return ast.Call(b.name, args)
        return ast.Call(nt.name, args)

    def mod_call(self, items):
        # MOD is both the infix operator and the function MOD(a, b) of the builtins table
        tok, args = items
        if len(args) != 2:
            raise ArityError(f"MOD takes 2 arguments, got {len(args)}", column=tok.column)
        return ast.Call("MOD", tuple(args))

    def subscript(self, items):
        nt: _NameTok = items[0]
        return ast.Subscript(nt.name, tuple(items[1]))

    def args(self, items):
        return [_val(x) for x in items]

    def if_expr(self, items):
        c, a, b = items
        return ast.If(_val(c), _val(a), _val(b))

    def binary(self, items):
        left, op, right = items
        o = str(op).lower()
        return ast.Binary(o, _val(left), _val(right))

    def power(self, items):
        left, right = items
        return ast.Binary("^", _val(left), _val(right))

    def unary(self, items):
        op, operand = items
        return ast.Unary(str(op).lower(), _val(operand))


class _NameTok:
    __slots__ = ("name", "column", "quoted")

    def __init__(self, name: str, column: int, quoted: bool):
        self.name, self.column, self.quoted = name, column, quoted


def _val(x):
    if isinstance(x, _NameTok):
        return ast.Name(x.name)
    if isinstance(x, list):  # pragma: no cover - args never reach here
        raise TypeError
    return x


def check_depth(text: str) -> None:
    """Refuse brackets nested deeper than :data:`MAX_DEPTH` (a :class:`ParseError` at the column)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(
                    f"the equation nests deeper than {MAX_DEPTH} levels; split it into auxiliaries",
                    text=text,
                    column=i + 1,
                )
        elif ch in ")]":
            depth -= 1


def parse(text: str, *, variable: str | None = None, file: str | None = None) -> ast.Expr:
    """Parse one XMILE expression.

    Parameters
    ----------
    text
        The equation, e.g. ``"recruitment_rate * vulnerable"``.
    variable, file
        Named in error messages.

    Returns
    -------
    Expr
        The AST.

    Raises
    ------
    ParseError
        For any text that is not a valid expression; the message carries the
        column and a caret line.
    ArityError
        A builtin called with the wrong number of arguments (a ParseError too).

    Examples
    --------
    >>> parse("IF time > 5 THEN a ELSE -b")
    If(cond=Binary(op='>', left=Name(name='time'), right=Num(value=5.0)), then=Name(name='a'), orelse=Unary(op='-', operand=Name(name='b')))
    """
    if not isinstance(text, str):
        raise ParseError(f"an equation must be text, got {type(text).__name__}", variable=variable, file=file)
    _limits.check(
        "expression_length",
        len(text),
        "the equation",
        "split it into auxiliaries",
        file=file,
        variable=variable,
    )
    if not text.strip():
        raise ParseError(
            "the equation is empty; give an expression such as 0",
            text=text,
            column=1,
            variable=variable,
            file=file,
        )
    try:
        check_depth(text)
        _check_unary_runs(text)
        tree = _lark().parse(text)
        result = _transform(tree)
    except ParseError as e:
        e.text = text
        raise e.with_context(variable=variable, file=file) from None
    except UnexpectedInput as e:
        raise ParseError(
            _describe(e, text), text=text, column=_column(e, text), variable=variable, file=file
        ) from None
    except VisitError as e:
        inner = e.orig_exc
        if isinstance(inner, ParseError):
            inner.text = text
            raise inner.with_context(variable=variable, file=file) from None
        raise ParseError(
            f"cannot read the equation ({inner})", text=text, column=1, variable=variable, file=file
        ) from None
    except (LarkError, RecursionError, ValueError, OverflowError) as e:
        raise ParseError(
            f"cannot read the equation ({type(e).__name__})",
            text=text,
            column=1,
            variable=variable,
            file=file,
        ) from None
    if isinstance(result, _NameTok):
        result = ast.Name(result.name)
    depth = ast.nesting(result)
    if depth > MAX_NESTING:
        raise ParseError(
            f"the equation nests {depth} levels deep (operators applied to the results of operators, "
            f"chains such as a + b + c counting once); the limit is {MAX_NESTING}: split it into auxiliaries",
            text=text,
            column=1,
            variable=variable,
            file=file,
        )
    if isinstance(result, ast.Name) and result.name == "*":
        raise ParseError(
            "'*' is only allowed as an array index", text=text, column=1, variable=variable, file=file
        )
    return result


def numeric_literal(text: str) -> float | None:
    """Return the number ``text`` spells (``"-3.5"``), or None for any other expression or bad text."""
    try:
        return ast.literal_value(parse(text))
    except ParseError:
        return None


def _check_unary_runs(text: str) -> None:
    # Runs of unary operators nest without brackets; bound them as well.
    run = 0
    for i, ch in enumerate(text):
        if ch in "+-":
            run += 1
            if run > MAX_DEPTH:
                raise ParseError(f"more than {MAX_DEPTH} signs in a row", text=text, column=i + 1)
        elif not ch.isspace():
            run = 0
    lowered = text.lower()
    if lowered.count("not") > MAX_DEPTH or lowered.count("if") > MAX_DEPTH:
        raise ParseError(f"more than {MAX_DEPTH} NOT or IF keywords; split the equation", text=text, column=1)


def _transform(tree):
    from lark.visitors import Transformer_NonRecursive

    class _T(_ToAst, Transformer_NonRecursive):
        pass

    out = _T().transform(tree)
    return out


def _column(e: UnexpectedInput, text: str) -> int:
    col = getattr(e, "column", None)
    tok = getattr(e, "token", None)
    at_end = tok is not None and getattr(tok, "type", "") == "$END"
    if isinstance(e, UnexpectedEOF) or at_end or not isinstance(col, int) or col < 1:
        return len(text) + 1
    return col


def _describe(e: UnexpectedInput, text: str) -> str:
    if isinstance(e, UnexpectedEOF):
        return "the equation ends too early (an operand or a closing bracket is missing)"
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream if e.pos_in_stream is not None else -1
        ch = text[pos] if 0 <= pos < len(text) else "?"
        if ch in "'`":
            return f'unexpected character {ch!r}; quote names with double quotes, e.g. "my name"'
        return f"unexpected character {ch!r}"
    tok = getattr(e, "token", None)
    if tok is not None and getattr(tok, "type", "") == "$END":
        return "the equation ends too early (an operand or a closing bracket is missing)"
    return f"unexpected {str(tok)!r}" if tok is not None else "invalid expression"


_ = ALIASES  # re-exported spelling table lives in builtins
