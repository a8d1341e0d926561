"""The kernel's loop over runs: threads over blocks of runs (what trafficsys does) against numba's ``prange``.

Run: ``python benchmarks/kernel_prange.py [--runs N]``.

The same generated kernel source is compiled twice, without the disk cache:
as trafficsys compiles it (``njit(nogil=True)``, a plain ``range`` over a block
of runs, one block per CPU on a thread pool) and with ``parallel=True`` and
``prange`` over the runs.  Printed side by side for the 24-stock chain of
``benchmarks/engine.py`` and the reference model: the compile time (CPU),
the time of an ensemble (wall and CPU) and the largest difference between the
two results (they must agree to the bit: the arithmetic of a run is the same).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import trafficsys as ts
from trafficsys.engine import kernel
from trafficsys.engine.compiled import compile_model
from trafficsys.engine.methods import get_method
from trafficsys.model.names import canonical

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import chain  # noqa: E402 - the benchmark model, beside this file


def variants(source: str) -> dict[str, str]:
    """The generated kernel as trafficsys compiles it, and the same with ``prange``; neither cached."""
    plain = source.replace("_CACHE = True", "_CACHE = False", 1)
    head = "@njit(cache=_CACHE, error_model='numpy', nogil=True)\ndef _kernel("
    loop = "    for r in range(r0, r1):"
    assert head in plain and loop in plain, "the kernel's layout changed: update this benchmark"
    par = (
        plain.replace("from numba import njit", "from numba import njit, prange", 1)
        .replace(head, "@njit(cache=_CACHE, error_model='numpy', nogil=True, parallel=True)\ndef _kernel(", 1)
        .replace(loop, "    for r in prange(r0, r1):", 1)
    )
    return {"threads": plain, "prange": par}


def load(folder: Path, name: str, source: str):
    (folder / f"{name}.py").write_text(source, encoding="utf-8")
    return importlib.import_module(name).__dict__["_kernel"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    args = ap.parse_args(argv)
    folder = Path(tempfile.mkdtemp())
    sys.path.insert(0, str(folder))
    method = get_method("euler")
    print(
        f"{kernel._threads()} threads; CPU seconds beside wall seconds (other work on the machine inflates wall)"
    )
    for label, m in (("24-stock chain", chain()), ("reference model", ts.load_default())):
        cm = compile_model(m)
        source, digest = kernel.cm_source(cm, method, None)
        c = cm.constants
        P = np.empty((len(c), args.runs))
        base = ts.simulate(m, backend="numpy")
        for i, name in enumerate(c):
            P[i] = float(base[name].values[0])
        ranged = [k.name for k in m.constants if k.range]
        if ranged:
            lo, hi = m[ranged[0]].range
            P[c.index(canonical(ranged[0]))] = np.linspace(lo, hi, args.runs)
        nsteps = int(round((m.specs.stop - m.specs.start) / m.specs.dt))
        outs = {}
        print(f"\n{label}: {len(cm.recorded)} variables saved, {nsteps} Euler steps, {args.runs:,} runs")
        for how, text in variants(source).items():
            fn = load(folder, f"k_{how}_{digest}", text)
            t = time.process_time()
            fn.compile(kernel._SIGNATURE)
            compile_cpu = time.process_time() - t
            k = kernel.Kernel(fn, len(cm.recorded), len(cm.states), cm.n_acc)
            out = np.empty((args.runs, nsteps + 1, len(cm.recorded)))
            n = args.runs

            clock = (m.specs.start, m.specs.dt, m.specs.stop, nsteps)

            def run(k=k, fn=fn, how=how, out=out, n=n, P=P, clock=clock):
                if how == "threads":
                    return k.run(P, n, *clock[:3], clock[3], 1, out)
                S0, SF = np.empty((n, k.nstates)), np.empty((n, k.nstates))
                ACC, BAD = np.empty((n, k.nacc)), np.empty(n)
                fn(P, 0, n, *clock, 1, out, S0, SF, ACC, BAD)
                return S0, SF, ACC, BAD

            run()
            walls, cpus = [], []
            for _ in range(3):
                w, c0 = time.perf_counter(), time.process_time()
                run()
                walls.append(time.perf_counter() - w)
                cpus.append(time.process_time() - c0)
            if "threads" in outs:  # (compared in place: two copies of the saves may not fit)
                a = outs.pop("threads")
                outs["diff"] = max(
                    float(np.max(np.abs(a[i : i + 256] - out[i : i + 256]))) for i in range(0, n, 256)
                )
                del a
            else:
                outs[how] = out
            print(
                f"    {how:8s} compile CPU {compile_cpu:6.1f} s   ensemble wall {np.median(walls):6.3f} s, "
                f"CPU {np.median(cpus):6.3f} s"
            )
        print(f"    largest difference between the two: {outs['diff']:.1e}")


if __name__ == "__main__":
    main()
