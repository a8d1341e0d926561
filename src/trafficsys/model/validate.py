"""Model validation (names, structure, algebraic loops, arity, units, ranges)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["validate", "suggest"]


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def validate(model, *, units: bool = True) -> list[str]:  # placeholder until the validation module lands
    raise NotImplementedError
