"""TOML model files: lossless round trips, and clear errors for bad files."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from support import REPO
from support.strategies import models

import trafficsys as ts
from trafficsys.errors import DuplicateVariableError, FileFormatError, ParseError, UnknownVariableError
from trafficsys.io import toml_io
from trafficsys.io.resources import models_dir

REPO_MODELS = REPO / "models"
MODEL_FILES = sorted(REPO_MODELS.rglob("*.toml"))


# ---------------------------------------------------------------- round trips
def test_there_are_model_files_to_check():
    assert any(p.name == "exploitation_exit.toml" for p in MODEL_FILES)


@pytest.mark.parametrize("path", MODEL_FILES, ids=[str(p.relative_to(REPO_MODELS)) for p in MODEL_FILES])
def test_every_shipped_model_round_trips(path, tmp_path):
    m = ts.load(path)
    out = tmp_path / path.name
    ts.save(m, out)
    again = ts.load(out)
    assert again == m
    assert again.names() == m.names()  # variable order kept
    assert [again.equation_text(n) for n in again.names()] == [m.equation_text(n) for n in m.names()]
    assert toml_io.dumps(again) == toml_io.dumps(m)  # writing is stable


def test_equation_text_is_kept_exactly(tmp_path):
    m = ts.Model("exact", time_units="year")
    m.constant("k", 1e-05)
    m.aux("spaced", "k*2  +   k  ")
    m.aux("multi", "IF k > 0\nTHEN k\nELSE 0")
    m.aux("numeric_text", "1e3")
    m.aux("number", 1000)
    m.aux("quoted", '"k" * 2 {not a comment}'.split(" {")[0])
    m.stock("s", "2.50", inflows=["f"], units="person")
    m.flow("f", '"Spaced Name" * 0 + k', units="person/year")
    m.constant("Spaced Name", 2)
    ts.save(m, tmp_path / "m.toml")
    again = ts.load(tmp_path / "m.toml")
    assert again == m
    for name in ("spaced", "multi", "numeric_text", "number", "s", "f"):
        assert again.equation_text(name) == m.equation_text(name)
    text = (tmp_path / "m.toml").read_text()
    assert 'initial = "2.50"' in text and "equation = 1000\n" in text and 'equation = "1e3"' in text


def test_variable_order_survives_interleaved_kinds(tmp_path):
    m = ts.Model("order")
    m.constant("a", 1)
    m.stock("s", "a", inflows=["f"])
    m.constant("b", 2)
    m.flow("f", "b")
    m.aux("c", "a + b")
    m.constant("d", 3)
    ts.save(m, tmp_path / "o.toml")
    assert ts.load(tmp_path / "o.toml").names() == ["a", "s", "b", "f", "c", "d"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(models())
def test_generated_models_round_trip(m):
    text = toml_io.dumps(m)
    again = toml_io.loads(text)
    assert again == m, text
    assert toml_io.dumps(again) == text


# ------------------------------------------------------------------ CLD-only
def test_a_cld_only_file_is_a_model(tmp_path):
    path = tmp_path / "cld.toml"
    path.write_text(
        """# a hand-drawn causal-loop diagram
[variables."Trafficking visible"]
doc = "What the public sees."
role = "problem_symptom"

[[links]]
from = "Trafficking visible"
to = "ngo_raids"
polarity = "+"

[[links]]
from = "ngo_raids"
to = "Trafficking visible"
polarity = "-"
delay = true
note = "raids relieve the symptom"
strength = 0.5

