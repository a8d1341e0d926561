#!/usr/bin/env python3
"""Round trip through XMILE: every model that runs, saved by ``ts.save`` and read back, runs the same.

For each model file (by default every XMILE and Vensim file of the SDXorg
test models in ``tests/data/test-models`` and the published models in
``benchmarks/models/metasd``) that ``ts.load`` reads and ``ts.simulate`` runs:

1. ours: save it to XMILE with ``ts.save``, load that file with ``ts.load``,
   run it, and compare every variable at every saved time with the first run
   (``exact`` when every value is equal, bit for bit);
2. PySD: run the same XMILE file with ``pysd.read_xmile`` and compare the
   variables both return (PySD names them in its own way: matched by
   canonical name) to ``--rtol``.

Run: ``python tools/roundtrip.py [--root DIR] [--model FILE ...] [--rtol 1e-4] [--no-pysd]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compatibility import DEFAULT_ROOT, compare, load_model, model_files  # noqa: E402

PUBLISHED = HERE.parent / "benchmarks" / "models" / "metasd"


@dataclass
class Trip:
    """One model's round trip."""

    model: str
    ours: str = "-"  # "exact", "same" (within rtol), "differs", or why it failed
    worst: float = float("nan")
    worst_at: str = ""
    pysd: str = "-"  # "same", "differs", or why PySD could not run our file
    pysd_compared: int = 0
    pysd_worst: float = float("nan")
    pysd_worst_at: str = ""
    seconds: float = float("nan")


def _short(e: BaseException, limit: int = 160) -> str:
    text = f"{type(e).__name__}: {e}".replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _frame(r) -> pd.DataFrame:
    df = r.to_pandas()
    df.index = np.asarray(df.index, dtype=float)
    return df


def _run(m):
    """Run a model as the engine does (an arrayed model element by element)."""
    import trafficsys as ts
    from trafficsys.model.arrays import flatten, is_arrayed

    return ts.simulate(flatten(m) if is_arrayed(m) else m)


def runs(path: Path):
    """Load and run a model: the model as ``ts.load`` reads it and its run, or None when it does not run.

    The model is loaded with the companion files the compatibility table gives it
    (``compatibility.load_model``: macros=, data=).
    """
    try:
        m, _ = load_model(str(path))
        return m, _run(m)
    except Exception:  # a sweep leaves out what does not run (tools/compatibility.py says why)
        return None


def check(path: Path, rtol: float = 1e-4, pysd: bool = True, loaded=None) -> Trip:
    """Save one model that runs to XMILE, read it back (ours and PySD's reader) and compare the runs."""
    import trafficsys as ts

    trip = Trip(str(path))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m, first = loaded or runs(path)
        before = _frame(first)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "model.xmile"
            try:
                ts.save(m, out)
                back = ts.load(out)
                again = _frame(_run(back))
            except Exception as e:
                trip.ours = "fails: " + _short(e)
                again = None
            if again is not None:
                common = [c for c in before.columns if c in again.columns]
                missing = [c for c in before.columns if c not in again.columns]
                a = before[common].to_numpy(float)
                b = again.reindex(before.index)[common].to_numpy(float)
                if not missing and before.index.equals(again.index) and np.array_equal(a, b, equal_nan=True):
                    trip.ours, trip.worst = "exact", 0.0
                else:
                    c = compare(before, again, rtol=rtol)
                    trip.worst, trip.worst_at = c.worst, c.worst_at
                    trip.ours = "same" if c.worst <= rtol and not c.missing else "differs"
                    if c.missing:
                        trip.worst_at = f"{len(c.missing)} variables lost: {', '.join(c.missing[:3])}"
            if pysd:
                try:
                    import pysd as _pysd

                    theirs = _pysd.read_xmile(str(out)).run(return_timestamps=before.index.to_numpy(float))
                    theirs.index = np.asarray(theirs.index, dtype=float)
                    c = compare(before, theirs, rtol=rtol)
                    trip.pysd_compared, trip.pysd_worst, trip.pysd_worst_at = c.compared, c.worst, c.worst_at
                    trip.pysd = ("same" if c.worst <= rtol else "differs") if c.compared else "no columns"
                except Exception as e:
                    trip.pysd = "fails: " + _short(e, 120)
    trip.seconds = time.perf_counter() - t0
    return trip


def default_models(root: str) -> list[Path]:
    """Every XMILE and Vensim file of the test models, then the published models."""
    found = []
    for folder, _, _ in os.walk(root):
        found += [Path(p) for p in model_files(folder, "all")]
    return sorted(found) + sorted(PUBLISHED.glob("*/*.mdl"))


def print_table(trips: list[Trip], rtol: float = 1e-4, file=None) -> None:
    """Print one line per model and the counts."""
    file = file or sys.stdout
    print(f"{'ours':>8} {'worst':>9}  {'PySD':>10} {'cols':>5} {'worst':>9}  model (note)", file=file)
    for t in trips:
        w = "" if t.worst != t.worst else f"{t.worst:.1e}"
        pw = "" if t.pysd_worst != t.pysd_worst else f"{t.pysd_worst:.1e}"
        ours = t.ours if not t.ours.startswith("fails") else "fails"
        theirs = t.pysd if not t.pysd.startswith("fails") else "fails"
        note = "; ".join(
            x
            for x in (
                t.ours[7:] if t.ours.startswith("fails") else (t.worst_at if t.ours == "differs" else ""),
                ("PySD " + t.pysd[7:])
                if t.pysd.startswith("fails")
                else (f"PySD worst at {t.pysd_worst_at}" if t.pysd == "differs" else ""),
            )
            if x
        )
        print(
            f"{ours:>8} {w:>9}  {theirs:>10} {t.pysd_compared:>5} {pw:>9}  {t.model}"
            + (f"  ({note})" if note else ""),
            file=file,
        )
    n = len(trips)
    count = {k: sum(t.ours == k for t in trips) for k in ("exact", "same", "differs")}
    pys = {k: sum(t.pysd == k for t in trips) for k in ("same", "differs", "no columns")}
    print(
        f"\n{n} models that run: round trip through our XMILE exact for {count['exact']}, within {rtol:g} for "
        f"{count['same']}, different for {count['differs']}, failed for "
        f"{n - sum(count.values())}; PySD runs our file for {pys['same'] + pys['differs'] + pys['no columns']} "
        f"({pys['same']} agree to {rtol:g}, {pys['differs']} differ, {pys['no columns']} share no column), "
        f"fails for {sum(t.pysd.startswith('fails') for t in trips)}",
        file=file,
    )


def main(argv=None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=DEFAULT_ROOT, help="the test-models folder")
    ap.add_argument("--model", nargs="*", default=None, help="these model files instead of the default set")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--no-pysd", action="store_true", help="leave PySD out")
    a = ap.parse_args(argv)
    paths = [Path(p) for p in a.model] if a.model else default_models(a.root)
    trips = []
    for p in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = runs(p)
        if loaded is not None:
            trips.append(check(p, a.rtol, not a.no_pysd, loaded))
            trips[-1].model = os.path.relpath(p, HERE.parent)
    print_table(trips, a.rtol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
