#!/usr/bin/env python3
"""Run every XMILE and Vensim model of the SDXorg test-models through trafficsys.

Each model file is loaded with ``ts.load`` (XMILE by our reader, ``.mdl``
by our own Vensim reader, :mod:`trafficsys.io.vensim`) and simulated with ``ts.simulate``,
and its trajectories are compared with the canonical output (Vensim's or
Stella's) that the folder holds.  The table goes to
``docs/compatibility.md``::

    python tools/compatibility.py [--root DIR] [--out docs/compatibility.md] [--kind xmile|mdl|all]

A model passes when every canonical column we return matches to the
relative tolerance (1e-3 by default; ``--rtol 1e-4`` is what the docs table
uses) at every canonical time.  A model we cannot load fails with the
unsupported feature named; the table shows that message.

Some models are run with a companion file, as their authors ran them (see
:func:`load_options`); the table names it.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import re
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ROOT = os.environ.get(
    "TRAFFICSYS_TESTMODELS", os.path.normpath(os.path.join(HERE, "..", "tests", "data", "test-models"))
)
RTOL = 1e-4

# ------------------------------------------------------------ the test-models folders and their canonical outputs
MODEL_SUFFIXES = {"xmile": (".xmile", ".stmx", ".xml"), "mdl": (".mdl",)}
MODEL_SUFFIXES["all"] = MODEL_SUFFIXES["xmile"] + MODEL_SUFFIXES["mdl"]
CANONICAL_NAMES = ("output.csv", "output.tab")
# columns the tools print about the run itself: compared when we return them, never counted missing
RUN_COLUMNS = frozenset({"time", "initial_time", "final_time", "time_step", "saveper", "dt"})


def fold(name) -> str:
    """One spelling of a variable name across tools: quotes off, lower case, runs of blanks and ``_`` as one ``_``."""
    text = str(name).strip()
    while len(text) > 1 and text.startswith('"') and text.endswith('"'):
        text = text[1:-1].strip()
    text = re.sub(r"[\s_]+", "_", text.replace("\\n", " ").lower())
    text = re.sub(r"_*([\[\],])_*", r"\1", text)  # no padding around subscripts
    return text.strip("_")


def canonical_file(folder: str) -> str | None:
    """Return the canonical output file of one test-models folder, or None."""
    return next(
        (os.path.join(folder, n) for n in CANONICAL_NAMES if os.path.isfile(os.path.join(folder, n))), None
    )


def read_canonical(path: str) -> pd.DataFrame:
    """Read a canonical output as floats indexed by time; blank cells are NaN.

    ``.tab`` files are tab-separated, the others comma-separated; older files are
    Windows-1252 or Latin-1 rather than UTF-8.
    """
    sep = "\t" if path.endswith(".tab") else ","
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            frame = pd.read_csv(path, sep=sep, index_col=0, encoding=encoding, dtype=str)
            break
        except UnicodeDecodeError:
            continue
    times = pd.to_numeric(pd.Series(frame.index, dtype=str).str.strip(), errors="coerce").to_numpy(float)
    frame = frame.loc[~np.isnan(times)]
    frame.index = pd.Index(times[~np.isnan(times)], name="time")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame[[c for c in frame.columns if not c.startswith("Unnamed:")]]
    return frame.apply(
        lambda col: pd.to_numeric(col.str.strip() if col.dtype == object else col, errors="coerce")
    )


def model_files(folder: str, kind: str) -> list[str]:
    """Model files of one kind (``xmile``, ``mdl`` or ``all``) in a folder, sorted."""
    suffixes = MODEL_SUFFIXES[kind]
    return sorted(
        os.path.join(folder, f)
        for f in os.listdir(folder)
        if f.lower().endswith(suffixes) and os.path.isfile(os.path.join(folder, f))
    )


def cases(root: str, kind: str = "xmile") -> list[tuple[str, str]]:
    """Every (folder, model file) under ``root`` whose folder holds a canonical output; paths relative to root."""
    found = []
    for folder, _, names in os.walk(root):
        if not any(n in names for n in CANONICAL_NAMES):
            continue
        for path in model_files(folder, kind):
            found.append((os.path.relpath(folder, root), os.path.relpath(path, root)))
    return sorted(found)


@dataclass
class Comparison:
    """How one run compares with a canonical output."""

    compared: int  # model columns (not run columns) compared
    missing: list[str]  # canonical model columns the run did not return
    matched: int  # canonical times the run returned
    times: int  # canonical times
    worst: float  # largest scaled error
    worst_at: str  # "column @ t=..." of the largest error


def compare(
    ref: pd.DataFrame, got: pd.DataFrame, rtol: float = 1e-3, atol: float = 1e-6, scale_share: float = 1e-3
) -> Comparison:
    """Compare a run with a canonical output, value by value at the canonical times.

    The error of a value g against the canonical r is ``|g - r| / max(|r|, atol / rtol, scale_share * S)``
    with S the largest canonical magnitude of the column: relative error, except near zero (judged by
    absolute error) and far below the column's scale (canonical files are often single precision, so
    -2.5e-06 stands for an exact 0). Canonical times are printed to about six digits (10.0312 for
    10.03125), so a run's time matches one within 1e-5 of it, relatively.
    """
    run_times = np.asarray(got.index, dtype=float)
    want = np.asarray(ref.index, dtype=float)
    row = np.full(len(want), -1)
    if len(run_times):
        order = np.argsort(run_times, kind="stable")
        ordered = run_times[order]
        for k, t in enumerate(want):
            i = int(np.searchsorted(ordered, t))
            near = [j for j in (i - 1, i) if 0 <= j < len(ordered)]
            j = min(near, key=lambda j: abs(ordered[j] - t))
            if abs(ordered[j] - t) <= max(1e-9, 1e-5 * abs(t)):
                row[k] = order[j]
    found = row >= 0
    by_name: dict[str, str] = {}
    for c in got.columns:
        by_name.setdefault(fold(c), c)
    out = Comparison(0, [], int(found.sum()), len(want), 0.0, "")
    for c in ref.columns:
        key = fold(c)
        if key not in by_name:
            if key not in RUN_COLUMNS:
                out.missing.append(c)
            continue
        canon = ref[c].to_numpy(float)
        mine = np.full(len(canon), np.nan)
        mine[found] = pd.to_numeric(got[by_name[key]], errors="coerce").to_numpy(float)[row[found]]
        use = found & np.isfinite(canon)
        if not use.any():
            continue
        if key not in RUN_COLUMNS:
            out.compared += 1
        floor = max(atol / rtol, scale_share * float(np.abs(canon[use]).max()))
        err = np.abs(mine[use] - canon[use]) / np.maximum(np.abs(canon[use]), floor)
        err[~np.isfinite(err)] = np.inf
        i = int(np.argmax(err))
        if err[i] > out.worst or not out.worst_at:
            out.worst, out.worst_at = float(err[i]), f"{c} @ t={want[use][i]:g}"
    return out


@dataclass
class Case:
    """One model file run against its folder's canonical output.

    ``status`` is pass, fail (a value off by more than rtol, or not finite), partial (values agree but a
    canonical time is missing), no-columns (no canonical column returned) or error (the run raised;
    ``message`` says what).
    """

    folder: str
    model: str
    status: str
    compared: int = 0
    canonical: int = 0
    missing: list[str] = field(default_factory=list)
    times: str = ""
    worst: float = float("nan")
    worst_at: str = ""
    seconds: float = float("nan")
    message: str = ""
    options: str = ""  #: the companion files the model was loaded with (``macros=...``, ``data=...``)


def run_case(root: str, folder: str, model: str, simulate, rtol: float = 1e-3) -> Case:
    """Run one model file with ``simulate(path, times) -> DataFrame`` and compare it with the canonical output."""
    ref = read_canonical(canonical_file(os.path.join(root, folder)))
    n_canonical = sum(fold(c) not in RUN_COLUMNS for c in ref.columns)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = simulate(os.path.join(root, model), ref.index.to_numpy(float))
        options = str(got.attrs.get("options", ""))
        c = compare(ref, got, rtol=rtol)
    except Exception as e:  # a sweep records every failure and goes on
        return Case(
            folder,
            model,
            "error",
            canonical=n_canonical,
            seconds=time.perf_counter() - start,
            message=f"{type(e).__name__}: {e}".replace("\n", " ")[:300],
            options=_describe(load_options(os.path.join(root, model))),
        )
    if c.compared == 0:
        status = "no-columns"
    elif c.worst > rtol:
        status = "fail"
    elif c.matched < c.times:
        status = "partial"
    else:
        status = "pass"
    return Case(
        folder,
        model,
        status,
        c.compared,
        n_canonical,
        c.missing,
        f"{c.matched}/{c.times}",
        c.worst,
        c.worst_at,
        time.perf_counter() - start,
        options=options,
    )


def print_table(rows: list[Case], file=None) -> None:
    """One line per case, then the count of each status."""
    file = file or sys.stdout
    print(f"{'status':10} {'worst':>9} {'cols':>7} {'times':>9} {'secs':>6}  case", file=file)
    for r in rows:
        worst = "" if r.worst != r.worst else f"{r.worst:.2e}"
        note = r.message or (f"worst at {r.worst_at}" if r.status == "fail" else "")
        if r.options:
            note = f"[{r.options}] {note}"
        print(
            f"{r.status:10} {worst:>9} {r.compared:>3}/{r.canonical:<3} {r.times:>9} {r.seconds:6.2f}  "
            f"{r.model}  {note}".rstrip(),
            file=file,
        )
    counts = Counter(r.status for r in rows)
    print("summary:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), f"of {len(rows)}", file=file)


#: data files a Vensim model of the collection may be run with (:func:`load_options`)
DATA_SUFFIXES = (".tab", ".csv", ".xlsx")


def load_options(path: str, missing_data: bool = False) -> dict[str, str]:
    """Return the companion files to load one model of the collection with, as ``ts.load`` options.

    Two rules, from how the collection was made, and applied to every folder alike:

    * ``macros=``: the XMILE files were translated from the folder's Vensim file of the same name by
      xmutil, which drops ``:MACRO:`` definitions; where that ``.mdl`` has ``:MACRO:`` blocks, the XMILE
      file is given them, as its user would.
    * ``data=``: a Vensim model whose data variables have no data in the file (``missing_data``: the
      reader said so with a ``MissingDataWarning``) was run by Vensim with a data file; the folder's
      ``.tab``/``.csv``/``.xlsx`` files other than the canonical output are that file.
    """
    folder, name = os.path.split(path)
    stem, suffix = os.path.splitext(name)
    out: dict[str, str] = {}
    if suffix.lower() in MODEL_SUFFIXES["xmile"]:
        twin = os.path.join(folder, stem + ".mdl")
        if os.path.isfile(twin):
            with open(twin, encoding="utf-8", errors="replace") as fh:
                if ":MACRO:" in fh.read().upper():
                    out["macros"] = twin
    elif missing_data:
        files = sorted(
            f for f in os.listdir(folder) if f.lower().endswith(DATA_SUFFIXES) and f not in CANONICAL_NAMES
        )
        if files:
            out["data"] = [os.path.join(folder, f) for f in files]
    return out


def _describe(options: dict) -> str:
    """``macros=x.mdl`` and ``data=d.tab``: the options as the table prints them (file names only)."""
    parts = []
    for k, v in options.items():
        files = v if isinstance(v, list) else [v]
        parts.append(f"{k}={', '.join(os.path.basename(f) for f in files)}")
    return "; ".join(parts)


def load_model(path: str):
    """Return ``(model, options)``: one model of the collection loaded with its companion files.

    The files are those :func:`load_options` names; a model whose data variables have no data is
    loaded a second time, with its folder's data tables.
    """
    import trafficsys as ts
    from trafficsys.io.vensim.convert import MissingDataWarning

    options = load_options(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = ts.load(path, **options)
    if any(isinstance(w.message, MissingDataWarning) for w in caught):
        more = load_options(path, missing_data=True)
        if more:
            options = {**options, **more}
            m = ts.load(path, **options)
    return m, options


def simulate(path: str, times: np.ndarray) -> pd.DataFrame:
    """Run one model file: the engine callback, ``ts.load`` + ``ts.simulate``, every DT saved, columns by canonical name.

    The model is loaded by :func:`load_model`; the result's ``attrs["options"]`` says with which
    companion files.
    """
    import trafficsys as ts
    from trafficsys.model.arrays import flatten, is_arrayed

    m, options = load_model(path)
    if is_arrayed(m):
        m = flatten(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ts.simulate(m, saveper=m.dt)
    df = r.to_pandas()
    df.index = np.asarray(df.index, dtype=float)
    for name, da in r.ds.data_vars.items():  # constants have no time axis in the results
        if "time" not in da.dims and name not in df.columns:
            df[name] = float(np.asarray(da).ravel()[0])
    # vendor control variables (INITIAL TIME...) as columns, as the canonical files have them
    for name, value in (("initial_time", m.start), ("final_time", m.stop), ("time_step", m.dt)):
        if name not in df.columns:
            df[name] = value
    df.attrs["options"] = _describe(options)
    return df


def sweep(root: str, kind: str, rtol: float = RTOL) -> list[Case]:
    """Run every case of ``kind`` under ``root`` with :func:`simulate`."""
    return [run_case(root, folder, model, simulate, rtol) for folder, model in cases(root, kind)]


#: why known failures fail (checked by hand against the files and the canonical outputs)
WHY = {
    "tests/exp/": "canonical values are single precision (Vensim DSS 6.3): StockA = -5 + 50 * 0.1 is printed "
    "-2.52E-06 where the exact value is 0; adding 0.1 to -5 fifty times in float32 gives "
    "-2.518e-06, every printed value matches float32 Euler (passes at rtol 1e-3)",
    "tests/zeroled_decimals/test_zeroled_decimals.xmile": "canonical data inconsistent with the file: it "
    'declares method="RK4" (read as written), the '
    "output is Vensim's Euler run of the .mdl (Euler "
    "matches to 4e-16; RK4 is off 0.74 on stockmixed at "
    "t=1, where flow7 = Time: Euler -0.6777 = canonical, "
    "RK4 -1.1777 = the exact integral)",
    "tests/non_negative_all/": "canonical output is PySD's (identical), which clips the stock and reports the "
    "unlimited flow: OutFlow = 7 at t=27 while the stocks hold 4 and lose 4, so 3 "
    "units vanish; XMILE/Stella non-negative stocks override the outflow itself "
    "(outflow = MIN(stock/DT + inflow, flow)), which we report, conserving stocks",
    "tests/non_negative_stocks/test_non_negative_stocks_behavior": "as non_negative_all: reported value of "
    "a flow cut by an empty stock",
    "samples/simple_harmonic_oscillator": "Vensim keeps TIME STEP in single precision: Euler with DT = float32(0.01) "
    "reproduces all 1002 printed position and speed values (worst 4.7e-6); "
    "we integrate with the DT the file states, 0.01 (passes at 1e-3)",
    "tests/trend/": "canonical CSV printed with 5 decimals (Vensim PLE 7.1): every point over 1e-4 is a TREND value "
    "below 0.04 where we differ by less than 5e-6, half the last printed digit (passes at 1e-3)",
    "tests/lookups_with_expr/": "canonical CSV printed with 5 decimals (Vensim PLE 7.1): every point over 1e-4 is a "
    "value below 0.05 where we differ by less than 5e-6, half the last printed digit "
    "(passes at 1e-3)",
    "tests/subscripted_delays/": "canonical values are single precision (Vensim DSS 7.3.4 single precision): "
    "Stock DelayN[Roxbury Russet,*] = INTEG(10 - DELAY N output) nears 0 by "
    "cancellation; float32 Euler gives -0.0294110 at t=13.5 (canonical -0.0294117, "
    "error 1.8e-5), exact arithmetic -0.0294047 (1.8e-4); every other column passes",
}


def _why(model: str) -> str:
    return next((v for k, v in WHY.items() if k in model), "")


def _status(r) -> str:
    return {
        "pass": "pass",
        "fail": "FAIL",
        "partial": "partial",
        "no-columns": "no columns",
        "error": "not supported" if "UnsupportedFeatureError" in r.message else "error",
    }.get(r.status, r.status)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows, title: str) -> list[str]:
    """Markdown lines of one results table."""
    counts = Counter(r.status for r in rows)
    n = len(rows)
    passed = counts.get("pass", 0)
    out = [
        f"## {title}",
        "",
        f"**{passed} of {n} pass** ({100 * passed / max(n, 1):.0f}%); "
        + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())),
        "",
        "| model | status | columns | worst rel. error | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        worst = "" if r.worst != r.worst else f"{r.worst:.1e}"
        note = r.message.replace(DEFAULT_ROOT + "/", "") or (
            f"worst at {r.worst_at}" if r.status == "fail" else ""
        )
        if r.status != "pass" and _why(r.model):
            note = f"**{_why(r.model)}**. {note}"
        if r.options:
            note = f"run with `{r.options}`. {note}".strip()
        if r.missing and r.status != "error":
            note = (note + f"; missing {len(r.missing)}: {', '.join(r.missing[:4])}").strip("; ")
        out.append(
            f"| `{r.model}` | {_status(r)} | {r.compared}/{r.canonical} | {worst} | {_cell(note)[:400]} |"
        )
    return out


def features(rows) -> list[str]:
    """List the unsupported features named by the failures, with how many model files each stops."""
    c: Counter = Counter()
    for r in rows:
        if "UnsupportedFeatureError" not in r.message:
            continue
        msg = r.message
        found = set()
        if " used by " in msg:
            body = msg.split("support: ", 1)[-1].split("functions: ", 1)[-1]
            for part in body.split("; "):
                if " used by " in part:
                    found.add(part.split(" used by ")[0].strip())
        else:
            tail = msg.split("': ", 1)[-1]
            found.add(tail.split(" is not supported")[0].split(";")[0].strip()[:80])
        for f in found:
            c[f] += 1
    return [f"- {k}: {v} model file(s)" for k, v in c.most_common()]


def write_report(xrows, mrows, path: str, rtol: float) -> None:
    """Write the Markdown compatibility report."""
    lines = [
        "# Compatibility with the SDXorg test models",
        "",
        "Generated by `tools/compatibility.py` (the test suite runs it too) on "
        f"{_dt.date.today().isoformat()}. Each model file of "
        "[SDXorg/test-models](https://github.com/SDXorg/test-models) is loaded with `ts.load` and run "
        "with `ts.simulate` (Euler or RK4 as the file says, every DT saved); "
        "`tools/compatibility.py` compares every canonical column we return with the "
        f"canonical output (Vensim's or Stella's) at relative tolerance {rtol:g} "
        "(values near zero by absolute error 1e-6, values far below their column's scale by error "
        "relative to that scale). A model we cannot read fails with an error naming the unsupported "
        "feature (status *not supported*).",
        "",
        "## Using models from other tools",
        "",
        "```python",
        "import trafficsys as ts",
        'm = ts.load("model.stmx")            # Stella / XMILE (.xmile .stmx .itmx .xml)',
        'm = ts.load("model.mdl")             # Vensim, by our own grammar (macros, subscripts, sketches)',
        'm = ts.load("model.xmile", macros="model.mdl")  # macros it calls but does not define (.mdl or XMILE)',
        'm = ts.load("model.mdl", data="data.tab")       # Vensim data variables filled from a data file',
        'ts.save(m, "out.xmile")              # XMILE with a diagram view (PySD and Simlin run it; not yet tried in Stella)',
        "pm = ts.io.to_pysd(m)                # check our engine against PySD in two lines",
        "pm.run()",
        "```",
        "",
        "Companion files (`macros=`, `data=`; `trafficsys run MODEL --macros FILE --data FILE`) are looked "
        "for from the current folder, then from the model's folder, and must lie in the model's folder. "
        "A data file is a `.tab`, `.csv` or `.xlsx` table of time series, time down the rows (a row of "
        "names) or across the columns (Vensim's `.tab` export, a column of names); the reader tells which "
        "from the file and refuses one it cannot tell, a time that does not increase or a cell that is not "
        "a number, naming the row and column. In the tables below, two rules give a model its companion "
        "files, the same for every folder: an XMILE file translated by xmutil from the folder's Vensim file "
        "of the same name, whose macros xmutil dropped, is given that file's `:MACRO:` blocks "
        "(`macros=`); a Vensim model whose data variables have no data in the file is given the folder's "
        "data tables other than the canonical output (`data=`). The note of each such model says so.",
        "",
        "On the command line: `trafficsys export MODEL --to out.xmile|.toml|.graphml|.dot|.json|.mmd` "
        "(the last four are the causal graph for Gephi/yEd, Graphviz, Kumu and Mermaid).",
        "",
        "What is read: stocks, flows (uniflow and biflow), auxiliaries, graphical functions (`xpts` or "
        "`xscale`, continuous / extrapolate / discrete), `sim_specs` (reciprocal DT, Euler or RK4), units, "
        "docs, non-negative flags and `<behavior>` defaults, modules (variables become "
        "`module.variable`, nested), macros (an expression, or stocks and flows of their own copied per "
        "call), arrays (apply-to-all, per-element, `SUM` `MEAN` "
        "`MIN` `MAX` `SIZE` `STDDEV` over a dimension; flattened to `name[element]` scalars before "
        "simulation) and diagram positions. A flow drawn out of several stocks gets one copy per stock. "
        "XML is parsed by defusedxml: DTDs, entities and external references are refused, files over "
        "16 MB are refused before parsing.",
        "",
        "Tool dialects: Vensim functions keep Vensim's semantics (`INTEGER` and `MODULO` truncate, "
        "`DELAY N` lowers its order until order x DT is at most the delay time and drains each stage "
        "with the delay time its content entered with, `DELAY FIXED` reads its delay time once); in an "
        "XMILE file whose header names Vensim or Ventana, `INT` and `MOD` are read as Vensim's. XMILE we "
        "write uses XMILE builtins only (Vensim-only ones rewritten, the original kept in our extension "
        "element).",
        "",
    ]
    if xrows:
        lines += table(xrows, "XMILE models (.xmile, .stmx)") + [""]
        fx = features(xrows)
        if fx:
            lines += ["Unsupported features met in the XMILE models:", ""] + fx + [""]
    if mrows:
        lines += table(mrows, "Vensim models (.mdl, read by our own grammar)") + [""]
        fm = features(mrows)
        if fm:
            lines += ["Unsupported features met in the Vensim models:", ""] + fm + [""]
    sys.path.insert(0, HERE)
    import function_table  # the table of every function of XMILE 1.0 and Vensim (its own tool)

    lines += function_table.section() + [""]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


def main(argv=None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=DEFAULT_ROOT, help="the test-models folder")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "docs", "compatibility.md"))
    ap.add_argument("--kind", default="all", choices=["xmile", "mdl", "all"])
    ap.add_argument("--rtol", type=float, default=RTOL)
    a = ap.parse_args(argv)
    xrows = sweep(a.root, "xmile", a.rtol) if a.kind in ("xmile", "all") else []
    mrows = sweep(a.root, "mdl", a.rtol) if a.kind in ("mdl", "all") else []
    for rows, label in ((xrows, "XMILE"), (mrows, "MDL")):
        if rows:
            print(f"== {label}")
            print_table(rows)
    write_report(xrows, mrows, a.out, a.rtol)
    print(f"wrote {os.path.normpath(a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
