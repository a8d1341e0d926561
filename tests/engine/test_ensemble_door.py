"""The one ensemble door: compare, sensitivity, calibration and dominance all run through it.

So each gets the same chunking (results independent of it, to the last bit),
executors (dask.distributed tested), progress bars (only on a terminal) and
arrayed constants.
"""

import io

import numpy as np
import pandas as pd
import pytest

import trafficsys as ts
import trafficsys.engine.ensemble as door
from trafficsys.analysis import loop_dominance
from trafficsys.engine.ensemble import run_ensemble
from trafficsys.scenarios.metrics import Metric, final_value


def model() -> ts.Model:
    m = ts.Model("door", stop=8, dt=0.25, time_units="year")
    m.constant("growth", 0.4, range=(0.2, 0.8), units="1/year")
    m.constant("capacity", 800, range=(500, 1200), units="person")
    m.constant("harvest_rate", 0.1, range=(0.0, 0.3), units="1/year", role="policy")
    m.stock("pop", 50, inflows=["births"], outflows=["harvest"], units="person", non_negative=True)
    m.flow("births", "growth * pop * (1 - pop / capacity)", units="person/year")
    m.flow("harvest", "harvest_rate * pop", units="person/year")
    m.aux("crowding", "pop / capacity", units="dimensionless")
    m.scenario("baseline", {"harvest_rate": 0.1})
    m.scenario("heavy", {"harvest_rate": 0.25})
    return m


POP = Metric("pop_final", "people at the end", "person", "higher", final_value("pop"), ("pop",))


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("dask.distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_chunks_do_not_change_a_bit():
    m = model()
    k = np.linspace(0.2, 0.8, 37)
    whole = run_ensemble(m, {"growth": k})
    pieces = run_ensemble(m, {"growth": k}, chunk_size=5)
    assert np.array_equal(whole.ds["pop"].values, pieces.ds["pop"].values)
    assert np.array_equal(whole.ledger["final"].values, pieces.ledger["final"].values)


def test_the_memory_budget_sets_the_chunks(monkeypatch):
    m = model()
    seen = []
    real = door.run_chunk

    def spy(model, params, *a, **k):
        seen.append(len(next(v for v in params.values() if np.ndim(v) == 1)))
        return real(model, params, *a, **k)

    monkeypatch.setattr(door, "run_chunk", spy)
    monkeypatch.setattr(door, "memory_budget", lambda: 10 * 8.0 * 50)  # about ten runs' working memory
    r = run_ensemble(m, {"growth": np.linspace(0.2, 0.8, 45)})
    assert len(seen) > 1 and sum(seen) == 45 and max(seen) < 45
    assert r.ds.sizes["run"] == 45


def test_an_ensemble_too_big_to_hold_is_refused_with_how_to_save_less():
    m = model()
    with ts.limits.override(memory=10_000):
        with pytest.raises(ts.ModelError, match="save fewer variables|save less often"):
            run_ensemble(m, {"growth": np.linspace(0.2, 0.8, 400)})


def test_progress_only_on_a_terminal(monkeypatch, capsys):
    m = model()
    run_ensemble(m, {"growth": np.linspace(0.2, 0.8, 20)}, chunk_size=5)
    assert "run/s" not in capsys.readouterr().err  # tests write to a pipe, not a terminal

    class Tty(io.StringIO):
        def isatty(self):
            return True

    fake = Tty()
    monkeypatch.setattr("sys.stderr", fake)
    run_ensemble(m, {"growth": np.linspace(0.2, 0.8, 20)}, chunk_size=5, desc="door test")
    assert "door test" in fake.getvalue() and "20/20" in fake.getvalue()


def test_compare_through_an_executor_is_bit_identical(client):
    m = model()
    here = ts.compare(m, ["baseline", "heavy"], metrics=[POP], n=40, seed=2, trajectories=["pop"])
    there = ts.compare(
        m,
        ["baseline", "heavy"],
        metrics=[POP],
        n=40,
        seed=2,
        trajectories=["pop"],
        executor=client,
        chunk_size=15,
    )
    for s in ("baseline", "heavy"):
        assert np.array_equal(here.values["pop_final"][s], there.values["pop_final"][s])
        assert np.array_equal(here.trajectories[s]["pop"], there.trajectories[s]["pop"])


def test_sensitivity_through_an_executor_is_bit_identical(client):
    m = model()
    here = ts.sensitivity(m, "pop", "morris", seed=1, trajectories=8)
    there = ts.sensitivity(
        m, "pop", "morris", seed=1, trajectories=8, executor=client.get_executor(), chunk_size=7
    )
    pd.testing.assert_frame_equal(here.table, there.table)
    with pytest.raises(ts.ModelError, match="unknown option"):
        ts.sensitivity(m, "pop", "morris", seed=1, trajectories=8, executer=client)


def test_calibrate_through_an_executor(client):
    m = model()
    truth = ts.simulate(m, params={"growth": 0.55})
    data = pd.Series(truth.ds["pop"].values[::4, 0], index=truth.ds["time"].values[::4], name="pop")
    fit = ts.calibrate(m, data, params=["growth"], ensemble={"executor": client, "chunk_size": 1})
    assert fit.values["growth"] == pytest.approx(0.55, rel=1e-6)


def test_compare_saves_only_what_its_result_needs(monkeypatch):
    m = model()
    saved = []
    real = door.run_ensemble

    def spy(*a, variables=None, **k):
        saved.append(variables)
        return real(*a, variables=variables, **k)

    monkeypatch.setattr(door, "run_ensemble", spy)
    ts.compare(m, ["baseline", "heavy"], metrics=[POP], n=10, seed=1, trajectories=["crowding"])
    assert saved and all(sorted(v) == ["crowding", "pop"] for v in saved)
    saved.clear()
    c = ts.compare(m, ["baseline", "heavy"], metrics=[POP], n=10, seed=1, trajectories="all")
    assert saved == [None, None] and "births" in c.trajectories["heavy"]


def test_dominance_of_an_ensemble_that_saved_only_its_stocks_reruns_it():
    m = model()
    mc = ts.monte_carlo(m, n=30, seed=4)
    assert mc.variables == ["pop"]
    full = ts.monte_carlo(m, n=30, seed=4, variables="all")
    a, b = loop_dominance(m, mc), loop_dominance(m, full)
    assert [lp.id for lp in a.loops] == [lp.id for lp in b.loops]
    np.testing.assert_array_equal(a.relative.values, b.relative.values)
    assert set(a.sampled) == {
        "growth",
        "capacity",
    }  # harvest_rate is a policy lever: monte_carlo does not sample it
