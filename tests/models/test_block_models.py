"""The planted-block test models of ``models/blocks/``: each plant shows its block, each twin does not.

These tests are about the *models*, not about a detector: they check that every
file listed in ``models/blocks/index.json`` loads, validates and runs, carries
the metadata the index states, declares its constants properly (units, range,
an assumption as source), keeps its people non-negative, and -- the point --
that the planted mechanism is behaviourally strong in the plant and absent in
its twin, measured from plain runs and sweeps of the levers over common
sampled futures.  ``find_blocks`` is then expected to report the planted kind
for a plant and not for its twin (that is the detector's test).
"""

from __future__ import annotations

import functools
import json

import networkx as nx
import numpy as np
import pytest
from support import REPO

import trafficsys as ts
from trafficsys.analysis import confirm_polarities
from trafficsys.cld.diagram import role_tags
from trafficsys.model.elements import Kind
from trafficsys.model.names import canonical

FOLDER = REPO / "models" / "blocks"
INDEX = json.loads((FOLDER / "index.json").read_text(encoding="utf-8"))["models"]
ENTRIES = {e["file"]: e for e in INDEX}
PLANTS = [e for e in INDEX if e["planted"] != "none"]
KINDS = (
    "capacity_ceiling",
    "policy_resistance",
    "delay_attrition",
    "congestion",
    "burden_shift",
    "eroded_cooperation",
    "missing_accountability",
    "disconnected_lever",
)
N_FUTURES = 48  # sampled futures per sweep: enough to see "most futures", cheap on two cores


def pairs(family: str, mechanism: str | None = None) -> list[pytest.param]:
    """(plant entry, twin entry) for every pair of a family (and probe mechanism), with the plant's file as the id."""
    return [
        pytest.param(e, ENTRIES[e["twin"]], id=e["file"])
        for e in PLANTS
        if e["family"] == family and e["probe"].get("mechanism") == mechanism
    ]


@functools.cache
def load(file: str) -> ts.Model:
    return ts.load(FOLDER / file)


@functools.cache
def run(file: str) -> ts.Results:
    return ts.simulate(load(file))


def futures(m: ts.Model, n: int = N_FUTURES, seed: int = 1) -> dict[str, np.ndarray]:
    """``n`` futures: every ranged constant drawn uniformly over its range (common random numbers)."""
    rng = np.random.default_rng(seed)
    return {
        canonical(c.name): rng.uniform(*c.range, n)
        for c in m.constants
        if c.range and c.range[1] > c.range[0]
    }


def final(m: ts.Model, var: str, params: dict | None = None, scenario=None) -> np.ndarray:
    """``var`` at the end of the run, one value per run."""
    r = ts.simulate(m, params=params, scenario=scenario)
    return np.atleast_1d(r.ds[var].isel(time=-1).values).astype(float)


def at(params: dict[str, np.ndarray], **fixed: float) -> dict[str, np.ndarray]:
    """The futures with some constants fixed to one value in every run."""
    n = len(next(iter(params.values())))
    return {**params, **{k: np.full(n, float(v)) for k, v in fixed.items()}}


def lever_range(m: ts.Model, lever: str) -> tuple[float, float]:
    return tuple(float(x) for x in m[lever].range)


def elasticity(m: ts.Model, target: str, lever: str, params: dict | None = None, scenario=None) -> np.ndarray:
    """Arc elasticity of the target over the lever's whole range: d ln target / d ln lever."""
    lo, hi = lever_range(m, lever)
    params = params if params is not None else {}
    n = len(next(iter(params.values()))) if params else 1
    both = {k: np.concatenate([v, v]) for k, v in params.items()}
    both[lever] = np.concatenate([np.full(n, lo), np.full(n, hi)])
    y = final(m, target, both, scenario)
    return np.log(y[n:] / y[:n]) / np.log(hi / lo)


