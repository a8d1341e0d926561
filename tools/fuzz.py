"""Long fuzz runs: ``python tools/fuzz.py --examples N`` plants sentinel payloads in every field of every format.

The same targets as ``tests/test_fuzz_sentinels.py`` (which runs a bounded number in CI): each example
writes a small model with hostile text in one field, then loads, validates, simulates and saves it.
Prints, per format, the examples run, the ModelErrors (expected refusals), any other exception (a bug;
a file opened outside the model's folder and a round trip that changes the numbers count as bugs too),
runs over 10 s, and whether the sentinel file ever appeared.  ``--formats toml xmile`` picks readers.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fuzz_targets import FIELDS, FORMATS, check, payloads, plant  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import trafficsys as ts  # noqa: E402

#: seconds one example may take (load, validate, simulate, save, load, compare)
LIMIT = 10.0
#: the findings :func:`fuzz_targets.check` asserts, by the start of their message
_FINDINGS = {"read outside the folder": "opened outside", "sentinel written": "a planted payload"}


def _one(fmt: str, flag: Path, field: str, text: str, tally: collections.Counter) -> None:
    """Load, validate, simulate, save, load and compare one hostile model; count its outcome."""
    with tempfile.TemporaryDirectory() as d:
        try:
            tally[check(plant(Path(d), fmt, field, text), flag)] += 1
        except ts.ModelError:
            tally["ModelError"] += 1
        except (
            AssertionError
        ) as e:  # a payload ran, a file outside the folder was opened, the numbers changed
            text = str(e)
            kind = next((k for k, start in _FINDINGS.items() if text.startswith(start)), "round trip changed")
            tally[f"BUG {kind}"] += 1
        except Exception as e:  # noqa: BLE001 - counted: anything but ModelError is a bug
            tally[f"BUG {type(e).__name__}"] += 1


def run_format(
    fmt: str, flag: Path, examples: int
) -> tuple[collections.Counter, list[tuple[str, str, float, float]]]:
    """Run ``examples`` hostile models of one format; return the outcome counts and the runs over 10 s.

    Each slow run is given as (field, payload, wall seconds, CPU seconds of this process).  On a shared
    machine a run can pass 10 s of wall time while waiting for a core; :func:`main` runs each again alone.
    """
    tally: collections.Counter = collections.Counter()
    slow: list[tuple[str, str, float, float]] = []

    @given(field=st.sampled_from(FIELDS), text=payloads(flag))
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def one(field, text):
        t0, c0 = time.perf_counter(), time.process_time()
        _one(fmt, flag, field, text, tally)
        wall = time.perf_counter() - t0
        if wall > LIMIT:
            slow.append((field, text, wall, time.process_time() - c0))

    one()
    return tally, slow


def main(argv: list[str] | None = None) -> int:
    """Fuzz every format; exit 1 when any example raised something other than ModelError or ran code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=1000, help="examples per format (default 1000)")
    ap.add_argument(
        "--formats", nargs="+", choices=FORMATS, default=FORMATS, help="readers to fuzz (default all)"
    )
    args = ap.parse_args(argv)
    flag = Path(tempfile.gettempdir()) / "trafficsys-fuzz-sentinel-long"
    flag.unlink(missing_ok=True)
    bad = 0
    for fmt in args.formats:
        t0 = time.perf_counter()
        tally, slow = run_format(fmt, flag, args.examples)
        bugs = sum(v for k, v in tally.items() if k.startswith("BUG"))
        others = sum(v for k, v in tally.items() if k.startswith("BUG") and k[4:] not in _FINDINGS)
        # a slow run is timed again on its own: still over the limit is a finding, else it waited for a core
        again = []
        for field, text, _, _ in slow:
            t1 = time.perf_counter()
            _one(fmt, flag, field, text, collections.Counter())
            again.append(time.perf_counter() - t1)
        still = sum(t > LIMIT for t in again)
        bad += bugs + flag.exists() + still
        detail = ""
        if slow:
            detail = (
                " ("
                + "; ".join(
                    f"{field} {len(text)} chars: {wall:.1f} s wall, {cpu:.1f} s CPU, {t:.2f} s alone"
                    for (field, text, wall, cpu), t in zip(slow, again)
                )
                + ")"
            )
        print(
            f"{fmt}: {sum(tally.values())} examples ({tally['ok']} ran, {tally['refused'] + tally['ModelError']}"
            f" refused with a ModelError); other exceptions or changed round trips: {others}; reads outside the"
            f" model's folder: {tally['BUG read outside the folder']}; payloads run:"
            f" {tally['BUG sentinel written'] + flag.exists()}; over {LIMIT:.0f} s: {len(slow)}{detail}; still"
            f" over {LIMIT:.0f} s when run again alone: {still}; {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        if bugs:
            print(f"  findings: { {k: v for k, v in tally.items() if k.startswith('BUG')} }", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
