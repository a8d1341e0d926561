"""Loop dominance (Loops that Matter) against closed-form answers.

The trajectories fed to ``loop_dominance`` are the exact solutions, sampled
every DT, so the tests check the scoring, not an integrator.
"""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import trafficsys as ts
from trafficsys.analysis import loop_dominance
from trafficsys.errors import ModelError

R, K, P0 = 0.5, 1000.0, 10.0


def logistic_model(dt=0.0625, stop=20):
    m = ts.Model("logistic", stop=stop, dt=dt)
    m.constant("r", R, range=(0.3, 0.9))
    m.constant("k", K)
    m.stock("pop", P0, inflows=["births"], outflows=["deaths"])
    m.flow("births", "r * pop")
    m.flow("deaths", "r * pop * pop / k")
    return m


def logistic_exact(m, r=R):
    t = np.arange(0, m.stop + m.dt / 2, m.dt)
    pop = K / (1 + (K / P0 - 1) * np.exp(-r * t))
    return pd.DataFrame({"pop": pop, "births": r * pop, "deaths": r * pop**2 / K, "r": r, "k": K},
                        index=pd.Index(t, name="time"))


def test_logistic_switches_from_r_to_b_at_the_inflection():
    m = logistic_model()
    d = loop_dominance(m, logistic_exact(m))
    assert [(lp.id, lp.polarity) for lp in d.loops] == [("R1", "R"), ("B1", "B")]
    assert all(lp.competing for lp in d.loops)
    iv = d.intervals()
    assert list(iv["loop"]) == ["R1", "B1"]
    # the score labelled t describes the step [t - dt, t]: its midpoint is the first past the inflection
    t_switch = iv["start"].iloc[1] - m.dt / 2
    t_star = np.log(K / P0 - 1) / R  # pop = K/2
    assert abs(t_switch - t_star) <= m.dt, (t_switch, t_star)
    assert iv["start"].iloc[0] == m.dt and iv["end"].iloc[1] == m.stop
    # relative scores: R share = 1 / (1 + (p_t + p_{t-dt}) / K) on the exact trajectory
    pop = logistic_exact(m)["pop"].values
    expected = 1 / (1 + (pop[1:] + pop[:-1]) / K)
    np.testing.assert_allclose(d.relative.sel(loop="R1").isel(run=0).values[1:], expected, rtol=1e-9)
    np.testing.assert_allclose(d.relative.sel(loop="B1").isel(run=0).values[1:], expected - 1, rtol=1e-9)


def test_goal_seeking_single_b_loop_has_relative_score_one():
    m = ts.Model("goal", stop=10, dt=0.125)
    m.constant("goal", 100)
    m.constant("adjustment_time", 2)
    m.stock("level", 20, inflows=["adjusting"])
    m.flow("adjusting", "(goal - level) / adjustment_time")
    t = np.arange(0, 10 + 1e-9, 0.125)
    level = 100 - 80 * np.exp(-t / 2)
    d = loop_dominance(m, pd.DataFrame({"level": level, "adjusting": (100 - level) / 2}, index=t))
    (loop,) = d.loops
    assert loop.polarity == "B" and not loop.competing
    rel = d.relative.isel(run=0, loop=0).values
    assert rel[0] == 0  # no previous value at the start
    np.testing.assert_allclose(rel[1:], -1.0)
    np.testing.assert_allclose(np.abs(rel[1:]), 1.0)
    # a loop alone in its partition does not crowd the interval table
    assert d.intervals().empty and len(d.intervals(include_alone=True)) == 1
    assert d.shares().empty


def oscillator_model(stiffness, damping, dt):
    m = ts.Model("oscillator", stop=12, dt=dt)
    m.constant("stiffness", stiffness)
    m.constant("damping", damping)
    m.stock("position", 1, inflows=["moving"])
    m.stock("velocity", 0, inflows=["accelerating"])
    m.flow("moving", "velocity")
    m.flow("accelerating", "-(stiffness * position) - damping * velocity")
    return m


def test_damped_oscillator_alternates_as_its_eigenvalues_predict():
    k, c, dt = 4.0, 0.4, 1 / 256
    m = oscillator_model(k, c, dt)
    lam = np.linalg.eigvals(np.array([[0, 1], [-k, -c]]))
    sigma, omega = -lam.real.max(), np.abs(lam.imag).max()
    t = np.arange(0, m.stop + dt / 2, dt)
    x = np.exp(-sigma * t) * (np.cos(omega * t) + sigma / omega * np.sin(omega * t))
    v = -np.exp(-sigma * t) * (omega + sigma**2 / omega) * np.sin(omega * t)
    a = -k * x - c * v
    df = pd.DataFrame({"position": x, "velocity": v, "moving": v, "accelerating": a}, index=t)
    d = loop_dominance(m, df)
    assert len(d.partitions) == 1 and d.partitions[0] == ("position", "velocity")
    minor = next(lp for lp in d.loops if len(lp.variables) == 2)
    major = next(lp for lp in d.loops if len(lp.variables) == 4)
    assert minor.polarity == major.polarity == "B"
    iv = d.intervals()
    assert set(iv["loop"]) == {minor.id, major.id}
    # the damping loop takes over whenever |c * acceleration| > |k * velocity|: once per half period
    takeovers = iv.loc[iv["loop"] == minor.id, "start"].values[1:]
    np.testing.assert_allclose(np.diff(takeovers), np.pi / omega, atol=2 * dt)
    assert len(iv) == pytest.approx(2 * m.stop / (np.pi / omega), abs=2)
    # every switch sits on a root of c|a| - k|v| of the exact solution, within one DT
    f = c * np.abs(a) - k * np.abs(v)
    roots = t[1:][np.sign(f[1:]) != np.sign(f[:-1])]
    for s in iv["start"].values[1:]:
        assert np.min(np.abs(roots - s)) <= dt


