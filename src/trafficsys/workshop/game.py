"""The game: sessions of teams, each team a :class:`~trafficsys.Simulation` stepped round by round.

A team's run is a function of its decision log alone (:func:`replay`): round
``k`` sets the levers' constants to the team's decision for that round and
steps the simulation to the end of the round.  The live game calls the same
function one round at a time, so a run rebuilt after a restart is the run the
room watched, to the last bit.

Every action is checked first, then written to the :class:`~.store.Store`,
then applied in memory, then acknowledged; a rejected action changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine import Simulation
from ..errors import ModelError
from ..model.model import Model
from .config import MAX_TEAMS, DecisionError, Workshop
from .store import Store

__all__ = ["Game", "Session", "ActionError", "replay", "play_round", "team_scenario", "model_digest"]

#: join codes: no 0/O, 1/I/L, so they can be read off a projector and typed
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 6


class ActionError(ModelError):
    """An action the game refuses, with the HTTP status that says why (404 unknown, 403 code, 409 round...)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def play_round(
    sim: Simulation, workshop: Workshop, model: Model, k: int, decision: Mapping[str, float]
) -> None:
    """Play round ``k`` (1-based) of one team: set its decision's constants and step to the round's end."""
    sim.set(**workshop.model_values(decision))
    sim.step(until=workshop.round_end(model, k))


def replay(model: Model, workshop: Workshop, decisions: Sequence[Mapping[str, float]]) -> Simulation:
    """Rebuild a team's run from its decisions, one per round played, in order.

    Examples
    --------
    >>> import trafficsys as ts
    >>> from trafficsys.workshop import load_workshop, default_workshop_path, replay
    >>> m = ts.load_default()
    >>> w = load_workshop(default_workshop_path(), m)
    >>> sim = replay(m, w, [w.defaults(), w.defaults()])
    >>> sim.time
    10.0
    """
    sim = Simulation(model)
    for k, d in enumerate(decisions, 1):
        play_round(sim, workshop, model, k, workshop.check_decision(d))
    return sim


def team_scenario(
    model: Model, workshop: Workshop, decisions: Sequence[Mapping[str, float]]
) -> dict[str, Any]:
    """Express a team's decisions as a scenario of the model: each lever's constant as a step function of TIME.

    ``ts.simulate(model, scenario=team_scenario(...))`` gives the team's run
    (round ``k``'s values hold from the start of round ``k``; the last round's
    hold to the model's stop time), so every analysis that takes a scenario
    (``ts.find_blocks``) can analyse a team's strategy.
    """
    out: dict[str, Any] = {}
    if not decisions:
        return out
    values = [workshop.model_values(d) for d in decisions]
    start = float(model.specs.start)
    for const in values[0]:
        expr = repr(float(values[-1][const]))
        for k in range(len(values) - 1, 0, -1):  # from the last change backwards
            if values[k][const] != values[k - 1][const]:
                t = start + k * workshop.years_per_round
                expr = f"IF TIME < {t!r} THEN {values[k - 1][const]!r} ELSE ({expr})"
        # a value that never changes stays a number (the constant keeps its kind)
        out[const] = float(values[0][const]) if all(v[const] == values[0][const] for v in values) else expr
    return out


def model_digest(model: Model) -> str:
    """Return a digest of the model's content (a session is resumed only with the model it was played with)."""
    from ..io.toml_io import dumps

    return hashlib.sha256(dumps(model).encode()).hexdigest()[:16]


@dataclass
class Session:
    """One session in memory: its status, its teams' decisions and runs."""

    id: str
    round: int
    played: int
    status: str  #: "open", "locked" or "finished"
    codes: dict[int, str]
    #: team -> round -> the decisions recorded for it, in order (the last one counts)
    log: dict[int, dict[int, list[dict[str, Any]]]] = field(default_factory=dict)
    sims: dict[int, Simulation] = field(default_factory=dict)
    series: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def effective(self, team: int, rnd: int) -> dict[str, Any] | None:
        entries = self.log.get(team, {}).get(rnd)
        return entries[-1] if entries else None


