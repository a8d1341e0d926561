"""Sensitivity: elasticities against analytic derivatives, Sobol against the Ishigami indices, Morris ranks."""

import numpy as np
import pytest

import trafficsys as ts
from trafficsys.analysis import METHODS, elasticities, morris, sensitivity, sobol
from trafficsys.errors import ModelError


def ishigami(a=7.0, b=0.1):
    m = ts.Model("ishigami", stop=1, dt=1)
    for x in ("x1", "x2", "x3"):
        m.constant(x, 0.5, range=(-np.pi, np.pi))
    m.aux("y", f"SIN(x1) + {a} * SIN(x2)^2 + {b} * x3^4 * SIN(x1)")
    return m


def ishigami_indices(a=7.0, b=0.1):
    """Analytic first-order and total Sobol indices (Ishigami & Homma 1990; Sobol' & Levitan 1999)."""
    pi = np.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    return np.array([v1, v2, 0]) / var, np.array([v1 + v13, v2, v13]) / var


def test_sobol_matches_the_analytic_ishigami_indices():
    r = sobol(ishigami(), "y", n=1024, seed=7)
    s1, st = ishigami_indices()
    np.testing.assert_allclose(r.table.loc[["x1", "x2", "x3"], "S1"], s1, atol=0.05)
    np.testing.assert_allclose(r.table.loc[["x1", "x2", "x3"], "ST"], st, atol=0.05)
    assert r.runs == 1024 * 5
    assert list(r.ranked().index) == ["x1", "x2", "x3"]  # by total index
    # same seed, same answer; the front door is the same code path
    again = sensitivity(ishigami(), "y", "sobol", n=1024, seed=7)
    np.testing.assert_array_equal(again.table.values, r.table.values)


def test_elasticities_of_a_closed_form_product():
    m = ts.Model("product", stop=1, dt=1)
    m.constant("a", 2.0)
    m.constant("b", 3.0)
    m.constant("c", 5.0)
    m.constant("unused", 0.0)
    m.aux("y", "a * b^2 / c")
    r = elasticities(m, "y")
    np.testing.assert_allclose(r.table.loc[["a", "b", "c"], "elasticity"], [1, 2, -1], rtol=1e-6)
    np.testing.assert_allclose(
        r.table.loc[["a", "b", "c"], "derivative"], [9 / 5, 12 / 5, -18 / 25], rtol=1e-6
    )
    assert r.table.loc["unused", "derivative"] == 0 and np.isnan(r.table.loc["unused", "elasticity"])
    assert r.runs == 2 * 4 + 1  # one vectorised ensemble: base plus two runs per constant


def test_elasticities_of_euler_exponential_decay():
    dt, stop, k, x0 = 0.25, 10, 0.2, 50.0
    m = ts.Model("decay", stop=stop, dt=dt)
    m.constant("k", k)
    m.constant("x0", x0)
    m.stock("x", "x0", outflows=["loss"])
    m.flow("loss", "k * x")
    n = int(stop / dt)
    r = elasticities(m, "x")  # final value x0 * (1 - k dt)^n
    np.testing.assert_allclose(r.table.loc["x0", "elasticity"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(r.table.loc["k", "elasticity"], -n * k * dt / (1 - k * dt), rtol=1e-5)
    np.testing.assert_allclose(r.table.loc["k", "base"], x0 * (1 - k * dt) ** n, rtol=1e-9)
    # any metric: the time-mean of x, and x at t=5
    at5 = elasticities(m, "x@5")
    np.testing.assert_allclose(at5.table.loc["k", "elasticity"], -20 * k * dt / (1 - k * dt), rtol=1e-5)
    peak = elasticities(m, "max(loss)")  # the outflow peaks at t=0: k * x0
    np.testing.assert_allclose(peak.table.loc[["k", "x0"], "elasticity"], [1, 1], rtol=1e-6)


def test_morris_screens_out_an_inert_constant():
    m = ts.Model("linear", stop=1, dt=1)
    m.constant("strong", 1, range=(0, 1))
    m.constant("weak", 1, range=(0, 1))
    m.constant("inert", 1, range=(0, 1))
    m.aux("y", "10 * strong + weak + 0 * inert")
    r = morris(m, "y", trajectories=20, seed=3)
    np.testing.assert_allclose(r.table.loc[["strong", "weak", "inert"], "mu_star"], [10, 1, 0], atol=1e-9)
    np.testing.assert_allclose(r.table["sigma"], 0, atol=1e-9)  # linear: no interactions
    assert list(r.ranked().index) == ["strong", "weak", "inert"]


def test_metrics_and_errors():
    m = ishigami()
    with pytest.raises(ModelError, match="unknown sensitivity method"):
        sensitivity(m, "y", "fast")
    with pytest.raises(ModelError, match="no such variable"):
        elasticities(m, "z")
    with pytest.raises(ModelError, match="unknown summary"):
        elasticities(m, "median(y)")
    bare = ts.Model("bare", stop=1, dt=1)
    bare.constant("a", 1)
    bare.aux("y", "a * 2")
    with pytest.raises(ModelError, match="no constant has a declared range"):
        sobol(bare, "y")
    with pytest.raises(ModelError, match="'y' is a aux|not a constant"):
        elasticities(bare, "y", constants=["y"])
    r = elasticities(bare, lambda ds: ds["y"].isel(time=-1).values * 3)
    assert r.table.loc["a", "elasticity"] == pytest.approx(1.0)
    assert set(METHODS) == {"elasticity", "morris", "sobol"}


@pytest.mark.parametrize("method", ["elasticity", "morris", "sobol"])
def test_plots_render(method, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    options = {"n": 256} if method == "sobol" else {}
    r = sensitivity(ishigami(), "y", method, seed=1, **options)
    ax = r.plot()
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == r.ranked().index[0]
    ax.figure.savefig(tmp_path / f"{method}.png")
    assert (tmp_path / f"{method}.png").stat().st_size > 5000
    assert method in r._repr_html_()


@pytest.mark.parametrize(
    "module",
    ["trafficsys.analysis.ltm", "trafficsys.analysis.sensitivity_methods", "trafficsys.analysis.calibration"],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0 and result.attempted > 0


def test_a_zero_width_range_is_not_varied():
    m = ishigami()
    m.constant("fixed", 5, range=(5, 5))
    r = morris(m, "y", trajectories=4, seed=1)
    assert "fixed" not in r.table.index and len(r.table) == 3
    with pytest.raises(ModelError, match="no range to vary over"):
        morris(m, "y", constants=["x1", "fixed"])


def test_a_sampled_combination_that_fails_is_named():
    m = ts.Model("fragile", stop=2, dt=1)
    m.constant("a", 1, range=(-1, 1))
    m.aux("y", "LN(a + 1.5)")  # NaN for a < -1.5: fine inside the range
    assert np.isfinite(morris(m, "y", trajectories=4, seed=1).table["mu_star"]).all()
    m.constant("b", 0, range=(-3, 3))
    m.aux("w", "LN(b + 1)")  # NaN for b < -1: sampled runs fail
    with pytest.raises(ts.SimulationError, match=r"with a=.*b=.*narrow the constants' ranges"):
        morris(m, "w", trajectories=4, seed=1)
