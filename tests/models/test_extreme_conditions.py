"""Sterman's reality checks on the reference model (Business Dynamics, ch. 21)."""

import numpy as np
import pytest

import trafficsys as ts

NO_MONEY = {
    "total_programme_budget": 0.0,
    "state_base_first_response": 0.0,
    "state_responsiveness": 0.0,
    "initial_ngo_rescue_capacity": 0.0,
    "initial_police_capacity": 0.0,
}
INTERVENTION_FLOWS = [
    "ngo_raid_exits",
    "police_identification",
    "police_training",
    "donor_funding",
    "programme_spending",
    "state_own_first_response",
    "first_response_spending",
    "funded_support_places",
    "witness_support_places",
    "funded_ngo_capacity",
]


@pytest.mark.parametrize("strategy", ["baseline", "saviour_led", "survivor_led"])
def test_no_vulnerable_people_no_recruitment(reference_model, strategy):
    r = ts.simulate(reference_model, scenario=strategy, params={"initial_vulnerable": 0.0})
    assert float(np.max(r["recruitment"].values)) == 0.0
    assert float(np.max(r["vulnerable"].values)) == 0.0


def test_no_police_capacity_no_police_identifications(reference_model):
    params = {
        "initial_police_capacity": 0.0,
        "share_police_training": 0.0,
        "state_base_first_response": 0.0,
        "state_responsiveness": 0.0,
    }
    r = ts.simulate(reference_model, params=params)
    assert float(np.max(r["police_identification"].values)) == 0.0
    # the rest of the system still runs: people still leave exploitation by themselves
    assert float(np.min(r["self_exit"].values)) > 0.0


@pytest.mark.parametrize("strategy", ["baseline", "saviour_led", "survivor_led_state_accountable"])
def test_zero_budget_no_intervention_flows(reference_model, strategy):
    r = ts.simulate(reference_model, scenario=strategy, params=NO_MONEY)
    for v in INTERVENTION_FLOWS:
        assert float(np.max(np.abs(r[v].values))) == 0.0, v
    assert float(r["cumulative_total_spending"].values[-1, 0]) == 0.0


def test_doubling_the_horizon_does_not_change_the_first_30_years(reference_model):
    for strategy in ["baseline", "state_accountable"]:
        short = ts.simulate(reference_model, scenario=strategy)
        long = ts.simulate(reference_model, scenario=strategy, stop=60)
        assert float(long.ds["time"].values[-1]) == 60.0
        head = long.ds.sel(time=short.ds["time"].values)
        for v in short.ds.data_vars:
            if "time" in short.ds[v].dims:
                np.testing.assert_array_equal(head[v].values, short.ds[v].values, err_msg=v)
