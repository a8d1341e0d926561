"""Polarity inference: one small model per sign rule, the numerical check, and soundness."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trafficsys as ts
from trafficsys.analysis.polarities import confirm_polarities, observed_signs
from trafficsys.cld import link_polarity
from trafficsys.cld.polarity import SignAnalysis


def base(**kw):
    m = ts.Model("rules", stop=4, dt=0.25, time_units="year", **kw)
    m.constant("k", 0.5, range=(0.1, 1.0))  # positive
    m.constant("neg", -2.0, range=(-3.0, -1.0))  # negative
    m.constant("anysign", 0.0, range=(-1.0, 1.0))  # either sign
    m.stock("x", 10, inflows=["x_in"], non_negative=True)  # a stock of people: >= 0
    m.flow("x_in", "1")
    m.stock("y", 5, inflows=["y_in"], non_negative=True)
    m.flow("y_in", "1")
    return m


def pol(m, source, target):
    return m.cld().polarity(source, target)


def confirmed(m, **kw):
    """The diagram with its signs checked against the base run: the explicit analysis."""
    return confirm_polarities(m.cld(), m, ts.simulate(m), **kw)


def test_rule_product():
    m = base()
    m.aux("p", "k * x")  # positive factor
    m.aux("q", "neg * x")  # negative factor
    m.aux("r", "anysign * x")  # factor of unknown sign
    m.aux("s", "x * y")  # both non-negative
    assert [pol(m, "x", v) for v in "pqr"] == ["+", "-", "?"]
    assert pol(m, "x", "s") == "+" and pol(m, "y", "s") == "+"


def test_rule_quotient():
    m = base()
    m.aux("share", "x / (1 + y)")  # numerator +, denominator -
    m.aux("inverse", "k / x")  # positive numerator over the source: -
    m.aux("neg_over", "neg / x")  # negative numerator over the source: +
    assert pol(m, "x", "share") == "+" and pol(m, "y", "share") == "-"
    assert pol(m, "x", "inverse") == "-"
    assert pol(m, "x", "neg_over") == "+"


def test_rule_min_max():
    m = base()
    m.aux("capped", "MIN(x, 100)")
    m.aux("floor", "MAX(k * x, y)")
    m.aux("mixed", "MIN(x, 100 - x)")  # one argument rises, the other falls
    m.aux("neg_min", "-MIN(x, y)")
    assert pol(m, "x", "capped") == "+"
    assert pol(m, "x", "floor") == "+" and pol(m, "y", "floor") == "+"
    assert pol(m, "x", "mixed") == "?"
    assert pol(m, "y", "neg_min") == "-"


def test_rule_decreasing_lookup():
    m = base()
    m.lookup("effect_of_crowding", [(0, 1.0), (10, 0.6), (20, 0.1)])  # decreasing table, called
    m.aux("fertility", "k * effect_of_crowding(x)")
    m.lookup("fear", [(0, 0), (5, 0.5), (10, 0.9)], input="y")  # increasing table with an input
    m.lookup("hump", [(0, 0), (5, 1), (10, 0)])  # rises then falls
    m.aux("humped", "hump(x)")
    m.aux("via_lookup_builtin", "LOOKUP(effect_of_crowding, y)")
    cld = m.cld()
    assert cld.polarity("x", "fertility") == "-"
    assert cld.polarity("y", "fear") == "+"
    assert cld.polarity("x", "humped") == "?"
    assert cld.polarity("y", "via_lookup_builtin") == "-"
    assert not cld.has_link(
        "effect_of_crowding", "fertility"
    )  # a table is part of the equation, not a variable


def test_rule_if_then_else():
    m = base()
    m.aux("disagree", "IF TIME > 2 THEN x ELSE -x")  # branches disagree: ?
    m.aux("agree", "IF TIME > 2 THEN 2 * x ELSE x")  # both +: +
    m.aux("one_sided", "IF y > 3 THEN x ELSE 0")  # + or no effect: +
    m.aux("switch", "IF x > 5 THEN 1 ELSE 0")  # x moves the condition up: jump +
    m.aux("switch_down", "IF x > 5 THEN 0 ELSE 1")  # jump -
    assert pol(m, "x", "disagree") == "?"
    assert pol(m, "x", "agree") == "+"
    assert pol(m, "x", "one_sided") == "+"
    assert pol(m, "x", "switch") == "+" and pol(m, "x", "switch_down") == "-"


def test_rule_monotone_builtins_and_delays():
    m = base()
    m.aux("grows", "EXP(x) + SQRT(y)")
    m.aux("falls", "ARCCOS(k)")
    m.aux("smoothed", "SMTH1(x, 2)")
    m.aux("smoothed_neg", "DELAY3(-x, 2)")
    m.aux("start_only", "INIT(x) + y")
    cld = m.cld()
    assert cld.polarity("x", "grows") == "+" and cld.polarity("y", "grows") == "+"
    assert cld.polarity("k", "falls") == "-"
    assert cld.polarity("x", "smoothed") == "+" and cld.delayed("x", "smoothed")
    assert cld.polarity("x", "smoothed_neg") == "-" and cld.delayed("x", "smoothed_neg")
    assert not cld.delayed("y", "grows")
    assert not cld.has_link("x", "start_only")  # read once at the start: not a causal link
    assert cld.polarity("y", "start_only") == "+"


def test_stock_flow_links_and_initial_values():
    m = ts.Model("sf", stop=2, dt=0.5)
    m.constant("rate", 0.1)
    m.constant("start_value", 100)
    m.stock("pool", "start_value", inflows=["arrivals"], outflows=["departures"], non_negative=True)
    m.flow("arrivals", "5")
    m.flow("departures", "rate * pool")
    cld = m.cld()
    assert cld.polarity("arrivals", "pool") == "+" and cld.delayed("arrivals", "pool")
    assert cld.polarity("departures", "pool") == "-" and cld.delayed("departures", "pool")
    assert not cld.has_link("start_value", "pool")  # initial values are not causal links
    assert [(lp.id, lp.variables) for lp in cld.loops()] == [("B1", ("departures", "pool"))]


def test_link_polarity_function_and_sign_analysis():
    m = base()
    m.aux("z", "x - 2 * y")
    assert link_polarity(m, "x", "z") == "+" and link_polarity(m, "Y", "z") == "-"
    assert SignAnalysis(m).value("neg") == frozenset({-1})


# ---------------------------------------------------------------- numerical check
def test_sign_change_within_operating_range_is_reported():
    m = ts.Model("hump", stop=10, dt=0.25, time_units="year")
    m.stock("x", 0, inflows=["growth"], non_negative=True)
    m.flow("growth", "1")
    m.aux("effect", "x * (10 - x)")  # rises until x = 5, then falls: + then -
    cld = confirmed(m)  # x runs from 0 to 10
    assert cld.polarity("x", "effect") == "?"
    (note,) = [n for n in cld.notes if n.target == "effect"]
    assert note.structural == "?" and note.observed == "+-" and "changes sign" in note.message


def test_structural_unknown_resolved_by_one_observed_sign():
    m = base()
    m.aux("share", "x / (x + y)")  # rises with x, but the sign rules cannot see it
    structural = m.cld()
    assert structural.polarity("x", "share") == "?"
    r = ts.simulate(m)
    assert observed_signs(m, "x", "share", r)[0] == "+"
    resolved = confirm_polarities(structural, m, r)
    assert resolved.polarity("x", "share") == "+"
    assert any(n.target == "share" and n.observed == "+" for n in resolved.notes)
    assert structural.polarity("x", "share") == "?"  # the analysis returns a new diagram
    cautious = confirm_polarities(structural, m, r, resolve=False)
    assert cautious.polarity("x", "share") == "?"


def test_signs_read_from_an_ensemble_where_a_sampled_constant_meets_time():
    # a sampled constant is saved over runs only and TIME over time only: they must broadcast,
    # not fail on (time,) against (run,) -- the state_accountable blocks report met this
    m = base()
    m.constant("ramp_time", 2.0, range=(1.0, 3.0))
    m.aux("phase_in", "0.3 - 0.25 * MIN(1, TIME / ramp_time)")
    r = ts.simulate(m, params={"ramp_time": np.array([1.0, 1.5, 2.5])})
    assert r.ds["ramp_time"].dims == ("run",)
    signs, up, down = observed_signs(m, "ramp_time", "phase_in", r)
    assert signs == "+" and up > 0 and down == 0
    assert confirm_polarities(m.cld(), m, r).polarity("ramp_time", "phase_in") == "+"


def test_the_diagram_takes_no_results_and_says_where_the_check_went():
    m = base()
    with pytest.raises(ts.ModelError, match="confirm_polarities"):
        m.cld(results=ts.simulate(m))
    with pytest.raises(ts.ModelError, match="never simulates"):
        m.cld(numeric=True)


def test_sign_only_changing_outside_the_range_is_kept():
    m = ts.Model("narrow", stop=2, dt=0.25, time_units="year")
    m.stock("x", 1, inflows=["growth"], non_negative=True)
    m.flow("growth", "1")
    m.aux("effect", "x * (10 - x)")  # x stays within 1..3: only +
    cld = confirmed(m)
    assert cld.polarity("x", "effect") == "+"


def test_disagreeing_branches_visited_in_the_run_stay_unknown():
    m = ts.Model("branches", stop=4, dt=0.25, time_units="year")
    m.stock("x", 1, inflows=["growth"], non_negative=True)
    m.flow("growth", "1")
    m.aux("policy", "IF TIME > 2 THEN x ELSE -x")
    cld = confirmed(m)
    assert cld.polarity("x", "policy") == "?"
    assert any(n.target == "policy" and n.observed == "+-" for n in cld.notes)


def test_rule_bounds_through_min():
    m = base()
    m.aux("coverage", "MIN(1, x / 100)")  # within [0, 1]
    m.aux("left", "y * (1 - coverage)")  # 1 - coverage >= 0, so y -> left is +
    assert pol(m, "y", "left") == "+" and pol(m, "coverage", "left") == "-"


def test_reference_model_structure_never_contradicted_by_its_run():
    m = ts.load_default()
    structural = m.cld()
    cld = confirmed(m)
    assert not [n.message for n in cld.notes if n.structural in "+-"]  # no sign the run contradicts
    decided = [lk for lk in structural.links if lk.polarity != "?"]
    assert len(decided) > 0.8 * len(structural.links)
    assert all(cld.polarity(lk.source, lk.target) == lk.polarity for lk in decided)


# ------------------------------------------------------------- soundness (property)
_VARS = {"p": (0.5, 3.0), "q": (0.0, 2.0), "n": (-3.0, -0.5)}  # declared sign ranges


def _model_for(expr):
    m = ts.Model("prop")
    m.constant("p", 1.0, range=_VARS["p"])
    m.constant("q", 1.0, range=_VARS["q"])
    m.constant("n", -1.0, range=_VARS["n"])
    m.aux("target", expr)
    return m


_leaf = st.sampled_from(["p", "q", "n", "2", "0.5"])


def _combine(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(st.sampled_from(["MIN", "MAX"]), children, children).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        children.map(lambda c: f"EXP({c} / 10)"),
        children.map(lambda c: f"(-{c})"),
    )


@settings(max_examples=150, deadline=None)
@given(st.recursive(_leaf, _combine, max_leaves=6), st.sampled_from(["p", "q", "n"]))
def test_structural_sign_is_never_contradicted(expr, var):
    """Where the sign analysis commits to + or -, no finite difference inside the declared ranges disagrees."""
    m = _model_for(expr)
    sign = link_polarity(m, var, "target")
    if sign not in "+-":
        return
    rng = np.random.default_rng(0)
    from trafficsys.engine.expression import evaluate

    tree = m.ast("target")
    env = {k: rng.uniform(lo, hi, 400) for k, (lo, hi) in _VARS.items()}
    h = 1e-6
    up, down = dict(env), dict(env)
    up[var] = env[var] + h
    down[var] = env[var] - h
    with np.errstate(all="ignore"):
        d = evaluate(tree, up, time=np.zeros(1), dt=1.0) - evaluate(tree, down, time=np.zeros(1), dt=1.0)
    d = d[np.isfinite(d)]
    scale = 1e-7 * (1 + np.abs(d).max(initial=0))
    if sign == "+":
        assert (d >= -scale).all(), (expr, var)
    else:
        assert (d <= scale).all(), (expr, var)


def test_ensemble_sign_check_of_an_equation_of_time_and_a_sampled_constant():
    """A sampled constant is kept over runs only; with time in the equation it once met (time,) and failed.

    The reference model's policy levers ramp over a sampled ``policy_transition_time``, and
    ``ts.find_blocks(m, ..., scenario="state_accountable")`` stopped with a broadcasting error there.
    """
    m = ts.Model("ramp", stop=4, dt=0.25, time_units="year")
    m.constant("transition", 2.0, range=(1.0, 3.0))
    m.aux("ramp", "MIN(1, TIME / transition)")
    m.stock("s", 0, inflows=["fill"])
    m.flow("fill", "ramp")
    ens = ts.monte_carlo(m, n=4, seed=1)
    signs, pos, neg = observed_signs(m, "transition", "ramp", ens)
    assert signs == "-" and pos == 0 and 0 < neg < 1  # lower while ramping, flat once at 1
