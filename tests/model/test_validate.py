"""One deliberately broken model per validation rule, with assertions on the message."""

from __future__ import annotations

from dataclasses import replace

import pytest

import trafficsys as ts
from trafficsys.errors import (
    AlgebraicLoopError,
    ArityError,
    DuplicateVariableError,
    ModelError,
    ParseError,
    RangeError,
    StructureError,
    UnitsError,
    UnknownVariableError,
)
from trafficsys.model.parser import parse
from trafficsys.model.validate import instant_dependencies, suggest


def base(**specs) -> ts.Model:
    """A small valid model: people recruited into exploitation and leaving it."""
    m = ts.Model("base", stop=10, dt=0.25, time_units="year", **specs)
    m.file = "base.toml"
    m.constant("recruitment_rate", 0.05, units="1/year", range=(0.01, 0.1))
    m.constant("exit_rate", 0.2, units="1/year")
    m.stock("vulnerable", 1000, outflows=["recruitment"], units="person", non_negative=True)
    m.stock("exploited", 50, inflows=["recruitment"], outflows=["exits"], units="person", non_negative=True)
    m.flow("recruitment", "recruitment_rate * vulnerable", units="person/year")
    m.flow("exits", "exit_rate * exploited", units="person/year")
    m.aux("share_exploited", "exploited / (exploited + vulnerable)", units="dimensionless")
    return m


def test_the_base_model_is_valid():
    assert base().validate() == []


# -------------------------------------------------------------------- names
def test_unknown_name_is_named_with_did_you_mean_and_column():
    m = base()
    m.aux("pressure", "recruitment_rte * 2", units="1/year")
    with pytest.raises(UnknownVariableError) as info:
        m.validate()
    msg = str(info.value)
    assert info.value.variable == "pressure"
    assert "base.toml" in msg and "'recruitment_rte'" in msg
    assert "did you mean 'recruitment_rate'?" in msg
    assert "(column 1)" in msg and msg.splitlines()[-1].strip() == "^"


def test_unknown_name_column_points_at_the_name_in_any_spelling():
    m = base()
    m.aux("pressure", 'exit_rate + "Recruitment  Rte"', units="1/year")
    with pytest.raises(UnknownVariableError) as info:
        m.validate()
    assert "(column 13)" in str(info.value)


def test_unknown_name_in_a_stock_initial_value():
    m = base()
    m.stock("in_care", "initial_care", units="person")
    with pytest.raises(UnknownVariableError, match="its initial value uses 'initial_care'") as info:
        m.validate()
    assert info.value.variable == "in_care"


def test_unknown_function_suggests_a_builtin():
    m = base()
    m.aux("smoothed", "SMTH(exploited, 2)", units="person")
    with pytest.raises(UnknownVariableError) as info:
        m.validate()
    assert "calls 'smth(...)'" in str(info.value) and "did you mean 'SMTH" in str(info.value)


def test_calling_a_constant_like_a_lookup_is_a_structure_error():
    m = base()
    m.aux("effect", "exit_rate(exploited)", units="1/year")
    with pytest.raises(
        StructureError, match="calls 'exit_rate' like a function, but it is a constant"
    ) as info:
        m.validate()
    assert info.value.variable == "effect" and "(column 1)" in str(info.value)


def test_a_lookup_without_input_used_as_a_value_is_a_structure_error():
    m = base()
    m.lookup("effect_of_share", [(0, 1), (1, 0.5)], units="dimensionless")
    m.aux("effect", "2 * effect_of_share", units="dimensionless")
    with pytest.raises(StructureError, match="graphical function 'effect_of_share' as a value") as info:
        m.validate()
    assert "(column 5)" in str(info.value)


def test_lookup_calls_and_lookup_builtin_are_fine():
    m = base()
    m.lookup("effect_of_share", [(0, 1), (1, 0.5)], units="dimensionless")
    m.aux("effect", "effect_of_share(share_exploited) * LOOKUP(effect_of_share, 0.5)", units="dimensionless")
    m.lookup("effect_now", [(0, 1), (1, 0.5)], input="share_exploited", units="dimensionless")
    m.aux("effect2", "effect_now * 2", units="dimensionless")
    assert m.validate() == []


