"""Loop discovery by the strongest-path search: it finds every loop that matters, and scores it the same."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from support.models import dense_feedback

import trafficsys as ts
from trafficsys.analysis.discovery import strongest_path_loops
from trafficsys.errors import ModelError

ROOT = Path(__file__).resolve().parent.parent / "models"
SMALL = sorted(str(p.relative_to(ROOT)) for p in [*ROOT.glob("archetypes/*.toml"), *ROOT.glob("examples/*.toml"),
                                                  *ROOT.glob("blocks/*.toml")])


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
        np.testing.assert_allclose(found.loop_scores.sel(loop=twin.id).values,
                                   every.loop_scores.sel(loop=lp.id).values, rtol=1e-12, atol=0)
    assert len(found.loops) <= len(every.loops)
    # every loop kept was found active at some time (or, when nothing moves on any loop, is a placeholder)
    assert all(found.found_at[lp.id] or not np.any(found.loop_scores.sel(loop=lp.id).values)
               for lp in found.loops)
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
    assert "strongest-path search" in out and "of the stocks' changes" in out
    assert "Dominant loop per period" in out
