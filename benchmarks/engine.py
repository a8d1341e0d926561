"""The compiled kernel: trafficsys against PySD, a hand-written numpy loop and the memory bus, in one run.

Run: ``python benchmarks/engine.py [--runs N]`` (``benchmarks/engine_pathways.py``: the numpy path).

Prints, side by side:

(1) one warm run (kernel loaded) against PySD: a 24-stock nonlinear chain
    without tables (480 Euler steps) and the reference model;
(2) the reference model's first run in a fresh process, imports included: with
    an empty kernel cache (compile included) and with a warm one;
(3) 10,000 runs of the chain saving the stocks at every step, against a
    hand-written vectorised numpy loop of the same equations;
(4) the same runs saving every variable at every step: time, and the GB/s
    written against this machine's memory bandwidth (a numpy copy);
(5) ``trafficsys compare`` (n=1000, 5 strategies) with the kernels cached;
(6) ensemble loop dominance of the reference model with 100 runs.

Times are wall-clock medians; the machine's load is printed with them.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import trafficsys as ts

N = 24
ROOT = Path(__file__).resolve().parents[1]


def chain(stop: float = 120.0, dt: float = 0.25) -> ts.Model:
    """24 stocks in a chain, each draining into the next at a saturating (Michaelis-Menten) rate."""
    m = ts.Model("chain24", stop=stop, dt=dt, time_units="month")
    m.constant("k", 0.3, range=(0.1, 0.6), units="1/month", source="assumption: benchmark")
    m.constant("half", 50.0, units="person", source="assumption: benchmark")
    m.constant("base", 40.0, units="person/month", source="assumption: benchmark")
    m.constant("cap", 500.0, units="person", source="assumption: benchmark")
    m.constant("tau", 4.0, units="month", source="assumption: benchmark")
    m.flow("inflow", f"base / (1 + s{N - 1} / cap)", units="person/month")
    for i in range(N):
        m.aux(f"rate{i}", f"k * half / (half + s{i})", units="1/month")
        out = f"f{i}" if i < N - 1 else "exit"
        m.flow(out, f"rate{i} * s{i}" if i < N - 1 else f"s{i} / tau", units="person/month")
        m.stock(
            f"s{i}",
            initial=10.0 + i,
            inflows=["inflow" if i == 0 else f"f{i - 1}"],
            outflows=[out],
            units="person",
        )
    return m


def numpy_chain(k: np.ndarray, nsteps: int = 480, dt: float = 0.25) -> np.ndarray:
    """The same equations by hand, vectorised over runs: stocks saved at every step, (steps + 1, 24, runs)."""
    n = k.size
    half, base, cap, tau = 50.0, 40.0, 500.0, 4.0
    s = np.empty((N, n))
    s[:] = (10.0 + np.arange(N))[:, None]
    out = np.empty((nsteps + 1, N, n))
    for step in range(nsteps + 1):
        out[step] = s
        if step == nsteps:
            break
        flows = k * half / (half + s) * s  # f0 .. f22 (and a value for the last, replaced below)
        flows[N - 1] = s[N - 1] / tau
        inflow = base / (1 + s[N - 1] / cap)
        s[0] += dt * (inflow - flows[0])
        s[1:] += dt * (flows[:-1] - flows[1:])
    return out


def median(fn, repeat: int, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(clock() - t)
    return statistics.median(times)


def cpu(fn, repeat: int) -> float:
    """Median CPU time of this process (all its threads) for ``fn``."""
    return median(fn, repeat, time.process_time)


def child(code: str, cache: str | None = None) -> tuple[float, float]:
    """Wall and CPU time (user + system) of a new Python process running ``code``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    if cache is not None:
        env["TRAFFICSYS_CACHE_DIR"] = cache
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


#: a fresh process loading a one-line function from numba's cache: what any cached kernel pays first
NUMBA_FLOOR = """
import os, sys
sys.path.insert(0, os.environ["TRAFFICSYS_CACHE_DIR"])
open(os.path.join(os.environ["TRAFFICSYS_CACHE_DIR"], "floor_probe.py"), "w").write(
    "from numba import njit\\n@njit(cache=True)\\ndef f(x):\\n    return x + 1.0\\n")
import floor_probe
floor_probe.f(1.0)
"""