def test_duplicate_names_are_refused_when_added():
    m = base()
    with pytest.raises(DuplicateVariableError) as info:
        m.aux("Exit Rate", "1")
    assert "'Exit Rate' is defined twice" in str(info.value) and "'exit_rate'" in str(info.value)


# ---------------------------------------------------------------- structure
def test_flow_attached_to_no_stock():
    m = base()
    m.flow("deaths", "0.01 * exploited", units="person/year")
    with pytest.raises(StructureError, match="flow 'deaths' is attached to no stock") as info:
        m.validate()
    assert info.value.variable == "deaths"


def test_flow_filling_two_stocks():
    m = base()
    m.stock("in_care", 0, inflows=["exits"], units="person")
    m.stock("home", 0, inflows=["exits"], units="person")
    with pytest.raises(StructureError, match=r"flow 'exits' fills 2 stocks \('in_care', 'home'\)"):
        m.validate()


def test_flow_draining_two_stocks():
    m = base()
    m.stock("other", 5, outflows=["exits"], units="person")
    with pytest.raises(StructureError, match=r"flow 'exits' drains 2 stocks \('exploited', 'other'\)"):
        m.validate()


def test_flow_on_both_sides_of_one_stock():
    m = base()
    m.stock("loop", 5, inflows=["churn"], outflows=["churn"], units="person")
    m.flow("churn", "1", units="person/year")
    with pytest.raises(StructureError, match="stock 'loop' lists flow 'churn' twice"):
        m.validate()


def test_stock_listing_an_unknown_flow():
    m = base()
    m.stock("in_care", 0, inflows=["exitz"], units="person")
    with pytest.raises(UnknownVariableError, match="did you mean 'exits'") as info:
        m.validate()
    assert info.value.variable == "in_care" and "'exitz' as an inflow" in str(info.value)


def test_stock_listing_a_non_flow():
    m = base()
    m.stock("in_care", 0, inflows=["exit_rate"], units="person")
    with pytest.raises(StructureError, match="'exit_rate' as an inflow, but it is a constant, not a flow"):
        m.validate()


@pytest.mark.parametrize(
    "specs, fragment",
    [
        ({"dt": 0}, "dt is 0"),
        ({"stop": -1}, "stop (-1) must come after start"),
        ({"method": "rk5"}, "unknown integration method 'rk5'; did you mean 'rk4'?"),
    ],
)
def test_bad_time_settings(specs, fragment):
    m = base()
    m.set_specs(**specs)
    with pytest.raises(
        StructureError, match=fragment.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    ):
        m.validate()


def test_unsorted_lookup_points():
    m = base()
    m.lookup("effect", [(0, 1), (2, 0.5), (1, 0.7)])
    with pytest.raises(StructureError, match="point 3 has x = 1 after x = 2") as info:
        m.validate()
    assert info.value.variable == "effect"


# -------------------------------------------------------------- algebraic loops
def test_algebraic_loop_names_every_variable_in_causal_order():
    m = base()
    m.aux("perceived_risk", "arrests / 10", units="dimensionless")
    m.aux("arrests", "police_effort * 3", units="dimensionless")
    m.aux("police_effort", "perceived_risk + share_exploited", units="dimensionless")
    with pytest.raises(AlgebraicLoopError) as info:
        m.validate()
    e = info.value
    assert e.cycle == ["perceived_risk", "police_effort", "arrests"]
    assert "perceived_risk -> police_effort -> arrests -> perceived_risk" in str(e)


def test_self_reference_is_an_algebraic_loop():
    m = base()
    m.aux("x", "x + 1")
    with pytest.raises(AlgebraicLoopError, match="algebraic loop x -> x") as info:
        m.validate()
    assert info.value.cycle == ["x"]


@pytest.mark.parametrize(
    "breaker", ["SMTH1(b, 2)", "DELAY3(b, 2)", "INIT(b)", "PREVIOUS(b, 0)", "exploited + 0 * SMTH3(b, 1)"]
)
def test_a_delay_or_smooth_breaks_the_loop(breaker):
    m = base()
    m.aux("a", breaker)
    m.aux("b", "a * 2")
    m.validate(units=False)


