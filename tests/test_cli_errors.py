"""Careless and hostile input: a clear error naming what to fix, never a traceback from numpy or pandas.

Through the Python API every mistake is a :class:`trafficsys.ModelError`
(or a TypeError for a wrong kind of argument, with a clear message); through
the command line it is one ``trafficsys COMMAND: error: ...`` paragraph and a
non-zero exit status.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import trafficsys as ts
from trafficsys.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "models" / "examples" / "exploitation_exit.toml"


@pytest.fixture(scope="module")
def model():
    return ts.load(EXAMPLE)


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text()
    assert old in text, f"the example model no longer contains {old!r}; update this test"
    path = tmp_path / "variant.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def _cli_error(capsys, argv: list[str], *expected: str) -> str:
    """Run the CLI; it must fail with status 2 and one error message containing ``expected``."""
    assert main(argv) == 2
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    assert "error:" in err
    for text in expected:
        assert text in err, err
    return err


# ------------------------------------------------------------------ the engine's front doors
def test_params_must_be_a_mapping(model):
    with pytest.raises(TypeError, match="params must be a mapping"):
        ts.simulate(model, params=[("recruitment_rate", 0.1)])
    with pytest.raises(TypeError, match="params must be a mapping"):
        ts.monte_carlo(model, n=2, params="recruitment_rate=0.1")


@pytest.mark.parametrize("value, shown", [(None, "None"), ([0.1, "x"], "'x'"), ({"a": 1}, "{'a': 1}")])
def test_params_value_that_is_not_a_number_names_the_constant(model, value, shown):
    with pytest.raises(ts.ModelError, match=r"'recruitment_rate' must be a number or an array") as e:
        ts.simulate(model, params={"recruitment_rate": value})
    assert e.value.variable == "recruitment_rate" and shown in str(e.value)


def test_scenario_of_the_wrong_type_is_a_clear_type_error(model):
    with pytest.raises(TypeError, match="scenario must be a scenario name, a Scenario or a mapping"):
        ts.simulate(model, scenario=3)


def test_simulation_set_refuses_nan_and_text(model):
    sim = ts.Simulation(model)
    sim.step(until=2)
    with pytest.raises(ts.ModelError, match="not finite") as e:
        sim.set(recruitment_rate=float("nan"))
    assert e.value.variable == "recruitment_rate"
    with pytest.raises(ts.ModelError, match="must be a number"):
        sim.set(recruitment_rate="fast")
    sim.run()  # the refused values changed nothing: the run still ends finite
    assert np.isfinite(sim.state["in_exploitation"])


@pytest.mark.parametrize("until", [float("nan"), float("inf"), "5"])
def test_simulation_step_needs_a_finite_time(model, until):
    sim = ts.Simulation(model)
    with pytest.raises(ts.ModelError, match=r"step\(until=...\) needs a finite time"):
        sim.step(until=until)


@pytest.mark.parametrize("n, message", [(2.5, "whole number of runs"), ("10", "whole number of runs"),
                                        (True, "whole number of runs"), (0, "at least 1")])
def test_monte_carlo_run_count_is_a_whole_number(model, n, message):
    with pytest.raises(ts.ModelError, match=message):
        ts.monte_carlo(model, n=n, seed=1)


def test_negative_seed_is_a_model_error(model):
    with pytest.raises(ts.ModelError, match="seed must be a non-negative integer, got -1"):
        ts.monte_carlo(model, n=3, seed=-1)


def test_ensembles_larger_than_memory_are_refused_before_allocating(model, monkeypatch):
    from trafficsys.engine import sampling

    monkeypatch.setattr(sampling, "_physical_memory", lambda: 1_000_000)  # a 1 MB computer
    with pytest.raises(ts.SimulationError, match=r"more than this computer's memory .*use fewer runs"):
        ts.monte_carlo(model, n=10_000, seed=1)
    with pytest.raises(ts.SimulationError, match="more than this computer's memory"):
        ts.simulate(model, params={"recruitment_rate": np.full(10_000, 0.004)})


@pytest.mark.parametrize("points", ["[[0, 0.5], [0.5, nan], [2, 1]]", "[[0, 0.5], [inf, 1]]"])
def test_lookup_points_must_be_finite_to_run(tmp_path, points):
    path = _variant(tmp_path, "points = [[0, 0], [0.5, 0.6], [1, 1], [2, 1.5], [4, 1.8]]", f"points = {points}")
    with pytest.raises(ts.StructureError, match="finite numbers") as e:
        ts.simulate(ts.load(path))
    assert e.value.variable == "effect_of_effort"


# ------------------------------------------------------------------ analyses
@pytest.fixture(scope="module")
def reference():
    return ts.load_default()


def test_compare_takes_one_strategy_name_as_a_string(reference):
    c = ts.compare(reference, "survivor_led", metrics="exploitation_final", n=4, seed=1)
    assert c.strategies == ["baseline", "survivor_led"] and list(c.metrics) == ["exploitation_final"]


def test_compare_n_is_a_whole_number(reference):
    with pytest.raises(ts.ModelError, match="whole number of runs"):
        ts.compare(reference, ["survivor_led"], n=10.5, seed=1)


def test_compare_larger_than_memory_is_refused_before_sampling(reference, monkeypatch):
    from trafficsys.engine import sampling

    monkeypatch.setattr(sampling, "_physical_memory", lambda: 1_000_000)
    with pytest.raises(ts.SimulationError, match=r"more than this computer's memory .*fewer futures"):
        ts.compare(reference, ["baseline", "survivor_led"], n=10_000, seed=1)


def test_drivers_of_an_unknown_or_the_same_strategy(reference):
    c = ts.compare(reference, ["survivor_led"], n=4, seed=1)
    with pytest.raises(ts.ModelError, match="no strategy 'survivor_lead' in this comparison; did you mean"):
        c.drivers("survivor_led", "survivor_lead")
    with pytest.raises(ts.ModelError, match="two different strategies"):
        c.drivers("survivor_led", "survivor_led")


@pytest.mark.parametrize("bound", [0, -1, 2.5, "8"])
def test_loop_length_bound_must_be_at_least_one(model, bound):
    cld = model.cld(numeric=False)
    with pytest.raises(ts.ModelError, match="length_bound must be a whole number of at least 1"):
        cld.loops(bound)
    with pytest.raises(ts.ModelError, match="length_bound must be a whole number of at least 1"):
        ts.archetypes(cld, length_bound=bound)


def test_archetypes_takes_one_kind_as_a_string(model):
    cld = model.cld(numeric=False)
    assert ts.archetypes(cld, kinds="fixes_that_fail") == ts.archetypes(cld, kinds=["fixes_that_fail"])


def test_loop_dominance_of_a_model_without_loops_says_so(tmp_path):
    path = tmp_path / "no_loops.toml"
    path.write_text('[stocks.x]\ninitial = 0\ninflows = ["f"]\n\n[flows.f]\nequation = "1"\n')
    m = ts.load(path)
    with pytest.raises(ts.ModelError, match="no feedback loops") as e:
        ts.loop_dominance(m, ts.simulate(m))
    assert e.value.file == str(path)


@pytest.mark.parametrize("window", [-1.0, float("nan"), "5"])
def test_dominance_window_must_be_a_time_span(model, window):
    dom = ts.loop_dominance(model, ts.simulate(model))
    with pytest.raises(ts.ModelError, match="window must be a finite time span >= 0"):
        dom.periods(window=window)


# ------------------------------------------------------------------ files in and out
def test_loading_a_folder_says_it_is_a_folder(tmp_path):
    with pytest.raises(ts.FileFormatError, match="this is a folder, not a model file"):
        ts.load(tmp_path)  # no suffix: it used to say "cannot read a '(no suffix)' file"


def test_loading_a_missing_relative_path_names_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ts.FileFormatError, match="no such file") as e:
        ts.load("modle.toml")
    assert str(tmp_path) in str(e.value) and e.value.file == "modle.toml"


def test_load_needs_a_path():
    with pytest.raises(TypeError, match="load needs the path of a model file"):
        ts.load(None)


@pytest.mark.parametrize("where, message", [("missing/m.toml", "does not exist; create it first"),
                                            ("folder.toml", "this is a folder")])
def test_saving_where_it_cannot_be_written(tmp_path, model, where, message):
    (tmp_path / "folder.toml").mkdir()
    (tmp_path / "folder.dot").mkdir()
    with pytest.raises(ts.FileFormatError, match=message) as e:
        ts.save(model, tmp_path / where)
    assert e.value.file == str(tmp_path / where)
    with pytest.raises(ts.FileFormatError, match=message):
        ts.io.write_graph(model, tmp_path / where.replace(".toml", ".dot"))


def test_figure_with_a_bad_path_or_suffix(tmp_path, reference):
    import matplotlib

    matplotlib.use("Agg")
    c = ts.compare(reference, ["survivor_led"], n=4, seed=1)
    with pytest.raises(ts.FileFormatError, match=r"suffix '\.xyz'; use one of .*\.png"):
        c.figure(tmp_path / "compare.xyz")
    with pytest.raises(ts.FileFormatError, match="does not exist"):
        c.figure(tmp_path / "missing" / "compare.png")
