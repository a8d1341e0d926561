"""The causal-loop diagram of a model: hand-drawn links, or links derived from equations.

For a stock-flow model, every causal dependency becomes a link:

* ``x -> z`` when ``z``'s equation uses ``x``, signed by the sign analysis of
  :mod:`trafficsys.cld.polarity`; inputs read only through ``INIT(...)`` and a
  stock's initial value act once, at the start, and are not causal links;
  graphical functions called as ``table(x)`` are part of the equation, not
  variables;
* ``flow -> stock`` is ``+`` for an inflow and ``-`` for an outflow;
* a link into a stock is delayed (the stock accumulates), and so is a link
  whose source enters the target through a stateful builtin (``SMTH1``,
  ``DELAY3``...).

Each structural sign is then checked numerically when simulation results are
at hand: the target's equation is re-evaluated at every recorded state with
the source nudged up and down (central partial differences), every other
input held.  A link whose partial difference takes both signs within the
operating range becomes ``?`` and is reported in ``cld.notes``; so is a link
whose observed sign contradicts its structure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelError
from ..model import ast
from ..model.elements import Constant, Kind, Link, Lookup
from ..model.model import Model
from .diagram import CausalLoopDiagram, PolarityNote
from .polarity import SignAnalysis

__all__ = ["from_model", "observed_signs"]


def from_model(
    m: Model,
    results: Any = None,
    *,
    numeric: bool | str = "auto",
    constants: bool = True,
    resolve: bool = True,
) -> CausalLoopDiagram:
    """Return the causal-loop diagram of a model (``m.cld()``).

    Parameters
    ----------
    m
        A model: a CLD-only model (``[[links]]``, no equations) gives its
        hand-drawn diagram; a stock-flow model gives the diagram derived from
        its equations, plus any hand-drawn links (which win on conflict).
    results
        Simulation results (``ts.simulate(m)``, an ensemble, an xarray
        Dataset with every variable, or a list of these) whose states are the
        operating range for the numerical check of link signs.
    numeric
        ``"auto"``: check signs against ``results``, or, when none are given
        and the model simulates, against the base run ``ts.simulate(m)``
        (pass ``results=ts.monte_carlo(m, n=...)`` to check over the declared
        uncertainty too);
        ``True``: the same, but a failing simulation raises; ``False``: structure only.
    constants
        Keep links from constants (parameters), which are never on a loop.
    resolve
        When the structure says ``?`` but one sign is observed everywhere in
        the operating range, use the observed sign (noted in ``cld.notes``).

    Returns
    -------
    CausalLoopDiagram
    """
    variables: dict[str, dict[str, Any]] = {}
    for key, e in zip(m.names(), m.elements()):
        info = {"kind": e.kind.value, "label": e.name}
        if e.doc:
            info["doc"] = e.doc
        if e.role:
            info["role"] = e.role
        if e.units:
            info["units"] = e.units
        variables[key] = info
    for sc in getattr(m, "sectors", {}).values():
        for v in sc.variables:
            variables.setdefault(v, {}).setdefault("sector", sc.name)
    for key, info in m.cld_variables.items():
        variables.setdefault(key, {}).update(info)
    cld = CausalLoopDiagram(m.name, variables, [], dict(m.loops), [], m.file)
    if len(m):
        _derive(m, cld, results, numeric, constants, resolve)
    for lk in m.links:
        cld.add_link(lk)
    return cld


def _tables(m: Model) -> set[str]:
    return {k for k, e in zip(m.names(), m.elements()) if isinstance(e, Lookup) and e.input is None}


def _derive(m: Model, cld: CausalLoopDiagram, results: Any, numeric: bool | str, constants: bool,
            resolve: bool) -> None:
    signs = SignAnalysis(m)
    tables = _tables(m)
    g = m.graph()
    structural: dict[tuple[str, str], str] = {}
    for a, b, via in g.edges(data="via"):
        if via == "initial" or a in tables:
            continue
        if not constants and g.nodes[a]["kind"] is Kind.CONSTANT:
            continue
        if via in ("inflow", "outflow"):
            cld.add_link(Link(a, b, "+" if via == "inflow" else "-", True,
                              f"{'inflow to' if via == 'inflow' else 'outflow from'} the stock"))
            continue
        tree = m.ast(b)
        if tree is None or a not in ast.live_names(tree):
            continue
        pol = signs.polarity(a, b)
        if pol == "0":
            continue  # the equation mentions the source, but it has no effect (e.g. 0 * x)
        structural[(a, b)] = pol
        cld.add_link(Link(a, b, pol, signs.delayed(a, b)))
        if pol == "?":
            cld.notes.append(PolarityNote(a, b, "?", "", "?",
                                          f"{a} -> {b}: the sign of the effect depends on the state "
                                          f"(equation: {m.equation_text(b)}); marked '?'"))
    if numeric is False or not structural:
        return
    if results is None:
        results = _simulate(m, strict=numeric is True)
        if results is None:
            return
    _confirm(m, cld, structural, results, resolve)


def _simulate(m: Model, strict: bool):
    try:
        import trafficsys as ts

        simulate = ts.simulate
    except (ImportError, AttributeError):
        if strict:
            raise ModelError("numeric=True needs the simulation engine (ts.simulate), which is not "
                             "available; pass results=... or numeric=False", file=m.file) from None
        return None
    try:
        return simulate(m)
    except ModelError:
        if strict:
            raise
        return None


def _dataset(results: Any):
    import pandas as pd
    import xarray as xr

    ds = getattr(results, "ds", None)
    if ds is None and hasattr(results, "to_xarray") and not isinstance(results, (pd.DataFrame, xr.Dataset)):
        ds = results.to_xarray()
    if ds is None:
        ds = results
    if isinstance(ds, pd.DataFrame):
        ds = xr.Dataset.from_dataframe(ds.rename_axis("time"))
    if not isinstance(ds, xr.Dataset):
        raise ModelError(f"results must be simulation results, an xarray Dataset or a pandas DataFrame "
                         f"indexed by time; got {type(results).__name__}")
    return ds


def _values(m: Model, ds, name: str) -> np.ndarray | None:
    """Return the recorded values of a variable as a flat array over (time, run), or None."""
    if name in m and isinstance(m[name], Constant) and name not in ds and m[name].name not in ds:
        return None
    for key in (name, m[name].name if name in m else name):
        if key in ds:
            da = ds[key]
            if set(da.dims) - {"time", "run"}:
                return None
            dims = [d for d in ("time", "run") if d in da.dims]
            return np.asarray(da.transpose(*dims).values, dtype=float)
    return None


def observed_signs(m: Model, source: str, target: str, results: Any) -> tuple[str, float, float] | None:
    """Signs of the partial difference of ``target`` in ``source`` over recorded states.

    Returns ``(signs, share_positive, share_negative)`` with ``signs`` a
    subset of ``"+-"``, or None when the equation cannot be re-evaluated from
    recorded values (stateful builtins, arrays, missing variables).
    """
    from ..analysis._evaluate import STATEFUL_CALLS, evaluate

    ds = _dataset(results)
    tree = m.ast(target)
    if tree is None or ast.calls(tree) & STATEFUL_CALLS:
        return None
    lookups = {k: e for k, e in zip(m.names(), m.elements()) if isinstance(e, Lookup)}
    if isinstance(m[target], Lookup):  # a lookup with an input: the table applied to the input
        tree = ast.Call(target, (tree,))
    time = np.asarray(ds["time"].values, dtype=float)
    env: dict[str, np.ndarray] = {}
    shape = None
    for name in ast.live_names(tree) | {source}:
        if name in lookups and lookups[name].input is None:
            continue
        v = _values(m, ds, name)
        if v is None:
            e = m[name] if name in m else None
            if isinstance(e, Constant):
                env[name] = np.asarray(e.value, dtype=float)
                continue
            return None
        env[name] = v
        shape = v.shape
    if source not in env:
        return None
    t = time if shape is None or len(shape) == 1 else time[:, None]
    x = env[source]
    scale = float(np.nanmax(np.abs(x))) if np.size(x) else 1.0
    h = 1e-6 * np.maximum(np.abs(x), scale if scale > 0 else 1.0)
    up, down = dict(env), dict(env)
    up[source], down[source] = x + h, x - h
    with np.errstate(all="ignore"):
        f_up = evaluate(tree, up, time=t, dt=m.dt, lookups=lookups, variable=target)
        f_down = evaluate(tree, down, time=t, dt=m.dt, lookups=lookups, variable=target)
        f0 = evaluate(tree, env, time=t, dt=m.dt, lookups=lookups, variable=target)
    d = np.broadcast_to(f_up - f_down, np.broadcast_shapes(np.shape(f_up), np.shape(f_down)))
    ok = np.isfinite(d)
    tol = 1e-9 * (1.0 + np.abs(np.broadcast_to(f0, d.shape)))
    pos = (d > tol) & ok
    neg = (d < -tol) & ok
    n = max(int(ok.sum()), 1)
    signs = ("+" if pos.any() else "") + ("-" if neg.any() else "")
    return signs, float(pos.sum()) / n, float(neg.sum()) / n


def _confirm(m: Model, cld: CausalLoopDiagram, structural: dict[tuple[str, str], str], results: Any,
             resolve: bool) -> None:
    runs = list(results) if isinstance(results, (list, tuple)) else [results]
    for (a, b), pol in structural.items():
        try:
            obs = [o for o in (observed_signs(m, a, b, r) for r in runs) if o is not None]
        except ModelError:
            obs = []
        if not obs:
            continue
        seen = "".join(s for s in "+-" if any(s in o[0] for o in obs))
        share_pos = sum(o[1] for o in obs) / len(obs)
        share_neg = sum(o[2] for o in obs) / len(obs)
        note = None
        new = pol
        if seen == "+-":
            new = "?"
            note = (f"{a} -> {b}: the effect changes sign within the simulated operating range "
                    f"(+ at {share_pos:.0%} of the recorded states, - at {share_neg:.0%}); marked '?'")
        elif pol in "+-" and seen and seen != pol:
            new = "?"
            note = (f"{a} -> {b}: the equation's structure says '{pol}' but the simulated states show only "
                    f"'{seen}'; marked '?' (check the declared ranges and non_negative flags)")
        elif pol == "?" and seen:
            if resolve:
                new = seen
            note = (f"{a} -> {b}: the structure cannot tell the sign, but it is '{seen}' over the whole "
                    f"simulated operating range" + (f"; using '{seen}'" if resolve else
                                                    " (from_model(..., resolve=True) uses it)"))
        if note is None:
            continue
        old = cld.link(a, b)
        cld.add_link(Link(a, b, new, old.delay, old.note, old.strength))
        cld.notes = [n for n in cld.notes if (n.source, n.target) != (a, b)]
        cld.notes.append(PolarityNote(a, b, pol, seen, new, note))
