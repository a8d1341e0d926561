"""Graph exports (GraphML, DOT, Kumu JSON, Mermaid) and the ``trafficsys export`` command."""

import json

import networkx as nx
import pytest
from support import REPO

import trafficsys as ts
from trafficsys.cli import main
from trafficsys.io.graph import causal_graph, to_dot, to_kumu, to_mermaid, write_graph

ROOT = REPO
EXAMPLE = ROOT / "models" / "examples" / "exploitation_exit.toml"


def hand_cld():
    m = ts.Model("cld")
    m.link("police raids", "trust in police", "-", delay=True, note="raids frighten survivors", strength=0.5)
    m.link("trust in police", "reporting", "+")
    m.link("reporting", "police raids", "+")
    m.cld_variables["reporting"] = {"doc": "cases reported", "role": "symptom"}
    return m


def test_causal_graph_of_a_hand_drawn_cld():
    g = causal_graph(hand_cld())
    assert set(g.edges) == {
        ("police_raids", "trust_in_police"),
        ("trust_in_police", "reporting"),
        ("reporting", "police_raids"),
    }
    assert g.edges["police_raids", "trust_in_police"] == {
        "polarity": "-",
        "delay": True,
        "note": "raids frighten survivors",
    }
    assert g.nodes["reporting"]["role"] == "symptom"


def test_stock_flow_model_links_flows_to_stocks_with_signs():
    m = ts.load(EXAMPLE)
    g = causal_graph(m)
    assert g.edges["recruitment", "in_exploitation"]["polarity"] == "+"
    assert g.edges["recruitment", "at_risk"]["polarity"] == "-"
    assert g.edges["recruitment", "in_exploitation"]["delay"]
    # equation links carry the polarity the CLD analysis infers
    assert g.edges["recruitment_rate", "recruitment"]["polarity"] == "+"
    assert g.edges["police_effort", "identification"]["polarity"] == "+"
    # initial-value edges are not causal links
    assert not g.has_edge("initial_at_risk", "at_risk")


def test_graphml_round_trips_through_networkx(tmp_path):
    p = tmp_path / "g.graphml"
    write_graph(hand_cld(), p)
    g = nx.read_graphml(p)
    assert g.number_of_edges() == 3 and g.edges["police_raids", "trust_in_police"]["polarity"] == "-"
    assert g.edges["police_raids", "trust_in_police"]["delay"] is True


def test_dot_parses_back_with_labels_and_styles():
    import pydot

    m = hand_cld()
    m.link('odd "quoted" name', "reporting", "?")
    (graph,) = pydot.graph_from_dot_data(to_dot(m))
    labels = sorted(n.get_label().strip('"') for n in graph.get_nodes() if n.get_label())
    assert labels == ['odd_\\"quoted\\"_name', "police_raids", "reporting", "trust_in_police"]
    edges = graph.get_edges()
    assert len(edges) == 4
    assert sum(e.get_style() == "dashed" for e in edges) == 1


def test_kumu_blueprint_shape():
    data = to_kumu(hand_cld())
    assert {e["label"] for e in data["elements"]} == {"police_raids", "trust_in_police", "reporting"}
    c = next(c for c in data["connections"] if c["from"] == "police_raids")
    assert c == {
        "from": "police_raids",
        "to": "trust_in_police",
        "direction": "directed",
        "type": "opposite",
        "polarity": "-",
        "delay": True,
        "description": "raids frighten survivors",
    }
    json.dumps(data)


def test_mermaid_uses_dotted_arrows_for_delays():
    text = to_mermaid(hand_cld())
    assert text.splitlines()[0] == "flowchart LR"
    assert "police_raids -.->|- delay| trust_in_police" in text
    assert "trust_in_police -->|+| reporting" in text


@pytest.mark.parametrize("suffix", [".xmile", ".toml", ".graphml", ".dot", ".json", ".mmd"])
def test_export_command_writes_every_format(tmp_path, capsys, suffix):
    out = tmp_path / f"out{suffix}"
    assert main(["export", str(EXAMPLE), "--to", str(out)]) == 0
    assert out.exists() and out.stat().st_size > 100
    assert f"wrote {out}" in capsys.readouterr().out
    if suffix in (".xmile", ".toml"):
        assert ts.load(out) == ts.load(EXAMPLE)


def test_export_command_refuses_overwrite_and_unknown_suffix(tmp_path, capsys):
    out = tmp_path / "x.mmd"
    out.write_text("keep")
    assert main(["export", str(EXAMPLE), "--to", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "keep"
    assert main(["export", str(EXAMPLE), "--to", str(tmp_path / "x.pdf")]) == 2
    assert "unknown output format '.pdf'" in capsys.readouterr().err
