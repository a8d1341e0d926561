"""Unit strings and the inference rules of the dimensional check."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trafficsys as ts
from trafficsys.errors import UnitsError
from trafficsys.model.units import DIMENSIONLESS, Unit, check_units, infer, parse_units


@pytest.mark.parametrize(
    "text, dims",
    [
        ("person", {"person": 1}),
        ("people", {"person": 1}),
        ("Persons", {"person": 1}),
        ("person/year", {"person": 1, "year": -1}),
        ("1/year", {"year": -1}),
        ("year^-1", {"year": -1}),
        ("USD/person", {"usd": 1, "person": -1}),
        ("person*year", {"person": 1, "year": 1}),
        ("person/year^2", {"person": 1, "year": -2}),
        ("USD/(person*year)", {"usd": 1, "person": -1, "year": -1}),
        ("a/b/c", {"a": 1, "b": -1, "c": -1}),
        ("Degrees Fahrenheit / Minutes", {"degrees_fahrenheit": 1, "minute": -1}),
        ("dimensionless", {}),
        ("Dmnl", {}),
        ("1", {}),
        ("", {}),
        ("person/person", {}),
    ],
)
def test_unit_strings(text, dims):
    assert parse_units(text) == Unit.of({k: Fraction(v) for k, v in dims.items()})


@pytest.mark.parametrize(
    "text", ["person//year", "(person", "2/year", "person^x", "person + year", "a" * 300]
)
def test_unreadable_unit_strings(text):
    with pytest.raises(ValueError):
        parse_units(text)


words = st.sampled_from(["person", "year", "usd", "case", "bed"])
units = st.dictionaries(words, st.integers(-3, 3)).map(
    lambda d: Unit.of({k: Fraction(v) for k, v in d.items()})
)


@settings(max_examples=100, deadline=None)
@given(units)
def test_printed_units_read_back(u):
    assert parse_units(str(u)) == u


@settings(max_examples=100, deadline=None)
@given(units, units)
def test_unit_algebra(a, b):
    assert (a * b) / b == a
    assert a / a == DIMENSIONLESS
    assert a**2 == a * a


def model(**units_of):
    m = ts.Model("u", time_units="year")
    m.constant("n", 100, units="person")
    m.constant("rate", 0.1, units="1/year")
    m.constant("tau", 2, units="year")
    m.constant("money", 5, units="USD")
    m.constant("share", 0.5, units="dimensionless")
    m.constant("bare", 3)
    m.lookup("effect", [(0, 0), (1, 1)], units="dimensionless")
    return m


@pytest.mark.parametrize(
    "equation, expected",
    [
        ("n * rate", "person/year"),
        ("n / tau", "person/year"),
        ("2 * n", "person"),
        ("n + 1", "person"),
        ("1 / tau", "1/year"),
        ("n ^ 2", "person^2"),
        ("SQRT(n * n)", "person"),
        ("MIN(n, 5, n)", "person"),
        ("IF share > 0.5 THEN n ELSE 0", "person"),
        ("n > 5", "dimensionless"),
        ("share AND NOT share", "dimensionless"),
        ("TIME", "year"),
        ("DT * rate", "dimensionless"),
        ("STEP(n, 5)", "person"),
        ("RAMP(rate, 2, 5)", "dimensionless"),
        # a literal slope/volume is a wildcard: a time-varying share stays a share
        ("share + RAMP(-0.05, 0, 5)", "dimensionless"),
        ("n + PULSE(10, 2, 1)", "person"),
        ("PULSE(n, 2, 1)", "person/year"),
        ("SMTH1(n, tau)", "person"),
        ("DELAY3(n * rate, tau, 0)", "person/year"),
        ("TREND(n, tau)", "1/year"),
        ("effect(share) * n", "person"),
        ("LOOKUP(effect, share)", "dimensionless"),
        ("EXP(share) * money", "usd"),
        ("money / n", "usd/person"),
        ("SAFEDIV(money, n)", "usd/person"),
        ("-n MOD 3", "person"),
        ("INIT(n)", "person"),
        ("POWER(n, 2)", "person^2"),
        ("SIGN(n) * money", "usd"),
        ("SINH(share) * n", "person"),
        ("LOG(share, 2) * n", "person"),
        ("PULSE_TRAIN(1, 1, 2, 10) * n", "person"),
        ("SMOOTH_N(n, tau, n, 3)", "person"),
        ("DELAY_FIXED(n, tau, 0)", "person"),
        ("RANDOM(n, 2 * n)", "person"),
        ("NORMAL(money, money)", "usd"),
        ("RANDOM_NORMAL(0, n, n, n, 1)", "person"),
        ("EXPRND(tau)", "year"),
        ("RANDOM_0_1() * n", "person"),
        ("NPV(money / tau, rate, money * 0, 1)", "usd"),
    ],
)
def test_inferred_units(equation, expected):
    m = model()
    m.aux("x", equation)
    assert str(infer(m, "x")) == expected


@pytest.mark.parametrize("equation", ["5", "bare * n", "bare + n * 0", "n ^ share"])
def test_unknowable_units_are_none(equation):
    m = model()
    m.aux("x", equation)
    u = infer(m, "x")
    assert u is None or equation == "bare + n * 0"


@pytest.mark.parametrize(
    "equation, fragment",
    [
        ("n + rate", "'+' needs equal units, but 'n' is person and 'rate' is 1/year"),
        ("RANDOM(n, money)", "RANDOM needs equal units"),
        ("n - money", "'-' needs equal units"),
        ("MAX(n, tau)", "MAX needs equal units"),
        ("IF share THEN n ELSE tau", "IF THEN ELSE needs equal units"),
        ("n < tau", "the comparison '<' needs equal units"),
        ("LN(n)", "the argument of LN must be dimensionless, but 'n' is person"),
        ("SIN(tau)", "the argument of SIN must be dimensionless"),
        ("SMTH1(n, n)", "argument 2 of SMTH1 (a time) must be in year, but 'n' is person"),
        ("STEP(n, n)", "argument 2 of STEP (a time) must be in year"),
        ("DELAY1(n, tau, money)", "DELAY1's input and the initial value needs equal units"),
        ("n ^ tau", "an exponent must be dimensionless"),
    ],
)
def test_unit_mismatches(equation, fragment):
    m = model()
    m.aux("x", equation)
    with pytest.raises(UnitsError) as info:
        infer(m, "x")
    assert fragment in str(info.value) and info.value.variable == "x"


def test_flow_into_a_stock_checks_per_time_units():
    m = model()
    m.stock("pool", "n", inflows=["inflow"], units="person")
    m.flow("inflow", "n * rate", units="person/year")
    assert not any("inflow" in w for w in check_units(m))
    m.add(ts.model.Flow("inflow", "person/month", equation="n * rate"), replace=True)
    errors: list = []
    check_units(m, errors)
    assert any(
        "inflow of stock 'pool' (person), so its units must be person/year" in str(e)
        and "but they are person/month" in str(e)
        for e in errors
    ), errors


def test_plural_and_singular_agree():
    m = ts.Model("u", time_units="years")
    m.stock("pool", 10, inflows=["inflow"], units="people")
    m.constant("tau", 2, units="Years")
    m.flow("inflow", "pool / tau", units="persons/year")
    m.aux("rate", "inflow / pool", units="1/yr")  # 'yr' is its own word: a real mismatch
    with pytest.raises(UnitsError, match="declared as 1/yr"):
        check_units(m)


def test_stock_initial_value_units():
    m = model()
    m.stock("pool", "n * rate", units="person")
    with pytest.raises(UnitsError, match="its initial value 'n \\* rate' has units person/year"):
        check_units(m)


def test_default_time_units_skip_the_per_time_checks():
    m = ts.Model("u")  # time_units left at "time"
    m.stock("pool", 10, inflows=["inflow"], units="person")
    m.flow("inflow", "1", units="person/month")
    assert check_units(m) == []


def test_unreadable_units_are_a_warning_not_an_error():
    m = model()
    m.constant("odd", 1, units="person + year")
    warnings = check_units(m)
    assert any("units of 'odd' not understood" in w for w in warnings)


def test_errors_are_collected_when_asked():
    m = model()
    m.aux("x", "n + rate")
    m.aux("y", "LN(n)")
    errors: list = []
    check_units(m, errors)
    assert [e.variable for e in errors] == ["x", "y"]


def test_the_shipped_models_are_unit_consistent():
    from trafficsys.io import models_dir

    for path in sorted(models_dir().rglob("*.toml")):
        m = ts.load(path)
        if len(m) and m.stocks:
            check_units(m)  # raises on any inconsistency
