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
from support import REPO

import trafficsys as ts
from trafficsys.cli import build_parser, main

EXAMPLE = REPO / "models" / "examples" / "exploitation_exit.toml"


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


@pytest.mark.parametrize(
    "n, message",
    [
        (2.5, "whole number of runs"),
        ("10", "whole number of runs"),
        (True, "whole number of runs"),
        (0, "at least 1"),
    ],
)
def test_monte_carlo_run_count_is_a_whole_number(model, n, message):
    with pytest.raises(ts.ModelError, match=message):
        ts.monte_carlo(model, n=n, seed=1)


def test_negative_seed_is_a_model_error(model):
    with pytest.raises(ts.ModelError, match="seed must be a non-negative integer, got -1"):
        ts.monte_carlo(model, n=3, seed=-1)


def test_ensembles_larger_than_memory_are_refused_before_allocating(model, monkeypatch):
    from trafficsys import limits

    monkeypatch.setattr(limits, "available_memory", lambda: 1_000_000)  # a computer with 1 MB free
    with pytest.raises(ts.LimitError, match=r"more than the memory available now .*use fewer runs"):
        ts.monte_carlo(model, n=10_000, seed=1)
    with pytest.raises(ts.LimitError, match="more than the memory available now"):
        ts.simulate(model, params={"recruitment_rate": np.full(10_000, 0.004)})


@pytest.mark.parametrize("points", ["[[0, 0.5], [0.5, nan], [2, 1]]", "[[0, 0.5], [inf, 1]]"])
def test_lookup_points_must_be_finite_to_run(tmp_path, points):
    path = _variant(
        tmp_path, "points = [[0, 0], [0.5, 0.6], [1, 1], [2, 1.5], [4, 1.8]]", f"points = {points}"
    )
    with pytest.raises(ts.StructureError, match="finite numbers") as e:
        ts.simulate(ts.load(path))
    assert e.value.variable == "effect_of_effort"


# ------------------------------------------------------------------ analyses
def test_compare_takes_one_strategy_name_as_a_string(reference_model):
    c = ts.compare(reference_model, "survivor_led", metrics="exploitation_final", n=4, seed=1)
    assert c.strategies == ["baseline", "survivor_led"] and list(c.metrics) == ["exploitation_final"]


def test_compare_n_is_a_whole_number(reference_model):
    with pytest.raises(ts.ModelError, match="whole number of runs"):
        ts.compare(reference_model, ["survivor_led"], n=10.5, seed=1)


def test_compare_larger_than_memory_is_refused_before_sampling(reference_model, monkeypatch):
    from trafficsys import limits

    monkeypatch.setattr(limits, "available_memory", lambda: 1_000_000)
    with pytest.raises(ts.LimitError, match=r"more than the memory available now .*fewer futures"):
        ts.compare(reference_model, ["baseline", "survivor_led"], n=10_000, seed=1)


def test_drivers_of_an_unknown_or_the_same_strategy(reference_model):
    c = ts.compare(reference_model, ["survivor_led"], n=4, seed=1)
    with pytest.raises(ts.ModelError, match="no strategy 'survivor_lead' in this comparison; did you mean"):
        c.drivers("survivor_led", "survivor_lead")
    with pytest.raises(ts.ModelError, match="two different strategies"):
        c.drivers("survivor_led", "survivor_led")


@pytest.mark.parametrize("bound", [0, -1, 2.5, "8"])
def test_loop_length_bound_must_be_at_least_one(model, bound):
    cld = model.cld()
    with pytest.raises(ts.ModelError, match="length_bound must be a whole number of at least 1"):
        cld.loops(bound)
    with pytest.raises(ts.ModelError, match="length_bound must be a whole number of at least 1"):
        ts.archetypes(cld, length_bound=bound)


def test_archetypes_takes_one_kind_as_a_string(model):
    cld = model.cld()
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


