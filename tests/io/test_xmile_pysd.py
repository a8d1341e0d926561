"""PySD runs our XMILE export of every model in models/ with our engine's trajectories (Euler, same DT)."""

import numpy as np
import pytest

import trafficsys as ts

pytest.importorskip("pysd")

from support import REPO

from trafficsys.io.pysd_bridge import pysd_frame, to_pysd  # noqa: E402

ROOT = REPO
MODELS = [p for p in sorted((ROOT / "models").rglob("*.toml")) if ts.load(p).stocks]


def worst_relative_difference(model):
    ref = pysd_frame(model, saveper=model.dt)
    ours = ts.simulate(model, method="euler", saveper=model.dt).to_pandas()
    common = [c for c in ref.columns if c in ours.columns]
    assert len(common) >= len(model.stocks)
    assert np.allclose(ours.index.to_numpy(float), ref.index.to_numpy(float))
    worst, where = 0.0, ""
    for c in common:
        r = ref[c].to_numpy(float)
        g = ours[c].to_numpy(float)
        err = np.max(np.abs(g - r) / np.maximum(np.abs(r), 1e-12))
        if err > worst:
            worst, where = float(err), c
    return worst, where


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_pysd_matches_our_engine_on_every_shipped_model(path):
    m = ts.load(path)
    m.set_specs(method="euler")
    worst, where = worst_relative_difference(m)
    assert worst <= 1e-6, f"{path.name}: {where} differs by {worst:.2e}"


def test_uneven_lookup_points_survive_the_trip_to_pysd():
    # PySD prefers <xscale> over <xpts>; the writer must not let it spread uneven points evenly
    m = ts.Model("lk", stop=2, dt=0.5)
    m.lookup("effect", [(0, 0), (0.5, 0.6), (1, 1), (4, 1.8)])
    m.stock("s", 1, inflows=["grow"])
    m.flow("grow", "effect(TIME / 2 + 0.5)")
    worst, where = worst_relative_difference(m)
    assert worst <= 1e-12, where


def test_to_pysd_returns_a_runnable_model(tmp_path):
    m = ts.Model("decay", stop=4, dt=0.25)
    m.constant("k", 0.5)
    m.stock("x", 8, outflows=["loss"])
    m.flow("loss", "k * x")
    pm = ts.io.to_pysd(m, tmp_path)  # the two-line check the issue promises
    assert ts.io.to_pysd is to_pysd
    df = pm.run(return_timestamps=[4.0])
    assert df["x"].iloc[-1] == pytest.approx(8 * (1 - 0.5 * 0.25) ** 16, rel=1e-12)
    assert (tmp_path / "decay.xmile").exists()


def test_arrayed_model_runs_in_pysd_through_flattening(tmp_path):
    from trafficsys.model.elements import Aux, Flow, Stock

    m = ts.Model("regions", stop=3, dt=0.5)
    m.dimension("region", ["north", "south"])
    m.add(Aux("rate", dimensions=("region",), equation="0.1", per_element=(("south", "0.3"),)))
    m.add(Stock("pop", dimensions=("region",), initial="100", outflows=("loss",)))
    m.add(Flow("loss", dimensions=("region",), equation="rate[region] * pop[region]"))
    m.aux("total", "SUM(pop[*])")
    ref = pysd_frame(m, saveper=m.dt, directory=tmp_path)
    ours = ts.simulate(m).to_pandas()
    assert {"pop[north]", "pop[south]", "total"} <= set(ref.columns)
    for c in ("pop[north]", "pop[south]", "loss[south]", "total"):
        assert ref[c].to_numpy() == pytest.approx(ours[c].to_numpy(), rel=1e-12)
    assert ref["pop[south]"].iloc[-1] == pytest.approx(100 * 0.85**6, rel=1e-12)


def test_elements_without_an_equation_of_their_own_are_written_out(tmp_path):
    """XMILE gives an arrayed variable one equation or one per element: an element the model leaves to the
    variable's equation is written out, so that PySD reads it, and our reader restores the model as it was."""
    import xml.etree.ElementTree as ET

    import pysd

    mdl = tmp_path / "partly.mdl"
    mdl.write_text(
        "Dims: A, B, C ~~|\nv[A] = 5 * Time ~~|\nv[C] = -Time ~~|\ns = INTEG(v[B] + 1, 0) ~~|\n"
        "INITIAL TIME = 0 ~~|\nFINAL TIME = 3 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n",
        encoding="utf-8",
    )
    m = ts.load(mdl)
    path = tmp_path / "m.xmile"
    ts.save(m, path)
    keys = [e.get("subscript") for e in ET.parse(path).getroot().iter() if e.tag.endswith("}element")]
    assert sorted(keys) == ["a", "b", "c"]
    back = ts.load(path)
    assert back["v"].per_element == m["v"].per_element  # "b" is not an override of its own
    ours = ts.simulate(m).to_pandas()
    theirs = pysd.read_xmile(str(path)).run()
    np.testing.assert_allclose(theirs["v[b]"].to_numpy(float), ours["v[b]"].to_numpy(float))
    np.testing.assert_allclose(theirs["v[a]"].to_numpy(float), ours["v[a]"].to_numpy(float))
