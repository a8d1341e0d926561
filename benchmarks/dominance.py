"""Benchmark: Loops that Matter scores for a 24-stock model, one 480-step run and a 1,000-run ensemble.

The model is a ring of eight regions, each with people vulnerable to
trafficking, in exploitation and recovering (three stocks per region, 24 in
all).  Recruitment feeds on the number already exploited (a reinforcing
loop: recruiters' networks), exits and relapse close balancing loops, and
exploited people are moved on to the next region, which couples the regions
into one cycle partition with many competing loops.

The reference model's ensembles, each against a baseline in the same run:

* ``trafficsys dominance --runs 100`` (a fresh process: import, one run's
  dominance, a 100-run Monte Carlo and its dominance), this tree against
  ``--baseline DIR`` (another checkout, e.g. ``git worktree add /tmp/base main``);
* ensemble loop dominance in-process (Monte Carlo of 100 runs + scoring), the
  compiled loop scorer against the numpy one;
* ``ts.compare`` of the 5 strategies over 1,000 futures, warm, this tree
  against the baseline checkout.

Run: ``python benchmarks/dominance.py [--baseline DIR] [--runs N]``; ``--skip-ring`` leaves out the ring model.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import trafficsys as ts
from trafficsys.analysis import loop_dominance

REGIONS = 8


def ring_model(regions: int = REGIONS) -> ts.Model:
    m = ts.Model("trafficking_ring", start=0, stop=30, dt=0.0625, time_units="year")
    m.constant("recruitment_rate", 0.8, range=(0.4, 1.6), units="1/year")
    m.constant("exit_rate", 0.25, range=(0.1, 0.5), units="1/year")
    m.constant("relapse_rate", 0.3, range=(0.1, 0.6), units="1/year")
    m.constant("recovery_time", 2.0, range=(1, 4), units="year")
    m.constant("onward_rate", 0.1, range=(0.02, 0.3), units="1/year")
    for i in range(regions):
        nxt = (i + 1) % regions
        m.constant(f"population_{i}", 1000 + 100 * i, units="person")
        m.stock(f"vulnerable_{i}", f"population_{i} - 10 - {i}", inflows=[f"relapse_{i}"],
                outflows=[f"recruitment_{i}"], units="person", non_negative=True)
        m.stock(f"exploited_{i}", 10 + i, inflows=[f"recruitment_{i}", f"onward_{(i - 1) % regions}"],
                outflows=[f"exit_{i}", f"onward_{i}"], units="person", non_negative=True)
        m.stock(f"recovering_{i}", 0, inflows=[f"exit_{i}"], outflows=[f"relapse_{i}", f"recovered_{i}"],
                units="person", non_negative=True)
        m.aux(f"prevalence_{i}", f"exploited_{i} / population_{i}")
        m.flow(f"recruitment_{i}", f"recruitment_rate * vulnerable_{i} * prevalence_{i}", units="person/year")
        m.flow(f"exit_{i}", f"exit_rate * exploited_{i}", units="person/year")
        m.flow(f"onward_{i}", f"onward_rate * exploited_{i} * (1 - prevalence_{nxt})",
               units="person/year")
        m.flow(f"relapse_{i}", f"relapse_rate * recovering_{i} * prevalence_{i}", units="person/year")
        m.flow(f"recovered_{i}", f"recovering_{i} / recovery_time", units="person/year")
    return m


HERE = Path(__file__).resolve().parent.parent

COMPARE = """
import time, trafficsys as ts
m = ts.load_default()
names = list(m.scenarios)[:5]
ts.compare(m, names, n=50, seed=1)  # warm: compiled code, loaded model
t = time.perf_counter()
ts.compare(m, names, n=1000, seed=1)
print(time.perf_counter() - t)
"""


def _in(tree: Path, args: list[str], capture_time: bool = False) -> float:
    """Seconds of a fresh Python process running ``args`` with ``tree``'s sources first (or its printed time)."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    t = time.perf_counter()
    out = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(args[:4])} failed in {tree}:\n{out.stderr[-2000:]}")
    wall = time.perf_counter() - t
    return float(out.stdout.strip().splitlines()[-1]) if capture_time else wall


