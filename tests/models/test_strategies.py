"""Strategies of models/strategies.toml: ids, documentation, equal budgets."""

import numpy as np
import pytest

import trafficsys as ts

IDS = ["baseline", "saviour_led", "survivor_led", "state_accountable", "survivor_led_state_accountable"]
SHARES = [
    "share_ngo_rescue",
    "share_ngo_shelter",
    "share_police_training",
    "share_witness_support",
    "share_community_reintegration",
    "share_survivor_collectives",
    "share_audits",
    "share_state_accountability",
]
#: programme lines that pay for duties of the state (first response: police, victim-witness protection)
STATE_DUTIES = ["spend_police_training", "spend_witness_support"]
SPEND = [s.replace("share_", "spend_") for s in SHARES]


@pytest.fixture(scope="module")
def runs(reference_model):
    return {s: ts.simulate(reference_model, scenario=s) for s in IDS}


def test_the_five_strategies_exist_and_set_every_lever(reference_model):
    assert list(reference_model.scenarios)[:5] == IDS
    for s in IDS:
        over = reference_model.scenarios[s].overrides
        assert set(SHARES) | {"shelter_stay_policy"} <= set(over), s


def test_each_strategy_names_the_recommendation_it_embodies(reference_model):
    for s in IDS[2:]:
        assert "recommendation" in reference_model.scenarios[s].doc.lower(), s
    assert "status quo" in reference_model.scenarios["baseline"].doc.lower()
    assert "article" in reference_model.scenarios["saviour_led"].doc.lower()


@pytest.mark.parametrize("strategy", IDS)
def test_shares_sum_to_one_at_every_time(runs, strategy):
    r = runs[strategy]
    total = sum(r[s].values for s in SHARES)
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-9)


def test_every_strategy_spends_the_same_total_at_every_time(reference_model, runs):
    budget = reference_model["total_programme_budget"].value
    for r in runs.values():
        spent = sum(r[v].values for v in SPEND)
        np.testing.assert_allclose(spent, budget, rtol=1e-9, atol=0)
        np.testing.assert_allclose(r["programme_spending"].values, budget, rtol=1e-9, atol=0)
    cum = np.array([float(r["cumulative_programme_spending"].values[-1, 0]) for r in runs.values()])
    np.testing.assert_allclose(cum, cum[0], rtol=1e-9)
    np.testing.assert_allclose(cum[0], budget * 30, rtol=1e-9)


def test_strategies_differ_in_their_levers(runs):
    finals = {s: tuple(round(float(np.ravel(r[v].values)[-1]), 6) for v in SHARES) for s, r in runs.items()}
    assert len(set(finals.values())) == len(IDS)


def test_time_varying_strategies_move_money_from_ngos_to_accountability(runs):
    r = runs["state_accountable"]
    assert float(r["share_ngo_rescue"].sel(time=0).values[0]) == pytest.approx(0.30)
    assert float(r["share_ngo_rescue"].sel(time=10).values[0]) == pytest.approx(0.05)
    assert float(r["share_state_accountability"].sel(time=10).values[0]) == pytest.approx(0.45)


@pytest.mark.parametrize("strategy", ["state_accountable", "survivor_led_state_accountable"])
def test_recommendation_5_funds_no_state_duty_from_programme_money(runs, strategy):
    # the article: governments bear first response; funders pay for holding them to account
    r = runs[strategy]
    for v in STATE_DUTIES:
        assert float(np.max(np.abs(r[v].values))) == 0.0, v
    assert float(np.min(r["spend_state_accountability"].values)) > 0.0
    # ... and the state's own spending follows its accountability: both end well above the status quo
    base = runs["baseline"]
    for v in ["state_accountability", "state_own_first_response"]:
        assert float(r[v].values[-1, 0]) > 1.5 * float(base[v].values[-1, 0]), v
    # police capacity is then paid for by the state: it grows, not shrinks, without programme money
    assert float(r["police_capacity"].values[-1, 0]) > float(base["police_capacity"].values[-1, 0])


def test_the_state_bears_first_response_only_as_far_as_it_is_held_to_account(reference_model, runs):
    # with accountability work, advocacy and audits ineffective (their effects at zero), dropping the programme's
    # police money is not made up by the state: nothing in the model makes the state pay by fiat
    p = {"accountability_work_effect": 0.0, "advocacy_effect": 0.0, "audit_accountability_effect": 0.0}
    r = ts.simulate(reference_model, scenario="state_accountable", params=p)
    base = ts.simulate(reference_model, scenario="baseline", params=p)
    held = runs["state_accountable"]
    assert float(r["state_own_first_response"].values[-1, 0]) < 0.6 * float(
        held["state_own_first_response"].values[-1, 0]
    )
    assert float(r["police_capacity"].values[-1, 0]) < 0.6 * float(held["police_capacity"].values[-1, 0])
    # what is left is the state no longer relying on NGO raids (less erosion), not programme money
    assert float(r["police_capacity"].values[-1, 0]) < 1.2 * float(base["police_capacity"].values[-1, 0])


# The survivor-led mechanisms whose effect sizes no source measures (no published study measures them), at zero,
# and rescue capacity at the cheap end of its range with generous donors.
NO_SURVIVOR_EFFECTS = {
    "advocacy_effect": 0.0,
    "collective_outreach_rate": 0.0,
    "community_prevention_max": 0.0,
    "peer_mentoring_effect": 0.0,
    "support_speedup": 0.0,
    "audit_accountability_effect": 0.0,
    "peer_caseload_per_leader": 0.5,
}
CHEAP_RESCUE = {"cost_per_rescue": 800.0, "donor_reward_per_rescue": 2000.0}


def _person_years(reference_model, strategy, params):
    r = ts.simulate(reference_model, scenario=strategy, params=params)
    return float(r["cumulative_exploitation_years"].values[-1, 0])


def test_the_articles_argument_can_fail(reference_model):
    # at the point values survivor-led beats saviour-led on person-years of exploitation ...
    assert _person_years(reference_model, "survivor_led", {}) < _person_years(
        reference_model, "saviour_led", {}
    )
    # ... but inside the declared ranges, with the unmeasured survivor-led effects at zero and cheap rescue,
    # the saviour-led strategy wins: nothing in the structure guarantees the article's conclusion
    p = {**NO_SURVIVOR_EFFECTS, **CHEAP_RESCUE}
    assert _person_years(reference_model, "saviour_led", p) < _person_years(
        reference_model, "survivor_led", p
    )
    for k, v in p.items():
        lo, hi = reference_model[k].range
        assert lo <= v <= hi, k
