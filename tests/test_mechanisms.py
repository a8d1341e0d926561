"""Extreme-condition tests of the reference model's second-edition mechanisms (Sterman, Business Dynamics, ch. 21).

Each mechanism the article describes gets a test that pushes its input to an extreme and checks the
response the structure must give: control -> support, claims vs outcomes, shelter buildings that need
filling, conditional funding of collectives, victims criminalised in raids, accountability work.
"""

import numpy as np
import pytest

import trafficsys as ts
from trafficsys.model.settings import RangeWarning


@pytest.fixture(scope="module")
def model():
    return ts.load_default()


def last(r, v):
    return float(r[v].values[-1, 0])


def test_organisations_move_from_control_to_support_slowly_not_at_once(model):
    # all the money to audits from the start: coverage jumps, practice follows over its adjustment time
    audits = {
        "share_audits": 1.0,
        "share_ngo_rescue": 0.0,
        "share_ngo_shelter": 0.0,
        "share_police_training": 0.0,
        "share_witness_support": 0.0,
        "share_community_reintegration": 0.0,
        "share_survivor_collectives": 0.0,
        "share_state_accountability": 0.0,
    }
    r = ts.simulate(model, scenario=audits)
    cov = float(r["audit_coverage"].values[0, 0])
    so = r["support_orientation"].values[:, 0]
    t = r.ds["time"].values
    assert cov > 0.99
    assert so[0] == pytest.approx(model["initial_support_orientation"].value)
    tau = model["practice_change_time"].value
    # first order: after one adjustment time, 1 - 1/e of the way
    i = int(np.searchsorted(t, tau))
    frac = (so[i] - so[0]) / (cov - so[0])
    assert 0.6 < frac < 0.66
    # with no audits at all, practice slides back to control
    r0 = ts.simulate(model, params={"share_audits": 0.0, "share_community_reintegration": 0.20})
    assert last(r0, "support_orientation") < 0.05 * model["initial_support_orientation"].value + 0.01


def test_audits_close_the_gap_between_claimed_and_real_rescues(model):
    r = ts.simulate(model, scenario="saviour_led")
    assert float(np.min(r["claims_gap"].values)) > 0
    # no inflation: claims are the outcomes
    r = ts.simulate(model, scenario="saviour_led", params={"claim_inflation": 0.0})
    assert float(np.max(np.abs(r["claims_gap"].values))) == 0.0
    # full audit coverage: the gap is (almost) closed
    r = ts.simulate(
        model,
        params={
            "share_audits": 1.0,
            "share_ngo_rescue": 0.0,
            "share_ngo_shelter": 0.0,
            "share_police_training": 0.0,
            "share_witness_support": 0.0,
            "share_community_reintegration": 0.0,
            "share_survivor_collectives": 0.0,
        },
    )
    gap = r["claims_gap"].values[:, 0] / np.maximum(r["reported_rescues"].values[:, 0], 1e-9)
    assert float(gap.max()) < 0.01 * model["claim_inflation"].value


def test_shelter_buildings_outlast_their_money_and_empty_beds_lengthen_stays(model):
    r = ts.simulate(model, scenario="survivor_led")
    beds = r["ngo_shelter_beds"].values[:, 0]
    funded = float(r["funded_ngo_beds"].values[-1, 0])
    t = r.ds["time"].values
    # the money is cut at once, the beds close over years
    assert beds[np.searchsorted(t, 2)] > 2 * funded
    assert beds[-1] == pytest.approx(funded, rel=0.02)
    # beds no longer paid for push stays beyond the policy ...
    assert (
        float(np.max(r["effective_stay"].values))
        > model.scenarios["survivor_led"].overrides["shelter_stay_policy"] * 1.05
    )
    # ... unless the pressure is switched off, or every bed is paid for (the baseline)
    r0 = ts.simulate(model, scenario="survivor_led", params={"fill_pressure_stay_effect": 0.0})
    np.testing.assert_allclose(r0["effective_stay"].values, 0.25)
    base = ts.simulate(model, scenario="baseline")
    assert float(np.max(base["unfunded_bed_share"].values)) == 0.0
    np.testing.assert_allclose(base["effective_stay"].values, 1.0)


