"""The grammar of one Vensim definition (the text before an equation's first ``~``).

A real LALR grammar (lark), like the XMILE equation language's
(:mod:`trafficsys.model.parser`).  One definition is one of::

    name[subs] :EXCEPT: [e1] = expression        an equation (also ``==``)
    name[subs] = 1, 2; 3, 4;                     a constant array
    name[subs] :INTERPOLATE: := expression       a data equation (keyword optional)
    name( [(x0,y0)-(x1,y1)], (x,y), ... )        a lookup (also ``(x...), (y...)`` lists)
    name( GET XLS LOOKUPS('file', ...) )         a lookup read from a file
    dim: a, b, (c1-c10) -> target, (t: t2, t1)   a subscript range with its mappings
    dim <-> other                                an equivalent range
    name :TEST INPUT: / :THE CONDITION: ...      test inputs and constraints (kept, unused)

Expressions follow Vensim's precedence, tightest first::

    ( )  [ ]   ^   unary + -   * /   + -   = <> < <= > >=   :NOT:   :AND:   :OR:

``^`` binds tighter than a leading minus (``-2^2`` is -4) and associates to
the right, and a sign after ``^`` applies to the whole power that follows
(``30^-30^-x`` is ``30^-(30^-x)``).  Function names are the words before
``(`` (``IF THEN ELSE``, ``DELAY N``...): the grammar reads them as names; what
they mean is decided by :mod:`.convert`.  Lookup tables hold numbers only:
anything else in a lookup's range or points is a parse error, never code.

The result is plain data: :class:`Definition`, :class:`RangeDef` and, inside
expressions, nodes of :mod:`trafficsys.model.ast` plus :class:`Table` and
:class:`Text` (a quoted file or sheet name, only meaningful as an argument).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from lark import Lark, Token
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError
from lark.visitors import Transformer_NonRecursive

from ...errors import ParseError
from ...model import ast
from ...model.names import canonical
from ...model.parser import check_depth

__all__ = ["Definition", "RangeDef", "Table", "Text", "Lhs", "Outputs", "parse_definition", "call_name"]

_GRAMMAR = r"""
?start: definition

definition: lhs EQ expr                   -> normal
          | lhs EQ                        -> empty
          | lhs EQ numbers                -> array
          | lhs "==" expr                 -> unchangeable
          | lhs "==" numbers              -> array
          | lhs [DATAKW] ":=" expr         -> data
          | lhs [DATAKW] ":=" numbers      -> array
          | lhs DATAKW                    -> data_empty
          | lhs                           -> data_empty
          | lhs "(" table_body ")"        -> lookup
          | lhs "(" name "(" args ")" ")" -> lookup_call
          | lhs TESTINPUT expr            -> test_input
          | lhs CONDITION expr (IMPLIES expr)? -> constraint
          | name ":" range_items [mappings] -> subrange
          | name "<->" name               -> subcopy

lhs: name ["[" subs "]" [excepts]]
excepts: EXCEPT except_group ("," except_group)*
except_group: "[" subs "]"
subs: sub ("," sub)*
sub: element [BANG]
?element: NAME | QNAME | NUMBER

range_items: range_item ("," range_item)*
?range_item: element                       -> element
           | "(" NAME "-" NAME ")"         -> numbered
           | name "(" args ")"             -> range_call
mappings: "->" mapping ("," mapping)*
?mapping: name                             -> map_range
        | "(" name ":" subs ")"            -> map_list

numbers: (snum ("," | SEMI))+ snum?

?expr: or_expr
?or_expr: or_expr OR and_expr          -> binary
        | and_expr
?and_expr: and_expr AND not_expr       -> binary
         | not_expr
?not_expr: NOT not_expr                -> unary
         | comparison
?comparison: comparison (CMP_OP | EQ) sum -> binary
           | sum
?sum: sum ADD_OP product              -> binary
    | product
?product: product MUL_OP unary        -> binary
        | unary
?unary: ADD_OP unary                  -> unary
      | power
?power: atom "^" exponent             -> power
      | atom
?exponent: power
         | ADD_OP exponent            -> unary
?atom: NUMBER                         -> number
     | NA                             -> na
     | name                           -> ref
     | name "[" subs "]"              -> subref
     | name "(" [args] ")"            -> call
     | name "(" [args] ":" subs ")"   -> call_outputs
     | name "[" subs "]" "(" args ")" -> subcall
     | "(" expr ")"
     | "(" table_body ")"             -> table
args: arg ("," arg)*
?arg: expr
    | STRING                          -> text

