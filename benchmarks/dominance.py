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

And published models with too many loops to list (issue 18: loops that matter
in models of any size): the vendored FREE model (``benchmarks/models/metasd``,
over 400,000 feedback loops; it needs data files the archive ships as binary
Vensim runs, so it does not run), the scientific-revolutions model (tens of
thousands of loops) and any model files given with ``--model`` (World3-03
is not vendored, its licence does not allow it: pass your copy). For each:
the loops counted (streamed, up to 2,000,000), then ``ts.loop_dominance`` with
its defaults: the method it chose, the time of the strongest-path search and of
the scoring, the loops found and the share of the loop activity they explain.
A model the readers cannot load yet is listed with the reason.

Run: ``python benchmarks/dominance.py [--baseline DIR] [--runs N] [--model FILE ...]``; ``--skip-ring``
leaves out the ring model, ``--published-only`` runs only the published models (target: search and
scoring under 10 s on 2 cores), ``--no-count`` leaves out the count of their
loops (minutes on a busy machine); with ``--baseline`` each published model's
loop dominance is also timed in fresh processes of both trees, side by side.
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
        m.stock(
            f"vulnerable_{i}",
            f"population_{i} - 10 - {i}",
            inflows=[f"relapse_{i}"],
            outflows=[f"recruitment_{i}"],
            units="person",
            non_negative=True,
        )
        m.stock(
            f"exploited_{i}",
            10 + i,
            inflows=[f"recruitment_{i}", f"onward_{(i - 1) % regions}"],
            outflows=[f"exit_{i}", f"onward_{i}"],
            units="person",
            non_negative=True,
        )
        m.stock(
            f"recovering_{i}",
            0,
            inflows=[f"exit_{i}"],
            outflows=[f"relapse_{i}", f"recovered_{i}"],
            units="person",
            non_negative=True,
        )
        m.aux(f"prevalence_{i}", f"exploited_{i} / population_{i}")
        m.flow(f"recruitment_{i}", f"recruitment_rate * vulnerable_{i} * prevalence_{i}", units="person/year")
        m.flow(f"exit_{i}", f"exit_rate * exploited_{i}", units="person/year")
        m.flow(f"onward_{i}", f"onward_rate * exploited_{i} * (1 - prevalence_{nxt})", units="person/year")
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


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _in(tree: Path, args: list[str], capture_time: bool = False) -> tuple[float, float]:
    """(wall, CPU) seconds of a fresh Python process running ``args`` with ``tree``'s sources first.

    With ``capture_time`` the wall time is the one the process prints (its own measurement).
    """
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    t, c = time.perf_counter(), _children_cpu()
    out = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t, _children_cpu() - c
    if out.returncode:
        raise SystemExit(f"{' '.join(args[:4])} failed in {tree}:\n{out.stderr[-2000:]}")
    return (float(out.stdout.strip().splitlines()[-1]) if capture_time else wall), cpu


def _side_by_side(label: str, now: tuple[float, float], base: tuple[float, float] | None) -> None:
    if base is None:
        print(f"{label}: wall {now[0]:.2f} s, CPU {now[1]:.2f} s (no --baseline given)")
    else:
        print(
            f"{label}:\n    wall {now[0]:.2f} s vs baseline {base[0]:.2f} s ({base[0] / now[0]:.1f}x faster); "
            f"CPU {now[1]:.2f} s vs {base[1]:.2f} s ({base[1] / now[1]:.1f}x)"
        )