def _side_by_side(label: str, now: float, base: float | None) -> None:
    if base is None:
        print(f"{label}: {now:.2f} s (no --baseline given)")
    else:
        print(f"{label}: {now:.2f} s, baseline {base:.2f} s, {base / now:.1f}x faster")


def reference(args) -> None:
    import trafficsys.analysis.ltm as ltm
    from trafficsys.analysis import _loop_kernel

    base = Path(args.baseline).resolve() if args.baseline else None
    print(f"\nreference model ({'baseline ' + str(base) if base else 'no baseline'})")
    cli = ["-m", "trafficsys.cli", "dominance", "--runs", "100"]
    _in(HERE, cli)  # the first process compiles (loop scorer cache on disk)
    _side_by_side("trafficsys dominance --runs 100 (whole command, fresh process)", _in(HERE, cli),
                  _in(base, cli) if base else None)

    m = ts.load_default()
    loop_dominance(m, ts.simulate(m))  # the loops and their ids are cached per structure, as in the command
    times = {}
    for scorer in ("numba", "numpy") if _loop_kernel.available() else ("numpy",):
        ltm.SCORER = scorer
        loop_dominance(m, ts.monte_carlo(m, n=4, seed=1, variables="all"))  # warm
        t = time.perf_counter()
        mc = ts.monte_carlo(m, n=100, seed=1, variables="all")
        t1 = time.perf_counter()
        loop_dominance(m, mc)
        times[scorer] = (t1 - t, time.perf_counter() - t1)
    ltm.SCORER = "auto"
    for scorer, (sim, dom) in times.items():
        print(f"ensemble dominance, 100 runs, {scorer} scorer: Monte Carlo {sim:.2f} s + scoring {dom:.2f} s "
              f"= {sim + dom:.2f} s")
    if len(times) == 2:
        print(f"  compiled scorer / numpy scorer: {sum(times['numpy']) / sum(times['numba']):.1f}x faster")

    cmp = ["-c", COMPARE]
    _side_by_side("compare, 5 strategies x 1,000 futures (warm)", _in(HERE, cmp, True),
                  _in(base, cmp, True) if base else None)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--baseline", metavar="DIR", help="a checkout to compare against (its src/ is used)")
    parser.add_argument("--skip-ring", action="store_true", help="only the reference model's benchmarks")
    args = parser.parse_args(argv)
    if not args.skip_ring:
        ring(args)
    reference(args)


def ring(args) -> None:
    m = ring_model()
    steps = int(round((m.stop - m.start) / m.dt))
    print(f"model: {len(m.stocks)} stocks, {len(m.names())} variables, {steps} steps")

    t0 = time.perf_counter()
    r = ts.simulate(m)
    t1 = time.perf_counter()
    d = loop_dominance(m, r)
    t2 = time.perf_counter()
    print(f"single run: simulate {t1 - t0:.3f} s; loop dominance {t2 - t1:.3f} s "
          f"({len(d.loops)} loops, {d.link_scores.sizes['link']} links, {len(d.partitions)} partitions)")
    print(d.ranking().head(5).to_string(index=False))

    rng = np.random.default_rng(1)
    params = {c.name: rng.uniform(*c.range, args.runs) for c in m.constants if c.range}
    t0 = time.perf_counter()
    e = ts.simulate(m, params=params)
    t1 = time.perf_counter()
    de = loop_dominance(m, e)
    t2 = time.perf_counter()
    print(f"{args.runs}-run ensemble: simulate {t1 - t0:.3f} s; loop dominance {t2 - t1:.3f} s "
          f"({(t2 - t1) / args.runs * 1e3:.2f} ms per run)")
    drivers = de.drivers(params)
    top = de.ranking()["loop"].iloc[0]
    print(f"constants that make {top} dominate (Spearman):")
    print(drivers[top].sort_values(key=np.abs, ascending=False).to_string())


if __name__ == "__main__":
    main()
