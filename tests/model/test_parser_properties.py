"""Parser and printer: round trip of generated ASTs, and any text gives an AST or a ParseError."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# ---------------------------------------------------------------- strategies
from support.strategies import expressions

from trafficsys import limits as ts_limits
from trafficsys.errors import ArityError, LimitError, ParseError
from trafficsys.model import ast
from trafficsys.model.parser import MAX_DEPTH, MAX_LENGTH, parse
from trafficsys.model.printer import to_xmile


# ------------------------------------------------------------------ round trip
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_print_then_parse_gives_the_same_ast(tree):
    text = to_xmile(tree)
    assert parse(text) == tree, text


@settings(max_examples=150, deadline=None)
@given(expressions)
def test_printing_is_a_fixed_point(tree):
    once = to_xmile(tree)
    assert to_xmile(parse(once)) == once


@pytest.mark.parametrize(
    "text, expected",
    [
        ("-2^2", ast.Unary("-", ast.Binary("^", ast.Num(2), ast.Num(2)))),
        ("a - b - c", ast.Binary("-", ast.Binary("-", ast.Name("a"), ast.Name("b")), ast.Name("c"))),
        ("a / b * c", ast.Binary("*", ast.Binary("/", ast.Name("a"), ast.Name("b")), ast.Name("c"))),
        ("a OR b AND c", ast.Binary("or", ast.Name("a"), ast.Binary("and", ast.Name("b"), ast.Name("c")))),
        ("a < b = c", ast.Binary("=", ast.Binary("<", ast.Name("a"), ast.Name("b")), ast.Name("c"))),
        ('"Police  Capacity" * 2', ast.Binary("*", ast.Name("police_capacity"), ast.Num(2))),
        ("Police_Capacity", ast.Name("police_capacity")),
        ("smooth(x, 3)", ast.Call("SMTH1", (ast.Name("x"), ast.Num(3)))),
        ("IF_THEN_ELSE(a, 1, 2)", ast.If(ast.Name("a"), ast.Num(1), ast.Num(2))),
        (
            "if a then b else c + 1",
            ast.If(ast.Name("a"), ast.Name("b"), ast.Binary("+", ast.Name("c"), ast.Num(1))),
        ),
        ("MOD(a, 3)", ast.Call("MOD", (ast.Name("a"), ast.Num(3)))),
        ("effect_of_trust(trust)", ast.Call("effect_of_trust", (ast.Name("trust"),))),
        ("TIME", ast.Name("time")),
    ],
)
def test_precedence_names_and_spellings(text, expected):
    assert parse(text) == expected


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "text, column",
    [("a +", 4), ("(a + b", 7), ("a $ b", 3), ("a b", 3), ("'x' + 1", 1), ("1e400", 1), ("", 1)],
)
def test_parse_errors_give_the_column_and_a_caret(text, column):
    with pytest.raises(ParseError) as info:
        parse(text, variable="v", file="m.toml")
    e = info.value
    assert e.column == column
    message = str(e)
    assert "m.toml" in message and "'v'" in message and f"column {column}" in message
    assert message.splitlines()[-1].index("^") - 4 == column - 1


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("SMTH1(x)", "SMTH1 takes 2 to 3 arguments, got 1"),
        ("EXP(a, b)", "EXP takes 1 argument, got 2"),
        ("MOD(a)", "MOD takes 2 arguments, got 1"),
        ("IF_THEN_ELSE(a, b)", "IF_THEN_ELSE takes 3"),
        ("x + STEP(1)", "STEP takes 2 arguments, got 1"),
    ],
)
def test_wrong_arity_is_an_arity_error_with_position(text, fragment):
    with pytest.raises(ArityError) as info:
        parse(text, variable="v")
    assert fragment in str(info.value)
    assert info.value.column == text.index(text.split("(")[0].split()[-1]) + 1


# ------------------------------------------------------- any text, bounded
_alphabet = st.sampled_from(
    list("abcxyz019 .,+-*/^()[]<>=\"'_$\n\t")
    + ["IF ", " THEN ", " ELSE ", "AND", "NOT ", "MOD", "SMTH1(", "e9"]
)
token_soup = st.lists(_alphabet, max_size=60).map("".join)


def _parse_or_parse_error(text: str) -> None:
    # CPU time, not wall time: a bound on our work that other processes' load cannot break
    t0 = time.process_time()
    try:
        result = parse(text)
    except ParseError:
        pass
    except LimitError as e:  # longer than the expression_length limit: refused before parsing
        assert e.limit == "expression_length" and len(text) > ts_limits.current().expression_length
    else:
        assert isinstance(result, (ast.Num, ast.Name, ast.Subscript, ast.Unary, ast.Binary, ast.If, ast.Call))
    assert time.process_time() - t0 < 2.0


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), token_soup))
def test_any_text_parses_or_raises_parse_error(text):
    _parse_or_parse_error(text)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5000), st.sampled_from(["(", "-", "NOT ", "IF a THEN ", "f(", "[", "x[", "a^"]))
def test_deep_nesting_fails_fast_with_parse_error(n, opener):
    _parse_or_parse_error(opener * n + "1" + ")" * n)


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
        "-" * (MAX_DEPTH + 5) + "1",
        "NOT " * (MAX_DEPTH + 5) + "1",
        "\x00\x01\ud7ff",
        "a" * 5000 + " +",
    ],
)
def test_hostile_text_is_a_parse_error(text):
    t0 = time.process_time()
    with pytest.raises(ParseError):
        parse(text)
    assert time.process_time() - t0 < 2.0


@pytest.mark.parametrize("text", ["1+" * (MAX_LENGTH // 2) + "1", "a" * (MAX_LENGTH + 1)])
def test_an_equation_over_the_length_limit_is_refused_before_parsing(text):
    with pytest.raises(LimitError, match=r"expression_length.*ts\.limits\.override") as info:
        parse(text, variable="v")
    assert info.value.limit == "expression_length" and info.value.variable == "v"
    with ts_limits.override(expression_length=len(text)):
        try:
            parse(text)
        except ParseError:
            pass  # over another bound (nesting), but no longer refused for its length


def test_nesting_just_below_the_bound_parses():
    depth = MAX_DEPTH - 1
    tree = parse("(" * depth + "x" + ")" * depth)
    assert tree == ast.Name("x")


def test_non_text_is_a_parse_error():
    with pytest.raises(ParseError):
        parse(42)  # type: ignore[arg-type]
