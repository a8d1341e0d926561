"""CausalLoopDiagram: building, reading, networkx export, CLD-only model files, hand-drawn links."""

from __future__ import annotations

import networkx as nx
import pytest

import trafficsys as ts
from trafficsys.cld import CausalLoopDiagram, from_model
from trafficsys.errors import ModelError, UnknownVariableError


def test_from_edges_forms_and_attributes():
    cld = CausalLoopDiagram.from_edges(
        [
            ("Police Capacity", "arrests"),
            ("arrests", "impunity", "-", {"note": "deterrence", "strength": 0.5}),
            ("impunity", "police_capacity", "?", {"delay": True}),
        ],
        delays=[("arrests", "impunity")],
        roles={"impunity": "problem"},
        docs={"arrests": "per year"},
    )
    assert cld.polarity("police_capacity", "arrests") == "+"  # names are canonical
    lk = cld.link("arrests", "impunity")
    assert (lk.polarity, lk.delay, lk.note, lk.strength) == ("-", True, "deterrence", 0.5)
    assert cld.delayed("impunity", "police_capacity")
    assert cld.role("impunity") == "problem" and cld.variables["arrests"]["doc"] == "per year"
    (lp,) = cld.loops()
    assert lp.polarity == "?" and lp.id == "U1" and lp.delays == (True, True, False)
    assert "3 variables, 3 links (1 +, 1 -, 1 ?), 2 delayed" in repr(cld)


def test_bad_edges_are_model_errors():
    with pytest.raises(ModelError, match="polarity must be"):
        CausalLoopDiagram.from_edges([("a", "b", "plus")])
    with pytest.raises(ModelError, match="points at itself"):
        CausalLoopDiagram.from_edges([("a", "a")])
    with pytest.raises(UnknownVariableError, match="no such link"):
        CausalLoopDiagram.from_edges([("a", "b")], delays=[("b", "a")])
    with pytest.raises(ModelError, match="write"):
        CausalLoopDiagram.from_edges([("a",)])
    with pytest.raises(UnknownVariableError, match="no link b -> a"):
        CausalLoopDiagram.from_edges([("a", "b")]).link("b", "a")


def test_networkx_view():
    cld = CausalLoopDiagram.from_edges(
        [("a", "b", "-"), ("b", "a")], delays=[("a", "b")], roles={"a": "goal"}
    )
    g = cld.graph
    assert isinstance(g, nx.DiGraph)
    assert g.edges["a", "b"] == {"polarity": "-", "sign": -1, "delay": True, "note": "", "strength": None}
    assert g.nodes["a"]["role"] == "goal"
    g.remove_edge("a", "b")  # a copy: the diagram is unchanged
    assert cld.has_link("a", "b")


def test_second_link_between_same_variables_replaces_first():
    cld = CausalLoopDiagram.from_edges([("a", "b", "+"), ("a", "b", "-"), ("b", "a")])
    assert len(cld.links) == 2 and cld.polarity("a", "b") == "-"
    assert [lp.polarity for lp in cld.loops()] == ["B"]


def test_role_tags():
    cld = CausalLoopDiagram.from_edges([("a", "b")], roles={"a": "symptomatic_solution, Intervenor"})
    assert cld.tags("a") == frozenset({"symptomatic_solution", "intervenor"})
    assert cld.tags("b") == frozenset()


CLD_FILE = """
[model]
name = "cld_only"

[variables."Rescue counts"]
doc = "rescues reported"
role = "success_a"

[[links]]
from = "rescue counts"
to = "donor funding"
polarity = "+"
note = "donors reward counts"

[[links]]
from = "donor funding"
to = "raids"
polarity = "+"
delay = true

[[links]]
from = "raids"
to = "rescue counts"
polarity = "+"

[loops.rescue_metric_funding]
variables = ["rescue counts", "donor funding", "raids"]
polarity = "R"
"""


def test_cld_only_model_file(tmp_path):
    path = tmp_path / "cld.toml"
    path.write_text(CLD_FILE)
    m = ts.load(path)
    cld = m.cld()
    assert cld.file == str(path) or cld.file == path
    assert cld.variables["rescue_counts"]["doc"] == "rescues reported"
    assert cld.variables["rescue_counts"]["label"] == "Rescue counts"
    assert cld.link("rescue_counts", "donor_funding").note == "donors reward counts"
    (lp,) = cld.loops()
    assert (lp.id, lp.name, lp.polarity, sum(lp.delays)) == ("R1", "rescue_metric_funding", "R", 1)
    assert from_model(m).links == cld.links


def test_hand_drawn_links_complete_a_stock_flow_model():
    m = ts.Model("mixed", stop=1, dt=0.5)
    m.constant("k", 0.1)
    m.stock("s", 1, outflows=["out"], non_negative=True)
    m.flow("out", "k * s")
    m.link("s", "out", "+", delay=True, note="drawn by hand: noticed late")
    cld = m.cld()
    assert cld.delayed("s", "out") and cld.link("s", "out").note.startswith("drawn by hand")
    assert cld.polarity("out", "s") == "-"
    assert cld.variables["s"]["kind"] == "stock"


def test_constants_can_be_left_out():
    m = ts.Model("c", stop=1, dt=0.5)
    m.constant("k", 0.1)
    m.stock("s", 1, outflows=["out"])
    m.flow("out", "k * s")
    assert m.cld().has_link("k", "out")
    assert not m.cld(constants=False).has_link("k", "out")


def test_default_model_gives_a_diagram():
    m = ts.load_default()
    cld = m.cld()
    assert len(cld.links) > 0 and all(cld.has_link(lk.source, lk.target) for lk in cld.links)
    assert [lp.variables for lp in cld.loops(length_bound=4)] == [
        lp.variables for lp in ts.CausalLoopDiagram.from_model(m).loops(length_bound=4)
    ]
    assert {v for v, info in cld.variables.items() if info.get("kind") == "stock"} == set(
        m.names(ts.model.Kind.STOCK)
    )


@pytest.mark.parametrize("module", ["diagram", "loop_search", "polarity", "archetype_search"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"trafficsys.cld.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
