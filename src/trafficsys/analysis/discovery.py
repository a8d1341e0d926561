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
measures how much of the stocks' changes runs through the found loops only, so
a partial set is never mistaken for all loops.

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

try:
    from numba import prange
except ImportError:  # pragma: no cover - exercised where numba is missing
    prange = range  # type: ignore[misc,assignment]

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
    scores = np.asarray(scores, dtype=float)
    times = range(scores.shape[1]) if times is None else times
    runs = range(scores.shape[2]) if runs is None else runs
    # only the columns searched (a long run saves thousands of times; the search looks at a few hundred)
    absval = scores[:, np.asarray(times, dtype=np.intp)][:, :, np.asarray(runs, dtype=np.intp)]
    np.abs(np.nan_to_num(absval, copy=False, nan=0.0, posinf=1e300, neginf=1e300), out=absval)
    index = {n: i for i, n in enumerate(g.nodes)}
    src = np.array([index[a] for a, _ in edges], dtype=np.int64)
    dst = np.array([index[b] for _, b in edges], dtype=np.int64)
    names = list(g.nodes)
    start_ids = [index[s] for s in starts if s in index]
    found: dict[tuple[str, ...], set[int]] = {}
    seen: dict[tuple[int, ...], tuple[str, ...]] = {}
    starts_arr = np.asarray(start_ids, dtype=np.int64)
    n = len(index)
    for ri in range(len(runs)):
        for ti, t in enumerate(times):
            s_t = absval[:, ti, ri]
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
                out_nodes[pos : pos + length] = path[:length]
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
        cycles.append(out_nodes[pos : pos + length].tolist())
        pos += length
    return cycles


def explained_share(
    g: nx.DiGraph,
    edges: Sequence[tuple[str, str]],
    scores: np.ndarray,
    found: Sequence[Sequence[str]],
    starts: Sequence[str],
    *,
    walks: int = 64,
    seed: int = 0,
    compiled: bool | None = None,
    standard_error: bool = False,
) -> tuple[np.ndarray, ...]:
    """Estimate the loop-score mass of the loops not found, and of all loops, without listing them.

    The relative score of a loop is its score over the sum of the absolute
    scores of *every* loop in its partition; after a search that sum is
    unknown, and so is the share of it that the found loops make up.  It is
    estimated by sampling loops (Rosenbluth sampling of self-avoiding walks):
    from a stock, a walk follows the links forward, each step choosing among
    the links to variables not yet on the walk (or back to the stock) with
    probability ``|link score| / M``, ``M`` the sum of those links' absolute
    scores, and stops when it comes back to the stock or meets a dead end.  Such a walk closes a given loop with a probability ``q``
    that is known along the way, so the loop's ``|score| / q`` is an unbiased
    estimate of the sum of ``|score|`` over all loops through the stock
    (weak loops are sampled rarely and count for more when they are); counting only
    walks that close a loop not in ``found`` estimates the mass missed.  Each
    loop is counted once, from the first of its stocks in ``starts``' order
    (the walk from a stock never enters a stock listed before it).

    When ``found`` holds every loop the missed mass is exactly 0; a withheld
    loop adds its score each time a walk closes it.  The estimate is
    reproducible for a given ``seed``; its error shrinks as ``1/sqrt(walks)``,
    but the sampling is uneven: a walk follows a loop of many links only
    with the product of its choices' probabilities, so long loops are rarely
    closed and a missed long loop is often not seen (the estimate of the
    missed mass is then too low, the share too high).

    Parameters
    ----------
    g
        The feedback graph.
    edges
        The links on which loops can lie (those within strongly connected
        components), in the order of the first axis of ``scores``.
    scores
        Link scores ``(edge, time, run)``.
    found
        The loops found, each a sequence of variables in causal order.
    starts
        The stocks (and hidden stocks): every loop holds one.
    walks, seed
        Walks per stock, time and run; the seed of the sampling (each time and
        run draws from its own stream, so the numbers do not depend on how
        many threads walk).
    standard_error
        Also return the standard error of ``missed`` (from the spread of the
        walks; it sees only the loops the walks closed, so it is too small
        where a rarely closed loop carries much mass).

    Returns
    -------
    tuple of numpy.ndarray
        ``(missed, total)``, each ``(start, time, run)``: the estimated sums of
        ``|loop score|`` over the loops not in ``found`` and over all loops,
        each loop under its first stock; ``(missed, total, missed_error)`` with
        ``standard_error``.
    """
    names = list(g.nodes)
    index = {n: i for i, n in enumerate(names)}
    n = len(names)
    edge_list = list(edges)
    E = len(edge_list)
    scores = np.asarray(scores, dtype=float)
    T, R = scores.shape[1], scores.shape[2]
    start_ids = np.array([index[s] for s in starts], dtype=np.int64)
    if E == 0 or not len(start_ids):
        z = np.zeros((len(start_ids), T, R))
        return (z, z.copy(), z.copy()) if standard_error else (z, z.copy())
    src = np.array([index[a] for a, _ in edge_list], dtype=np.int64)
    dst = np.array([index[b] for _, b in edge_list], dtype=np.int64)
    by_src = np.argsort(src, kind="stable")
    out_ptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(out_ptr, src + 1, 1)
    np.cumsum(out_ptr, out=out_ptr)
    rank = np.full(n, len(start_ids), dtype=np.int64)  # a stock's place in `starts`; other variables last
    rank[start_ids] = np.arange(len(start_ids))
    # a loop is its set of links: hash it by the sum of random keys of its links, small enough that a sum
    # over the longest loop (n links) cannot overflow 63 bits
    bits = 62 - int(np.ceil(np.log2(n + 1)))
    keys = np.random.default_rng(seed).integers(0, 2**bits, E, dtype=np.int64)
    position = {e: i for i, e in enumerate(edge_list)}
    hashes = []
    for cyc in found:
        c = list(cyc)
        links = list(zip(c, c[1:] + c[:1]))
        if all(lk in position for lk in links):
            hashes.append(int(sum(int(keys[position[lk]]) for lk in links)))
    known = np.unique(np.array(hashes, dtype=np.int64))
    # the scores as they are (no copy of an array that can be links x thousands of times): the walks
    # read row by_src[k] for the k-th link by source, and take its magnitude as they read it
    w = scores.reshape(E, T * R)
    run = _walks_compiled if (compiled is not False and _walks_compiled is not None) else _walks_python
    missed, total, square = run(
        out_ptr, dst[by_src], keys[by_src], by_src, w, known, start_ids, rank, int(walks), int(seed)
    )
    shape = (len(start_ids), T, R)
    if not standard_error:
        return missed.reshape(shape), total.reshape(shape)
    # the walks are independent draws: the spread of a walk's missed mass over sqrt(walks)
    spread = np.sqrt(np.maximum(square / walks - missed**2, 0.0) / max(walks - 1, 1))
    return missed.reshape(shape), total.reshape(shape), spread.reshape(shape)


