"""Loops: enumeration against brute force, polarity, stable ids, named loops, SILS."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import REPO

import trafficsys as ts
from trafficsys.analysis import confirm_polarities, loop_dominance
from trafficsys.cld import CausalLoopDiagram, independent_loops, loop_polarity, loops, loops_through
from trafficsys.cld.loop_search import named_loop_notes, rotate_loop
from trafficsys.errors import UnknownVariableError


def brute_force_cycles(nodes, edges):
    """Every elementary cycle, by trying every ordered subset that starts at its smallest node."""
    sign = {(a, b): s for a, b, s in edges}
    out = {}
    for k in range(1, len(nodes) + 1):
        for subset in itertools.combinations(sorted(nodes), k):
            first, rest = subset[0], subset[1:]
            for perm in itertools.permutations(rest):
                cyc = (first, *perm)
                links = [(cyc[i], cyc[(i + 1) % k]) for i in range(k)]
                if k >= 2 and all(lk in sign for lk in links):
                    out[cyc] = loop_polarity([sign[lk] for lk in links])
    return out


@st.composite
def signed_digraphs(draw, max_nodes=6):
    n = draw(st.integers(2, max_nodes))
    nodes = [f"v{i}" for i in range(n)]
    pairs = [(a, b) for a in nodes for b in nodes if a != b]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=min(len(pairs), 14)))
    return nodes, [(a, b, draw(st.sampled_from("++-?"))) for a, b in chosen]


@settings(max_examples=80, deadline=None)
@given(signed_digraphs())
def test_loops_match_brute_force_count_and_polarity(graph):
    nodes, edges = graph
    cld = CausalLoopDiagram.from_edges(edges)
    found = {lp.variables: lp.polarity for lp in loops(cld)}
    assert found == brute_force_cycles(nodes, edges)


@settings(max_examples=40, deadline=None)
@given(signed_digraphs(), st.randoms(use_true_random=False))
def test_ids_do_not_depend_on_drawing_order(graph, rnd):
    nodes, edges = graph
    shuffled = list(edges)
    rnd.shuffle(shuffled)
    a = [(lp.id, lp.variables, lp.signs) for lp in loops(CausalLoopDiagram.from_edges(edges))]
    b = [(lp.id, lp.variables, lp.signs) for lp in loops(CausalLoopDiagram.from_edges(shuffled))]
    assert a == b


@settings(max_examples=40, deadline=None)
@given(signed_digraphs())
def test_loop_polarity_is_product_of_link_signs(graph):
    nodes, edges = graph
    cld = CausalLoopDiagram.from_edges(edges)
    for lp in loops(cld):
        signs = [cld.polarity(a, b) for a, b in lp.links]
        assert list(lp.signs) == signs
        if "?" in signs:
            assert lp.polarity == "?" and lp.id.startswith("U")
        else:
            product = 1
            for s in signs:
                product *= 1 if s == "+" else -1
            assert lp.polarity == ("R" if product > 0 else "B")


def test_ids_ordered_by_length_then_variables():
    cld = CausalLoopDiagram.from_edges(
        [
            ("c", "d", "+"),
            ("d", "c", "+"),  # R, length 2
            ("a", "b", "+"),
            ("b", "a", "+"),  # R, length 2, alphabetically first
            ("a", "x", "-"),
            ("x", "y"),
            ("y", "a"),  # B, length 3
            ("b", "z", "-"),
            ("z", "a", "+"),  # B: a -> b -> z -> a, length 3
        ]
    )
    got = [(lp.id, lp.variables) for lp in loops(cld)]
    assert got == [("R1", ("a", "b")), ("R2", ("c", "d")), ("B1", ("a", "b", "z")), ("B2", ("a", "x", "y"))]


def test_same_variables_different_order_are_two_loops():
    # a -> b -> c -> a and a -> c -> b -> a use the same variables but different links
    cld = CausalLoopDiagram.from_edges(
        [("a", "b"), ("b", "c"), ("c", "a"), ("a", "c", "-"), ("c", "b"), ("b", "a")]
    )
    three = [lp for lp in loops(cld) if lp.length == 3]
    assert len(three) == 2
    assert {lp.variables for lp in three} == {("a", "b", "c"), ("a", "c", "b")}
    assert sorted(lp.polarity for lp in three) == ["B", "R"]


def test_length_bound_and_max_loops():
    g = nx.complete_graph(6, create_using=nx.DiGraph)
    cld = CausalLoopDiagram.from_edges([(f"n{a}", f"n{b}") for a, b in g.edges])
    everything = loops(cld)
    assert len(everything) == sum(
        len(list(itertools.permutations(range(k - 1)))) * len(list(itertools.combinations(range(6), k)))
        for k in range(2, 7)
    )  # (k-1)! * C(6, k) = 409
    assert len(everything) == 409
    assert all(lp.length <= 3 for lp in loops(cld, length_bound=3))
    assert len(loops(cld, length_bound=3)) == 15 + 40
    # beyond max_loops: not refused, but counted (streamed) and summarised by the shortest independent set
    some = loops(cld, max_loops=100)
    assert not some.complete and some.census.total == 409 and len(some) < 100
    assert some.summary().equals(everything.summary())


def test_loops_through():
    cld = CausalLoopDiagram.from_edges([("a", "b"), ("b", "a"), ("b", "c", "-"), ("c", "b"), ("d", "a")])
    assert [lp.id for lp in loops_through(cld, "c")] == ["B1"]
    assert [lp.id for lp in cld.loops_through("B")] == ["R1", "B1"]  # names are canonical
    assert loops_through(cld, "d") == []
    with pytest.raises(UnknownVariableError, match="no variable 'zz'"):
        loops_through(cld, "zz")


def test_named_loops_by_cyclic_order_and_notes():
    cld = CausalLoopDiagram.from_edges(
        [("a", "b"), ("b", "c"), ("c", "a", "-"), ("a", "c"), ("c", "b", "-"), ("b", "a")],
        loops={"outer": ["b", "c", "a"], "wrong_order": ["a", "c", "b", "d"], "pair": ["a", "b"]},
    )
    by_name = {lp.name: lp for lp in loops(cld) if lp.name}
    assert by_name["outer"].variables == ("a", "b", "c")  # declared from b, same cycle
    assert by_name["pair"].variables == ("a", "b")
    notes = named_loop_notes(cld)
    assert any("wrong_order" in n and "matches no feedback loop" in n for n in notes)


def test_named_loop_may_omit_any_variable_between_those_it_lists():
    m = ts.Model("m", stop=1, dt=0.5)
    m.constant("k", 0.1)
    m.stock("s", 10, inflows=["inflow"], non_negative=True)
    m.aux("pressure", "s * k")
    m.flow("inflow", "pressure")
    m.loop("growth", ["s", "pressure"], polarity="R")  # omits the flow
    m.loop("again", ["pressure", "inflow"], polarity="R")  # omits the stock: the same loop
    cld = m.cld()
    (lp,) = loops(cld)
    assert lp.name == "growth" and lp.polarity == "R"
    assert any("'growth' and 'again' both describe R1" in n for n in named_loop_notes(cld))


def test_one_named_loop_rule_for_the_diagram_and_loop_dominance():
    """``m.loop("growth", ["f"])`` names the same loop in the diagram and in loop dominance."""
    m = ts.Model("m", stop=5, dt=0.25)
    m.constant("r", 0.2)
    m.constant("k", 100)
    m.stock("s", 10, inflows=["f"], outflows=["g"])
    m.flow("f", "r * s")
    m.flow("g", "r * s * s / k")
    m.loop("growth", ["f"])
    m.loop("crowding", ["s", "g"])
    by_name = {lp.name: lp for lp in m.cld().loops() if lp.name}
    assert set(by_name) == {"growth", "crowding"}
    assert by_name["growth"].polarity == "R" and "f" in by_name["growth"]
    r = ts.simulate(m)
    d = loop_dominance(m, r)
    scored = {lp.name: lp for lp in d.loops if lp.name}
    assert set(scored) == set(by_name)
    # the diagram's signs checked against the same runs ("?" for s -> g becomes "-"): the same Loop,
    # read from the same variable, printed the same
    confirmed = {lp.name: lp for lp in confirm_polarities(m.cld(), m, r).loops() if lp.name}
    for name, info in scored.items():
        assert info.variables == by_name[name].variables
        assert info.loop == confirmed[name]
        assert str(info) == str(confirmed[name])
    assert str(scored["growth"]) == "R1 growth: f -> s -> f"
    assert not named_loop_notes(m.cld())


def test_a_named_loop_that_is_no_loop_is_named_by_neither():
    """A declaration no feedback loop fits names nothing, in the diagram (with a note) and in loop dominance."""
    m = ts.Model("m", stop=5, dt=0.25)
    m.constant("r", 0.2)
    m.stock("s", 10, inflows=["f"])
    m.flow("f", "r * s")
    m.loop("nowhere", ["r", "f"])  # r is a constant: on no loop
    assert not any(lp.name for lp in m.cld().loops())
    assert any("'nowhere'" in n and "matches no feedback loop" in n for n in named_loop_notes(m.cld()))
    assert not any(lp.name for lp in loop_dominance(m, ts.simulate(m)).loops)


def test_loop_dominance_reads_every_loop_as_the_diagram_does():
    """One rotation rule: given loops, and loops the diagram does not list (a smooth's own loop), too."""
    m = ts.Model("m", stop=5, dt=0.25)
    m.constant("r", 0.2)
    m.stock("s", 10, inflows=["f"])
    m.flow("f", "r * s_seen")
    m.aux("s_seen", "SMTH1(s, 2)")
    m.loop("perceived", ["s_seen"])
    r = ts.simulate(m)
    given = loop_dominance(m, r, loops=[["s", "s_seen", "f"]])
    assert [lp.variables for lp in given.loops] == [("f", "s", "s_seen")]
    d = loop_dominance(m, r)
    listed = {lp.variables: lp for lp in m.cld().loops()}
    for info in d.loops:
        assert info.variables == rotate_loop(info.variables)
        if info.variables in listed:
            assert info.loop == listed[info.variables]
    own = [info for info in d.loops if info.variables == ("s_seen",)]  # the smooth's adjustment loop
    assert own and own[0].loop.signs == ("-",) and own[0].polarity == "B"
    # the diagram has no s_seen -> s_seen link, so the name goes to the loop through s_seen it lists
    assert {info.name for info in d.loops if info.name} == {"perceived"}


def test_declared_polarity_mismatch_is_reported():
    cld = CausalLoopDiagram.from_edges([("a", "b"), ("b", "a", "-")])
    cld.named_loops["boom"] = ts.model.NamedLoop("boom", ("a", "b"), "R")
    cld._loop_cache = {}
    assert any("declared R" in n for n in named_loop_notes(cld))


def _random_graph(n, p, seed):
    rnd = random.Random(seed)
    return [
        (f"v{a}", f"v{b}", rnd.choice("+-"))
        for a in range(n)
        for b in range(n)
        if a != b and rnd.random() < p
    ]


@pytest.mark.parametrize("seed", range(6))
def test_independent_loop_set(seed):
    edges = _random_graph(9, 0.25, seed)
    cld = CausalLoopDiagram.from_edges(edges)
    sils = independent_loops(cld)
    every = {lp.variables: lp for lp in loops(cld)}
    g = nx.DiGraph([(a, b) for a, b, _ in edges])
    # each loop is a real loop with the ids of the full enumeration
    for lp in sils:
        assert every[lp.variables] == lp
    # each loop adds a link not used by the loops before it (independence), shortest first
    covered: set = set()
    for lp in sils:
        assert set(lp.links) - covered
        covered |= set(lp.links)
    assert [lp.length for lp in sils] == sorted(lp.length for lp in sils)
    # together they cover every link that is on some loop
    on_loops = {lk for lp in every.values() for lk in lp.links}
    assert covered == on_loops
    # at most the cycle-space dimension: links - variables + 1 per strongly connected part
    bound = 0
    for comp in nx.strongly_connected_components(g):
        sub = g.subgraph(comp)
        if len(comp) > 1:
            bound += sub.number_of_edges() - sub.number_of_nodes() + 1
    assert len(sils) <= bound


def test_independent_loops_when_enumeration_is_too_big():
    g = nx.complete_graph(7, create_using=nx.DiGraph)
    cld = CausalLoopDiagram.from_edges([(f"n{a}", f"n{b}") for a, b in g.edges])
    sils = independent_loops(cld, max_loops=50)  # 1956 loops: ids are numbered within the set
    assert len(sils) <= 42 - 7 + 1
    assert {lp.id for lp in sils} == {f"R{i}" for i in range(1, len(sils) + 1)}


def test_archetype_files_hand_counted_loops():

    expected = {  # counted by hand from the drawings in each file's header
        "fixes_that_fail": (1, 1),
        "shifting_the_burden": (1, 2),
        "shifting_the_burden_to_the_intervenor": (1, 2),
        "limits_to_growth": (1, 1),
        "eroding_goals": (0, 2),
        "escalation": (0, 2),
        "success_to_the_successful": (2, 0),
        "tragedy_of_the_commons": (2, 2),
        "growth_and_underinvestment": (1, 2),
    }
    folder = REPO / "models" / "archetypes"
    assert {p.stem for p in folder.glob("*.toml")} == set(expected)
    for stem, (r, b) in expected.items():
        found = ts.load(folder / f"{stem}.toml").cld().loops()
        assert (sum(lp.polarity == "R" for lp in found), sum(lp.polarity == "B" for lp in found)) == (r, b), (
            stem
        )
        named = [lp for lp in found if lp.name]
        m = ts.load(folder / f"{stem}.toml")
        assert len(named) == len(m.loops), stem  # every declared loop names a found one
        for lp in named:
            assert m.loops[lp.name].polarity == lp.polarity


def test_cli_summarises_big_diagrams(tmp_path, capsys):
    from trafficsys.cli import main

    names = [f"n{i}" for i in range(6)]
    links = "".join(
        f'[[links]]\nfrom = "{a}"\nto = "{b}"\npolarity = "+"\n\n' for a in names for b in names if a != b
    )
    path = tmp_path / "dense.toml"
    path.write_text(
        '[model]\nname = "dense"\n\n[loops.ring]\nvariables = ["n0", "n1", "n2", "n3", "n4", "n5"]\n\n'
        + links
    )
    assert main(["loops", str(path)]) == 0
    out = capsys.readouterr().out
    assert "409 feedback loops: 409 reinforcing (R), 0 balancing (B), 0 unknown (?)" in out
    assert "shortest independent loop set (15 loops" in out  # the 15 two-variable loops cover all 30 links
    assert " ring " in out  # the named loop is listed too
    assert main(["loops", "--all", str(path)]) == 0
    assert capsys.readouterr().out.count("\n  R") == 409


def test_benchmark_script_runs_small(capsys):
    import importlib.util

    path = REPO / "benchmarks" / "loops.py"
    spec = importlib.util.spec_from_file_location("bench_loops", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--sizes", "20", "40"])
    out = capsys.readouterr().out
    assert "modular diagrams" in out and "tangled diagrams" in out and "exponent" in out
    # each modular cluster embeds one textbook archetype, which detection finds
    found = {a.kind for a in archetypes_of(bench.modular(90))}
    assert len(found) >= 6


def archetypes_of(cld):
    from trafficsys.cld import archetypes

    return archetypes(cld)
