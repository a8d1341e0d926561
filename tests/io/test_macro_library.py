"""Macros from a file of their own: ``ts.load(path, macros=FILE)`` for XMILE and Vensim models."""

from __future__ import annotations

import numpy as np
import pytest

import trafficsys as ts
from trafficsys.errors import FileFormatError, UnsupportedFeatureError

#: a Vensim macro library: a macro with a stock of its own, and one of a single expression
LIBRARY_MDL = """{UTF-8}
:MACRO: ACCUM(rate)
ACCUM = INTEG(rate, 0)
\t~\trate
\t~\tthe running total of its input
\t|

:END OF MACRO:
:MACRO: TWICE(x)
TWICE = 2 * helper
\t~\tx
\t~\t|

helper = x
\t~\tx
\t~\t|

:END OF MACRO:
"""

LIBRARY_XMILE = """<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0" version="1.0">
  <header><vendor>test</vendor><product>test</product></header>
  <macro name="ACCUM">
    <parm>rate</parm>
    <eqn>total</eqn>
    <variables>
      <stock name="total"><eqn>0</eqn><inflow>inflow</inflow></stock>
      <flow name="inflow"><eqn>rate</eqn></flow>
    </variables>
  </macro>
  <macro name="TWICE"><parm>x</parm><eqn>2 * x</eqn></macro>
</xmile>
"""


def _xmile_model(extra: str = "") -> str:
    return f"""<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0" version="1.0">
  <header><vendor>test</vendor><product>test</product></header>
  <sim_specs method="Euler"><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
  {extra}
  <model><variables>
    <aux name="a"><eqn>ACCUM(1)</eqn></aux>
    <aux name="b"><eqn>ACCUM(3)</eqn></aux>
    <aux name="c"><eqn>TWICE(a)</eqn></aux>
  </variables></model>
</xmile>
"""


def _final(m) -> dict[str, float]:
    df = ts.simulate(m).to_pandas()
    return {k: float(df[k].iloc[-1]) for k in ("a", "b", "c")}


@pytest.mark.parametrize("library", ["lib.mdl", "lib.xmile"])
def test_xmile_model_takes_macros_from_a_library_each_call_its_own_stock(tmp_path, library):
    (tmp_path / "lib.mdl").write_text(LIBRARY_MDL)
    (tmp_path / "lib.xmile").write_text(LIBRARY_XMILE)
    (tmp_path / "m.xmile").write_text(_xmile_model())
    m = ts.load(tmp_path / "m.xmile", macros=tmp_path / library)
    # Euler, DT 1, t = 0..4: a = 1 * 4, b = 3 * 4 (its own total), c = 2 * a
    assert _final(m) == pytest.approx({"a": 4.0, "b": 12.0, "c": 8.0})
    df = ts.simulate(m).to_pandas()
    np.testing.assert_allclose(df["b"].to_numpy(), [0, 3, 6, 9, 12])


def test_macro_file_found_from_the_model_folder(tmp_path, monkeypatch):
    (tmp_path / "lib.mdl").write_text(LIBRARY_MDL)
    (tmp_path / "m.xmile").write_text(_xmile_model())
    monkeypatch.chdir("/")
    m = ts.load(tmp_path / "m.xmile", macros="lib.mdl")  # relative: not in the current folder, so the model's
    assert _final(m)["b"] == pytest.approx(12.0)


def test_a_name_in_both_folders_is_the_model_folders_file(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "lib.mdl").write_text(LIBRARY_MDL)
    (folder / "m.xmile").write_text(_xmile_model())
    # the current folder's file of that name is not the model's
    (tmp_path / "lib.mdl").write_text("{UTF-8}\n")
    monkeypatch.chdir(tmp_path)
    assert _final(ts.load("model/m.xmile", macros="lib.mdl"))["b"] == pytest.approx(12.0)


def test_the_files_own_macro_wins(tmp_path):
    (tmp_path / "lib.mdl").write_text(LIBRARY_MDL)
    own = '<macro name="TWICE"><parm>x</parm><eqn>10 * x</eqn></macro>'
    (tmp_path / "m.xmile").write_text(_xmile_model(own))
    m = ts.load(tmp_path / "m.xmile", macros=tmp_path / "lib.mdl")
    assert _final(m)["c"] == pytest.approx(40.0)