class Game:
    """Every session of one workshop file and one model, backed by a :class:`Store`."""

    def __init__(self, model: Model, workshop: Workshop, store: Store | str | Path):
        self.model = model
        self.workshop = workshop
        self.store = store if isinstance(store, Store) else Store(store)
        self.model_digest = model_digest(model)
        self.workshop_digest = workshop.digest()
        self._sessions: dict[str, Session] = {}
        self._others: dict[str, str] = {}  # sessions in the file played with another workshop or model: why
        self._lock = threading.RLock()
        self._load()

    # ------------------------------------------------------------ loading
    def _load(self) -> None:
        for row in self.store.sessions():
            if row["workshop_digest"] != self.workshop_digest or row["model_digest"] != self.model_digest:
                what = "workshop file" if row["workshop_digest"] != self.workshop_digest else "model"
                self._others[row["id"]] = (
                    f"session {row['id']} was played with another {what}; start the server "
                    f"with the same workshop file and model to resume it"
                )
                continue
            s = Session(row["id"], row["round"], row["played"], row["status"], self.store.teams(row["id"]))
            for d in self.store.decisions(row["id"]):
                s.log.setdefault(d["team"], {}).setdefault(d["round"], []).append(d)
            self._rebuild(s)
            self._sessions[s.id] = s

    def _rebuild(self, s: Session) -> None:
        """(Re)build every team's run from the log (after a restart, or after a failed advance)."""
        for team in s.codes:
            decisions = []
            for k in range(1, s.played + 1):
                e = s.effective(team, k)
                if e is None:  # cannot happen with a log this module wrote: an advance records every team
                    raise ModelError(
                        f"the state file {self.store.path} has no decision of team {team} for played "
                        f"round {k} of session {s.id}; it was edited or damaged"
                    )
                decisions.append(e["decision"])
            s.sims[team] = replay(self.model, self.workshop, decisions)
            s.series[team] = self._series(s.sims[team])

    def _series(self, sim: Simulation) -> dict[str, list[float]]:
        r = sim.results
        out = {"time": [float(t) for t in r.time]}
        for ind in self.workshop.indicators:
            out[ind.name] = [float(v) for v in r[ind.name].values[:, 0]]
        return out

    # ------------------------------------------------------------ lookups
    def session_ids(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    def unavailable(self) -> dict[str, str]:
        return dict(self._others)

    def get(self, sid: Any) -> Session:
        with self._lock:
            s = self._sessions.get(sid) if isinstance(sid, str) else None
        if s is None:
            why = self._others.get(sid) if isinstance(sid, str) else None
            raise ActionError(
                why or f"no session {str(sid)[:40]!r}; the facilitator's page lists the sessions", 404
            )
        return s

    @staticmethod
    def team_of(s: Session, team: Any) -> int:
        try:
            t = int(team)
        except (TypeError, ValueError):
            t = None
        if t is None or t not in s.codes or str(t) != str(team):
            raise ActionError(
                f"session {s.id} has no team {str(team)[:20]!r}; its teams are 1 to {len(s.codes)}", 404
            )
        return t

    @staticmethod
    def check_code(s: Session, team: int, code: Any) -> None:
        if not isinstance(code, str) or not hmac.compare_digest(
            code.strip().upper().encode(), s.codes[team].encode()
        ):
            raise ActionError(
                f"wrong join code for team {team}; ask the facilitator for your team's code", 403
            )

    # ------------------------------------------------------------ actions
    def create(self, teams: Any = None) -> Session:
        n = self.workshop.teams if teams is None else teams
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TEAMS:
            raise ActionError(f"'teams' must be a whole number from 1 to {MAX_TEAMS}, got {n!r}", 400)
        with self._lock:
            sid = _new_id(set(self._sessions) | set(self._others))
            codes = {
                t: "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
                for t in range(1, n + 1)
            }
            self.store.create_session(
                sid, self.workshop.to_dict(), self.workshop_digest, self.model_digest, codes
            )
            s = Session(sid, 1, 0, "open", codes)
            self._rebuild(s)
            self._sessions[sid] = s
        return s

    def decide(self, sid: Any, team: Any, body: Any) -> dict[str, Any]:
        """Record a team's decision for the open round; return it as accepted."""
        if not isinstance(body, Mapping):
            raise ActionError("the body must be a JSON object with round, code and decisions", 400)
        s = self.get(sid)
        t = self.team_of(s, team)
        self.check_code(s, t, body.get("code"))
        rnd = body.get("round")
        if (
            isinstance(rnd, bool)
            or not isinstance(rnd, (int, float))
            or not math.isfinite(rnd)
            or rnd != int(rnd)
        ):
            raise ActionError(f"'round' must be the round's number, got {str(rnd)[:20]!r}", 400)
        rnd = int(rnd)
        if "decisions" not in body:
            raise ActionError("'decisions' is missing: give every lever a value", 400)
        try:
            decision = self.workshop.check_decision(body["decisions"])
        except DecisionError as e:
            raise ActionError(str(e), 422) from None
        with s.lock:
            if s.status == "finished":
                raise ActionError(f"session {s.id} has ended; no more decisions", 409)
            if rnd < s.round:
                raise ActionError(f"round {rnd} is over; the session is in round {s.round}", 409)
            if rnd > s.round:
                raise ActionError(f"round {rnd} has not started; the session is in round {s.round}", 409)
            if s.status == "locked":
                raise ActionError(
                    f"round {rnd} is locked by the facilitator; decisions can no longer change", 409
                )
            seq = self.store.add_decision(s.id, t, rnd, decision)
            entry = {"seq": seq, "team": t, "round": rnd, "decision": decision, "source": "team"}
            s.log.setdefault(t, {}).setdefault(rnd, []).append(entry)
        return {"session": s.id, "team": t, "round": rnd, "decisions": decision, "seq": seq}

    def lock(self, sid: Any, locked: bool = True) -> Session:
        s = self.get(sid)
        with s.lock:
            want, have = ("locked", "open") if locked else ("open", "locked")
            if s.status != have:
                raise ActionError(
                    f"round {s.round} is {s.status}; only an {have} round can be "
                    f"{'locked' if locked else 'reopened'}",
                    409,
                )
            self.store.set_status(s.id, "lock" if locked else "unlock", s.round, s.played, want)
            s.status = want
        return s

    def advance(self, sid: Any) -> Session:
        """Play the round for every team (a team that did not decide keeps its last decision) and open the next."""
        s = self.get(sid)
        with s.lock:
            if s.status == "finished":
                raise ActionError(f"session {s.id} has ended; there is no round to play", 409)
            k = s.round
            carried = []
            decisions = {}
            for team in s.codes:
                e = s.effective(team, k)
                if e is not None:
                    decisions[team] = e["decision"]
                    continue
                prev = s.effective(team, k - 1)
                d, source = (prev["decision"], "carried") if prev else (self.workshop.defaults(), "default")
                decisions[team] = d
                carried.append((team, d, source))
            try:
                for team, d in decisions.items():
                    play_round(s.sims[team], self.workshop, self.model, k, d)
            except ModelError as e:
                self._rebuild(s)  # the runs that moved go back to the log's state
                raise ActionError(f"round {k} could not be played: {e}", 422) from None
            last = k >= self.workshop.rounds
            status, nxt = ("finished", k) if last else ("open", k + 1)
            try:
                self.store.set_status(s.id, "advance", nxt, k, status, carried)
            except BaseException:
                self._rebuild(s)
                raise
            for team, d, source in carried:
                s.log.setdefault(team, {}).setdefault(k, []).append(
                    {"seq": None, "team": team, "round": k, "decision": d, "source": source}
                )
            s.round, s.played, s.status = nxt, k, status
            for team in s.codes:
                s.series[team] = self._series(s.sims[team])
        return s

    def end(self, sid: Any) -> Session:
        """End the session now (the open round is not played); the debrief shows the rounds played."""
        s = self.get(sid)
        with s.lock:
            if s.status == "finished":
                raise ActionError(f"session {s.id} has already ended", 409)
            self.store.set_status(s.id, "end", s.round, s.played, "finished")
            s.status = "finished"
        return s

    # ------------------------------------------------------------ views
    def decisions_of(self, s: Session, team: int) -> list[dict[str, float]]:
        """Return the decisions of the rounds played, in order: the log a team's run is rebuilt from."""
        out = []
        for k in range(1, s.played + 1):
            e = s.effective(team, k)
            if e is None:  # an advance records every team's decision, so only a damaged file lacks one
                raise ModelError(f"session {s.id} has no decision of team {team} for played round {k}")
            out.append(e["decision"])
        return out

    def header(self, s: Session) -> dict[str, Any]:
        w = self.workshop
        return {
            "session": s.id,
            "title": w.title,
            "round": s.round,
            "rounds": w.rounds,
            "played": s.played,
            "status": s.status,
            "years_per_round": w.years_per_round,
            "start": float(self.model.specs.start),
            "time_units": self.model.time_units,
            "budget": w.budget,
            "budget_units": w.budget_units,
            "levers": w.levers_json(),
            "indicators": [
                {"name": i.name, "label": i.label, "units": i.units, "better": i.better} for i in w.indicators
            ],
        }

    def team_view(self, s: Session, team: int, *, code: bool = False) -> dict[str, Any]:
        rounds = {}
        for k, entries in sorted(s.log.get(team, {}).items()):
            last = entries[-1]
            rounds[str(k)] = {
                "decisions": last["decision"],
                "source": last["source"],
                "submissions": sum(1 for e in entries if e["source"] == "team"),
            }
        out = {
            "team": team,
            "decided": s.effective(team, s.round) is not None and s.status != "finished",
            "decisions": rounds,
            "series": s.series[team],
        }
        if code:
            out["code"] = s.codes[team]
        return out

    def state(self, sid: Any, *, codes: bool = True) -> dict[str, Any]:
        s = self.get(sid)
        with s.lock:
            return {**self.header(s), "teams": [self.team_view(s, t, code=codes) for t in s.codes]}

    def team_state(self, sid: Any, team: Any, code: Any) -> dict[str, Any]:
        s = self.get(sid)
        t = self.team_of(s, team)
        self.check_code(s, t, code)
        with s.lock:
            return {**self.header(s), "briefing": self.workshop.briefing, **self.team_view(s, t)}


def _new_id(taken: set[str]) -> str:
    while True:
        sid = "".join(secrets.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(8))
        if sid not in taken:
            return sid
