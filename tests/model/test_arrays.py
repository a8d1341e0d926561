"""Arrays: flatten() expands arrayed variables to scalars that the engine runs."""

import pytest

import trafficsys as ts
from trafficsys.model.arrays import element_names, flatten, is_arrayed
from trafficsys.model.elements import Aux, Constant, Flow, Stock


def regional():
    m = ts.Model("regions", stop=4, dt=0.5, time_units="year")
    m.dimension("region", ["North", "South", "Coast"])
    m.dimension("sex", ["f", "m"])
    m.add(Constant("exit_rate", dimensions=("region",), value=0.1))
    m.add(
        Aux(
            "inflow_rate",
            dimensions=("region",),
            equation="5",
            per_element=(("south", "10"), ("coast", "2 * inflow_rate[north]")),
        )
    )
    m.add(
        Stock(
            "exploited",
            dimensions=("region",),
            initial="100",
            inflows=("recruit",),
            outflows=("exit",),
            non_negative=True,
        )
    )
    m.add(Flow("recruit", dimensions=("region",), equation="inflow_rate[region]"))
    m.add(Flow("exit", dimensions=("region",), equation="exit_rate * exploited"))
    m.aux("total", "SUM(exploited[*])")
    m.aux("mean_exit", "MEAN(exit[*])")
    m.aux("largest", "MAX(exploited[*])")
    m.aux("n_regions", "SIZE(exploited[*])")
    m.aux("north_share", "exploited[North] / total")
    m.aux("second", "exploited[2]")
    m.add(Aux("by_sex", dimensions=("region", "sex"), equation="exploited[region] / 2"))
    m.aux("women", "SUM(by_sex[*, f])")
    return m


def test_names_and_structure():
    flat = flatten(regional())
    assert not is_arrayed(flat) and flat.dimensions == {}
    assert element_names("x", ("region",), {"region": ("a", "b")}) == ["x[a]", "x[b]"]
    assert flat["exploited[south]"].inflows == ("recruit[south]",)
    assert flat["exploited[south]"].outflows == ("exit[south]",) and flat["exploited[south]"].non_negative
    assert flat["recruit[coast]"].equation == '"inflow_rate[coast]"'
    assert flat["exit[north]"].equation == '"exit_rate[north]" * "exploited[north]"'
    assert flat["inflow_rate[south]"].equation == "10"
    assert flat["inflow_rate[coast]"].equation == '2 * "inflow_rate[north]"'
    assert flat["total"].equation == '"exploited[north]" + "exploited[south]" + "exploited[coast]"'
    assert flat["n_regions"].equation == "3"
    assert flat["second"].equation == '"exploited[south]"'
    assert flat["women"].equation == '"by_sex[north,f]" + "by_sex[south,f]" + "by_sex[coast,f]"'
    assert flat["by_sex[coast,m]"].equation == '"exploited[coast]" / 2'
    assert isinstance(flat["exit_rate[coast]"], Constant) and flat["exit_rate[coast]"].value == 0.1
    flat.validate()


def test_scalar_model_is_returned_unchanged():
    m = ts.Model("s")
    m.constant("a", 1)
    assert flatten(m) is m


def test_flattened_model_simulates_like_hand_expanded_scalars():
    flat = flatten(regional())
    r = ts.simulate(flat).to_pandas()
    hand = ts.Model("hand", stop=4, dt=0.5, time_units="year")
    for reg, rate in (("north", "5"), ("south", "10"), ("coast", "10")):
        hand.stock(f"x_{reg}", 100, inflows=[f"in_{reg}"], outflows=[f"out_{reg}"], non_negative=True)
        hand.flow(f"in_{reg}", rate)
        hand.flow(f"out_{reg}", f"0.1 * x_{reg}")
    h = ts.simulate(hand).to_pandas()
    for reg in ("north", "south", "coast"):
        assert r[f"exploited[{reg}]"].to_numpy() == pytest.approx(h[f"x_{reg}"].to_numpy(), rel=1e-12)
    total = h["x_north"] + h["x_south"] + h["x_coast"]
    assert r["total"].to_numpy() == pytest.approx(total.to_numpy(), rel=1e-12)
    assert r["largest"].to_numpy() == pytest.approx(
        h[["x_north", "x_south", "x_coast"]].max(axis=1).to_numpy()
    )


def test_simulate_accepts_an_arrayed_model_directly():
    r = ts.simulate(regional()).to_pandas()
    assert "exploited[north]" in r.columns and "total" in r.columns


@pytest.mark.parametrize(
    "eqn, match",
    [
        ("exploited[west]", "neither an element"),
        ("exploited[north, f]", "1 dimension"),
        ("exploited[*]", "outside SUM"),
        ("exploited", "wrap it in SUM"),
        ("total[north]", "not arrayed"),
    ],
)
def test_bad_subscripts_name_the_variable_and_fix(eqn, match):
    m = regional()
    m.aux("bad", eqn)
    with pytest.raises(ts.ModelError, match=match) as info:
        flatten(m)
    assert info.value.variable == "bad"


def test_computed_index_is_unsupported():
    m = regional()
    m.aux("bad", "exploited[1 + 1]")
    with pytest.raises(ts.UnsupportedFeatureError, match="computed subscripts"):
        flatten(m)


def test_stddev_is_population_standard_deviation():
    m = ts.Model("sd", stop=1, dt=1)
    m.dimension("d", 4)
    m.add(
        Aux(
            "v", dimensions=("d",), equation="0", per_element=(("1", "1"), ("2", "2"), ("3", "3"), ("4", "4"))
        )
    )
    m.aux("sd", "STDDEV(v[*])")
    m.aux("avg", "MEAN(v[*])")
    r = ts.simulate(m).to_pandas()
    assert r["sd"].iloc[0] == pytest.approx((1.25) ** 0.5)
    assert r["avg"].iloc[0] == pytest.approx(2.5)