# ====================================================================== every file
def test_the_index_covers_every_kind_and_every_file():
    families = {e["family"] for e in PLANTS}
    assert families == set(KINDS)
    on_disk = {p.name for p in FOLDER.iterdir() if p.suffix in (".toml", ".xmile") and p.name != "index.json"}
    assert on_disk == set(ENTRIES)
    for e in PLANTS:
        assert e["planted"] == e["family"]
        assert ENTRIES[e["twin"]]["planted"] == "none" and ENTRIES[e["twin"]]["plant"] == e["file"]
    neutral = [e for e in PLANTS if e["names"] == "neutral"]
    assert len([e for e in neutral if e["format"] == "xmile"]) >= 3, (
        "hand-written XMILE with non-domain names"
    )


@pytest.mark.parametrize("entry", INDEX, ids=[e["file"] for e in INDEX])
def test_file_loads_validates_and_carries_the_index_metadata(entry):
    m = load(entry["file"])
    assert m.validate() == [], "synthetic test models are fully declared: no validation warnings"
    for key in ("target", "planted", "planted_variables", "levers"):
        assert m.metadata[key] == entry[key], key
    target = m[entry["target"]]
    assert target.kind is Kind.STOCK, "the target is an accumulated outcome"
    assert not target.outflows, "the target only accumulates"
    for v in entry["planted_variables"]:
        assert v in m, v
    assert sorted(entry["levers"]) == sorted(
        canonical(c.name) for c in m.constants if "policy" in role_tags(c.role)
    )
    for c in m.constants:
        assert c.units, c.name
        assert c.range and c.range[0] <= c.value <= c.range[1], c.name
        assert c.source.startswith("assumption:"), c.name
    probe = entry["probe"]
    named = (
        [v for k, v in probe.items() if isinstance(v, str) and k != "mechanism"]
        + probe.get("exits", [])
        + list(probe.get("cut", {}))
        + list(probe.get("roles", {}).values())
    )
    for v in named:
        assert v in m, v


@pytest.mark.parametrize("entry", INDEX, ids=[e["file"] for e in INDEX])
def test_file_runs_and_people_stay_non_negative(entry):
    m = load(entry["file"])
    r = ts.simulate(m, params=futures(m, n=16, seed=3))
    for s in m.stocks:
        if s.non_negative:
            assert float(r.ds[canonical(s.name)].min()) >= -1e-9, s.name
    assert r.conservation_error() < 1e-9
    y = r.ds[entry["target"]].isel(time=-1).values
    assert np.all(np.isfinite(y)) and np.all(y > 0), "the target accumulates something in every future"


@pytest.mark.parametrize("plant", PLANTS, ids=[e["file"] for e in PLANTS])
def test_twin_has_the_same_variables_and_differs_in_an_equation(plant):
    a, b = load(plant["file"]), load(plant["twin"])
    assert [e.name for e in a] == [e.name for e in b]
    assert [e.kind for e in a] == [e.kind for e in b]
    assert a != b
    ta, tb = run(plant["file"]), run(plant["twin"])
    assert not np.allclose(ta.ds[plant["target"]].values, tb.ds[plant["target"]].values)


# ====================================================================== each kind
@pytest.mark.parametrize("plant, twin", pairs("capacity_ceiling"))
def test_capacity_ceiling_binds_in_the_plant_and_not_in_the_twin(plant, twin):
    p = plant["probe"]
    m, t = load(plant["file"]), load(twin["file"])
    params = futures(m)
    r = ts.simulate(m, params=params)
    demand = r.ds[p["demand"]].values  # time x run
    capacity = np.asarray(r.ds[p["capacity"]].values)
    binding = (capacity[None, :] < demand).mean(axis=0)
    assert np.all(binding > 0.5), "the capacity is the smaller argument of the MIN for most of the run"
    assert np.median(binding) > 0.9
    np.testing.assert_allclose(r.ds[p["constraint"]].values, np.minimum(demand, capacity[None, :]))

    def gain(model, var, factor=1.1):
        base = final(model, plant["target"], params)
        more = final(model, plant["target"], {**params, var: params[var] * factor})
        return np.median(more / base - 1)

    # plant: more capacity pays almost one for one, more upstream effort pays nothing
    assert gain(m, p["capacity"]) > 0.08
    assert abs(gain(m, p["upstream_lever"])) < 0.005
    # twin: the capacity does not matter, the upstream lever does
    tr = ts.simulate(t, params=params)
    np.testing.assert_allclose(tr.ds[p["constraint"]].values, tr.ds[p["demand"]].values)
    assert abs(gain(t, p["capacity"])) < 1e-9
    assert gain(t, p["upstream_lever"]) > 0.08


