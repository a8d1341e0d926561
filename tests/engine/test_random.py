"""Random functions: seeded per run, reproducible, the same on every path, common across scenarios."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

import trafficsys as ts
from trafficsys.engine.ensemble import run_ensemble
from trafficsys.engine.expression import evaluate
from trafficsys.engine.runtime import _s_ndtri, _v_ndtri
from trafficsys.errors import UnsupportedFeatureError
from trafficsys.model.parser import parse

DRAWS = {
    "u": "RANDOM(2, 5)",
    "z": "NORMAL(mu, 2)",
    "ln": "LOGNORMAL(0.5, 0.25)",
    "e": "EXPRND(3)",
    "p": "POISSON(4)",
    "big": "POISSON(900)",
    "r01": "RANDOM_0_1()",
    "ru": "RANDOM_UNIFORM(-1, 1, 5)",
    "tn": "RANDOM_NORMAL(-1, 0.5, 0, 1, 7)",
    "te": "RANDOM_EXPONENTIAL(1, 4, 0.5, 2, 3)",
    "tt": "RANDOM_TRIANGULAR(2, 8, 1, 3, 10, 4)",
    "tp": "RANDOM_POISSON(3, 15, 4, 1, 2, 5)",
}


def noise_model(stop: float = 4.0, dt: float = 0.5, mu_range=None) -> ts.Model:
    m = ts.Model("noise", start=0, stop=stop, dt=dt)
    m.constant("mu", 10.0, range=mu_range)
    m.constant("other", 1.0)
    for name, eq in DRAWS.items():
        m.aux(name, eq)
    m.stock("s", 0, inflows=["f"])
    m.flow("f", "z * other")
    m.scenario("more", {"other": 2.0})
    return m


def _values(r: ts.Results, names=tuple(DRAWS)) -> np.ndarray:
    return np.stack([r.ds[v].values for v in names])


def test_a_run_is_reproducible_from_its_seed():
    m = noise_model()
    a, b = ts.simulate(m, seed=3), ts.simulate(m, seed=3)
    assert np.array_equal(_values(a), _values(b))
    assert np.array_equal(_values(ts.simulate(m)), _values(ts.simulate(m, seed=0)))  # None is seed 0
    c = ts.simulate(m, seed=4)
    for v in DRAWS:
        if v not in ("big",):
            assert not np.array_equal(a.ds[v].values, c.ds[v].values), v


def test_each_step_and_each_call_site_draws_anew():
    r = ts.simulate(noise_model(stop=20))
    u = r.ds["u"].values[:, 0]
    assert len(set(u.tolist())) == len(u)  # no repeats over 41 steps
    assert not np.array_equal(r.ds["r01"].values, r.ds["ru"].values)


def test_one_run_and_an_ensemble_draw_the_same_numbers_on_every_path():
    m = noise_model()
    one = ts.simulate(m, seed=11, backend="numpy")  # the kernel agrees to 1e-12 (below), not bit for bit
    many = ts.simulate(m, seed=11, params={"mu": [10.0] * 5}, backend="numpy")
    assert np.array_equal(_values(one)[:, :, 0], _values(many)[:, :, 0])  # run 0: the same bits
    assert not np.array_equal(_values(many)[:, :, 0], _values(many)[:, :, 1])  # each run its own stream
    chunked = run_ensemble(m, {"mu": np.full(5, 10.0)}, chunk_size=2, seed=11)
    assert np.array_equal(_values(chunked), _values(many))


def test_the_compiled_kernel_draws_the_same_numbers():
    pytest.importorskip("numba")
    m = noise_model()
    a = ts.simulate(m, seed=5, params={"mu": [10.0] * 4}, backend="numpy")
    b = ts.simulate(m, seed=5, params={"mu": [10.0] * 4}, backend="numba")
    np.testing.assert_allclose(_values(b), _values(a), rtol=1e-12, atol=0)


def test_strategies_are_compared_under_common_random_numbers():
    m = noise_model()
    base = run_ensemble(m, {"mu": np.full(4, 10.0)}, seed=2)
    more = run_ensemble(m, {"mu": np.full(4, 10.0)}, scenario="more", seed=2)
    # the scenario changes a constant, not the draws: the same noise in each run of both
    assert np.array_equal(_values(base), _values(more))
    np.testing.assert_allclose(more.ds["s"].values, 2 * base.ds["s"].values, rtol=1e-12)


def test_monte_carlo_seeds_the_random_functions_too():
    m = noise_model(mu_range=(5, 15))
    a = ts.monte_carlo(m, n=6, seed=1, variables="all")
    b = ts.monte_carlo(m, n=6, seed=1, variables="all")
    assert np.array_equal(a.ds["u"].values, b.ds["u"].values)
    assert not np.array_equal(a.ds["u"].values[:, 0], a.ds["u"].values[:, 1])


def _sample(eq: str, n: int = 20_000, seed: int = 1) -> np.ndarray:
    """n draws: one step each of n runs."""
    m = ts.Model("draws", start=0, stop=0, dt=1)
    m.constant("k", 0.0)
    m.aux("x", eq)
    m.stock("s", 0, inflows=["f"])
    m.flow("f", "0")
    r = ts.simulate(m, params={"k": np.zeros(n)}, seed=seed, backend="numpy")
    return r.ds["x"].values[0]


@pytest.mark.parametrize(
    "eq, dist",
    [
        ("RANDOM(2, 5)", stats.uniform(2, 3)),
        ("RANDOM_UNIFORM(-1, 1, 5)", stats.uniform(-1, 2)),
        ("RANDOM_0_1()", stats.uniform(0, 1)),
        ("NORMAL(10, 2)", stats.norm(10, 2)),
        ("LOGNORMAL(0.5, 0.25)", stats.lognorm(0.25, scale=np.exp(0.5))),
        ("EXPRND(3)", stats.expon(scale=3)),
        ("RANDOM_NORMAL(-1, 0.5, 0, 1, 7)", stats.truncnorm(-1, 0.5)),
        # Vensim: shift 0.5 below min 1, so it starts at 1; stretch 2; cut at 4
        ("RANDOM_EXPONENTIAL(1, 4, 0.5, 2, 3)", stats.truncexpon(1.5, loc=1, scale=2)),
    ],
)
def test_continuous_draws_follow_their_distribution(eq, dist):
    x = _sample(eq)
    assert stats.kstest(x, dist.cdf).pvalue > 1e-3
    lo, hi = dist.support()
    assert x.min() >= lo and x.max() <= hi


@pytest.mark.parametrize("mean", [0.5, 4.0, 60.0, 900.0])
def test_poisson_draws_have_the_poisson_mean_and_variance(mean):
    x = _sample(f"POISSON({mean})")
    assert np.array_equal(x, np.round(x)) and x.min() >= 0
    n = len(x)
    assert abs(x.mean() - mean) < 5 * np.sqrt(mean / n)
    assert abs(x.var() / mean - 1) < 5 * np.sqrt(2 / n) + (0.01 if mean > 500 else 0)
    if mean < 100:
        counts = np.bincount(x.astype(int))
        expected = stats.poisson(mean).pmf(np.arange(len(counts))) * n
        keep = expected > 20
        assert (
            stats.chisquare(counts[keep], expected[keep] * counts[keep].sum() / expected[keep].sum()).pvalue
            > 1e-3
        )


def test_vensim_triangular_draws_follow_the_truncated_distribution():
    x = _sample("RANDOM_TRIANGULAR(2, 8, 1, 3, 10, 4)")  # triangular on [1, 10], peak 3, kept in [2, 8]
    tri = stats.triang((3 - 1) / 9, loc=1, scale=9)
    lo, hi = tri.cdf(2), tri.cdf(8)
    assert x.min() >= 2 and x.max() <= 8
    assert stats.kstest(x, lambda y: (tri.cdf(y) - lo) / (hi - lo)).pvalue > 1e-3


def test_vensim_poisson_draws_are_shifted_stretched_and_truncated():
    x = _sample("RANDOM_POISSON(3, 15, 4, 1, 2, 5)")  # 1 + 2 * Poisson(4), kept in [3, 15]: counts 1..7
    counts = (x - 1) / 2
    assert np.array_equal(counts, np.round(counts)) and counts.min() >= 1 and counts.max() <= 7
    ks = np.arange(1, 8)
    pmf = stats.poisson(4).pmf(ks)
    expected = pmf / pmf.sum() * len(x)
    observed = np.array([(counts == k).sum() for k in ks])
    assert stats.chisquare(observed, expected).pvalue > 1e-3


@pytest.mark.parametrize(
    "eq, dist, discrete",
    [
        ("RANDOM_GAMMA(0, 100, 2.5, 1, 3, 1)", stats.gamma(2.5, loc=1, scale=3), False),
        ("RANDOM_BETA(0, 100, 2, 5, 1, 4, 2)", stats.beta(2, 5, loc=1, scale=4), False),
        ("RANDOM_BINOMIAL(0, 100, 0.3, 12, 0, 1, 3)", stats.binom(12, 0.3), True),
        ("RANDOM_NEGATIVE_BINOMIAL(0, 1000, 0.4, 3, 0, 1, 4)", stats.nbinom(3, 0.4, loc=3), True),
    ],
)
def test_vensim_draws_through_scipy_follow_their_distribution(eq, dist, discrete):
    x = _sample(eq, n=8000)
    if not discrete:
        assert stats.kstest(x, dist.cdf).pvalue > 1e-3
        return
    assert np.array_equal(x, np.round(x))
    ks, observed = np.unique(x, return_counts=True)
    expected = dist.pmf(ks) * len(x)
    keep = expected > 20
    assert (
        stats.chisquare(observed[keep], expected[keep] * observed[keep].sum() / expected[keep].sum()).pvalue
        > 1e-3
    )


def test_draws_through_scipy_are_truncated_and_leave_the_kernel_to_numpy():
    x = _sample("RANDOM_GAMMA(2, 5, 2, 0, 1, 1)", n=4000)
    assert x.min() >= 2 and x.max() <= 5
    tr = stats.gamma(2)
    lo, hi = tr.cdf(2), tr.cdf(5)
    assert stats.kstest(x, lambda y: (tr.cdf(y) - lo) / (hi - lo)).pvalue > 1e-3
    m = ts.Model("gamma", start=0, stop=1, dt=1)
    m.aux("g", "RANDOM_GAMMA(0, 10, 2, 0, 1, 1)")
    m.stock("s", 0, inflows=["f"])
    m.flow("f", "g")
    auto = ts.simulate(m, seed=3, backend="auto")
    assert np.array_equal(auto.ds["g"].values, ts.simulate(m, seed=3, backend="numpy").ds["g"].values)
    pytest.importorskip("numba")
    with pytest.raises(ts.UnsupportedFeatureError, match="RANDOM_GAMMA"):
        ts.simulate(m, backend="numba")


def test_the_inverse_normal_distribution_function_is_exact_to_rounding():
    p = np.concatenate([np.linspace(1e-9, 1 - 1e-9, 2001), 10.0 ** -np.arange(1, 300, 7.0)])
    want = special.ndtri(p)
    got = _v_ndtri(p)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    assert [_s_ndtri(float(x)) for x in p[::97]] == got[::97].tolist()  # scalar and vector: the same bits
    assert _s_ndtri(0.5) == 0.0 and _s_ndtri(0.0) == -np.inf and _s_ndtri(1.0) == np.inf


def test_an_analysis_cannot_re_evaluate_a_draw():
    with pytest.raises(UnsupportedFeatureError, match="draws a random number"):
        evaluate(parse("NORMAL(0, 1)"), {}, time=np.array([0.0]), dt=1.0)


def test_random_functions_check_their_arguments():
    m = noise_model()
    m.aux("bad", "RANDOM_NORMAL(0, 1, 0)")
    with pytest.raises(ts.ModelError, match="RANDOM_NORMAL takes 5"):
        ts.simulate(m)
