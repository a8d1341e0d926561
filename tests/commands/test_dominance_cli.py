"""`trafficsys dominance` as a newcomer runs it."""

import numpy as np
import pytest
from support.models import logistic

import trafficsys as ts
from trafficsys.cli import main


@pytest.fixture
def logistic_file(tmp_path):
    m = logistic(0.5, 1000, 10, stop=20, dt=0.125, k_range=(800, 1200), documented=True)
    path = tmp_path / "logistic.toml"
    ts.save(m, path)
    return path


def test_prints_the_dominant_loop_per_period(logistic_file, capsys, tmp_path):
    csv, png = tmp_path / "dom.csv", tmp_path / "dom.png"
    assert (
        main(["dominance", str(logistic_file), "--window", "0", "--csv", str(csv), "--plot", str(png)]) == 0
    )
    out = capsys.readouterr().out
    assert "2 feedback loops, 2 competing" in out
    lines = [ln.split() for ln in out.splitlines() if ln.strip().startswith(("R1", "B1"))]
    assert [ln[0] for ln in lines] == ["R1", "B1"] or [ln[0] for ln in lines] == ["B1", "R1"]
    section = out.split("Dominant loop per period")[1].splitlines()[2:]
    periods = [ln.split() for ln in section if ln.strip() and ln.split()[0][0].isdigit()]
    assert [p[2] for p in periods] == ["R1", "B1"]
    assert [" ".join(p[5:]) for p in periods] == ["births -> pop", "deaths -> pop"]
    switch = float(periods[1][0])
    assert abs(switch - np.log(99) / 0.5) < 0.5  # Euler with dt = 1/8 lags the analytic 9.19 a little
    assert csv.stat().st_size > 1000 and png.stat().st_size > 5000


def test_ensemble_shares(logistic_file, capsys):
    assert main(["dominance", str(logistic_file), "--runs", "50", "--window", "5"]) == 0
    out = capsys.readouterr().out
    assert "Share of 50 Monte Carlo runs" in out
    table = out.split("Share of 50 Monte Carlo runs")[1].splitlines()[1:]
    rows = [ln.split() for ln in table if ln.strip() and ln.split()[0][0].isdigit()]
    assert [float(r[0]) for r in rows] == [0, 5, 10, 15]  # the final time belongs to the last window
    header = next(ln.split() for ln in table if ln.strip())
    first, last = dict(zip(header, rows[0][1:])), dict(zip(header, rows[-1][1:]))
    assert first == {"R1": "100%", "B1": "0%"} and last == {"R1": "0%", "B1": "100%"}  # in every run


def test_bad_scenario_is_a_clear_error(logistic_file, capsys):
    assert main(["dominance", str(logistic_file), "--scenario", "nope"]) == 2
    assert "no scenario 'nope'" in capsys.readouterr().err


def test_reference_model_by_default(capsys):
    assert main(["dominance", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "for model 'anti_trafficking_ecosystem'" in out
    assert "... and" in out and "more (--top 0 lists them all)" in out
    assert "Loops the model names" in out  # the file's [loops.*] found among the scored loops
    assert "Dominant loop per period" in out
