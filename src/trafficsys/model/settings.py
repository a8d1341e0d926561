"""Checks on the values a user sets: declared ranges and budget shares.

A value outside a constant's declared range is allowed (what-if questions go
there on purpose) but leaves what the model's sources support, so it is said
out loud: :class:`RangeWarning`.  A model may name its budget shares in its
metadata (``budget_shares = ["share_a", ...]``); shares that do not sum to 1
are rescaled by the model's own equations, which silently cuts every other
line, so that is said too: :class:`BudgetWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ModelWarning
from .elements import Constant
from .names import canonical

__all__ = ["RangeWarning", "BudgetWarning", "check_ranges", "check_budget_shares", "budget_shares"]

#: how far the budget shares' sum may be from 1 before it is reported
SHARE_TOLERANCE = 1e-6


class RangeWarning(ModelWarning):
    """A value set for a constant lies outside its declared range."""


class BudgetWarning(ModelWarning):
    """The model's budget shares do not sum to 1 (the budget is then rescaled)."""


def check_ranges(
    model, settings: Mapping[str, Any] | None, what: str = "params", stacklevel: int = 3
) -> list[str]:
    """Warn (:class:`RangeWarning`) for each number in ``settings`` outside its constant's declared range.

    Equations (strings) and arrays of many values (ensembles, usually samples
    of the range itself) are not checked.  Returns the names reported.
    """
    out = []
    for name, value in (settings or {}).items():
        if isinstance(value, str):
            continue
        a = (
            np.asarray(value, dtype=float)
            if not isinstance(value, (list, tuple))
            else np.asarray(value, float)
        )
        if a.size != 1:
            continue
        key = canonical(name)
        el = model[key] if key in model else None
        if not isinstance(el, Constant) or el.range is None:
            continue
        lo, hi = el.range
        v = float(a.reshape(-1)[0])
        if not lo <= v <= hi:
            out.append(el.name)
            warnings.warn(
                f"{what}: {el.name} = {v:g} is outside its declared range [{lo:g}, {hi:g}]"
                + (f" (source: {el.source})" if el.source else "")
                + "; the results leave what the model's sources support",
                RangeWarning,
                stacklevel=stacklevel,
            )
    return out


def budget_shares(model) -> list[str]:
    """Return the budget shares the model's metadata names (``budget_shares``), canonical; [] when none."""
    names = (
        model.metadata.get("budget_shares") if isinstance(getattr(model, "metadata", None), dict) else None
    )
    if not isinstance(names, (list, tuple)):
        return []
    return [canonical(str(n)) for n in names]


def check_budget_shares(
    model, values: Mapping[str, Any], what: str = "the run", stacklevel: int = 3
) -> float | None:
    """Warn (:class:`BudgetWarning`) when the model's budget shares do not sum to 1.

    ``values`` maps each share to its value(s): a number, or an array over
    time and/or runs (as saved in results).  Returns the sum furthest from 1,
    or None when the model names no shares or ``values`` lacks one.
    """
    names = budget_shares(model)
    if not names or any(n not in values for n in names):
        return None
    total = sum(np.asarray(values[n], dtype=float) for n in names)
    total = np.atleast_1d(total)
    worst = float(total.reshape(-1)[np.argmax(np.abs(total.reshape(-1) - 1.0))])
    if abs(worst - 1.0) > SHARE_TOLERANCE:
        where = ""
        if total.size > 1:
            share = float(np.mean(np.abs(total - 1.0) > SHARE_TOLERANCE))
            where = f" ({share:.0%} of saved values)"
        warnings.warn(
            f"{what}: the budget shares ({', '.join(names)}) sum to {worst:g}, not 1{where}; each line "
            f"gets its share / {worst:g} of the budget, so raising one share silently cuts every other "
            "line. Set the shares so they sum to 1",
            BudgetWarning,
            stacklevel=stacklevel,
        )
    return worst
