"""The result of loop dominance: :class:`LoopDominance` and the loops it scored (:class:`LoopInfo`).

The scores themselves are computed in :mod:`trafficsys.analysis.ltm` (the
Loops that Matter method; :func:`~trafficsys.analysis.loop_dominance` is the
front door); this module holds what a user reads from them: the dominant loop
per period, the shares of runs, the drivers over an ensemble, tables and
figures.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cld.loop_search import Loop
from ..errors import ModelError

__all__ = ["LoopInfo", "LoopDominance"]


@dataclass(frozen=True)
class LoopInfo:
    """A feedback loop as loop dominance scored it: the :class:`~trafficsys.cld.Loop` and its place in the scores.

    The loop itself is the causal-loop diagram's :class:`~trafficsys.cld.Loop`
    (same variables, read from the alphabetically first, same link signs and
    the same modeller's name), so ``str(info)`` reads as the diagram prints the
    loop whenever the id is the diagram's.

    Attributes
    ----------
    loop
        The loop: variables in causal order, link signs and delays, and the
        modeller's name (``[loops.<name>]`` in the model file) by the one
        named-loop rule of :mod:`trafficsys.cld.loop_search`.
    id
        The id the scores carry: the diagram's (``loop.id``) when the scores
        show the diagram's polarity, else a new one for the observed polarity.
    polarity
        Observed in the scores: ``"R"`` (reinforcing), ``"B"`` (balancing) or
        ``"U"`` (the sign of its score changes over time or across runs).
    partition
        Index of its cycle partition (see :attr:`LoopDominance.partitions`).
    competing
        False when the loop is alone in its partition: its relative score is
        ±1 by construction and says nothing about dominance.
    """

    loop: Loop
    id: str
    polarity: str
    partition: int
    competing: bool

    @property
    def variables(self) -> tuple[str, ...]:
        """Canonical names in causal order, starting at the alphabetically first."""
        return self.loop.variables

    @property
    def name(self) -> str:
        """The modeller's name for the loop, or ``""``."""
        return self.loop.name or ""

    @property
    def label(self) -> str:
        """The name if the modeller gave one, else the variables in order."""
        return self.name or " -> ".join(self.variables)

    @property
    def links(self) -> list[tuple[str, str]]:
        """The loop's links ``(source, target)`` in order."""
        return self.loop.links

    def __str__(self) -> str:
        label = f"{self.id} {self.name}" if self.name else self.id
        return f"{label}: " + " -> ".join((*self.variables, self.variables[0]))


class LoopDominance:
    """Link, loop and relative loop scores over time, for one run or an ensemble.

    Attributes
    ----------
    loops
        :class:`LoopInfo` for every scored loop, competing loops first.
    partitions
        The state variables of each cycle partition.
    link_scores
        ``xarray.DataArray`` (time, run, link) with link labels ``"a -> b"``.
    loop_scores
        ``xarray.DataArray`` (time, run, loop): products of link scores.
    relative
        ``xarray.DataArray`` (time, run, loop): loop scores over the sum of the
        absolute loop scores in the loop's partition, in ``[-1, 1]``.
    dominant
        ``xarray.DataArray`` (time, run, partition) of the dominant loop's id
        (``""`` when every loop of the partition scores 0).
    """

    #: how the loops were found: "all" (every loop listed), "strongest_path" (searched) or "given"
    method: str = "all"
    #: after a search: loop id -> the times at which it was found
    found_at: dict[str, list[float]] | None = None
    #: after a search: share of each partition's stock changes that runs through the found loops only
    #: (time, run, partition), at the times and in the runs searched (see
    #: :func:`trafficsys.analysis.discovery.explained_share`);
    #: ``attrs["recovered"]`` is the sampling's estimate of the found loops' activity over its known value
    #: (well below 1: the share is an upper bound), ``attrs["standard_error"]`` the median standard error
    #: of the share from the spread of the walks (it cannot see loops the walks never closed)
    explained: Any = None
    #: seconds spent: "discovery" (the search, with its link scores), "scoring", "explained" (the share)
    timings: dict[str, float] = {}  # noqa: RUF012 - replaced per result

    def __init__(self, loops, partitions, link_scores, loop_scores, relative, dominant_index):
        self.loops: list[LoopInfo] = loops
        self.partitions: list[tuple[str, ...]] = partitions
        self.link_scores = link_scores
        self.loop_scores = loop_scores
        self.relative = relative
        self._dom = dominant_index  # (partition, time, run): index into self.loops, -1 for none
        self._dominant = None
        self.sampled: dict[
            str, np.ndarray
        ] = {}  #: constants that vary across the runs (name -> value per run)
        self.omitted = 0  #: loops scored but not kept (see ``max_bytes`` in :func:`loop_dominance`)
        self.time_units = "time"  #: the model's time units (axis label of the figures)

    @property
    def dominant(self):
        import xarray as xr

        if self._dominant is None:
            ids = np.array([lp.id for lp in self.loops] + [""], dtype=str)
            self._dominant = xr.DataArray(
                ids[self._dom],
                dims=("partition", "time", "run"),
                coords={
                    "partition": np.arange(len(self.partitions)),
                    "time": self.relative["time"].values,
                    "run": self.relative["run"].values,
                },
            ).transpose("time", "run", "partition")
        return self._dominant

    def _dominates(self, k: int) -> np.ndarray:
        """Boolean (time, run): where loop ``k`` dominates its partition."""
        return self._dom[self.loops[k].partition] == k

    # -------------------------------------------------------------- lookups
    def __getitem__(self, loop_id: str) -> LoopInfo:
        for lp in self.loops:
            if lp.id == loop_id:
                return lp
        raise KeyError(f"no loop {loop_id!r}; loops: {', '.join(lp.id for lp in self.loops)}")

    @property
    def time(self) -> np.ndarray:
        return self.relative["time"].values

    @property
    def competing(self) -> list[LoopInfo]:
        """Loops that share their partition with other loops (the ones dominance is about)."""
        return [lp for lp in self.loops if lp.competing]

    # -------------------------------------------------------------- tables
    def to_pandas(self, run: int | None = None):
        """Tidy table: one row per (time, run, loop) with polarity, score, relative score, dominant flag."""
        import pandas as pd

        rel = self.relative if run is None else self.relative.isel(run=[run])
        sc = self.loop_scores if run is None else self.loop_scores.isel(run=[run])
        frames = []
        for k, lp in enumerate(self.loops):
            d = self._dominates(k) if run is None else self._dominates(k)[:, [run]]
            t, r = np.meshgrid(rel["time"].values, rel["run"].values, indexing="ij")
            frames.append(
                pd.DataFrame(
                    {
                        "time": t.ravel(),
                        "run": r.ravel(),
                        "loop": lp.id,
                        "polarity": lp.polarity,
                        "partition": lp.partition,
                        "competing": lp.competing,
                        "score": sc.values[:, :, k].ravel(),
                        "relative": rel.values[:, :, k].ravel(),
                        "dominant": d.ravel(),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True).sort_values(
            ["run", "time", "partition", "loop"], ignore_index=True
        )

    def to_xarray(self):
        """Return the scores as one ``xarray.Dataset``."""
        import xarray as xr

        return xr.Dataset(
            {
                "link_score": self.link_scores,
                "loop_score": self.loop_scores,
                "relative": self.relative,
                "dominant": self.dominant,
            }
        )

    def ranking(self):
        """Loops ranked: competing loops by mean absolute relative score, then loops alone in their partition."""
        import pandas as pd

        mean_abs = np.abs(self.relative).mean(dim=("time", "run")).values
        rows = [
            {
                "loop": lp.id,
                "polarity": lp.polarity,
                "partition": lp.partition,
                "competing": lp.competing,
                "mean_abs_relative": float(mean_abs[k]),
                "share_dominant": float(self._dominates(k).mean()),
                "name": lp.name,
                "variables": " -> ".join(lp.variables),
            }
            for k, lp in enumerate(self.loops)
        ]
        df = pd.DataFrame(rows)
        return df.sort_values(["competing", "mean_abs_relative"], ascending=[False, False], ignore_index=True)

    def intervals(self, run: int = 0, *, include_alone: bool = False):
        """Periods during which one loop dominates its partition, for one run.

        Returns a DataFrame with columns ``partition, start, end, loop,
        polarity, mean_relative``; partitions whose single loop trivially
        dominates are left out unless ``include_alone``.
        """
        import pandas as pd

        t = self.time
        rows = []
        for p in range(len(self.partitions)):
            members = [k for k, lp in enumerate(self.loops) if lp.partition == p]
            if not members or (len(members) == 1 and not include_alone):
                continue
            dom = self._dom[p, :, run]
            start = 0
            for i in range(1, len(t) + 1):
                if i == len(t) or dom[i] != dom[start]:
                    if dom[start] >= 0:
                        k = int(dom[start])
                        rows.append(
                            {
                                "partition": p,
                                "start": float(t[start]),
                                "end": float(t[i - 1]),
                                "loop": self.loops[k].id,
                                "polarity": self.loops[k].polarity,
                                "mean_relative": float(self.relative.values[start:i, run, k].mean()),
                            }
                        )
                    start = i
        return pd.DataFrame(rows, columns=["partition", "start", "end", "loop", "polarity", "mean_relative"])

    def periods(self, run: int = 0, window: float | None = None, *, include_alone: bool = False):
        """Return the dominant loop per time window for one run, consecutive windows with the same loop merged.

        Unlike :meth:`intervals` (step by step), absolute relative scores are
        averaged over each window first, so short flickers near dominance
        shifts do not split the story.  ``window=None``: 1/20 of the run.

        Returns
        -------
        pandas.DataFrame
            Columns ``partition, start, end, loop, polarity, mean_relative, name``.
        """
        import pandas as pd

        t = self.time
        bins = self._bins(window)
        rows = []
        for p in range(len(self.partitions)):
            members = [k for k, lp in enumerate(self.loops) if lp.partition == p]
            if not members or (len(members) == 1 and not include_alone):
                continue
            rel = self.relative.values[:, run, :][:, members]
            prev = None
            for b in np.unique(bins):
                sel = bins == b
                avg = np.abs(rel[sel]).mean(axis=0)
                if avg.max() <= 0:
                    prev = None
                    continue
                j = int(np.argmax(avg))
                k = members[j]
                start, end = float(t[sel][0]), float(t[sel][-1])
                if prev is not None and prev["loop"] == self.loops[k].id:
                    prev["end"] = end
                    prev["_sum"] += rel[sel, j].sum()
                    prev["_n"] += int(sel.sum())
                else:
                    prev = {
                        "partition": p,
                        "start": start,
                        "end": end,
                        "loop": self.loops[k].id,
                        "polarity": self.loops[k].polarity,
                        "_sum": rel[sel, j].sum(),
                        "_n": int(sel.sum()),
                        "name": self.loops[k].label,
                    }
                    rows.append(prev)
        for r in rows:
            r["mean_relative"] = float(r.pop("_sum") / r.pop("_n"))
        return pd.DataFrame(
            rows, columns=["partition", "start", "end", "loop", "polarity", "mean_relative", "name"]
        )

    def _bins(self, window: float | None) -> np.ndarray:
        t = self.time
        if window is None:
            window = (t[-1] - t[0]) / 20 if len(t) > 1 else 1.0
        if (
            isinstance(window, bool)
            or not isinstance(window, (int, float, np.integer, np.floating))
            or not np.isfinite(window)
            or window < 0
        ):
            raise ModelError(f"window must be a finite time span >= 0 (0: every saved step), got {window!r}")
        if not window:
            return np.arange(len(t))
        bins = np.floor((t - t[0]) / window + 1e-9).astype(int)
        last_full = max(int(np.ceil((t[-1] - t[0]) / window - 1e-9)) - 1, 0)
        return np.minimum(bins, last_full)  # the final time joins the last window

    def shares(self, window: float | None = None, *, include_alone: bool = False):
        """Share of runs in which each loop dominates, per time window.

        Parameters
        ----------
        window
            Width of the time windows.  Absolute relative scores are averaged
            over each window before the dominant loop is picked, so the shares
            do not flicker from step to step.  ``None``: 20 windows over the
            run; ``0``: every saved time.
        include_alone
            Also report loops alone in their partition (always share 1).

        Returns
        -------
        pandas.DataFrame
            Index: window start time; columns: loop ids; values in ``[0, 1]``.
        """
        import pandas as pd

        t = self.time
        bins = self._bins(window)
        starts = [float(t[bins == b][0]) for b in np.unique(bins)]
        absrel = np.abs(self.relative.values)
        out = {}
        for p in range(len(self.partitions)):
            members = [k for k, lp in enumerate(self.loops) if lp.partition == p]
            if not members or (len(members) == 1 and not include_alone):
                continue
            avg = np.stack([absrel[bins == b][:, :, members].mean(axis=0) for b in np.unique(bins)])
            winner = np.argmax(avg, axis=2)
            active = avg.max(axis=2) > 0
            for j, k in enumerate(members):
                out[self.loops[k].id] = ((winner == j) & active).mean(axis=1)
        return pd.DataFrame(out, index=pd.Index(starts, name="time"))

    def dominance_fraction(self):
        """Per run, the fraction of saved times each competing loop dominates: DataFrame (run x loop)."""
        import pandas as pd

        data = {}
        for k, lp in enumerate(self.loops):
            if not lp.competing:
                continue
            dom = self._dominates(k)
            data[lp.id] = dom[1:].mean(axis=0) if dom.shape[0] > 1 else dom.mean(axis=0)
        return pd.DataFrame(data, index=pd.Index(self.relative["run"].values, name="run"))

    def drivers(self, params: Mapping[str, Iterable[float]] | None = None):
        """Which uncertain constants make a loop dominate, over an ensemble.

        Spearman rank correlation, across runs, between each constant's sampled
        value (``params``: name -> one value per run; default: the constants
        that vary across the runs of the results, e.g. a Monte Carlo sample)
        and the fraction of time each competing loop dominates.

        Returns
        -------
        pandas.DataFrame
            Rows: constants; columns: loop ids; NaN where a column is constant.
        """
        import pandas as pd
        from scipy.stats import rankdata

        frac = self.dominance_fraction()
        if params is None:
            params = self.sampled
            if not params:
                raise ModelError("no constant varies across these runs; pass params={name: values per run}")
        names = list(params)
        X = np.empty((len(frac), len(names)))
        for j, name in enumerate(names):
            vals = params[name]
            v = np.asarray(list(vals) if not isinstance(vals, np.ndarray) else vals, dtype=float)
            if v.shape != (len(frac),):
                raise ModelError(
                    f"params[{name!r}] has {v.size} values for {len(frac)} runs; give one per run"
                )
            X[:, j] = v

        # Spearman's coefficient is Pearson's on the (average) ranks: every pair in one matrix product
        def standard(ranks: np.ndarray) -> np.ndarray:
            dev = ranks - ranks.mean(axis=0)
            norm = np.sqrt((dev**2).sum(axis=0))
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(norm > 0, dev / np.where(norm > 0, norm, 1.0), np.nan)

        Y = frac.to_numpy(dtype=float)
        corr = (
            standard(rankdata(X, axis=0)).T @ standard(rankdata(Y, axis=0))
            if len(frac)
            else np.full((len(names), Y.shape[1]), np.nan)
        )
        corr = np.clip(corr, -1.0, 1.0)
        flat = (np.ptp(X, axis=0)[:, None] == 0) | (np.ptp(Y, axis=0)[None, :] == 0) if len(frac) else True
        return pd.DataFrame(np.where(flat, np.nan, corr), index=names, columns=frac.columns)

    def plot(self, ax=None, *, run: int = 0, partition: int | None = None, top: int = 6):
        """Stacked relative loop scores over time (see :func:`trafficsys.plot.dominance.plot_dominance`)."""
        from ..plot.dominance import plot_dominance

        return plot_dominance(self, ax=ax, run=run, partition=partition, top=top)

    def plot_shares(self, ax=None, *, window: float | None = None, top: int = 8):
        """Share of runs each loop dominates (see :func:`trafficsys.plot.dominance.plot_dominance_shares`)."""
        from ..plot.dominance import plot_dominance_shares

        return plot_dominance_shares(self, ax=ax, window=window, top=top)

    def __repr__(self) -> str:
        how = ""
        if self.method == "strongest_path" and self.explained is not None:
            mid = round(100 * float(np.median(self.explained)))
            bound = " at most" if float(self.explained.attrs.get("recovered", 1.0)) < 0.5 else ""
            how = (
                f", found by strongest-path search (they explain{bound} {mid}% of the loop activity, "
                f"median over the times searched)"
            )
        return (
            f"<LoopDominance: {len(self.loops)} loops ({len(self.competing)} competing) in "
            f"{len(self.partitions)} partitions, {self.relative.sizes['time']} times x "
            f"{self.relative.sizes['run']} runs{how}>"
        )

    def _repr_html_(self) -> str:
        ranking = self.ranking()
        more = (
            f"<p>... and {len(ranking) - 20} more loops (<code>.ranking()</code>)</p>"
            if len(ranking) > 20
            else ""
        )
        return (
            f"<p>{html.escape(repr(self))}</p>"
            + ranking.head(20).to_html(index=False)
            + more
            + "<p>Everything: <code>.ranking()</code>, <code>.periods()</code>, <code>.to_pandas()</code> "
            "(time x loop), <code>.shares()</code> for an ensemble; figures: <code>.plot()</code>, "
            "<code>.plot_shares()</code>.</p>"
        )

    def dominant_set(self, time: float, run: int = 0, *, threshold: float = 0.5) -> dict[int, list[str]]:
        """Return the dominant loop *set* of each competing partition at a time (Schoenberg et al. 2020, section 2).

        The fewest loops, strongest first, whose absolute relative scores add
        up to at least ``threshold`` (half of the partition's behaviour by
        default) at the saved time nearest ``time``.

        Returns
        -------
        dict
            Partition index -> loop ids (empty when nothing changes then).
        """
        i = int(np.argmin(np.abs(self.time - time)))
        out: dict[int, list[str]] = {}
        for p in range(len(self.partitions)):
            members = [k for k, lp in enumerate(self.loops) if lp.partition == p and lp.competing]
            if not members:
                continue
            scores = np.abs(self.relative.values[i, run, members])
            chosen, total = [], 0.0
            for j in np.argsort(-scores, kind="stable"):
                if total >= threshold or scores[j] == 0:
                    break
                chosen.append(self.loops[members[j]].id)
                total += scores[j]
            out[p] = chosen
        return out
