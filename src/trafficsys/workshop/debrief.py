"""The debrief: every team's run beside the reference strategies, the loops that dominated, the blocks found.

Runs (team runs and the reference strategies' runs over the same rounds) are
ready at once.  The analyses take longer: loop dominance pays for deriving and
enumerating the model's loops once per call (seconds on the reference model),
so the runs of a session are scored together, a few at a time, as one
ensemble; ``ts.find_blocks`` takes tens of seconds a run whatever the sample
size.  An :class:`Analyst` thread computes them in the background once a
session ends and keeps each in the state file; the debrief shows what is
ready and says what is still being computed.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ..engine import simulate
from ..errors import ModelError
from .game import Game, team_scenario

__all__ = [
    "Analyst",
    "debrief",
    "dominance_summary",
    "dominance_summaries",
    "blocks_summary",
    "reference_series",
]

#: periods of dominance and blocks shown per run
_TOP_BLOCKS = 5


#: runs scored together in one loop-dominance ensemble (bounds its memory: loops x times x runs)
DOMINANCE_BATCH = 8


def dominance_summary(model: Any, results: Any, window: float | None = None) -> dict[str, Any]:
    """Summarise which loops dominated a run (see :func:`dominance_summaries`)."""
    return dominance_summaries(model, [results], window)[0]


def dominance_summaries(model: Any, runs: Sequence[Any], window: float | None = None) -> list[dict[str, Any]]:
    """Summarise which loops dominated each of several single runs on the same times.

    For each run: the dominant loop per window (``window`` wide: the workshop
    uses its years per round), and each named loop's rank among all the run's
    loops by mean absolute relative score (competing loops first, as
    ``LoopDominance.ranking``), that score, and the share of time it
    dominates.  The runs are scored as one ensemble, so the model's loops are
    derived once; each run's numbers are its own.
    """
    import numpy as np
    import xarray as xr

    from ..analysis import loop_dominance
    from ..engine import Results

    if not runs:
        return []
    times = runs[0].time
    if any(len(r.time) != len(times) or not np.array_equal(r.time, times) for r in runs):
        raise ModelError("dominance_summaries needs runs saved at the same times")
    ds = xr.concat([r.to_xarray().isel(run=[0]) for r in runs], dim="run", join="exact", data_vars="all")
    ds = ds.assign_coords(run=np.arange(len(runs)))
    dom = loop_dominance(model, Results(ds, model))
    rel = np.abs(dom.relative.values)  # (time, run, loop)
    dominant = dom.dominant.values  # (time, run, partition): loop ids
    out = []
    for i in range(len(runs)):
        strength = rel[:, i, :].mean(axis=0)
        order = sorted(range(len(dom.loops)), key=lambda k: (not dom.loops[k].competing, -strength[k]))
        rank = {k: pos + 1 for pos, k in enumerate(order)}
        named = {}
        for k, lp in enumerate(dom.loops):
            if lp.name:
                named[lp.name] = {
                    "loop": lp.id,
                    "polarity": lp.polarity,
                    "rank": rank[k],
                    "strength": float(strength[k]),
                    "dominant": float((dominant[:, i, lp.partition] == lp.id).mean()),
                }
        periods = [
            {
                "start": float(p.start),
                "end": float(p.end),
                "loop": p.loop,
                "polarity": p.polarity,
                "name": _loop_label(model, p.name),
                "variables": p.name,
            }
            for p in dom.periods(run=i, window=window).itertuples()
        ]
        out.append({"status": "done", "loops": len(dom.loops), "periods": periods, "named": named})
    return out


def _loop_label(model: Any, label: str) -> str:
    """Return the model's name for a loop when it has one, else its variables, shortened for a table."""
    if label in model.loops:
        return label
    parts = [x.strip() for x in label.split("->")]
    return label if len(parts) <= 4 else " -> ".join(parts[:2] + ["..."] + parts[-1:])


