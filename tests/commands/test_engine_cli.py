"""``trafficsys run`` as a newcomer uses it."""

from __future__ import annotations

import pandas as pd

import trafficsys as ts
from trafficsys.cli import main


def small_model(path):
    m = ts.Model("clinic", stop=10, dt=0.5, time_units="year")
    m.constant("k", 0.2, units="1/year")
    m.stock("waiting", initial=100, outflows=["seen"], units="person", non_negative=True)
    m.stock("treated", initial=0, inflows=["seen"], units="person")
    m.flow("seen", "k * waiting", units="person/year")
    m.scenario("fast", {"k": 0.5})
    ts.save(m, path)
    return m


def test_run_prints_stocks_at_regular_times(tmp_path, capsys):
    path = tmp_path / "clinic.toml"
    small_model(path)
    assert main(["run", str(path), "--every", "5"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "waiting" in lines[1] and "treated" in lines[1] and "[person]" in lines[2]
    assert [ln.split()[0] for ln in lines[3:6]] == ["0", "5", "10"]
    assert "Conservation: 2 stocks" in out and "residual" in out


def test_run_scenario_vars_set_and_csv(tmp_path, capsys):
    path = tmp_path / "clinic.toml"
    small_model(path)
    csv = tmp_path / "out.csv"
    assert (
        main(["run", str(path), "--scenario", "fast", "--vars", "seen", "--method", "rk4", "--csv", str(csv)])
        == 0
    )
    out = capsys.readouterr().out
    assert "scenario 'fast': rk4" in out and "seen" in out
    df = pd.read_csv(csv, index_col="time")
    assert len(df) == 21 and df["k"].iloc[0] == 0.5
    assert main(["run", str(path), "--set", "k=0", "--vars", "waiting"]) == 0
    assert capsys.readouterr().out.splitlines()[-3].split()[-1] == "100"


def test_run_reports_mistakes_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "clinic.toml"
    small_model(path)
    assert main(["run", str(path), "--vars", "nope"]) == 2
    assert "no variable 'nope'" in capsys.readouterr().err
    assert main(["run", str(path), "--scenario", "slow"]) == 2
    assert "no scenario 'slow'" in capsys.readouterr().err
    assert main(["run", str(path), "--list"]) == 0
    assert "Scenarios: fast" in capsys.readouterr().out


def test_a_reader_that_stops_early_is_not_an_error(tmp_path):
    import subprocess
    import sys

    # every loop of the reference model: far more than a pipe buffer holds, so writing fails once closed
    script = (
        "import sys; from trafficsys.cli import main; sys.exit(main(['loops', '--all', '--structure-only']))"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()  # like `| head -c 10`: the pipe closes while the command still writes
    err = proc.stderr.read().decode()
    assert proc.wait() == 0 and "Traceback" not in err and "BrokenPipe" not in err


def test_run_set_outside_a_declared_range_says_so(tmp_path, capsys):
    m = ts.Model("clinic", stop=2, dt=1)
    m.constant("k", 0.2, range=(0.1, 0.3), units="1/year", source="assumption: test")
    m.stock("waiting", initial=100, outflows=["seen"], non_negative=True)
    m.flow("seen", "k * waiting")
    path = tmp_path / "clinic.toml"
    ts.save(m, path)
    assert main(["run", str(path), "--set", "k=0.25"]) == 0
    assert "outside" not in capsys.readouterr().err
    assert main(["run", str(path), "--set", "k=0.9"]) == 0
    err = capsys.readouterr().err
    assert "k = 0.9 is outside its declared range [0.1, 0.3]" in err and "assumption: test" in err


def test_run_seeds_the_random_functions(tmp_path, capsys):
    m = ts.Model("noisy", stop=2, dt=1)
    m.aux("noise", "NORMAL(0, 1)")
    m.stock("s", 0, inflows=["f"])
    m.flow("f", "noise")
    path = tmp_path / "noisy.toml"
    ts.save(m, path)

    def table(*extra):
        assert main(["run", str(path), "--vars", "noise", *extra]) == 0
        return capsys.readouterr().out

    assert table() == table("--seed", "0")  # the default seed is 0: the same run each time
    assert table("--seed", "7") == table("--seed", "7")
    assert table("--seed", "7") != table("--seed", "8")
    want = ts.simulate(m, seed=7).ds["noise"].values[-1, 0]
    assert f"{want:.4g}" in table("--seed", "7")
