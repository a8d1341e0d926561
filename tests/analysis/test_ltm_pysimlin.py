"""Our Loops that Matter scores against an independent implementation: pysimlin (Simlin's engine).

Each model is written as XMILE for Simlin and built with our API for us.  Both
score the *same trajectory* (Simlin's own run), so any difference is in the
scoring, not in the integration.
"""

import numpy as np
import pytest
from support import TEST_MODELS

import trafficsys as ts
from trafficsys.analysis import loop_dominance

simlin = pytest.importorskip("simlin")


XMILE = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<header><vendor>trafficsys tests</vendor><product version="1">trafficsys</product></header>
<sim_specs method="Euler" time_units="year"><start>0</start><stop>{stop}</stop><dt>{dt}</dt></sim_specs>
<model><variables>
{variables}
</variables></model></xmile>
"""


def _xmile(tmp_path, name, variables, stop, dt):
    path = tmp_path / f"{name}.xmile"
    path.write_text(XMILE.format(variables=variables, stop=stop, dt=dt))
    return path


def _simlin_scores(path):
    model = simlin.load(str(path))
    with model.simulate(enable_ltm=True) as sim:
        sim.run_to_end()
        run = sim.get_run()
        links = {(lk.from_var, lk.to_var): lk.score for lk in sim.get_links() if lk.score is not None}
        loops = {}
        for lp in run.loops:
            loops[frozenset(lp.variables)] = (
                np.asarray(sim.get_loop_score(lp.id)),
                np.asarray(sim.get_relative_loop_score(lp.id)),
            )
        return run.results, links, loops


def _compare(m, path):
    results, links, loops = _simlin_scores(path)
    ours = loop_dominance(m, results)
    assert links, "pysimlin returned no link scores"
    for (a, b), score in links.items():
        mine = ours.link_scores.sel(link=f"{a} -> {b}").isel(run=0).values
        np.testing.assert_allclose(mine, score, rtol=1e-9, atol=1e-12, err_msg=f"link {a} -> {b}")
    assert len(loops) == len(ours.loops)
    for lp in ours.loops:
        raw, rel = loops[frozenset(lp.variables)]
        np.testing.assert_allclose(
            ours.loop_scores.sel(loop=lp.id).isel(run=0).values,
            raw,
            rtol=1e-9,
            atol=1e-12,
            err_msg=f"loop score {lp}",
        )
        np.testing.assert_allclose(
            ours.relative.sel(loop=lp.id).isel(run=0).values,
            rel,
            rtol=1e-9,
            atol=1e-12,
            err_msg=f"relative loop score {lp}",
        )
    return ours, len(links), len(loops)


def test_logistic_matches_pysimlin(tmp_path):
    path = _xmile(
        tmp_path,
        "logistic",
        """
<stock name="pop"><eqn>10</eqn><inflow>births</inflow><outflow>deaths</outflow></stock>
<flow name="births"><eqn>r * pop</eqn></flow>
<flow name="deaths"><eqn>r * pop * pop / K</eqn></flow>
<aux name="r"><eqn>0.5</eqn></aux>
<aux name="K"><eqn>1000</eqn></aux>""",
        stop=20,
        dt=0.25,
    )
    m = ts.Model("logistic", stop=20, dt=0.25)
    m.constant("r", 0.5)
    m.constant("K", 1000)
    m.stock("pop", 10, inflows=["births"], outflows=["deaths"])
    m.flow("births", "r * pop")
    m.flow("deaths", "r * pop * pop / K")
    ours, n_links, n_loops = _compare(m, path)
    assert (n_links, n_loops) == (4, 2)
    assert {lp.polarity for lp in ours.loops} == {"R", "B"}


def test_damped_oscillator_matches_pysimlin(tmp_path):
    # two stocks, a major loop through both (position <-> velocity) and a minor damping loop
    path = _xmile(
        tmp_path,
        "oscillator",
        """
<stock name="position"><eqn>1</eqn><inflow>moving</inflow></stock>
<stock name="velocity"><eqn>0</eqn><inflow>accelerating</inflow></stock>
<flow name="moving"><eqn>velocity</eqn></flow>
<flow name="accelerating"><eqn>-(stiffness * position) - damping * velocity</eqn></flow>
<aux name="stiffness"><eqn>4</eqn></aux>
<aux name="damping"><eqn>0.4</eqn></aux>""",
        stop=10,
        dt=0.03125,
    )
    m = ts.Model("oscillator", stop=10, dt=0.03125)
    m.constant("stiffness", 4)
    m.constant("damping", 0.4)
    m.stock("position", 1, inflows=["moving"])
    m.stock("velocity", 0, inflows=["accelerating"])
    m.flow("moving", "velocity")
    m.flow("accelerating", "-(stiffness * position) - damping * velocity")
    ours, n_links, n_loops = _compare(m, path)
    assert (n_links, n_loops) == (5, 2)
    assert [lp.polarity for lp in ours.loops] == ["B", "B"]


def test_split_flows_match_pysimlin(tmp_path):
    # a stock with three flows, one of them a constant: the 2023 rule divides by the change of the net flow
    path = _xmile(
        tmp_path,
        "workforce",
        """
