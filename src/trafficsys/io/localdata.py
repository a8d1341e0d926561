"""Local data: a place's published figures, with their sources, to adapt a model to it.

A local-data file is TOML::

    [unit]
    name = "Telangana (state, India)"
    doc = "..."
    scenario = "baseline"          # the strategy the figures were observed under (default: the
                                   # model's reference strategy, [metadata.compare] reference)

    [set.cost_per_rescue]          # a local value replacing the model's (units as the model's)
    value = 1200
    range = [800, 2000]            # optional: the local plausible range
    source = "..."                 # required

    [targets.identification_tally]  # a model variable and what was observed
    value = 429                    # in the variable's units (per year for a flow)
    at = [1, 2, 3, 4]              # model times the figure stands for (default 1..5)
    tolerance = 0.1                # relative uncertainty of the figure (default 0.1): the weight
    sd = 5                         # or an absolute uncertainty (needed for a figure of zero)
    source = "..."                 # required

    [fit]
    constants = ["police_detection_per_officer", "cost_per_rescue"]

:func:`read_local_data` reads and checks it (a :class:`~trafficsys.FileFormatError`
naming the file and the table for anything wrong); :meth:`LocalData.apply`
returns the model with the local values (and their ranges and sources);
:func:`~trafficsys.calibrate` takes the file's path as its data.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import limits
from ..errors import FileFormatError
from ..model.elements import Constant

__all__ = ["LocalData", "Target", "read_local_data"]

#: default model times a yearly figure stands for
DEFAULT_AT = (1.0, 2.0, 3.0, 4.0, 5.0)


@dataclass(frozen=True)
class Target:
    """One observed figure: a model variable, its value, when, how sure, and where it was published."""

    variable: str
    value: float
    at: tuple[float, ...]
    tolerance: float
    source: str
    sd: float | None = None


@dataclass
class LocalData:
    """A local-data file's content."""

    name: str
    doc: str
    scenario: str | None
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    fit: list[str] = field(default_factory=list)
    file: str | None = None

    def apply(self, model):
        """Return a copy of ``model`` with the local values, ranges and sources."""
        m = model.copy()
        for name, s in self.settings.items():
            if name not in m or not isinstance(m[name], Constant):
                raise FileFormatError(f"[set.{name}]: the model has no constant '{name}'", file=self.file)
            e = m[name]
            rng = tuple(s["range"]) if "range" in s else e.range
            if rng is not None and not rng[0] <= s["value"] <= rng[1]:
                raise FileFormatError(
                    f"[set.{name}]: value {s['value']:g} lies outside its range "
                    f"[{rng[0]:g}, {rng[1]:g}]; give a local range",
                    file=self.file,
                )
            m.add(
                dataclasses.replace(
                    e, value=float(s["value"]), range=rng, source=f"local ({self.name}): {s['source']}"
                ),
                replace=True,
            )
        return m

    def narrowed(self, fit):
        """Return ``fit.model`` with each fitted constant's range narrowed to what the figures allow.

        The range becomes value +- 2 sd (:meth:`~trafficsys.analysis.calibration.CalibrationResult.identifiability`),
        inside the old range, and the source says so; a Monte Carlo of the adapted model then samples the
        fitted constants only as far as the local figures leave them uncertain.
        """
        m = fit.model.copy()
        ident = fit.identifiability()
        for name, row in ident.iterrows():
            e = m[name]
            v, sd = float(row["value"]), float(row["sd"])
            lo, hi = e.range if e.range is not None else (-np.inf, np.inf)
            if np.isfinite(sd):
                lo, hi = max(lo, v - 2 * sd), min(hi, v + 2 * sd)
            m.add(
                dataclasses.replace(
                    e,
                    range=(float(lo), float(hi)),
                    source=(
                        f"calibrated to {self.name} ({', '.join(t.variable for t in self.targets)}; "
                        f"{'identified' if row['identified'] else 'NOT identified: ' + row['why']}); before: {e.source}"
                    ),
                ),
                replace=True,
            )
        return m

    def data(self):
        """Return the targets as observations: a DataFrame indexed by model time, one column per variable."""
        import pandas as pd

        cols: dict[str, pd.Series] = {}
        for t in self.targets:
            cols[t.variable] = pd.Series([t.value] * len(t.at), index=list(t.at), dtype=float)
        return pd.DataFrame(cols).sort_index()

    def weights(self) -> dict[str, float]:
        """Residual scale of each target: its ``sd`` when given, else its tolerance times its value."""
        return {
            t.variable: t.sd if t.sd is not None else max(abs(t.value) * t.tolerance, 1e-9)
            for t in self.targets
        }