table_body: table_range ","? tuples   -> ranged
          | tuples                    -> unranged
          | snum ("," snum)+          -> flat
          | table_range "," snum ("," snum)+ -> ranged_flat
tuples: tuple ("," tuple)* ","?
tuple: "(" snum ("," snum)+ ")"
table_range: "[" tuple "-" tuple ("," tuple)* "]"
snum: NUMBER
    | ADD_OP NUMBER

name: NAME | QNAME

EQ: "="
CMP_OP: "<>" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/"
SEMI: ";"
BANG: "!"
OR.2: /:OR:/i
AND.2: /:AND:/i
NOT.2: /:NOT:/i
NA.2: /:NA:/i
EXCEPT.2: /:EXCEPT:/i
TESTINPUT.2: /:TEST[ _]INPUT:/i
CONDITION.2: /:THE[ _]CONDITION:/i
IMPLIES.2: /:IMPLIES:/i
DATAKW.2: /:(INTERPOLATE|RAW|HOLD[ _]BACKWARD|LOOK[ _]FORWARD):/i
NUMBER: /(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/
NAME: /[^\W\d][\w$'&%]*(?:[ \t\r\n]+[\w$'&%]+)*/
QNAME: /"(?:[^"\\]|\\.)*"/
STRING: /'[^'\n]*'/

%ignore /[ \t\r\n]+/
"""


@functools.cache
def _lark() -> Lark:
    return Lark(
        _GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=True, propagate_positions=False
    )


@dataclass(frozen=True)
class Table:
    """A lookup's points, numbers only (its ``[(x0,y0)-(x1,y1)]`` range is for Vensim's editor and is not kept)."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]


@dataclass(frozen=True)
class Text:
    """A quoted argument (``'inputs.xlsx'``): a file, sheet or cell name."""

    value: str


