"""Stepping a run by hand: without changes it equals simulate to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

import trafficsys as ts


def model():
    m = ts.Model("stepping", stop=12, dt=0.25, saveper=0.5)
    m.constant("rate", 0.3)
    m.constant("capacity", 500)
    m.stock("pop", initial=10, inflows=["births"], outflows=["deaths"], non_negative=True)
    m.flow("births", "rate * pop * (1 - pop / capacity)")
    m.flow("deaths", "SMTH1(pop, 2) * 0.05 + PULSE(20, 3, 4)")
    m.aux("seen", "DELAY3(pop, 1.5) + PREVIOUS(pop, 0)")
    return m


@pytest.mark.parametrize("method", ["euler", "rk4"])
@pytest.mark.parametrize("params", [None, {"rate": np.array([0.1, 0.3, 0.6])}])
def test_stepped_equals_simulate_bit_for_bit(method, params):
    m = model()
    full = ts.simulate(m, params=params, method=method)
    sim = ts.Simulation(m, params=params, method=method)
    for t in (0, 0.25, 1.1, 3, 3.0, 7.75, 11, 50):
        sim.step(until=t)
    r = sim.results
    for name in full.variables:
        assert np.array_equal(r[name].values, full[name].values), name
    assert np.array_equal(r.ledger["residual"].values, full.ledger["residual"].values)
    assert sim.done and sim.time == 12


def test_step_one_dt_at_a_time_and_state():
    m = model()
    full = ts.simulate(m)
    sim = ts.Simulation(m)
    assert sim.time == 0 and sim.state["pop"] == 10
    while not sim.done:
        sim.step()
    assert np.array_equal(sim.results["seen"].values, full["seen"].values)
    state = sim.state
    assert state["pop"] == full["pop"].values[-1, 0] and state["births"] == full["births"].values[-1, 0]


def test_set_changes_the_future_only():
    m = model()
    sim = ts.Simulation(m)
    sim.step(until=5)
    before = sim.results["pop"].values.copy()
    sim.set(rate=0.0)
    sim.step(until=12)
    r = sim.results
    assert np.array_equal(r["pop"].values[: len(before) - 1], before[:-1])
    # from t=5 on, births are zero: births saved at t=5 already use the new rate
    assert (r.to_pandas()["births"].loc[5:] == 0).all()
    # the same as a run whose rate switches at 5
    switched = ts.simulate(m, params={"rate": "IF TIME < 5 THEN 0.3 ELSE 0"})
    assert np.allclose(r["pop"].values, switched["pop"].values, rtol=1e-12)


def test_set_in_an_ensemble_and_errors():
    m = model()
    sim = ts.Simulation(m, params={"rate": np.array([0.1, 0.2])})
    sim.step(until=2)
    sim.set(rate=[0.5, 0.0])
    sim.step(until=4)
    assert sim.state["pop"].shape == (2,)
    with pytest.raises(ts.ModelError, match="only constants"):
        sim.set(pop=3)
    with pytest.raises(ts.ModelError, match="one per run"):
        sim.set(rate=[1, 2, 3])
    with pytest.raises(ts.ModelError, match="step back"):
        sim.step(until=1)


@pytest.mark.parametrize("stepped", [False, True])
def test_saved_values_are_writable_float_arrays(stepped):
    m = model()
    r = ts.Simulation(m).run() if stepped else ts.simulate(m)
    v = r["pop"].values
    assert v.dtype == np.float64 and v.flags.writeable and v.shape == (25, 1)
    v[0, 0] = -1.0  # the Dataset is the caller's to modify
    assert r["pop"].values[0, 0] == -1.0
