"""Simulation results: an xarray Dataset over ``time`` and ``run``, and a conservation ledger.

:func:`make_results` wraps what a run produced (:mod:`~trafficsys.engine.execute`) into them.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..errors import ModelError
from ..model.names import canonical, suggest

if TYPE_CHECKING:
    from ..model.model import Model
    from .compiled import CompiledModel
    from .methods import Method
    from .prepare import Prepared, Timing

__all__ = ["Results", "dataset", "make_results"]


class Results:
    """What a simulation produced.

    Attributes
    ----------
    ds : xarray.Dataset
        Dimensions ``time`` and ``run``.  One data variable per model variable
        (canonical name) with attributes ``units``, ``doc``, ``kind``
        (``stock``, ``flow``, ``aux``, ``lookup``, ``constant``); stocks, flows
        and auxiliaries vary over ``(time, run)``, constants over ``run`` (so
        each run's parameters are recorded).  Dataset attributes: ``model``,
        ``scenario``, ``method``, ``dt``, ``start``, ``stop``, ``saveper``,
        ``time_units``.
    ledger : xarray.Dataset
        The conservation ledger over ``(stock, run)``: ``initial``,
        ``inflows`` and ``outflows`` (integrated over the run),
        ``boundary_inflows`` and ``boundary_outflows`` (the part that crossed
        the model boundary: flows from or to no stock), ``turnover`` (the
        gross amount its flows moved, both directions counted: the scale of
        the rounding a run can accumulate), ``final`` and
        ``residual = final - (initial + inflows - outflows)``.
    model : trafficsys.Model
        The model that was run (with the scenario applied).

    Examples
    --------
    >>> import trafficsys as ts
    >>> m = ts.Model("decay", stop=2, dt=1)
    >>> _ = m.stock("x", initial=100, outflows=["loss"])
    >>> _ = m.flow("loss", "x / 10")
    >>> r = ts.simulate(m)
    >>> r.to_pandas()["x"].tolist()
    [100.0, 90.0, 81.0]
    """

    def __init__(self, ds: xr.Dataset, model: Any = None, ledger: xr.Dataset | Any | None = None):
        self.ds = ds
        self.model = model
        self._ledger = ledger  # a Dataset, or a function building it on first use

    @property
    def ledger(self) -> xr.Dataset:
        """The conservation ledger (see the class docstring); built on first use."""
        if self._ledger is None:
            self._ledger = xr.Dataset()
        elif callable(self._ledger):
            self._ledger = self._ledger()
        return self._ledger

    # ---------------------------------------------------------------- access
    def _key(self, name: str) -> str:
        if name in self.ds:
            return name
        key = canonical(name)
        if key in self.ds:
            return key
        raise ModelError(
            f"the results have no variable '{name}'{suggest(key, [str(k) for k in self.ds.data_vars])}",
            variable=name,
        )

    def __getitem__(self, name: str) -> xr.DataArray:
        return self.ds[self._key(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self.ds or canonical(name) in self.ds)

    @property
    def time(self) -> np.ndarray:
        """The saved times."""
        return self.ds["time"].values

    @property
    def runs(self) -> int:
        """Number of runs."""
        return int(self.ds.sizes.get("run", 1))

    @property
    def variables(self) -> list[str]:
        """Names of the variables saved over time."""
        raw = self.ds.variables  # not data_vars.items(): see to_pandas
        return [str(k) for k in self.ds.data_vars if "time" in raw[k].dims]

    def to_xarray(self) -> xr.Dataset:
        """Return the underlying :class:`xarray.Dataset`."""
        return self.ds

    def to_pandas(self, run: int = 0):
        """One run as a :class:`pandas.DataFrame`: time x variables (constants as constant columns)."""
        ds = self.ds
        if "run" in ds.dims:
            if not 0 <= run < ds.sizes["run"] and run not in ds["run"].values:
                raise ModelError(f"run {run} does not exist; the results hold {ds.sizes['run']} run(s)")
            ds = ds.isel(run=run) if 0 <= run < ds.sizes["run"] else ds.sel(run=run)
        import pandas as pd

        n = ds.sizes.get("time", 0)
        # the raw variables: ds.data_vars.items() builds a DataArray per variable, searching every
        # coordinate each time, which is quadratic in the number of variables
        raw = ds.variables
        cols = {
            str(k): np.broadcast_to(np.asarray(v.values, dtype=float), (n,))
            if "time" not in v.dims
            else np.asarray(v.values, dtype=float)
            for k, v in ((k, raw[k]) for k in ds.data_vars)
            if v.ndim <= 1
        }

        df = pd.DataFrame(cols, index=pd.Index(ds["time"].values, name="time"))
        return df

    def sel(self, **indexers: Any) -> Results:
        """Select like :meth:`xarray.Dataset.sel` (``run=3``, ``time=slice(0, 10)``)."""
        ledger = self.ledger
        if "run" in indexers and "run" in ledger.dims:
            ledger = ledger.sel(run=indexers["run"])
        return Results(self.ds.sel(**indexers), self.model, ledger)

    def isel(self, **indexers: Any) -> Results:
        """Select by position like :meth:`xarray.Dataset.isel`."""
        ledger = self.ledger
        if "run" in indexers and "run" in ledger.dims:
            ledger = ledger.isel(run=indexers["run"])
        return Results(self.ds.isel(**indexers), self.model, ledger)

    # ------------------------------------------------------------ conservation
    def conservation_error(self) -> float:
        """Largest relative ledger residual over stocks and runs (0 for a model without stocks).

        Each residual is divided by what the stock held and moved: ``|initial|
        + turnover + |final|``.  The gross ``turnover``, not the net
        ``inflows``/``outflows``, because flows that change direction cancel in
        the net sums while every step's rounding stays the size of the gross
        amount moved.
        """
        lg = self.ledger
        if not lg.data_vars or lg.sizes.get("stock", 0) == 0:
            return 0.0
        scale = abs(lg["initial"]) + lg["turnover"] + abs(lg["final"])
        rel = abs(lg["residual"]) / np.maximum(scale, np.finfo(float).tiny)
        return float(rel.max())

    # ----------------------------------------------------------------- display
    def plot(
        self,
        variables: str | Sequence[str] | None = None,
        ax: Any = None,
        *,
        run: int | None = None,
        compare: Mapping[str, Results] | None = None,
    ):
        """Plot variables over time; an ensemble is drawn as a fan chart (median, middle 50% and 90%).

        ``compare`` overlays other results, e.g. other scenarios
        (``r.plot("in_exploitation", compare={"survivor led": r2})``): one
        colour per result.  Returns the matplotlib Axes (see
        :func:`trafficsys.plot.runs.plot_runs`).
        """
        from ..plot.runs import plot_runs

        if compare:
            label = self.ds.attrs.get("scenario") or "base case"
            return plot_runs({str(label): self, **dict(compare)}, variables, ax=ax, run=run)
        return plot_runs(self, variables, ax=ax, run=run)

    def plot_fan(self, variable: str, ax: Any = None):
        """Fan chart of one variable of an ensemble (see :func:`trafficsys.plot.runs.plot_fan`)."""
        from ..plot.runs import plot_fan

        return plot_fan(self, variable, ax=ax)

    def __repr__(self) -> str:
        a = self.ds.attrs
        return (
            f"<Results {a.get('model', '')!r}: {len(self.variables)} variables, {self.ds.sizes.get('time', 0)} "
            f"times ({a.get('start')}..{a.get('stop')}), {self.runs} run(s), method {a.get('method')}"
            + (f", scenario {a['scenario']!r}" if a.get("scenario") else "")
            + ">"
        )

    def _repr_html_(self) -> str:
        rows = []
        final = self.ds.isel(time=-1) if "time" in self.ds.dims and self.ds.sizes["time"] else self.ds
        for k in self.variables[:30]:
            v = final[k]
            vals = np.asarray(v.values, dtype=float).reshape(-1)
            shown = f"{vals[0]:.6g}" if vals.size == 1 else f"{np.median(vals):.6g} (median of {vals.size})"
            rows.append(
                f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v.attrs.get('kind', '')))}</td>"
                f"<td>{html.escape(str(v.attrs.get('units') or ''))}</td><td>{shown}</td></tr>"
            )
        more = "" if len(self.variables) <= 30 else f"<p>... and {len(self.variables) - 30} more</p>"
        head = html.escape(repr(self))
        return (
            f"<div><p>{head}</p><table><thead><tr><th>variable</th><th>kind</th><th>units</th>"
            f"<th>final value</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"
            f"<p>conservation: largest relative residual {self.conservation_error():.2g}</p>"
            "<p>Everything: <code>.to_pandas(run)</code>, <code>.to_xarray()</code>; figure: "
            "<code>.plot([names])</code>.</p></div>"
        )


# ------------------------------------------------------------ from raw output
_KIND = {"stock": "stock", "flow": "flow", "aux": "aux", "lookupvar": "lookup"}


def _attrs(cm: CompiledModel, m: Model) -> dict[str, dict[str, str]]:
    """Per variable the attributes of its results (units, doc, kind), cached on the compiled model.

    Units and docs are part of the structure key (:func:`~trafficsys.engine.compiled.structure_key`),
    so every model sharing ``cm`` has the same ones.
    """
    got = cm.result_attrs
    if got is None:
        els = dict(zip(m.names(), m.elements()))  # canonical name -> element, without re-normalising
        got = {
            name: {
                "units": els[name].units or "",
                "doc": els[name].doc,
                "kind": _KIND[cm.plan.nodes[name].role],
            }
            for name in cm.recorded
        }
        got.update(
            {c: {"units": els[c].units or "", "doc": els[c].doc, "kind": "constant"} for c in cm.constants}
        )
        cm.result_attrs = got
    return got


def make_results(
    prep: Prepared,
    method: Method,
    timing: Timing,
    out: np.ndarray,
    S0: tuple,
    S: tuple,
    A: tuple,
    nsave: int | None = None,
) -> Results:
    """Wrap raw outputs into :class:`Results` (the Dataset and the ledger)."""
    cm, m, n = prep.cm, prep.model, prep.n
    nsave = out.shape[0] if nsave is None else nsave
    times = timing.times(nsave)
    runs = np.arange(n)
    data = {}
    attrs = _attrs(cm, m)
    block = np.asarray(out[:nsave], dtype=float)
    var = _variable
    for i, name in enumerate(prep.saved):
        data[name] = var(("time", "run"), block[:, i, :], attrs[name])
    # the constants, one row per constant of a (constants, runs) block: each run's own copy of its values
    if n == 1:
        consts = np.array(prep.P, dtype=float).reshape(len(prep.P), 1)
    else:
        consts = np.empty((len(prep.P), n))
        for i, v in enumerate(prep.P):
            consts[i] = v
    for i, c in enumerate(cm.constants):
        data[c] = var(("run",), consts[i], attrs[c])
    ds_attrs = {
        "model": m.name,
        "scenario": prep.scenario or "",
        "method": method.name,
        "dt": timing.dt,
        "start": timing.start,
        "stop": timing.stop,
        "saveper": timing.saveper,
        "time_units": m.specs.time_units,
        "varied": ",".join(prep.varied),
    }
    ds = dataset(data, {"time": times, "run": runs}, ds_attrs)
    return Results(ds, m, ledger(prep, S0, S, A))


def _public_variable(dims: tuple[str, ...], values: np.ndarray, attrs: dict) -> xr.Variable:
    return xr.Variable(dims, values, attrs, fastpath=True)


def _direct_variable(dims: tuple[str, ...], values: np.ndarray, attrs: dict) -> xr.Variable:
    # xarray.Variable(..., fastpath=True) costs about 2 microseconds, several hundred of them a run
    # of a large model; a Variable is exactly these four slots (checked once, by _choose_variable)
    v = _new_variable(xr.Variable)
    v._dims = dims
    v._data = values
    v._attrs = dict(attrs)
    v._encoding = None
    return v


_new_variable = object.__new__


def _choose_variable():
    """Return the direct constructor if it builds what xarray's does (the same slots, an identical Variable)."""
    try:
        slots = {s for c in xr.Variable.__mro__ for s in c.__dict__.get("__slots__", ())}
        if slots != {"_dims", "_data", "_attrs", "_encoding"}:
            return _public_variable
        a = np.arange(6.0).reshape(3, 2)
        fast, ref = (
            _direct_variable(("time", "run"), a, {"k": "v"}),
            _public_variable(("time", "run"), a, {"k": "v"}),
        )
        one = _direct_variable(("run",), a[0], {})
        if fast.identical(ref) and type(fast) is type(ref) and fast.encoding == {} and one.attrs == {}:
            return _direct_variable
    except Exception:  # pragma: no cover - only if xarray's internals change
        pass
    return _public_variable  # pragma: no cover


_variable = _choose_variable()


_INDEXES: dict[tuple, Any] = {}


def dataset(data: dict[str, xr.Variable], coords: dict[str, np.ndarray], attrs: dict) -> xr.Dataset:
    """Build a Dataset of variables that are already aligned on ``coords``.

    ``xarray.Dataset(...)`` merges and aligns every variable, which costs more
    than a whole run of a small model when there are hundreds of variables;
    ours are aligned by construction, so they are assembled directly.  Falls
    back to the public constructor if xarray's internals change.
    """
    try:
        from xarray.core.indexes import PandasIndex

        variables: dict[str, xr.Variable] = {}
        indexes = {}
        for name, values in coords.items():
            key = (name, len(values), values.tobytes() if len(values) < 100_000 else id(values))
            index = _INDEXES.get(key)
            if index is None:  # an index is immutable: runs with the same times and runs share one
                import pandas as pd

                # from a pandas Index: xarray does not then ask whether the values are a dask array, which
                # imports dask when it is installed (a second or more of a first run)
                index = PandasIndex(pd.Index(values), name, coord_dtype=values.dtype)
                if len(_INDEXES) > 32:
                    _INDEXES.clear()
                _INDEXES[key] = index
            variables.update(index.create_variables())
            indexes[name] = index
        dims: dict[Any, int] = {name: len(values) for name, values in coords.items()}
        shapes: dict[tuple, tuple] = {}
        for name, var in data.items():
            d = var.dims
            want = shapes.get(d)
            if want is None:
                want = shapes[d] = tuple(dims[x] for x in d)
            if var.shape != want or name in variables:
                raise ValueError(name)
            variables[name] = var
        return xr.Dataset._construct_direct(variables, set(coords), dims, dict(attrs), indexes)
    except Exception:  # pragma: no cover - only if xarray's internals change
        return xr.Dataset(data, coords=coords, attrs=attrs)


def ledger(prep: Prepared, S0: tuple, S: tuple, A: tuple) -> Any:
    """Return a function building the conservation ledger over ``(stock, run)`` (see :class:`Results`)."""
    cm, n = prep.cm, prep.n
    idx = {s: i for i, s in enumerate(cm.states)}
    k = len(cm.acc_flows)
    acc = dict(zip(cm.acc_flows, A[:k]))
    gross = dict(acc, **dict(zip(cm.gross_flows, A[k:])))  # a uniflow's gross amount is its net amount
    src = {f: s for s in cm.stocks for f in cm.plan.nodes[s].outflows}
    dst = {f: s for s in cm.stocks for f in cm.plan.nodes[s].inflows}
    stocks = list(cm.stocks)
    S0 = tuple(S0)
    S = tuple(S)

    def build() -> xr.Dataset:
        def arr(x):
            return np.broadcast_to(np.asarray(x, dtype=float), (n,))

        def total(flows, amounts=acc):
            out = np.zeros(n)
            for f in flows:
                out = out + arr(amounts[f])
            return out

        rows: dict[str, list[np.ndarray]] = {
            k: []
            for k in (
                "initial",
                "inflows",
                "outflows",
                "boundary_inflows",
                "boundary_outflows",
                "turnover",
                "final",
            )
        }
        for s in stocks:
            node = cm.plan.nodes[s]
            rows["initial"].append(arr(S0[idx[s]]))
            rows["final"].append(arr(S[idx[s]]))
            rows["inflows"].append(total(node.inflows))
            rows["outflows"].append(total(node.outflows))
            rows["boundary_inflows"].append(total([f for f in node.inflows if f not in src]))
            rows["boundary_outflows"].append(total([f for f in node.outflows if f not in dst]))
            rows["turnover"].append(total(node.inflows + node.outflows, gross))
        data = {k: np.array(v, dtype=float).reshape(len(stocks), n) for k, v in rows.items()}
        data["residual"] = data["final"] - (data["initial"] + data["inflows"] - data["outflows"])
        # assembled directly, as the saves are (the public constructor asks whether each array is a dask
        # array, importing dask when it is installed: most of a second the first time)
        return dataset(
            {k: _variable(("stock", "run"), v, {}) for k, v in data.items()},
            {"stock": np.array(stocks) if stocks else np.array([], dtype=float), "run": np.arange(n)},
            {},
        )

    return build
