"""Finding the loops that matter without listing every loop: the strongest-path search.

A model with a few dozen stocks can have millions of feedback loops; scoring
them all is out of reach, and most never matter.  Eberlein & Schoenberg (2020)
find the loops that matter from the *link scores* of a run instead: at a time,
start at a stock and walk along the links with the largest absolute scores
first, remembering for every variable the strongest path score with which it
has been reached; a path that reaches a variable more weakly than before is
abandoned, and a path that comes back to the stock closes a loop.  Repeating
the search from every stock at many times gives the loops that are strongest
at some time, without enumerating the others.

The search is a heuristic: a loop is certain to be found when it is the
strongest loop through one of its stocks and no stronger path is blocked by
the simple-path rule; it is not guaranteed in general.  :func:`explained_share`
measures how much of the stocks' changes the found loops carry, so a partial
set is never mistaken for all loops.

References
----------
Eberlein, R. L., Schoenberg, W. (2020). Finding the loops that matter.
Proceedings of the 38th International Conference of the System Dynamics
Society, Bergen. https://proceedings.systemdynamics.org/2020/papers/P1241.pdf
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import networkx as nx
import numpy as np

__all__ = ["strongest_path_loops", "sample_indices", "explained_share"]


def sample_indices(n: int, limit: int) -> np.ndarray:
    """``limit`` evenly spaced indices of ``range(n)`` (all of them when ``n <= limit``)."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def strongest_path_loops(
    g: nx.DiGraph,
    edges: Sequence[tuple[str, str]],
    scores: np.ndarray,
    starts: Sequence[str],
    *,
    times: Sequence[int] | None = None,
    runs: Sequence[int] | None = None,
    rotate: Callable[[Sequence[str]], tuple[str, ...]] | None = None,
) -> dict[tuple[str, ...], list[int]]:
    """Loops found by the strongest-path search at the given times and runs.

    Parameters
    ----------
    g
        The feedback graph (only ``edges`` are walked).
    edges
        The links that can lie on loops, in the order of the first axis of ``scores``.
    scores
        Link scores ``(edge, time, run)``; their absolute values rank the links.
    starts
        The variables searched from (the stocks and hidden stocks: every loop holds one).
    times, runs
        Indices along the time and run axes to search at (default: all).
    rotate
        Puts a cycle in its canonical rotation (default: as found, starting at its start).

    Returns
    -------
    dict
        Each loop found (a tuple of variables in causal order) -> the sorted time
        indices at which it was found (in any of the runs).
    """
    rotate = rotate or tuple
    absval = np.abs(np.nan_to_num(np.asarray(scores, dtype=float), nan=0.0, posinf=1e300, neginf=1e300))
    times = range(absval.shape[1]) if times is None else times
    runs = range(absval.shape[2]) if runs is None else runs
    index = {n: i for i, n in enumerate(g.nodes)}
    src = np.array([index[a] for a, _ in edges], dtype=int)
    dst = np.array([index[b] for _, b in edges], dtype=int)
    by_source: list[np.ndarray] = [np.flatnonzero(src == i) for i in range(len(index))]
    # (a time's links are sorted once; the searches from every start share them)
    names = list(g.nodes)
    start_ids = [index[s] for s in starts if s in index]
    found: dict[tuple[str, ...], set[int]] = {}
    seen: dict[tuple[int, ...], tuple[str, ...]] = {}
    for r in runs:
        for t in times:
            s_t = absval[:, t, r]
            if not s_t.any():
                continue
            # each variable's outgoing links, strongest first (links that carried nothing are skipped)
            adj: list[list[tuple[int, float]]] = []
            for ids in by_source:
                keep = ids[s_t[ids] > 0]
                keep = keep[np.argsort(-s_t[keep], kind="stable")]
                adj.append(list(zip(dst[keep].tolist(), s_t[keep].tolist())))
            for start in start_ids:
                for cycle in _search(start, adj, len(index)):
                    key = tuple(cycle)
                    if key not in seen:
                        seen[key] = rotate([names[i] for i in cycle])
                    found.setdefault(seen[key], set()).add(int(t))
    return {c: sorted(ts) for c, ts in found.items()}


def _search(start: int, adj: list[list[tuple[int, float]]], n: int) -> list[list[int]]:
    """One strongest-path search from ``start`` (iterative depth-first, strongest links first)."""
    best = [0.0] * n
    on_path = [False] * n
    on_path[start] = True
    path = [start]
    strength = [1.0]
    cursor = [0]
    cycles = []
    while path:
        v = path[-1]
        links = adj[v]
        k = cursor[-1]
        if k >= len(links):
            if v != start:
                on_path[v] = False
            path.pop()
            strength.pop()
            cursor.pop()
            continue
        cursor[-1] = k + 1
        w, score = links[k]
        s = strength[-1] * score
        if w == start:
            cycles.append(list(path))
            continue
        if on_path[w] or s <= best[w]:
            continue  # a repeated variable, or reached more strongly before: abandon this path
        best[w] = s
        on_path[w] = True
        path.append(w)
        strength.append(s)
        cursor.append(0)
    return cycles


def explained_share(
    flow_links: Sequence[tuple[int, str]],
    link_scores: np.ndarray,
    covered: Sequence[bool],
) -> np.ndarray:
    """Share of the stocks' changes that flows on a found loop carry, per time and run.

    Parameters
    ----------
    flow_links
        For every link from a flow into a stock that lies on some feedback loop,
        ``(partition index, stock)``.
    link_scores
        Their link scores ``(link, time, run)`` (a flow-to-stock score is the
        flow's share of the stock's net change).
    covered
        For each such link, whether some found loop runs through it.

    Returns
    -------
    numpy.ndarray
        ``(partition, time, run)``: the sum of ``|score|`` over covered links
        divided by the sum over all of them (1 where no flow changes).
    """
    parts = sorted({p for p, _ in flow_links})
    a = np.abs(np.asarray(link_scores, dtype=float))
    cov = np.asarray(covered, dtype=bool)
    out = np.ones((max(parts, default=-1) + 1, *a.shape[1:]))
    for p in parts:
        mine = np.array([q == p for q, _ in flow_links])
        total = a[mine].sum(axis=0)
        part = a[mine & cov].sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[p] = np.where(total > 0, part / np.where(total > 0, total, 1.0), 1.0)
    return out
