"""Key performance indicators of a strategy, computed per Monte Carlo run.

A :class:`Metric` turns the final state of an ensemble (each variable's value
at the last saved time, one per run) into one number per run.  A model
declares its own indicators in its metadata, and :func:`indicators` reads
them (the reference model's are in ``models/anti_trafficking_ecosystem.toml``)::

    [metadata.indicators.people_at_end]
    label = "people in exploitation at the end"
    units = "person"
    better = "lower"                  # or "higher"
    value = "in_exploitation"         # the variable's final value

    [metadata.indicators.conviction_ratio]
    label = "convictions / trial disposals (convictions + acquittals)"
    units = "dimensionless"
    better = "higher"
    ratio = ["cases_convicted", "cases_convicted", "cases_acquitted"]  # the first over the sum of the others
    scale = 1.0                        # optional factor (1000 for "per 1,000")

    [metadata.indicators.cost_per_year_averted]
    label = "all money spent / person-years of exploitation averted vs the reference"
    units = "USD/(person*year)"
    better = "lower"
    cost_per_averted = ["cumulative_total_spending", "cumulative_exploitation_years"]
    note = "('none': nothing averted vs the reference in that share of futures)"

:func:`~trafficsys.scenarios.compare` reports a model's declared indicators
when no metrics are given, and accepts :class:`Metric` objects of your own.
Every ratio names its denominator in ``label``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelError
from ..model.names import suggest

__all__ = ["Metric", "indicators", "comparison_defaults", "final_value", "ratio", "cost_per_averted"]

Final = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Metric:
    """One indicator.

    Attributes
    ----------
    name
        Identifier (``"people_at_end"``).
    label
        What a reader sees, with the denominator of any ratio.
    units
        Units of the value.
    better
        ``"lower"`` or ``"higher"``: which direction is an improvement.
    compute
        ``compute(final, reference_final) -> array`` over runs; ``final`` maps
        variable names to their values at the last time (one per run), and
        ``reference_final`` is the same for the reference strategy (for
        indicators measured against it), or None for the reference itself.
    needs
        Variables the model must have for the metric to apply.
    note
        A line printed under a comparison's table that reports the metric
        (how to read a special value, say).
    """

    name: str
    label: str
    units: str
    better: str
    compute: Callable[[Final, Final | None], np.ndarray] = field(repr=False)
    needs: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.better not in ("lower", "higher"):
            raise ValueError(f"metric {self.name}: better must be 'lower' or 'higher', got {self.better!r}")

    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is better."""
        return 1.0 if self.better == "higher" else -1.0


def final_value(var: str) -> Callable[[Final, Final | None], np.ndarray]:
    """Make a metric that is the final value of ``var``."""

    def f(final: Final, ref: Final | None) -> np.ndarray:
        return np.asarray(final[var], dtype=float)

    return f


def ratio(num: str, *den: str, scale: float = 1.0) -> Callable[[Final, Final | None], np.ndarray]:
    """Make a metric ``scale * num / (sum of den)`` at the final time (NaN where the denominator is 0)."""

    def f(final: Final, ref: Final | None) -> np.ndarray:
        d = sum(np.asarray(final[x], dtype=float) for x in den)
        n = np.asarray(final[num], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, scale * n / np.where(d > 0, d, 1.0), np.nan)

    return f


