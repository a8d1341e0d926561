"""Benchmark: loop enumeration and archetype detection on synthetic signed digraphs.

Two families of diagrams, each at 50, 200 and 500 variables:

* **modular**: clusters of ten variables, each a random signed digraph with
  about 2.2 links per variable (feedback-rich inside), joined by sparse links
  that only point forward from cluster to cluster (no feedback between
  clusters), and one textbook archetype (from ``models/archetypes``, renamed)
  embedded per cluster.  Models built by people look like this: many loops
  inside sectors, few between them.
* **tangled**: one random signed digraph with about 2 links per variable
  and no modular structure: loops cross the whole diagram and their number
  explodes with size, so enumeration uses ``length_bound=8`` (and the
  shortest independent loop set, which stays small).

For each, it prints the time to enumerate the loops, the loop count, the
time of the shortest independent loop set (Oliva 2004), the time of archetype
detection and the number of matches, then how time grows with size: the
empirical exponent ``log(t2 / t1) / log(n2 / n1)`` (1 = linear).

Run: ``python benchmarks/loops.py`` (``--sizes 50 200`` for a quicker run).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path

import trafficsys as ts
from trafficsys.cld import CausalLoopDiagram, archetypes, independent_loops, loops
from trafficsys.model.elements import Link

ARCHETYPE_FILES = sorted((Path(__file__).resolve().parents[1] / "models" / "archetypes").glob("*.toml"))


def modular(n: int, seed: int = 1, cluster: int = 10) -> CausalLoopDiagram:
    """Clusters of ``cluster`` variables with one embedded archetype each; forward-only links between clusters."""
    rnd = random.Random(seed)
    cld = CausalLoopDiagram(f"modular_{n}")
    patterns = [ts.load(p).cld() for p in ARCHETYPE_FILES]
    for c in range(n // cluster):
        names = [f"c{c}_v{i}" for i in range(cluster)]
        for v in names:
            cld.variables.setdefault(v, {})
        pattern = patterns[c % len(patterns)]
        mapping = dict(
            zip(pattern.variables, names)
        )  # the archetype takes the first variables of the cluster
        for lk in pattern.links:
            cld.add_link(Link(mapping[lk.source], mapping[lk.target], lk.polarity, lk.delay))
        for a in names:  # a few extra random links inside the cluster
            for b in names:
                if a != b and not cld.has_link(a, b) and rnd.random() < 0.08:
                    cld.add_link(Link(a, b, rnd.choice("+-")))
        if c:
            for _ in range(2):  # forward links from earlier clusters: no feedback between clusters
                src = f"c{rnd.randrange(c)}_v{rnd.randrange(cluster)}"
                cld.add_link(Link(src, rnd.choice(names), rnd.choice("+-")))
    return cld


def tangled(n: int, seed: int = 1, degree: float = 2.0) -> CausalLoopDiagram:
    """A random signed digraph with ``degree`` links per variable on average."""
    rnd = random.Random(seed)
    cld = CausalLoopDiagram(f"tangled_{n}")
    for _ in range(int(degree * n)):
        a, b = rnd.sample(range(n), 2)
        cld.add_link(Link(f"v{a}", f"v{b}", rnd.choice("+-")))
    return cld


def timed(fn, cld, *args, repeat=3, **kwargs):
    """Result and best-of-``repeat`` wall time (the loop cache is cleared before each call)."""
    best = math.inf
    for _ in range(repeat):
        cld._loop_cache = {}
        t = time.perf_counter()
        out = fn(cld, *args, **kwargs)
        best = min(best, time.perf_counter() - t)
    return out, best


def growth(rows, key):
    out = []
    for (n1, r1), (n2, r2) in zip(rows, rows[1:]):
        t1, t2 = max(r1[key], 1e-4), max(r2[key], 1e-4)
        out.append(f"{n1}->{n2}: x{t2 / t1:.1f} (exponent {math.log(t2 / t1) / math.log(n2 / n1):.2f})")
    return "; ".join(out)


def run_family(name, build, sizes, length_bound):
    print(f"\n{name} diagrams" + (f" (loops of at most {length_bound} links)" if length_bound else ""))
    print(
        f"{'vars':>6}{'links':>7}{'loops':>9}{'enumerate':>11}{'SILS':>6}{'SILS s':>8}{'archetypes':>12}"
        f"{'matches':>9}"
    )
    rows = []
    for n in sizes:
        cld = build(n)
        found, t_loops = timed(loops, cld, length_bound=length_bound, max_loops=2_000_000)
        sils, t_sils = timed(independent_loops, cld, max_loops=0)
        matches, t_arch = timed(archetypes, cld, length_bound=length_bound, max_loops=2_000_000)
        row = {"loops": t_loops, "sils": t_sils, "archetypes": t_arch}
        rows.append((n, row))
        print(
            f"{len(cld.variables):>6}{len(cld.links):>7}{len(found):>9}{t_loops:>10.3f}s{len(sils):>6}"
            f"{t_sils:>7.3f}s{t_arch:>11.3f}s{len(matches):>9}"
        )
    print("time growth, loops:      " + growth(rows, "loops"))
    print("time growth, SILS:       " + growth(rows, "sils"))
    print("time growth, archetypes: " + growth(rows, "archetypes"))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 500])
    args = p.parse_args(argv)
    run_family("modular", modular, args.sizes, None)
    run_family("tangled", tangled, args.sizes, 8)


if __name__ == "__main__":
    main()