def _need(cond: bool, msg: str, path: str) -> None:
    if not cond:
        raise FileFormatError(msg, file=path)


def read_local_data(path: str | os.PathLike) -> LocalData:
    """Read and check a local-data TOML file (see the module docstring for its format)."""
    p = str(path)
    try:
        raw = limits.read_file(p).decode("utf-8")  # the one file guard every reader uses
    except OSError as e:
        raise FileFormatError(f"cannot read the local-data file: {e.strerror or e}", file=p) from None
    except UnicodeDecodeError:
        raise FileFormatError("the local-data file is not UTF-8 text", file=p) from None
    try:
        doc = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as e:
        raise FileFormatError(f"not valid TOML: {e}", file=p) from None
    unit = doc.get("unit", {})
    _need(
        isinstance(unit, dict) and isinstance(unit.get("name"), str) and unit["name"].strip() != "",
        "[unit] needs a name: the district or state the figures describe",
        p,
    )
    settings: dict[str, dict[str, Any]] = {}
    for name, s in (doc.get("set") or {}).items():
        _need(isinstance(s, dict), f"[set.{name}] must be a table with value and source", p)
        _need(
            isinstance(s.get("value"), (int, float)) and not isinstance(s.get("value"), bool),
            f"[set.{name}]: value must be a number",
            p,
        )
        _need(
            isinstance(s.get("source"), str) and len(s["source"].strip()) > 5,
            f'[set.{name}]: give the source of the local value (source = "...")',
            p,
        )
        if "range" in s:
            r = s["range"]
            _need(
                isinstance(r, list)
                and len(r) == 2
                and all(isinstance(x, (int, float)) for x in r)
                and r[0] <= r[1],
                f"[set.{name}]: range must be [low, high]",
                p,
            )
        settings[name] = dict(s)
    targets = []
    for var, tg in (doc.get("targets") or {}).items():
        _need(isinstance(tg, dict), f"[targets.{var}] must be a table with value and source", p)
        v = tg.get("value")
        _need(
            isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v),
            f"[targets.{var}]: value must be a finite number",
            p,
        )
        _need(
            isinstance(tg.get("source"), str) and len(tg["source"].strip()) > 5,
            f'[targets.{var}]: give the published source of the figure (source = "...")',
            p,
        )
        at = tg.get("at", list(DEFAULT_AT))
        _need(
            isinstance(at, list) and len(at) > 0 and all(isinstance(x, (int, float)) for x in at),
            f"[targets.{var}]: at must be a list of model times",
            p,
        )
        tol = tg.get("tolerance", 0.1)
        _need(isinstance(tol, (int, float)) and tol > 0, f"[targets.{var}]: tolerance must be positive", p)
        sd = tg.get("sd")
        _need(
            sd is None or (isinstance(sd, (int, float)) and sd > 0),
            f"[targets.{var}]: sd must be positive",
            p,
        )
        _need(
            sd is not None or v != 0,
            f"[targets.{var}]: a figure of zero needs an absolute uncertainty "
            "(sd = ...), since a relative tolerance of zero is zero",
            p,
        )
        targets.append(
            Target(
                var,
                float(v),
                tuple(float(x) for x in at),
                float(tol),
                tg["source"],
                None if sd is None else float(sd),
            )
        )
    _need(bool(targets), "the file gives no [targets.VARIABLE] tables: nothing to fit to", p)
    fit = (doc.get("fit") or {}).get("constants", [])
    _need(
        isinstance(fit, list) and all(isinstance(x, str) for x in fit),
        "[fit] constants must be a list of constant names",
        p,
    )
    return LocalData(
        unit["name"].strip(), str(unit.get("doc", "")), unit.get("scenario"), settings, targets, list(fit), p
    )
