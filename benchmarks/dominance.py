"""Benchmark: Loops that Matter scores for a 24-stock model, one 480-step run and a 1,000-run ensemble.

The model is a ring of eight regions, each with people vulnerable to
trafficking, in exploitation and recovering (three stocks per region, 24 in
all).  Recruitment feeds on the number already exploited (a reinforcing
loop: recruiters' networks), exits and relapse close balancing loops, and
exploited people are moved on to the next region, which couples the regions
into one cycle partition with many competing loops.

Run: ``python benchmarks/dominance.py`` (prints times; ``--runs`` to change the ensemble).
"""

from __future__ import annotations

import argparse
import time

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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args(argv)
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