@dataclass(frozen=True)
class Outputs:
    """The variables a macro call names for the macro's extra outputs (``MACRO(a : out)``), display names."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Lhs:
    """The variable an equation defines, the subscripts it covers and its ``:EXCEPT:`` lists (display names)."""

    name: str
    subs: tuple[str, ...] = ()
    excepts: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Definition:
    """One equation of a variable.

    ``kind`` is normal, unchangeable, empty, array, data, data_empty, lookup,
    lookup_call, test_input or constraint; ``value`` an AST, a
    :class:`Table`, or an array's numbers.
    """

    lhs: Lhs
    kind: str
    value: object = None
    keyword: str | None = None  #: a data equation's :INTERPOLATE: (lower case, no colons)
    rows: int = 1  #: rows of an array constant (``;`` ends a row)


@dataclass(frozen=True)
class RangeDef:
    """A subscript range: its items (element names, ``(prefix, lo, hi)`` numbered runs), mappings, copy."""

    name: str
    items: tuple[object, ...] = ()
    mappings: tuple[tuple[str, tuple[str, ...] | None], ...] = ()
    copy_of: str | None = None
    from_file: bool = False


class _Name:
    __slots__ = ("display", "key")

    def __init__(self, display: str, key: str):
        self.display, self.key = display, key


def _num(tok) -> float:
    v = float(tok)
    if not math.isfinite(v):
        raise ParseError(f"number {tok!s} is too large", column=getattr(tok, "column", None))
    return v


def _val(x):
    if isinstance(x, _Name):
        return ast.Name(x.key)
    return x


#: Vensim's :NA: ("not available"): -2^110 in Vensim's arithmetic
NA = -1.298074214633707e33


class _ToDefinition(Transformer_NonRecursive):
    # ------------------------------------------------------------ names
    def name(self, items):
        tok: Token = items[0]
        text = str(tok)
        if text.startswith('"'):
            # Vensim keeps a quoted name's backslashes in its name (its outputs show them)
            display = text[1:-1]
            if not display.strip():
                raise ParseError("empty quoted name", column=tok.column)
            return _Name(" ".join(display.split()), canonical('"' + display + '"'))
        display = " ".join(text.split())
        return _Name(display, canonical(display))

    def sub(self, items):
        tok = items[0]
        text = str(tok)
        if text.startswith('"'):
            text = text[1:-1]
        text = " ".join(text.split())
        return text + ("!" if items[1] is not None else "")

    def subs(self, items):
        return tuple(items)

    def except_group(self, items):
        return items[0]

    def excepts(self, items):
        return tuple(items[1:])

    def lhs(self, items):
        nm, subs, exc = items
        return Lhs(nm.display, subs or (), exc or ())

    # ------------------------------------------------------------ definitions
    def normal(self, items):
        return Definition(items[0], "normal", _val(items[2]))

    def empty(self, items):
        return Definition(items[0], "empty")

    def unchangeable(self, items):
        return Definition(items[0], "unchangeable", _val(items[1]))

    def array(self, items):
        values, rows = items[-1]
        return Definition(items[0], "array", values, rows=rows)

    def data(self, items):
        kw = items[1]
        return Definition(items[0], "data", _val(items[2]), keyword=_keyword(kw))

    def data_empty(self, items):
        return Definition(
            items[0], "data_empty", None, keyword=_keyword(items[1]) if len(items) > 1 else None
        )

    def lookup(self, items):
        return Definition(items[0], "lookup", items[1])

    def lookup_call(self, items):
        lhs, fn, args = items
        return Definition(lhs, "lookup_call", ast.Call(call_name(fn.display), tuple(args)))

    def test_input(self, items):
        return Definition(items[0], "test_input", _val(items[2]))

    def constraint(self, items):
        return Definition(items[0], "constraint", _val(items[2]))

    def subrange(self, items):
        nm, its, maps = items
        from_file = any(isinstance(i, ast.Call) for i in its)
        return RangeDef(
            nm.display, tuple(i for i in its if not isinstance(i, ast.Call)), maps or (), from_file=from_file
        )

    def subcopy(self, items):
        return RangeDef(items[0].display, copy_of=items[1].display)

    def range_items(self, items):
        return tuple(items)

    def element(self, items):
        text = str(items[0])
        if text.startswith('"'):
            text = text[1:-1]
        return " ".join(text.split())

    def numbered(self, items):
        a, b = str(items[0]), str(items[1])
        ma, mb = re.fullmatch(r"(.*?)(\d+)", a), re.fullmatch(r"(.*?)(\d+)", b)
        if not ma or not mb or ma.group(1) != mb.group(1):
            raise ParseError(
                f"a numbered range ({a}-{b}) needs one prefix and two numbers, e.g. (c1-c10)",
                column=items[0].column,
            )
        return (ma.group(1), ma.group(2), mb.group(2))

    def range_call(self, items):
        return ast.Call(call_name(items[0].display), tuple(items[1]))

    def mappings(self, items):
        return tuple(items)

    def map_range(self, items):
        return (items[0].display, None)

    def map_list(self, items):
        return (items[0].display, items[1])

    # ------------------------------------------------------------ arrays and tables
    def numbers(self, items):
        return _array(items)

    def snum(self, items):
        if len(items) == 2:
            v = _num(items[1])
            return -v if str(items[0]) == "-" else v
        return _num(items[0])

    def tuple(self, items):
        return tuple(items)

    def tuples(self, items):
        return list(items)

    def table_range(self, items):
        return None  # the range is for Vensim's editor: the points alone define the function

    def ranged(self, items):
        return _points(items[-1])

    def unranged(self, items):
        return _points(items[0])

    def flat(self, items):
        return _halves(list(items))

    def ranged_flat(self, items):
        return _halves(list(items[1:]))

    def table(self, items):
        return items[0]

    # ------------------------------------------------------------ expressions
    def number(self, items):
        return ast.Num(_num(items[0]))

    def na(self, items):
        return ast.Unary("-", ast.Num(-NA))

    def ref(self, items):
        return _val(items[0])

    def subref(self, items):
        nm, subs = items
        return ast.Subscript(
            nm.key, tuple(ast.Name(canonical(s.rstrip("!")) + ("!" if s.endswith("!") else "")) for s in subs)
        )

    def call(self, items):
        nm, args = items
        args = tuple(args) if args else ()
        if not _plain_call(nm.display):
            return ast.Call(nm.key, args)
        return ast.Call(call_name(nm.display), args)

    def call_outputs(self, items):
        # a macro call that also names variables for the macro's extra outputs: MACRO(a, b : out1)
        nm, args, outs = items
        call = self.call([nm, args])
        return ast.Call(call.func, (*call.args, Outputs(tuple(outs))))

    def subcall(self, items):
        nm, subs, args = items
        table = self.subref([nm, subs])
        return ast.Call("LOOKUP", (table, *args))

    def args(self, items):
        return [_val(x) for x in items]

    def text(self, items):
        return Text(str(items[0])[1:-1])

    def binary(self, items):
        left, op, right = items
        o = str(op).lower()
        o = {":and:": "and", ":or:": "or"}.get(o, o)
        return ast.Binary(o, _val(left), _val(right))

    def power(self, items):
        return ast.Binary("^", _val(items[0]), _val(items[1]))

    def unary(self, items):
        op, operand = items
        o = str(op).lower()
        return ast.Unary("not" if o == ":not:" else o, _val(operand))


def _keyword(tok) -> str | None:
    if tok is None:
        return None
    return canonical(str(tok).strip(":"))


def _sorted(xs, ys) -> Table:
    """Return the table with its points in order of x, as Vensim reads points listed out of order."""
    pts = sorted(zip(xs, ys), key=lambda p: p[0])
    return Table(tuple(p[0] for p in pts), tuple(p[1] for p in pts))


def _points(tuples: list[tuple[float, ...]]) -> Table:
    if all(len(t) == 2 for t in tuples):
        return _sorted([t[0] for t in tuples], [t[1] for t in tuples])
    if len(tuples) == 2 and len(tuples[0]) == len(tuples[1]):  # (x1, x2, ...), (y1, y2, ...)
        return _sorted(tuples[0], tuples[1])
    raise ParseError(
        "a lookup's points are pairs (x, y), or two lists (x1, x2, ...), (y1, y2, ...) of one length",
        column=None,
    )


def _halves(values: list[float]) -> Table:
    if len(values) % 2:
        raise ParseError(
            f"a lookup given as a list of numbers needs as many x as y values, got {len(values)} numbers",
            column=None,
        )
    n = len(values) // 2
    return _sorted(values[:n], values[n:])


def _array(items):
    values: list[float] = []
    rows = 1
    for it in items:
        if isinstance(it, Token):
            if str(it) == ";":
                rows += 1
            continue
        values.append(it)
    if items and isinstance(items[-1], Token) and str(items[-1]) == ";":
        rows -= 1
    return values, max(rows, 1)


_PLAIN_CALL = re.compile(r"[A-Za-z][A-Za-z0-9 _]*\Z")


def _plain_call(display: str) -> bool:
    return bool(_PLAIN_CALL.match(display))


def call_name(display: str) -> str:
    """Return the key of a function called by its Vensim name: upper case, words joined by ``_`` (``DELAY_N``)."""
    return "_".join(display.upper().replace("_", " ").split())


_TABBED = re.compile(r"TABBED\s+ARRAY\s*\(([-+0-9.eE\s]*)\)", re.IGNORECASE)


def _tabbed(m: re.Match) -> str:
    """Write a ``TABBED ARRAY(...)`` (numbers split by blanks, rows by lines) as Vensim's ``1, 2; 3, 4``."""
    rows = [" , ".join(line.split()) for line in m.group(1).splitlines() if line.strip()]
    return " ; ".join(rows) + (" ;" if len(rows) > 1 else " ,")


