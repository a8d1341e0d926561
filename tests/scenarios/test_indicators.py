"""What a comparison reports is the model's own: indicators and defaults declared in its file."""

from __future__ import annotations

import ast
import warnings

import numpy as np
import pytest
from support import REPO

import trafficsys as ts
from trafficsys.errors import ModelError
from trafficsys.scenarios import Metric, indicators
from trafficsys.scenarios.metrics import final_value

#: the reference model's indicators, in the order the comparison has always reported them
REFERENCE_INDICATORS = [
    "exploitation_final",
    "exploitation_person_years",
    "victims_identified",
    "victims_criminalised",
    "re_trafficked",
    "reintegrated",
    "survivor_leaders",
    "convictions",
    "conviction_ratio",
    "convictions_per_1000_identified",
    "state_share_first_response",
    "state_run_share_first_response",
    "survivor_trust",
    "cost_per_exploitation_year_averted",
]


def _stock_model() -> ts.Model:
    m = ts.Model("pool", stop=4, dt=0.5, time_units="year")
    m.constant("inflow", 10, range=(5, 15), units="item/year", source="assumption: test")
    m.constant("drain", 0.2, range=(0.2, 0.2), units="1/year", source="assumption: test", role="policy")
    m.stock("level", 0, inflows=["fill"], outflows=["empty"], units="item")
    m.flow("fill", "inflow", units="item/year")
    m.flow("empty", "level * drain", units="item/year")
    m.stock("spent", 0, inflows=["spending"], units="USD")
    m.flow("spending", "10 * drain", units="USD/year")
    m.scenario("slow", {"drain": 0.1})
    m.scenario("fast", {"drain": 0.4})
    return m


def test_the_reference_model_declares_the_indicators_compare_reports(reference_model):
    found = indicators(reference_model)
    assert list(found) == REFERENCE_INDICATORS
    assert found["conviction_ratio"].needs == ("cases_convicted", "cases_acquitted")
    assert found["cost_per_exploitation_year_averted"].note.startswith("('none'")
    declared = reference_model.metadata["compare"]
    assert (declared["reference"], declared["primary"], declared["trajectories"]) == (
        "baseline",
        "exploitation_person_years",
        ["in_exploitation"],
    )


def test_declared_kinds_compute_what_they_say():
    m = _stock_model()
    m.metadata["indicators"] = {
        "level_end": {"label": "level at the end", "units": "item", "better": "higher", "value": "level"},
        "per_100": {
            "label": "level / spent",
            "units": "item/USD",
            "better": "higher",
            "ratio": ["level", "spent"],
            "scale": 100,
        },
        "cost": {
            "label": "spent / level lost vs the reference",
            "units": "USD/item",
            "better": "lower",
            "cost_per_averted": ["spent", "level"],
            "note": "inf: nothing averted",
        },
    }
    found = indicators(m)
    final = {"level": np.array([4.0, 2.0]), "spent": np.array([8.0, 0.0])}
    ref = {"level": np.array([5.0, 1.0]), "spent": np.array([1.0, 1.0])}
    assert found["level_end"].compute(final, None).tolist() == [4.0, 2.0]
    per = found["per_100"].compute(final, None)
    assert per[0] == 50.0 and np.isnan(per[1])  # no denominator: undefined
    cost = found["cost"].compute(final, ref)
    assert cost[0] == 8.0 and np.isinf(cost[1])  # one averted for 8; none averted
    assert np.isnan(found["cost"].compute(final, None)).all()  # the reference against itself


def test_a_model_that_declares_nothing_gets_generic_defaults_and_a_clear_error():
    m = _stock_model()
    with pytest.raises(ModelError, match=r"declares no indicators.*metrics=\[Metric"):
        ts.compare(m, n=4, seed=1)
    level = Metric("level_end", "level at the end", "item", "higher", final_value("level"), ("level",))
    c = ts.compare(m, metrics=[level], n=4, seed=1)
    assert c.reference == "slow" and c.strategies == ["slow", "fast"]  # the first strategy
    assert c.primary == "level_end"
    assert set(c.trajectories["slow"]) == {"level", "spent"}  # every stock's path
    assert c.panels == []


def test_declared_defaults_are_used_and_survive_a_round_trip(tmp_path):
    m = _stock_model()
    m.metadata["indicators"] = {
        "spent_end": {"label": "spent", "units": "USD", "better": "lower", "value": "spent"},
        "level_end": {"label": "level", "units": "item", "better": "higher", "value": "level"},
    }
    m.metadata["compare"] = {
        "reference": "fast",
        "primary": "level_end",
        "trajectories": ["level"],
        "figure": ["spent_end"],
    }
    for suffix in (".toml", ".xmile"):
        ts.save(m, tmp_path / f"pool{suffix}")
        again = ts.load(tmp_path / f"pool{suffix}")
        c = ts.compare(again, n=4, seed=1)
        assert c.reference == "fast", suffix
        assert c.primary == "level_end" and list(c.metrics) == ["spent_end", "level_end"]
        assert list(c.trajectories["fast"]) == ["level"] and c.panels == ["spent_end"]
        from trafficsys.plot.compare import plot_fan

        assert plot_fan(c).get_lines()  # the first kept trajectory by default


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            {"label": "x", "units": "item", "better": "lower"},
            "needs exactly one of value, ratio, cost_per_averted",
        ),
        ({"units": "item", "better": "lower", "value": "level"}, "needs label"),
        (
            {"label": "x", "units": "item", "better": "down", "value": "level"},
            "better must be 'lower' or 'higher'",
        ),
        ({"label": "x", "units": "item", "better": "lower", "value": "levle"}, "uses 'levle'.*level"),
        ({"label": "x", "units": "item", "better": "lower", "ratio": ["level"]}, "ratio must be a list"),
        ("level", "must be a table"),
    ],
)
def test_bad_declarations_name_the_indicator(spec, message):
    m = _stock_model()
    m.metadata["indicators"] = {"broken": spec}
    with pytest.raises(ModelError, match=message) as info:
        indicators(m)
    assert "[metadata.indicators.broken]" in str(info.value)


def test_bad_compare_defaults_are_refused():
    m = _stock_model()
    m.metadata["compare"] = {"trajectories": "level"}
    level = Metric("level_end", "level at the end", "item", "higher", final_value("level"), ("level",))
    with pytest.raises(ModelError, match=r"\[metadata.compare\] trajectories must be a list of names"):
        ts.compare(m, metrics=[level], n=4, seed=1)


def test_the_old_constant_still_reads_the_reference_model():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from trafficsys.scenarios import METRICS
    assert list(METRICS) == REFERENCE_INDICATORS
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def _string_constants(path):
    """The string constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    }


#: reference-model words generic code still uses, and why
ALLOWED = {
    ("analysis/blocks/report.py", "baseline"): "the heading's word for 'no scenario'",
}


def test_generic_code_names_no_variable_indicator_or_strategy_of_the_reference_model(reference_model):
    words = set(reference_model.names()) | set(indicators(reference_model)) | set(reference_model.scenarios)
    src = REPO / "src" / "trafficsys"
    found = [
        f"{path.relative_to(src)}: {word!r}"
        for path in sorted(src.rglob("*.py"))
        for word in sorted(_string_constants(path) & words)
        if (str(path.relative_to(src)), word) not in ALLOWED
    ]
    assert not found, found
