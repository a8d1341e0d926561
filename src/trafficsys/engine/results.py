"""Simulation results: an xarray Dataset over ``time`` and ``run``, and a conservation ledger."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ModelError
from ..model.names import canonical

__all__ = ["Results"]


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
        from ..model.validate import suggest

        raise ModelError(f"the results have no variable '{name}'{suggest(key, list(self.ds.data_vars))}",
                         variable=name)

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
        cols = {str(k): np.broadcast_to(np.asarray(v.values, dtype=float), (n,)) if "time" not in v.dims
                else np.asarray(v.values, dtype=float)
                for k, v in ((k, raw[k]) for k in ds.data_vars) if v.ndim <= 1}

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
    def plot(self, variables: str | Sequence[str] | None = None, ax: Any = None, *, run: int | None = None,
             band: tuple[float, float] = (0.05, 0.95)):
        """Plot variables over time; an ensemble shows its median and a ``band`` of quantiles.

        Returns the matplotlib Axes.
        """
        from ..plot._style import new_axes, use_thousands

        if ax is None:
            ax = new_axes((8, 4.5))
        if variables is None:
            kinds = {k: self.ds[k].attrs.get("kind") for k in self.variables}
            variables = [k for k, v in kinds.items() if v == "stock"] or self.variables[:6]
        elif isinstance(variables, str):
            variables = [variables]
        t = self.time
        for name in variables:
            da = self[name]
            label = self.model[name].name if self.model is not None and name in self.model else name
            if "run" in da.dims and run is not None:
                da = da.isel(run=run)
            if "run" in da.dims and da.sizes["run"] > 1:
                lo, mid, hi = (np.asarray(da.quantile(q, dim="run").values) for q in (band[0], 0.5, band[1]))
                (line,) = ax.plot(t, mid, label=f"{label} (median)")
                ax.fill_between(t, lo, hi, color=line.get_color(), alpha=0.2,
                                label=f"{label} ({band[0]:.0%}-{band[1]:.0%} of {da.sizes['run']} runs)")
            else:
                ax.plot(t, np.asarray(da.values).reshape(len(t), -1)[:, 0], label=label)
        shown = {self[v].attrs.get("units") or "" for v in variables}
        if len(shown) == 1 and "" not in shown:
            ax.set_ylabel(shown.pop())
        units = self.ds.attrs.get("time_units", "time")
        ax.set_xlabel(f"time ({units})" if units and units != "time" else "time")
        ax.legend(loc="best", fontsize="small")
        use_thousands(ax.yaxis)
        ax.set_title(f"{self.ds.attrs.get('model', '')}"
                     + (f" - {self.ds.attrs['scenario']}" if self.ds.attrs.get("scenario") else ""))
        return ax

    def __repr__(self) -> str:
        a = self.ds.attrs
        return (f"<Results {a.get('model', '')!r}: {len(self.variables)} variables, {self.ds.sizes.get('time', 0)} "
                f"times ({a.get('start')}..{a.get('stop')}), {self.runs} run(s), method {a.get('method')}"
                + (f", scenario {a['scenario']!r}" if a.get("scenario") else "") + ">")

    def _repr_html_(self) -> str:
        rows = []
        final = self.ds.isel(time=-1) if "time" in self.ds.dims and self.ds.sizes["time"] else self.ds
        for k in self.variables[:30]:
            v = final[k]
            vals = np.asarray(v.values, dtype=float).reshape(-1)
            shown = f"{vals[0]:.6g}" if vals.size == 1 else f"{np.median(vals):.6g} (median of {vals.size})"
            rows.append(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v.attrs.get('kind', '')))}</td>"
                        f"<td>{html.escape(str(v.attrs.get('units') or ''))}</td><td>{shown}</td></tr>")
        more = "" if len(self.variables) <= 30 else f"<p>... and {len(self.variables) - 30} more</p>"
        head = html.escape(repr(self))
        return (f"<div><p>{head}</p><table><thead><tr><th>variable</th><th>kind</th><th>units</th>"
                f"<th>final value</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"
                f"<p>conservation: largest relative residual {self.conservation_error():.2g}</p></div>")
