"""Link polarities checked against simulated behaviour.

:meth:`Model.cld() <trafficsys.model.Model.cld>` signs each link from the
structure of its equation alone and never simulates.  This analysis checks
those signs numerically over states a run actually visited: the target's
equation is re-evaluated at every recorded state with the source nudged up and
down (central partial differences), every other input held.

* A link whose partial difference takes both signs within the operating range
  becomes ``?``, with a note.
* A link whose observed sign contradicts its structure becomes ``?``, with a
  note (check the declared ranges and ``non_negative`` flags).
* A link the structure leaves at ``?`` but that shows one sign everywhere takes
  that sign when ``resolve`` is True, with a note either way.

Hand-drawn links (``m.link(...)``) and flow-to-stock links are kept as drawn.

Examples
--------
>>> import trafficsys as ts
>>> m = ts.Model("share", stop=5, dt=1)
>>> _ = m.stock("x", initial=1, inflows=["grow"]); _ = m.flow("grow", "1")
>>> _ = m.aux("share", "x / (x + 1)")
>>> m.cld().polarity("x", "share")  # the structure cannot tell
'?'
>>> confirm_polarities(m.cld(), m, ts.simulate(m)).polarity("x", "share")
'+'
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..cld.diagram import CausalLoopDiagram, PolarityNote
from ..engine.expression import STATEFUL_CALLS, evaluate
from ..errors import ModelError
from ..model import ast
from ..model.elements import Constant, Link, Lookup
from ..model.model import Model

__all__ = ["confirm_polarities", "observed_signs"]


def confirm_polarities(
    cld: CausalLoopDiagram, m: Model, results: Any, *, resolve: bool = True
) -> CausalLoopDiagram:
    """Return a copy of ``cld`` whose equation-derived link signs are checked against ``results``.

    Parameters
    ----------
    cld
        The model's diagram, ``m.cld()``.
    m
        The model that produced ``results``.
    results
        Simulation results (``ts.simulate(m)``, an ensemble, an xarray Dataset
        with every variable, or a list of these) whose states are the operating
        range.  ``ts.monte_carlo(m, n=...)`` checks over the declared
        uncertainty too.  Nothing is simulated here.
    resolve
        When the structure says ``?`` but one sign is observed everywhere in the
        operating range, use the observed sign (noted in ``notes`` either way).

    Returns
    -------
    CausalLoopDiagram
        A new diagram; ``cld`` itself is not changed.
    """
    out = copy.deepcopy(cld)
    out._loop_cache = {}
    drawn = {(lk.source, lk.target) for lk in m.links}
    runs = list(results) if isinstance(results, (list, tuple)) else [results]
    for a, b, via in m.graph().edges(data="via"):
        if via != "equation" or (a, b) in drawn or not out.has_link(a, b):
            continue
        pol = out.link(a, b).polarity
        try:
            obs = [o for o in (observed_signs(m, a, b, r) for r in runs) if o is not None]
        except ModelError:
            obs = []
        if obs:
            _apply(out, a, b, pol, obs, resolve)
    return out


def _apply(cld: CausalLoopDiagram, a: str, b: str, pol: str, obs: list, resolve: bool) -> None:
    seen = "".join(s for s in "+-" if any(s in o[0] for o in obs))
    share_pos = sum(o[1] for o in obs) / len(obs)
    share_neg = sum(o[2] for o in obs) / len(obs)
    new = pol
    if seen == "+-":
        new = "?"
        note = (
            f"{a} -> {b}: the effect changes sign within the simulated operating range "
            f"(+ at {share_pos:.0%} of the recorded states, - at {share_neg:.0%}); marked '?'"
        )
    elif pol in "+-" and seen and seen != pol:
        new = "?"
        note = (
            f"{a} -> {b}: the equation's structure says '{pol}' but the simulated states show only "
            f"'{seen}'; marked '?' (check the declared ranges and non_negative flags)"
        )
    elif pol == "?" and seen:
        if resolve:
            new = seen
        note = (
            f"{a} -> {b}: the structure cannot tell the sign, but it is '{seen}' over the whole "
            f"simulated operating range"
            + (f"; using '{seen}'" if resolve else " (confirm_polarities(..., resolve=True) uses it)")
        )
    else:
        return
    old = cld.link(a, b)
    cld.add_link(Link(a, b, new, old.delay, old.note, old.strength))
    cld.notes = [n for n in cld.notes if (n.source, n.target) != (a, b)]
    cld.notes.append(PolarityNote(a, b, pol, seen, new, note))


def _dataset(results: Any):
    import pandas as pd
    import xarray as xr

    if isinstance(results, xr.Dataset):  # (asking a Dataset for a missing attribute ranks every name like it)
        return results
    ds = getattr(results, "ds", None)
    if ds is None and hasattr(results, "to_xarray") and not isinstance(results, (pd.DataFrame, xr.Dataset)):
        ds = results.to_xarray()
    if ds is None:
        ds = results
    if isinstance(ds, pd.DataFrame):
        ds = xr.Dataset.from_dataframe(ds.rename_axis("time"))
    if not isinstance(ds, xr.Dataset):
        raise ModelError(
            f"results must be simulation results, an xarray Dataset or a pandas DataFrame "
            f"indexed by time; got {type(results).__name__}"
        )
    return ds


def _values(m: Model, ds, name: str) -> np.ndarray | None:
    """Return the recorded values of a variable as a flat array over (time, run), or None."""
    if name in m and isinstance(m[name], Constant) and name not in ds and m[name].name not in ds:
        return None
    raw = ds.variables  # the raw variables: a DataArray per lookup would cost more than the evaluation
    for key in (name, m[name].name if name in m else name):
        if key in raw:
            var = raw[key]
            if set(var.dims) - {"time", "run"}:
                return None
            dims = [d for d in ("time", "run") if d in var.dims]
            out = np.asarray(np.transpose(var.values, [var.dims.index(d) for d in dims]), dtype=float)
            if "run" in ds.dims and dims != ["time", "run"]:
                # an ensemble keeps a sampled constant over runs only, and may keep a series over time
                # only: each gets its missing axis, so (runs,) never meets (time,) in one equation
                out = out[None, :] if dims == ["run"] else out[:, None] if dims == ["time"] else out
            return out
    return None


def observed_signs(m: Model, source: str, target: str, results: Any) -> tuple[str, float, float] | None:
    """Signs of the partial difference of ``target`` in ``source`` over recorded states.

    Returns ``(signs, share_positive, share_negative)`` with ``signs`` a
    subset of ``"+-"``, or None when the equation cannot be re-evaluated from
    recorded values (stateful builtins, arrays, missing variables).
    """
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