@pytest.mark.parametrize("plant, twin", pairs("capacity_ceiling", "saturating_form"))
def test_a_saturating_form_runs_on_its_plateau_in_the_plant_and_not_in_the_twin(plant, twin):
    p = plant["probe"]
    m, t = load(plant["file"]), load(twin["file"])
    params = futures(m)
    r = ts.simulate(m, params=params)
    q = r.ds[p["queue"]].values  # time x run
    half = np.asarray(r.ds[p["half_load"]].values)[None, :]
    # elasticity of q / (q + k) to q is k / (q + k): the form is on its plateau where that is below 0.2
    on_plateau = (half / (q + half) < 0.2).mean(axis=0)
    assert np.all(on_plateau > 0.5) and np.median(on_plateau) > 0.9

    def gain(model, var, factor=1.1):
        base = final(model, plant["target"], params)
        more = final(model, plant["target"], {**params, var: params[var] * factor})
        return np.median(more / base - 1)

    # plant: a higher plateau pays almost one for one, more upstream effort very little
    assert gain(m, p["plateau"]) > 0.08
    assert abs(gain(m, p["upstream_lever"])) < 0.02
    # twin: proportional to the queue, so the upstream lever pays and the plateau constant barely matters
    assert gain(t, p["upstream_lever"]) > 0.08
    assert abs(gain(t, p["plateau"])) < 0.02


@pytest.mark.parametrize("plant, twin", pairs("eroded_cooperation", "net_flow"))
def test_net_erosion_the_lever_drains_the_stock_through_a_negative_term(plant, twin):
    p = plant["probe"]
    m, t = load(plant["file"]), load(twin["file"])
    stock = p["cooperation_stock"]
    assert list(m[stock].inflows) == [p["net_flow"]] and not m[stock].outflows, "one net flow, no outflow"
    params = futures(m)
    lo, hi = lever_range(m, p["depleting_lever"])

    def depletion(model):
        return final(model, stock, at(params, **{p["depleting_lever"]: hi})) / final(
            model, stock, at(params, **{p["depleting_lever"]: lo})
        )

    assert np.all(depletion(m) < 0.6)
    np.testing.assert_allclose(depletion(t), 1.0)
    e_plant = elasticity(m, plant["target"], p["depleting_lever"], params)
    e_twin = elasticity(t, plant["target"], p["depleting_lever"], params)
    assert np.all(e_plant < 0.5 * e_twin)


@pytest.mark.parametrize("plant, twin", pairs("policy_resistance"))
def test_policy_resistance_the_balancing_loop_takes_most_of_the_lever(plant, twin):
    p = plant["probe"]
    m, t = load(plant["file"]), load(twin["file"])
    params = futures(m)
    intact = elasticity(m, plant["target"], p["lever"], params)
    cut = elasticity(m, plant["target"], p["lever"], params, scenario=p["cut"])
    in_twin = elasticity(t, plant["target"], p["lever"], params)
    # with the loop intact the lever keeps under half its direct effect; cut, nearly all of it
    assert np.all(intact < 0.5) and np.median(intact) < 0.35
    assert np.all(cut > 0.75)
    assert np.all(in_twin > 0.75)
    np.testing.assert_allclose(cut, in_twin, rtol=0.05)
    # the compensating stock moves with the lever in the plant (the adaptation is real)
    lo, hi = lever_range(m, p["lever"])
    s = final(m, p["compensating_stock"], {p["lever"]: np.array([lo, hi])})
    assert s[1] < 0.6 * s[0]


