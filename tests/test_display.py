"""What a notebook shows for each object of the reference-model walkthrough stays a screen-sized summary.

A model with thousands of loops once printed megabytes into a cell.  Each
object's HTML display must stay under 20 KB and its text display under one
screen, and say how to get everything.
"""

from __future__ import annotations

import pytest
from support import REPO

import trafficsys as ts

IPython = pytest.importorskip("IPython", reason="IPython comes with ipykernel in the test extra")

ROOT = REPO
HTML_LIMIT = 20_000
TEXT_LINES = 60


@pytest.fixture(scope="module")
def walkthrough():
    """The objects the analyst walkthrough displays, built as it builds them (smaller samples)."""
    from trafficsys.analysis import sensitivity

    m = ts.load_default()
    run = ts.simulate(m, scenario="survivor_led")
    cld = m.cld()
    loops = cld.loops()
    matches = ts.archetypes(cld, drains=True)
    planted = ts.load(ROOT / "models" / "blocks" / "capacity_ceiling.toml")
    blocks = ts.find_blocks(planted, planted.metadata["target"], n=6, seed=1)
    return {
        "model": m,
        "results": run,
        "ensemble": ts.monte_carlo(m, n=5, seed=1),
        "cld": cld,
        "loops": loops,
        "archetype matches": matches,
        "archetype match": matches[0],
        "archetype findings": matches.findings,
        "loop dominance": ts.loop_dominance(m, run),
        "comparison": ts.compare(m, n=5, seed=1),
        "blocks report": blocks,
        "sensitivity": sensitivity(
            m, "in_exploitation", method="elasticity", constants=[c.name for c in m.constants[:5]]
        ),
    }


def _shown(obj):
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(obj)
    return data


@pytest.mark.parametrize(
    "name",
    [
        "model",
        "results",
        "ensemble",
        "cld",
        "loops",
        "archetype matches",
        "archetype match",
        "archetype findings",
        "loop dominance",
        "comparison",
        "blocks report",
        "sensitivity",
    ],
)
def test_display_is_a_summary(walkthrough, name):
    obj = walkthrough[name]
    data = _shown(obj)
    assert "text/html" in data, f"{name} has no HTML display"
    html = data["text/html"]
    assert len(html.encode()) <= HTML_LIMIT, f"{name}: {len(html.encode()):,} bytes of HTML"
    text = data["text/plain"]
    assert len(text.splitlines()) <= TEXT_LINES and len(text) <= 12_000, f"{name}: {len(text):,} characters"


@pytest.mark.parametrize("name", ["model", "results", "cld", "loops", "loop dominance", "comparison"])
def test_display_says_how_to_get_everything(walkthrough, name):
    html = _shown(walkthrough[name])["text/html"]
    assert "<code>." in html or "<code>m." in html, html[-400:]


def test_big_lists_are_cut_not_dropped(walkthrough):
    loops = walkthrough["loops"]
    assert len(loops) > 1000  # the reason for the summary
    html = _shown(loops)["text/html"]
    assert f"{len(loops) - loops.show:,} more" in html