[loops.raid_relief]
variables = ["trafficking_visible", "ngo_raids"]
polarity = "B"
""",
        encoding="utf-8",
    )
    m = ts.load(path)
    assert m.name == "cld" and len(m) == 0
    assert m.cld_variables == {
        "trafficking_visible": {
            "doc": "What the public sees.",
            "role": "problem_symptom",
            "label": "Trafficking visible",
        }
    }
    assert [(lk.source, lk.target, lk.polarity, lk.delay) for lk in m.links] == [
        ("trafficking_visible", "ngo_raids", "+", False),
        ("ngo_raids", "trafficking_visible", "-", True),
    ]
    m.validate()
    ts.save(m, tmp_path / "again.toml")
    assert ts.load(tmp_path / "again.toml") == m


# ---------------------------------------------------------------- bad files
def _write(tmp_path, text, name="bad.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_malformed_toml_gives_line_and_column(tmp_path):
    path = _write(tmp_path, '[model]\nname = "x"\nstop = \n')
    with pytest.raises(FileFormatError) as info:
        ts.load(path)
    msg = str(info.value)
    assert "bad.toml" in msg and "line 3, column 8" in msg and msg.count("^") == 1


def test_unknown_key_gives_did_you_mean_and_line(tmp_path):
    path = _write(tmp_path, '[model]\nname = "x"\n\n[stocks.pool]\ninitial = 1\ninflow = ["f"]\n')
    with pytest.raises(FileFormatError) as info:
        ts.load(path)
    msg = str(info.value)
    assert "[stocks.pool] inflow (line 6)" in msg and "did you mean 'inflows'?" in msg and "bad.toml" in msg


def test_unknown_table_gives_did_you_mean(tmp_path):
    path = _write(tmp_path, "[constant.k]\nvalue = 1\n")
    with pytest.raises(FileFormatError, match="unknown table 'constant'; did you mean 'constants'?"):
        ts.load(path)


@pytest.mark.parametrize(
    "body, fragment",
    [
        ('[constants.k]\nvalue = "high"\n', "[constants.k] value (line 2): must be a number, got 'high'"),
        ("[constants.k]\nvalue = 1\nrange = [1]\n", "must be [low, high], two numbers"),
        ('[constants.k]\nvalue = 1\ndistribution = "gauss"\n', "one of uniform, triangular"),
        ('[stocks.s]\ninitial = 1\ninflows = "f"\n', 'must be a list of names, e.g. ["a", "b"]'),
        ('[stocks.s]\ninitial = 1\nnon_negative = "yes"\n', "must be true or false"),
        ("[stocks.s]\ninflows = []\n", "'s' needs 'initial'"),
        ('[flows.f]\nunits = "person"\n', "'f' needs 'equation'"),
        ("[lookups.t]\npoints = [[0, 1, 2]]\n", "a list of [x, y] pairs"),
        ('[lookups.t]\npoints = [[0, 1]]\nextrapolation = "continous"\n', "did you mean 'continuous'?"),
        ('[model]\nmethod = "rk5"\n', "did you mean 'rk4'?"),
        ('[loops.l]\nvariables = ["a"]\npolarity = "+"\n', "one of 'R', 'B'"),
        ('[[links]]\nfrom = "a"\n', "link 1 needs 'to'"),
        ('[[links]]\nfrom = "a"\nto = "b"\npolarity = "positive"\n', "one of '+', '-', '?'"),
        ("[scenarios.s]\nset = { k = true }\n", "a table of name = number"),
        ("constants = 5\n", "'constants' must be a table"),
        ("[constants]\nk = 5\n", "'k' must be a table of keys"),
    ],
)
def test_wrong_types_are_named(tmp_path, body, fragment):
    with pytest.raises(FileFormatError) as info:
        ts.load(_write(tmp_path, body))
    assert fragment in str(info.value)
    assert "bad.toml" in str(info.value)


def test_bad_equation_in_a_file_names_file_variable_and_column(tmp_path):
    path = _write(tmp_path, '[auxiliaries.pressure]\nequation = "2 * (a + b"\n')
    with pytest.raises(ParseError) as info:
        ts.load(path)
    e = info.value
    assert e.variable == "pressure" and e.column == 11 and "bad.toml" in str(e)


def test_duplicate_names_across_tables(tmp_path):
    path = _write(tmp_path, '[constants.exit_rate]\nvalue = 1\n\n[auxiliaries."Exit Rate"]\nequation = "2"\n')
    with pytest.raises(DuplicateVariableError) as info:
        ts.load(path)
    assert "line 4" in str(info.value) and "bad.toml" in str(info.value)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(b'[model]\nname = "caf\xe9"\n')
    with pytest.raises(FileFormatError, match="not UTF-8 text \\(bad byte at line 2\\)"):
        ts.load(path)


def test_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.toml"
    with open(path, "wb") as fh:
        fh.truncate(ts.limits.current().file_size + 1)  # sparse: nothing is written
    t0 = time.process_time()
    with pytest.raises(ts.LimitError, match=r"over the limit \(file_size = 16\.0 MiB\)"):
        ts.load(path)
    assert time.process_time() - t0 < 1.0


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match="cannot read a '.json' file"):
        ts.load(tmp_path / "m.json")
    with pytest.raises(FileFormatError, match="no such file"):
        ts.load(tmp_path / "missing.toml")
    with pytest.raises(FileFormatError, match="cannot write a '.csv' file"):
        ts.save(ts.Model("x"), tmp_path / "m.csv")


def test_load_can_validate(tmp_path):
    path = _write(tmp_path, '[auxiliaries.a]\nequation = "b + 1"\n')
    assert len(ts.load(path)) == 1
    with pytest.raises(UnknownVariableError, match="uses 'b'"):
        ts.load(path, validate=True)


# ------------------------------------------------------------ shipped models
def test_models_dir_holds_the_repository_models():
    """A checkout uses the repository's models/; an installed wheel ships a copy of it."""
    shipped = {p.relative_to(models_dir()) for p in models_dir().rglob("*.toml")}
    assert shipped == {p.relative_to(REPO_MODELS) for p in MODEL_FILES}


