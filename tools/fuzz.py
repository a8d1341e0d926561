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


def run_format(fmt: str, flag: Path, examples: int) -> tuple[collections.Counter, int]:
    """Run ``examples`` hostile models of one format; return the outcome counts and the runs over 10 s."""
    tally: collections.Counter = collections.Counter()
    slow = 0

    @given(field=st.sampled_from(FIELDS), text=payloads(flag))
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def one(field, text):
        nonlocal slow
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            try:
                # load, validate, simulate, save, load, compare
                tally[check(plant(Path(d), fmt, field, text), flag)] += 1
            except ts.ModelError:
                tally["ModelError"] += 1
            except AssertionError as e:  # a payload ran, or the round trip changed the numbers
                tally[f"BUG {str(e)[:60]}"] += 1
            except Exception as e:  # noqa: BLE001 - counted: anything but ModelError is a bug
                tally[f"BUG {type(e).__name__}"] += 1
        slow += time.perf_counter() - t0 > 10

    one()
    return tally, slow


def main(argv: list[str] | None = None) -> int:
    """Fuzz every format; exit 1 when any example raised something other than ModelError or ran code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=1000, help="examples per format (default 1000)")
    ap.add_argument("--formats", nargs="+", choices=FORMATS, default=FORMATS, help="readers to fuzz (default all)")
    args = ap.parse_args(argv)
    flag = Path(tempfile.gettempdir()) / "trafficsys-fuzz-sentinel-long"
    flag.unlink(missing_ok=True)
    bad = 0
    for fmt in args.formats:
        t0 = time.perf_counter()
        tally, slow = run_format(fmt, flag, args.examples)
        bugs = sum(v for k, v in tally.items() if k.startswith("BUG"))
        bad += bugs + flag.exists()
        print(f"{fmt}: {sum(tally.values())} examples; {dict(tally)}; over 10 s: {slow}; "
              f"sentinel written: {flag.exists()}; {time.perf_counter() - t0:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
