"""The reference anti-trafficking model: sources, structure, named loops, archetypes, conservation."""

import numpy as np
import pytest
from support import REPO

import trafficsys as ts
from trafficsys.model.elements import Kind

PEOPLE = [
    "vulnerable",
    "in_exploitation",
    "institutional_care",
    "community_reintegration",
    "reintegrated",
    "survivor_leaders",
]
LOOPS = {
    "rescue_metric_funding": "R",
    "replacement": "B",
    "shifting_the_burden_to_ngos": "R",
    "fixes_that_fail_shelter_detention": "R",
    "impunity": "R",
    "survivor_leadership": "R",
    "accountability_and_trust": "R",
    "deterrence": "B",
}


@pytest.fixture(scope="module")
def cld(reference_cld):
    return reference_cld


def test_loads_and_validates_with_units(reference_model):
    assert reference_model.time_units == "year" and reference_model.stop - reference_model.start == 30
    assert reference_model.dt in (1 / 16, 1 / 8)
    assert reference_model.validate(units=True) == []


def test_every_constant_has_units_range_and_source(reference_model):
    for c in reference_model.constants:
        assert c.units, c.name
        assert c.range is not None and c.range[0] <= c.value <= c.range[1], c.name
        src = c.source.strip()
        assert len(src) > 15, c.name
        # a citation carries a URL or a named source; otherwise it must say it is an assumption or calibrated
        assert (
            "http" in src
            or "assumption" in src
            or "calibrated" in src
            or "NCRB" in src
            or "policy" in src
            or "derived" in src
        ), (c.name, src)


def test_people_stocks_are_non_negative_person_stocks(reference_model):
    for name in PEOPLE:
        st = reference_model[name]
        assert st.kind is Kind.STOCK and st.non_negative and st.units == "person", name


def test_every_named_loop_found_with_declared_polarity(reference_model, cld):
    assert set(LOOPS) <= set(reference_model.loops)
    found = {lp.name: lp for lp in cld.loops() if lp.name}
    for name, pol in LOOPS.items():
        assert reference_model.loops[name].polarity == pol
        assert name in found, f"loop analysis did not find {name}"
        assert found[name].polarity == pol, (name, found[name].polarity)


def test_shifting_the_burden_to_the_intervenor_detected(cld):
    matches = ts.archetypes(cld, kinds=["shifting_the_burden"])
    top = matches[0]
    assert top.variant == "to_the_intervenor"
    assert top.roles["problem_symptom"] == "in_exploitation"
    assert top.roles["symptomatic_solution"] == "ngo_raid_exits"
    # the fundamental solution is the police response (the detector may name the flow or its capacity stock)
    assert top.roles["fundamental_solution"] in {"police_identification", "police_capacity"}
    assert top.roles["side_effect"] in {
        "reported_rescues",
        "ngo_reliance",
        "reliance_pressure",
        "police_erosion",
    }
    assert {lp.name for lp in top.loops} == {
        "symptomatic_fix_ngo_raids",
        "fundamental_solution_police",
        "shifting_the_burden_to_ngos",
    }


def _people_residual(reference_model, r):
    led = r.ledger
    total = 0.0
    scale = 0.0
    for name in PEOPLE:
        sel = led.sel(stock=name)
        total = (
            total
            + (sel["initial"] + sel["boundary_inflows"] - sel["boundary_outflows"] - sel["final"]).values
        )
        scale = scale + sel["initial"].values
    return np.max(np.abs(total) / scale)


@pytest.mark.parametrize(
    "strategy",
    ["baseline", "saviour_led", "survivor_led", "state_accountable", "survivor_led_state_accountable"],
)
def test_people_conserved_and_non_negative_in_every_strategy(reference_model, strategy):
    r = ts.simulate(reference_model, scenario=strategy)
    assert _people_residual(reference_model, r) < 1e-9
    for name in PEOPLE:
        assert float(r[name].min()) >= 0.0


def test_people_conserved_in_1000_monte_carlo_samples(reference_model):
    r = ts.monte_carlo(reference_model, n=1000, seed=7, scenario="baseline", progress=False)
    assert r.ds.sizes["run"] == 1000
    assert _people_residual(reference_model, r) < 1e-9
    for st in reference_model.stocks:
        if st.non_negative:
            assert float(r[st.name].min()) >= 0.0, st.name


def test_docs_variable_tables_are_generated_from_the_current_file(reference_model):
    import importlib.util

    root = REPO
    spec = importlib.util.spec_from_file_location("model_tables", root / "tools" / "model_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    doc = (root / "docs" / "model.md").read_text()
    assert mod.tables(reference_model) in doc, "docs/model.md is stale: run python tools/model_tables.py"


def test_people_conserved_in_1000_samples_of_a_time_varying_strategy(reference_model):
    r = ts.monte_carlo(
        reference_model, n=1000, seed=8, scenario="survivor_led_state_accountable", progress=False
    )
    assert _people_residual(reference_model, r) < 1e-9
    for name in PEOPLE:
        assert float(r[name].min()) >= 0.0, name
