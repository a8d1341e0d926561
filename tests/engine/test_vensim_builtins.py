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