def blocks_summary(model: Any, target: str, scenario: Any, n: int, seed: int) -> dict[str, Any]:
    """Find the most severe systemic blocks to ``target`` under a scenario (``ts.find_blocks``)."""
    from ..analysis import find_blocks

    rep = find_blocks(model, target, scenario=scenario, n=n, seed=seed)
    return {
        "status": "done",
        "target": target,
        "runs": n,
        "seed": seed,
        "count": len(rep.blocks),
        "blocks": [
            {
                "kind": b.kind,
                "title": b.title,
                "severity": float(b.severity),
                "prevalence": float(b.prevalence),
                "confidence": float(b.confidence),
                "variables": list(b.variables)[:6],
                "explanation": b.explanation,
            }
            for b in rep.blocks[:_TOP_BLOCKS]
        ],
    }


def reference_series(game: Game, strategy: str, end: float) -> dict[str, list[float]]:
    """Simulate a reference strategy and return its indicator series up to time ``end``."""
    r = _reference_results(game, strategy)
    keep = r.time <= end + 1e-9
    out = {"time": [float(t) for t in r.time[keep]]}
    for ind in game.workshop.indicators:
        out[ind.name] = [float(v) for v in r[ind.name].values[keep, 0]]
    return out


_REFERENCE_RUNS: dict[tuple[str, str], Any] = {}


def _reference_results(game: Game, strategy: str) -> Any:
    key = (game.model_digest, strategy)
    if key not in _REFERENCE_RUNS:
        _REFERENCE_RUNS[key] = simulate(game.model, scenario=strategy)
    return _REFERENCE_RUNS[key]