def test_a_loop_through_a_stock_is_not_algebraic():
    m = base()  # recruitment -> exploited -> exits ... goes through stocks
    m.aux("a", "exploited * 2")
    m.flow("extra_exits", "a", units="person/year")
    m.add(replace(m["exploited"], outflows=("exits", "extra_exits")), replace=True)
    m.validate(units=False)


def test_trend_responds_at_once_so_it_does_not_break_loops():
    assert instant_dependencies(parse("TREND(a, 3) + SMTH1(b, c)")) == {"a"}
    m = base()
    m.aux("a", "TREND(b, 3)")
    m.aux("b", "a + 1")
    with pytest.raises(AlgebraicLoopError):
        m.validate(units=False)


# --------------------------------------------------------------------- arity
def test_wrong_arity_is_reported_with_the_variable_and_column():
    m = base()
    m.aux("smoothed", "exploited + SMTH1(exploited)", units="person")
    with pytest.raises(ArityError) as info:
        m.validate()
    e = info.value
    assert isinstance(e, ParseError) and e.variable == "smoothed" and e.column == 13
    assert "SMTH1 takes 2 to 3 arguments, got 1" in str(e) and "base.toml" in str(e)


def test_syntax_error_in_a_flow_is_a_parse_error():
    m = base()
    m.add(replace(m["recruitment"], equation="recruitment_rate vulnerable"), replace=True)
    with pytest.raises(ParseError) as info:
        m.validate()
    assert info.value.variable == "recruitment" and info.value.column == 18


# ------------------------------------------------------------------- ranges
def test_constant_outside_its_range():
    m = base()
    m.constant("budget_share", 1.5, range=(0, 1), units="dimensionless")
    with pytest.raises(RangeError) as info:
        m.validate()
    assert info.value.variable == "budget_share"
    assert "value 1.5 lies outside its declared range [0, 1]" in str(info.value)


def test_range_with_low_above_high():
    m = base()
    m.constant("budget_share", 0.5, range=(1, 0), units="dimensionless")
    with pytest.raises(RangeError, match=r"range \[1, 0\] has low > high; write it as \[0, 1\]"):
        m.validate()


def test_triangular_mode_outside_the_range():
    m = base()
    m.constant(
        "share", 0.5, range=(0, 1), distribution={"kind": "triangular", "mode": 2}, units="dimensionless"
    )
    with pytest.raises(RangeError, match="triangular mode 2 lies outside"):
        m.validate()


# ---------------------------------------------------------------- scenarios, loops
def test_scenario_setting_an_unknown_constant():
    m = base()
    m.scenario("tough", {"exit_rat": 0.5})
    with pytest.raises(
        UnknownVariableError, match="scenario 'tough' sets 'exit_rat'.*did you mean 'exit_rate'"
    ):
        m.validate()


def test_scenario_equation_with_a_syntax_error():
    m = base()
    m.scenario("ramp", {"exit_rate": "RAMP(0.1, 2"})
    with pytest.raises(ParseError) as info:
        m.validate()
    assert "scenario 'ramp'" in str(info.value) and info.value.column == 12


def test_scenario_setting_a_stock():
    m = base()
    m.scenario("magic", {"exploited": 0})
    with pytest.raises(StructureError, match="sets the stock 'exploited'"):
        m.validate()


def test_named_loop_with_an_unknown_variable():
    m = base()
    m.loop("depletion", ["vulnerable", "recruitmnt"], polarity="B")
    with pytest.raises(
        UnknownVariableError, match="named loop 'depletion' lists 'recruitmnt'.*'recruitment'"
    ):
        m.validate()


# -------------------------------------------------------------------- units
def test_flow_units_must_be_stock_units_per_time():
    m = base()
    m.add(replace(m["exits"], units="person"), replace=True)
    with pytest.raises(UnitsError) as info:
        m.validate()
    msg = str(info.value)
    assert info.value.variable == "exits"
    assert (
        "outflow of stock 'exploited' (person)" in msg
        and "must be person/year" in msg
        and "are person" in msg
    )


def test_adding_unlike_units():
    m = base()
    m.aux("nonsense", "exploited + exit_rate", units="person")
    with pytest.raises(UnitsError, match="'exploited' is person and 'exit_rate' is 1/year") as info:
        m.validate()
    assert info.value.variable == "nonsense"