<stock name="staff"><eqn>50</eqn><inflow>hiring</inflow><outflow>quitting</outflow><outflow>retiring</outflow></stock>
<flow name="hiring"><eqn>(target - staff) / hiring_time + quitting</eqn></flow>
<flow name="quitting"><eqn>staff * quit_rate * (1 + 0.5 * SIN(TIME))</eqn></flow>
<flow name="retiring"><eqn>2</eqn></flow>
<aux name="target"><eqn>120</eqn></aux>
<aux name="hiring_time"><eqn>3</eqn></aux>
<aux name="quit_rate"><eqn>0.1</eqn></aux>""",
        stop=12,
        dt=0.125,
    )
    m = ts.Model("workforce", stop=12, dt=0.125)
    for name, value in (("target", 120), ("hiring_time", 3), ("quit_rate", 0.1)):
        m.constant(name, value)
    m.stock("staff", 50, inflows=["hiring"], outflows=["quitting", "retiring"])
    m.flow("hiring", "(target - staff) / hiring_time + quitting")
    m.flow("quitting", "staff * quit_rate * (1 + 0.5 * SIN(TIME))")
    m.flow("retiring", "2")
    ours, n_links, n_loops = _compare(m, path)
    assert n_loops == 3


def test_teacup_from_testdata_matches_pysimlin():
    path = TEST_MODELS / "samples" / "teacup" / "teacup.xmile"
    try:
        m = ts.load(path)
    except (ImportError, AttributeError):  # XMILE reader not available: the same model by hand
        m = ts.Model("teacup", stop=30, dt=0.125)
        m.constant("Room Temperature", 70)
        m.constant("Characteristic Time", 10)
        m.stock("Teacup Temperature", 180, outflows=["Heat Loss to Room"])
        m.flow("Heat Loss to Room", '("Teacup Temperature" - "Room Temperature") / "Characteristic Time"')
    ours, n_links, n_loops = _compare(m, path)
    assert (n_links, n_loops) == (2, 1)
    (loop,) = ours.loops
    assert loop.polarity == "B" and not loop.competing
    np.testing.assert_allclose(ours.relative.isel(run=0).values[1:, 0], -1.0)


def test_models_written_by_our_xmile_writer_score_the_same(tmp_path):
    """End to end: our model -> ts.save(.xmile) -> Simlin scores == our scores on Simlin's trajectory."""
    m = ts.Model("predator_prey", stop=20, dt=0.0625)
    for name, value in (
        ("prey_birth", 1.0),
        ("predation", 0.02),
        ("conversion", 0.01),
        ("predator_death", 0.6),
        ("prey_capacity", 400),
    ):
        m.constant(name, value)
    m.stock("prey", 80, inflows=["prey_births"], outflows=["prey_eaten"])
    m.stock("predators", 20, inflows=["predator_births"], outflows=["predator_deaths"])
    m.flow("prey_births", "prey_birth * prey * (1 - prey / prey_capacity)")
    m.flow("prey_eaten", "predation * prey * predators")
    m.flow("predator_births", "conversion * prey * predators")
    m.flow("predator_deaths", "predator_death * predators")
    path = tmp_path / "predator_prey.xmile"
    ts.save(m, path)
    ours, n_links, n_loops = _compare(m, path)
    assert n_loops == len(ours.loops) >= 5 and len(ours.partitions) == 1
    assert {lp.polarity for lp in ours.loops} == {"R", "B"}


def test_nonlinear_functions_match_pysimlin(tmp_path):
    """A graphical function, MIN and IF in the loops: the ceteris-paribus partials are nonlinear."""
    path = _xmile(
        tmp_path,
        "market",
        """
<stock name="customers"><eqn>20</eqn><inflow>adoption</inflow><outflow>churn</outflow></stock>
<flow name="adoption"><eqn>MIN(contacts * effect, capacity)</eqn></flow>
<flow name="churn"><eqn>IF customers > 300 THEN customers * 0.2 ELSE customers * 0.05</eqn></flow>
<aux name="contacts"><eqn>customers * 0.6</eqn></aux>
<aux name="saturation"><eqn>customers / 1000</eqn></aux>
<aux name="effect"><eqn>saturation</eqn>
  <gf><xscale min="0" max="1"/><yscale min="0" max="1"/><ypts>1,0.9,0.6,0.3,0.1,0</ypts></gf></aux>
<aux name="capacity"><eqn>80</eqn></aux>""",
        stop=20,
        dt=0.125,
    )
    m = ts.Model("market", stop=20, dt=0.125)
    m.constant("capacity", 80)
    m.stock("customers", 20, inflows=["adoption"], outflows=["churn"])
    m.flow("adoption", "MIN(contacts * effect, capacity)")
    m.flow("churn", "IF customers > 300 THEN customers * 0.2 ELSE customers * 0.05")
    m.aux("contacts", "customers * 0.6")
    m.aux("saturation", "customers / 1000")
    m.lookup("effect", [(0, 1), (0.2, 0.9), (0.4, 0.6), (0.6, 0.3), (0.8, 0.1), (1, 0)], input="saturation")
    ours, n_links, n_loops = _compare(m, path)
    assert n_loops == 3 and {lp.polarity for lp in ours.loops} == {"R", "B"}
