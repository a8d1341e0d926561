"""FREE (Fiddaman's Feedback-Rich Energy-Economy model, vendored in benchmarks/models/metasd): read and run.

Its historical series are Vensim data variables whose values live in a ``.vdf``
file that is not published with the model: they are :NA:, and a warning names
the model equations reading them.  With prices endogenous from the start and
the two exogenous emission and forcing series at zero, it runs 1960-2300.
"""

import warnings
from pathlib import Path

import pytest

import trafficsys as ts
from trafficsys.io.vensim.convert import MissingDataWarning
from trafficsys.io.vensim.grammar import NA

FREE = Path(__file__).resolve().parents[2] / "benchmarks" / "models" / "metasd" / "free" / "free 6.mdl"


def test_free_loads_and_names_the_equations_reading_data_it_does_not_carry():
    with pytest.warns(MissingDataWarning) as w:
        m = ts.load(FREE)
    msg = str(next(x.message for x in w if isinstance(x.message, MissingDataWarning)))
    assert "Radiative Forcing" in msg and "dice_ipcc_other_rad_forcing" in msg
    assert m["coal production"].value == NA
    # a level with a constant element: Desired Depletion Rent[OilGas] integrates, [Coal] is 0
    assert m["desired depletion rent"].kind.value == "stock"


def test_free_runs_with_endogenous_prices_and_agrees_with_a_closed_form():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ts.load(FREE)
    scenario = {f"price switch[{e}]": 0 for e in ("coal", "oilgas", "hn", "new")}
    scenario.update({"nonenergy carbon emissions": 0, "dice ipcc other rad forcing": 0})
    df = ts.simulate(m, scenario=scenario).to_pandas()
    assert df.index[0] == 1960 and df.index[-1] == 2300
    # Auton Energy Eff Index = INTEG(-(index - 0.1) * 0.005, 1), Euler with DT = 0.125:
    # index(n steps) = 0.1 + 0.9 * (1 - 0.125 * 0.005)^n
    for year in (1990, 2100, 2300):
        n = round((year - 1960) / 0.125)
        assert df.loc[year, "auton_energy_eff_index"] == pytest.approx(
            0.1 + 0.9 * (1 - 0.125 * 0.005) ** n, rel=1e-12
        )
    assert df.loc[1960, "population"] == 3.041e9
    assert df["population"].is_monotonic_increasing and df["atmos_uocean_temp"].iloc[-1] > 0.2
