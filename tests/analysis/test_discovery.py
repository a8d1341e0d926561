"""Loop discovery by the strongest-path search: it finds every loop that matters, and scores it the same."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from support import MODELS, TEST_MODELS
from support.models import dense_feedback

import trafficsys as ts
from trafficsys.analysis.discovery import strongest_path_loops
from trafficsys.errors import ModelError

ROOT = MODELS
SMALL = sorted(
    str(p.relative_to(ROOT))
    for p in [*ROOT.glob("archetypes/*.toml"), *ROOT.glob("examples/*.toml"), *ROOT.glob("blocks/*.toml")]
)


def _dominating(d):
    """Loop variables (as a frozenset of links) of every loop that dominates its partition at some time."""
    idx = np.unique(d._dom[d._dom >= 0])
    out = {}
    for k in idx:
        lp = d.loops[int(k)]
        v = list(lp.variables)
        out[frozenset(zip(v, v[1:] + v[:1]))] = lp
    return out


def _check_discovery_finds_the_dominant_loops(m, r):
    every = ts.loop_dominance(m, r, discovery="all")
    found = ts.loop_dominance(m, r, discovery="strongest_path")
    assert every.method == "all" and found.method == "strongest_path"
    by_links = {frozenset(zip(lp.variables, lp.variables[1:] + lp.variables[:1])): lp for lp in found.loops}
    for key, lp in _dominating(every).items():
        assert key in by_links, f"{lp.id} ({' -> '.join(lp.variables)}) dominates but was not found"
        twin = by_links[key]
        np.testing.assert_allclose(
            found.loop_scores.sel(loop=twin.id).values,
            every.loop_scores.sel(loop=lp.id).values,
            rtol=1e-12,
            atol=0,
        )
    assert len(found.loops) <= len(every.loops)
    # every loop kept was found active at some time (or, when nothing moves on any loop, is a placeholder)
    assert all(
        found.found_at[lp.id] or not np.any(found.loop_scores.sel(loop=lp.id).values) for lp in found.loops
    )
    share = found.explained.values
    assert np.all((share >= 0) & (share <= 1 + 1e-12))


@pytest.mark.parametrize("path", SMALL)
def test_every_dominating_loop_of_a_small_model_is_discovered(path):
    m = ts.load(ROOT / path)
    r = ts.simulate(m)
    try:
        ts.loop_dominance(m, r, discovery="all")
    except ModelError as e:
        pytest.skip(f"no loop dominance for this model: {e}")
    _check_discovery_finds_the_dominant_loops(m, r)


# models written by others: from the SDXorg test models (modules; subscripts), and the published models
# vendored for the benchmarks, each small enough to list every loop (those the readers cannot load yet skip)
OTHERS = [
    TEST_MODELS / "samples" / "bpowers-hares_and_lynxes_modules" / "model.xmile",
    TEST_MODELS / "tests" / "subscript_mapping_simple" / "test_subscript_mapping_simple.mdl",
]
PUBLISHED = Path(__file__).resolve().parents[2] / "benchmarks" / "models" / "metasd"
# FREE (over 400,000 loops) and the scientific revolutions (57,433) are too many to list: benchmarks/dominance.py
SMALL_PUBLISHED = sorted(
    p for p in PUBLISHED.glob("*/*.mdl") if p.parent.name not in ("free", "scientific-revolution")
)


@pytest.mark.parametrize("path", OTHERS + SMALL_PUBLISHED, ids=lambda p: p.name)
def test_every_dominating_loop_of_a_model_written_elsewhere_is_discovered(path):
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = ts.load(path)
            r = ts.simulate(m)
    except ModelError as e:
        pytest.skip(f"not read or run yet: {str(e).splitlines()[0][:200]}")
    try:
        ts.loop_dominance(m, r, discovery="all")
    except ModelError as e:
        pytest.skip(f"no loop dominance for this model: {e}")
    _check_discovery_finds_the_dominant_loops(m, r)


def test_every_dominating_loop_of_the_reference_model_is_discovered():
    m = ts.load_default()
    _check_discovery_finds_the_dominant_loops(m, ts.simulate(m))


def test_dense_model_beyond_listing_is_searched_automatically():
    m = dense_feedback(9)
    cycles = sum(math.comb(9, k) * math.factorial(k - 1) for k in range(2, 10)) + 9
    assert cycles > 100_000
    r = ts.simulate(m)
    with pytest.raises(ModelError, match="more than"):
        ts.loop_dominance(m, r, discovery="all")
    d = ts.loop_dominance(m, r)
    assert d.method == "strongest_path"
    assert 0 < len(d.loops) < cycles
    assert not d.intervals().empty
    assert "strongest-path search" in repr(d)


def test_the_search_on_a_hand_made_graph():
    import networkx as nx

    # loops a-b, a-b-c, a-c; c is reached through a -> b -> c (score 2) before a -> c (0.5)
    g = nx.DiGraph([("a", "b"), ("b", "a"), ("b", "c"), ("a", "c"), ("c", "a")])
    edges = list(g.edges)
    s = {("a", "b"): 2.0, ("b", "a"): 1.0, ("b", "c"): 1.0, ("a", "c"): 0.5, ("c", "a"): 0.5}
    scores = np.array([s[e] for e in edges], dtype=float)[:, None, None]
    found = strongest_path_loops(g, edges, scores, ["a"])
    assert set(found) == {("a", "b"), ("a", "b", "c")}  # a -> c -> a (0.25) is weaker than the path to c
    # with the link b -> c weak, c is reached directly, and every loop is found
    scores[edges.index(("b", "c"))] = 0.01
    assert set(strongest_path_loops(g, edges, scores, ["a"])) == {("a", "b"), ("a", "b", "c"), ("a", "c")}
    # nothing moves: nothing found
    assert strongest_path_loops(g, edges, np.zeros_like(scores), ["a"]) == {}


def test_unknown_discovery_is_refused():
    m = ts.load(ROOT / "archetypes" / "limits_to_growth.toml")
    with pytest.raises(ModelError, match="discovery must be"):
        ts.loop_dominance(m, ts.simulate(m), discovery="fast")


def test_cli_dominance_on_a_model_beyond_listing(tmp_path, capsys):
    from trafficsys.cli import main

    path = tmp_path / "dense.toml"
    ts.save(dense_feedback(9), path)
    assert main(["dominance", str(path)]) == 0
    out = capsys.readouterr().out
    assert "strongest-path search" in out and "of the loop activity" in out
    assert "Dominant loop per period" in out


@pytest.mark.parametrize("seed", range(6))
def test_the_compiled_search_finds_what_the_python_search_finds(seed):
    from trafficsys.analysis import discovery

    if discovery._search_compiled is None:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(seed)
    n = 12
    src, dst = np.nonzero(rng.random((n, n)) < 0.3)
    w = rng.lognormal(0, 1, len(src))
    order = np.lexsort((-w, src))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, src[order] + 1, 1)
    np.cumsum(indptr, out=indptr)
    starts = np.arange(0, n, 2, dtype=np.int64)
    args = (indptr, dst[order].astype(np.int64), w[order], starts, n)
    a = discovery._search_all(*args, compiled=True)
    b = discovery._search_all(*args, compiled=False)
    assert a == b and a


def test_loops_of_a_diagram_beyond_holding_are_counted_and_summarised():
    from trafficsys.cld.loop_search import loop_census

    cld = dense_feedback(7).cld()
    expected = sum(math.comb(7, k) * math.factorial(k - 1) for k in range(2, 8)) + 7  # 2,365 + 7 drains
    census = loop_census(cld)
    assert census.complete and census.total == expected
    every = cld.loops()
    assert every.complete and len(every) == expected
    assert census.summary().equals(every.summary())
    partial = cld.loops(max_loops=100)
    assert not partial.complete and partial.census.total == expected
    assert 0 < len(partial) < 100 and partial.summary().equals(every.summary())
    assert "too many to hold" in repr(partial) and f"{expected:,}" in repr(partial)
    limited = loop_census(cld, limit=50)
    assert not limited.complete and limited.total == 50 and "more than 50" in limited.describe()


def test_cli_loops_summarises_a_diagram_beyond_holding(tmp_path, capsys):
    from trafficsys.cli import main

    path = tmp_path / "dense.toml"
    ts.save(dense_feedback(7), path)
    assert main(["loops", str(path), "--max-loops", "100"]) == 0
    out = capsys.readouterr().out
    expected = sum(math.comb(7, k) * math.factorial(k - 1) for k in range(2, 8)) + 7
    assert f"{expected:,} feedback loops" in out and "counted, not held" in out
    assert "shortest independent loop set" in out


def _search_context(m, r):
    from trafficsys.analysis import ltm
    from trafficsys.model.arrays import flatten

    fm = flatten(m)
    g = ltm.feedback_graph(fm)
    _, (edges, scores, starts, *_) = ltm._discover(
        fm, ltm._with_every_variable(m, fm, ltm._dataset(r)), g, None, 200, 8
    )
    return g, edges, scores, starts


@pytest.fixture(scope="module")
def reference_listed():
    m = ts.load_default()
    r = ts.simulate(m)
    return m, r, ts.loop_dominance(m, r, discovery="all")


def test_explained_share_is_one_when_every_loop_is_found(reference_listed):
    from trafficsys.analysis.discovery import explained_share

    m, r, every = reference_listed
    g, edges, scores, starts = _search_context(m, r)
    missed, total = explained_share(g, edges, scores, [lp.variables for lp in every.loops], starts)
    assert total.sum() > 0 and np.all(missed == 0)
    # the estimate of all loops' mass is what the walks saw: it misses loops (never more than all of them)
    assert np.all(total >= 0)


def test_explained_share_falls_by_the_share_of_a_withheld_dominant_loop(reference_listed):
    from trafficsys.analysis.discovery import explained_share

    m, r, every = reference_listed
    g, edges, scores, starts = _search_context(m, r)
    counts = np.bincount(every._dom[every._dom >= 0].ravel(), minlength=len(every.loops))
    # the short competing loop that dominates most often (long loops are rarely sampled: see explained_share)
    k = max(
        (j for j, lp in enumerate(every.loops) if lp.competing and len(lp.variables) <= 3),
        key=lambda j: counts[j],
    )
    lp = every.loops[k]
    assert counts[k] >= 10
    rest = [o.variables for o in every.loops if o is not lp]
    missed, _ = explained_share(g, edges, scores, rest, starts)
    stocks = [i for i, s in enumerate(starts) if s in every.partitions[lp.partition]]
    others = [j for j, o in enumerate(every.loops) if o.partition == lp.partition and j != k]
    kept = np.abs(every.loop_scores.values[:, 0, others]).sum(axis=1)
    when = every._dom[lp.partition, :, 0] == k
    share = (kept / (kept + missed[stocks].sum(axis=0)[:, 0]))[when]
    assert np.all(share < 1)
    # on average it is the share the exhaustive scores give the other loops then
    truth = 1 - np.abs(every.relative.values[when, 0, k])
    assert abs(share.mean() - truth.mean()) < 0.05


def test_the_compiled_walks_count_what_the_python_walks_count():
    from trafficsys.analysis import discovery

    if discovery._walks_compiled is None:
        pytest.skip("numba is not installed")
    import networkx as nx

    rng = np.random.default_rng(3)
    g = nx.gnp_random_graph(10, 0.35, seed=3, directed=True)
    edges = list(g.edges)
    scores = rng.lognormal(0, 1, (len(edges), 4, 2))
    found = list(nx.simple_cycles(g))[::2]
    a = discovery.explained_share(g, edges, scores, found, list(g.nodes)[:5], walks=50, compiled=True)
    b = discovery.explained_share(g, edges, scores, found, list(g.nodes)[:5], walks=50, compiled=False)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-12)
    assert a[0].sum() > 0 and (a[0] < a[1]).any()


def test_sampled_loop_mass_estimates_the_exact_sum_on_a_small_graph():
    """Where every loop can be listed, the walks' estimate of the sum of |loop score| is close to it."""
    import networkx as nx

    from trafficsys.analysis.discovery import explained_share

    rng = np.random.default_rng(5)
    g = nx.gnp_random_graph(7, 0.45, seed=5, directed=True)
    edges = list(g.edges)
    scores = rng.lognormal(0, 0.5, (len(edges), 1, 1))
    s = {e: scores[i, 0, 0] for i, e in enumerate(edges)}
    cycles = list(nx.simple_cycles(g))
    exact = sum(np.prod([s[lk] for lk in zip(c, c[1:] + c[:1])]) for c in cycles)
    withheld = max(cycles, key=lambda c: np.prod([s[lk] for lk in zip(c, c[1:] + c[:1])]))
    missed, total = explained_share(
        g, edges, scores, [c for c in cycles if c != withheld], list(g.nodes), walks=4000
    )
    assert total.sum() == pytest.approx(exact, rel=0.1)
    lost = np.prod([s[lk] for lk in zip(withheld, withheld[1:] + withheld[:1])])
    assert missed.sum() == pytest.approx(lost, rel=0.15)


