"""One rule for names (trafficsys.model.names.name_problem), enforced by every way into a model."""

from __future__ import annotations

import pytest
from mdl_text import mdl

import trafficsys as ts
from trafficsys.errors import InvalidNameError

RESERVED = ["time", "dt", "StartTime", "STOPTIME", "DT"]


@pytest.mark.parametrize("name", RESERVED)
@pytest.mark.parametrize("kind", ["constant", "stock", "flow", "aux"])
def test_builder_refuses_reserved_names(name, kind):
    m = ts.Model("m")
    add = {
        "constant": lambda: m.constant(name, 1.0),
        "stock": lambda: m.stock(name, 1.0),
        "flow": lambda: m.flow(name, "1"),
        "aux": lambda: m.aux(name, "1"),
    }[kind]
    with pytest.raises(InvalidNameError) as e:
        add()
    assert e.value.variable == name and "reserved" in str(e.value) and "rename" in str(e.value)


def test_constant_dt_is_refused_not_replaced_by_the_step(tmp_path):
    # it used to load, and every equation reading DT got the step size instead of 5
    p = tmp_path / "m.toml"
    p.write_text(
        '[model]\nname = "m"\nstart = 0\nstop = 1\ndt = 1\n\n[constants.dt]\nvalue = 5\n\n'
        '[auxiliaries.y]\nequation = "dt * 2"\n'
    )
    with pytest.raises(InvalidNameError) as e:
        ts.load(p)
    assert e.value.file == str(p) and e.value.variable == "dt"


def _xmile_with(tmp_path, name: str):
    m = ts.Model("m", start=0, stop=1, dt=1)
    m.constant("placeholder", 1.0)
    m.aux("y", "placeholder * 2")
    p = tmp_path / "m.xmile"
    ts.save(m, p)
    p.write_text(p.read_text().replace('name="placeholder"', f'name="{name}"'))
    return p


@pytest.mark.parametrize("name", ["time", "StartTime"])
def test_xmile_reader_refuses_reserved_names(tmp_path, name):
    p = _xmile_with(tmp_path, name)
    with pytest.raises(InvalidNameError) as e:
        ts.load(p)
    assert e.value.file == str(p) and e.value.variable == name


def test_vensim_reader_renames_clock_names_with_a_warning(tmp_path):
    # In Vensim DT and STARTTIME are ordinary names (its clock is TIME STEP, INITIAL TIME): models from
    # DYNAMO define DT = TIME STEP.  The reader renames them, every use too, and says so; the values are
    # the model's own (DT = 0.5 here while the step is 1; STARTTIME = 3 while the run starts at 0).
    from trafficsys.io.vensim import RenamedVariableWarning

    p = tmp_path / "m.mdl"
    p.write_text(
        mdl("starttime = 3 ~~|\ny = starttime * 2 ~~|\nDT = 0.5 ~~|\nz = DT * 10 + Time ~~|\n", stop=1)
    )
    with pytest.warns(RenamedVariableWarning) as w:
        m = ts.load(p)
    msg = str(w[0].message)
    assert "'starttime' to 'starttime (model variable)'" in msg and "'DT' to 'DT (model variable)'" in msg
    assert "DT (model variable)" in m and "starttime (model variable)" in m
    df = ts.simulate(m).to_pandas()
    assert list(df["y"]) == [6, 6] and list(df["z"]) == [5, 6]
    # our own formats still refuse the name, with the clear message (test_constant_dt_is_refused...)
    with pytest.raises(InvalidNameError) as e:
        ts.Model("m").constant("DT", 0.5)
    assert "reserved" in str(e.value) and "rename" in str(e.value)


@pytest.mark.parametrize(
    "name, what",
    [
        ("x\x00y", "U+0000"),
        ("two\nlines", "U+000A"),
        ("tab\there", "U+0009"),
        ("a{note}", "brace"),
        ("a}b", "brace"),
    ],
)
def test_control_characters_and_braces_are_refused(name, what):
    m = ts.Model("m")
    with pytest.raises(InvalidNameError) as e:
        m.constant(name, 1.0)
    msg = str(e.value)
    assert what in msg and "\n" not in msg and "\x00" not in msg  # one printable line


def test_stella_line_break_in_a_name_is_a_space_and_round_trips(tmp_path):
    m = ts.Model("m", start=0, stop=1, dt=1)
    m.constant("police\\ncapacity", 2.0)
    m.aux("y", '"police\\ncapacity" * 2')
    assert m["police capacity"].name == "police capacity"
    for suffix in (".xmile", ".toml"):
        p = tmp_path / f"m{suffix}"
        ts.save(m, p)
        back = ts.load(p)
        assert [e.name for e in back] == ["police capacity", "y"]
        assert ts.simulate(back).to_pandas()["y"].iloc[-1] == 4.0


def test_escaped_backslash_before_n_in_an_equation_survives_xmile(tmp_path):
    m = ts.Model("m", start=0, stop=1, dt=1)
    m.constant("a\\b", 2.0)
    m.aux("y", '"a\\\\b" * 2')
    p = tmp_path / "m.xmile"
    ts.save(m, p)
    assert ts.simulate(ts.load(p)).to_pandas()["y"].iloc[-1] == 4.0
