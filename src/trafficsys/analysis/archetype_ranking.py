"""Systems archetypes ranked by how much their loops drive a run: ``ts.archetypes``.

Detection itself is structural (:func:`trafficsys.cld.archetypes`).  Handed a
run of the model, this front door first checks the diagram's link signs
against that run (:func:`~trafficsys.analysis.confirm_polarities`) and scores
its loops (:func:`~trafficsys.analysis.loop_dominance`), then ranks the matches
by that behaviour.  Nothing is simulated here.
"""

from __future__ import annotations

from typing import Any

from ..cld.archetype_search import archetypes as detect
from ..cld.findings import ArchetypeMatches
from ..model.model import Model
from .dominance import LoopDominance
from .ltm import loop_dominance
from .polarities import confirm_polarities

__all__ = ["archetypes"]


def archetypes(cld: Any, *, results: Any = None, **kwargs: Any) -> ArchetypeMatches:
    """Detect systems archetypes; with a model and its ``results``, rank them by loop dominance.

    Parameters
    ----------
    cld
        A :class:`~trafficsys.cld.CausalLoopDiagram`, or a model (its ``m.cld()``).
    results
        None (structure only), a :class:`~trafficsys.analysis.LoopDominance`, or
        simulation results of the model given as ``cld``.
    **kwargs
        Passed to :func:`trafficsys.cld.archetypes` (``kinds``, ``length_bound``...).

    Returns
    -------
    ArchetypeMatches
    """
    if isinstance(cld, Model) and results is not None and not isinstance(results, LoopDominance):
        diagram = confirm_polarities(cld.cld(), cld, results)
        return detect(diagram, results=loop_dominance(cld, results), **kwargs)
    return detect(cld, results=results, **kwargs)
