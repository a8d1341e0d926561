"""Structure never runs behaviour: the diagram, its loops, graph exports and scoring given results simulate nothing."""

import importlib

import pytest

import trafficsys as ts
from trafficsys.analysis import loop_dominance
from trafficsys.io.graph import causal_graph, to_dot, to_kumu, to_mermaid, write_graph


@pytest.fixture
def no_simulation(monkeypatch):
    """Make every way into a simulation run fail loudly; yields the list of attempts."""
    engine = importlib.import_module("trafficsys.engine.run")  # the module, not the function it exports
    calls = []

    def refuse(name):
        def spy(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called: structure must not simulate")

        return spy

    for name in ("prepare", "execute"):
        monkeypatch.setattr(engine, name, refuse(name))
    return calls


def test_the_spy_catches_a_simulation(no_simulation, logistic_model):
    with pytest.raises(AssertionError):
        ts.simulate(logistic_model)
    assert no_simulation


def test_reference_model_structure_runs_nothing(no_simulation, reference_model, tmp_path):
    cld = reference_model.cld()
    assert cld.links and cld.loops(length_bound=6)
    assert cld.independent_loops()
    causal_graph(reference_model), causal_graph(cld), to_dot(cld), to_kumu(reference_model)
    assert to_mermaid(reference_model).startswith("flowchart")
    write_graph(reference_model, tmp_path / "g.graphml")
    ts.archetypes(cld, length_bound=6)
    assert no_simulation == []


def test_loop_dominance_with_results_given_runs_nothing(logistic_model, monkeypatch):
    r = ts.simulate(logistic_model)
    engine = importlib.import_module("trafficsys.engine.run")
    for name in ("prepare", "execute"):
        monkeypatch.setattr(engine, name, lambda *a, **k: pytest.fail("loop_dominance simulated"))
    d = loop_dominance(logistic_model, r)
    assert {lp.polarity for lp in d.loops} == {"R", "B"}