def cost_per_averted(cost: str, harm: str) -> Callable[[Final, Final | None], np.ndarray]:
    """Make a metric: the final ``cost`` over the final ``harm`` averted against the reference strategy.

    NaN for the reference itself; infinite where nothing is averted (the cost
    per unit averted is unbounded).
    """

    def f(final: Final, ref: Final | None) -> np.ndarray:
        spend = np.asarray(final[cost], dtype=float)
        if ref is None:
            return np.full_like(spend, np.nan)
        averted = np.asarray(ref[harm], float) - np.asarray(final[harm], float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(averted > 0, spend / np.where(averted > 0, averted, 1.0), np.inf)

    return f


#: the ways an indicator of ``[metadata.indicators]`` is computed: key -> (maker, what the key holds)
_KINDS = {
    "value": "a variable name",
    "ratio": "a list of variable names: the numerator, then the terms of the denominator",
    "cost_per_averted": "a list of two variable names: the cost, then the harm averted",
}


def indicators(model: Any) -> dict[str, Metric]:
    """Return the indicators ``model`` declares in ``[metadata.indicators]``, in the order declared.

    Parameters
    ----------
    model
        A :class:`~trafficsys.Model`.

    Returns
    -------
    dict
        Name -> :class:`Metric`; empty when the model declares none.

    Raises
    ------
    ModelError
        A declaration that is not a table, lacks ``label``, ``units``,
        ``better`` or exactly one way to compute it, or names a variable the
        model does not define; the message names the file and the indicator.

    Examples
    --------
    >>> import trafficsys as ts
    >>> list(indicators(ts.load_default()))[:2]
    ['exploitation_final', 'exploitation_person_years']
    """
    declared = model.metadata.get("indicators") if isinstance(model.metadata, dict) else None
    if declared is None:
        return {}
    file = getattr(model, "file", None)
    if not isinstance(declared, dict):
        raise ModelError("[metadata.indicators] must be a table of indicator tables", file=file)
    out: dict[str, Metric] = {}
    for name, spec in declared.items():
        where = f"[metadata.indicators.{name}]"
        if not isinstance(spec, dict):
            raise ModelError(
                f"{where} must be a table (label, units, better, and one of {', '.join(_KINDS)})", file=file
            )
        missing = [k for k in ("label", "units", "better") if not isinstance(spec.get(k), str)]
        if missing:
            raise ModelError(f"{where} needs {', '.join(missing)} (text)", file=file)
        kinds = [k for k in _KINDS if k in spec]
        if len(kinds) != 1:
            raise ModelError(
                f"{where} needs exactly one of {', '.join(_KINDS)}; got {', '.join(kinds) or 'none'}",
                file=file,
            )
        kind = kinds[0]
        arg = spec[kind]
        names = [arg] if kind == "value" else arg
        ok = (
            isinstance(names, list)
            and all(isinstance(v, str) for v in names)
            and (
                len(names) == 1
                if kind == "value"
                else len(names) >= 2
                if kind == "ratio"
                else len(names) == 2
            )
        )
        if not ok:
            raise ModelError(f"{where}: {kind} must be {_KINDS[kind]}, got {arg!r}", file=file)
        for v in names:
            if v not in model:
                raise ModelError(
                    f"{where} uses '{v}', which the model does not define{suggest(v, model.names())}",
                    file=file,
                    variable=v,
                )
        if kind == "value":
            compute = final_value(names[0])
        elif kind == "ratio":
            scale = spec.get("scale", 1.0)
            if isinstance(scale, bool) or not isinstance(scale, (int, float)):
                raise ModelError(f"{where}: scale must be a number, got {scale!r}", file=file)
            compute = ratio(names[0], *names[1:], scale=float(scale))
        else:
            compute = cost_per_averted(names[0], names[1])
        try:
            out[name] = Metric(
                name,
                spec["label"],
                spec["units"],
                spec["better"],
                compute,
                tuple(dict.fromkeys(names)),
                str(spec.get("note", "")),
            )
        except ValueError as e:
            raise ModelError(f"{where}: {e}", file=file) from None
    return out


def comparison_defaults(model) -> dict[str, Any]:
    """Return the comparison defaults the model declares in ``[metadata.compare]`` (checked), or {}."""
    found = model.metadata.get("compare") if isinstance(model.metadata, dict) else None
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise ModelError(
            "[metadata.compare] must be a table (reference, primary, trajectories, figure)", file=model.file
        )
    for key in ("reference", "primary"):
        if key in found and not isinstance(found[key], str):
            raise ModelError(f"[metadata.compare] {key} must be a name, got {found[key]!r}", file=model.file)
    for key in ("trajectories", "figure"):
        value = found.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ModelError(
                f"[metadata.compare] {key} must be a list of names, got {value!r}", file=model.file
            )
    return found


def __getattr__(name: str) -> Any:
    # METRICS and DEFAULT_METRICS were the reference model's indicators, held here; they now live in
    # the model file ([metadata.indicators]): read from there for code that still imports them
    if name in ("METRICS", "DEFAULT_METRICS"):
        import warnings

        from ..io import load_default

        warnings.warn(
            f"trafficsys.scenarios.{name} is deprecated: the reference model declares its indicators "
            "in its file; use trafficsys.scenarios.indicators(model)",
            DeprecationWarning,
            stacklevel=2,
        )
        found = indicators(load_default(strategies=False))
        return found if name == "METRICS" else tuple(found)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
