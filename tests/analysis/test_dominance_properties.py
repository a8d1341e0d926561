"""Invariants of Loops that Matter scores (hypothesis), on exact Euler trajectories of linear systems."""

import numpy as np
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import trafficsys as ts
from trafficsys.analysis import loop_dominance

coef = st.floats(0.1, 1.0).flatmap(lambda v: st.sampled_from([v, -v]))


def linear_model(via_aux=False):
    m = ts.Model("linear2", stop=3, dt=0.05)
    for name in ("a11", "a12", "a21", "a22"):
        m.constant(name, 0.5)
    m.stock("x", 1, inflows=["fx"])
    m.stock("y", 1, inflows=["fy"])
    if via_aux:  # the same model with y reaching fx through an intermediate variable
        m.aux("y_seen", "y")
        m.flow("fx", "a11 * x + a12 * y_seen")
    else:
        m.flow("fx", "a11 * x + a12 * y")
    m.flow("fy", "a21 * x + a22 * y")
    return m


def trajectory(a, x0, y0, dt=0.05, steps=60):
    """Exact Euler trajectories for each row of coefficients ``a`` (runs, 4)."""
    a = np.asarray(a, dtype=float)
    x = np.empty((steps + 1, len(a)))
    y = np.empty_like(x)
    x[0], y[0] = x0, y0
    for i in range(steps):
        fx = a[:, 0] * x[i] + a[:, 1] * y[i]
        fy = a[:, 2] * x[i] + a[:, 3] * y[i]
        x[i + 1], y[i + 1] = x[i] + dt * fx, y[i] + dt * fy
    fx = a[:, 0] * x + a[:, 1] * y
    fy = a[:, 2] * x + a[:, 3] * y
    dims = ("time", "run")
    return xr.Dataset(
        {
            "x": (dims, x),
            "y": (dims, y),
            "fx": (dims, fx),
            "fy": (dims, fy),
            "y_seen": (dims, y),
            **{n: ("run", a[:, i]) for i, n in enumerate(("a11", "a12", "a21", "a22"))},
        },
        coords={"time": dt * np.arange(steps + 1), "run": np.arange(len(a))},
    )


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.tuples(coef, coef, coef, coef), min_size=1, max_size=4), st.floats(0.5, 2), st.floats(-2, 2)
)
def test_relative_scores_partition_unity_and_polarity(coefs, x0, y0):
    ds = trajectory(coefs, x0, y0)
    d = loop_dominance(linear_model(), ds)
    assert len(d.loops) == 3 and len(d.partitions) == 1 and all(lp.competing for lp in d.loops)
    rel = d.relative.values  # (time, run, loop)
    total = np.abs(rel).sum(axis=2)
    active = np.abs(d.loop_scores.values).sum(axis=2) > 0
    np.testing.assert_allclose(total[active], 1.0)
    assert np.all(total[~active] == 0)
    # each loop's sign is its structural polarity: the product of the coefficients along it
    a = np.asarray(coefs)
    for k, lp in enumerate(d.loops):
        v = set(lp.variables)
        expected = {frozenset({"x", "fx"}): a[:, 0], frozenset({"y", "fy"}): a[:, 3]}.get(
            frozenset(v), a[:, 1] * a[:, 2]
        )
        signs = np.sign(rel[:, :, k])
        assert np.all((signs == 0) | (signs == np.sign(expected)[None, :]))
    # the ensemble is the single runs side by side
    for i in range(len(coefs)):
        single = loop_dominance(linear_model(), ds.isel(run=[i]))
        for lp in d.loops:
            other = next(q for q in single.loops if q.variables == lp.variables)
            np.testing.assert_allclose(
                d.relative.sel(loop=lp.id).isel(run=i).values,
                single.relative.sel(loop=other.id).isel(run=0).values,
            )


@settings(max_examples=12, deadline=None)
@given(st.tuples(coef, coef, coef, coef), st.floats(0.5, 2), st.floats(0.5, 2))
def test_an_intermediate_variable_does_not_change_loop_scores(a, x0, y0):
    """Chain-rule consistency (Schoenberg et al. 2020, appendix B)."""
    ds = trajectory([a], x0, y0)
    direct = loop_dominance(linear_model(), ds)
    chained = loop_dominance(linear_model(via_aux=True), ds)
    for lp in direct.loops:
        other = next(q for q in chained.loops if set(q.variables) - {"y_seen"} == set(lp.variables))
        assert other.polarity == lp.polarity
        np.testing.assert_allclose(
            direct.loop_scores.sel(loop=lp.id).values,
            chained.loop_scores.sel(loop=other.id).values,
            rtol=1e-9,
            atol=1e-12,
        )