@pytest.mark.parametrize(
    "where, message",
    [("missing/m.toml", "does not exist; create it first"), ("folder.toml", "this is a folder")],
)
def test_saving_where_it_cannot_be_written(tmp_path, model, where, message):
    (tmp_path / "folder.toml").mkdir()
    (tmp_path / "folder.dot").mkdir()
    with pytest.raises(ts.FileFormatError, match=message) as e:
        ts.save(model, tmp_path / where)
    assert e.value.file == str(tmp_path / where)
    with pytest.raises(ts.FileFormatError, match=message):
        ts.io.write_graph(model, tmp_path / where.replace(".toml", ".dot"))


def test_figure_with_a_bad_path_or_suffix(tmp_path, reference_model):
    import matplotlib

    matplotlib.use("Agg")
    c = ts.compare(reference_model, ["survivor_led"], n=4, seed=1)
    with pytest.raises(ts.FileFormatError, match=r"suffix '\.xyz'; use one of .*\.png"):
        c.figure(tmp_path / "compare.xyz")
    with pytest.raises(ts.FileFormatError, match="does not exist"):
        c.figure(tmp_path / "missing" / "compare.png")


# ------------------------------------------------------------------ the command line
def _usage_error(capsys, argv: list[str], *expected: str) -> None:
    """argparse refuses the option value: status 2, usage and one error line, nothing run."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    for text in expected:
        assert text in err, err


def test_top_level_help_keeps_each_command_on_one_line(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out, _ = capsys.readouterr()
    for name in ("archetypes", "dominance"):
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(name))
        assert line.strip() != name, f"the help of '{name}' is on the next line:\n{out}"


def test_every_command_describes_the_model_argument_the_same_way():
    sub = build_parser()._subparsers._group_actions[0].choices
    for name, parser in sub.items():
        model = next(a for a in parser._actions if a.dest == "model")
        assert ".mdl" in model.help and "default: the reference model" in model.help, name


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "--every", "0"], "argument --every: must be a positive number"),
        (["run", "--every", "nan"], "argument --every: must be a positive number"),
        (["compare", "--seed", "-1"], "argument --seed: must be at least 0"),
        (["dominance", "--runs", "-3"], "argument --runs: must be at least 0"),
        (["dominance", "--window", "nan"], "argument --window: must be a non-negative number"),
        (["dominance", "--top", "-1"], "argument --top: must be at least 0"),
        (["loops", "--length-bound", "0"], "argument --length-bound: must be at least 1"),
        (["loops", "--max-loops", "-1"], "argument --max-loops: must be at least 1"),
        (["archetypes", "--length-bound", "-2"], "argument --length-bound: must be at least 1"),
        (["archetypes", "--top", "x"], "argument --top: expected a whole number"),
    ],
)
def test_bad_option_values_are_refused_before_any_work(capsys, argv, expected):
    _usage_error(capsys, [*argv, str(EXAMPLE)], expected)


def test_run_every_finer_than_the_saved_times_shows_each_saved_time(capsys):
    assert main(["run", str(EXAMPLE), "--every", "1e-9"]) == 0  # used to allocate 149 GiB
    out, _ = capsys.readouterr()
    assert len([ln for ln in out.splitlines() if ln.strip()[:1].isdigit()]) == 161


def test_run_of_an_empty_file_says_there_is_nothing_to_simulate(tmp_path, capsys):
    path = tmp_path / "empty.toml"
    path.write_text("")
    _cli_error(capsys, ["run", str(path)], "nothing to simulate", str(path))


def test_run_list_names_the_kinds_in_plain_words(capsys):
    assert main(["run", str(EXAMPLE), "--list"]) == 0
    out, _ = capsys.readouterr()
    assert "auxiliaries (1): police_share_of_exits" in out and "auxs" not in out
    assert "graphical functions (1): effect_of_effort" in out


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "--csv", "{tmp}/missing/out.csv"], "does not exist; create it first"),
        (["run", "--csv", "{tmp}"], "this is a folder"),
        (["compare", "--n", "5", "--figure", "{tmp}/compare.xyz"], "use one of"),
        (["compare", "--n", "5", "--figure", "none", "--csv", "{tmp}/missing/c.csv"], "does not exist"),
        (["dominance", "--plot", "{tmp}/missing/d.png"], "does not exist"),
        (["dominance", "--csv", "{tmp}"], "this is a folder"),
        (["loops", "--csv", "{tmp}/missing/l.csv"], "does not exist"),
        (["export", "--to", "{tmp}/missing/m.xmile"], "does not exist"),
        (["export", "--to", "{tmp}", "--force"], "this is a folder"),
        (["export", "--to", ".toml"], "give the file a name before the suffix, e.g. model.toml"),
    ],
)
def test_unwritable_outputs_fail_before_the_work(tmp_path, capsys, argv, expected):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main([*argv, str(EXAMPLE)]) == 2
    out, err = capsys.readouterr()
    assert out == "", "the error came after the work"
    assert expected in err and "Traceback" not in err and err.count("\n") == 1


def test_compare_checks_drivers_before_the_long_run(capsys):
    _cli_error(
        capsys,
        [
            "compare",
            str(EXAMPLE),
            "--n",
            "5",
            "--figure",
            "none",
            "--drivers",
            "more_policing",
            "faster_exit",
        ],
        "--drivers: no strategy 'faster_exit'; did you mean 'faster_self_exit'?",
    )
    _cli_error(
        capsys,
        [
            "compare",
            str(EXAMPLE),
            "--n",
            "5",
            "--figure",
            "none",
            "--drivers",
            "more_policing",
            "more_policing",
        ],
        "two different strategies",
    )


def test_dominance_of_a_model_without_loops(tmp_path, capsys):
    path = tmp_path / "no_loops.toml"
    path.write_text('[stocks.x]\ninitial = 0\ninflows = ["f"]\n\n[flows.f]\nequation = "1"\n')
    _cli_error(capsys, ["dominance", str(path)], "no feedback loops")


def test_archetypes_top_zero_shows_all_and_top_n_shows_n(capsys):
    assert main(["archetypes", str(EXAMPLE), "--top", "0"]) == 0
    out_all, _ = capsys.readouterr()
    assert main(["archetypes", str(EXAMPLE), "--top", "1"]) == 0
    out_one, _ = capsys.readouterr()
    assert "showing the best" not in out_all and " 2. " in out_all
    assert "showing the best 1" in out_one and " 1. " in out_one and " 2. " not in out_one


def test_an_os_error_is_one_line_not_a_traceback(capsys, monkeypatch):
    from trafficsys.commands import run as run_command

    def refuse(path):
        raise PermissionError(13, "Permission denied", "m.toml")

    monkeypatch.setattr(run_command, "_load", refuse)
    _cli_error(
        capsys, ["run", "m.toml"], "trafficsys run: error: cannot read or write m.toml: Permission denied"
    )


def test_run_unknown_variable_points_to_list(capsys):
    _cli_error(
        capsys,
        ["run", str(EXAMPLE), "--vars", "at_risk", "nope"],
        f"in {EXAMPLE} variable 'nope': the results have no variable 'nope'",
        "run --list",
    )


def test_validate_warns_about_an_empty_file(tmp_path, capsys):
    path = tmp_path / "empty.toml"
    path.write_text("# nothing yet\n")
    assert main(["validate", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert "warning: the model defines no variables and no causal links" in out


def test_the_same_option_names_work_across_commands():
    from trafficsys.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["compare", "--runs", "5"]).n == 5
    assert parser.parse_args(["compare", "--n", "7"]).n == 7
    assert parser.parse_args(["dominance", "--figure", "d.png"]).plot == "d.png"
    assert parser.parse_args(["dominance", "--plot", "d.png"]).plot == "d.png"
