"""The two loop scorers (compiled prefix tree, numpy matrix products) give the same dominance."""

import numpy as np
import pytest

import trafficsys as ts
import trafficsys.analysis.ltm as ltm
from trafficsys.analysis import _loop_kernel, loop_dominance


def _scored(m, results, scorer, monkeypatch, **kw):
    monkeypatch.setattr(ltm, "SCORER", scorer)
    return loop_dominance(m, results, **kw)


def _ring() -> ts.Model:
    m = ts.Model("ring", stop=12, dt=0.125)
    for i in range(4):
        nxt = (i + 1) % 4
        m.constant(f"r{i}", 0.3 + 0.05 * i, range=(0.1, 0.6))
        m.stock(f"s{i}", 10 + i, inflows=[f"in{i}"], outflows=[f"out{i}"], non_negative=True)
        m.flow(f"in{i}", f"r{i} * s{i} * (1 - s{i} / 100)")
        m.flow(f"out{i}", f"0.2 * s{i} + 0.01 * s{i} * s{nxt}")
        m.aux(f"p{i}", f"s{i} / (s{nxt} + 1)")
    m.flow("x", "0")
    return m


@pytest.mark.skipif(not _loop_kernel.available(), reason="numba is not installed")
@pytest.mark.parametrize(
    "which, max_bytes",
    [
        ("ring", 4e8),  # everything kept
        ("ring", 2e4),  # chunked, keeping only the loops that matter
        ("reference", 4e7),  # 4,571 loops in one partition, chunked
    ],
)
def test_compiled_and_numpy_scorers_agree(monkeypatch, which, max_bytes):
    for m in [_ring() if which == "ring" else ts.load_default()]:
        mc = ts.monte_carlo(m, n=6, seed=3, variables="all")
        a = _scored(m, mc, "numba", monkeypatch, max_bytes=max_bytes)
        b = _scored(m, mc, "numpy", monkeypatch, max_bytes=max_bytes)
        assert [lp.id for lp in a.loops] == [lp.id for lp in b.loops]
        assert [lp.polarity for lp in a.loops] == [lp.polarity for lp in b.loops]
        np.testing.assert_allclose(a.relative.values, b.relative.values, rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(a.loop_scores.values, b.loop_scores.values, rtol=1e-9, atol=0)
        np.testing.assert_array_equal(a.dominant.values, b.dominant.values)
        assert a.omitted == b.omitted


def test_relative_scores_are_products_of_link_scores_over_the_partition(monkeypatch):
    """Independent of either scorer: a loop's score is the product of its links; relative = score / sum |scores|."""
    m = _ring()
    r = ts.simulate(m)
    for scorer in ("numpy",) + (("numba",) if _loop_kernel.available() else ()):
        d = _scored(m, r, scorer, monkeypatch)
        links = {str(k): d.link_scores.sel(link=k).values[:, 0] for k in d.link_scores["link"].values}
        total = {}
        prods = {}
        for lp in d.loops:
            chain = list(lp.variables)
            prod = np.ones(len(d.time))
            for a, b in zip(chain, chain[1:] + chain[:1]):
                prod = prod * links[f"{a} -> {b}"]
            prods[lp.id] = prod
            np.testing.assert_allclose(d.loop_scores.sel(loop=lp.id).values[:, 0], prod, rtol=1e-12, atol=0)
            total[lp.partition] = total.get(lp.partition, 0) + np.abs(prod)
        for lp in d.loops:
            want = np.divide(
                prods[lp.id], total[lp.partition], out=np.zeros(len(d.time)), where=total[lp.partition] > 0
            )
            np.testing.assert_allclose(d.relative.sel(loop=lp.id).values[:, 0], want, rtol=1e-12, atol=1e-15)
