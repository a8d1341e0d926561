"""Calibrate the reference model's baseline and put it at rest.

Run ``python tools/calibrate_reference.py`` (``--write`` to update
``models/anti_trafficking_ecosystem.toml`` in place).  It does two things, both
documented in docs/model.md:

1. **Initial state at rest.**  The status quo persists ("the established
   approach has not created a sizeable dent"), so the baseline should start
   where its own dynamics keep it.  The script runs the baseline strategy for
   150 years and copies the final stocks into the ``initial_*`` constants,
   repeating until nothing moves.
2. **Four calibrated constants**, each against one published target:
   ``base_recruitment_rate`` (exploitation stays at 10,000 people),
   ``police_detection_per_officer`` (police-led exits are 28/80 of identified
   exits, GLOTIP 2022), ``base_community_exit_rate`` (community exits 11/80,
   GLOTIP 2022) and ``base_court_capacity`` (trials last 3.5 years, IJM).

No constant that distinguishes one strategy from another is calibrated here;
the strategies never enter this script except the baseline.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

import trafficsys as ts

MODEL = Path(__file__).resolve().parents[1] / "models" / "anti_trafficking_ecosystem.toml"

#: initial-value constant -> the stock it starts
STATE = {
    "initial_trafficker_network": "trafficker_network",
    "initial_police_capacity": "police_capacity",
    "initial_ngo_rescue_capacity": "ngo_rescue_capacity",
    "initial_institutional_care": "institutional_care",
    "initial_community_reintegration": "community_reintegration",
    "initial_reintegrated": "reintegrated",
    "initial_survivor_leaders": "survivor_leaders",
    "initial_cases_under_investigation": "cases_under_investigation",
    "initial_cases_in_trial": "cases_in_trial",
    "initial_state_accountability": "state_accountability",
    "initial_survivor_trust": "survivor_trust",
    "initial_ngo_shelter_beds": "ngo_shelter_beds",
    "initial_support_orientation": "support_orientation",
}
#: reference constant -> the stock whose point-value rest state it is (the scale the rates are stated at)
REFERENCE = {
    "reference_trafficker_network": "trafficker_network",
    "reference_cases_in_trial": "cases_in_trial",
}
TARGETS = {
    "in_exploitation": 10000.0,
    "police_share": 28 / 80,
    "community_share": 11 / 80,
    "trial_duration": 3.5,
}


def measure(values: dict[str, float], horizon: float = 150.0) -> dict[str, float]:
    """Run the baseline with ``values`` and return the final state and target quantities."""
    m = ts.load_default()
    r = ts.simulate(m, scenario="baseline", params=values, stop=horizon)
    last = {k: float(r.ds[k].values[-1, 0]) for k in r.ds.data_vars if r.ds[k].dims == ("time", "run")}
    exits = (
        last["self_exit"] + last["police_identification"] + last["ngo_raid_exits"] + last["outreach_exits"]
    )
    last["police_share"] = (last["police_identification"] + last["ngo_raid_exits"]) / exits
    last["community_share"] = last["outreach_exits"] / exits
    return last


def calibrate(iterations: int = 40) -> dict[str, float]:
    """Fixed-point iteration on the initial state and the four calibrated constants."""
    m = ts.load_default()
    values = {
        k: m[k].value
        for k in [
            *STATE,
            *REFERENCE,
            "base_recruitment_rate",
            "police_detection_per_officer",
            "base_community_exit_rate",
            "base_court_capacity",
        ]
    }
    for i in range(iterations):
        last = measure(values)
        for const, stock in {**STATE, **REFERENCE}.items():
            values[const] = last[stock]
        values["base_recruitment_rate"] *= (TARGETS["in_exploitation"] / last["in_exploitation"]) ** 0.5
        values["police_detection_per_officer"] *= (TARGETS["police_share"] / last["police_share"]) ** 0.7
        values["base_community_exit_rate"] *= (TARGETS["community_share"] / last["community_share"]) ** 0.7
        minimum = m["minimum_trial_duration"].value
        values["base_court_capacity"] *= (
            (last["trial_duration"] - minimum) / (TARGETS["trial_duration"] - minimum)
        ) ** 0.7
        err = max(
            abs(last["in_exploitation"] / TARGETS["in_exploitation"] - 1),
            abs(last["police_share"] / TARGETS["police_share"] - 1),
            abs(last["community_share"] / TARGETS["community_share"] - 1),
            abs(last["trial_duration"] / TARGETS["trial_duration"] - 1),
        )
        print(
            f"iteration {i:2d}: exploitation {last['in_exploitation']:9.1f}  police share "
            f"{last['police_share']:.4f}  community share {last['community_share']:.4f}  "
            f"trial {last['trial_duration']:.3f}  worst relative error {err:.2e}"
        )
        if err < 1e-4:
            break
    return values


def _round(x: float) -> float:
    return float(np.format_float_positional(x, precision=4, unique=False, fractional=False, trim="-"))


def write(values: dict[str, float], path: Path = MODEL) -> None:
    """Replace the ``value =`` line of each constant in the model file."""
    text = path.read_text()
    for name, v in values.items():
        pattern = re.compile(rf"(\[constants\.{name}\]\nvalue = )([^\n]+)")
        if not pattern.search(text):
            raise SystemExit(f"constant {name} not found in {path}")
        text = pattern.sub(lambda mt, v=v: mt.group(1) + repr(_round(v)), text)
    path.write_text(text)


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="update the model file in place")
    args = ap.parse_args()
    values = calibrate()
    for k, v in values.items():
        print(f"{k:36s} {_round(v)!r}")
    if args.write:
        write(values)
        print(f"wrote {MODEL}")


if __name__ == "__main__":
    main()
