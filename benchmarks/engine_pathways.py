"""Engine benchmarks: trafficsys against PySD and against hand-written numpy. Prints ratios, not verdicts.

Run: ``.venv/bin/python benchmarks/engine_pathways.py [--quick]`` (benchmarks/engine.py: the compiled kernel)

(a) one run of a 24-stock, 480-step model: trafficsys vs PySD loading the same
    XMILE (written by ``ts.save``), median of several runs, and the same for the
    reference anti-trafficking model (25 stocks, 480 steps);
(b) a 10,000-run Monte Carlo: runs per second, in-process and on a 2-process pool,
    against PySD's runs per second;
(c) the compiled model against a hand-written vectorised numpy version of the
    same equations (regions x runs arrays), one run and 10,000 runs;
(d) how time grows with steps and with runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import trafficsys as ts

REGIONS = ["north", "south", "east", "west"]
MULT = [1.0, 1.3, 0.8, 1.1]
ARRIVALS = [400.0, 600.0, 300.0, 500.0]
TRUST_X, TRUST_Y = [0.0, 0.25, 0.5, 0.75, 1.0], [0.3, 0.5, 0.8, 1.0, 1.1]
DEMAND_X, DEMAND_Y = [0.0, 0.5, 1.0, 1.5, 2.0], [1.4, 1.2, 1.0, 0.6, 0.3]
STAGES = ["vulnerable", "recruited", "exploited", "identified", "supported", "reintegrated"]


def build_model(stop=120.0, dt=0.25, saveper=None) -> ts.Model:
    """4 regions x 6 stages of a trafficking pathway: 24 non-negative stocks of people, 36 flows."""
    m = ts.Model("pathways", stop=stop, dt=dt, saveper=saveper, time_units="month")
    m.constant("base_recruitment", 0.004, range=(0.002, 0.008), units="1/month")
    m.constant("onset_time", 2, range=(1, 4), units="month")
    m.constant("detection_rate", 0.03, range=(0.01, 0.06), units="1/month")
    m.constant("processing_time", 3, range=(1, 6), units="month")
    m.constant("reintegration_time", 12, range=(6, 24), units="month")
    m.constant("retrafficking_rate", 0.01, range=(0.005, 0.03), units="1/month")
    m.constant("mortality", 0.002, range=(0.001, 0.004), units="1/month")
    m.constant("departure_rate", 0.01, range=(0.005, 0.02), units="1/month")
    m.constant("demand_capacity", 4000, range=(2000, 8000), units="person")
    m.lookup("effect_of_trust", list(zip(TRUST_X, TRUST_Y)))
    m.lookup("demand_effect", list(zip(DEMAND_X, DEMAND_Y)))
    m.aux("exploited_total", " + ".join(f"exploited_{r}" for r in REGIONS), units="person")
    m.aux("demand_pressure", "demand_effect(exploited_total / demand_capacity)")
    for r, mult, arr in zip(REGIONS, MULT, ARRIVALS):
        m.constant(f"arrivals_{r}_rate", arr, units="person/month")
        m.stock(
            f"vulnerable_{r}",
            20000,
            inflows=[f"arrivals_{r}", f"retrafficking_{r}"],
            outflows=[f"recruitment_{r}", f"departures_{r}"],
            non_negative=True,
            units="person",
        )
        m.stock(
            f"recruited_{r}", 200, inflows=[f"recruitment_{r}"], outflows=[f"onset_{r}"], non_negative=True
        )
        m.stock(
            f"exploited_{r}",
            1000,
            inflows=[f"onset_{r}"],
            outflows=[f"identification_{r}", f"deaths_{r}"],
            non_negative=True,
        )
        m.stock(
            f"identified_{r}",
            50,
            inflows=[f"identification_{r}"],
            outflows=[f"processing_{r}"],
            non_negative=True,
        )
        m.stock(
            f"supported_{r}",
            100,
            inflows=[f"processing_{r}"],
            outflows=[f"reintegration_{r}"],
            non_negative=True,
        )
        m.stock(
            f"reintegrated_{r}",
            500,
            inflows=[f"reintegration_{r}"],
            outflows=[f"retrafficking_{r}"],
            non_negative=True,
        )
        m.aux(f"trust_{r}", f"reintegrated_{r} / (reintegrated_{r} + exploited_{r} + 1)")
        m.aux(f"police_effect_{r}", f"effect_of_trust(trust_{r})")
        m.flow(f"arrivals_{r}", f"arrivals_{r}_rate", non_negative=True)
        m.flow(
            f"recruitment_{r}",
            f"base_recruitment * vulnerable_{r} * demand_pressure * {mult}",
            non_negative=True,
        )
        m.flow(f"departures_{r}", f"departure_rate * vulnerable_{r}", non_negative=True)
        m.flow(f"onset_{r}", f"recruited_{r} / onset_time", non_negative=True)
        m.flow(
            f"identification_{r}", f"detection_rate * exploited_{r} * police_effect_{r}", non_negative=True
        )
        m.flow(f"deaths_{r}", f"mortality * exploited_{r}", non_negative=True)
        m.flow(f"processing_{r}", f"identified_{r} / processing_time", non_negative=True)
        m.flow(f"reintegration_{r}", f"supported_{r} / reintegration_time", non_negative=True)
        m.flow(
            f"retrafficking_{r}",
            f"retrafficking_rate * reintegrated_{r} * (1 - trust_{r})",
            non_negative=True,
        )
    return m


def without_tables(m: ts.Model) -> ts.Model:
    """The same model with its graphical functions replaced by algebra (PySD evaluates tables slowly)."""
    m = m.copy()
    for r in REGIONS:
        m.remove(f"police_effect_{r}")
        m.aux(f"police_effect_{r}", f"0.3 + 0.8 * trust_{r}")
    m.remove("demand_pressure")
    m.aux("demand_pressure", "MAX(0.3, 1.4 - 0.5 * exploited_total / demand_capacity)")
    m.remove("effect_of_trust")
    m.remove("demand_effect")
    return m


def numpy_version(p: dict, n: int, stop=120.0, dt=0.25, every=1):
    """The same equations written by hand: arrays of (region, run), the same outflow limiting."""
    c = {k: np.asarray(v, dtype=float).reshape(1, -1) if np.ndim(v) else float(v) for k, v in p.items()}
    mult = np.array(MULT).reshape(-1, 1)
    arrivals = np.array(ARRIVALS).reshape(-1, 1) * np.ones((1, n))
    tx, ty, dx, dy = (np.array(a) for a in (TRUST_X, TRUST_Y, DEMAND_X, DEMAND_Y))
    shape = (len(REGIONS), n)
    V, R, E, Q, S, G = (np.full(shape, v) for v in (20000.0, 200.0, 1000.0, 50.0, 100.0, 500.0))
    nsteps = int(round(stop / dt))
    out = np.empty((nsteps // every + 1, 6, len(REGIONS), n))

    def limit(stock, fill, *drains):
        total = drains[0] if len(drains) == 1 else sum(drains)
        avail = np.maximum(stock + dt * fill, 0.0)
        need = dt * total
        lim = need > avail
        sc = np.where(lim, avail / np.where(lim, need, 1.0), 1.0)
        return [d * sc for d in drains]

    for k in range(nsteps + 1):
        trust = G / (G + E + 1)
        police = np.interp(trust, tx, ty)
        demand = np.interp(E.sum(axis=0) / c["demand_capacity"], dx, dy)
        recruitment = np.maximum(c["base_recruitment"] * V * demand * mult, 0.0)
        departures = np.maximum(c["departure_rate"] * V, 0.0)
        onset = np.maximum(R / c["onset_time"], 0.0)
        identification = np.maximum(c["detection_rate"] * E * police, 0.0)
        deaths = np.maximum(c["mortality"] * E, 0.0)
        processing = np.maximum(Q / c["processing_time"], 0.0)
        reintegration = np.maximum(S / c["reintegration_time"], 0.0)
        retrafficking = np.maximum(c["retrafficking_rate"] * G * (1 - trust), 0.0)
        # the stocks form one cycle; as in trafficsys, vulnerable goes first and does not count
        # re-trafficking (not limited yet) as available
        recruitment, departures = limit(V, arrivals, recruitment, departures)
        (onset,) = limit(R, recruitment, onset)
        identification, deaths = limit(E, onset, identification, deaths)
        (processing,) = limit(Q, identification, processing)
        (reintegration,) = limit(S, processing, reintegration)
        (retrafficking,) = limit(G, reintegration, retrafficking)
        if k % every == 0:
            out[k // every] = (V, R, E, Q, S, G)
        if k == nsteps:
            break
        V = np.maximum(V + dt * ((arrivals + retrafficking) - (recruitment + departures)), 0.0)
        R = np.maximum(R + dt * (recruitment - onset), 0.0)
        E = np.maximum(E + dt * (onset - (identification + deaths)), 0.0)
        Q = np.maximum(Q + dt * (identification - processing), 0.0)
        S = np.maximum(S + dt * (processing - reintegration), 0.0)
        G = np.maximum(G + dt * (reintegration - retrafficking), 0.0)
    return out


def median_time(fn, repeat, clock=time.process_time):
    """Median over ``repeat`` calls.  CPU time of this process by default: the machine is shared, and
    waiting for a core is not the engine's cost (both tools are measured the same way)."""
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(clock() - t)
    return statistics.median(times)


