"""Long expressions: every pass over an equation handles any tree the parser accepts.

A sum of thousands of terms parses to a tree thousands of levels deep; the
passes (units, lowering, code generation, printing, polarity, loop dominance)
walk it without recursion, and the generated code writes the chain flat.
"""

from __future__ import annotations

import numpy as np
import pytest

import trafficsys as ts
from trafficsys.errors import ParseError, UnitsError
from trafficsys.model import ast
from trafficsys.model.elements import Constant
from trafficsys.model.parser import MAX_NESTING, parse
from trafficsys.model.printer import to_xmile

N = 10_000


def _model(equation: str, a: float = 0.5) -> ts.Model:
    m = ts.Model("deep", start=0, stop=2, dt=1)
    m.constant("a", a)
    m.aux("t", "TIME")
    m.aux("x", equation)
    return m


@pytest.mark.parametrize("runs", [None, 2])
def test_sum_of_ten_thousand_terms_simulates(runs):
    # a + t + a + t ...: 5,000 of each, so x = 5000 a + 5000 TIME
    m = _model("+".join(["a", "t"] * (N // 2)))
    params = None if runs is None else {"a": np.array([0.5, 2.0])}
    r = ts.simulate(m, params=params)
    x = r["x"].values.reshape(3, -1)
    a = np.array([0.5]) if runs is None else np.array([0.5, 2.0])
    expected = 5000 * a[None, :] + 5000 * np.array([0.0, 1.0, 2.0])[:, None]
    np.testing.assert_array_equal(x, expected)


def test_long_difference_product_and_quotient_chains():
    m = ts.Model("chains", start=0, stop=1, dt=1)
    m.constant("a", 2.0)
    m.aux("d", "-".join(["a"] * 5000))  # a - a - ... = a - 4999 a
    m.aux("p", "*".join(["a"] * 1000))  # 2 ** 1000
    m.aux("q", "/".join(["a"] * 1000))  # 2 / 2 ** 999
    m.aux("mn", "MIN(" + ",".join(["a"] * 2000 + ["1"]) + ")")
    m.aux("mx", "MAX(" + ",".join(["1"] * 2000 + ["a"]) + ")")
    m.aux("both", " and ".join(["a > 1"] * 2000))
    df = ts.simulate(m).to_pandas()
    assert df["d"].iloc[-1] == 2.0 - 4999 * 2.0
    assert df["p"].iloc[-1] == 2.0**1000
    assert df["q"].iloc[-1] == 2.0 / 2.0**999
    assert df["mn"].iloc[-1] == 1.0 and df["mx"].iloc[-1] == 2.0
    assert df["both"].iloc[-1] == 1.0


def test_sum_over_ten_thousand_element_dimension():
    m = ts.Model("wide", start=0, stop=1, dt=1)
    m.dimension("d", N)
    m.add(Constant("s", dimensions=("d",), value=0.5))
    m.aux("total", "SUM(s[*])")
    m.aux("avg", "MEAN(s[*])")
    df = ts.simulate(m).to_pandas()
    assert df["total"].iloc[-1] == 0.5 * N
    assert df["avg"].iloc[-1] == 0.5


def test_deep_tree_prints_parses_and_compares_without_recursion():
    n = 5000  # printed with spaces, the text must stay within the parser's length limit
    tree = parse("+".join(["a"] * n))
    assert ast.depth(tree) == n  # the parser's tree is as deep as the sum is long
    again = parse(to_xmile(tree))
    assert again == tree and hash(again) == hash(tree)
    assert to_xmile(tree) == " + ".join(["a"] * n)


def test_units_of_a_long_sum_are_checked():
    m = ts.Model("u", start=0, stop=1, dt=1, time_units="year")
    m.constant("p", 1.0, units="person")
    m.constant("money", 1.0, units="dollar")
    m.aux("x", "+".join(["p"] * 5000 + ["money"]), units="person")
    with pytest.raises(UnitsError) as e:
        m.validate()
    assert e.value.variable == "x" and "dollar" in str(e.value)


def test_polarity_and_loops_of_a_long_sum():
    m = ts.Model("loop", start=0, stop=1, dt=1)
    m.stock("s", 1.0, inflows=["f"])
    m.flow("f", "+".join(["s"] * 3000))
    cld = m.cld()
    assert cld.polarity("s", "f") == "+"
    assert [lp.polarity for lp in cld.loops()] == ["R"]


def test_nesting_beyond_the_limit_is_a_parse_error_naming_the_variable():
    m = _model("^".join(["1"] * (MAX_NESTING + 5)))
    with pytest.raises(ParseError) as e:
        m.validate()
    assert e.value.variable == "x" and "nests" in str(e.value) and "split it" in str(e.value)


def test_nested_ifs_within_the_parser_limit_still_compile():
    m = _model("IF a > 0 THEN " * 99 + "1" + " ELSE 0" * 99)
    assert ts.simulate(m).to_pandas()["x"].iloc[-1] == 1.0


def test_a_ten_thousand_term_sum_is_left_to_numpy_by_the_kernel(monkeypatch):
    pytest.importorskip("numba")
    m = _model("+".join(["a", "t"] * (N // 2)))
    with pytest.raises(ts.UnsupportedFeatureError, match="10,000 terms"):
        ts.simulate(m, backend="numba")
    monkeypatch.setenv("TRAFFICSYS_BACKEND", "numba")  # a preference: numpy serves where the kernel cannot
    r = ts.simulate(m, params={"a": np.full(200, 0.5)})
    np.testing.assert_array_equal(r["x"].values[:, 0], [2500.0, 7500.0, 12500.0])