@pytest.mark.parametrize("plant, twin", pairs("delay_attrition"))
def test_delay_attrition_most_of_the_pipeline_decays_in_the_plant_only(plant, twin):
    p = plant["probe"]
    m, t = load(plant["file"]), load(twin["file"])
    params = futures(m)
    # the delay is longer than the decay time in every future
    assert m[p["delay_time"]].range[0] > m[p["decay_time"]].range[1]

    def lost_share(model):
        r = ts.simulate(model, params=params)
        last = r.ds.isel(time=-1)
        return (last[p["lost"]] / sum(last[s] for s in p["exits"])).values

    assert np.all(lost_share(m) > 0.5) and np.median(lost_share(m)) > 0.65
    assert np.all(lost_share(t) == 0)
    # shortening the delay rescues much of the target in the plant, little in the twin
    lo, hi = lever_range(m, p["delay_time"])

    def fast_over_slow(model):
        return final(model, plant["target"], at(params, **{p["delay_time"]: lo})) / final(
            model, plant["target"], at(params, **{p["delay_time"]: hi})
        )

    assert np.all(fast_over_slow(m) > 1.4)
    assert np.all(fast_over_slow(t) < 1.15)


@pytest.mark.parametrize("plant, twin", pairs("congestion"))
def test_congestion_more_upstream_effort_lowers_the_target_in_the_plant_only(plant, twin):
    p = plant["probe"]
    m, t = load(plant["file"]), load(twin["file"])
    lo, hi = lever_range(m, p["lever"])
    at_default = final(m, plant["target"], {p["lever"]: np.array([lo, hi])})
    assert at_default[1] < 0.7 * at_default[0]
    params = futures(m)
    e_plant = elasticity(m, plant["target"], p["lever"], params)
    e_twin = elasticity(t, plant["target"], p["lever"], params)
    assert np.mean(e_plant < 0) >= 0.8 and np.median(e_plant) < -0.1, (
        "a negative total effect in most futures"
    )
    assert np.all(e_twin > 0.3)
    # the path that carries it: the diluted probability falls with the lever in the plant, is flat in the twin
    d = final(m, p["diluted"], {p["lever"]: np.array([lo, hi])})
    assert d[1] < 0.5 * d[0]
    d = final(t, p["diluted"], {p["lever"]: np.array([lo, hi])})
    assert d[1] == pytest.approx(d[0])


@pytest.mark.parametrize("plant, twin", pairs("burden_shift"))
def test_burden_shift_the_intervenor_erodes_the_host_capacity_in_the_plant_only(plant, twin):
    p = plant["probe"]
    m, t = load(plant["file"]), load(twin["file"])
    lo, hi = lever_range(m, p["intervenor_lever"])
    params = futures(m)

    def cross(model):  # host capacity at the end, intervenor lever high over low
        return final(model, p["host_capacity"], at(params, **{p["intervenor_lever"]: hi})) / final(
            model, p["host_capacity"], at(params, **{p["intervenor_lever"]: lo})
        )

    assert np.all(cross(m) < 0.5) and np.median(cross(m)) < 0.2
    assert np.all(cross(t) > 0.6)

    # the target: the shifted burden costs far more convictions in the plant
    def target_ratio(model):
        return (
            final(model, plant["target"], {p["intervenor_lever"]: np.array([hi])})[0]
            / final(model, plant["target"], {p["intervenor_lever"]: np.array([lo])})[0]
        )

    assert target_ratio(m) < 0.75 * target_ratio(t)
    # the structure: the role tags name a shifting-the-burden match in the plant, and none in the twin
    found = [a for a in ts.archetypes(confirmed(m)) if a.kind == "shifting_the_burden"]
    assert found and found[0].roles == p["roles"]
    assert not [a for a in ts.archetypes(confirmed(t)) if a.kind == "shifting_the_burden"]


