"""The debrief: every team's run beside the reference strategies, the loops that dominated, the blocks found.

Runs (team runs and the reference strategies' runs over the same rounds) are
ready at once.  The analyses take longer (loop dominance about a second a run,
``ts.find_blocks`` tens of seconds a run whatever the sample size), so an
:class:`Analyst` thread computes them in the background once a session ends,
one at a time, and keeps each in the state file; the debrief shows what is
ready and says what is still being computed.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from typing import Any

from ..engine import simulate
from ..errors import ModelError
from .game import Game, Session, team_scenario

__all__ = ["Analyst", "debrief", "dominance_summary", "blocks_summary", "reference_series"]

#: periods of dominance and blocks shown per run
_TOP_BLOCKS = 5


def dominance_summary(model: Any, results: Any, window: float | None = None) -> dict[str, Any]:
    """Summarise which loops dominated a run: the dominant loop per window, and each named loop's standing.

    ``window`` is the width of the periods (the workshop uses its years per
    round: one dominant loop per round unless it changes within the round).
    Named loops get their rank among all the run's loops by mean absolute
    relative score, that score, and the share of time they dominate.
    """
    from ..analysis import loop_dominance

    dom = loop_dominance(model, results)
    ranking = dom.ranking()
    named = {}
    for rank, row in zip(ranking.index, ranking.itertuples()):
        if row.name:
            named[row.name] = {
                "loop": row.loop,
                "polarity": row.polarity,
                "rank": int(rank) + 1,
                "strength": float(row.mean_abs_relative),
                "dominant": float(row.share_dominant),
            }
    periods = []
    for p in dom.periods(window=window).itertuples():
        periods.append(
            {
                "start": float(p.start),
                "end": float(p.end),
                "loop": p.loop,
                "polarity": p.polarity,
                "name": _loop_label(model, p.name),
                "variables": p.name,
            }
        )
    return {"status": "done", "loops": len(dom.loops), "periods": periods, "named": named}


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

    def status(self, scope: str, run: str, kind: str, job: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Return the stored result, or ``{"status": "pending"}`` after queueing the job."""
        got = self.game.store.analysis(scope, run, kind)
        if got is not None:
            return got
        key = (scope, run, kind)
        with self._lock:
            if key not in self._pending:
                self._pending.add(key)
                self._queue.put((key, job))
        return {"status": "pending"}

    def idle(self) -> bool:
        with self._lock:
            return not self._pending

    def _work(self) -> None:
        while True:
            key, job = self._queue.get()
            try:
                payload = job()
            except ModelError as e:
                payload = {"status": "failed", "error": str(e)}
            except Exception as e:  # a bug: keep serving, say so in the debrief
                traceback.print_exc()
                payload = {"status": "failed", "error": f"internal error: {type(e).__name__}: {e}"}
            try:
                self.game.store.put_analysis(*key, payload)
            finally:
                with self._lock:
                    self._pending.discard(key)


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
    runs = []
    for t, (decisions, series, results) in teams.items():
        run = {
            "id": f"team-{t}",
            "label": f"Team {t}",
            "kind": "team",
            "decisions": decisions,
            "series": series,
        }
        run.update(
            _analyses(
                game,
                analyst,
                s,
                f"team-{t}",
                lambda r=results: dominance_summary(m, r, w.years_per_round),
                lambda d=decisions: blocks_summary(
                    m, w.blocks_target, team_scenario(m, w, d), w.blocks_runs, w.blocks_seed
                ),
                scope=s.id,
                ready=finished and played > 0,
            )
        )
        runs.append(run)
    for name in w.strategies:
        series = reference_series(game, name, end)
        run = {
            "id": name,
            "label": _strategy_label(name),
            "kind": "reference",
            "doc": " ".join(m.scenarios[name].doc.split()) if m.scenarios[name].doc else "",
            "series": series,
        }
        run.update(
            _analyses(
                game,
                analyst,
                s,
                name,
                lambda n=name: dominance_summary(
                    m, _reference_results(game, n).sel(time=slice(None, end + 1e-9)), w.years_per_round
                ),
                lambda n=name: blocks_summary(m, w.blocks_target, n, w.blocks_runs, w.blocks_seed),
                scope=ref_scope,
                ready=finished,
            )
        )
        runs.append(run)
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


def _strategy_label(name: str) -> str:
    return name.replace("_led", "-led").replace("_", " ").capitalize() + " (reference)"


def _analyses(
    game: Game,
    analyst: Analyst | None,
    s: Session,
    run: str,
    dominance: Callable,
    blocks: Callable,
    *,
    scope: str,
    ready: bool,
) -> dict[str, Any]:
    if not ready:
        why = {"status": "later", "reason": "shown when the session has ended"}
        return {"dominance": why, "blocks": why}
    if analyst is None:
        off = {"status": "off", "reason": "analyses are not computed by this server"}
        return {"dominance": off, "blocks": off}
    out = {"dominance": analyst.status(scope, run, "dominance", dominance)}
    if analyst.blocks:
        out["blocks"] = analyst.status(scope, run, "blocks", blocks)
    else:
        out["blocks"] = {
            "status": "off",
            "reason": "the server was started with --no-blocks"
            if game.workshop.blocks_target
            else "the workshop file names no blocks_target",
        }
    return out