def test_ensemble_matches_single_runs_and_summarises_shares():
    m = logistic_model(dt=0.125)
    rates = np.array([0.3, 0.5, 0.7, 0.9])
    frames = [logistic_exact(m, r) for r in rates]
    ds = xr.concat([xr.Dataset.from_dataframe(f) for f in frames], dim=pd.Index(np.arange(4), name="run"))
    ens = loop_dominance(m, ds)
    for i, f in enumerate(frames):
        single = loop_dominance(m, f)
        np.testing.assert_allclose(ens.relative.isel(run=i).sel(loop=["R1", "B1"]).values,
                                   single.relative.isel(run=0).sel(loop=["R1", "B1"]).values)
        assert ens.intervals(run=i).equals(single.intervals())
        t_switch = single.intervals()["start"].iloc[1] - m.dt / 2
        assert abs(t_switch - np.log(K / P0 - 1) / rates[i]) <= m.dt
    # share of runs where B dominates, per time: 0 at the start, 1 at the end, never decreasing
    per_time = ens.shares(window=0)
    assert per_time["B1"].iloc[1] == 0 and per_time["B1"].iloc[-1] == 1
    assert np.all(np.diff(per_time["B1"].values) >= 0)
    windows = ens.shares(window=2.0)
    assert len(windows) == 11 and set(np.round(windows["B1"].values * 4)) <= {0, 1, 2, 3, 4}
    np.testing.assert_allclose(windows["R1"] + windows["B1"], 1.0)
    # a faster growth rate makes the balancing loop dominate for longer
    drivers = ens.drivers({"r": rates})
    assert drivers.loc["r", "B1"] == pytest.approx(1.0) and drivers.loc["r", "R1"] == pytest.approx(-1.0)
    table = ens.to_pandas()
    assert list(table.columns) == ["time", "run", "loop", "polarity", "partition", "competing", "score",
                                   "relative", "dominant"]
    assert len(table) == 4 * 2 * len(frames[0])


def test_aggregated_and_split_flows_give_the_same_scores():
    """The 2023 flow-to-stock rule: splitting a net flow into two flows changes nothing."""
    split = logistic_model()
    net = ts.Model("net", stop=20, dt=0.0625)
    net.constant("r", R)
    net.constant("k", K)
    net.stock("pop", P0, inflows=["net_growth"])
    net.aux("births", "r * pop")
    net.aux("deaths", "r * pop * pop / k")
    net.flow("net_growth", "births - deaths")
    df = logistic_exact(split)
    a = loop_dominance(split, df)
    b = loop_dominance(net, df.assign(net_growth=df["births"] - df["deaths"]))
    for lp in a.loops:
        other = next(q for q in b.loops if set(lp.variables) <= set(q.variables))
        np.testing.assert_allclose(a.relative.sel(loop=lp.id).values, b.relative.sel(loop=other.id).values,
                                   atol=1e-9)


def test_zero_change_scores_zero_without_division_warnings():
    m = logistic_model(dt=1)
    df = pd.DataFrame({"pop": 100.0, "births": 50.0, "deaths": 50.0, "r": R, "k": K}, index=np.arange(5.0))
    with np.errstate(all="raise"):
        d = loop_dominance(m, df)
    assert np.all(d.relative.values == 0) and np.all(d.link_scores.values == 0)
    assert (d.dominant.values == "").all() and d.intervals().empty


def test_errors_name_the_variable_and_the_fix():
    m = logistic_model()
    with pytest.raises(ModelError, match="deaths.*results do not hold"):
        loop_dominance(m, logistic_exact(m).drop(columns=["deaths"]))
    with pytest.raises(ModelError, match="does not depend on"):
        loop_dominance(m, logistic_exact(m), loops=[["pop", "r"]])
    with pytest.raises(ModelError, match="more than 1 feedback loops"):
        loop_dominance(m, logistic_exact(m), max_loops=1)


def test_partitions_keep_separate_subsystems_apart():
    m = logistic_model(dt=0.125)
    m.constant("goal", 10)
    m.stock("other", 0, inflows=["closing"])
    m.flow("closing", "(goal - other) / 2")
    df = logistic_exact(m)
    df["other"] = 10 - 10 * np.exp(-df.index.values / 2)
    df["closing"] = (10 - df["other"]) / 2
    d = loop_dominance(m, df)
    assert [p for p in d.partitions] == [("pop",), ("other",)]
    assert [lp.competing for lp in d.loops] == [True, True, False]  # competing first, the lone loop last
    np.testing.assert_allclose(d.relative.sel(loop=d.loops[2].id).values[1:], -1.0)
    assert list(d.ranking()["loop"])[-1] == d.loops[2].id
    assert set(d.intervals()["loop"]) == {"R1", "B1"}
