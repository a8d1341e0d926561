"""``trafficsys run``: simulate one scenario and print a table of the stocks (or chosen variables)."""

from __future__ import annotations

import argparse
import math
import sys

from ..errors import FileFormatError, ModelError
from ..io.output import write_csv
from ..model.elements import Kind
from ..model.names import suggest
from ._args import MODEL_HELP, add_force, check_outputs, positive_span, whole

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument("--scenario", help="scenario to simulate (default: the base case); see --list")
    parser.add_argument(
        "--method", choices=["euler", "rk4"], help="integration method (default: the model's)"
    )
    parser.add_argument("--vars", nargs="+", metavar="NAME", help="variables to show (default: every stock)")
    parser.add_argument(
        "--every",
        type=positive_span,
        metavar="T",
        help="print a row every T time units (default: about 10 rows)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a constant for this run (repeatable), e.g. --set total_programme_budget=3e6",
    )
    parser.add_argument(
        "--csv", metavar="FILE", help="also write every saved variable at every saved time to FILE"
    )
    parser.add_argument(
        "--plot",
        "--figure",
        dest="plot",
        metavar="FILE.png",
        help="also draw the shown variables over time, one panel each with its units (PNG, SVG, "
        "PDF...); with --compare-scenario the scenarios are overlaid",
    )
    parser.add_argument(
        "--compare-scenario",
        nargs="+",
        default=[],
        metavar="S",
        help="with --plot: overlay these scenarios' runs in the figure",
    )
    parser.add_argument(
        "--seed",
        type=whole,
        default=0,
        metavar="SEED",
        help="seed of the model's random functions (NORMAL, RANDOM_UNIFORM...; default 0)",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the model's scenarios and variables, then exit"
    )
    parser.add_argument(
        "--data",
        action="append",
        metavar="FILE",
        help="Vensim model: a data file (.tab, .csv or .xlsx; time down the rows or across the columns) "
        "whose series fill the model's data variables, as Vensim's data source does (repeatable; in the "
        "model's folder)",
    )
    parser.add_argument(
        "--macros",
        action="append",
        metavar="FILE",
        help="XMILE or Vensim model: a file of macros the model calls but does not define (an XMILE file "
        "with <macro> elements, or a Vensim .mdl with :MACRO: blocks; repeatable; in the model's folder)",
    )
    add_force(parser)


