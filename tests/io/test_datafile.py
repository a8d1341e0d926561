"""Data files fill a Vensim model's data variables: ``ts.load(path, data=FILE)``, ``trafficsys run --data``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trafficsys as ts
from trafficsys.errors import DataFileError, FileFormatError
from trafficsys.io.datafile import DataFileWarning, read_data_file
from trafficsys.io.vensim.convert import MissingDataWarning

MODEL = """{UTF-8}
r:
\tnorth, south
\t~\t~\t|

x :INTERPOLATE:
\t~\tpeople
\t~\t|

y[r] :HOLD BACKWARD:
\t~\t~\t|

z = x + y[north] - y[south]
\t~\t~\t|

INITIAL TIME = 0
\t~\t~\t|
FINAL TIME = 3
\t~\t~\t|
TIME STEP = 0.5
\t~\t~\t|
SAVEPER = TIME STEP
\t~\t~\t|
"""

#: time down the rows: x has points at 0 and 2 (interpolated between), y[north] at 0, 2; y[south] at 0..3
DOWN = "Time,x,y[north],y[South]\n0,1,10,1\n1,,,2\n2,5,20,3\n3,,,4\n"
#: the same series with time across the columns, as Vensim's .tab export writes them
ACROSS = "Time\t0\t1\t2\t3\nx\t1\t\t5\t\ny[north]\t10\t\t20\t\ny[South]\t1\t2\t3\t4\n"


def _run(tmp_path, name: str, text: str | None = None, **kw):
    (tmp_path / "m.mdl").write_text(MODEL)
    if text is not None:
        (tmp_path / name).write_text(text)
    return ts.simulate(ts.load(tmp_path / "m.mdl", data=name, **kw)).to_pandas()


def _hand() -> dict[str, list[float]]:
    t = np.arange(0, 3.01, 0.5)
    x = np.interp(t, [0, 2], [1, 5])  # interpolated, held after the last point
    north = np.where(t < 2, 10.0, 20.0)  # held from each point until the next
    south = np.floor(t) + 1
    return {"x": list(x), "y[north]": list(north), "y[south]": list(south), "z": list(x + north - south)}


@pytest.mark.parametrize(("name", "text"), [("d.csv", DOWN), ("d.tab", ACROSS)])
def test_both_orientations_fill_the_data_variables(tmp_path, name, text):
    df = _run(tmp_path, name, text)
    for col, want in _hand().items():
        np.testing.assert_allclose(df[col].to_numpy(), want, err_msg=col)


def test_orientation_reported(tmp_path):
    (tmp_path / "a.tab").write_text(ACROSS)
    (tmp_path / "d.csv").write_text(DOWN)
    assert read_data_file(tmp_path / "a.tab").orientation == "time across the columns"
    assert read_data_file(tmp_path / "d.csv").orientation == "time down the rows"
    names = [s.name for s in read_data_file(tmp_path / "d.csv").series]
    assert names == ["x", "y[north]", "y[South]"]


def test_xlsx_sheet(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [line.split(",") for line in DOWN.strip().split("\n")]:
        sheet.append([float(c) if c.replace(".", "").isdigit() else (c or None) for c in row])
    book.save(tmp_path / "d.xlsx")
    df = _run(tmp_path, "d.xlsx")
    np.testing.assert_allclose(df["z"].to_numpy(), _hand()["z"])


def test_without_data_file_the_data_variables_are_missing(tmp_path):
    (tmp_path / "m.mdl").write_text(MODEL)
    with pytest.warns(MissingDataWarning, match="z read data variables"):
        ts.load(tmp_path / "m.mdl")


def test_columns_the_model_computes_or_lacks_are_not_used_and_named(tmp_path):
    text = "Time,x,y[north],y[south],z,other\n0,1,10,1,99,7\n2,5,20,3,99,7\n"
    with pytest.warns(DataFileWarning, match=r"2 series .* not used: z, other"):
        df = _run(tmp_path, "d.csv", text)
    assert df["z"].iloc[0] == pytest.approx(1 + 10 - 1)  # the model's equation, not the file's 99


def test_an_element_without_a_series_stays_missing(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = _run(tmp_path, "d.csv", "Time,x,y[north]\n0,1,10\n2,5,20\n")
    assert df["y[south]"].iloc[0] == pytest.approx(-(2.0**110))  # Vensim's :NA:


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Time,x\n0,1\n2,3\n1,4\n", r"row 4, column 1: time 1 does not come after the time before it \(2\)"),
        ("Time,x\n0,1\n1,lots\n", r"row 3, column 2: 'lots' is not a number \(x at time 1\)"),
        ("Time,x\n0,1\n,2\n", r"row 3, column 1: the time is blank"),
        (
            "Time,x,y[east]\n0,1,2\n",
            r"row 1, column 3: 'y\[east\]' names no element of data variable y \(\[r\]\)",
        ),
        ("Time,x[north]\n0,1\n", r"row 1, column 2: 'x\[north\]' names no element of data variable x"),
        ("Time,a,b\n0,1,2\n", r"none of the file's series is a data variable of the model .*x, y"),
        ("1,2,3\n4,5,6\n", r"cannot tell whether time runs down the rows or across the columns"),
        ("a,b\nc,d\n", r"cannot tell whether time runs down the rows or across the columns"),
        ("Time,x,x\n0,1,2\n", r"row 1, column 3: 'x' is given twice"),
        ("Time,x,\n0,1,2\n", r"row 1, column 3: a series without a name"),
    ],
)
@pytest.mark.filterwarnings("ignore::trafficsys.io.vensim.convert.MissingDataWarning")
def test_bad_data_files_name_file_row_and_column(tmp_path, text, match):
    with pytest.raises(DataFileError, match=match) as e:
        _run(tmp_path, "d.csv", text)
    assert e.value.file and e.value.file.endswith("d.csv")


def test_data_file_must_lie_in_the_model_folder_and_have_a_known_suffix(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "m.mdl").write_text(MODEL)
    (tmp_path / "d.csv").write_text(DOWN)
    with pytest.raises(FileFormatError, match="outside the model's folder"):
        ts.load(folder / "m.mdl", data=tmp_path / "d.csv")
    (folder / "d.json").write_text("{}")
    with pytest.raises(DataFileError, match="cannot read a '.json' data file"):
        ts.load(folder / "m.mdl", data="d.json")


def test_one_series_given_by_two_files_is_refused(tmp_path):
    (tmp_path / "m.mdl").write_text(MODEL)
    (tmp_path / "a.csv").write_text(DOWN)
    (tmp_path / "b.csv").write_text("Time,x\n0,1\n")
    with pytest.raises(DataFileError, match=r"'x' is also given by .*a.csv"):
        ts.load(tmp_path / "m.mdl", data=["a.csv", "b.csv"])


def test_cli_run_with_data(tmp_path, monkeypatch, capsys):
    from trafficsys.cli import main

    (tmp_path / "m.mdl").write_text(MODEL)
    (tmp_path / "d.tab").write_text(ACROSS)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "m.mdl", "--data", "d.tab", "--vars", "z", "--every", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [float(r[-1]) for r in rows] == pytest.approx(_hand()["z"][::2])
    assert main(["run", "m.mdl", "--data", "missing.tab"]) != 0
    err = capsys.readouterr().err
    assert "no such data file" in err and "Traceback" not in err


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.sampled_from(
                    ["", "Time", "x", "y[north]", ":NA:", "1e400", "nan", "-0", "2", "3.5", '"q"']
                ),
                st.text(alphabet="ab[],\t 0123456789.-e", max_size=6),
            ),
            max_size=5,
        ),
        max_size=6,
    ),
    st.sampled_from(["d.csv", "d.tab", "d.txt"]),
)
def test_any_table_is_read_or_refused_with_a_data_file_error(tmp_path, rows, name):
    path = tmp_path / name
    sep = "\t" if name == "d.tab" else ","
    path.write_text("\n".join(sep.join(r) for r in rows))
    try:
        table = read_data_file(path)
    except DataFileError as e:
        assert e.file == str(path)
        return
    for se in table.series:  # what is read is finite numbers at increasing times
        assert all(np.isfinite(se.values)) and list(se.times) == sorted(set(se.times))
