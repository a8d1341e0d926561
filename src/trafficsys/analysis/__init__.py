"""Analyses of simulated behaviour: loop dominance, sensitivity, calibration, systemic blocks.

``loop_dominance`` (Loops that Matter), ``sensitivity`` (front door to
``elasticities``, ``morris`` and ``sobol``) and ``calibrate`` each take the
model first and return a result object with ``to_pandas()`` and ``plot()``.
"""

from .archetype_ranking import archetypes
from .blocks import Block, BlocksReport, find_blocks
from .calibration import CalibrationResult, calibrate
from .dominance import LoopDominance, LoopInfo
from .ltm import cycle_partitions, feedback_graph, loop_dominance
from .polarities import confirm_polarities
from .sensitivity_methods import METHODS, SensitivityResult, elasticities, morris, sensitivity, sobol

__all__ = [
    "Block",
    "archetypes",
    "BlocksReport",
    "find_blocks",
    "CalibrationResult",
    "LoopDominance",
    "LoopInfo",
    "METHODS",
    "SensitivityResult",
    "calibrate",
    "confirm_polarities",
    "cycle_partitions",
    "elasticities",
    "feedback_graph",
    "loop_dominance",
    "morris",
    "sensitivity",
    "sobol",
]