def test_conditional_money_mutes_collectives_advocacy(model):
    free = ts.simulate(model, scenario="survivor_led")
    tied = ts.simulate(model, scenario="survivor_led", params={"collective_funding_conditions": 1.0})
    assert last(tied, "state_accountability") < last(free, "state_accountability")
    # no penalty for conditions: the two are the same
    a = ts.simulate(model, scenario="survivor_led", params={"conditions_advocacy_penalty": 0.0})
    b = ts.simulate(
        model,
        scenario="survivor_led",
        params={"conditions_advocacy_penalty": 0.0, "collective_funding_conditions": 1.0},
    )
    np.testing.assert_array_equal(a["state_accountability"].values, b["state_accountability"].values)


def test_no_raids_no_victims_criminalised_and_none_when_the_fraction_is_zero(model):
    no_raids = {
        "share_ngo_rescue": 0.0,
        "share_community_reintegration": 0.45,
        "donor_reward_per_rescue": 0.0,
        "initial_ngo_rescue_capacity": 0.0,
    }
    r = ts.simulate(model, params=no_raids)
    assert float(np.max(r["victims_criminalised"].values)) == 0.0
    r = ts.simulate(model, scenario="saviour_led", params={"raid_criminalisation_fraction": 0.0})
    assert last(r, "cumulative_criminalised") == 0.0
    # a count, reported beside the other indicators: the more raids, the more criminalised
    sav = ts.simulate(model, scenario="saviour_led")
    sur = ts.simulate(model, scenario="survivor_led")
    assert last(sav, "cumulative_criminalised") > 3 * last(sur, "cumulative_criminalised") > 0


def test_accountability_work_without_effect_changes_no_accountability(model):
    p = {"accountability_work_effect": 0.0}
    a = ts.simulate(model, scenario="baseline", params=p)
    b = ts.simulate(model, params={**p, "share_state_accountability": 0.3, "share_ngo_rescue": 0.0})
    c = ts.simulate(model, params={"share_state_accountability": 0.3, "share_ngo_rescue": 0.0})
    # the money is spent either way; only its effect raises accountability
    assert last(b, "cumulative_programme_spending") == pytest.approx(last(c, "cumulative_programme_spending"))
    assert last(b, "state_accountability") < last(c, "state_accountability") - 0.1
    # infinitely dear accountability work buys no coverage: the same as work without effect
    with pytest.warns(RangeWarning):
        d = ts.simulate(
            model,
            params={
                "accountability_work_cost_scale": 1e15,
                "share_state_accountability": 0.3,
                "share_ngo_rescue": 0.0,
            },
        )
    np.testing.assert_allclose(d["state_accountability"].values, b["state_accountability"].values, rtol=1e-9)
    assert last(a, "state_accountability") > 0


def test_structural_switches_are_set_not_sampled_and_each_changes_only_its_structure(model):
    from trafficsys.scenarios import uncertain_constants

    switches = [c.name for c in model.constants if c.role == "structure"]
    assert set(switches) == {"witness_support_dilution", "raid_yield_follows_prevalence"}
    assert not set(switches) & set(uncertain_constants(model, list(model.scenarios)))
    for name in switches:  # each has its sensitivity case
        assert any(name in case["settings"] for case in model.metadata["cases"].values()), name
    # at the point values both switches leave the baseline where it was (the references are its rest state)
    base = ts.simulate(model, scenario="baseline")
    alt = ts.simulate(
        model,
        scenario="baseline",
        params={"witness_support_dilution": 0.0, "raid_yield_follows_prevalence": 1.0},
    )
    np.testing.assert_allclose(alt["in_exploitation"].values, base["in_exploitation"].values, rtol=0.01)
    # without dilution, doubling the caseload in trial leaves witness coverage where it was
    more = {"initial_cases_in_trial": 1400.0}
    d1 = ts.simulate(model, scenario="saviour_led", params=more, stop=1)
    d0 = ts.simulate(model, scenario="saviour_led", params={**more, "witness_support_dilution": 0.0}, stop=1)
    assert float(d1["witness_support_coverage"].values[0, 0]) < 0.6 * float(
        d0["witness_support_coverage"].values[0, 0]
    )
    # raids that follow prevalence find half as many when half as many are exploited
    half = {"initial_in_exploitation": 5000.0, "raid_yield_follows_prevalence": 1.0}
    r = ts.simulate(model, scenario="baseline", params=half, stop=1)
    cap = float(r["ngo_rescue_capacity"].values[0, 0])
    assert float(r["ngo_raid_exits"].values[0, 0]) == pytest.approx(cap * 0.5, rel=1e-6)
