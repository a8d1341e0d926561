"""Small hostile inputs fail with a ModelError naming the element, never a Python error."""

from __future__ import annotations

import numpy as np
import pytest

import trafficsys as ts
from trafficsys.errors import FileFormatError, StructureError
from trafficsys.model.elements import Extrapolation


@pytest.mark.parametrize("extrapolation", [Extrapolation.CONTINUOUS, Extrapolation.DISCRETE])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_lookup_point_is_refused_when_added(extrapolation, bad):
    m = ts.Model("m", start=0, stop=2, dt=1)
    m.aux("x", "TIME")
    with pytest.raises(StructureError) as e:
        m.lookup("g", [(0, 0), (1, bad), (2, 1)], input="x", extrapolation=extrapolation)
    assert e.value.variable == "g" and "point 2" in str(e.value)


def test_huge_pipeline_delay_gives_the_initial_value_in_every_mode():
    m = ts.Model("m", start=0, stop=3, dt=1)
    m.constant("d", 1e308)
    m.aux("x", "TIME + 1")
    m.aux("y", "DELAY(x, d, 7)")
    assert ts.simulate(m).to_pandas()["y"].tolist() == [7.0, 7.0, 7.0, 7.0]
    # one run with the huge delay beside runs with short ones (it used to raise IndexError)
    y = ts.simulate(m, params={"d": np.array([1e308, 1.0, 2.0])})["y"].values
    np.testing.assert_array_equal(y, [[7, 7, 7], [7, 1, 7], [7, 2, 1], [7, 3, 2]])


@pytest.mark.parametrize("start, stop, dt", [(0, 1, 5e-324), (-1e308, 1e308, 1.0)])
def test_time_settings_with_uncountable_steps_fail_validation_and_simulation(start, stop, dt):
    m = ts.Model("m", start=start, stop=stop, dt=dt)
    m.aux("x", "1")
    with pytest.raises(StructureError, match="too many steps"):
        m.validate()
    with pytest.raises(ts.ModelError, match="too many steps"):
        ts.simulate(m)


def test_huge_integer_in_toml_names_the_key(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text(
        '[model]\nname = "m"\nstart = 0\nstop = 1\ndt = 1\n\n[constants.k]\nvalue = ' + "9" * 400 + "\n"
    )
    with pytest.raises(FileFormatError) as e:
        ts.load(p)
    assert e.value.variable == "k" and "value" in str(e.value) and e.value.file == str(p)


def test_unknown_xml_encoding_is_a_file_format_error(tmp_path):
    p = tmp_path / "m.xmile"
    p.write_text(
        '<?xml version="1.0" encoding="no-such-encoding"?>'
        '<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"/>'
    )
    with pytest.raises(FileFormatError) as e:
        ts.load(p)
    assert "encoding" in str(e.value) and e.value.file == str(p)


def test_unknown_vensim_encoding_is_a_file_format_error(tmp_path):
    pytest.importorskip("pysd")
    p = tmp_path / "m.mdl"
    p.write_text("{no-such-encoding}\nx = 1\n~~|\n")
    with pytest.raises(FileFormatError) as e:
        ts.load(p)
    assert "encoding" in str(e.value) and e.value.file == str(p)


def _cut_mdl(tmp_path, text: str):
    p = tmp_path / "cut.mdl"
    p.write_text(text)
    return p


def test_truncated_vensim_file_names_the_last_complete_variable(tmp_path):
    pytest.importorskip("pysd")
    from mdl_text import mdl

    full = mdl("stock = INTEG(inflow, 10)\n\t~\t\n\t~\t|\n\ninflow = 2 * stock\n\t~\t\n\t~\t|\n")
    ok = _cut_mdl(tmp_path, full)
    assert ts.load(ok).validate() is not None  # the whole file reads
    cut = full[: full.index("2 * stock") + 3]  # mid-way through the second equation
    with pytest.raises(FileFormatError) as e:
        ts.load(_cut_mdl(tmp_path, cut))
    assert "cut off" in str(e.value) and "'stock'" in str(e.value) and e.value.file.endswith("cut.mdl")


def test_vensim_file_without_time_settings_is_refused(tmp_path):
    pytest.importorskip("pysd")
    p = _cut_mdl(tmp_path, "{UTF-8}\nx = 1\n\t~\t\n\t~\t|\n\ny = x * 2\n\t~\t\n\t~\t|\n")
    with pytest.raises(FileFormatError) as e:
        ts.load(p)
    assert "INITIAL TIME, FINAL TIME, TIME STEP" in str(e.value) and "'y'" in str(e.value)


# ------------------------------------------------- our own XMILE extension data
def _xmile_ext(tmp_path, var_ext: str | None = None, model_ext: str | None = None):
    m = ts.Model("m", start=0, stop=1, dt=1)
    m.constant("k", 1.0, range=(0, 2))
    m.aux("y", "k * 2")
    m.scenario("s", {"k": 1.5})
    p = tmp_path / "m.xmile"
    ts.save(m, p)
    text = p.read_text()
    if var_ext is not None:
        text = text.replace('<ts:extra>{"range": [0.0, 2.0]}</ts:extra>', f"<ts:extra>{var_ext}</ts:extra>")
    if model_ext is not None:
        start = text.index("<ts:trafficsys>") + len("<ts:trafficsys>")
        text = text[:start] + model_ext + text[text.index("</ts:trafficsys>") :]
    p.write_text(text)
    return p


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "var_ext, what",
    [
        ("[1, 2]", "must be a JSON object"),
        ('{"range": "wide"}', "'range' must be a list of two numbers"),
        ('{"range": [0, 1, 2]}', "'range' must be a list of two numbers"),
        ('{"source": 3}', "'source' must be text"),
        ('{"distribution": [1]}', "'distribution' must be"),
        (DEEP, "nested too deeply"),
    ],
)
def test_variable_extension_data_is_type_checked(tmp_path, var_ext, what):
    p = _xmile_ext(tmp_path, var_ext=var_ext)
    with pytest.raises(FileFormatError) as e:
        ts.load(p)
    assert what in str(e.value) and e.value.variable == "k" and e.value.file == str(p)
    assert "<ts:extra>" in str(e.value)


