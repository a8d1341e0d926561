"""Analyses of simulated behaviour: loop dominance, sensitivity, calibration."""

from .ltm import LoopDominance, LoopInfo, cycle_partitions, feedback_graph, loop_dominance

__all__ = [
    "LoopDominance",
    "LoopInfo",
    "cycle_partitions",
    "feedback_graph",
    "loop_dominance",
]