def bandwidth() -> float:
    """Bytes per second a numpy copy of 512 MB moves (read + write), best of three."""
    a = np.ones(64 * 2**20)
    b = np.empty_like(a)
    best = min(median(lambda: np.copyto(b, a), 1) for _ in range(3))
    return 2 * a.nbytes / best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--only", choices=["compare"], help="print only (5) and (6)")
    args = ap.parse_args(argv)
    if args.only:
        compare_and_dominance()
        return
    warnings.simplefilter("ignore")
    import pysd

    m = chain()
    ref = ts.load_default()
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; numpy {np.__version__}, "
        f"pysd {pysd.__version__}; medians; CPU time beside wall time, which other work on the machine inflates\n"
    )

    # (1) one warm run against PySD
    print("(1) one warm run, every variable saved, CPU time (target: at least 100x PySD)")
    tmp = tempfile.mkdtemp()
    for model, label in ((m, "24-stock chain, 480 Euler steps"), (ref, "reference model")):
        path = os.path.join(tmp, f"{model.name}.xmile")
        ts.save(model, path)
        pm = pysd.read_xmile(path)
        ours = ts.simulate(model, backend="numba")
        times = ours.time
        pm.run(return_timestamps=times)
        t_pysd = cpu(lambda: pm.run(return_timestamps=times), 3)  # noqa: B023 - called here, in the loop
        t_kernel = cpu(lambda: ts.simulate(model, backend="numba"), 15)  # noqa: B023
        t_numpy = cpu(lambda: ts.simulate(model, backend="numpy"), 15)  # noqa: B023
        print(
            f"    {label:<34} PySD {t_pysd * 1e3:8.1f} ms   kernel {t_kernel * 1e3:6.2f} ms "
            f"({t_pysd / t_kernel:6.1f}x)   numpy path {t_numpy * 1e3:6.2f} ms ({t_pysd / t_numpy:5.1f}x)"
        )
    print()

    # (2) first run in a fresh process
    print("(2) reference model, first run in a fresh process, imports included (target warm: under 1 s)")
    cache = tempfile.mkdtemp()
    run = "import trafficsys as ts; r = ts.simulate(ts.load_default(){}); r['in_exploitation'].values"
    auto = sorted(child(run.format(""), cache) for _ in range(3))[1]
    cold = child(run.format(", backend='numba'"), cache)
    warm = sorted(child(run.format(", backend='numba'"), cache) for _ in range(3))[1]
    base = sorted(child("import trafficsys as ts, xarray; ts.load_default()") for _ in range(3))[1]
    floor = sorted(child(NUMBA_FLOOR, tempfile.mkdtemp()) for _ in range(3))[1]
    print(
        f"    backend='auto' (the default: numpy for one run):   wall {auto[0]:6.2f} s, CPU {auto[1]:6.2f} s"
    )
    print(f"    backend='numba', empty cache (compile included): wall {cold[0]:6.1f} s, CPU {cold[1]:6.1f} s")
    print(f"    backend='numba', warm cache:                     wall {warm[0]:6.2f} s, CPU {warm[1]:6.2f} s")
    print(
        f"    of which Python, importing trafficsys and xarray, loading the model: wall {base[0]:.2f} s, "
        f"CPU {base[1]:.2f} s;\n    numba's own floor (import numba, load a one-line cached function): "
        f"wall {floor[0]:.2f} s, CPU {floor[1]:.2f} s"
    )
    print()

    # (3) and (4): 10,000 runs
    n = args.runs
    k = np.linspace(0.1, 0.6, n)
    stocks = [f"s{i}" for i in range(N)]
    ts.simulate(m, params={"k": k[:2000]}, variables=stocks, backend="numba")  # loaded
    ts.simulate(m, params={"k": k[:2000]}, backend="numba")

    def kernel_stocks():
        return ts.simulate(m, params={"k": k}, variables=stocks, backend="numba")

    t_hand, c_hand = median(lambda: numpy_chain(k), 3), cpu(lambda: numpy_chain(k), 3)
    t_stocks, c_stocks = median(kernel_stocks, 3), cpu(kernel_stocks, 3)
    r, hand = kernel_stocks(), numpy_chain(k)
    diff = max(float(np.max(np.abs(r[s].values - hand[:, i, :]))) for i, s in enumerate(stocks))
    print(
        f"(3) {n:,} runs of the chain, the 24 stocks saved at every step (target: at most 0.5x hand-written)"
    )
    print(
        f"    wall: hand-written numpy loop {t_hand:6.2f} s   kernel {t_stocks:6.2f} s   "
        f"ratio {t_stocks / t_hand:5.2f}x"
    )
    print(
        f"    CPU:  hand-written numpy loop {c_hand:6.2f} s   kernel {c_stocks:6.2f} s   "
        f"ratio {c_stocks / c_hand:5.2f}x   (largest difference from the hand-written loop: {diff:.1e} person)"
    )
    print()

    def kernel_all():
        return ts.simulate(m, params={"k": k}, backend="numba")

    nvars = len(ts.simulate(m).variables)
    t_all, c_all = median(kernel_all, 3), cpu(kernel_all, 3)
    written = 8.0 * nvars * 481 * n
    bw = bandwidth()
    fresh = median(lambda: np.empty(int(written // 8)).fill(1.0), 3)  # first touch of new memory
    print(f"(4) {n:,} runs saving every variable ({nvars}) at every step (target: under 3 s)")
    print(
        f"    kernel wall {t_all:6.2f} s (CPU {c_all:5.2f} s)   writes {written / 2**30:5.2f} GiB: "
        f"{written / t_all / 1e9:5.2f} GB/s against a numpy copy's {bw / 1e9:5.2f} GB/s "
        f"({written / t_all / bw:.0%} of it)"
    )
    print(
        f"    numpy filling {written / 2**30:5.2f} GiB of freshly allocated memory (the operating system's page "
        f"faults, which any new result pays): {fresh:5.2f} s, {written / fresh / 1e9:5.2f} GB/s"
    )
    print()

    # (5) compare, (6) ensemble loop dominance
    compare_and_dominance()


COMPARE = """
import time, trafficsys as ts
m = ts.load_default()
c0, w0 = time.process_time(), time.perf_counter()
str(ts.compare(m, n=1000, seed=1))
c1, w1 = time.process_time(), time.perf_counter()
str(ts.compare(m, n=1000, seed=1))
print(w1 - w0, c1 - c0, time.perf_counter() - w1, time.process_time() - c1)
"""

DOMINANCE = """
import time, trafficsys as ts
from trafficsys.analysis import loop_dominance
m = ts.load_default()
loop_dominance(m, ts.simulate(m))  # loops and their ids are found once per model structure
c0, w0 = time.process_time(), time.perf_counter()
loop_dominance(m, ts.monte_carlo(m, n=100, seed=1, variables="all"))
c1, w1 = time.process_time(), time.perf_counter()
loop_dominance(m, ts.monte_carlo(m, n=100, seed=2, variables="all"))
print(w1 - w0, c1 - c0, time.perf_counter() - w1, time.process_time() - c1)
"""


def in_child(code: str) -> list[float]:
    """The numbers a new Python process running ``code`` prints on its last line."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return [float(x) for x in out.stdout.split()[-4:]]


def compare_and_dominance() -> None:
    """(5) ``trafficsys compare`` n=1000 x 5 strategies and (6) dominance of a 100-run ensemble, warm cache."""
    cmd = [sys.executable, "-m", "trafficsys", "compare", "--n", "1000", "--figure", "none"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    subprocess.run(cmd, env=env, check=True, capture_output=True)  # the kernels compiled and cached

    def cli() -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter() - t, (after.ru_utime - before.ru_utime) + (
            after.ru_stime - before.ru_stime
        )

    whole = sorted(cli() for _ in range(3))[1]
    calls = sorted((in_child(COMPARE) for _ in range(3)), key=lambda x: x[1])[1]
    print("(5) trafficsys compare, n=1000 x 5 strategies, warm kernel cache (target: under 2 s of compute)")
    print(
        f"    the command in a new process, everything included:    wall {whole[0]:5.2f} s, CPU {whole[1]:5.2f} s"
    )
    print(
        f"    ts.compare + its table, first call in a new process:  wall {calls[0]:5.2f} s, CPU {calls[1]:5.2f} s "
        "(the libraries it imports included)"
    )
    print(
        f"    ts.compare + its table, called again:                 wall {calls[2]:5.2f} s, CPU {calls[3]:5.2f} s"
    )
    print()
    dom = sorted((in_child(DOMINANCE) for _ in range(3)), key=lambda x: x[1])[1]
    print(
        "(6) ensemble loop dominance of the reference model, 100 runs: Monte Carlo + scoring (target: under 3 s)"
    )
    print(
        f"    first ensemble in the process: wall {dom[0]:5.2f} s, CPU {dom[1]:5.2f} s;   "
        f"another: wall {dom[2]:5.2f} s, CPU {dom[3]:5.2f} s"
    )


if __name__ == "__main__":
    main()
