#!/usr/bin/env python3
"""Run published Vensim models through trafficsys and compare them with pysimlin.

The models are the ones vendored in ``benchmarks/models/metasd`` (published on
the MetaSD blog, CC BY 3.0; see the README there), plus any files given with
``--model``. Each is loaded with ``ts.load`` and run with ``ts.simulate``, and,
where pysimlin (Simlin's engine, an independent implementation) runs it too,
every variable both return is compared at every saved time::

    python tools/published.py [--model FILE ...] [--rtol 1e-4] [--roundtrip]

The table says, per model: whether trafficsys loads it (and if not, the
unsupported feature or the parse error, as the reader names it), whether it
runs, whether pysimlin runs it, and whether the two agree to ``--rtol``
(relative, near zero by absolute error; the rule of ``tools/compatibility.py``).
With ``--roundtrip`` each model that runs is also saved to XMILE by ``ts.save``,
read back and run again (see ``tools/roundtrip.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compatibility import compare  # noqa: E402

PUBLISHED = HERE.parent / "benchmarks" / "models" / "metasd"


@dataclass
class Row:
    """One model: what trafficsys and pysimlin made of it."""

    model: str
    loads: bool = False
    runs: bool = False
    simlin: str = "-"  # "runs", or why not
    matches: str = "-"  # "yes", "no", or "-" (nothing to compare)
    compared: int = 0
    worst: float = float("nan")
    worst_at: str = ""
    seconds: float = float("nan")
    reason: str = ""


def _first_line(e: BaseException, limit: int = 240) -> str:
    text = f"{type(e).__name__}: {e}".replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def reason(e: BaseException) -> str:
    """Say why a model was refused, in a few words: the unsupported features named, or the parse error."""
    text = str(e).replace("\n", " ")
    if "does not support:" in text:
        body = text.split("does not support:", 1)[1]
        names = [part.split(" used by ")[0].strip() for part in body.split("; ") if " used by " in part]
        return f"unsupported: {', '.join(dict.fromkeys(names)) or body.strip()[:160]}"
    if "could not parse" in text:
        return "parse error (" + text.split("could not parse", 1)[1].split("(", 1)[-1][:140] + ")"
    return _first_line(e, 200)


def ours(path: Path) -> pd.DataFrame:
    """Run one model with trafficsys: every saved time, columns by variable name (arrays flattened)."""
    import trafficsys as ts
    from trafficsys.model.arrays import flatten, is_arrayed

    m = ts.load(path)
    if is_arrayed(m):
        m = flatten(m)
    r = ts.simulate(m)
    df = r.to_pandas()
    df.index = np.asarray(df.index, dtype=float)
    return df


def theirs(path: Path) -> pd.DataFrame:
    """Run one model with pysimlin (no loop analysis): its results table."""
    import simlin

    run = simlin.load(path).run(analyze_loops=False)
    df = run.results
    df.index = np.asarray(df.index, dtype=float)
    return df


def check(path: Path, rtol: float) -> Row:
    """Load, run and compare one model file."""
    row = Row(path.name)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import trafficsys as ts

        try:
            ts.load(path)
            row.loads = True
            got = ours(path)
            row.runs = True
        except Exception as e:  # a sweep records every refusal and goes on
            row.reason = reason(e)
            got = None
        row.seconds = time.perf_counter() - t0
        try:
            ref = theirs(path)
            row.simlin = "runs"
        except Exception as e:
            row.simlin = "no: " + str(e).replace("\n", " ").split("SimulationError{", 1)[-1][:200]
            ref = None
    if got is not None and ref is not None:
        c = compare(ref, got, rtol=rtol)
        row.compared, row.worst, row.worst_at = c.compared, c.worst, c.worst_at
        if c.compared:
            row.matches = "yes" if c.worst <= rtol and c.matched == c.times else "no"
    return row


def models(extra: list[str]) -> list[Path]:
    """List the vendored published models, then the extra files."""
    return sorted(PUBLISHED.glob("*/*.mdl")) + [Path(p) for p in extra]


def print_table(rows: list[Row], rtol: float, file=None) -> None:
    """Print one line per model and the counts."""
    file = file or sys.stdout
    print(
        f"{'model':32} {'loads':>5} {'runs':>5} {'pysimlin':>9} {'matches':>8} {'cols':>5} {'worst':>9}  "
        f"reason (when refused) or worst column",
        file=file,
    )
    for r in rows:
        worst = "" if r.worst != r.worst else f"{r.worst:.1e}"
        simlin = "runs" if r.simlin == "runs" else "no"
        note = r.reason or (r.worst_at if r.matches == "no" else "")
        print(
            f"{r.model[:32]:32} {'yes' if r.loads else 'no':>5} {'yes' if r.runs else 'no':>5} {simlin:>9} "
            f"{r.matches:>8} {r.compared:>5} {worst:>9}  {note}",
            file=file,
        )
    n = len(rows)
    print(
        f"\n{n} models: trafficsys loads {sum(r.loads for r in rows)} and runs {sum(r.runs for r in rows)}; "
        f"pysimlin runs {sum(r.simlin == 'runs' for r in rows)}; both run {sum(r.runs and r.simlin == 'runs' for r in rows)}, "
        f"of which {sum(r.matches == 'yes' for r in rows)} match to {rtol:g}",
        file=file,
    )
    for r in rows:
        if r.simlin != "runs":
            print(f"  pysimlin on {r.model}: {r.simlin[4:]}", file=file)


def main(argv=None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", nargs="*", default=[], help="more model files (e.g. your copy of World3-03)")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument(
        "--roundtrip", action="store_true", help="also save each model that runs to XMILE and back"
    )
    a = ap.parse_args(argv)
    rows = [check(p, a.rtol) for p in models(a.model)]
    print_table(rows, a.rtol)
    if a.roundtrip:
        import roundtrip

        paths = [p for p, r in zip(models(a.model), rows) if r.runs]
        roundtrip.print_table([roundtrip.check(p) for p in paths])
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
