"""Time ``trafficsys run`` against ``ts.simulate`` on a generated model of N variables.

The command line loads, validates, simulates and prints a table; it should
cost a small multiple of the API's load + simulate, however many variables the
model has (issue 17 found it quadratic: 8,000 variables took 127 s).

Run::

    python benchmarks/cli_scale.py            # 16,000 variables
    python benchmarks/cli_scale.py --n 4000

Prints the two times and their ratio (the target is at most 5).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_model(path: Path, n: int) -> None:
    """Write a TOML model of about ``n`` variables: chains of stock, outflow, auxiliary and constant."""
    chains = max(1, n // 4)
    lines = ["[model]", 'name = "scale"', "start = 0", "stop = 10", "dt = 0.25", 'time_units = "year"', ""]
    for i in range(chains):
        lines += [f"[constants.k{i}]", f"value = {0.01 + (i % 7) * 0.01}", ""]
        lines += [
            f"[stocks.s{i}]",
            f'initial = "{100 + i % 13}"',
            f'outflows = ["f{i}"]',
            "non_negative = true",
            "",
        ]
        lines += [f"[flows.f{i}]", f'equation = "k{i} * s{i} + a{i}"', ""]
        prev = f"s{i - 1}" if i else "0"
        lines += [f"[auxiliaries.a{i}]", f'equation = "0.001 * {prev}"', ""]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    """Run the comparison and print the times and their ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16_000, help="number of variables (default 16000)")
    args = ap.parse_args(argv)
    import trafficsys as ts

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.toml"
        write_model(path, args.n)
        t0 = time.perf_counter()
        m = ts.load(path)
        ts.simulate(m)
        api = time.perf_counter() - t0
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "trafficsys.cli", "run", str(path)], capture_output=True, text=True
        )
        cli = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"trafficsys run failed:\n{proc.stderr}")
    print(f"variables: {len(m.names())}")
    print(f"API load + simulate: {api:.2f} s")
    print(f"trafficsys run:      {cli:.2f} s")
    print(f"ratio CLI / API:     {cli / api:.1f}")


if __name__ == "__main__":
    main()