def _walks_python(out_ptr, out_dst, out_key, out_row, w, known, starts, rank, walks, seed):  # noqa: C901
    """Rosenbluth walks from each start at every column of ``w``: (missed, total, missed's sum of squares).

    The ``k``-th link by source has its scores in row ``out_row[k]`` of ``w``; a score's weight is its
    magnitude, 0 for NaN and 1e300 for an infinite one.  Each column draws from its own seed
    (``seed`` and the column's index), so the columns are independent of one another and of the
    order, or the threads, in which they are walked.
    """
    n = out_ptr.shape[0] - 1
    S, C = starts.shape[0], w.shape[1]
    missed = np.zeros((S, C))
    total = np.zeros((S, C))
    square = np.zeros((S, C))
    blocks = min(C, 64)
    per = (C + blocks - 1) // max(blocks, 1)
    E = out_row.shape[0]
    for b in prange(blocks):
        on = np.zeros(n, dtype=np.bool_)
        path = np.empty(n + 1, dtype=np.int64)
        mag = np.empty(
            E
        )  # the column's weights, links by source: read many times by the walks, gathered once
        for c in range(b * per, min(C, (b + 1) * per)):
            for k in range(E):
                a = abs(w[out_row[k], c])
                mag[k] = 0.0 if a != a else (1e300 if a == np.inf else a)
            np.random.seed((seed * 1000003 + c) % 4294967296)
            for si in range(S):
                s = starts[si]
                for _ in range(walks):
                    depth = 0
                    path[0] = s
                    on[s] = True
                    weight = 1.0
                    h = 0
                    while True:  # at most n steps: each reaches a new variable or ends the walk
                        v = path[depth]
                        mass = 0.0
                        for k in range(out_ptr[v], out_ptr[v + 1]):
                            u = out_dst[k]
                            if u == s or (not on[u] and rank[u] > si):
                                mass += mag[k]
                        if mass <= 0.0:
                            break  # a dead end: this walk closes no loop (it counts as 0)
                        x = np.random.random() * mass
                        pick = -1
                        for k in range(out_ptr[v], out_ptr[v + 1]):
                            u = out_dst[k]
                            if (u == s or (not on[u] and rank[u] > si)) and mag[k] > 0.0:
                                pick = k
                                x -= mag[k]
                                if x < 0.0:
                                    break
                        weight *= mass  # |score| / probability of the step
                        h += out_key[pick]
                        u = out_dst[pick]
                        if (
                            u == s
                        ):  # back at the stock: a loop, counted by |score| / (probability of the walk)
                            total[si, c] += weight
                            i = np.searchsorted(known, h)
                            if i >= known.shape[0] or known[i] != h:
                                missed[si, c] += weight
                                square[si, c] += weight * weight
                            break
                        depth += 1
                        path[depth] = u
                        on[u] = True
                    for d in range(depth + 1):
                        on[path[d]] = False
    return missed / walks, total / walks, square


try:  # the walks compiled when numba is there, the columns shared among the cores
    from numba import njit as _njit

    _walks_compiled = _njit(cache=True, parallel=True)(_walks_python)
except ImportError:  # pragma: no cover - exercised where numba is missing
    _walks_compiled = None  # type: ignore[assignment]
