"""Strategies and their comparison under uncertainty.

:func:`compare` runs every strategy of a model over one Monte Carlo sample of
its uncertain constants (common random numbers) and returns a
:class:`Comparison`: indicator medians and intervals, the probability that
each strategy beats each other, the constants that decide it, and a plain
statement when the ranking is not robust.
"""

from .compare import INTERVAL, ROBUST, Comparison, compare, uncertain_constants
from .metrics import DEFAULT_METRICS, METRICS, Metric

__all__ = [
    "compare",
    "Comparison",
    "uncertain_constants",
    "Metric",
    "METRICS",
    "DEFAULT_METRICS",
    "ROBUST",
    "INTERVAL",
]
