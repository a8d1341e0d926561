"""Operator precedence and associativity, fixed by XMILE 1.0 and by canonical outputs."""

import pytest

from trafficsys.model.ast import Binary, Name, Num, Unary
from trafficsys.model.parser import parse


@pytest.mark.parametrize(
    "text, expected",
    [
        # ^ binds tighter than unary minus: -2^2 = -4 (SDXorg exponentiation model)
        ("-2^2", Unary("-", Binary("^", Num(2), Num(2)))),
        # ^ is right-associative: 2^3^2 = 2^9 (SDXorg arithmetics_exp canonical output)
        ("2^3^2", Binary("^", Num(2), Binary("^", Num(3), Num(2)))),
        ("a - b - c", Binary("-", Binary("-", Name("a"), Name("b")), Name("c"))),
        ("a / b * c", Binary("*", Binary("/", Name("a"), Name("b")), Name("c"))),
        ("a + b * c", Binary("+", Name("a"), Binary("*", Name("b"), Name("c")))),
        ("a < b = c", Binary("=", Binary("<", Name("a"), Name("b")), Name("c"))),
        ("a OR b AND c", Binary("or", Name("a"), Binary("and", Name("b"), Name("c")))),
        ("a ^ -b", Binary("^", Name("a"), Unary("-", Name("b")))),
    ],
)
def test_precedence_and_associativity(text, expected):
    assert parse(text) == expected


def test_right_associative_power_evaluates_like_mathematics():
    from trafficsys.model.printer import to_xmile

    tree = parse("2^3^2")
    assert to_xmile(tree) == "2 ^ 3 ^ 2"
    assert parse(to_xmile(parse("(2^3)^2"))) == Binary("^", Binary("^", Num(2), Num(3)), Num(2))


@pytest.mark.parametrize(
    "text, value",
    [
        ("3", 3.0),
        ("-3.5", -3.5),
        ("+-2e3", -2000.0),
        ("- -1", 1.0),
        ("a", None),
        ("1 + 2", None),
        ("(((", None),
    ],
)
def test_numeric_literal(text, value):
    from trafficsys.model.parser import numeric_literal

    assert numeric_literal(text) == value