def _load(path, data=None, macros=None):
    import trafficsys as ts

    if not path:
        if data or macros:
            raise FileFormatError("--data and --macros need a model file (the reference model has neither)")
        return ts.load_default()
    return ts.load(path, data=data, macros=macros)


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e12 or a < 1e-3:
        return f"{x:.3e}"
    if a >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def _parse_set(items: list[str]) -> dict[str, float | str]:
    out: dict[str, float | str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ModelError(f"--set expects NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            out[name.strip()] = value.strip()  # an equation: a time-varying override
    return out


def run(args: argparse.Namespace) -> int:
    """Simulate and print the table."""
    import numpy as np

    import trafficsys as ts

    check_outputs(csv=args.csv, figure=args.plot, force=args.force)
    companions = {k: v for k, v in (("data", args.data), ("macros", args.macros)) if v}
    m = _load(args.model, **companions)
    if args.list:
        print(f"Model '{m.name}': t = {m.start:g}..{m.stop:g} {m.time_units}, dt = {m.dt:g}")
        print("Scenarios: " + (", ".join(m.scenarios) or "none"))
        for kind, label in (
            (Kind.STOCK, "stocks"),
            (Kind.FLOW, "flows"),
            (Kind.AUX, "auxiliaries"),
            (Kind.CONSTANT, "constants"),
            (Kind.LOOKUP, "graphical functions"),
        ):
            names = [e.name for e in m.elements(kind)]
            if names:
                print(f"{label} ({len(names)}): {', '.join(names)}")
        return 0
    if not any(True for kind in (Kind.STOCK, Kind.FLOW, Kind.AUX) for _ in m.elements(kind)):
        raise ts.ModelError(
            "the model has no stocks, flows or auxiliaries, so there is nothing to simulate; "
            "check that this is the model file you meant (`trafficsys validate` summarises it)",
            file=m.file,
        )
    overrides = _parse_set(args.set)
    r = ts.simulate(m, scenario=args.scenario, params=overrides or None, method=args.method, seed=args.seed)
    ds = r.ds
    # the raw variables: ds[name] builds a DataArray searching every coordinate, so reading all of a
    # large model's variables through it is quadratic in their number
    raw = ds.variables
    if args.vars:
        try:
            names = [r._key(v) for v in args.vars]
        except ts.ModelError as e:
            e.message += "; `trafficsys run --list` lists the model's variables"
            raise e.with_context(file=m.file) from None
    else:
        names = [k for k in r.variables if raw[k].attrs.get("kind") == "stock"] or r.variables[:8]
    times = r.time
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    every = args.every if args.every is not None else _nice_step(span / 10 if span else 1.0)
    if span / every >= len(times):  # finer than the saved times: show each of them
        rows = np.arange(len(times))
    else:
        wanted = np.arange(times[0], times[-1] + every * 1e-9, every)
        rows = np.unique([int(np.argmin(np.abs(times - t))) for t in wanted])

    where = f", scenario '{args.scenario}'" if args.scenario else ""
    tu = "" if m.time_units in ("", "time", None) else f" {m.time_units}"
    print(f"Model '{m.name}'{where}: {ds.attrs['method']}, dt = {ds.attrs['dt']:g}{tu}")
    labels = [m[n].name if n in m else n for n in names]
    units = [raw[n].attrs.get("units") or "" for n in names]
    tlabel = f"time ({m.time_units})" if m.time_units and m.time_units != "time" else "time"
    values = [[float(raw[n].values[i, 0]) for i in rows] for n in names]
    if len(names) <= 6:  # few variables: one column each, time down the page
        width = [max(10, len(lb), len(u) + 2) for lb, u in zip(labels, units)]
        tw = max(8, len(tlabel))
        print(f"{tlabel:>{tw}}  " + "  ".join(f"{lb:>{w}}" for lb, w in zip(labels, width)))
        if any(units):
            print(
                f"{'':>{tw}}  "
                + "  ".join(f"{'[' + u + ']' if u else '':>{w}}" for u, w in zip(units, width))
            )
        for j, i in enumerate(rows):
            print(f"{times[i]:>{tw}g}  " + "  ".join(f"{_fmt(v[j]):>{w}}" for v, w in zip(values, width)))
    else:  # many variables: one row each, time across the page
        heads = [f"{lb} [{u}]" if u else lb for lb, u in zip(labels, units)]
        nw = max(len(tlabel), *(len(h) for h in heads))
        cw = max(9, *(len(f"{times[i]:g}") for i in rows), *(len(_fmt(x)) for v in values for x in v))
        print(f"{tlabel:<{nw}}  " + "  ".join(f"{times[i]:>{cw}g}" for i in rows))
        for h, v in zip(heads, values):
            print(f"{h:<{nw}}  " + "  ".join(f"{_fmt(x):>{cw}}" for x in v))
    err = r.conservation_error()
    stocks = [k for k in r.variables if raw[k].attrs.get("kind") == "stock"]
    if stocks:
        # Stocks hold different units (people, cases, money): report the balance, not sums across them.
        print(
            f"\nConservation: {len(stocks)} stock{'s' if len(stocks) != 1 else ''} balance "
            f"(initial + boundary inflows - boundary outflows = final); largest relative residual {err:.1e}"
        )
    if args.csv:
        df = r.to_pandas()
        write_csv(df, args.csv)
        print(f"wrote {len(df)} rows x {df.shape[1]} variables to {args.csv}", file=sys.stderr)
    if args.plot:
        _plot(m, r, names, args, overrides)
    return 0


def _nice_step(x: float) -> float:
    """Round ``x`` up to 1, 2 or 5 times a power of ten."""
    if x <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(x))
    for f in (1, 2, 5, 10):
        if f * p >= x * 0.999:
            return f * p
    return 10 * p


def _plot(m, r, names: list[str], args: argparse.Namespace, overrides: dict[str, float | str]) -> None:
    """Write the figure of the shown variables, the --compare-scenario runs overlaid."""
    import matplotlib

    matplotlib.use("Agg")
    import trafficsys as ts

    from ..plot.runs import runs_figure

    sets = {args.scenario or "base case": r}
    for s in args.compare_scenario:
        if s not in m.scenarios:
            raise ts.ModelError(
                f"--compare-scenario: no scenario '{s}'{suggest(s, m.scenarios)}; defined: "
                f"{', '.join(m.scenarios) or 'none'}",
                file=m.file,
            )
        sets[s] = ts.simulate(m, scenario=s, params=overrides or None, method=args.method, seed=args.seed)
    runs_figure(sets, names, path=args.plot)
    print(f"wrote {args.plot}")
