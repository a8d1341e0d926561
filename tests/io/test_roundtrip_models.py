"""Round trip through XMILE on models written elsewhere (issue 16): saved by ts.save and read back, a model runs
bit for bit the same; PySD reading our file agrees where it supports the constructs.

A fast subset; `python tools/roundtrip.py` runs every test model and the published models.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import TEST_MODELS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import roundtrip  # noqa: E402

SUBSET = [
    "samples/teacup/teacup.xmile",
    "samples/teacup/teacup.mdl",
    "samples/bpowers-hares_and_lynxes_modules/model.xmile",
    "tests/delays/test_delays.mdl",
    "tests/delay_pipeline/test_pipeline_delays.mdl",
    "tests/subscript_mapping_simple/test_subscript_mapping_simple.mdl",
    "tests/game/test_game.xmile",
    "tests/chained_initialization/test_chained_initialization.stmx",
    "tests/macro_multi_expression/test_macro_multi_expression.xmile",  # with macros= its .mdl
    "tests/data_from_other_model/test_data_from_other_model.mdl",  # with data= its data.tab
]
# PySD runs our XMILE file of these (names with spaces are quoted in <inflow>/<outflow>, as Stella writes them)
PYSD_RUNS = {
    "samples/teacup/teacup.xmile",
    "samples/teacup/teacup.mdl",
    "tests/delays/test_delays.mdl",
    "tests/game/test_game.xmile",
    "tests/chained_initialization/test_chained_initialization.stmx",
    "tests/macro_multi_expression/test_macro_multi_expression.xmile",
}


@pytest.mark.parametrize("name", SUBSET)
def test_a_model_saved_to_xmile_and_read_back_runs_the_same(name):
    path = TEST_MODELS / name
    loaded = roundtrip.runs(path)
    assert loaded is not None, f"{name} no longer runs"
    pysd = name in PYSD_RUNS
    if pysd:
        pytest.importorskip("pysd")
    trip = roundtrip.check(path, pysd=pysd, loaded=loaded)
    assert trip.ours == "exact", trip
    if pysd:
        assert trip.pysd == "same" and trip.pysd_compared > 0, trip


def test_the_round_trip_notices_a_difference(tmp_path, monkeypatch):
    """A writer that loses a value is caught: the check compares values, it does not only count files."""
    import trafficsys as ts

    real = ts.save

    def lossy(m, path, **kw):  # the room's temperature written one degree off
        real(m, path, **kw)
        text = Path(path).read_text(encoding="utf-8")
        assert "<eqn>70.0</eqn>" in text
        Path(path).write_text(text.replace("<eqn>70.0</eqn>", "<eqn>71.0</eqn>"), encoding="utf-8")

    monkeypatch.setattr(ts, "save", lossy)
    path = TEST_MODELS / "samples/teacup/teacup.xmile"
    trip = roundtrip.check(path, pysd=False, loaded=roundtrip.runs(path))
    assert trip.ours == "differs" and trip.worst > 1e-3, trip
