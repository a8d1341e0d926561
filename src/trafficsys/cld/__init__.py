"""Causal-loop analysis: diagrams, link polarity, feedback loops, systems archetypes.

>>> import trafficsys as ts
>>> cld = ts.CausalLoopDiagram.from_edges([("a", "b", "+"), ("b", "a", "-")])
>>> [lp.id for lp in cld.loops()]
['B1']
"""

from .archetype_search import ARCHETYPES, ArchetypeMatch, archetypes
from .derive import from_model
from .diagram import CausalLoopDiagram, PolarityNote
from .findings import ArchetypeFinding, ArchetypeFindings, ArchetypeMatches, group_archetypes
from .loop_search import Loop, LoopList, independent_loops, loop_polarity, loops, loops_through
from .polarity import link_polarity

__all__ = [
    "ARCHETYPES",
    "ArchetypeFinding",
    "ArchetypeFindings",
    "ArchetypeMatch",
    "ArchetypeMatches",
    "CausalLoopDiagram",
    "Loop",
    "LoopList",
    "PolarityNote",
    "archetypes",
    "from_model",
    "group_archetypes",
    "independent_loops",
    "link_polarity",
    "loop_polarity",
    "loops",
    "loops_through",
]