def reference(args) -> None:
    import trafficsys.analysis.ltm as ltm
    from trafficsys.analysis import _loop_kernel

    base = Path(args.baseline).resolve() if args.baseline else None
    print(
        f"\nreference model ({'baseline ' + str(base) if base else 'no baseline'}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    cli = ["-m", "trafficsys.cli", "dominance", "--runs", "100"]
    _in(HERE, cli)  # the first process compiles (loop scorer cache on disk)
    _side_by_side(
        "trafficsys dominance --runs 100 (whole command, fresh process)",
        _in(HERE, cli),
        _in(base, cli) if base else None,
    )

    m = ts.load_default()
    loop_dominance(m, ts.simulate(m))  # the loops and their ids are cached per structure, as in the command
    times = {}
    for scorer in ("numba", "numpy") if _loop_kernel.available() else ("numpy",):
        ltm.SCORER = scorer
        loop_dominance(m, ts.monte_carlo(m, n=4, seed=1, variables="all"))  # warm
        t, c = time.perf_counter(), time.process_time()
        mc = ts.monte_carlo(m, n=100, seed=1, variables="all")
        t1 = time.perf_counter()
        loop_dominance(m, mc)
        times[scorer] = (t1 - t, time.perf_counter() - t1)
        print(
            f"ensemble dominance, 100 runs, {scorer} scorer: Monte Carlo {t1 - t:.2f} s + scoring "
            f"{time.perf_counter() - t1:.2f} s = wall {time.perf_counter() - t:.2f} s "
            f"(CPU {time.process_time() - c:.2f} s)"
        )
    ltm.SCORER = "auto"
    if len(times) == 2:
        print(f"  compiled scorer / numpy scorer: {sum(times['numpy']) / sum(times['numba']):.1f}x faster")

    cmp = ["-c", COMPARE]
    _side_by_side(
        "compare, 5 strategies x 1,000 futures (warm)",
        _in(HERE, cmp, True),
        _in(base, cmp, True) if base else None,
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--baseline", metavar="DIR", help="a checkout to compare against (its src/ is used)")
    parser.add_argument("--skip-ring", action="store_true", help="only the reference model's benchmarks")
    parser.add_argument("--model", nargs="*", default=[], help="more published model files (e.g. World3-03)")
    parser.add_argument("--published-only", action="store_true", help="only the published models")
    parser.add_argument("--no-count", action="store_true", help="do not count the published models' loops")
    args = parser.parse_args(argv)
    published(args)
    if args.published_only:
        return
    if not args.skip_ring:
        ring(args)
    reference(args)


PUBLISHED = [
    HERE / "benchmarks" / "models" / "metasd" / "free" / "free 6.mdl",
    HERE / "benchmarks" / "models" / "metasd" / "scientific-revolution" / "scirev8.mdl",
]


PUBLISHED_RUN = """
import sys, time, warnings
warnings.simplefilter("ignore")
import trafficsys as ts
m = ts.load(sys.argv[1])
r = ts.simulate(m)
t, c = time.perf_counter(), time.process_time()
d = ts.loop_dominance(m, r)
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(wall, cpu, *(d.timings.get(k, 0.0) for k in ("discovery", "scoring", "explained")))
"""


def _published_run(tree: Path, path: Path) -> list[float]:
    """Wall and CPU seconds of ``ts.loop_dominance`` on a model, and its timings, in a fresh process of ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    out = subprocess.run(
        [sys.executable, "-c", PUBLISHED_RUN, str(path)], env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"loop dominance of {path.name} failed in {tree}:\n{out.stderr[-2000:]}")
    return [float(x) for x in out.stdout.split()[-5:]]


def published(args) -> None:
    """Loops that matter in published models with more loops than can be listed."""
    import itertools
    import warnings

    import networkx as nx

    from trafficsys.analysis.ltm import feedback_graph
    from trafficsys.model.arrays import flatten

    print("published models: loops that matter (ts.loop_dominance with its defaults)")
    for path in [*PUBLISHED, *map(Path, args.model)]:
        label = path.name
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = ts.load(path)
        except Exception as e:  # a benchmark lists every model and goes on
            print(f"  {label}: not loaded yet ({type(e).__name__}: {str(e).splitlines()[0][:220]})")
            continue
        cap = 2_000_000
        t0 = time.perf_counter()
        if args.no_count:
            counted = "loops not counted (--no-count)"
        else:
            n = sum(1 for _ in itertools.islice(nx.simple_cycles(feedback_graph(flatten(m))), cap + 1))
            count = f"more than {cap:,}" if n > cap else f"{n:,}"
            counted = f"{count} feedback loops (counted in {time.perf_counter() - t0:.1f} s)"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                r = ts.simulate(m)
                t_sim = time.perf_counter() - t0
                t0 = time.perf_counter()
                d = ts.loop_dominance(m, r)
                t_all = time.perf_counter() - t0
        except Exception as e:
            print(f"  {label}: {counted}; not run yet ({type(e).__name__}: {str(e).splitlines()[0][:220]})")
            continue
        t = d.timings
        line = (
            f"  {label}: {len(m.names())} variables, {counted}; "
            f"simulate {t_sim:.2f} s; loop dominance {t_all:.2f} s by {d.method}"
        )
        if d.method == "strongest_path":
            share = d.explained.values
            recovered = d.explained.attrs["recovered"]
            line += (
                f": search {t['discovery']:.2f} s, scoring {t['scoring']:.2f} s, explained share "
                f"{t['explained']:.2f} s; {len(d.loops):,} loops found; they explain "
                f"{'at most ' if recovered < 0.5 else ''}{100 * np.median(share):.1f}% of the loop activity "
                f"(median over the times searched, standard error of the sampling "
                f"{100 * d.explained.attrs['standard_error']:.2f} points; "
                f"{100 * np.quantile(share, 0.1):.0f}% or more at 9 times in 10; the sampling recovers "
                f"{100 * recovered:.0f}% of the found loops' known activity)"
            )
        else:
            line += f": {len(d.loops):,} loops scored"
        print(line, flush=True)
        if args.baseline and d.method == "strongest_path":
            # this tree and the baseline's in fresh processes, alternately, each twice: the same conditions
            base = Path(args.baseline).resolve()
            runs: dict[Path, list[list[float]]] = {HERE: [], base: []}
            for _ in range(2):
                for tree in runs:
                    runs[tree].append(_published_run(tree, path))
            now, then = (min(runs[tree], key=lambda x: x[0]) for tree in (HERE, base))
            print(
                f"    loop dominance in a fresh process (best of 2): wall {now[0]:.2f} s (CPU {now[1]:.2f} s; "
                f"search {now[2]:.2f} s, scoring {now[3]:.2f} s, explained share {now[4]:.2f} s) vs baseline "
                f"{then[0]:.2f} s (CPU {then[1]:.2f} s; search {then[2]:.2f} s, scoring {then[3]:.2f} s, "
                f"explained share {then[4]:.2f} s): {then[0] / now[0]:.1f}x faster, {then[1] / now[1]:.1f}x less CPU"
            )
        periods = d.periods()
        for p, part in periods.groupby("partition"):
            stocks = d.partitions[p]
            print(
                f"    partition {p} ({len(stocks)} stocks): {len(part)} periods, dominant loops "
                f"{', '.join(dict.fromkeys(part['loop']))}"
            )


def ring(args) -> None:
    m = ring_model()
    steps = int(round((m.stop - m.start) / m.dt))
    print(f"model: {len(m.stocks)} stocks, {len(m.names())} variables, {steps} steps")

    t0 = time.perf_counter()
    r = ts.simulate(m)
    t1 = time.perf_counter()
    d = loop_dominance(m, r)
    t2 = time.perf_counter()
    print(
        f"single run: simulate {t1 - t0:.3f} s; loop dominance {t2 - t1:.3f} s "
        f"({len(d.loops)} loops, {d.link_scores.sizes['link']} links, {len(d.partitions)} partitions)"
    )
    print(d.ranking().head(5).to_string(index=False))

    rng = np.random.default_rng(1)
    params = {c.name: rng.uniform(*c.range, args.runs) for c in m.constants if c.range}
    t0 = time.perf_counter()
    e = ts.simulate(m, params=params)
    t1 = time.perf_counter()
    de = loop_dominance(m, e)
    t2 = time.perf_counter()
    print(
        f"{args.runs}-run ensemble: simulate {t1 - t0:.3f} s; loop dominance {t2 - t1:.3f} s "
        f"({(t2 - t1) / args.runs * 1e3:.2f} ms per run)"
    )
    drivers = de.drivers(params)
    top = de.ranking()["loop"].iloc[0]
    print(f"constants that make {top} dominate (Spearman):")
    print(drivers[top].sort_values(key=np.abs, ascending=False).to_string())


if __name__ == "__main__":
    main()