class Analyst:
    """One background thread computing debrief analyses and keeping them in the store."""

    def __init__(self, game: Game, *, blocks: bool = True):
        self.game = game
        self.blocks = blocks and game.workshop.blocks_target is not None
        self._queue: queue.Queue = queue.Queue()
        self._pending: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="workshop-analyst", daemon=True)
        self._thread.start()

    def status(
        self, items: Sequence[tuple[str, str, str]], job: Callable[[], list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Return the stored result of each ``(scope, run, kind)``; queue ``job`` for those missing.

        ``job`` computes the results of all ``items`` (one payload each, in
        order); it is queued once while any of them is missing.
        """
        got = [self.game.store.analysis(*key) for key in items]
        missing = tuple(key for key, g in zip(items, got) if g is None)
        if missing:
            with self._lock:
                if not any(key in self._pending for key in missing):
                    self._pending.update(missing)
                    self._queue.put((tuple(items), job))
        return [g if g is not None else {"status": "pending"} for g in got]

    def idle(self) -> bool:
        with self._lock:
            return not self._pending

    def _work(self) -> None:
        while True:
            keys, job = self._queue.get()
            try:
                payloads = job()
            except ModelError as e:
                payloads = [{"status": "failed", "error": str(e)}] * len(keys)
            except Exception as e:  # a bug: keep serving, say so in the debrief
                traceback.print_exc()
                payloads = [{"status": "failed", "error": f"internal error: {type(e).__name__}: {e}"}] * len(
                    keys
                )
            try:
                for (scope, run, kind), payload in zip(keys, payloads):
                    self.game.store.put_analysis(scope, run, kind, payload)
            finally:
                with self._lock:
                    self._pending.difference_update(keys)


def debrief(game: Game, analyst: Analyst | None, sid: Any) -> dict[str, Any]:
    """Assemble the debrief data of a session (``GET /api/sessions/{session}/debrief``)."""
    s = game.get(sid)
    w, m = game.workshop, game.model
    with s.lock:
        header = game.header(s)
        teams = {t: (game.decisions_of(s, t), s.series[t], s.sims[t].results) for t in s.codes}
        played, finished = s.played, s.status == "finished"
    # the reference strategies over the rounds the teams played (all rounds before any is played)
    end = w.round_end(m, played or w.rounds)
    ref_scope = f"reference:{game.model_digest}:{game.workshop_digest}:{played}"
    target = w.blocks_target or ""  # blocks are computed only when the workshop names a target
    runs: list[dict[str, Any]] = []
    keys: list[tuple[str, str]] = []  # (scope, run id) of each run, for its analyses
    results: list[Any] = []  # each run's results over the rounds played
    blockers: list[Callable[[], list[dict[str, Any]]]] = []
    for t, (decisions, series, res) in teams.items():
        runs.append(
            {
                "id": f"team-{t}",
                "label": f"Team {t}",
                "kind": "team",
                "decisions": decisions,
                "series": series,
            }
        )
        keys.append((s.id, f"team-{t}"))
        results.append(res)
        blockers.append(
            partial(_blocks_of, m, target, team_scenario(m, w, decisions), w.blocks_runs, w.blocks_seed)
        )
    for name in w.strategies:
        doc = m.scenarios[name].doc
        runs.append(
            {
                "id": name,
                "label": _strategy_label(name),
                "kind": "reference",
                "doc": " ".join(doc.split()) if doc else "",
                "series": reference_series(game, name, end),
            }
        )
        keys.append((ref_scope, name))
        results.append(_reference_results(game, name).sel(time=slice(None, end + 1e-9)))
        blockers.append(partial(_blocks_of, m, target, name, w.blocks_runs, w.blocks_seed))
    for run, (dominance, blocks) in zip(
        runs, _analyses(game, s.id, analyst, keys, results, blockers, ready=finished and played > 0)
    ):
        run["dominance"], run["blocks"] = dominance, blocks
    questions = []
    for q in w.questions:
        lp = m.loops.get(q.loop) if q.loop else None
        questions.append(
            {
                "loop": q.loop,
                "text": q.text,
                "polarity": getattr(lp, "polarity", None) or "",
                "doc": " ".join((getattr(lp, "doc", "") or "").split()),
            }
        )
    pending = any(r[k].get("status") == "pending" for r in runs for k in ("dominance", "blocks"))
    return {
        **header,
        "finished": finished,
        "complete": finished and not pending,
        "runs": runs,
        "questions": questions,
        "blocks_enabled": bool(analyst and analyst.blocks),
    }


def _blocks_of(model: Any, target: str, scenario: Any, n: int, seed: int) -> list[dict[str, Any]]:
    return [blocks_summary(model, target, scenario, n, seed)]


def _strategy_label(name: str) -> str:
    return name.replace("_led", "-led").replace("_", " ").capitalize() + " (reference)"


def _analyses(
    game: Game,
    sid: str,
    analyst: Analyst | None,
    keys: list[tuple[str, str]],
    results: list[Any],
    blockers: list[Callable[[], list[dict[str, Any]]]],
    *,
    ready: bool,
) -> list[tuple[dict, dict]]:
    """Each run's (dominance, blocks): stored, pending (queued now), or why not."""
    n = len(keys)
    if not ready:
        why = {"status": "later", "reason": "shown when the session has ended"}
        if game.get(sid).status == "finished":
            why = {"status": "off", "reason": "no round was played"}
        return [(why, why)] * n
    if analyst is None:
        off = {"status": "off", "reason": "analyses are not computed by this server"}
        return [(off, off)] * n
    w = game.workshop
    dominance: list[dict[str, Any]] = []
    for lo in range(0, n, DOMINANCE_BATCH):
        chunk = slice(lo, lo + DOMINANCE_BATCH)
        items = [(scope, run, "dominance") for scope, run in keys[chunk]]
        dominance += analyst.status(
            items, partial(dominance_summaries, game.model, results[chunk], w.years_per_round)
        )
    if analyst.blocks:
        blocks = [analyst.status([(scope, run, "blocks")], b)[0] for (scope, run), b in zip(keys, blockers)]
    else:
        reason = (
            "the server was started with --no-blocks"
            if w.blocks_target
            else "the workshop file names no blocks_target"
        )
        blocks = [{"status": "off", "reason": reason}] * n
    return list(zip(dominance, blocks))
