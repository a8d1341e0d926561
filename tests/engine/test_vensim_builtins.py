"""Vensim's stateful builtins, each against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

import trafficsys as ts


def _run(equations: dict[str, str], stop: float = 2.0, dt: float = 0.5) -> ts.Results:
    m = ts.Model("vensim_builtins", start=0, stop=stop, dt=dt)
    for name, eq in equations.items():
        m.aux(name, eq)
    m.stock("s", 0, inflows=["f"])
    m.flow("f", "0")
    return ts.simulate(m)


def test_smooth_n_is_smthn_with_vensim_argument_order():
    # two stages of 1 time unit each, from 5 toward a constant 10, DT 0.5:
    # stage 1: 5, 7.5, 8.75; stage 2: 5, 5 + 0.5 * (5 - 5) = 5, 5 + 0.5 * (7.5 - 5) = 6.25
    r = _run({"y": "SMOOTH_N(10, 2, 5, 2)", "z": "SMTHN(10, 2, 2, 5)"}, stop=1.0)
    assert r.ds["y"].values[:, 0].tolist() == [5.0, 5.0, 6.25]
    assert r.ds["z"].values[:, 0].tolist() == [5.0, 5.0, 6.25]


def test_smoothi_and_delay1i_are_vensim_spellings():
    # SMOOTHI(10, 1, 0): 0, 0 + 0.5 * 10 = 5, 5 + 0.5 * 5 = 7.5
    r = _run({"y": "SMOOTHI(10, 1, 0)", "d": "DELAY1I(10, 1, 0)"}, stop=1.0)
    assert r.ds["y"].values[:, 0].tolist() == [0.0, 5.0, 7.5]
    # DELAY1I: the outflow of a stock starting at 0 * 1, filled by 10: 0, 5, 7.5 as well
    assert r.ds["d"].values[:, 0].tolist() == [0.0, 5.0, 7.5]


def test_delay_fixed_reads_its_delay_time_once():
    # the delay time is 1 at the start and 3 later: DELAY FIXED keeps 1, so the output is TIME - 1 from t = 1
    r = _run({"dtime": "IF TIME < 0.5 THEN 1 ELSE 3", "y": "DELAY_FIXED(TIME, dtime, -7)"}, stop=3.0)
    y = r.ds["y"].values[:, 0]
    t = r.ds["time"].values
    assert np.array_equal(y, np.where(t < 1, -7.0, t - 1))


@pytest.mark.parametrize("bad", ["SMOOTH_N(1, 2, 3)", "DELAY_FIXED(1, 2)"])
def test_vensim_builtins_check_their_arity(bad):
    with pytest.raises(ts.ModelError, match="takes"):
        _run({"y": bad})


TABLE = [(0, 0), (1, 2), (3, 2.5)]


@pytest.mark.parametrize(
    "equation, x, expected",
    [
        ("LOOKUP_FORWARD(tab, x)", 0.5, 2.0),  # the next point's value, no interpolation
        ("LOOKUP_FORWARD(tab, x)", 1.0, 2.0),
        ("LOOKUP_FORWARD(tab, x)", 9.0, 2.5),
        ("LOOKUP_BACKWARD(tab, x)", 0.5, 0.0),
        ("LOOKUP_BACKWARD(tab, x)", 2.9, 2.0),
        ("LOOKUP_BACKWARD(tab, x)", -1.0, 0.0),
        ("LOOKUP_EXTRAPOLATE(tab, x)", 5.0, 3.0),  # the last segment's slope 0.25, continued
        ("LOOKUP_EXTRAPOLATE(tab, x)", -0.5, -1.0),
        ("LOOKUP_SLOPE(tab, x)", 0.5, 2.0),
        ("LOOKUP_SLOPE(tab, x)", 2.0, 0.25),
        ("LOOKUP_SLOPE(tab, x)", 4.0, 0.0),  # held flat beyond the points
        ("LOOKUP_INVERT(tab, x)", 1.0, 0.5),  # table(0.5) = 1
        ("LOOKUP_INVERT(tab, x)", 2.25, 2.0),  # table(2) = 2.25
        ("LOOKUP_INVERT(tab, x)", 2.0, 1.0),  # the first x where the table reaches 2
        ("LOOKUP_INVERT(tab, x)", 9.0, 3.0),  # never reached: the point nearest
        ("LOOKUP_AREA(tab, 0, x)", 1.5, 1.0 + (2 + 2.125) / 2 * 0.5),
        ("LOOKUP_AREA(tab, 0, x)", 3.5, 1.0 + 4.5 + 0.5 * 2.5),  # beyond the points, held at 2.5
        ("LOOKUP_AREA(tab, x, 0)", 1.0, -1.0),
    ],
)
def test_vensim_table_functions_by_hand(equation, x, expected):
    m = ts.Model("tables", start=0, stop=0, dt=1)
    m.lookup("tab", TABLE)
    m.constant("x", x)
    m.aux("y", equation)
    m.stock("s", 0, inflows=["f"])
    m.flow("f", "0")
    assert float(ts.simulate(m).ds["y"].values[0, 0]) == pytest.approx(expected, rel=1e-15)


def test_a_table_function_needs_a_graphical_function_first():
    m = ts.Model("tables", start=0, stop=0, dt=1)
    m.constant("c", 1)
    m.aux("y", "LOOKUP_FORWARD(c, 1)")
    m.stock("s", 0, inflows=["f"])
    m.flow("f", "0")
    with pytest.raises(ts.ModelError, match="LOOKUP_FORWARD's first argument"):
        ts.simulate(m)


def test_npv_by_hand():
    # 100 a year discounted at 10%, DT 1: the current step counts, the discount factor falls by 1 / 1.1
    # each year: 100, 100 + 100 / 1.1, 100 + 100 / 1.1 + 100 / 1.1^2...
    r = _run({"y": "NPV(100, 0.1, 0, 1)", "z": "NPV(100, 0.1, 50, 2)"}, stop=3.0, dt=1.0)
    want = [100 * sum(1.1**-i for i in range(k + 1)) for k in range(4)]
    np.testing.assert_allclose(r.ds["y"].values[:, 0], want, rtol=1e-14)
    # an initial value is already accumulated, and the factor scales the whole
    np.testing.assert_allclose(r.ds["z"].values[:, 0], [2 * (50 + w) for w in want], rtol=1e-14)


def test_delay_information_reads_the_input_of_the_current_delay_time_ago():
    # Vensim: DELAY FIXED with a delay time that may vary; the input is TIME, the delay time 1 then 2 from t = 2:
    # inputs are skipped when it shrinks, held when it grows (here: the output stays at 1 while it grows)
    r = _run({"d": "IF TIME < 2 THEN 1 ELSE 2", "y": "DELAY_INFORMATION(TIME, d, -1)"}, stop=4.0, dt=1.0)
    assert r.ds["y"].values[:, 0].tolist() == [-1.0, 0.0, 0.0, 1.0, 2.0]


def test_delay_material_conserves_what_enters_when_the_delay_time_changes():
    # DT 1; inputs 1, 2, 3... enter with delay time 3 until t = 3, then 1: what entered at t = 0, 1, 2
    # leaves at 3, 4, 5; what entered at 3, 4... leaves at 4, 5...  So at 4 two entries leave (2 + 4 = 6),
    # at 5 two (3 + 5 = 8); before t = 3 nothing has left: the initial value -1
    r = _run(
        {"d": "IF TIME < 3 THEN 3 ELSE 1", "x": "TIME + 1", "y": "DELAY_MATERIAL(x, d, -1, -9)"},
        stop=6.0,
        dt=1.0,
    )
    assert r.ds["y"].values[:, 0].tolist() == [-1.0, -1.0, -1.0, 1.0, 6.0, 8.0, 6.0]
    # and when the delay time grows, steps where nothing leaves give the missing value
    r = _run({"d": "IF TIME < 2 THEN 1 ELSE 3", "y": "DELAY_MATERIAL(TIME + 1, d, -1, -9)"}, stop=6.0, dt=1.0)
    assert r.ds["y"].values[:, 0].tolist() == [-1.0, 1.0, 2.0, -9.0, -9.0, 3.0, 4.0]
