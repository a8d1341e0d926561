"""Values a user sets: declared ranges, budget shares, what Monte Carlo samples, strategies given as settings."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import trafficsys as ts
from trafficsys.model.settings import BudgetWarning, RangeWarning

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    return ts.load_default()


def test_a_value_outside_its_declared_range_warns_in_python(model):
    with pytest.warns(
        RangeWarning, match=r"cost_per_rescue = 100 is outside its declared range \[800, 5000\]"
    ):
        ts.simulate(model, params={"cost_per_rescue": 100.0}, stop=1)
    with pytest.warns(RangeWarning, match="shelter_stay_policy = 3"):
        ts.simulate(model, scenario={"shelter_stay_policy": 3.0}, stop=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ts.simulate(model, params={"cost_per_rescue": 900.0}, stop=1)  # inside: silent


def test_budget_shares_that_do_not_sum_to_one_warn(model):
    with pytest.warns(BudgetWarning, match="sum to 1.05"):
        ts.simulate(model, scenario="baseline", params={"share_audits": 0.10}, stop=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for s in model.scenarios:
            ts.simulate(model, scenario=s, stop=6)  # every shipped strategy sums to 1 at every time


def test_monte_carlo_samples_no_policy_lever_by_default(model):
    mc = ts.monte_carlo(model, n=20, seed=1, progress=False)
    sampled = set(mc.ds.attrs["sampled"].split(","))
    policy = {c.name for c in model.constants if c.role == "policy"}
    assert policy and not sampled & policy
    assert sampled  # the uncertain constants still are
    budget = mc.ds["total_programme_budget"].values
    assert np.all(budget == model["total_programme_budget"].value)
    # asked for, the levers are sampled (and the shares then do not sum to 1: said so)
    with pytest.warns(BudgetWarning):
        mc = ts.monte_carlo(model, n=20, seed=1, progress=False, policy=True)
    assert policy <= set(mc.ds.attrs["sampled"].split(","))


def test_compare_takes_a_mapping_of_settings_as_a_strategy(model):
    mine = dict(model.scenarios["survivor_led"].overrides)
    c = ts.compare(
        model,
        ["survivor_led", mine, {"named": {**mine, "shelter_stay_policy": 1.0}}.get("named")],
        n=12,
        seed=2,
        metrics=["exploitation_person_years"],
    )
    assert c.strategies == ["baseline", "survivor_led", "custom_1", "custom_2"]
    v = c.values["exploitation_person_years"]
    np.testing.assert_array_equal(
        v["custom_1"], v["survivor_led"]
    )  # same settings, same sample: same numbers
    assert not np.array_equal(v["custom_2"], v["survivor_led"])
    c = ts.compare(
        model, {"mine": mine, "saviour_led": None}, n=12, seed=2, metrics=["exploitation_person_years"]
    )
    assert c.strategies == ["baseline", "mine", "saviour_led"]
    assert "mine" not in model.scenarios  # the caller's model is left alone
    with pytest.raises(ts.ModelError, match="sets 'share_audit'"):
        ts.compare(model, [{"share_audit": 0.1}], n=4)


def test_cli_compare_with_a_strategies_file_and_a_what_if(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text(
        '[scenarios.my_district]\ndoc = "mine"\n[scenarios.my_district.set]\nshare_ngo_rescue = 0.2\n'
        "share_survivor_collectives = 0.2\n"
    )
    cmd = [
        sys.executable,
        "-m",
        "trafficsys",
        "compare",
        "--strategies",
        str(f),
        "--scenarios",
        "saviour_led",
        "--set",
        "cost_per_rescue=100",
        "--n",
        "8",
        "--figure",
        "none",
        "--metrics",
        "exploitation_person_years",
    ]
    p = subprocess.run(
        cmd, capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""}
    )
    assert p.returncode == 0, p.stderr
    assert "my_district" in p.stdout and "saviour_led" in p.stdout
    assert "what-if under every strategy: cost_per_rescue = 100" in p.stdout
    assert "note: settings: cost_per_rescue = 100 is outside its declared range" in p.stderr
    # the shares of my_district sum to 1.05 (the model's other shares stay): said, once
    assert p.stderr.count("sum to 1.05") == 1


def test_the_comparison_says_which_unverified_effects_carry_it_and_ships_the_case_with_them_at_zero(model):
    c = ts.compare(
        model, ["saviour_led", "survivor_led"], n=16, seed=4, metrics=["exploitation_person_years"]
    )
    out = str(c)
    unverified = model.metadata["unverified"]["constants"]
    assert len(unverified) == 7
    assert "Read with care" in out and all(u in out for u in unverified)
    assert "--case unverified_at_zero" in out
    z = ts.compare(
        model,
        ["saviour_led", "survivor_led"],
        n=16,
        seed=4,
        metrics=["exploitation_person_years"],
        case="unverified_at_zero",
    )
    assert "sensitivity case 'unverified_at_zero'" in str(z)
    assert not set(unverified) & set(z.samples.columns)  # at zero, not sampled
    assert set(unverified) <= set(c.samples.columns)
    with pytest.raises(
        ts.ModelError, match="no sensitivity case 'nope'; the model defines: unverified_at_zero"
    ):
        ts.compare(model, ["saviour_led"], n=4, case="nope")


def test_a_what_if_setting_is_applied_under_every_strategy_and_not_sampled(model):
    c = ts.compare(
        model,
        ["survivor_led"],
        n=8,
        seed=1,
        metrics=["exploitation_person_years"],
        settings={"cost_per_rescue": 900.0, "share_audits": 0.2},
    )
    assert "cost_per_rescue" not in c.samples.columns
    assert any("share_audits: set by baseline, survivor_led themselves" in x for x in c.notes)