@pytest.mark.parametrize("plant, twin", pairs("eroded_cooperation"))
def test_eroded_cooperation_the_lever_depletes_what_the_target_needs_in_the_plant_only(plant, twin):
    p = plant["probe"]
    m, t = load(plant["file"]), load(twin["file"])
    lo, hi = lever_range(m, p["depleting_lever"])
    params = futures(m)
    stock = p["cooperation_stock"]

    def depletion(model):  # the cooperation stock at the end, lever high over low
        return final(model, stock, at(params, **{p["depleting_lever"]: hi})) / final(
            model, stock, at(params, **{p["depleting_lever"]: lo})
        )

    assert np.all(depletion(m) < 0.6)
    np.testing.assert_allclose(depletion(t), 1.0)
    # the depleting flow is the main drain on the stock, and it is driven by the lever
    series = run(plant["file"]).ds[stock].values.ravel()
    assert series[-1] < 0.6 * series[0]
    assert float(run(twin["file"]).ds[p["depleting_flow"]].max()) == 0
    # the lever's gain on the target is eaten: a fraction of what the twin gets
    e_plant = elasticity(m, plant["target"], p["depleting_lever"], params)
    e_twin = elasticity(t, plant["target"], p["depleting_lever"], params)
    assert np.all(e_plant < 0.5 * e_twin)
    assert nx.has_path(causal(m), p["depleting_lever"], stock)


def confirmed(m: ts.Model):
    """The diagram with its signs checked against the base run (as ``trafficsys archetypes`` shows it)."""
    return confirm_polarities(m.cld(), m, ts.simulate(m))


def causal(m: ts.Model) -> nx.DiGraph:
    """The model's dependency graph without initial-value edges (they carry no feedback)."""
    g = m.graph()
    return nx.DiGraph([(a, b) for a, b, d in g.edges(data=True) if d.get("via") != "initial"])


def _loops_through(m: ts.Model, a: str, b: str) -> list:
    return [lp for lp in m.cld().loops() if a in lp.variables and b in lp.variables]


@pytest.mark.parametrize("plant, twin", pairs("missing_accountability"))
def test_missing_accountability_no_loop_carries_outcomes_to_the_resources_in_the_plant(plant, twin):
    p = plant["probe"]
    m, t = load(plant["file"]), load(twin["file"])
    inflow = m[plant["target"]].inflows[0]
    # structure: in the plant no feedback loop joins the outcome and the duty bearer's resources
    assert not _loops_through(m, inflow, p["resource"])
    assert not nx.has_path(causal(m), inflow, p["resource"])
    assert nx.has_path(causal(t), inflow, p["resource"])
    assert _loops_through(t, inflow, p["resource"])
    # behaviour: outcomes do not reach the resources in the plant; they do in the twin
    d = p["outcome_driver"]
    lo, hi = lever_range(m, d)
    res = final(m, p["resource"], {d: np.array([lo, hi])})
    assert res[1] == pytest.approx(res[0])
    res = final(t, p["resource"], {d: np.array([lo, hi])})
    assert abs(res[1] / res[0] - 1) > 0.1
    # the twin's loop matters: cutting it costs a tenth of the target or more in every future
    params = futures(t)
    kept = final(t, plant["target"], params)
    cut = final(t, plant["target"], at(params, **{p["loop_strength"]: 0.0}))
    assert np.all(cut < 0.9 * kept) and np.median(cut / kept) < 0.85
    # and in the plant the same constant changes nothing
    np.testing.assert_allclose(
        final(m, plant["target"], at(params, **{p["loop_strength"]: 0.0})), final(m, plant["target"], params)
    )


@pytest.mark.parametrize("plant, twin", pairs("disconnected_lever"))
def test_disconnected_lever_has_no_path_to_the_target_in_the_plant_only(plant, twin):
    p = plant["probe"]
    m, t = load(plant["file"]), load(twin["file"])
    assert not nx.has_path(causal(m), p["lever"], plant["target"])
    assert nx.has_path(causal(t), p["lever"], plant["target"])
    for model in (m, t):
        assert nx.has_path(causal(model), p["connected_lever"], plant["target"])
    lo, hi = lever_range(m, p["lever"])
    params = futures(m)

    def response(model):
        return final(model, plant["target"], at(params, **{p["lever"]: hi})) / final(
            model, plant["target"], at(params, **{p["lever"]: lo})
        )

    np.testing.assert_array_equal(response(m), 1.0)
    assert np.all(response(t) > 1.1)
