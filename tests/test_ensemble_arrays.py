"""Arrayed constants with a range in every ensemble: monte_carlo, compare, sensitivity, calibrate.

A subscripted constant with a range is sampled element by element (each
element its own uncertain input), or as one number per run for every element
when the model says ``sample = "as_one"``.
"""

import dataclasses

import numpy as np
import pandas as pd
import pytest

import trafficsys as ts
from trafficsys.model.elements import Constant, Flow, Stock


def arrayed(sample: str = "per_element") -> ts.Model:
    m = ts.Model("regions", start=0, stop=5, dt=0.25, time_units="year")
    m.dimension("region", ["north", "south"])
    m.add(
        Constant(
            "exit_rate",
            dimensions=("region",),
            value=0.2,
            range=(0.1, 0.4),
            units="1/year",
            per_element=(("south", "0.3"),),
            sample=sample,
        )
    )
    m.constant("inflow", 10, range=(5, 15), units="person/year")
    m.add(
        Stock(
            "exploited",
            dimensions=("region",),
            initial="100",
            inflows=("recruit",),
            outflows=("exit",),
            units="person",
            non_negative=True,
        )
    )
    m.add(Flow("recruit", dimensions=("region",), equation="inflow", units="person/year"))
    m.add(Flow("exit", dimensions=("region",), equation="exit_rate * exploited", units="person/year"))
    m.aux("total", "SUM(exploited[*])", units="person")
    m.scenario("less_inflow", {"inflow": 6})
    m.scenario("more_inflow", {"inflow": 14})
    return m


def test_monte_carlo_samples_each_element_of_an_arrayed_constant():
    mc = ts.monte_carlo(arrayed(), n=40, seed=1)
    north, south = mc.ds["exit_rate[north]"].values, mc.ds["exit_rate[south]"].values
    assert north.shape == (40,) and np.ptp(north) > 0 and np.ptp(south) > 0
    assert not np.array_equal(north, south)  # independent draws
    assert (north >= 0.1).all() and (north <= 0.4).all()
    # each run used its own draw: exploited[north] decays at its own rate
    assert np.corrcoef(north, mc.ds["exploited[north]"].values[-1])[0, 1] < -0.9


def test_monte_carlo_samples_an_arrayed_constant_as_one_when_the_model_says_so():
    mc = ts.monte_carlo(arrayed("as_one"), n=30, seed=2)
    north, south = mc.ds["exit_rate[north]"].values, mc.ds["exit_rate[south]"].values
    np.testing.assert_array_equal(north, south)
    assert np.ptp(north) > 0


def test_compare_samples_arrayed_constants():
    c = ts.compare(
        arrayed(),
        ["less_inflow", "more_inflow"],
        metrics=[
            ts.scenarios.metrics.Metric(
                "total",
                "people exploited at the end",
                "person",
                "lower",
                ts.scenarios.metrics.final_value("total"),
                ("total",),
            )
        ],
        n=20,
        seed=1,
        trajectories=(),
    )
    assert set(c.samples.columns) == {"exit_rate[north]", "exit_rate[south]"}  # the strategies set inflow
    assert c.samples["exit_rate[north]"].std() > 0
    assert c.values["total"]["more_inflow"].shape == (20,)


def test_sensitivity_varies_each_element():
    res = ts.sensitivity(arrayed(), "total", "morris", seed=1, trajectories=6)
    assert {"exit_rate[north]", "exit_rate[south]", "inflow"} == set(res.table.index)
    el = ts.sensitivity(arrayed(), "total", "elasticity")
    assert {"exit_rate[north]", "exit_rate[south]"} <= set(el.table.index)
    assert el.table.loc["exit_rate[north]", "elasticity"] < 0


def test_sensitivity_varies_an_as_one_constant_as_one_input():
    res = ts.sensitivity(arrayed("as_one"), "total", "morris", seed=1, trajectories=6)
    assert set(res.table.index) == {"exit_rate", "inflow"}


def test_calibrate_fits_each_element_of_an_arrayed_constant():
    m = arrayed()
    truth = m.copy()
    truth.add(
        dataclasses.replace(m["exit_rate"], per_element=(("north", "0.15"), ("south", "0.35"))), replace=True
    )
    r = ts.simulate(truth)
    data = pd.DataFrame(
        {
            "exploited[north]": r.ds["exploited[north]"].values[:, 0],
            "exploited[south]": r.ds["exploited[south]"].values[:, 0],
        },
        index=r.ds["time"].values,
    )
    fit = ts.calibrate(m, data, params=["exit_rate"])
    assert fit.values["exit_rate[north]"] == pytest.approx(0.15, rel=1e-4)
    assert fit.values["exit_rate[south]"] == pytest.approx(0.35, rel=1e-4)
    again = ts.simulate(fit.model)
    np.testing.assert_allclose(again.ds["exploited[south]"].values[:, 0], data["exploited[south]"], rtol=1e-6)
