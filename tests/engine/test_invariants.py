"""Loop invariants (equations of constants only) are computed once per run, with the same bits as every step."""

from __future__ import annotations

import numpy as np
import pytest

import trafficsys as ts
from trafficsys.engine import compile_model


def model():
    m = ts.Model("invariants", stop=12, dt=0.25, saveper=0.5)
    m.constant("rate", 0.3)
    m.constant("capacity", 500)
    m.constant("drain", 40)
    m.constant("zero", 0)
    m.aux("headroom", "capacity * (1 - rate) / 2")  # constants only: before the loop
    m.stock("pop", initial=10, inflows=["births"], outflows=["deaths"], non_negative=True)
    m.flow("births", "rate * pop * (1 - pop / headroom) + EXP(-rate) * 2")  # invariant parts inside
    m.flow("deaths", "drain")  # invariant, and rescaled when it would empty the stock
    m.stock("tank", initial=3, outflows=["leak"], non_negative=True)
    m.flow("leak", "drain / 4", non_negative=True)  # empties the tank: limited at every step after
    # the division is in a branch never taken: hoisting must not evaluate it
    m.aux("guarded", "IF zero > 0 THEN 1 / zero ELSE pop")
    return m


def unhoisted():
    """The same equations with every constant read through TIME, so that nothing is invariant."""
    m = model().copy()
    for name, eq in [
        ("headroom", "capacity * (1 - rate) / 2 + 0 * TIME"),
        ("births", "rate * pop * (1 - pop / headroom) + EXP(-rate + 0 * TIME) * 2"),
        ("deaths", "drain + 0 * TIME"),
        ("leak", "drain / 4 + 0 * TIME"),
    ]:
        e = m[name]
        m.remove(name)
        if name == "headroom":
            m.aux(name, eq)
        else:
            m.flow(name, eq, non_negative=e.non_negative)
    return m


def test_invariants_are_computed_before_the_loop():
    src = compile_model(model()).source("euler", "scalar")
    before, loop = src.split("def _run", 1)[1].split("while True:", 1)
    cm = compile_model(model())
    ids = {n: f"v{i}" for i, n in enumerate(cm.plan.nodes)}
    assert f"{ids['headroom']} = " in before and f"{ids['headroom']} = " not in loop
    assert "_exp(" in before and "_exp(" not in loop  # EXP(-rate) inside births
    assert f"1.0 / {ids['zero']}" not in before  # guarded by the IF


@pytest.mark.parametrize("method", ["euler", "rk4"])
@pytest.mark.parametrize("params", [None, {"rate": np.array([0.1, 0.3, 0.6])}])
def test_hoisted_run_equals_the_step_by_step_equations_bit_for_bit(method, params):
    r = ts.simulate(model(), params=params, method=method)
    u = ts.simulate(unhoisted(), params=params, method=method)
    assert (r["leak"].values[1:] < 0.75).all()  # the limit is active
    for name in r.variables:
        assert np.array_equal(r[name].values, u[name].values), name
    assert np.array_equal(r.ledger["residual"].values, u.ledger["residual"].values)


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_set_between_steps_reaches_the_invariants(method):
    sim = ts.Simulation(model(), method=method)
    sim.step(until=5)
    sim.set(rate=0.6, capacity=800, drain=10)
    sim.step(until=12)
    r = sim.results
    # the same change as a time-varying scenario override: the constants become equations
    switched = ts.simulate(
        model(),
        method=method,
        params={
            "rate": "IF TIME < 5 THEN 0.3 ELSE 0.6",
            "capacity": "IF TIME < 5 THEN 500 ELSE 800",
            "drain": "IF TIME < 5 THEN 40 ELSE 10",
        },
    )
    for name in r.variables:
        assert np.array_equal(r[name].values, switched[name].values), name
    assert sim.state["headroom"] == 800 * (1 - 0.6) / 2


def test_stepping_equals_simulate_with_invariants():
    full = ts.simulate(model())
    sim = ts.Simulation(model())
    while not sim.done:
        sim.step()
    for name in full.variables:
        assert np.array_equal(sim.results[name].values, full[name].values), name
