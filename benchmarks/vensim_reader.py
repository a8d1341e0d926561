"""Time to read Vensim ``.mdl`` files: our grammar beside PySD's translator, side by side.

Reads a generated file of a given number of stocks (each with an inflow, an
outflow, a comment and a call of one of ten lookups, plus one sum over every
stock: about World3's size at ``--stocks 100``) and every ``.mdl`` of the SDXorg
test models, and prints the seconds each reader takes and their ratio.  Ours
is ``ts.load`` to a Model; PySD's is its parse to the abstract model (the
step it used to do for us), or "-" where PySD cannot read the file::

    python benchmarks/vensim_reader.py [--stocks 100 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import trafficsys as ts

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mdl_text import mdl  # noqa: E402 - the tests' helper for the time settings


def generated(n: int) -> str:
    """Return the text of a model with ``n`` stocks, each with an inflow, an outflow and a lookup call."""
    eqs = []
    for i in range(n):
        eqs.append(
            f"stock {i} = INTEG(inflow {i} - outflow {i}, 10)\n\t~\tperson\n\t~\tstock {i} {{a note}}\n\t|\n"
        )
        eqs.append(
            f"inflow {i} = rate * stock {(i + 1) % n} * effect {i % 10}(Time)\n\t~\tperson/year\n\t~\t|\n"
        )
        eqs.append(f"outflow {i} = stock {i} / 20\n\t~\tperson/year\n\t~\t|\n")
    for k in range(10):
        eqs.append(f"effect {k}([(0,0)-(10,2)],(0,1),(5,1.5),(10,{k}))\n\t~\t\n\t~\t|\n")
    eqs.append("rate = 0.01 ~~|\n")
    eqs.append("total = " + " + ".join(f"stock {i}" for i in range(n)) + " ~~|\n")
    return mdl("".join(eqs), stop=10, dt=1)


def best(f, repeat: int = 3) -> float | None:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            f()
        except Exception:  # noqa: BLE001 - a reader that cannot read the file has no time
            return None
        times.append(time.perf_counter() - t0)
    return min(times)


def pysd_parse(path: Path) -> None:
    from pysd.translators.vensim.vensim_file import VensimFile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vf = VensimFile(str(path))
        vf.parse()
        vf.get_abstract_model()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stocks", type=int, nargs="+", default=[100, 1000])
    args = ap.parse_args()
    try:
        import pysd  # noqa: F401
    except ImportError:
        print("PySD is not installed: only our reader is timed")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.stocks:
            p = Path(tmp) / f"generated_{n}.mdl"
            p.write_text(generated(n))
            rows.append((f"generated, {n} stocks ({3 * n + 15} equations)", p))
        files = sorted((ROOT / "tests" / "data" / "test-models").rglob("*.mdl"))
        total_ours = total_pysd = 0.0
        for label, p in rows:
            ours, theirs = best(lambda p=p: ts.load(p)), best(lambda p=p: pysd_parse(p), repeat=1)
            ratio = f"{theirs / ours:.1f}x" if ours and theirs else "-"
            print(
                f"{label:45s} ours {ours:7.3f} s   PySD {theirs if theirs is None else round(theirs, 3)!s:>7} s"
                f"   PySD/ours {ratio}"
            )
        for p in files:
            ours, theirs = best(lambda p=p: ts.load(p), 1), best(lambda p=p: pysd_parse(p), 1)
            if ours and theirs:
                total_ours += ours
                total_pysd += theirs
        print(
            f"{'SDXorg test models both read (sum)':45s} ours {total_ours:7.3f} s   PySD {total_pysd:7.3f} s"
            f"   PySD/ours {total_pysd / total_ours:.1f}x"
        )


if __name__ == "__main__":
    main()