def test_load_default_merges_the_strategies():
    strategies = REPO_MODELS / "strategies.toml"
    if not (REPO_MODELS / "anti_trafficking_ecosystem.toml").exists():
        pytest.skip("the reference model is not there yet")
    m = ts.load_default()
    assert m.name == "anti_trafficking_ecosystem"
    if strategies.exists():
        from trafficsys.io.toml_io import read_scenarios

        for sc in read_scenarios(strategies):
            assert m.scenarios[sc.name] == sc
    assert (
        ts.load_default(strategies=False).scenarios
        == ts.load(REPO_MODELS / "anti_trafficking_ecosystem.toml").scenarios
    )


def test_strategies_naming_an_unknown_variable(tmp_path):
    from trafficsys.io import merge_scenarios

    m = ts.load(REPO_MODELS / "examples" / "exploitation_exit.toml")
    path = _write(tmp_path, "[scenarios.bad]\nset = { self_exit_rte = 0.2 }\n", "strategies.toml")
    with pytest.raises(UnknownVariableError, match="scenario 'bad' sets 'self_exit_rte'.*'self_exit_rate'"):
        merge_scenarios(m, path)


def test_the_example_model_validates_and_reads_well():
    m = ts.load(REPO_MODELS / "examples" / "exploitation_exit.toml")
    assert m.validate() == []
    for c in m.constants:
        assert c.units and c.range and c.source, c.name
    text = toml_io.dumps(m)
    assert '\n[constants.recruitment_rate]\nvalue = 0.004\nunits = "1/year"\n' in text


@pytest.mark.parametrize(
    "text", ["a = " + "[" * 50_000 + "]" * 50_000, "a = " + "{b = " * 5_000 + "1" + "}" * 5_000]
)
def test_hostile_nesting_is_a_file_format_error(text):
    t0 = time.process_time()
    with pytest.raises(FileFormatError, match="nests too deeply"):
        toml_io.loads(text, file="hostile.toml")
    assert time.process_time() - t0 < 1.0
