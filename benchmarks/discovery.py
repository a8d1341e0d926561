"""Benchmark: finding the loops that matter in models with too many loops to list.

Prints, for each model: how many loops it has (counted, not held), the time of
the strongest-path search and of scoring what it found, how many loops were
found, and the share of the loop activity they explain (the rest estimated by
sampling loops, see ``trafficsys.analysis.discovery.explained_share``).
Where every loop can be listed (the reference model), it also times the
exhaustive scoring and checks that every loop that ever dominates was found.

Models: the generated ``dense_feedback(9)`` (9 stocks each fed by all the
others: 125,673 loops), a larger ``dense_feedback(10)`` (1,112,083 loops),
the reference model, and any model files given with ``--model`` (for example
a published model such as World3-03).

Run: ``python benchmarks/discovery.py [--model FILE ...]`` (target: under 10 s
for the 125,673-loop model on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.models import dense_feedback  # noqa: E402

import trafficsys as ts  # noqa: E402
from trafficsys.analysis.ltm import feedback_graph  # noqa: E402


def count_loops(m: ts.Model, cap: int = 2_000_000) -> str:
    """The number of loops (stopping at ``cap``), counted from a generator: never all in memory."""
    import networkx as nx

    g = feedback_graph(m)
    n = sum(1 for _ in itertools.islice(nx.simple_cycles(g), cap + 1))
    return f"> {cap:,}" if n > cap else f"{n:,}"


def bench(label: str, m: ts.Model, loops_known: str | None = None, exhaustive: bool = False) -> None:
    r = ts.simulate(m)
    loops = loops_known or count_loops(m)
    t0 = time.perf_counter()
    d = ts.loop_dominance(m, r, discovery="strongest_path")
    t_search = time.perf_counter() - t0
    share = d.explained.values
    line = (
        f"{label:<34} loops {loops:>11}  search+score {t_search:6.2f} s  found {len(d.loops):>5}  "
        f"explain {100 * np.median(share):5.1f}% (9 times in 10: {100 * np.quantile(share, 0.1):5.1f}%; "
        f"sampling recovers {100 * d.explained.attrs['recovered']:.0f}%)"
    )
    if exhaustive:
        t0 = time.perf_counter()
        every = ts.loop_dominance(m, r, discovery="all")
        t_all = time.perf_counter() - t0
        found = {frozenset(zip(lp.variables, lp.variables[1:] + lp.variables[:1])) for lp in d.loops}
        dom = {int(k) for k in np.unique(every._dom[every._dom >= 0])}
        missed = [
            every.loops[k].id
            for k in dom
            if frozenset(
                zip(every.loops[k].variables, every.loops[k].variables[1:] + every.loops[k].variables[:1])
            )
            not in found
        ]
        line += f"  | all: {t_all:6.2f} s; dominating loops missed by the search: {len(missed)} of {len(dom)}"
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", nargs="*", default=[], help="more model files to search")
    ap.add_argument("--skip-large", action="store_true", help="skip the 1.1-million-loop model")
    args = ap.parse_args(argv)

    def loops_of(n: int) -> str:
        return f"{sum(math.comb(n, k) * math.factorial(k - 1) for k in range(2, n + 1)) + n:,}"

    bench("dense_feedback(9)", dense_feedback(9), loops_of(9))
    if not args.skip_large:
        bench("dense_feedback(10)", dense_feedback(10), loops_of(10))
    bench("reference model", ts.load_default(), exhaustive=True)
    for path in args.model:
        bench(Path(path).name, ts.load(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
