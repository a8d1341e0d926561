"""Time of a full systemic-blocks report on the reference model (n=500 futures), and what it is made of.

Prints the wall time of ``ts.find_blocks(m, "cases_convicted", scenario="baseline", n=500, seed=1)`` beside
the time of its base ensemble alone (one ``ts.simulate`` of the same 500 futures), so the ratio says how
many ensembles' worth of work the report costs on this (shared, noisy) machine.  Target: under 30 s on
2 cores.
"""

from __future__ import annotations

import os
import time

import trafficsys as ts
from trafficsys.engine import sample_constants
from trafficsys.engine.spinup import spin_up, spinup_spec


def main(n: int = 500) -> None:
    m = ts.load_default()
    base = m.with_scenario("baseline")
    # the futures find_blocks samples: the uncertain constants, not the levers, switches or the strategy's
    # settings, each started at its own status quo's rest state (the spin-up)
    fixed = {c.name for c in base.constants if c.role and ("policy" in c.role or "structure" in c.role)}
    fixed |= set(m.scenarios["baseline"].overrides) | set(spinup_spec(m).derived())
    names = [c.name for c in base.constants if c.range and c.range[1] > c.range[0] and c.name not in fixed]
    sample = sample_constants(base, n, seed=1, names=names)
    sample.update(spin_up(m, sample, n))
    ts.simulate(base, params=sample)  # warm the compile cache
    t0 = time.perf_counter()
    ts.simulate(base, params=sample)
    ensemble = time.perf_counter() - t0
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    rep = ts.find_blocks(m, "cases_convicted", scenario="baseline", n=n, seed=1)
    report, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"reference model, n={n}: find_blocks {report:.1f} s ({len(rep.blocks)} blocks; CPU {cpu:.1f} s); "
        f"one ensemble of the same futures {ensemble:.2f} s; ratio {report / ensemble:.0f}x; target < 30 s "
        f"(load average {load:.1f} on {os.cpu_count()} cores when it started)"
    )


if __name__ == "__main__":
    main()
