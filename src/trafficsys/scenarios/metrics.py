"""Key performance indicators of a strategy, computed per Monte Carlo run.

A :class:`Metric` turns the final state of an ensemble (an xarray Dataset over
``run`` at the last saved time) into one number per run.  :data:`METRICS` holds
the indicators of the reference anti-trafficking model; a metric whose
variables a model lacks is skipped by :func:`~trafficsys.scenarios.compare`, and
users may pass their own.  Every ratio names its denominator in ``label``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Metric", "METRICS", "DEFAULT_METRICS", "final_value", "ratio"]

Final = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Metric:
    """One indicator.

    Attributes
    ----------
    name
        Identifier (``"exploitation_person_years"``).
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
    """

    name: str
    label: str
    units: str
    better: str
    compute: Callable[[Final, Final | None], np.ndarray] = field(repr=False)
    needs: tuple[str, ...] = ()

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


def _cost_per_year_averted(final: Final, ref: Final | None) -> np.ndarray:
    spend = np.asarray(final["cumulative_total_spending"], dtype=float)
    if ref is None:
        return np.full_like(spend, np.nan)
    averted = np.asarray(ref["cumulative_exploitation_years"], float) - np.asarray(
        final["cumulative_exploitation_years"], float)
    # No exploitation-year averted: the cost per year averted is unbounded.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(averted > 0, spend / np.where(averted > 0, averted, 1.0), np.inf)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("exploitation_final", "people in exploitation at the end", "person", "lower",
               final_value("in_exploitation"), ("in_exploitation",)),
        Metric("exploitation_person_years", "person-years in exploitation over the horizon", "person*year",
               "lower", final_value("cumulative_exploitation_years"), ("cumulative_exploitation_years",)),
        Metric("victims_identified", "victims identified over the horizon (police + NGO raids)", "person",
               "higher", final_value("cumulative_identified"), ("cumulative_identified",)),
        Metric("victims_criminalised", "victims arrested or charged as offenders after raids, over the horizon",
               "person", "lower", final_value("cumulative_criminalised"), ("cumulative_criminalised",)),
        Metric("re_trafficked", "survivors re-trafficked over the horizon", "person", "lower",
               final_value("cumulative_re_trafficked"), ("cumulative_re_trafficked",)),
        Metric("reintegrated", "reintegrated survivors at the end", "person", "higher",
               final_value("reintegrated"), ("reintegrated",)),
        Metric("survivor_leaders", "survivor leaders at the end", "person", "higher",
               final_value("survivor_leaders"), ("survivor_leaders",)),
        Metric("convictions", "cases ending in conviction over the horizon", "case", "higher",
               final_value("cases_convicted"), ("cases_convicted",)),
        Metric("conviction_ratio", "convictions / trial disposals (convictions + acquittals)", "dimensionless",
               "higher", ratio("cases_convicted", "cases_convicted", "cases_acquitted"),
               ("cases_convicted", "cases_acquitted")),
        Metric("convictions_per_1000_identified", "convictions per 1,000 victims identified (police + NGO raids)",
               "case/person", "higher", ratio("cases_convicted", "cumulative_identified", scale=1000.0),
               ("cases_convicted", "cumulative_identified")),
        Metric("state_share_first_response", "the state's own money (not programme or donor money) / all "
               "first-response money (rescue, shelter, police training, witness support)", "dimensionless",
               "higher", ratio("cumulative_state_spending", "cumulative_first_response_spending"),
               ("cumulative_state_spending", "cumulative_first_response_spending")),
        Metric("state_run_share_first_response", "first-response money spent through state institutions (the "
               "state's own + programme money for state police training and witness support) / all "
               "first-response money", "dimensionless", "higher",
               ratio("cumulative_state_run_spending", "cumulative_first_response_spending"),
               ("cumulative_state_run_spending", "cumulative_first_response_spending")),
        Metric("survivor_trust", "survivors' trust in institutions at the end (0-1)", "dimensionless", "higher",
               final_value("survivor_trust"), ("survivor_trust",)),
        Metric("cost_per_exploitation_year_averted", "all money spent (programme + donor + state) / "
               "person-years of exploitation averted vs the reference", "USD/(person*year)", "lower",
               _cost_per_year_averted, ("cumulative_total_spending", "cumulative_exploitation_years")),
    ]
}

#: the indicators reported when ``metrics=None``
DEFAULT_METRICS: tuple[str, ...] = tuple(METRICS)