@pytest.mark.parametrize(
    "model_ext, what",
    [
        ("[]", "must be a JSON object"),
        ('{"scenarios": {"name": "s"}}', "'scenarios' must be a list of objects"),
        ('{"scenarios": [{"name": "s"}]}', "scenarios[0] has no 'set'"),
        ('{"scenarios": [{"name": "s", "set": [["k"]]}]}', "'set' must be a list of [name, value] pairs"),
        ('{"loops": [{"name": 1, "variables": []}]}', "loops[0]: 'name' must be text"),
        ('{"links": [{"source": "k", "target": "y", "delay": "yes"}]}', "'delay' must be true or false"),
        ('{"saveper": "often"}', "'saveper' must be a number"),
        ('{"order": [1, 2]}', "'order' must be a list of names"),
        ('{"metadata": [1]}', "'metadata' must be an object"),
        (DEEP, "nested too deeply"),
    ],
)
def test_model_extension_data_is_type_checked(tmp_path, model_ext, what):
    p = _xmile_ext(tmp_path, model_ext=model_ext)
    with pytest.raises(FileFormatError) as e:
        ts.load(p)
    assert what in str(e.value) and "<ts:trafficsys>" in str(e.value) and e.value.file == str(p)


def test_untouched_extension_data_still_round_trips(tmp_path):
    m = ts.load(_xmile_ext(tmp_path))
    assert m["k"].range == (0, 2) and "s" in m.scenarios


# ------------------------------------------------------------------ command line
def test_cli_internal_error_is_one_line_saying_it_is_a_bug(monkeypatch, capsys):
    from trafficsys import cli
    from trafficsys.commands import run

    def broken(args):
        raise KeyError("oops")

    monkeypatch.setattr(run, "run", broken)
    assert cli.main(["run"]) == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "bug" in err and "--debug" in err and "KeyError" in err
    with pytest.raises(KeyError):  # --debug shows the traceback, before or after the command
        cli.main(["run", "--debug"])
    with pytest.raises(KeyError):
        cli.main(["--debug", "run"])


def test_cli_model_error_is_one_line_without_traceback(tmp_path, capsys):
    from trafficsys import cli

    p = tmp_path / "m.toml"
    p.write_text('[model]\nname = "m"\nstart = 0\nstop = 1\ndt = 1\n\n[constants.time]\nvalue = 5\n')
    assert cli.main(["run", str(p)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "reserved" in err and "Traceback" not in err
    with pytest.raises(ts.ModelError):
        cli.main(["run", "--debug", str(p)])
