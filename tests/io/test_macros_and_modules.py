"""XMILE macros with stocks of their own and nested modules, against values computed by hand.

Both files are written for these tests (``tests/data/xmile``).  A model that
runs must also survive a round trip: saved to XMILE and read back by us and by
PySD, it gives the same results.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import trafficsys as ts

DATA = Path(__file__).resolve().parents[1] / "data" / "xmile"


def _round_trip(m: ts.Model, r: ts.Results, tmp_path: Path, names: list[str]) -> None:
    path = tmp_path / "out.xmile"
    ts.save(m, path)
    back = ts.simulate(ts.load(path)).to_pandas()
    for n in names:
        assert np.array_equal(back[n].to_numpy(), r.to_pandas()[n].to_numpy()), n
    pysd = pytest.importorskip("pysd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pysd.read_xmile(str(path)).run()
    for n in names:
        col = next(c for c in theirs.columns if ts.model.names.canonical(c) == n)
        np.testing.assert_allclose(theirs[col].to_numpy(), r.to_pandas()[n].to_numpy(), rtol=1e-12)


def test_two_nested_modules(tmp_path):
    m = ts.load(DATA / "nested_modules.xmile")
    # the programme module twice, each with the exit-rule module inside: qualified names
    assert {"north.supported", "south.supported", "north.exit.rate", "south.exit.fraction"} <= set(m.names())
    r = ts.simulate(m)
    # supported(t + 1) = supported + intake - 0.25 * supported, DT 1, from 0
    north = [0.0, 10.0, 17.5, 23.125, 27.34375]  # intake 10
    south = [0.0, 5.0, 8.75, 11.5625, 13.671875]  # intake 10 / 2
    assert r.ds["north.supported"].values[:, 0].tolist() == north
    assert r.ds["south.supported"].values[:, 0].tolist() == south
    assert r.ds["total_supported"].values[:, 0].tolist() == [a + b for a, b in zip(north, south)]
    assert r.ds["north.exit.rate"].values[:, 0].tolist() == [0.25 * x for x in north]
    _round_trip(m, r, tmp_path, ["north.supported", "south.supported", "total_supported", "north.exit.rate"])


def test_a_macro_with_a_stock_keeps_its_own_state_at_each_call(tmp_path):
    m = ts.load(DATA / "macro_with_stock.xmile")
    r = ts.simulate(m)
    # level(t + 1) = level + (input - level) / delay, from 0; the input STEP(10, 1) is 10 from t = 1
    fast = [0.0, 0.0, 5.0, 7.5, 8.75]  # delay 2
    slow = [0.0, 0.0, 5.0, 8.75, 11.5625]  # input 20, delay 4
    assert r.ds["fast"].values[:, 0].tolist() == fast
    assert r.ds["slow"].values[:, 0].tolist() == slow
    # two calls in one equation: two copies, each the same smooth as `fast` (not one shared stock)
    assert r.ds["both"].values[:, 0].tolist() == [2 * x for x in fast]
    assert {"both.my_smooth1.level", "both.my_smooth2.level"} <= set(m.names())
    # a call inside a module: its copy is named under the module's variable
    assert r.ds["office.smoothed"].values[:, 0].tolist() == [0.0, 4.0, 4.0, 4.0, 4.0]
    _round_trip(m, r, tmp_path, ["fast", "slow", "both", "office.smoothed"])


def test_a_macro_defining_something_other_than_stocks_flows_and_auxiliaries_is_refused(tmp_path):
    text = (
        (DATA / "macro_with_stock.xmile")
        .read_text()
        .replace('<flow name="adjust">', '<module name="inner" model_name="x"/><flow name="adjust">')
    )
    path = tmp_path / "bad.xmile"
    path.write_text(text)
    with pytest.raises(ts.UnsupportedFeatureError, match="macro 'my_smooth' defines a <module>"):
        ts.load(path)
