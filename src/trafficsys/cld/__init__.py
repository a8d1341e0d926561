"""Causal-loop analysis: diagrams, link polarity, feedback loops, systems archetypes.

>>> import trafficsys as ts
>>> cld = ts.CausalLoopDiagram.from_edges([("a", "b", "+"), ("b", "a", "-")])
>>> [lp.id for lp in cld.loops()]
['B1']
"""

from .archetypes import ARCHETYPES, ArchetypeMatch, archetypes
from .derive import from_model
from .diagram import CausalLoopDiagram, PolarityNote
from .loops import Loop, independent_loops, loop_polarity, loops, loops_through
from .polarity import link_polarity

__all__ = [
    "ARCHETYPES",
    "ArchetypeMatch",
    "CausalLoopDiagram",
    "Loop",
    "PolarityNote",
    "archetypes",
    "from_model",
    "independent_loops",
    "link_polarity",
    "loop_polarity",
    "loops",
    "loops_through",
]