def test_undefined_macro_is_refused_and_the_message_names_the_option(tmp_path):
    (tmp_path / "m.xmile").write_text(_xmile_model())
    with pytest.raises(UnsupportedFeatureError, match=r"accum\(\).*macros=FILE"):
        ts.load(tmp_path / "m.xmile")


def test_vensim_model_takes_macros_from_a_library(tmp_path):
    (tmp_path / "lib.mdl").write_text(LIBRARY_MDL)
    (tmp_path / "m.mdl").write_text(
        "{UTF-8}\nx = ACCUM(2)\n\t~\t~\t|\ny = TWICE(x)\n\t~\t~\t|\n"
        "INITIAL TIME = 0\n\t~\t~\t|\nFINAL TIME = 3\n\t~\t~\t|\nTIME STEP = 1\n\t~\t~\t|\n"
        "SAVEPER = TIME STEP\n\t~\t~\t|\n"
    )
    df = ts.simulate(ts.load(tmp_path / "m.mdl", macros="lib.mdl")).to_pandas()
    np.testing.assert_allclose(df["x"].to_numpy(), [0, 2, 4, 6])
    np.testing.assert_allclose(df["y"].to_numpy(), [0, 4, 8, 12])


def test_vensim_model_refuses_an_xmile_macro_file(tmp_path):
    (tmp_path / "lib.xmile").write_text(LIBRARY_XMILE)
    (tmp_path / "m.mdl").write_text(
        "{UTF-8}\nINITIAL TIME = 0\n\t~\t~\t|\nFINAL TIME = 3\n\t~\t~\t|\nTIME STEP = 1\n\t~\t~\t|\n"
    )
    with pytest.raises(FileFormatError, match="from .mdl files"):
        ts.load(tmp_path / "m.mdl", macros="lib.xmile")


def test_macro_with_extra_outputs_cannot_go_to_xmile(tmp_path):
    (tmp_path / "lib.mdl").write_text(
        "{UTF-8}\n:MACRO: SPLIT(x : rest)\nSPLIT = x / 2\n\t~\t~\t|\nrest = x / 2\n\t~\t~\t|\n:END OF MACRO:\n"
    )
    (tmp_path / "m.xmile").write_text(_xmile_model())
    with pytest.raises(UnsupportedFeatureError, match="extra outputs"):
        ts.load(tmp_path / "m.xmile", macros="lib.mdl")


def test_macro_with_a_lookup_cannot_go_to_xmile(tmp_path):
    (tmp_path / "lib.mdl").write_text(
        "{UTF-8}\n:MACRO: SHAPE(x)\nSHAPE = tab(x)\n\t~\t~\t|\n"
        "tab([(0,0)-(1,1)],(0,0),(1,1))\n\t~\t~\t|\n:END OF MACRO:\n"
    )
    (tmp_path / "m.xmile").write_text(_xmile_model())
    with pytest.raises(UnsupportedFeatureError, match=r"macro SHAPE has lookups or subscripts \(tab\)"):
        ts.load(tmp_path / "m.xmile", macros="lib.mdl")


def test_macro_file_must_exist_define_macros_and_lie_in_the_model_folder(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "m.xmile").write_text(_xmile_model())
    (tmp_path / "outside.mdl").write_text(LIBRARY_MDL)
    with pytest.raises(FileFormatError, match="outside the model's folder"):
        ts.load(folder / "m.xmile", macros=tmp_path / "outside.mdl")
    with pytest.raises(FileFormatError, match="no such macro file"):
        ts.load(folder / "m.xmile", macros="nowhere.mdl")
    (folder / "empty.mdl").write_text("{UTF-8}\nx = 1\n\t~\t~\t|\n")
    with pytest.raises(FileFormatError, match="defines no macros"):
        ts.load(folder / "m.xmile", macros="empty.mdl")
    (folder / "sub").mkdir()
    (folder / "sub" / "lib.mdl").write_text(LIBRARY_MDL)  # below the model's folder: allowed
    assert _final(ts.load(folder / "m.xmile", macros=folder / "sub" / "lib.mdl"))["a"] == pytest.approx(4.0)


def test_options_that_do_not_apply_to_the_format_are_refused(tmp_path):
    src = ts.io.model_path("examples/exploitation_exit.toml")
    with pytest.raises(FileFormatError, match="does not apply"):
        ts.load(src, macros="lib.mdl")
    (tmp_path / "m.xmile").write_text(_xmile_model())
    with pytest.raises(FileFormatError, match="data= does not apply"):
        ts.load(tmp_path / "m.xmile", data="d.tab")
