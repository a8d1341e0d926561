"""Compatibility names for the numeric polarity check: expressions are evaluated by the engine's runtime.

The separate interpreter that lived here gave some builtins other meanings than
the simulation (``ROUND(2.5)`` was 2 here, 3 in a run; ``STEP`` and ``PULSE``
had no clock tolerance, ``PULSE`` started at 0 rather than the start time).
Every analysis now evaluates with :func:`trafficsys.engine.expression.evaluate`,
which compiles the expression with the engine's code generator and the
builtins of :mod:`trafficsys.engine.runtime`.
"""

from __future__ import annotations

from ..engine.expression import STATEFUL_CALLS, evaluate, interpolate_lookup

__all__ = ["evaluate", "interpolate_lookup", "STATEFUL_CALLS"]
