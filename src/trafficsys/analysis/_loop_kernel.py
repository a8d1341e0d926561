"""Loop scores of every loop at every (time, run) column in one compiled pass (numba).

The loops of a model share long stretches of links: loops found by Johnson's
algorithm from the same start share their first links.  The loops are put in a
prefix tree of their link sequences (a node per distinct prefix), so that a
column's log loop scores cost one addition per tree node rather than one per
link of every loop (for the reference model 19,842 nodes against 107,409
links).  Each column is scored independently, in parallel; nothing of size
loops x columns is built in pass 1, which keeps only the statistics the
result needs, and pass 2 writes the series of the loops kept.

The numbers are those of :class:`~trafficsys.analysis.ltm._LoopScorer` (the
numpy path, used where numba cannot be imported) up to the order in which
the logarithms are added (relative differences around 1e-15).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["TrieScorer", "available"]

_ZERO_LOG = -1e6
_LOG_MAX = float(np.log(1e300))

try:  # numba is optional at run time: without it, the numpy scorer serves
    from numba import get_num_threads, njit, prange
except ImportError:  # pragma: no cover - exercised where numba is missing
    njit = None


def available() -> bool:
    """Return True when numba can be imported (the compiled scorer can serve)."""
    return njit is not None


if njit is not None:

    @njit(cache=True, nogil=True)
    def _column(logl, negl, c, parent, edge, val, par):
        for j in range(parent.shape[0]):
            e = edge[j]
            p = parent[j]
            if p < 0:
                val[j] = logl[c, e]
                par[j] = negl[c, e]
            else:
                val[j] = val[p] + logl[c, e]
                par[j] = par[p] ^ negl[c, e]

    @njit(parallel=True, cache=True)
    def _statistics(logl, negl, parent, edge, term, starts, nblocks):  # pragma: no cover - compiled
        C = logl.shape[0]
        N = parent.shape[0]
        L = term.shape[0]
        P = starts.shape[0] - 1
        top = np.empty((P, C))
        total = np.ones((P, C))
        dom = np.empty((P, C), dtype=np.int32)
        pos = np.zeros((nblocks, L), dtype=np.bool_)
        neg = np.zeros((nblocks, L), dtype=np.bool_)
        sabs = np.zeros((nblocks, L))
        mabs = np.zeros((nblocks, L))
        per = (C + nblocks - 1) // nblocks
        for b in prange(nblocks):
            val = np.empty(N)
            par = np.empty(N, dtype=np.uint8)
            ex = np.empty(L)
            for c in range(b * per, min(C, (b + 1) * per)):
                _column(logl, negl, c, parent, edge, val, par)
                for p in range(P):
                    t = -np.inf
                    best = -1
                    for k in range(starts[p], starts[p + 1]):
                        v = val[term[k]]
                        if v > t:
                            t = v
                            best = k
                    top[p, c] = t
                    if not t > _ZERO_LOG / 2:  # every loop of the partition scores 0
                        dom[p, c] = -1
                        continue
                    dom[p, c] = best
                    s = 0.0
                    for k in range(starts[p], starts[p + 1]):
                        ex[k] = np.exp(val[term[k]] - t)
                        s += ex[k]
                    total[p, c] = s
                    for k in range(starts[p], starts[p + 1]):
                        r = ex[k] / s
                        sabs[b, k] += r
                        if r > mabs[b, k]:
                            mabs[b, k] = r
                        if val[term[k]] > _ZERO_LOG / 2:
                            if par[term[k]]:
                                neg[b, k] = True
                            else:
                                pos[b, k] = True
        return top, total, dom, pos, neg, sabs, mabs

    @njit(parallel=True, cache=True)
    def _series(logl, negl, parent, edge, term, part, top, total, rows, nblocks):  # pragma: no cover
        C = logl.shape[0]
        N = parent.shape[0]
        K = rows.shape[0]
        scores = np.empty((C, K))
        rel = np.empty((C, K))
        per = (C + nblocks - 1) // nblocks
        for b in prange(nblocks):
            val = np.empty(N)
            par = np.empty(N, dtype=np.uint8)
            for c in range(b * per, min(C, (b + 1) * per)):
                _column(logl, negl, c, parent, edge, val, par)
                for i in range(K):
                    k = rows[i]
                    v = val[term[k]]
                    sign = -1.0 if par[term[k]] else 1.0
                    scores[c, i] = sign * np.exp(min(v, _LOG_MAX))
                    t = top[part[k], c]
                    rel[c, i] = sign * np.exp(v - t) / total[part[k], c] if t > _ZERO_LOG / 2 else 0.0
        return scores, rel


class TrieScorer:
    """Pass 1 (statistics) and pass 2 (series) of loop scores, compiled; the interface of the numpy scorer."""

    def __init__(
        self,
        links: np.ndarray,
        loop_edges: Sequence[Sequence[int]],
        groups: Mapping[int, list[int]],
        npart: int,
    ):
        L = len(loop_edges)
        order = [k for members in groups.values() for k in members]  # partitions side by side
        self.where = np.empty(L, dtype=np.intp)
        self.where[np.asarray(order, dtype=np.intp)] = np.arange(L)
        starts = [0]
        for members in groups.values():
            starts.append(starts[-1] + len(members))
        self.starts = np.asarray(starts, dtype=np.int64)
        self.groups = list(groups)
        # the prefix tree of the loops' link sequences; a parent is always numbered before its children
        nodes: dict[tuple[int, int], int] = {}
        parent: list[int] = []
        edge: list[int] = []
        term = np.empty(L, dtype=np.int64)
        for i, k in enumerate(order):
            at = -1
            for e in loop_edges[k]:
                nxt = nodes.get((at, e))
                if nxt is None:
                    nxt = nodes[(at, e)] = len(parent)
                    parent.append(at)
                    edge.append(e)
                at = nxt
            term[i] = at
        self.parent = np.asarray(parent, dtype=np.int64)
        self.edge = np.asarray(edge, dtype=np.int64)
        self.term = term
        a = np.abs(links.T)
        self.log = np.full_like(a, _ZERO_LOG)
        np.log(a, out=self.log, where=a > 0)
        self.neg = np.ascontiguousarray(links.T < 0, dtype=np.uint8)
        self.nblocks = max(1, min(self.log.shape[0], 4 * get_num_threads()))
        self.npart = npart

    def statistics(self) -> tuple[np.ndarray, ...]:
        """Per loop positive?, negative?, sum and max of |relative score|; dominant loop per partition and column."""
        top, total, dom, pos, neg, sabs, mabs = _statistics(
            self.log, self.neg, self.parent, self.edge, self.term, self.starts, self.nblocks
        )
        self.top, self.total = top, total
        order = np.empty_like(self.where)
        order[self.where] = np.arange(len(self.where))
        dom = np.where(dom >= 0, order[np.maximum(dom, 0)], -1).astype(np.int32)
        full = np.full((self.npart, dom.shape[1]), -1, dtype=np.int32)
        full[self.groups] = dom
        return (
            pos.any(axis=0)[self.where],
            neg.any(axis=0)[self.where],
            sabs.sum(axis=0)[self.where],
            mabs.max(axis=0)[self.where],
            full,
        )

    def series(self, loops: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Scores and relative scores (column, loop) of ``loops`` (the loops' own indices), after :meth:`statistics`."""
        rows = self.where[np.asarray(loops, dtype=np.intp)]
        part = (np.searchsorted(self.starts, rows, side="right") - 1).astype(np.int64)
        # only the tree nodes on the way to these loops (numbered in the same order: parents first)
        need = np.zeros(len(self.parent), dtype=bool)
        for node in self.term[rows]:
            while node >= 0 and not need[node]:
                need[node] = True
                node = self.parent[node]
        new = np.cumsum(need) - 1
        parent = np.where(self.parent[need] >= 0, new[np.maximum(self.parent[need], 0)], -1).astype(np.int64)
        term = new[self.term[rows]].astype(np.int64)
        return _series(
            self.log,
            self.neg,
            parent,
            self.edge[need],
            term,
            part,
            self.top,
            self.total,
            np.arange(len(rows), dtype=np.int64),
            self.nblocks,
        )