def parse_definition(text: str) -> Definition | RangeDef:
    """Parse one definition; lark's errors become :class:`ParseError` with the column (in ``text``).

    Raises
    ------
    ParseError
        ``column`` is 1-based in ``text``; the caller turns it into a line
        and column of the file.
    """
    text = _TABBED.sub(_tabbed, text)
    check_depth(text)  # as deep as the XMILE equation language allows
    try:
        tree = _lark().parse(text)
        return _ToDefinition().transform(tree)
    except UnexpectedInput as e:
        raise ParseError(_describe(e, text), text=text, column=_column(e, text)) from None
    except VisitError as e:
        inner = e.orig_exc
        if isinstance(inner, ParseError):
            raise inner from None
        raise ParseError(f"cannot read the equation ({type(inner).__name__})", text=text, column=1) from None
    except (LarkError, RecursionError, ValueError, OverflowError) as e:
        raise ParseError(f"cannot read the equation ({type(e).__name__})", text=text, column=1) from None


def _column(e: UnexpectedInput, text: str) -> int:
    col = getattr(e, "column", None)
    tok = getattr(e, "token", None)
    at_end = tok is not None and getattr(tok, "type", "") == "$END"
    if isinstance(e, UnexpectedEOF) or at_end or not isinstance(col, int) or col < 1:
        return len(text) + 1
    pos = getattr(e, "pos_in_stream", None)
    return pos + 1 if isinstance(pos, int) and pos >= 0 else col


def _describe(e: UnexpectedInput, text: str) -> str:
    if isinstance(e, UnexpectedEOF):
        return "the equation ends too early (an operand or a closing bracket is missing)"
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream if e.pos_in_stream is not None else -1
        ch = text[pos] if 0 <= pos < len(text) else "?"
        return f"unexpected character {ch!r}"
    tok = getattr(e, "token", None)
    if tok is not None and getattr(tok, "type", "") == "$END":
        return "the equation ends too early (an operand or a closing bracket is missing)"
    return f"unexpected {str(tok)!r}" if tok is not None else "invalid definition"
