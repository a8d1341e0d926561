"""Strategies and their comparison under uncertainty.

:func:`compare` runs every strategy of a model over one Monte Carlo sample of
its uncertain constants (common random numbers) and returns a
:class:`Comparison`: indicator medians and intervals, the probability that
each strategy beats each other, the constants that decide it, and a plain
statement when the ranking is not robust.
"""

from .comparison import INTERVAL, ROBUST, Comparison, compare, uncertain_constants
from .metrics import Metric, indicators

__all__ = [
    "compare",
    "Comparison",
    "uncertain_constants",
    "Metric",
    "indicators",
    "ROBUST",
    "INTERVAL",
]


def __getattr__(name: str):
    # METRICS and DEFAULT_METRICS (deprecated): the reference model's indicators, now declared in its file
    if name in ("METRICS", "DEFAULT_METRICS"):
        from . import metrics

        return getattr(metrics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