def time_split(model, repeat):
    """Medians of the two halves of ``ts.simulate(model).ds``: the engine (scenario, compiled-model cache,
    time loop) and building the results from its raw output."""
    import importlib

    sim = importlib.import_module("trafficsys.engine.run")
    method = importlib.import_module("trafficsys.engine.methods").get_method(None, default=model.specs.method)
    timing = sim._timing(model, None, None, None, None)
    raw = {}

    def engine():
        raw["prep"] = prep = sim.prepare(model)
        raw["out"] = sim.execute(prep, method, timing)

    def results():
        return sim.make_results(raw["prep"], method, timing, *raw["out"]).ds  # build the Dataset

    engine()
    return median_time(engine, repeat), median_time(results, repeat)


def stock_names():
    return [f"{s}_{r}" for s in STAGES for r in REGIONS]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (for a smoke test)")
    ap.add_argument("--runs", type=int, default=10_000, help="ensemble size for (b) and (c)")
    args = ap.parse_args(argv)
    rep = 3 if args.quick else 7
    warnings.simplefilter("ignore")
    import pysd

    m = build_model()
    n_st = len(m.stocks)
    print(
        f"model: {n_st} stocks, {len(m.names(ts.model.Kind.FLOW))} flows, "
        f"{len(m.names(ts.model.Kind.AUX))} auxiliaries, {int(m.stop / m.dt)} steps of dt={m.dt}"
    )
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, numpy {np.__version__}, "
        f"pysd {pysd.__version__}; times are CPU time of this process unless marked wall\n"
    )

    # ---------------------------------------------------------------- (a)
    tmp = tempfile.mkdtemp()

    def versus_pysd(model, label, repeat):
        path = os.path.join(tmp, f"{model.name}_{label.split()[0]}.xmile")
        ts.save(model, path)
        t = time.perf_counter()
        pm = pysd.read_xmile(path)
        load = time.perf_counter() - t
        ours = ts.simulate(model)
        times = ours.time
        df = pm.run(return_timestamps=times)  # the same save times as ours (the model's SAVEPER)
        stocks = [s.name for s in model.stocks]
        diff = max(
            float(
                np.max(
                    np.abs(df[name].to_numpy() - ours[name].values[:, 0])
                    / np.maximum(np.abs(ours[name].values[:, 0]), 1e-9)
                )
            )
            for name in stocks
        )
        # the trafficsys time includes building the xarray Dataset of every variable (about 6 ms here)
        t_ts = median_time(lambda: ts.simulate(model).ds, repeat * 3)
        t_pysd = median_time(lambda: pm.run(return_timestamps=times), repeat)
        print(
            f"    {label:<34} PySD {t_pysd * 1e3:9.1f} ms   trafficsys {t_ts * 1e3:7.1f} ms   "
            f"ratio {t_pysd / t_ts:6.1f}x   (PySD load {load:.1f} s; max rel. stock difference {diff:.0e})"
        )
        t_engine, t_results = time_split(model, repeat * 3)
        print(
            f"    {'':<34} trafficsys split: prepare and time loop {t_engine * 1e3:.1f} ms, "
            f"results (Dataset of every variable, ledger function) {t_results * 1e3:.1f} ms"
        )
        return pm, t_pysd

    print("(a) one run, every variable saved at every save time, median times")
    pm = versus_pysd(m, "pathways (2 graphical functions)", max(2, rep // 2))[0]
    pm_plain = versus_pysd(without_tables(m), "pathways without tables", rep)
    ref = ts.load_default()
    versus_pysd(
        ref,
        f"reference model ({len(ref.stocks)} stocks, {int(round((ref.stop - ref.start) / ref.dt))} steps)",
        max(3, rep // 2),
    )
    print()

    # ---------------------------------------------------------------- (b)
    n = args.runs
    keep = stock_names()
    mc_time = median_time(
        lambda: ts.monte_carlo(m, n, seed=1, variables=keep, progress=False), max(2, rep // 2)
    )
    mc_wall = median_time(
        lambda: ts.monte_carlo(m, n, seed=1, variables=keep, progress=False), 2, time.perf_counter
    )
    with ProcessPoolExecutor(2) as ex:
        ts.monte_carlo(m, 200, seed=1, executor=ex, chunk_size=100, variables=keep)  # warm the workers
        mc_pool = median_time(
            lambda: ts.monte_carlo(
                m, n, seed=1, variables=keep, executor=ex, chunk_size=(n + 1) // 2, progress=False
            ),
            max(2, rep // 2),
            time.perf_counter,
        )  # wall time: the work is in the two worker processes
    sample = ts.engine.sample_constants(m, 3, seed=1)
    pysd_runs = []
    for i in range(3):  # PySD runs one sample at a time
        params = {k: float(v[i]) for k, v in sample.items()}
        t = time.process_time()
        pm.run(params=params, return_columns=keep)
        pysd_runs.append(time.process_time() - t)
    pysd_rate = 1 / statistics.median(pysd_runs)
    plain_rate = 1 / pm_plain[1]
    print(f"(b) Monte Carlo, {n:,} runs (LHS over {len(sample)} ranges), {n_st} stocks saved every step")
    print(
        f"    trafficsys in-process : {mc_time:6.2f} s CPU = {n / mc_time:9.0f} runs/s ({mc_wall:.2f} s wall)"
    )
    print(f"    trafficsys 2 processes: {mc_pool:6.2f} s wall = {n / mc_pool:9.0f} runs/s")
    print(f"    PySD (one run at a time): {pysd_rate:9.1f} runs/s  -> {n / pysd_rate / 60:.0f} min for {n:,}")
    print(
        f"    ratio trafficsys / PySD = {n / mc_time / pysd_rate:.0f}x in-process, "
        f"{n / mc_pool / pysd_rate:.0f}x on 2 processes"
    )
    print(
        f"    PySD on the model without tables: {plain_rate:.1f} runs/s; ratio trafficsys (in-process) / PySD = "
        f"{n / mc_time / plain_rate:.0f}x\n"
    )

    # ---------------------------------------------------------------- (c)
    full = ts.engine.sample_constants(m, n, seed=1)
    base = {c.name: c.value for c in m.constants if not c.name.startswith("arrivals")}
    print("(c) compiled model vs hand-written numpy (same equations, same limiting, stocks saved)")
    for runs in (1, n):
        p = {k: (full[k][:runs] if runs > 1 else float(full[k][0])) for k in base}
        hand = numpy_version(p, runs)
        r = ts.simulate(m, params=p, variables=keep)
        got = np.stack(
            [np.stack([r[f"{s}_{reg}"].values for reg in REGIONS], axis=1) for s in STAGES], axis=1
        )
        same = np.max(np.abs(got - hand) / np.maximum(np.abs(hand), 1e-9))
        t_hand = median_time(lambda p=p, runs=runs: numpy_version(p, runs), max(2, rep // 2))
        t_ts = median_time(lambda p=p: ts.simulate(m, params=p, variables=keep).ds, max(2, rep // 2))
        print(
            f"    {runs:>6} run(s): numpy {t_hand * 1e3:8.1f} ms, trafficsys {t_ts * 1e3:8.1f} ms, "
            f"ratio trafficsys / numpy = {t_ts / t_hand:.2f}  (max rel. difference {same:.1e})"
        )
    print()

    # ---------------------------------------------------------------- (d)
    print("(d) CPU time (ms, median) against steps and runs, stocks saved every 5 time units")
    steps = (120, 480, 1920)
    runs_list = (1, 100, 1000, n)
    print(f"    {'runs / steps':>12}" + "".join(f"{s:>10}" for s in steps))
    for runs in runs_list:
        row = []
        for s in steps:
            mm = build_model(stop=s * 0.25, saveper=5)
            p = {k: full[k][:runs] for k in base} if runs > 1 else None
            ts.simulate(mm, params=p, variables=keep)
            row.append(
                median_time(
                    lambda mm=mm, p=p: ts.simulate(mm, params=p, variables=keep).ds,
                    2 if runs >= 1000 else rep,
                )
            )
        print(f"    {runs:>12}" + "".join(f"{x * 1e3:10.1f}" for x in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