def test_declared_dimensionless_argument():
    m = base()
    m.aux("growth", "EXP(exploited)", units="dimensionless")
    with pytest.raises(
        UnitsError, match="the argument of EXP must be dimensionless, but 'exploited' is person"
    ):
        m.validate()


def test_declared_units_disagree_with_the_equation():
    m = base()
    m.aux("per_capita", "exploited / vulnerable", units="person")
    with pytest.raises(
        UnitsError,
        match="declared as person but its equation 'exploited / vulnerable' has units dimensionless",
    ):
        m.validate()


def test_units_can_be_skipped():
    m = base()
    m.aux("nonsense", "exploited + exit_rate", units="person")
    m.validate(units=False)


# ------------------------------------------------------------ combined report
def test_every_problem_is_listed_in_one_error():
    m = base()
    m.aux("a", "missing_one + 1")
    m.flow("orphan", "1", units="person/year")
    m.constant("share", 2, range=(0, 1))
    with pytest.raises(UnknownVariableError) as info:
        m.validate(units=False)
    e = info.value
    assert [type(x) for x in e.errors] == [UnknownVariableError, StructureError, RangeError]
    msg = str(e)
    assert "2 more problem(s)" in msg and "flow 'orphan' is attached to no stock" in msg and "value 2" in msg
    assert isinstance(e, ModelError)


def test_warnings_list_variables_without_units():
    m = base()
    m.aux("unitless", "exploited * 2")
    warnings = m.validate()
    assert len(warnings) == 1 and "unitless" in warnings[0]


def test_suggest():
    assert suggest("exploted", ["exploited", "vulnerable"]) == "; did you mean 'exploited'?"
    assert suggest("zzz", ["exploited"]) == ""


def test_array_index_names_are_not_variable_references():
    m = base()
    m.aux("first", "exploited * (share_by_region[north] + MAX(share_by_region[*]))", units="person")
    m.aux("share_by_region", "0.5", units="dimensionless")
    m.validate()
    m.aux("second", "share_by_regio[north]")
    with pytest.raises(UnknownVariableError, match="uses 'share_by_regio'"):
        m.validate()


def test_arrays_dimensions_and_per_element_equations():
    m = base()
    m.dimension("region", ["north", "south"])
    m.add(replace(m["exit_rate"], dimensions=("region",)), replace=True)
    m.aux("pressure", "exit_rate[region] * 2", units="1/year")
    m.add(
        replace(m["pressure"], dimensions=("region",), per_element=(("north", "exit_rate[north] * 3"),)),
        replace=True,
    )
    m.validate()
    m.add(replace(m["pressure"], per_element=(("north", "exit_rte[north] * 3"),)), replace=True)
    with pytest.raises(UnknownVariableError, match="uses 'exit_rte'.*did you mean 'exit_rate'"):
        m.validate()
    m.add(replace(m["pressure"], per_element=(("east", "1"),)), replace=True)
    with pytest.raises(StructureError, match="per-element equation 'east' does not name one element"):
        m.validate()
    m.add(replace(m["pressure"], dimensions=("regions",), per_element=()), replace=True)
    with pytest.raises(
        UnknownVariableError, match="dimension 'regions' is not declared; did you mean 'region'"
    ):
        m.validate()


# ------------------------------------------------------------------ robustness
from hypothesis import HealthCheck, given, settings  # noqa: E402


def _generated_models():
    from support.strategies import models

    return models()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(_generated_models())
def test_validation_of_any_model_raises_only_model_errors(m):
    """Generated models are mostly broken; validation must say so as a ModelError, never crash."""
    try:
        warnings = m.validate()
    except ModelError as e:
        assert str(e)
        assert all(isinstance(x, ModelError) for x in getattr(e, "errors", [e]))
    else:
        assert all(isinstance(w, str) for w in warnings)


def test_save_period_not_a_multiple_of_dt_is_a_warning():
    m = base(saveper=0.3)
    warnings = m.validate()
    assert any("saveper (0.3) is not a multiple of dt (0.25)" in w for w in warnings)
    assert base(saveper=0.5).validate() == []
