"""Systemic blocks: planted blocks are found on the right variables, twins are not flagged, numbers check out.

The planted models (``models/blocks/``, listed in ``index.json``) each hold one
block kind; their twins have the same variables with the mechanism removed.
Some are XMILE with non-domain names (a factory, pests, produce in transit):
detection must read structure and behaviour, not names.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import REPO

import trafficsys as ts
from trafficsys.analysis.blocks import KINDS, find_blocks
from trafficsys.errors import ModelError, StructureError, UnknownVariableError

FOLDER = REPO / "models" / "blocks"
INDEX = json.loads((FOLDER / "index.json").read_text(encoding="utf-8"))["models"]
PLANTED = [e for e in INDEX if e["planted"] != "none"]
TWINS = [e for e in INDEX if e["planted"] == "none"]
N = 40


def _report(entry):
    m = ts.load(FOLDER / entry["file"])
    return find_blocks(m, entry["target"], n=N, seed=3)


@pytest.mark.parametrize("entry", PLANTED, ids=[e["file"] for e in PLANTED])
def test_the_planted_kind_is_in_the_top_three_on_the_planted_variables(entry):
    rep = _report(entry)
    top = rep.blocks[:3]
    hits = [b for b in top if b.kind == entry["planted"]]
    assert hits, f"{entry['file']}: top three are {[b.kind for b in top]}"
    assert set(hits[0].variables) & set(entry["planted_variables"]), (
        hits[0].variables,
        entry["planted_variables"],
    )
    assert 0 < hits[0].severity <= 1 and 0 <= hits[0].confidence <= 1
    assert hits[0].explanation and entry["target"] in hits[0].explanation


@pytest.mark.parametrize("entry", TWINS, ids=[e["file"] for e in TWINS])
def test_the_twin_without_the_mechanism_is_not_flagged(entry):
    rep = _report(entry)
    assert entry["family"] not in rep.kinds(), [str(b) for b in rep.blocks if b.kind == entry["family"]]


def test_every_kind_has_a_planted_model_and_a_twin():
    assert {e["planted"] for e in PLANTED} == set(KINDS)
    assert {e["family"] for e in TWINS} == set(KINDS)


def test_neutral_names_are_found_like_domain_names():
    neutral = [e for e in PLANTED if e["names"] == "neutral"]
    assert len(neutral) >= 3
    for e in neutral:
        assert e["planted"] in _report(e).kinds()[:3]


def test_same_seed_same_report():
    e = next(x for x in PLANTED if x["planted"] == "policy_resistance")
    a, b = _report(e), _report(e)
    assert [(x.kind, x.severity, x.variables) for x in a] == [(x.kind, x.severity, x.variables) for x in b]
    assert a.to_markdown() == b.to_markdown()


# ------------------------------------------------------------------ evidence checked independently
def _entry(kind):
    return next(x for x in PLANTED if x["planted"] == kind and x["format"] == "toml")


def _plain_runs(m, n, seed):
    """The futures find_blocks samples (same seed policy), run plainly: (sample, dataset)."""
    from trafficsys.engine import as_generator, sample_constants

    levers = {c.name for c in m.constants if c.role and "policy" in c.role}
    names = [c.name for c in m.constants if c.range and c.range[1] > c.range[0] and c.name not in levers]
    sample = sample_constants(m, n, as_generator(seed), names=names)
    return sample, ts.simulate(m, params=sample).ds


def _tr(ds, name):
    da = ds[name]
    if "time" not in da.dims:
        return np.broadcast_to(da.values, (ds.sizes["time"], da.size))
    return da.transpose("time", "run").values


def test_binding_share_equals_the_share_recomputed_from_a_plain_run():
    e = _entry("capacity_ceiling")
    m = ts.load(FOLDER / e["file"])
    rep = find_blocks(m, e["target"], n=N, seed=3)
    b = next(x for x in rep if x.kind == "capacity_ceiling")
    _, ds = _plain_runs(m, N, 3)
    demand, cap = _tr(ds, e["probe"]["demand"]), _tr(ds, e["probe"]["capacity"])
    share = (cap < demand).mean(axis=0)
    assert b.evidence["share of time binding"].value == pytest.approx(np.median(share), abs=1e-9)
    assert b.evidence["share of time binding"].holds == pytest.approx(np.mean(share >= 0.5))


def test_share_lost_in_a_delay_equals_the_flows_integrated_from_a_plain_run():
    e = _entry("delay_attrition")
    m = ts.load(FOLDER / e["file"])
    rep = find_blocks(m, e["target"], n=N, seed=3, kinds=["delay_attrition"])
    b = rep.blocks[0]
    assert b.variables[0] == e["probe"]["pipeline"]
    _, ds = _plain_runs(m, N, 3)
    t = ds["time"].values
    lost = np.trapezoid(_tr(ds, e["probe"]["decay_flow"]), t, axis=0)
    done = sum(np.trapezoid(_tr(ds, f), t, axis=0) for f in m[e["target"]].inflows)
    assert b.evidence["share lost"].value == pytest.approx(np.median(lost / (lost + done)), rel=1e-9)


def test_lever_elasticity_matches_two_finite_differences_on_plain_runs():
    e = _entry("congestion")
    m = ts.load(FOLDER / e["file"])
    lever = e["probe"]["lever"]
    rep = find_blocks(m, e["target"], n=N, seed=3, kinds=["congestion"])
    got = next(lv for lv in rep.levers if lv.name == lever)
    sample, _ = _plain_runs(m, N, 3)
    v = m[lever].value
    estimates = []
    for rel in (0.05, 0.01):  # two step sizes: the estimate does not hinge on the step
        y = {}
        for s in (1, -1):
            r = ts.simulate(m, params={**sample, lever: np.full(N, v * (1 + s * rel))})
            y[s] = r[e["target"]].transpose("time", "run").values[-1]
        estimates.append(np.median((y[1] - y[-1]) / (2 * v * rel) * v / (0.5 * (y[1] + y[-1]))))
    assert got.elasticity == pytest.approx(estimates[0], rel=1e-9)
    assert got.elasticity == pytest.approx(estimates[1], rel=0.05)
    assert got.elasticity < 0


# ------------------------------------------------------------------ the reference model
@pytest.fixture(scope="module")
def reference():
    return find_blocks(ts.load_default(), "cases_convicted", scenario="baseline", n=60, seed=1)


def test_reference_report_reads(reference):
    assert reference.blocks, reference.not_assessed
    text = reference.to_markdown()
    assert "cases_convicted" in text and "| rank |" in text
    assert len(repr(reference)) < 4000 and len(reference._repr_html_()) < 60_000
    assert all(b.prevalence >= 0.5 for b in reference.blocks)
    sev = [b.severity for b in reference.blocks]
    assert sev == sorted(sev, reverse=True)


def test_reference_futures_start_at_rest_and_confidence_weighs_only_sampled_constants(reference):
    # as in ts.compare: switches set, not sampled; each future's initial stocks derived by the spin-up
    from trafficsys.engine.spinup import spinup_spec

    m = ts.load_default()
    derived = set(spinup_spec(m).derived())
    base, sample, ds = _reference_plain(reference.n, 1)
    assert derived <= set(sample)
    assert not {c.name for c in m.constants if c.role == "structure"} & set(sample)
    drift = ds["in_exploitation"].values[-1] / ds["in_exploitation"].values[0] - 1
    assert np.percentile(np.abs(drift), 95) < 0.05  # the baseline futures stay at their status quo
    # the derived initial values carry the sampled constants' variation: they are not assumptions of their own
    for b in reference.blocks:
        assert not derived & set(b.assumptions), (b.kind, b.assumptions)


def test_a_burden_shift_is_driven_by_a_lever_that_raises_the_fix(reference):
    # the criterion: the lever that raises the symptomatic fix lowers the fundamental solution; checked on
    # plain runs of the same futures (a lever that reaches the fix only to lower it does not shift the burden)
    shifts = [b for b in reference.blocks if b.kind == "burden_shift"]
    assert shifts
    base, sample, _ = _reference_plain(reference.n, 1)
    n = reference.n
    for b in shifts:
        fundamental, fix, lever = b.variables[0], b.variables[1], b.levers[0].name
        v = base[lever].value
        params = {k: np.tile(x, 2) for k, x in sample.items()}
        params[lever] = np.repeat([v * 1.05, v * 0.95], n)
        runs = ts.simulate(base, params=params).ds
        fix_up = runs[fix].mean("time").values
        fund = runs[fundamental]
        fund = (fund.isel(time=-1) if base[fundamental].kind.value == "stock" else fund.mean("time")).values
        raised, lowered = fix_up[:n] > fix_up[n:], fund[:n] < fund[n:]
        assert np.mean(raised) > 0.5, (lever, fix)
        assert np.mean(raised & lowered) == pytest.approx(b.prevalence, abs=0.05), (lever, fix, fundamental)
    # on the reference model that is the article's shift: NGO raids standing in for police identification
    top = shifts[0]
    assert top.levers[0].name == "share_ngo_rescue" and top.variables[1] == "ngo_raid_exits"
    assert top.variables[0] in ("police_identification", "police_capacity")


def test_compare_scenarios_marks_eases_and_deepens(reference):
    cmp = reference.compare_scenarios(["survivor_led"])
    df = cmp.to_pandas()
    col = "survivor_led vs baseline"
    assert set(df[col]) <= {"eases", "deepens", "unchanged", "new", "gone"}
    for _, row in df.iterrows():
        d = row["survivor_led"] - row["baseline"]
        if row[col] == "deepens":
            assert d >= cmp.tolerance or (row["baseline"] == 0)
        if row[col] == "eases":
            assert d <= -cmp.tolerance or (row["survivor_led"] == 0)


def test_a_lever_at_zero_is_sized_by_its_range_not_by_an_elasticity_it_does_not_have():
    # state_accountable sets share_police_training to 0: its elasticity is undefined, so the congestion it
    # causes is sized by the target's relative change for a tenth of the lever's range (a share of the target,
    # not a count of cases passed off as an elasticity), and every number still equals a plain-run recomputation
    from blocks_audit import audit

    m = ts.load_default()
    rep = find_blocks(m, "cases_convicted", scenario="state_accountable", n=40, seed=1, kinds=["congestion"])
    at_zero = [b for b in rep.blocks if m.with_scenario("state_accountable")[b.levers[0].name].value == 0]
    assert at_zero, [b.levers[0].name for b in rep.blocks]
    for b in at_zero:
        assert "elasticity" not in b.evidence and "elasticity" not in b.explanation
        rel = b.evidence["relative effect per tenth of range"].value
        assert -1 < rel < 0 and f"{100 * rel:+.1f}% for a tenth of its range" in b.explanation
        assert b.severity <= b.prevalence
    for kind, key, got, again in audit(m, rep):
        assert got == pytest.approx(again, rel=1e-9), (kind, key)


# ------------------------------------------------------------------ bad input
def test_unknown_target_or_lever_is_named():
    m = ts.load_default()
    with pytest.raises(UnknownVariableError, match="cases_convictd"):
        find_blocks(m, "cases_convictd", n=5)
    with pytest.raises(UnknownVariableError, match="no_such_lever") as err:
        find_blocks(m, "cases_convicted", levers=["no_such_lever"], n=5)
    # ... and says what to pass instead: the model's own policy levers
    assert "leave the levers out" in str(err.value) and "share_ngo_rescue" in str(err.value)


def test_a_constant_target_or_a_non_constant_lever_is_refused():
    m = ts.load_default()
    with pytest.raises(ModelError, match="choose a stock"):
        find_blocks(m, "share_audits", n=5)
    with pytest.raises(ModelError, match="must be a constant.*leave the levers out"):
        find_blocks(m, "cases_convicted", levers=["in_exploitation"], n=5)


def test_a_target_no_lever_reaches_says_what_to_do():
    m = ts.load_default()
    with pytest.raises(ModelError, match="no lever has a causal path"):
        find_blocks(m, "cases_convicted", levers=["policy_transition_time"], n=5)


def test_a_model_without_loops_says_what_to_do():
    m = ts.Model("chain", stop=5, dt=1)
    m.constant("effort", 1, range=(0, 2), role="policy", source="assumption: test")
    m.stock("done", 0, inflows=["work"])
    m.flow("work", "effort * 2")
    with pytest.raises(StructureError, match="no feedback loops"):
        find_blocks(m, "done", n=5)


def test_a_model_at_rest_says_so_instead_of_ranking_noise():
    m = ts.Model("still", stop=5, dt=1)
    m.constant("effort", 0, range=(0, 2), role="policy", source="assumption: test")
    m.stock("pool", 10, inflows=["back"], outflows=["out"])
    m.flow("out", "pool * effort")
    m.flow("back", "out")
    rep = find_blocks(m, "pool", n=5, seed=1)
    assert rep.at_rest
    assert any("nothing changes" in x for x in rep.not_assessed)
    assert all(b.kind in ("disconnected_lever", "missing_accountability") for b in rep.blocks)


def test_cli_blocks_prints_ranked_blocks_and_writes_markdown(tmp_path, capsys):
    from trafficsys.cli import main

    e = _entry("capacity_ceiling")
    out = tmp_path / "blocks.md"
    assert main(["blocks", str(FOLDER / e["file"]), "--n", "20", "--markdown", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "capacity_ceiling" in printed and "severity" in printed
    assert out.read_text().startswith("# Systemic blocks")
    assert main(["blocks", str(FOLDER / e["file"]), "--target", "nope", "--n", "5"]) == 2


# ------------------------------------------------------------------ the reference model's evidence, recomputed
def _reference_plain(n, seed):
    """The baseline futures find_blocks samples for the reference model, run plainly."""
    from trafficsys.engine import as_generator, sample_constants
    from trafficsys.engine.spinup import spin_up, spinup_spec

    m = ts.load_default()
    base = m.with_scenario("baseline")
    fixed = {
        c.name for c in base.constants if c.role and ("policy" in c.role or "structure" in c.role)
    } | set(m.scenarios["baseline"].overrides)
    fixed |= set(spinup_spec(m).derived())
    names = [c.name for c in base.constants if c.range and c.range[1] > c.range[0] and c.name not in fixed]
    sample = sample_constants(base, n, as_generator(seed), names=names)
    sample.update(spin_up(m, sample, n))  # each future starts at its own status quo's rest state
    return base, sample, ts.simulate(base, params=sample).ds


def test_reference_evidence_equals_independent_computations(reference):
    base, sample, ds = _reference_plain(reference.n, 1)
    by_kind = {}
    for b in reference.blocks:
        by_kind.setdefault(b.kind, b)

    # the capacity ceiling: which MIN argument is smaller, recomputed from the saved series
    cap = by_kind["capacity_ceiling"]
    assert cap.variables[0] == "leadership_development"

    def v(name):
        return _tr(ds, name)

    uptake = v("reintegrated") * v("max_leadership_uptake")
    funded = v("spend_survivor_collectives") / v("cost_per_leader_developed") + v("reintegrated") * v(
        "natural_leadership_rate"
    ) * (1 + v("peer_mentoring_effect") * v("collective_strength"))
    share = (funded < uptake).mean(axis=0)
    assert cap.evidence["share of time binding"].value == pytest.approx(np.median(share), abs=1e-9)

    # a lever's elasticity: two central differences on plain runs of the same futures
    lever = "share_witness_support"
    got = next(lv for lv in reference.levers if lv.name == lever)
    val = base[lever].value
    est = []
    for rel in (0.05, 0.02):
        y = [
            ts.simulate(base, params={**sample, lever: np.full(reference.n, val * (1 + s_ * rel))})[
                "cases_convicted"
            ]
            .transpose("time", "run")
            .values[-1]
            for s_ in (1, -1)
        ]
        est.append(np.median((y[0] - y[1]) / (2 * val * rel) * val / (0.5 * (y[0] + y[1]))))
    assert got.elasticity == pytest.approx(est[0], rel=1e-9)
    assert got.elasticity == pytest.approx(est[1], rel=0.05)


def test_erosion_evidence_equals_the_stock_and_flows_of_a_plain_run():
    e = _entry("eroded_cooperation")
    m = ts.load(FOLDER / e["file"])
    rep = find_blocks(m, e["target"], n=N, seed=3, kinds=["eroded_cooperation"])
    ero = rep.blocks[0]
    s = e["probe"]["cooperation_stock"]
    assert ero.variables[0] == s
    _, ds = _plain_runs(m, N, 3)
    t = ds["time"].values
    x = _tr(ds, s)
    assert ero.evidence["decline"].value == pytest.approx(np.median(1 - x[-1] / x[0]), rel=1e-9)
    total = sum(np.trapezoid(_tr(ds, f), t, axis=0) for f in m[s].outflows)
    f = e["probe"]["depleting_flow"]
    assert ero.evidence[f"depleting flow {f}"].value == pytest.approx(
        np.median(np.trapezoid(_tr(ds, f), t, axis=0) / total), rel=1e-9
    )


@pytest.mark.parametrize(
    "equation, inputs",
    [
        ("vmax * x / (x + k)", {"x"}),
        ("vmax * x / (k + x)", {"x"}),
        ("x * y / (x * y + k * 2)", {"x", "y"}),
        ("1 - EXP(-x / k)", {"x"}),
        ("1 - EXP(-k * x * y)", {"x", "y"}),
        ("x / (x + y)", set()),  # a share of two things that vary: not saturation
        ("x / (x - k)", set()),
        ("x / k", set()),
    ],
)
def test_saturating_forms_are_recognised_and_shares_are_not(equation, inputs):
    from trafficsys.analysis.blocks.detectors import saturating_inputs
    from trafficsys.model.parser import parse

    tree = parse(equation)
    found = set()
    for node in ts.model.ast.walk(tree):
        found |= saturating_inputs(node, {"k", "vmax"})
    assert found == inputs


def test_a_min_written_as_a_condition_is_a_capacity_ceiling():
    from blocks_audit import audit

    e = _entry("capacity_ceiling")
    m = ts.load(FOLDER / e["file"])
    p = e["probe"]
    assert m.equation_text(p["constraint"]).replace(" ", "").upper().startswith("MIN(")
    from trafficsys.analysis.blocks.context import with_equation
    from trafficsys.model.parser import parse

    cond = f"IF {p['demand']} > {p['capacity']} THEN {p['capacity']} ELSE {p['demand']}"
    m = with_equation(m, p["constraint"], parse(cond))
    rep = find_blocks(m, e["target"], n=N, seed=3)
    top = [b for b in rep.blocks[:3] if b.kind == "capacity_ceiling"]
    assert top and top[0].variables[0] == p["constraint"]
    assert top[0].evidence["share of time binding"].value > 0.9
    assert top[0].evidence["target elasticity to capacity"].value > 0.5
    rows = audit(m, rep)
    for kind, key, got, again in rows:
        if not isinstance(got, str):
            assert got == pytest.approx(again, rel=1e-9, abs=1e-12), (kind, key)


def test_a_congestion_explanation_never_contradicts_its_numbers(reference):
    for b in reference.blocks:
        if b.kind != "congestion":
            continue
        size = next(
            e for k, e in b.evidence.items() if k in ("elasticity", "relative effect per tenth of range")
        )
        if b.explanation.startswith("More "):
            assert size.value < 0, b.explanation  # "lowers" with a positive median would contradict itself
        else:
            assert size.value >= 0 and "In the others it raises" in b.explanation, b.explanation
