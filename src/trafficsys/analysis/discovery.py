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
    src = np.array([index[a] for a, _ in edges], dtype=np.int64)
    dst = np.array([index[b] for _, b in edges], dtype=np.int64)
    names = list(g.nodes)
    start_ids = [index[s] for s in starts if s in index]
    found: dict[tuple[str, ...], set[int]] = {}
    seen: dict[tuple[int, ...], tuple[str, ...]] = {}
    starts_arr = np.asarray(start_ids, dtype=np.int64)
    n = len(index)
    for r in runs:
        for t in times:
            s_t = absval[:, t, r]
            if not s_t.any():
                continue
            # each variable's outgoing links, strongest first (links that carried nothing are left out)
            live = np.flatnonzero(s_t > 0)
            order = live[np.lexsort((-s_t[live], src[live]))]
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.add.at(indptr, src[order] + 1, 1)
            np.cumsum(indptr, out=indptr)
            nbr = dst[order].astype(np.int64)
            w = s_t[order]
            for cycle in _search_all(indptr, nbr, w, starts_arr, n):
                key = tuple(cycle)
                if key not in seen:
                    seen[key] = rotate([names[i] for i in cycle])
                found.setdefault(seen[key], set()).add(int(t))
    return {c: sorted(ts) for c, ts in found.items()}


def _search_python(indptr, nbr, w, starts, n, out_nodes, out_len):  # noqa: C901 - one loop, kept flat
    """Strongest-path searches from every start (iterative depth-first, strongest links first).

    Writes the cycles found into ``out_nodes`` (concatenated) and their lengths into ``out_len``;
    returns ``(cycles, nodes written)``, or ``(-1, 0)`` when the buffers are too small.
    """
    ncyc = 0
    pos = 0
    best = np.zeros(n)
    on_path = np.zeros(n, dtype=np.bool_)
    path = np.empty(n, dtype=np.int64)
    strength = np.empty(n)
    cursor = np.empty(n, dtype=np.int64)
    for start in starts:
        best[:] = 0.0
        on_path[:] = False
        on_path[start] = True
        depth = 0
        path[0] = start
        strength[0] = 1.0
        cursor[0] = indptr[start]
        while depth >= 0:
            v = path[depth]
            k = cursor[depth]
            if k >= indptr[v + 1]:
                if v != start:
                    on_path[v] = False
                depth -= 1
                continue
            cursor[depth] = k + 1
            u = nbr[k]
            s = strength[depth] * w[k]
            if u == start:
                length = depth + 1
                if ncyc >= out_len.shape[0] or pos + length > out_nodes.shape[0]:
                    return -1, 0
                out_nodes[pos:pos + length] = path[:length]
                out_len[ncyc] = length
                ncyc += 1
                pos += length
                continue
            if on_path[u] or s <= best[u]:
                continue  # a repeated variable, or reached more strongly before: abandon this path
            best[u] = s
            on_path[u] = True
            depth += 1
            path[depth] = u
            strength[depth] = s
            cursor[depth] = indptr[u]
    return ncyc, pos


try:  # the same search compiled when numba is there (about fifty times faster)
    from numba import njit

    _search_compiled = njit(cache=True, nogil=True)(_search_python)
except ImportError:  # pragma: no cover - exercised where numba is missing
    _search_compiled = None  # type: ignore[assignment]


def _search_all(indptr, nbr, w, starts, n, compiled: bool | None = None) -> list[list[int]]:
    """Return the cycles found from every start at one time (lists of variable indices)."""
    run = _search_compiled if (compiled is not False and _search_compiled is not None) else _search_python
    size = max(64, 4 * len(nbr))
    while True:
        out_nodes = np.empty(size * 8, dtype=np.int64)
        out_len = np.empty(size, dtype=np.int64)
        ncyc, _ = run(indptr, nbr, w, starts, n, out_nodes, out_len)
        if ncyc >= 0:
            break
        size *= 4
    cycles, pos = [], 0
    for k in range(ncyc):
        length = int(out_len[k])
        cycles.append(out_nodes[pos:pos + length].tolist())
        pos += length
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
