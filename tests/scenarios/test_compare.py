"""ts.compare: common random numbers, pairwise probabilities, robustness, display."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import trafficsys as ts
import trafficsys.engine
from trafficsys.errors import ModelError
from trafficsys.scenarios import Comparison, Metric, uncertain_constants
from trafficsys.scenarios.metrics import final_value


@pytest.fixture(scope="module")
def comp(reference_model):
    return ts.compare(reference_model, ["saviour_led", "survivor_led", "state_accountable"], n=60, seed=3)


def test_same_sample_index_gets_the_same_constants_in_every_strategy(reference_model, monkeypatch):
    calls = []
    real = trafficsys.engine.ensemble.run_ensemble

    def spy(m, params=None, *, scenario=None, **k):  # every strategy goes through the ensemble door
        calls.append((scenario, {key: np.array(v, copy=True) for key, v in (params or {}).items()}))
        return real(m, params, scenario=scenario, **k)

    monkeypatch.setattr(trafficsys.engine.ensemble, "run_ensemble", spy)
    c = ts.compare(reference_model, ["saviour_led", "survivor_led"], n=25, seed=11)
    assert [s for s, _ in calls] == ["baseline", "saviour_led", "survivor_led"]
    first = calls[0][1]
    assert len(first) > 50 and all(v.shape == (25,) for v in first.values())
    for _, params in calls[1:]:
        assert params.keys() == first.keys()
        for key in first:
            np.testing.assert_array_equal(params[key], first[key])
    # and the recorded sample is that sample; the rest are the initial values the spin-up derives from it
    from trafficsys.engine.spinup import spinup_spec

    derived = set(spinup_spec(reference_model).derived())
    assert set(first) == set(c.samples.columns) | derived and not derived & set(c.samples.columns)
    for key in c.samples.columns:
        np.testing.assert_array_equal(c.samples[key].to_numpy(), first[key])


def test_levers_are_not_sampled(reference_model):
    unc = uncertain_constants(reference_model, list(reference_model.scenarios))
    assert "total_programme_budget" not in unc and "shelter_stay_policy" not in unc
    assert not any(u.startswith("share_") for u in unc)
    assert "market_demand_for_victims" in unc


def test_same_seed_same_comparison(reference_model, comp):
    again = ts.compare(reference_model, ["saviour_led", "survivor_led", "state_accountable"], n=60, seed=3)
    for metric in comp.metrics:
        for s in comp.strategies:
            np.testing.assert_array_equal(comp.values[metric][s], again.values[metric][s])


def test_pairwise_probabilities_are_complementary(comp):
    p = comp.prob_beats()
    for a in comp.strategies:
        for b in comp.strategies:
            if a != b:
                assert p.loc[a, b] + p.loc[b, a] == pytest.approx(1.0)
    assert p.loc["survivor_led", "baseline"] == pytest.approx(
        np.mean(
            comp.values["exploitation_person_years"]["survivor_led"]
            < comp.values["exploitation_person_years"]["baseline"]
        ),
        abs=1e-12,
    )


def test_reference_added_and_cost_undefined_for_it(comp):
    assert comp.strategies[0] == "baseline"
    assert np.all(np.isnan(comp.values["cost_per_exploitation_year_averted"]["baseline"]))
    t = comp.table
    assert {"median", "p5", "p95"} <= set(t.columns)
    assert t.loc[("exploitation_person_years", "survivor_led"), "median"] > 0


def test_ratios_name_their_denominators(comp):
    assert "disposals" in comp.metrics["conviction_ratio"].label
    assert "identified" in comp.metrics["convictions_per_1000_identified"].label
    assert "first-response" in comp.metrics["state_share_first_response"].label


def test_common_random_numbers_detect_a_small_paired_improvement():
    # a tiny, certain improvement hidden in a huge shared uncertainty: only paired runs see it
    m = ts.Model("toy", stop=5, dt=0.25, time_units="year")
    m.constant("inflow_rate", 100, range=(10, 1000), units="person/year", source="assumption: test")
    m.constant("exit_rate", 0.5, range=(0.5, 0.5), units="1/year", source="assumption: test", role="policy")
    m.stock(
        "in_exploitation", 0, inflows=["entering"], outflows=["leaving"], units="person", non_negative=True
    )
    m.flow("entering", "inflow_rate", units="person/year")
    m.flow("leaving", "in_exploitation * exit_rate", units="person/year")
    m.stock("cumulative_exploitation_years", 0, inflows=["accrual"], units="person*year")
    m.flow("accrual", "in_exploitation", units="person")
    m.scenario("baseline", {"exit_rate": 0.5})
    m.scenario("better", {"exit_rate": 0.51})
    # the model declares its indicators and its reference strategy, as the reference model does
    m.metadata["indicators"] = {
        "exploitation_final": {
            "label": "people at the end",
            "units": "person",
            "better": "lower",
            "value": "in_exploitation",
        },
        "exploitation_person_years": {
            "label": "person-years",
            "units": "person*year",
            "better": "lower",
            "value": "cumulative_exploitation_years",
        },
    }
    m.metadata["compare"] = {"reference": "baseline"}
    c = ts.compare(m, ["better"], metrics=["exploitation_final", "exploitation_person_years"], n=200, seed=1)
    assert c.prob_beats().loc["better", "baseline"] == 1.0
    spread = np.percentile(c.values["exploitation_person_years"]["baseline"], [5, 95])
    assert spread[1] > 10 * spread[0]
    assert (
        "better is best in every pairing, beating each other strategy in every one of the 200"
        in c.robustness()
    )


def test_not_robust_ranking_is_said_plainly():
    # two strategies that do the same thing: every paired run is a tie, so neither is robustly better
    m = ts.Model("coin", stop=1, dt=0.5, time_units="year")
    m.constant("luck", 1, range=(0, 2), units="person/year", source="assumption: test")
    m.stock("in_exploitation", 0, inflows=["arrivals"], units="person")
    m.flow("arrivals", "luck", units="person/year")
    m.scenario("baseline", {})
    m.scenario("same", {})
    final = Metric(
        "exploitation_final",
        "people at the end",
        "person",
        "lower",
        final_value("in_exploitation"),
        ("in_exploitation",),
    )
    c = ts.compare(m, ["same"], metrics=[final], reference="baseline", n=100, seed=2)
    assert c.prob_beats().loc["same", "baseline"] == 0.5
    assert "NOT robust" in c.robustness()


def test_drivers_find_the_deciding_constant(comp):
    d = comp.drivers("saviour_led", "survivor_led", top=None)
    assert list(d.columns) == ["spearman", "win_low_quarter", "win_high_quarter"]
    assert len(d) == comp.samples.shape[1]
    assert d["spearman"].abs().is_monotonic_decreasing


def test_display(comp):
    text = str(comp)
    for s in comp.strategies:
        assert s in text
    assert "P(row beats column)" in text and "Robustness" in text
    html = comp._repr_html_()
    assert "<table" in html
    ax = comp.plot()  # led by the paired differences against the reference
    assert ax.get_title().startswith(comp.metrics[comp.primary].label)
    assert f"against {comp.reference}" in ax.get_title().replace("\n", " ")
    assert comp.plot(kind="levels").get_title().startswith("exploitation person years")
    fig = comp.figure()
    assert len(fig.axes) >= 8
    assert isinstance(comp, Comparison) and comp.to_pandas().shape[0] == len(comp.metrics) * len(
        comp.strategies
    )


def test_errors_name_the_problem(reference_model):
    with pytest.raises(ModelError, match="no strategy 'survivor_lead'"):
        ts.compare(reference_model, ["survivor_lead"], n=5)
    with pytest.raises(ModelError, match="no metric"):
        ts.compare(reference_model, ["survivor_led"], metrics=["happiness"], n=5)


def test_cli_compare_prints_table_and_writes_figure(tmp_path, capsys):
    from trafficsys.cli import main

    png = tmp_path / "c.png"
    assert (
        main(
            [
                "compare",
                "--n",
                "40",
                "--seed",
                "2",
                "--figure",
                str(png),
                "--csv",
                str(tmp_path / "c.csv"),
                "--drivers",
                "saviour_led",
                "baseline",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "exploitation_person_years" in out and "survivor_led_state_accountable" in out
    assert "What decides whether saviour_led beats baseline" in out
    assert png.stat().st_size > 10_000
    assert (tmp_path / "c.csv").read_text().startswith("metric,strategy,median")


def test_paired_difference_matches_pairwise_probability(comp):
    pd_ = comp.paired_difference()
    p = comp.prob_beats()
    for s in ["saviour_led", "survivor_led", "state_accountable"]:
        assert pd_.loc[s, "share_improved"] == pytest.approx(p.loc[s, "baseline"])
        d = comp.values["exploitation_person_years"]["baseline"] - comp.values["exploitation_person_years"][s]
        assert pd_.loc[s, "improvement_median"] == pytest.approx(np.median(d))


def test_regions_plot_colours_the_futures_by_winner(comp):
    from trafficsys.plot.compare import plot_regions

    ax = plot_regions(comp, "saviour_led", "survivor_led")
    wins = np.mean(
        comp.values["exploitation_person_years"]["saviour_led"]
        < comp.values["exploitation_person_years"]["survivor_led"]
    )
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(f"saviour led better ({wins:.0%})" == lab for lab in labels)
    top2 = list(comp.drivers("saviour_led", "survivor_led", top=2).index)
    assert ax.get_xlabel() == top2[0] and ax.get_ylabel() == top2[1]