def test_the_share_after_a_search_reports_how_well_the_sampling_sees_the_found_loops():
    d = ts.loop_dominance(dense_feedback(9), ts.simulate(dense_feedback(9)))
    share = d.explained.values
    assert d.method == "strongest_path" and set(d.timings) == {"discovery", "scoring", "explained"}
    assert np.all((share > 0) & (share <= 1)) and np.median(share) < 1  # 428 of 125,673 loops: not all
    assert 0.5 < d.explained.attrs["recovered"] < 1.5


def test_the_walks_give_the_same_numbers_on_any_number_of_threads():
    from trafficsys.analysis import discovery

    if discovery._walks_compiled is None:
        pytest.skip("numba is not installed")
    import networkx as nx
    import numba

    rng = np.random.default_rng(4)
    g = nx.gnp_random_graph(12, 0.3, seed=4, directed=True)
    edges = list(g.edges)
    scores = rng.lognormal(0, 1, (len(edges), 37, 2))
    found = list(nx.simple_cycles(g))[::3]
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = discovery.explained_share(g, edges, scores, found, list(g.nodes), walks=40)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = discovery.explained_share(g, edges, scores, found, list(g.nodes), walks=40)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])


def test_the_standard_error_of_the_missed_mass_shrinks_as_the_walks_grow_and_covers_the_truth():
    import networkx as nx

    from trafficsys.analysis.discovery import explained_share

    rng = np.random.default_rng(5)
    g = nx.gnp_random_graph(7, 0.45, seed=5, directed=True)
    edges = list(g.edges)
    scores = rng.lognormal(0, 0.5, (len(edges), 1, 1))
    s = {e: scores[i, 0, 0] for i, e in enumerate(edges)}
    cycles = list(nx.simple_cycles(g))
    withheld = max(cycles, key=lambda c: np.prod([s[lk] for lk in zip(c, c[1:] + c[:1])]))
    lost = np.prod([s[lk] for lk in zip(withheld, withheld[1:] + withheld[:1])])
    found = [c for c in cycles if c != withheld]
    errors = []
    for walks in (1000, 16000):
        missed, _, error = explained_share(
            g, edges, scores, found, list(g.nodes), walks=walks, standard_error=True
        )
        assert error.shape == missed.shape and np.all(error >= 0)
        se = float(np.sqrt((error**2).sum()))
        assert abs(missed.sum() - lost) < 4 * se
        errors.append(se)
    assert 3 < errors[0] / errors[1] < 5.5  # sqrt(16) = 4


def test_a_long_run_is_searched_on_the_link_scores_of_the_times_searched_only():
    """The search reads each link's score at 200 of 321 times: the same loops as from every time's scores."""
    from trafficsys.analysis import ltm
    from trafficsys.analysis.discovery import sample_indices
    from trafficsys.model.elements import Kind

    m = dense_feedback(5, stop=40)
    r = ts.simulate(m)
    g = ltm.feedback_graph(m)
    ds = ltm._dataset(r)
    found, (edges, scores, starts, runs, times) = ltm._discover(m, ds, g, None, 200, 8)
    T = ds.sizes["time"]
    assert T > 300 and list(times) == list(sample_indices(T, 200)) and scores.shape == (len(edges), 200, 1)
    values = ltm._Values(m, ds)
    lookups = {n: m[n] for n in m.names(Kind.LOOKUP)}
    full = np.stack([ltm._link_score(m, values, a, b, lookups, ltm._compiled(m)) for a, b in edges])
    np.testing.assert_array_equal(scores, full[:, times])
    assert found == strongest_path_loops(g, edges, full, starts, times=list(times), rotate=ltm.rotate_loop)
    d = ts.loop_dominance(m, r, discovery="strongest_path")
    np.testing.assert_array_equal(d.explained["time"].values, d.time[times])
    every = ts.loop_dominance(m, r, discovery="all")
    _check_discovery_finds_the_dominant_loops(m, r)
    assert len(d.loops) <= len(every.loops)
